package mh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"reflect"
	"testing"
)

// Classic pcap (not pcapng) link types this reader understands.
const (
	linkEthernet = 1
	linkRaw      = 101 // raw IPv4/IPv6, version nibble decides
	linkSLL      = 113 // Linux cooked v1
	linkSLL2     = 276 // Linux cooked v2
)

// readPcap returns the packets of a classic pcap file at the IP layer,
// keeping only IPv6 ones (version 6).
func readPcap(t *testing.T, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 24 {
		t.Fatalf("%s: no pcap header", path)
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(raw) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		t.Fatalf("%s: not a classic pcap file (magic %x)", path, raw[:4])
	}
	link := bo.Uint32(raw[20:]) & 0x0FFFFFFF
	var out [][]byte
	for off := 24; off < len(raw); {
		if off+16 > len(raw) {
			t.Fatalf("%s: truncated record header at %d", path, off)
		}
		incl := int(bo.Uint32(raw[off+8:]))
		orig := int(bo.Uint32(raw[off+12:]))
		off += 16
		if off+incl > len(raw) {
			t.Fatalf("%s: truncated record at %d", path, off)
		}
		frame := raw[off : off+incl]
		off += incl
		if incl != orig {
			t.Fatalf("%s: packet cut by snaplen (%d of %d)", path, incl, orig)
		}
		var ip []byte
		switch link {
		case linkEthernet:
			et, p := binary.BigEndian.Uint16(frame[12:]), frame[14:]
			for et == 0x8100 || et == 0x88a8 { // VLAN tags
				et, p = binary.BigEndian.Uint16(p[2:]), p[4:]
			}
			if et == 0x86dd {
				ip = p
			}
		case linkSLL:
			if binary.BigEndian.Uint16(frame[14:]) == 0x86dd {
				ip = frame[16:]
			}
		case linkSLL2:
			if binary.BigEndian.Uint16(frame[0:]) == 0x86dd {
				ip = frame[20:]
			}
		case linkRaw:
			ip = frame
		default:
			t.Fatalf("%s: link type %d not supported", path, link)
		}
		if len(ip) > 0 && ip[0]>>4 == 6 {
			out = append(out, ip)
		}
	}
	return out
}

// writePcap writes packets as a classic pcap file with link type RAW.
func writePcap(t *testing.T, path string, pkts [][]byte) {
	t.Helper()
	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], linkRaw)
	b.Write(hdr)
	for i, p := range pkts {
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(1700000000+i))
		le.PutUint32(rec[8:], uint32(len(p)))
		le.PutUint32(rec[12:], uint32(len(p)))
		b.Write(rec)
		b.Write(p)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The UMIP captures: every MH must parse with a correct checksum, the
