package had

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
)

func TestStateRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if bs, err := loadState(dir); err != nil || bs != nil {
		t.Fatalf("missing state: %v %v", bs, err)
	}
	b := ha.Binding{
		HomeAddress: netip.MustParseAddr("2001:db8:1::100"), CareOf: netip.MustParseAddr("2001:db8:f2::a"),
		Encap: ha.EncapIP6IP6, State: ha.StateValid, Sequence: 7, Flags: mh.BUFlagA | mh.BUFlagH | mh.BUFlagR,
		Lifetime: time.Minute, Expires: time.Unix(1e9, 0).UTC(), Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:1:100::/64")},
	}
	if err := saveState(dir, []ha.Binding{b}); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
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
