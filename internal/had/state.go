package had

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nemo-mobility/nemo/ha"
)

// The state directory holds a snapshot of the binding cache and a journal
// of the changes since: a change costs one appended line, not a rewrite of
// the whole cache (39 MB of JSON at 100,000 bindings), and the snapshot is
// rewritten only when the journal has grown past the cache (compaction).
// Each snapshot names its journal by a generation number, so a crash
// between writing a new snapshot and removing the old journal cannot
// replay old changes over newer state.
const (
	// stateFile is the binding cache snapshot.
	stateFile = "bindings.json"
	// journalPrefix and journalSuffix name generation G's journal
	// "bindings.G.journal".
	journalPrefix = "bindings."
	journalSuffix = ".journal"
)

// stateVersion guards the snapshot format.
const stateVersion = 1

type snapshot struct {
	Version int `json:"version"`
	// Journal is the generation of the journal that continues this
	// snapshot (0 in snapshots written before the journal existed).
	Journal  uint64       `json:"journal,omitempty"`
	Bindings []ha.Binding `json:"bindings"`
}

// journalRecord is one line of the journal: a binding's new state, or the
// removal of the binding of a home address.
type journalRecord struct {
	Set *ha.Binding `json:"set,omitempty"`
	Del netip.Addr  `json:"del,omitzero"`
}

func journalPath(dir string, gen uint64) string {
	return filepath.Join(dir, journalPrefix+strconv.FormatUint(gen, 10)+journalSuffix)
}

// saveState writes the snapshot atomically: a temporary file in the same
// directory, synced, then renamed over the old one, so a crash leaves
// either the old or the new snapshot, never half of one. It then removes
// the journals of other generations.
func saveState(dir string, gen uint64, bs []ha.Binding) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(snapshot{Version: stateVersion, Journal: gen, Bindings: bs})
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
	if err := os.Rename(tmp, filepath.Join(dir, stateFile)); err != nil {
		return err
	}
	return removeJournals(dir, gen)
}

// removeJournals removes every journal but generation keep's.
func removeJournals(dir string, keep uint64) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		name := e.Name()
		g, ok := strings.CutPrefix(name, journalPrefix)
		if g, ok2 := strings.CutSuffix(g, journalSuffix); ok && ok2 {
			if n, err := strconv.ParseUint(g, 10, 64); err == nil && n != keep {
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// appendJournal appends records to generation gen's journal and syncs it.
func appendJournal(dir string, gen uint64, recs []journalRecord) error {
	if len(recs) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(journalPath(dir, gen), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadedState is what loadState found.
type loadedState struct {
	Bindings []ha.Binding
	// Gen is the journal generation to continue.
	Gen uint64
	// Replayed counts the journal records applied; Torn is set when the
	// journal's last line was cut short (a crash while appending) and was
	// ignored.
	Replayed int
	Torn     bool
}

// loadState reads the snapshot and replays its journal; a missing snapshot
// is an empty cache at generation 0 (whose journal is still replayed).
func loadState(dir string) (loadedState, error) {
	var st loadedState
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return st, err
	default:
		var s snapshot
		if err := json.Unmarshal(data, &s); err != nil {
			return st, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
		}
		if s.Version != stateVersion {
			return st, fmt.Errorf("%s: snapshot version %d, want %d", filepath.Join(dir, stateFile), s.Version, stateVersion)
		}
		st.Bindings, st.Gen = s.Bindings, s.Journal
	}
	jf, err := os.Open(journalPath(dir, st.Gen))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	defer jf.Close()
	idx := make(map[netip.Addr]int, len(st.Bindings))
	for i, b := range st.Bindings {
		idx[b.HomeAddress] = i
	}
	r := bufio.NewReaderSize(jf, 1<<16)
	for line := 1; ; line++ {
		l, err := r.ReadBytes('\n')
		if len(l) == 0 && err != nil {
			break
		}
		var rec journalRecord
		if err != nil || json.Unmarshal(l, &rec) != nil || (rec.Set == nil) == !rec.Del.IsValid() ||
			(rec.Set != nil && !rec.Set.HomeAddress.IsValid()) {
			if err != nil {
				// The last line, without its newline: an append cut short.
				st.Torn = true
				break
			}
			return st, fmt.Errorf("%s line %d: not a journal record", journalPath(dir, st.Gen), line)
		}
		st.Replayed++
		if rec.Set != nil {
			if i, ok := idx[rec.Set.HomeAddress]; ok {
				st.Bindings[i] = *rec.Set
			} else {
				idx[rec.Set.HomeAddress] = len(st.Bindings)
				st.Bindings = append(st.Bindings, *rec.Set)
			}
			continue
		}
		if i, ok := idx[rec.Del]; ok {
			last := len(st.Bindings) - 1
			st.Bindings[i] = st.Bindings[last]
			idx[st.Bindings[i].HomeAddress] = i
			st.Bindings = st.Bindings[:last]
			delete(idx, rec.Del)
		}
	}
	slices.SortFunc(st.Bindings, func(a, b ha.Binding) int { return a.HomeAddress.Compare(b.HomeAddress) })
	return st, nil
}