// values must be the registration's, and BuildPacket must rebuild them.
func TestUMIPCaptures(t *testing.T) {
	const protoICMPv6 = 58
	for _, file := range []string{"testdata/umip-nemo-core.pcap", "testdata/umip-nemo-foreign.pcap"} {
		t.Run(file, func(t *testing.T) {
			pkts := readPcap(t, file)
			if len(pkts) == 0 {
				t.Fatal("no IPv6 packets")
			}
			var bus []BindingUpdate
			var bas []BindingAck
			var haoICMP, rh2ICMP int
			for i, pkt := range pkts {
				p, raw, err := ParsePacket(pkt)
				switch {
				case errors.Is(err, ErrNotMobility):
					if p.NextHeader == ProtoMH || p.Message != nil {
						t.Errorf("packet %d: ErrNotMobility with MH", i)
					}
					if p.NextHeader == protoICMPv6 && p.HomeAddress == hoa {
						haoICMP++ // Mobile Prefix Solicitation
					}
					if p.NextHeader == protoICMPv6 && p.RoutingHome == hoa {
						rh2ICMP++ // Mobile Prefix Advertisement
					}
					continue
				case err != nil:
					t.Fatalf("packet %d: %v (%x)", i, err, pkt)
				}
				// Checksum over the home address, not the wire address.
				ps, pd := p.Src, p.Dst
				if p.HomeAddress.IsValid() {
					ps = p.HomeAddress
					if VerifyChecksum(p.Src, pd, raw) == nil {
						t.Errorf("packet %d: checksum also verifies with the care-of address", i)
					}
				}
				if p.RoutingHome.IsValid() {
					pd = p.RoutingHome
					if VerifyChecksum(ps, p.Dst, raw) == nil {
						t.Errorf("packet %d: checksum also verifies with the wire destination", i)
					}
				}
				if err := VerifyChecksum(ps, pd, raw); err != nil {
					t.Errorf("packet %d: %v", i, err)
				}
				// Rebuild: identical bytes after the flow label.
				rebuilt, err := BuildPacket(Packet{Src: p.Src, Dst: p.Dst, HopLimit: p.HopLimit,
					HomeAddress: p.HomeAddress, RoutingHome: p.RoutingHome, Message: p.Message})
				if err != nil {
					t.Fatalf("packet %d: BuildPacket: %v", i, err)
				}
				if !bytes.Equal(rebuilt[4:], pkt[4:]) {
					t.Errorf("packet %d rebuilt:\n got %x\nwant %x", i, rebuilt, pkt)
				}
				switch m := p.Message.(type) {
				case BindingUpdate:
					if p.HomeAddress != hoa || p.Dst != haAddr || p.RoutingHome.IsValid() {
						t.Errorf("BU %d: HoA %v dst %v RH2 %v", i, p.HomeAddress, p.Dst, p.RoutingHome)
					}
					if m.Flags != BUFlagA|BUFlagH|BUFlagR {
						t.Errorf("BU %d: flags %v, want AHR", i, m.Flags)
					}
					want := []Option{AlternateCareOfAddress{Addr: p.Src}}
					if m.Lifetime > 0 {
						want = append(want, MobileNetworkPrefix{Prefix: mnp})
					}
					if !reflect.DeepEqual(m.Options, want) {
						t.Errorf("BU %d (lifetime %v): options %#v, want %#v", i, m.Lifetime, m.Options, want)
					}
					bus = append(bus, m)
				case BindingAck:
					if p.RoutingHome != hoa || p.Src != haAddr || p.HomeAddress.IsValid() {
						t.Errorf("BA %d: RH2 %v src %v HAO %v", i, p.RoutingHome, p.Src, p.HomeAddress)
					}
					if m.Status != StatusAccepted || m.Flags != BAFlagR {
						t.Errorf("BA %d: status %v flags %v", i, m.Status, m.Flags)
					}
					bas = append(bas, m)
				default:
					t.Errorf("packet %d: unexpected %T", i, m)
				}
			}
			if len(bus) != 2 || len(bas) != 2 {
				t.Fatalf("%d BUs and %d BAs, want 2 and 2 (registration, deregistration)", len(bus), len(bas))
			}
			for i := range bus {
				if bas[i].Sequence != bus[i].Sequence {
					t.Errorf("BA %d sequence %d, BU %d", i, bas[i].Sequence, bus[i].Sequence)
				}
				if bas[i].Lifetime > bus[i].Lifetime {
					t.Errorf("BA %d grants %v > requested %v", i, bas[i].Lifetime, bus[i].Lifetime)
				}
			}
			if bus[0].Lifetime == 0 || bus[1].Lifetime != 0 || !SeqNewer(bus[1].Sequence, bus[0].Sequence) {
				t.Errorf("registration then deregistration expected: %+v", bus)
			}
			if haoICMP != 1 || rh2ICMP != 1 {
				t.Errorf("MPS with HAO: %d, MPA with RH2: %d; want 1 and 1", haoICMP, rh2ICMP)
			}
		})
	}
}

// Our registration BU, built from our own values, agrees field by field
// with UMIP's (sequence numbers and checksums aside).
func TestBuildMatchesUMIP(t *testing.T) {
	pkts := readPcap(t, "testdata/umip-nemo-core.pcap")
	var umip Packet
	for _, pkt := range pkts {
		if p, _, err := ParsePacket(pkt); err == nil {
			if bu, ok := p.Message.(BindingUpdate); ok && bu.Lifetime > 0 {
				umip = p
				break
			}
		}
	}
	if umip.Message == nil {
		t.Fatal("no registration BU in capture")
	}
	careOf := umip.Src
	ours, err := BuildPacket(Packet{
		Src: careOf, Dst: haAddr, HomeAddress: hoa, HopLimit: 63,
		Message: BindingUpdate{
			Sequence: 1, Flags: BUFlagA | BUFlagH | BUFlagR, Lifetime: umip.Message.(BindingUpdate).Lifetime,
			Options: []Option{AlternateCareOfAddress{Addr: careOf}, MobileNetworkPrefix{Prefix: mnp}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := ParsePacket(ours)
	if err != nil {
		t.Fatal(err)
	}
	bu, ubu := p.Message.(BindingUpdate), umip.Message.(BindingUpdate)
	bu.Sequence, ubu.Sequence = 0, 0
	p.Message, umip.Message = bu, ubu
	if !reflect.DeepEqual(p, umip) {
		t.Errorf("ours %+v\numip %+v", p, umip)
	}
	// The layout (Header Len, padding, option offsets) is UMIP's too.
	_, raw, _ := ParsePacket(ours)
	var uraw []byte
	for _, pkt := range pkts {
		if q, r, err := ParsePacket(pkt); err == nil && q.Message.MHType() == TypeBU {
			uraw = r
			break
		}
	}
	if len(raw) != len(uraw) || !bytes.Equal(raw[12:], uraw[12:]) || raw[OffHeaderLen] != uraw[OffHeaderLen] {
		t.Errorf("MH layout differs:\n ours %x\n umip %x", raw, uraw)
	}
}
