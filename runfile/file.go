package runfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Name is the file's name in a run directory.
const Name = "test.json"

// File is test.json: the spec and what the run derived from it.
type File struct {
	Spec Spec `json:"spec"`
	// Schedule is the fault schedule drawn from the seed (the faults
	// package's Schedule, kept raw here).
	Schedule json.RawMessage   `json:"schedule,omitempty"`
	Started  time.Time         `json:"started"`
	Members  []Member          `json:"members,omitempty"`
	Network  string            `json:"network_mode,omitempty"` // netns or loopback
	RunID    string            `json:"run_id,omitempty"`       // names of the run's namespaces
	Versions map[string]string `json:"versions,omitempty"`     // what ran: package versions, binary hashes
	Dir      string            `json:"dir"`
}

// Member is one member of the cluster as test.json lists it.
type Member struct {
	Name         string `json:"name"` // n1..nN
	ID           int    `json:"id"`   // 1-based index (ZooKeeper's myid)
	Host         string `json:"host"` // where peers and clients reach it
	ClientPort   int    `json:"client_port"`
	PeerPort     int    `json:"peer_port"`
	ElectionPort int    `json:"election_port,omitempty"` // ZooKeeper's leader election; 0 for etcd
	Dir          string `json:"dir"`                     // its data dir and log
}

// Write writes f as dir/test.json.
func Write(dir string, f File) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("runfile: encode %s: %w", Name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, Name), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("runfile: write %s: %w", Name, err)
	}
	return nil
}

// Read reads dir/test.json. A directory without one is "not a run
// directory" (ErrNotRunDir).
func Read(dir string) (File, error) {
	b, err := os.ReadFile(filepath.Join(dir, Name))
	if err != nil {
		return File{}, fmt.Errorf("%w: %s (no %s): %w", ErrNotRunDir, dir, Name, err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return File{}, fmt.Errorf("runfile: decode %s: %w", filepath.Join(dir, Name), err)
	}
	return f, nil
}
