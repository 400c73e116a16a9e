package mnha

import "time"

// NTP timestamp format (RFC 1305, RFC 4285 section 6): 32 bits of seconds
// since 1900-01-01 00:00 UTC, then 32 bits of fraction.
const (
	// ntpUnixOffset is the number of seconds from 1900 to 1970.
	ntpUnixOffset = 2208988800
	ntpFracBits   = 32
	ntpFracMask   = 1<<ntpFracBits - 1
	nsPerSecond   = uint64(time.Second)
)

// NTPTime returns t as a 64-bit NTP timestamp. Seconds are taken modulo
// 2^32 (NTP eras); the fraction is exact to the nanosecond.
func NTPTime(t time.Time) uint64 {
	sec := uint64(t.Unix()+ntpUnixOffset) & ntpFracMask
	frac := uint64(t.Nanosecond()) << ntpFracBits / nsPerSecond
	return sec<<ntpFracBits | frac
}

// ntpDuration converts d to NTP units (2^-32 s), keeping its sign.
func ntpDuration(d time.Duration) int64 {
	sec := int64(d / time.Second)
	rem := int64(d % time.Second)
	return sec<<ntpFracBits + rem<<ntpFracBits/int64(time.Second)
}

// ntpToDuration converts an NTP-unit difference to a time.Duration.
func ntpToDuration(n int64) time.Duration {
	sec := n >> ntpFracBits
	frac := n & ntpFracMask
	return time.Duration(sec)*time.Second + time.Duration(frac*int64(time.Second)>>ntpFracBits)
}
