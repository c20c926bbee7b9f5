package raftkv

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// A data dir written by `etcdctl snapshot restore` (etcd 3.4) holds
// member/snap/db, etcd's bbolt backend (the buckets mvcc.Store uses, with
// the consistent index set to the number of members), member/snap/*.snap (a
// v2 store snapshot raftkv does not need) and member/wal/*.wal, etcd's WAL:
// the member's and cluster's ids, one ConfChangeAddNode entry per member of
// --initial-cluster (term 1, indexes 1..n, the member as JSON), a hard state
// committing them and a snapshot record at n. raftkv starts from such a dir
// the way etcd does: it takes the ids and the members from the WAL (so
// --initial-cluster, --initial-cluster-token and --initial-cluster-state are
// ignored, as by etcd once a WAL exists), keeps the db as its store, moves
// etcd's WAL aside to member/etcd-restore-wal and writes its own WAL with
// the same log, as a new cluster's bootstrap would.

// etcdRestoreWALDir is where etcd's WAL goes once imported.
const etcdRestoreWALDir = "etcd-restore-wal"

// etcdWALName is an etcd WAL segment's name: sequence and first index.
var etcdWALName = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]{16}\.wal$`)

// etcdWALFiles lists dir's etcd WAL segments in order.
func etcdWALFiles(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if etcdWALName.MatchString(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out
}

// etcdRestoreSource returns the directory of an etcd WAL to import: the data
// dir has no meta.json of raftkv's, and etcd's WAL is in member/wal (or was
// moved aside by an import that did not finish). "" when there is none.
func (s *Server) etcdRestoreSource() string {
	if _, err := os.Stat(filepath.Join(s.memberDir, "meta.json")); err == nil {
		return ""
	}
	for _, d := range []string{s.walDir, filepath.Join(s.memberDir, etcdRestoreWALDir)} {
		if len(etcdWALFiles(d)) > 0 {
			return d
		}
	}
	return ""
}

// etcdWAL is what an etcd WAL holds.
type etcdWAL struct {
	nodeID, clusterID uint64
	entries           []*raftpb.Entry
	hardState         *raftpb.HardState
	crc               uint32 // the running crc while decoding
}

// etcd WAL record types.
const (
	etcdRecMetadata = 1
	etcdRecEntry    = 2
	etcdRecState    = 3
	etcdRecCRC      = 4
	etcdRecSnapshot = 5
)

// readEtcdWAL reads the etcd WAL in dir: frames of a little-endian 64-bit
// length (the low 56 bits; a set top bit puts the padding in the low 3 bits
// of the top byte), then a walpb.Record (type, crc, data) and padding. Each
// record's crc is CRC-32C over the data of every record since the last crc
// record, which carries the running value.
func readEtcdWAL(dir string) (*etcdWAL, error) {
	w := &etcdWAL{}
	for _, path := range etcdWALFiles(dir) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := w.decodeSegment(b); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return w, nil
}

// decodeSegment adds the records of one segment file.
func (w *etcdWAL) decodeSegment(b []byte) error {
	for off := 0; off+8 <= len(b); {
		l := binary.LittleEndian.Uint64(b[off:])
		if l == 0 {
			return nil // the preallocated rest of the segment
		}
		n, pad := int(l&^(0xff<<56)), 0
		if l&(1<<63) != 0 {
			pad = int(l>>56) & 7
		}
		if n > len(b)-off-8-pad {
			return fmt.Errorf("offset %d: record of %d bytes runs past the end of the file", off, n)
		}
		typ, rcrc, data, err := decodeEtcdRecord(b[off+8 : off+8+n])
		if err != nil {
			return fmt.Errorf("offset %d: %w", off, err)
		}
		if typ == etcdRecCRC {
			if w.crc != 0 && rcrc != w.crc {
				return fmt.Errorf("offset %d: crc record %08x, want %08x", off, rcrc, w.crc)
			}
			w.crc = rcrc
		} else {
			w.crc = crc32.Update(w.crc, crcCastagnoli, data)
			if rcrc != w.crc {
				return fmt.Errorf("offset %d: crc mismatch (%08x, computed %08x)", off, rcrc, w.crc)
			}
		}
		if err := w.add(typ, data); err != nil {
			return fmt.Errorf("offset %d: %w", off, err)
		}
		off += 8 + n + pad
	}
	return nil
}

var crcCastagnoli = crc32.MakeTable(crc32.Castagnoli)

// decodeEtcdRecord decodes a walpb.Record: type (1), crc (2), data (3).
func decodeEtcdRecord(b []byte) (typ int64, crc uint32, data []byte, err error) {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, nil, fmt.Errorf("bad WAL record: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, nil, fmt.Errorf("bad WAL record type: %w", protowire.ParseError(n))
			}
			typ, b = int64(v), b[n:]
		case num == 2 && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, nil, fmt.Errorf("bad WAL record crc: %w", protowire.ParseError(n))
			}
			crc, b = uint32(v), b[n:]
		case num == 3 && wt == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, 0, nil, fmt.Errorf("bad WAL record data: %w", protowire.ParseError(n))
			}
			data, b = v, b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, wt, b)
			if n < 0 {
				return 0, 0, nil, fmt.Errorf("bad WAL record field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return typ, crc, data, nil
}

func (w *etcdWAL) add(typ int64, data []byte) error {
	switch typ {
	case etcdRecMetadata:
		md := &pb.Metadata{}
		if err := proto.Unmarshal(data, md); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		w.nodeID, w.clusterID = md.GetNodeID(), md.GetClusterID()
	case etcdRecEntry:
		e := &raftpb.Entry{}
		if err := proto.Unmarshal(data, e); err != nil {
			return fmt.Errorf("entry: %w", err)
		}
		// A later entry replaces the ones from its index on.
		for len(w.entries) > 0 && w.entries[len(w.entries)-1].GetIndex() >= e.GetIndex() {
			w.entries = w.entries[:len(w.entries)-1]
		}
		w.entries = append(w.entries, e)
	case etcdRecState:
		hs := &raftpb.HardState{}
		if err := proto.Unmarshal(data, hs); err != nil {
			return fmt.Errorf("hard state: %w", err)
		}
		w.hardState = hs
	case etcdRecCRC, etcdRecSnapshot:
	default:
		return fmt.Errorf("unknown WAL record type %d", typ)
	}
	return nil
}

// restoredMembers checks that w is what etcdctl snapshot restore writes
// (only the initial members' ConfChangeAddNode entries, from index 1, all
// committed) and returns the members, in log order.
func (w *etcdWAL) restoredMembers() ([]member, error) {
	if w.nodeID == 0 || w.clusterID == 0 {
		return nil, errors.New("no member and cluster id in its metadata")
	}
	var ms []member
	for i, e := range w.entries {
		if e.GetIndex() != uint64(i+1) {
			return nil, fmt.Errorf("its log starts at index %d, not 1", w.entries[0].GetIndex())
		}
		if e.GetType() != raftpb.EntryConfChange {
			return nil, fmt.Errorf("entry %d is not a member of the initial cluster but %s", e.GetIndex(), e.GetType())
		}
		cc := &raftpb.ConfChange{}
		if err := proto.Unmarshal(e.Data, cc); err != nil {
			return nil, fmt.Errorf("entry %d: %w", e.GetIndex(), err)
		}
		var m member
		if cc.GetType() != raftpb.ConfChangeAddNode || json.Unmarshal(cc.Context, &m) != nil || m.ID != cc.GetNodeId() || len(m.PeerURLs) == 0 {
			return nil, fmt.Errorf("entry %d is not the addition of an initial member: %s of %x", e.GetIndex(), cc.GetType(), cc.GetNodeId())
		}
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, errors.New("its log has no member")
	}
	if c := w.hardState.GetCommit(); c != uint64(len(ms)) {
		return nil, fmt.Errorf("its hard state commits index %d, not the %d initial members", c, len(ms))
	}
	ids := make([]uint64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	if !slices.Contains(ids, w.nodeID) {
		return nil, fmt.Errorf("this member %x is not among its members", w.nodeID)
	}
	if cid := ClusterID(ids); cid != w.clusterID {
		return nil, fmt.Errorf("cluster id %x does not match its members (%x)", w.clusterID, cid)
	}
	return ms, nil
}

// importEtcdRestore starts this member from the etcd data dir written by
// etcdctl snapshot restore (its WAL in src).
func (s *Server) importEtcdRestore(src string) error {
	w, err := readEtcdWAL(src)
	if err == nil {
		var ms []member
		if ms, err = w.restoredMembers(); err == nil {
			return s.bootstrapRestored(src, w, ms)
		}
	}
	return fmt.Errorf("%w: %s holds an etcd WAL raftkv cannot start from: %v. raftkv starts from the output of "+
		"`etcdctl snapshot restore`, not from a running etcd member's data dir: take a snapshot with `etcdctl snapshot save`, "+
		"restore it into a new --data-dir and start raftkv there", ErrDataDir, src, err)
}

func (s *Server) bootstrapRestored(src string, w *etcdWAL, ms []member) error {
	if _, err := os.Stat(s.dbPath); err != nil {
		return fmt.Errorf("%w: etcd data dir %s has no %s: restore it again with etcdctl snapshot restore", ErrDataDir, s.cfg.DataDir, s.dbPath)
	}
	s.id = w.nodeID
	var peers []raft.Peer
	for i, m := range ms {
		if m.ID == s.id {
			if m.Name != s.cfg.Name {
				s.cfg.Logger.Warn("data dir was restored for another name; keeping its identity", "data_dir_name", m.Name, "name", s.cfg.Name)
			}
			m.ClientURLs = slices.Clone(s.cfg.ClientURLs)
			ms[i] = m
		}
		peers = append(peers, raft.Peer{ID: m.ID, Context: mustJSON(m)})
	}
	// etcd's WAL goes aside first: member/wal becomes raftkv's.
	if aside := filepath.Join(s.memberDir, etcdRestoreWALDir); src != aside {
		if err := os.RemoveAll(aside); err != nil {
			return fmt.Errorf("%w: %v", ErrDataDir, err)
		}
		if err := os.Rename(src, aside); err != nil {
			return fmt.Errorf("%w: move etcd's WAL aside: %v", ErrDataDir, err)
		}
		if err := syncDir(s.memberDir); err != nil {
			return fmt.Errorf("%w: %v", ErrDataDir, err)
		}
	}
	if err := s.create(ms, w.clusterID, peers); err != nil {
		return err
	}
	s.cfg.Logger.Info("started from a data dir written by etcdctl snapshot restore", "node", fmt.Sprintf("%x", s.id),
		"cluster", fmt.Sprintf("%x", w.clusterID), "members", len(ms), "store_index", s.store.ConsistentIndex(),
		"etcd_wal", filepath.Join(s.memberDir, etcdRestoreWALDir))
	return nil
}
