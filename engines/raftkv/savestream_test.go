package raftkv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// errAfter yields data, then fails: a snapshot stream cut mid-way.
type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

// TestSaveStream: a received snapshot lands whole under its final name (the
// file and its directory fsynced, no temporary file left); a cut stream
// leaves neither the final file nor the temporary one.
func TestSaveStream(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "member", "snap")
	data := bytes.Repeat([]byte("snapshot"), 1000)
	tests := []struct {
		name    string
		r       io.Reader
		wantErr bool
	}{
		{name: "whole stream", r: bytes.NewReader(data)},
		{name: "cut stream", r: &errAfter{r: bytes.NewReader(data[:100]), err: io.ErrUnexpectedEOF}, wantErr: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, string(rune('a'+i))+".snap.db")
			err := saveStream(path, tt.r)
			if _, statErr := os.Stat(path + ".tmp"); !errors.Is(statErr, os.ErrNotExist) {
				t.Fatalf("temporary file left behind (stat: %v)", statErr)
			}
			if tt.wantErr {
				if err == nil {
					t.Fatal("saveStream of a cut stream succeeded")
				}
				if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
					t.Fatalf("cut stream left %s (stat: %v)", path, statErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("saved %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

// TestSyncDirMissing: fsyncing a directory that does not exist is an error
// naming it (saveStream must not report a snapshot saved then).
func TestSyncDirMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	err := syncDir(missing)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(missing)) {
		t.Fatalf("syncDir(%s) = %v, want an error naming the directory", missing, err)
	}
}
