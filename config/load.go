package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// readConfig reads a configuration file and notes its permission bits.
func readConfig(path string) (*source, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &FieldError{File: path, Kind: ErrInvalid, Msg: "not a regular file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, nil, &FieldError{File: path, Kind: ErrInvalid, Msg: fmt.Sprintf("larger than %d bytes", maxConfigSize)}
	}
	src := memSource(path)
	src.mode, src.haveMode = fi.Mode().Perm(), true
	return src, data, nil
}

func memSource(name string) *source {
	return &source{name: name, dir: filepath.Dir(name)}
}

// decodeDoc parses the TOML document and returns its root table.
func decodeDoc(src *source, data []byte) (*table, *problems, error) {
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		fe := &FieldError{File: src.name, Kind: ErrSyntax, Msg: err.Error(), Cause: err}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			fe.Line = pe.Position.Line
			fe.Msg = pe.Message
			if pe.LastKey != "" {
				fe.Key = pe.LastKey
			}
		}
		return nil, nil, errors.Join(fe)
	}
	p := &problems{file: src.name, lines: keyLines(data)}
	return newTable(p, "", m, true), p, nil
}
