package mnha

import (
	"errors"
	"testing"

	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mrouter"
)

// FuzzCheck feeds arbitrary Mobility Header bytes to the home agent's
// check (and, as a Binding Acknowledgement, to the mobile router's). It
// must never panic, never accept what mh's independent verifier rejects,
// and never answer 146 to what it accepts.
func FuzzCheck(f *testing.F) {
	clk := &fakeClock{t0}
	s := newSigner(f, testSA(), clk)
	a := newAuth(f, Config{}, testSA())
	req := sendBU(f, s, homeBU(1))
	f.Add(req.Raw)
	f.Add(answer(f, a, req, a.Check(t0, &req), mh.StatusAccepted).Raw)
	f.Add(craft(f, testSA().Key, testSA().SPI, testSA().NAI, nil, homeAddr, homeAddr).Raw)
	f.Add(req.Raw[:len(req.Raw)-8])
	f.Fuzz(func(t *testing.T, raw []byte) {
		a := newAuth(t, Config{RequireReplayProtection: len(raw)%2 == 0}, testSA(), otherSA())
		req := ha.BURequest{Src: coaAddr, Dst: haAddr, HomeAddr: homeAddr, HadHAO: true, Raw: raw}
		if m, err := mh.Parse(raw); err == nil {
			if bu, ok := m.(mh.BindingUpdate); ok {
				req.BU = bu
			}
		}
		r := a.Check(t0, &req)
		indep := mh.VerifyMNHA(testSA().Key, CareOf(req.Src, false, req.BU.Options), homeAddr, raw)
		switch {
		case r.Verdict == ha.AuthAccept && indep != nil:
			t.Fatalf("accepted, but mh.VerifyMNHA says %v", indep)
		case r.Verdict == ha.AuthAccept && r.Identity != testSA().NAI:
			t.Fatalf("accepted as %q", r.Identity)
		case r.Verdict == ha.AuthReject && r.Status == mh.StatusAuthFail && indep == nil:
			t.Fatal("146 for a message mh.VerifyMNHA accepts")
		case r.Verdict == ha.AuthDiscard && (r.Identity != "" || r.AckOptions != nil):
			t.Fatalf("discard with %+v", r)
		}
		// A second look at the same bytes is never accepted again when
		// they carried a timestamp.
		if r.Verdict == ha.AuthAccept && len(r.AckOptions) == 2 {
			if r2 := a.Check(t0, &req); r2.Verdict == ha.AuthAccept {
				t.Fatal("replay accepted")
			}
		}
		info := mrouter.BAInfo{From: haAddr, Raw: raw}
		if m, err := mh.Parse(raw); err == nil {
			if ba, ok := m.(mh.BindingAck); ok {
				info.BA = ba
			}
		}
		if err := s.VerifyBA(info); err == nil {
			// The only BU sent was from coaAddr for homeAddr.
			if e := mh.VerifyMNHA(testSA().Key, coaAddr, homeAddr, raw); e != nil {
				t.Fatalf("VerifyBA accepted, but mh.VerifyMNHA says %v", e)
			}
		} else if info.BA.Status != mh.StatusIDMismatch && errors.Is(err, mh.ErrAuthFailed) && mh.VerifyMNHA(testSA().Key, coaAddr, homeAddr, raw) == nil {
			t.Fatal("VerifyBA says ErrAuthFailed, mh.VerifyMNHA accepts")
		}
	})
}
