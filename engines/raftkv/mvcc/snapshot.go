package mvcc

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Restore replaces the store file at path with the snapshot read from r (the bytes
// WriteSnapshot wrote). It writes a temporary file next to path, fsyncs it, checks that it
// is a store file, then renames it over path and fsyncs the directory, so a crash leaves
// either the old file or the new one. The store at path must be closed; the caller opens
// it again afterwards.
func Restore(path string, r io.Reader) error {
	tmp := path + ".restore"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("mvcc: restore: create %s: %w", tmp, err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mvcc: restore: write %s: %w", tmp, err)
	}
	if err := checkStoreFile(tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mvcc: restore: snapshot is not a store file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("mvcc: restore: rename %s to %s: %w", tmp, path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("mvcc: restore: open dir of %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("mvcc: restore: fsync dir of %s: %w", path, err)
	}
	return nil
}

// checkStoreFile opens path read-only and checks that it has the store's buckets.
func checkStoreFile(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{keyBucket, metaBucket, leaseBucket} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("%w: no %q bucket", ErrCorrupt, b)
			}
		}
		return nil
	})
}
