package mh

import (
	"net/netip"
	"testing"
	"time"
)

var (
	benchBU Message = BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH | BUFlagR, Lifetime: time.Hour,
		Options: []Option{AlternateCareOfAddress{Addr: coa}, MobileNetworkPrefix{Prefix: mnp}}}
	benchBA Message = BindingAck{Status: StatusAccepted, Flags: BAFlagR, Sequence: 1, Lifetime: time.Hour,
		Options: []Option{
			IPv4AddressAck{PrefixLen: 32, Addr: netip.MustParseAddr("192.0.2.10")},
			NATDetection{Refresh: 110},
			BindingRefreshAdvice{Interval: 30 * time.Minute},
		}}
	benchSink Message
)

func benchMarshal(b *testing.B, m Message) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchAppend(b *testing.B, m Message) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		if buf, err = AppendMessage(buf[:0], m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchParse(b *testing.B, m Message) {
	wire, err := Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if benchSink, err = Parse(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalBU(b *testing.B) { benchMarshal(b, benchBU) }
func BenchmarkAppendBU(b *testing.B)  { benchAppend(b, benchBU) }
func BenchmarkParseBU(b *testing.B)   { benchParse(b, benchBU) }
func BenchmarkMarshalBA(b *testing.B) { benchMarshal(b, benchBA) }
func BenchmarkAppendBA(b *testing.B)  { benchAppend(b, benchBA) }
func BenchmarkParseBA(b *testing.B)   { benchParse(b, benchBA) }

func BenchmarkWalkOptionsBA(b *testing.B) {
	wire, _ := Marshal(benchBA)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = WalkOptions(wire, func(OptionType, []byte) error { n++; return nil })
	}
}

func BenchmarkBuildPacketBU(b *testing.B) {
	p := Packet{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: benchBU}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildPacket(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePacketBU(b *testing.B) {
	pkt, _ := BuildPacket(Packet{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: benchBU})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParsePacket(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
