package config

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error a loader returns is an errors.Join of
// *FieldError values, each of which wraps exactly one of these, so
// errors.Is(err, ErrUnknownKey) tells whether any problem of that kind was
// found.
var (
	// ErrSyntax means the file is not valid TOML.
	ErrSyntax = errors.New("TOML syntax error")
	// ErrUnknownKey means a key or table is not part of the schema
	// (usually a misspelling).
	ErrUnknownKey = errors.New("unknown key")
	// ErrType means a value has the wrong TOML type (a number where a
	// string is expected, and so on).
	ErrType = errors.New("wrong type")
	// ErrRequired means a required key or table is missing.
	ErrRequired = errors.New("required")
	// ErrInvalid means a value is malformed or out of range.
	ErrInvalid = errors.New("invalid value")
	// ErrConflict means values that must be unique or disjoint are not,
	// or that two settings contradict each other.
	ErrConflict = errors.New("conflicting values")
	// ErrPermission means key material is stored in a file that users
	// other than its owner can access.
	ErrPermission = errors.New("insecure file permissions")
	// ErrKeyFile means a key_file could not be read.
	ErrKeyFile = errors.New("cannot read key file")
)

// FieldError is one problem found in a configuration file.
type FieldError struct {
	// File is the path (or name) of the configuration.
	File string
	// Line is the 1-based line of the offending key, or of its table when
	// the key is missing; 0 when unknown.
	Line int
	// Key is the dotted path of the key, with array indexes, e.g.
	// "mobile_router[2].home_address"; empty for file-level problems.
	Key string
	// Kind is one of the package's sentinel errors.
	Kind error
	// Msg says what is wrong, and how to fix it where that is obvious.
	Msg string
	// Cause is the underlying error (an *fs.PathError, ...), or nil.
	Cause error
}

// Error formats the problem as "file:line: key: message", leaving out the
// parts that are unknown.
func (e *FieldError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		s += ": " + e.Key
	}
	return s + ": " + e.Msg
}

// Unwrap returns the sentinel kind and, when present, the cause.
func (e *FieldError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

// FieldErrors returns the individual problems inside an error returned by
// one of the loaders, in the order they are reported (by line).
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}
