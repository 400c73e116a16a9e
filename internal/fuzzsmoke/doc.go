// Package fuzzsmoke holds the CI fuzz smoke test (issue 5, "Fuzzing"): it
// finds every native fuzz target (func FuzzXxx in a _test.go file) of the
// module, as the Makefile's fuzz target does, and runs each one for a short
// time. It has no code of its own.
package fuzzsmoke
