package mvcc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// Bucket and meta key names (etcd's bucket names where etcd has them).
var (
	keyBucket   = []byte("key")
	metaBucket  = []byte("meta")
	leaseBucket = []byte("lease")

	metaConsistentIndex = []byte("consistent_index")
	metaCurrentRev      = []byte("current_rev")
	metaCompactRev      = []byte("finishedCompactRev")
	// etcd resumes an interrupted compaction from scheduledCompactRev; ours never are
	// interrupted (one bbolt txn), so it always equals finishedCompactRev.
	metaScheduledCompactRev = []byte("scheduledCompactRev")
)

// Store is etcd's MVCC key space on one bbolt file: revisions, an in-memory key index,
// leases as data and a watch hub. It is the deterministic state machine of raftkv's apply
// path: the same entries applied in the same order give the same responses, revisions,
// lease IDs and bytes on every member.
//
// Concurrency: one goroutine (the apply loop) calls Apply and Commit; any number of
// goroutines may call the read methods (Range, Rev, Hash, HashKV, Leases, Watch, ...) at
// the same time. See the package doc for how reads see applied but uncommitted writes.
type Store struct {
	cfg  Config
	log  *slog.Logger
	path string
	db   *bolt.DB

	// Two locks, always taken in this order:
	//
	// mu guards the in-memory state (index, revisions, leases, hub): Apply holds it
	// exclusively, readers shared.
	//
	// txMu guards the bbolt write txn between Applies: Commit holds it exclusively while
	// bbolt commits and fsyncs; a reader holds it shared (inside mu) only while it reads
	// history from bbolt. So reads of current values, which the index serves from memory,
	// never wait for a Commit. Apply needs no txMu: readers are kept out by mu, and Commit
	// runs on the same goroutine as Apply. bbolt reads do not mutate a txn, so readers
	// share the open write txn safely.
	//
	// closed is written under both locks, so either one suffices to read it.
	mu     sync.RWMutex
	txMu   sync.RWMutex
	closed bool
	tx     *bolt.Tx // open write txn, nil between Commit and the next write
	keyB   *bolt.Bucket
	metaB  *bolt.Bucket
	leaseB *bolt.Bucket
	dirty  bool // tx holds changes not yet committed

	idx        *keyTree
	rev        int64 // current store revision (starts at 1)
	compactRev int64 // last compaction revision, 0 if none
	ci         uint64
	leases     map[int64]*leaseState
	alarms     map[alarmKey]struct{}
	auth       authState

	hub hub
	w   wtxn // the write txn in progress (reused)

	size      atomic.Int64 // db size in bytes after the last commit
	sizeInUse atomic.Int64 // size less the free pages, after the last commit
}

// Open opens or creates the store file at path (bbolt) and rebuilds the key index and the
// leases from it. The store starts no goroutines except one per open watcher.
func Open(path string, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         2 * time.Second,
		NoSync:          cfg.NoFsync,
		NoFreelistSync:  true,
		FreelistType:    freelistType(cfg.FreelistType),
		InitialMmapSize: cfg.InitialMmapBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("mvcc: open %s: %w", path, err)
	}
	s := &Store{
		cfg:    cfg,
		log:    log.With("component", "mvcc"),
		path:   path,
		db:     db,
		idx:    newKeyTree(),
		rev:    1,
		leases: make(map[int64]*leaseState),
		alarms: make(map[alarmKey]struct{}),
	}
	s.hub.init(s)
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{keyBucket, metaBucket, leaseBucket, alarmBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return createAuthBuckets(tx)
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("mvcc: create buckets in %s: %w", path, err)
	}
	if err := db.View(s.rebuild); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("mvcc: load %s: %w", path, err)
	}
	s.updateSize()
	s.log.Info("store opened", "path", path, "rev", s.rev, "compact_rev", s.compactRev,
		"consistent_index", s.ci, "keys", s.idx.len(), "leases", len(s.leases))
	return s, nil
}

