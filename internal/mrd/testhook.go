package mrd

import (
	"fmt"
	"os"
	"time"
)

// TestClockOffsetEnv names a TEST-ONLY hook: when the environment variable
// is set to a Go duration ("-3h", "+90m"), the daemon's RFC 4285 signer
// reads its clock that far off the real one, as on a router without a
// real-time clock whose time is wrong. Only the timestamps of the Mobility
// Message Replay Protection option see it; every timer of the daemon keeps
// the real monotonic clock. The end-to-end tests use it to stage a home
// agent refusing the timestamp with status 144 (MIPV6-ID-MISMATCH) and the
// recovery of RFC 4285 section 6. It is not a configuration option and must
// not be set in production; the daemon logs a warning when it is.
const TestClockOffsetEnv = "NEMO_TEST_CLOCK_OFFSET"

// testSignerClock returns the RFC 4285 signer's clock: nil (time.Now)
// unless TestClockOffsetEnv is set, then time.Now plus that offset.
func testSignerClock() (clock func() time.Time, offset time.Duration, err error) {
	v, ok := os.LookupEnv(TestClockOffsetEnv)
	if !ok || v == "" {
		return nil, 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return nil, 0, fmt.Errorf("%s=%q (test-only hook): %w", TestClockOffsetEnv, v, err)
	}
	return func() time.Time { return time.Now().Add(d) }, d, nil
}
