package had

import (
	"encoding/json"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
)

func TestStateRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if st, err := loadState(dir); err != nil || st.Bindings != nil || st.Gen != 0 {
		t.Fatalf("missing state: %+v %v", st, err)
	}
	b := ha.Binding{
		HomeAddress: netip.MustParseAddr("2001:db8:1::100"), CareOf: netip.MustParseAddr("2001:db8:f2::a"),
		Encap: ha.EncapIP6IP6, State: ha.StateValid, Sequence: 7, Flags: mh.BUFlagA | mh.BUFlagH | mh.BUFlagR,
		Lifetime: time.Minute, Expires: time.Unix(1e9, 0).UTC(), Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:1:100::/64")},
	}
	if err := saveState(dir, 3, []ha.Binding{b}); err != nil {
		t.Fatal(err)
	}
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := st.Bindings
	if st.Gen != 3 || st.Replayed != 0 || st.Torn {
		t.Fatalf("loaded %+v", st)
	}
	if len(got) != 1 || got[0].HomeAddress != b.HomeAddress || got[0].CareOf != b.CareOf || !got[0].Expires.Equal(b.Expires) ||
		got[0].Flags != b.Flags || len(got[0].Prefixes) != 1 || got[0].Prefixes[0] != b.Prefixes[0] {
		t.Fatalf("round trip: %+v", got)
	}
	fi, err := os.Stat(filepath.Join(dir, stateFile))
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("state file mode: %v %v", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadState(dir); err == nil {
		t.Fatal("corrupt snapshot accepted")
	}
}

func testBinding(i int, coa string) ha.Binding {
	return ha.Binding{
		HomeAddress: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 15: byte(i)}), CareOf: netip.MustParseAddr(coa),
		Encap: ha.EncapIP6IP6, State: ha.StateValid, Sequence: uint16(i), Lifetime: time.Minute, Expires: time.Unix(1e9, 0).UTC(),
	}
}

func careOfs(bs []ha.Binding) map[netip.Addr]string {
	m := map[netip.Addr]string{}
	for _, b := range bs {
		m[b.HomeAddress] = b.CareOf.String()
	}
	return m
}

// TestStateJournal: changes appended after a snapshot come back on load, in
// order (a later record of a home address wins, a removal removes); a last
// line cut short is ignored and reported; a new snapshot starts a new
// generation and removes the old journal, and a stale journal of another
// generation (a crash between the two) is never replayed.
func TestStateJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	b1, b2, b3 := testBinding(1, "2001:db8:f2::1"), testBinding(2, "2001:db8:f2::2"), testBinding(3, "2001:db8:f2::3")
	if err := saveState(dir, 1, []ha.Binding{b1, b2}); err != nil {
		t.Fatal(err)
	}
	moved := b1
	moved.CareOf = netip.MustParseAddr("2001:db8:f3::1")
	for _, recs := range [][]journalRecord{
		{{Set: &b3}},
		{{Set: &moved}, {Del: b2.HomeAddress}},
		{{Del: netip.MustParseAddr("2001:db8:1::99")}}, // removal of an unknown binding: nothing
	} {
		if err := appendJournal(dir, 1, recs); err != nil {
			t.Fatal(err)
		}
	}
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]string{b1.HomeAddress: "2001:db8:f3::1", b3.HomeAddress: "2001:db8:f2::3"}
	if got := careOfs(st.Bindings); !maps.Equal(got, want) || st.Replayed != 4 || st.Torn || st.Gen != 1 {
		t.Fatalf("after the journal: %v (replayed %d, torn %v, gen %d), want %v", got, st.Replayed, st.Torn, st.Gen, want)
	}
	if !slices.IsSortedFunc(st.Bindings, func(a, b ha.Binding) int { return a.HomeAddress.Compare(b.HomeAddress) }) {
		t.Error("bindings not sorted by home address")
	}

	// A crash in the middle of an append: the last line has no newline.
	f, err := os.OpenFile(journalPath(dir, 1), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"set":{"home_addr`)
	f.Close()
	st, err = loadState(dir)
	if err != nil || !st.Torn || st.Replayed != 4 || !maps.Equal(careOfs(st.Bindings), want) {
		t.Fatalf("torn journal: %+v %v", st, err)
	}
	// A bad line in the middle is an error, not silently skipped.
	data, _ := os.ReadFile(journalPath(dir, 1))
	if err := os.WriteFile(journalPath(dir, 1), append([]byte("{}\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadState(dir); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad record accepted: %v", err)
	}

	// Compaction: generation 2 replaces the snapshot and removes journal 1.
	if err := saveState(dir, 2, []ha.Binding{b2}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(journalPath(dir, 1)); !os.IsNotExist(err) {
		t.Fatalf("old journal still there: %v", err)
	}
	// A stale journal of generation 1 (a crash before its removal) is
	// not replayed over snapshot 2.
	if err := appendJournal(dir, 1, []journalRecord{{Set: &b3}}); err != nil {
		t.Fatal(err)
	}
	st, err = loadState(dir)
	if err != nil || st.Gen != 2 || st.Replayed != 0 || !maps.Equal(careOfs(st.Bindings), careOfs([]ha.Binding{b2})) {
		t.Fatalf("after compaction: %+v %v", st, err)
	}
	// Journal without any snapshot: generation 0.
	dir0 := filepath.Join(t.TempDir(), "state0")
	if err := appendJournal(dir0, 0, []journalRecord{{Set: &b3}}); err != nil {
		t.Fatal(err)
	}
	if st, err := loadState(dir0); err != nil || len(st.Bindings) != 1 || st.Bindings[0].HomeAddress != b3.HomeAddress {
		t.Fatalf("journal without snapshot: %+v %v", st, err)
	}
}

// FuzzJournal: any journal content loads without panicking, and what loads
// has one binding per home address.
func FuzzJournal(f *testing.F) {
	b := testBinding(1, "2001:db8:f2::1")
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.Encode(journalRecord{Set: &b})
	enc.Encode(journalRecord{Del: b.HomeAddress})
	enc.Encode(journalRecord{Set: &b})
	f.Add([]byte(buf.String()))
	f.Add([]byte(buf.String()[:buf.Len()-7]))
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(journalPath(dir, 0), data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := loadState(dir)
		if err != nil {
			return
		}
		seen := map[netip.Addr]bool{}
		for _, b := range st.Bindings {
			if seen[b.HomeAddress] {
				t.Fatalf("home address %v twice", b.HomeAddress)
			}
			seen[b.HomeAddress] = true
		}
	})
}
