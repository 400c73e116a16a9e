// Package config loads and validates the TOML configuration of the mobile
// router (mrouter) and home agent (ha) daemons.
//
// LoadMRouter and LoadHA read a file; ParseMRouter and ParseHA take the
// document from memory (tests, fuzzing). Each returns a fully validated
// configuration with every default filled in, typed with net/netip and
// time.Duration, or nil and an error that lists every problem found (an
// errors.Join of *FieldError, see FieldErrors). Each problem names the
// file, the line, the key as a dotted path with array indexes (for example
// "mobile_router[2].home_address") and what is wrong; it wraps one of the
// sentinel errors (ErrUnknownKey, ErrInvalid, ...). Misspelled or unknown
// keys are errors.
//
// Key material (RFC 4285 MN-HA keys) is held in a Secret, which never
// prints its bytes. A file that holds an inline key, and every key_file,
// must not be accessible by group or other.
//
// The schema, with every key and its default, is documented in
// REFERENCE.md next to this file and in examples/*.toml.
package config
