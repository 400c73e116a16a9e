package config

import (
	"fmt"
	"log/slog"
)

// Dataplane selects how tunnel traffic is carried.
type Dataplane string

// Data plane choices.
const (
	// DataplaneAuto uses the kernel data plane where the tunnel modules
	// exist and the userspace one otherwise.
	DataplaneAuto Dataplane = "auto"
	// DataplaneKernel uses kernel tunnels (ip6tnl, sit, fou) via netlink.
	DataplaneKernel Dataplane = "kernel"
	// DataplaneUserspace uses a TUN device and raw/UDP sockets.
	DataplaneUserspace Dataplane = "userspace"
)

// Mode is the NEMO prefix registration mode (RFC 3963 section 5.2).
type Mode string

// NEMO registration modes.
const (
	// ModeExplicit puts a Mobile Network Prefix option for every prefix in
	// every Binding Update.
	ModeExplicit Mode = "explicit"
	// ModeImplicit sends no prefix options; the home agent uses the
	// prefixes configured for the mobile router.
	ModeImplicit Mode = "implicit"
)

// LogLevel is the minimum level a daemon logs.
type LogLevel string

// Log levels.
const (
	LogDebug LogLevel = "debug" // everything
	LogInfo  LogLevel = "info"  // normal operation (default)
	LogWarn  LogLevel = "warn"  // problems only
	LogError LogLevel = "error" // failures only
)

// SlogLevel returns the matching slog level (info for unknown values).
func (l LogLevel) SlogLevel() slog.Level {
	switch l {
	case LogDebug:
		return slog.LevelDebug
	case LogWarn:
		return slog.LevelWarn
	case LogError:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// LogFormat is the log output format.
type LogFormat string

// Log formats.
const (
	LogText LogFormat = "text" // slog.TextHandler (default)
	LogJSON LogFormat = "json" // slog.JSONHandler
)

// Log is the [log] section.
type Log struct {
	Level  LogLevel
	Format LogFormat
}

// Status is the [status] section: the unix socket the status command
// connects to.
type Status struct {
	Socket string
}

// Routing is the [routing] section: where the daemon's policy routing sits
// so that it coexists with mwan3.
type Routing struct {
	// TableBase is the first routing table the daemon uses; it uses
	// TableBase, TableBase+1, ... (always above 255).
	TableBase uint32
	// RulePriority is the priority of the daemon's policy rules.
	RulePriority uint32
	// FWMark is the firewall mark the daemon sets on its own packets; it
	// never overlaps mwan3's mask 0x3F00.
	FWMark uint32
}

// Secret is MN-HA key material (RFC 4285). Its String and GoString never
// reveal the key, so a Secret can sit in a struct that gets logged.
type Secret struct {
	b []byte
}

// NewSecret returns a Secret holding a copy of key.
func NewSecret(key []byte) Secret { return Secret{b: append([]byte(nil), key...)} }

// Bytes returns a copy of the key (nil when there is none).
func (s Secret) Bytes() []byte {
	if s.b == nil {
		return nil
	}
	return append([]byte(nil), s.b...)
}

// Len returns the key length in bytes.
func (s Secret) Len() int { return len(s.b) }

// IsZero reports whether no key is set.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// String returns a redacted description.
func (s Secret) String() string {
	if s.IsZero() {
		return "(no key)"
	}
	return fmt.Sprintf("(%d-byte key, redacted)", len(s.b))
}

// GoString returns a redacted description.
func (s Secret) GoString() string { return "config.Secret" + s.String() }
