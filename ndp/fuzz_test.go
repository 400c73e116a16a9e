package ndp

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParseRouterAdvertisement: parsing never panics, a failed parse
// returns the zero value, and whatever parses survives
// parse→marshal→parse unchanged (and marshals to the same bytes again).
func FuzzParseRouterAdvertisement(f *testing.F) {
	f.Add(unhex(f, goldenRA))
	f.Add(unhex(f, "86 00 0000 40 00 0000 00000000 00000000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ra, err := ParseRouterAdvertisement(b)
		if err != nil {
			if !reflect.DeepEqual(ra, RouterAdvertisement{}) {
				t.Fatalf("failed parse returned %+v", ra)
			}
			return
		}
		out, err := ra.MarshalBinary()
		if err != nil {
			t.Fatalf("marshal of parsed %+v: %v", ra, err)
		}
		if len(out) != len(b) {
			t.Fatalf("marshal changed the length: %d -> %d", len(b), len(out))
		}
		ra2, err := ParseRouterAdvertisement(out)
		if err != nil {
			t.Fatalf("re-parse of %x: %v", out, err)
		}
		if !reflect.DeepEqual(ra, ra2) {
			t.Fatalf("round trip:\n %+v\n %+v", ra, ra2)
		}
		out2, _ := ra2.MarshalBinary()
		if !bytes.Equal(out, out2) {
			t.Fatalf("marshal not stable: %x vs %x", out, out2)
		}
	})
}

// FuzzParseMessage covers the DHAAD and Mobile Prefix messages (and the RA
// again) through ParseMessage, with the same round-trip checks.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		"90 00 0000 1234 8000",
		"91 00 0000 1234 8000 20010db8000100000000000000000001 20010db8000100000000000000000002",
		"92 00 0000 abcd 0000 c8 01 000000000000",
		"93 00 0000 0002 c000 03 04 40 c0 00015180 00003840 00000000 20010db8000100000000000000000000",
	} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			if m != nil {
				t.Fatalf("failed parse returned %#v", m)
			}
			return
		}
		out, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("marshal of parsed %#v: %v", m, err)
		}
		m2, err := ParseMessage(out)
		if err != nil {
			t.Fatalf("re-parse of %x: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip:\n %#v\n %#v", m, m2)
		}
		out2, _ := m2.AppendBinary(nil)
		if !bytes.Equal(out, out2) {
			t.Fatalf("marshal not stable: %x vs %x", out, out2)
		}
	})
}
