//go:build benchsystem

package tunnel

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/e2e"
	"github.com/nemo-mobility/nemo/testbed"
)

// transfers is how many bulk transfers each path gets; size is each one's.
const (
	transfers = 5
	size      = 32 << 20
)

// mbps is a transfer's goodput in Mbit/s.
func mbps(r testbed.TransferResult) float64 {
	return float64(r.Bytes) * 8 / r.Duration.Seconds() / 1e6
}

// bulk runs the transfers MNN→CN and returns the goodputs, sorted.
func bulk(t *testing.T, tb *testbed.Testbed, what string) []float64 {
	t.Helper()
	var rates []float64
	for i := range transfers {
		r, err := tb.TCPTransfer(testbed.NodeMNN, testbed.NodeCN, testbed.CN6.String(), size)
		if err != nil {
			t.Fatalf("%s: transfer %d: %v", what, i, err)
		}
		if r.Bytes != size {
			t.Fatalf("%s: transfer %d moved %d of %d bytes", what, i, r.Bytes, size)
		}
		rates = append(rates, mbps(r))
	}
	slices.Sort(rates)
	t.Logf("%s: %d × %d MiB MNN→CN: Mbit/s %.0f", what, transfers, size>>20, rates)
	return rates
}

func median(v []float64) float64 { return v[len(v)/2] }

func TestTunnelThroughput(t *testing.T) {
	dir := t.TempDir()
	bins, err := e2e.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	tb := testbed.NewT(t, testbed.Options{Uplinks: []string{"home"}})
	s, err := e2e.New(tb, bins, e2e.Settings{Dataplane: "userspace"}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.WaitState("at home", netip.Prefix{}, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	plain := bulk(t, tb, "plain routing (MR at home, no tunnel)")

	if err := tb.Uplink("fn2", true); err != nil {
		t.Fatal(err)
	}
	if err := tb.Uplink("home", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.WaitState("registered", testbed.FN2Prefix6, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	tun := bulk(t, tb, "userspace tunnel (MR on FN2)")
	t.Logf("BENCH tunnel_tcp_mbps_median=%.0f plain_tcp_mbps_median=%.0f ratio=%.2f", median(tun), median(plain), median(tun)/median(plain))
}
