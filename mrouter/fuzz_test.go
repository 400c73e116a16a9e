package mrouter

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

var fuzzStatuses = []mh.Status{0, 0, 0, 1, 128, 129, 130, 131, 132, 133, 134, 135, 135, 136, 139, 140, 141, 142, 143, 144, 145, 146, 174}

// FuzzCore feeds random event sequences to a Core and checks its invariants:
// never more than MaxUpdateRate BUs in a second; no BU without a usable
// source address; A, H and R on every BU; a fresh sequence number for every
// transmission; the option rules of registrations and deregistrations; and a
// next deadline that always lies in the future.
func FuzzCore(f *testing.F) {
	f.Add([]byte{0x00, 0, 10, 0, 1, 0x0f, 2, 5, 0, 1, 1, 7, 200})
	f.Add([]byte{0x1f, 0, 0, 1, 2, 0x09, 0, 0, 2, 3, 0x0f, 7, 100, 2, 1, 11, 0, 7, 255, 7, 255, 7, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cfg := baseConfig()
		mode := data[0]
		data = data[1:]
		cfg.ForceUDP = mode&1 != 0
		cfg.PreferIPv4 = mode&2 != 0
		cfg.Implicit = mode&4 != 0
		if mode&8 != 0 {
			cfg.IPv4HomeAddress = netip.IPv4Unspecified()
			cfg.RequestIPv4Prefix = mode&64 != 0
		}
		if mode&16 != 0 {
			cfg.HomeAgents = twoHAConfig().HomeAgents
		}
		if mode&32 != 0 {
			cfg.Lifetime = 20 * time.Second
		}
		h := newHarness(t, cfg)
		names := []string{"wan", "lte", "wlan"}
		addrs6 := []netip.Addr{coaWAN, coaLTE, coaWLAN}
		addrs4 := []netip.Addr{coa4, coa4LTE, netip.MustParseAddr("198.51.100.99")}
		ups := map[string]Uplink{}
		resynced := map[netip.Addr]bool{}
		lastSeq := map[netip.Addr]uint16{}
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		checked := 0
		check := func() {
			t.Helper()
			for _, s := range h.sent[checked:] {
				checkSource(t, ups, s.SendBU)
				if prev, ok := lastSeq[s.To]; ok && !resynced[s.To] && s.BU.Sequence != prev+1 {
					t.Fatalf("sequence %d after %d to %v", s.BU.Sequence, prev, s.To)
				}
				lastSeq[s.To], resynced[s.To] = s.BU.Sequence, false
				_, alt := opt[mh.AlternateCareOfAddress](s.BU)
				_, v4coa := opt[mh.IPv4CareOfAddress](s.BU)
				_, v4hoa := opt[mh.IPv4HomeAddress](s.BU)
				if s.UDP != v4coa || s.UDP == alt {
					t.Fatalf("CoA options do not match the transport: %+v", s)
				}
				if s.BU.Lifetime == 0 {
					if len(mnps(s.BU)) != 0 || v4hoa {
						t.Fatalf("registration options in a deregistration: %+v", s)
					}
				} else {
					want := len(cfg.Prefixes)
					if cfg.Implicit {
						want = 0
					}
					if len(mnps(s.BU)) != want || v4hoa != cfg.IPv4HomeAddress.IsValid() {
						t.Fatalf("registration options wrong: %+v", s)
					}
				}
				if s.BU.Flags&mh.BUFlagF != 0 && (!s.UDP || !cfg.ForceUDP) {
					t.Fatalf("F flag on %+v", s)
				}
			}
			checked = len(h.sent)
			if d, ok := h.c.NextDeadline(); ok && !d.After(h.now) {
				t.Fatalf("next deadline %v is not after now %v", d.Sub(t0), h.now.Sub(t0))
			}
			if h.c.Status(h.now).State == "" {
				t.Fatal("empty state")
			}
		}
		for len(data) > 0 {
			kind := next() % 9
			h.now = h.now.Add(time.Duration(next()) * 10 * time.Millisecond)
			h.record(h.c.Tick(h.now))
			check()
			switch kind {
			case 0:
				k := int(next() % 3)
				p, fl := next(), next()
				u := Uplink{Name: names[k], Priority: int(p % 4), Up: fl&1 != 0, AtHome: fl&2 != 0}
				if fl&4 != 0 {
					u.CoA6 = addrs6[k]
				}
				if fl&8 != 0 {
					u.CoA4 = addrs4[k]
				}
				ups[u.Name] = u
				h.uplink(u)
			case 1:
				n := names[next()%3]
				delete(ups, n)
				h.gone(n)
			case 2, 3:
				if len(h.sent) == 0 {
					continue
				}
				last := h.lastSend()
				st := fuzzStatuses[int(next())%len(fuzzStatuses)]
				fl, lt, op := next(), next(), next()
				ba := mh.BindingAck{Status: st, Sequence: last.BU.Sequence, Lifetime: time.Duration(lt) * mh.LifetimeUnit}
				if fl&1 != 0 {
					ba.Flags |= mh.BAFlagR
				}
				if kind == 3 {
					ba.Sequence -= uint16(fl)
				}
				if st == mh.StatusSequenceOutOfWindow {
					ba.Sequence = uint16(lt) << 8
					resynced[last.To] = true
				}
				if op&1 != 0 {
					ba.Options = append(ba.Options, mh.BindingRefreshAdvice{Interval: time.Duration(op) * mh.LifetimeUnit})
				}
				if op&2 != 0 {
					refresh := uint32(op >> 4)
					if op&4 != 0 {
						refresh = mh.NATRefreshNotNeeded
					}
					ba.Options = append(ba.Options, mh.NATDetection{F: op&8 != 0, Refresh: refresh})
				}
				if fl&2 != 0 {
					ba.Options = append(ba.Options, mh.IPv4AddressAck{Status: mh.IPv4AckStatus(fl & 0x80), PrefixLen: 32, Addr: netip.MustParseAddr("203.0.113.5")})
				}
				h.ba(last.To, ba)
			case 4:
				h.record(h.c.HandleBE(h.now, ha1, mh.BindingError{Status: mh.BEStatus(next()%3 + 1)}))
			case 5:
				h.record(h.c.HandleBRR(h.now, ha1))
			case 6:
				h.record(h.c.ICMPError(h.now, ha1v4))
			case 7:
				h.advance(time.Duration(next()) * time.Second)
			case 8:
				h.record(h.c.TunnelLost(h.now))
			}
			check()
		}
		checkRate(t, h.sent)
	})
}
