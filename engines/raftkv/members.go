package raftkv

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// member is one cluster member as persisted (raft snapshot data, conf change
// context, meta file).
type member struct {
	ID         uint64   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs,omitempty"`
	IsLearner  bool     `json:"isLearner,omitempty"`
}

// maxLearners is etcd 3.4's limit on learners in a cluster.
const maxLearners = 1

// confChangeContext is the Context of a conf change that adds or promotes a
// member: the member, flattened, as etcd's membership.ConfigChangeContext
// (and its plain membership.Member, which a restored etcd WAL carries), so
// isPromote marks a learner's promotion.
type confChangeContext struct {
	member
	IsPromote bool `json:"isPromote,omitempty"`
}

func (m member) proto() *pb.Member {
	return &pb.Member{ID: m.ID, Name: m.Name, PeerURLs: slices.Clone(m.PeerURLs),
		ClientURLs: slices.Clone(m.ClientURLs), IsLearner: m.IsLearner}
}

// membersState is the membership as data: what the raft snapshot stores. The
// apply path mutates it (under membership.mu) and transports read it.
type membersState struct {
	ClusterID uint64            `json:"clusterID"`
	Members   map[uint64]member `json:"members"`
	Removed   map[uint64]bool   `json:"removed,omitempty"`
}

// membership guards membersState for concurrent readers.
type membership struct {
	mu sync.RWMutex
	st membersState
}

func newMembership(clusterID uint64, ms []member) *membership {
	m := &membership{st: membersState{ClusterID: clusterID, Members: map[uint64]member{}, Removed: map[uint64]bool{}}}
	for _, x := range ms {
		m.st.Members[x.ID] = x
	}
	return m
}

func (m *membership) clusterID() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.st.ClusterID
}

func (m *membership) get(id uint64) (member, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	x, ok := m.st.Members[id]
	return x, ok
}

func (m *membership) isRemoved(id uint64) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.st.Removed[id]
}

// list returns the members sorted by ID.
func (m *membership) list() []member {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ids := slices.Sorted(maps.Keys(m.st.Members))
	out := make([]member, 0, len(ids))
	for _, id := range ids {
		out = append(out, m.st.Members[id])
	}
	return out
}

func (m *membership) protos() []*pb.Member {
	l := m.list()
	out := make([]*pb.Member, len(l))
	for i, x := range l {
		out[i] = x.proto()
	}
	return out
}

func (m *membership) peerURLInUse(urls []string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, x := range m.st.Members {
		for _, u := range x.PeerURLs {
			if slices.Contains(urls, u) {
				return true
			}
		}
	}
	return false
}

// peerURLInUseByOther reports whether a member other than id has one of urls.
func (m *membership) peerURLInUseByOther(id uint64, urls []string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, x := range m.st.Members {
		if x.ID == id {
			continue
		}
		for _, u := range x.PeerURLs {
			if slices.Contains(urls, u) {
				return true
			}
		}
	}
	return false
}

// learners counts the learners other than id.
func (m *membership) learners(except uint64) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	for _, x := range m.st.Members {
		if x.IsLearner && x.ID != except {
			n++
		}
	}
	return n
}

// setPeerURLs replaces the peer URLs of member id (etcdctl member update);
// its other attributes, learner or not among them, stay.
func (m *membership) setPeerURLs(id uint64, urls []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if x, ok := m.st.Members[id]; ok {
		x.PeerURLs = slices.Clone(urls)
		m.st.Members[id] = x
	}
}

// promote makes learner id a voting member.
func (m *membership) promote(id uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if x, ok := m.st.Members[id]; ok {
		x.IsLearner = false
		m.st.Members[id] = x
	}
}

func (m *membership) add(x member) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.st.Members[x.ID]; ok {
		// Keep attributes published earlier (replay of an add after a snapshot).
		if x.Name == "" {
			x.Name = old.Name
		}
		if len(x.ClientURLs) == 0 {
			x.ClientURLs = old.ClientURLs
		}
	}
	m.st.Members[x.ID] = x
}

func (m *membership) remove(id uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.st.Members, id)
	m.st.Removed[id] = true
}

func (m *membership) setAttrs(id uint64, name string, clientURLs []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x, ok := m.st.Members[id]
	if !ok {
		return
	}
	x.Name, x.ClientURLs = name, slices.Clone(clientURLs)
	m.st.Members[id] = x
}

func (m *membership) marshal() []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, err := json.Marshal(m.st)
	if err != nil {
		panic(fmt.Sprintf("raftkv: marshal membership: %v", err)) // plain data always marshals
	}
	return b
}

// restore replaces the state with a snapshot's.
func (m *membership) restore(data []byte) error {
	var st membersState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("raftkv: decode membership from snapshot: %w", err)
	}
	if st.Members == nil {
		st.Members = map[uint64]member{}
	}
	if st.Removed == nil {
		st.Removed = map[uint64]bool{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st = st
	return nil
}

// meta is member/meta.json: who this data dir belongs to.
type meta struct {
	Name      string `json:"name"`
	MemberID  uint64 `json:"memberID"`
	ClusterID uint64 `json:"clusterID"`
	Token     string `json:"token"`
}

func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
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
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func saveMeta(path string, m meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileSync(path, b); err != nil {
		return fmt.Errorf("%w: write %s: %v", ErrDataDir, path, err)
	}
	return nil
}

func loadMeta(path string) (meta, error) {
	var m meta
	b, err := os.ReadFile(path)
	if err != nil {
		return m, fmt.Errorf("%w: read %s: %v", ErrDataDir, path, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: decode %s: %v (remove the data dir to start fresh)", ErrDataDir, path, err)
	}
	return m, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("raftkv: marshal %T: %v", v, err))
	}
	return b
}
