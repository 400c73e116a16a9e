package had

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nemo-mobility/nemo/ha"
)

// stateFile is the binding cache snapshot in the state directory.
const stateFile = "bindings.json"

// stateVersion guards the snapshot format.
const stateVersion = 1

type snapshot struct {
	Version  int          `json:"version"`
	Bindings []ha.Binding `json:"bindings"`
}

// saveState writes the snapshot atomically: a temporary file in the same
// directory, synced, then renamed over the old one, so a crash leaves
// either the old or the new snapshot, never half of one.
func saveState(dir string, bs []ha.Binding) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(snapshot{Version: stateVersion, Bindings: bs})
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, stateFile+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}

// loadState reads the snapshot; a missing file is an empty cache.
func loadState(dir string) ([]ha.Binding, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("%s: snapshot version %d, want %d", filepath.Join(dir, stateFile), s.Version, stateVersion)
	}
	return s.Bindings, nil
}