// rebuild loads meta, the key index and the leases from a read txn.
func (s *Store) rebuild(tx *bolt.Tx) error {
	meta := tx.Bucket(metaBucket)
	s.ci = uint64(getInt64(meta, metaConsistentIndex))
	s.compactRev = getCompactRev(meta)
	s.rev = max(getInt64(meta, metaCurrentRev), s.compactRev, 1)

	c := tx.Bucket(keyBucket).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, tomb, err := parseRevKey(k)
		if err != nil {
			return err
		}
		kv := new(mvccpb.KeyValue)
		if err := proto.Unmarshal(v, kv); err != nil {
			return fmt.Errorf("%w: revision %d_%d: %v", ErrCorrupt, r.Main, r.Sub, err)
		}
		ki := s.idx.get(kv.Key)
		if ki == nil {
			ki = &keyIndex{key: kv.Key}
			s.idx.insert(ki)
		}
		ki.revs = append(ki.revs, revEntry{rev: r, tomb: tomb})
		if tomb {
			ki.cur = nil
		} else {
			ki.cur = kv
		}
		s.rev = max(s.rev, r.Main)
	}

	lc := tx.Bucket(leaseBucket).Cursor()
	for k, v := lc.First(); k != nil; k, v = lc.Next() {
		l, err := decodeLease(k, v)
		if err != nil {
			return err
		}
		s.leases[l.id] = l
	}
	if err := s.loadAlarms(tx.Bucket(alarmBucket)); err != nil {
		return err
	}
	if err := s.loadAuth(tx); err != nil {
		return err
	}
	var attachErr error
	s.idx.each(func(ki *keyIndex) {
		if ki.cur == nil || ki.cur.Lease == 0 {
			return
		}
		l := s.leases[ki.cur.Lease]
		if l == nil {
			attachErr = fmt.Errorf("%w: key %q is attached to lease %x, which is not in the lease bucket",
				ErrCorrupt, ki.key, ki.cur.Lease)
			return
		}
		l.keys[string(ki.key)] = struct{}{}
	})
	return attachErr
}

func getInt64(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// getCompactRev reads finishedCompactRev, which etcd stores as a revision key (main,
// '_', sub): we write it the same way so etcd can restore our snapshots.
func getCompactRev(meta *bolt.Bucket) int64 {
	v := meta.Get(metaCompactRev)
	if len(v) < 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v[:8]))
}

func putInt64(b *bolt.Bucket, k []byte, v int64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(v)))
}

// begin opens the write txn if none is open. Caller holds mu exclusively.
func (s *Store) begin() {
	if s.tx != nil {
		return
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		// The apply loop cannot continue without its database; etcd panics too.
		panic(fmt.Sprintf("mvcc: begin bbolt write txn on %s: %v", s.path, err))
	}
	s.tx = tx
	s.keyB = tx.Bucket(keyBucket)
	s.keyB.FillPercent = 1.0 // keys are revisions: appends, so pack pages full
	s.metaB = tx.Bucket(metaBucket)
	s.leaseB = tx.Bucket(leaseBucket)
}

// Commit makes everything applied so far durable: it writes ConsistentIndex, the store
// revision and the compact revision into the open write txn and commits it (one bbolt
// commit, fsynced unless Config.NoFsync). Reads of history from bbolt wait while it runs;
// reads of current values do not. Only the apply loop calls it.
func (s *Store) Commit() error {
	// The apply loop is the only writer of the fields read here (ci, rev, compactRev,
	// dirty), so txMu alone is enough; see Store.mu.
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.commitLocked()
}

func (s *Store) commitLocked() error {
	if s.tx == nil {
		return nil
	}
	if s.dirty {
		for _, kv := range []struct {
			k []byte
			v int64
		}{{metaConsistentIndex, int64(s.ci)}, {metaCurrentRev, s.rev}} {
			if err := putInt64(s.metaB, kv.k, kv.v); err != nil {
				return fmt.Errorf("mvcc: commit: write meta %s: %w", kv.k, err)
			}
		}
		if s.compactRev > 0 {
			rk := appendRevKey(nil, Revision{Main: s.compactRev}, false)
			for _, k := range [][]byte{metaCompactRev, metaScheduledCompactRev} {
				if err := s.metaB.Put(k, rk); err != nil {
					return fmt.Errorf("mvcc: commit: write meta %s: %w", k, err)
				}
			}
		}
	}
	size := s.tx.Size()
	tx := s.tx
	s.tx, s.keyB, s.metaB, s.leaseB = nil, nil, nil, nil
	if !s.dirty {
		return tx.Rollback()
	}
	s.dirty = false
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mvcc: commit %s: %w", s.path, err)
	}
	s.size.Store(size)
	s.storeInUse(size)
	return nil
}

func (s *Store) updateSize() {
	_ = s.db.View(func(tx *bolt.Tx) error {
		s.size.Store(tx.Size())
		s.storeInUse(tx.Size())
		return nil
	})
}

// storeInUse records size less bbolt's free and pending pages (etcd's
// SizeInUse).
func (s *Store) storeInUse(size int64) {
	st := s.db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(s.db.Info().PageSize)
	s.sizeInUse.Store(max(size-free, 0))
}

// Close stops every watcher (their channels close), discards writes applied since the
// last Commit (the raft log replays them) and closes the file. Close may be called twice.
func (s *Store) Close() error {
	s.mu.Lock()
	s.txMu.Lock()
	if s.closed {
		s.txMu.Unlock()
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	if s.tx != nil {
		err = s.tx.Rollback()
		s.tx, s.keyB, s.metaB, s.leaseB = nil, nil, nil, nil
	}
	ws := s.hub.closeAll()
	s.txMu.Unlock()
	s.mu.Unlock()
	for _, w := range ws {
		w.wait()
	}
	return errors.Join(err, s.db.Close())
}

// ConsistentIndex is the raft index of the last entry applied (committed or not).
// After Open it is the index of the last entry applied before the last Commit.
func (s *Store) ConsistentIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ci
}

// Rev is the current store revision (1 on an empty store).
func (s *Store) Rev() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rev
}

// CompactRev is the revision of the last compaction, 0 if none.
func (s *Store) CompactRev() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.compactRev
}

// Size is the database size in bytes as of the last Commit (etcd's dbSize).
func (s *Store) Size() int64 { return s.size.Load() }

// SizeInUse is Size less the pages bbolt has free for reuse (etcd's
// DbSizeInUse): what deleting and compacting can bring down, since the file
// itself never shrinks.
func (s *Store) SizeInUse() int64 { return s.sizeInUse.Load() }

// view runs fn with the key and lease buckets as of every applied write: the open write
// txn if there is one, else a fresh read txn. Caller holds mu (shared or exclusive).
func (s *Store) view(fn func(keyB, leaseB *bolt.Bucket) error) error {
	if s.closed {
		return ErrClosed
	}
	s.txMu.RLock()
	defer s.txMu.RUnlock()
	if s.tx != nil {
		return fn(s.keyB, s.leaseB)
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return fmt.Errorf("mvcc: begin read txn: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx.Bucket(keyBucket), tx.Bucket(leaseBucket))
}

// WriteSnapshot writes a consistent copy of the committed store file to w (bbolt's
// tx.WriteTo) and returns the bytes written. It holds a read txn, not the store lock, so
// Apply continues; writes applied but not committed are not in the copy, and neither is
// their ConsistentIndex, so the copy is consistent: call Commit first for a fresh copy.
func (s *Store) WriteSnapshot(w io.Writer) (int64, error) {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return 0, ErrClosed
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return 0, fmt.Errorf("mvcc: snapshot: begin read txn: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	n, err := tx.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("mvcc: snapshot: write: %w", err)
	}
	return n, nil
}

func freelistType(s string) bolt.FreelistType {
	if s == "array" {
		return bolt.FreelistArrayType
	}
	return bolt.FreelistMapType
}
