package raftkv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"golang.org/x/crypto/bcrypt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"coordlab/engines/raftkv/mvcc"
	"coordlab/engines/raftkv/v3rpc"
	"coordlab/engines/raftkv/wal"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
)

// Server is one raftkv member: it owns the raft loop goroutine, the WAL, the
// store, the peer transport and the lease timers, and implements v3rpc.Backend.
type Server struct {
	// restarted: the member started from an existing data dir.
	restarted bool
	// readyc is closed once this member's attributes are published through
	// the log (etcd's ReadyNotify).
	readyc  chan struct{}
	cfg     Config
	log     *slog.Logger
	id      uint64
	clock   *skewClock
	metrics *metrics
	reg     prometheus.Registerer
	gather  prometheus.Gatherer

	memberDir, walDir, snapDir, dbPath string

	// Loop-owned (only the run goroutine touches these after Start).
	rn        *raft.RawNode
	wasLeader bool
	removed   bool
	reads     readLoopState
	fast      *fastElection // set while an election after a leader's death runs

	// Storage threads and the queues between them and the loop.
	ms      *raft.MemoryStorage // thread-safe; written by the append and apply threads
	w       *wal.WAL            // append thread only
	synced  syncedVote          // append thread only
	ap      applyState          // apply thread only
	appendq *queue[appendItem]
	applyq  *queue[applyItem]
	localq  *queue[localItem]

	fatalc    chan struct{}
	fatalOnce sync.Once
	fatalErr  error

	// Shared, read by RPC goroutines.
	appliedIndex   atomic.Uint64
	committedIndex atomic.Uint64
	lastIndex      atomic.Uint64
	term           atomic.Uint64
	lead           atomic.Uint64
	leadChangeMu   sync.Mutex
	leadChangeC    chan struct{} // closed and replaced at each leader change

	storeMu sync.RWMutex
	store   *mvcc.Store

	members *membership
	tr      *transport
	// peerTLS and clientTLS are Config.PeerTLS and ClientTLS built (nil
	// configs when not set).
	peerTLS   tlsConfigs
	clientTLS tlsConfigs
	peerLn    net.Listener
	peerSrv   *http.Server

	propc       chan proposal
	recvc       chan *raftpb.Message
	reportc     chan reportMsg
	statusc     chan chan raft.Status // raftStatus asks the loop
	readNotify  chan struct{}
	removedc    chan struct{}
	leaderGonec chan uint64 // the transport found the leader's peer port refusing
	stopc       chan struct{}
	donec       chan struct{}
	stopOnce    sync.Once
	loopErr     error
	wg          sync.WaitGroup

	waitMu  sync.Mutex
	waiters map[uint64]chan applyResult

	readMu   sync.Mutex
	nextRead *readBatch

	readWaitMu  sync.Mutex
	readWaiting []pendingRead // have a read index, wait for apply

	lessor *lessor
	reqIDs *idGen

	raisingNoSpace atomic.Bool // a proposal of this member's NOSPACE alarm is under way

	// tokens are this member's simple auth tokens, filled by the apply
	// thread from Authenticate entries.
	tokens *v3rpc.TokenStore
}

// AuthTokens is the member's simple-token table (v3rpc.Authenticator).
func (s *Server) AuthTokens() *v3rpc.TokenStore { return s.tokens }

// AuthOptions are the member's auth settings (v3rpc.Authenticator).
func (s *Server) AuthOptions() v3rpc.AuthOptions {
	cost := s.cfg.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	return v3rpc.AuthOptions{BcryptCost: cost, ClientCertAuth: s.cfg.ClientTLS.ClientCertAuth}
}

// proposal is a normal entry or a conf change on its way to the loop.
type proposal struct {
	id   uint64
	data []byte
	cc   *raftpb.ConfChange
}

type applyResult struct {
	resp any
	err  error
}

type reportMsg struct {
	to         uint64
	snap       bool
	snapStatus raft.SnapshotStatus
}

// New opens (or bootstraps, or joins) the member in cfg.DataDir. It does not
// start the loop: call Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.NewTicker == nil {
		cfg.NewTicker = func(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 5*time.Second + 2*cfg.ElectionTimeout()
	}
	tokens, err := v3rpc.ParseAuthToken(cfg.AuthToken, cfg.AuthTokenTTL)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		clock:       &skewClock{base: cfg.Clock},
		memberDir:   filepath.Join(cfg.DataDir, "member"),
		propc:       make(chan proposal, 4096),
		recvc:       make(chan *raftpb.Message, cfg.RecvQueue),
		reportc:     make(chan reportMsg, 1024),
		statusc:     make(chan chan raft.Status),
		readNotify:  make(chan struct{}, 1),
		removedc:    make(chan struct{}, 1),
		leaderGonec: make(chan uint64, 1),
		stopc:       make(chan struct{}),
		donec:       make(chan struct{}),
		waiters:     map[uint64]chan applyResult{},
		leadChangeC: make(chan struct{}),
		appendq:     newQueue[appendItem](),
		applyq:      newQueue[applyItem](),
		localq:      newQueue[localItem](),
		fatalc:      make(chan struct{}),
		tokens:      tokens,
		readyc:      make(chan struct{}),
	}
	if s.peerTLS, err = cfg.PeerTLS.build("peer-", filepath.Join(cfg.DataDir, "fixtures", "peer"), append(slices.Clone(cfg.PeerURLs), cfg.ListenPeerURLs...)); err != nil {
		return nil, err
	}
	if s.clientTLS, err = cfg.ClientTLS.build("", filepath.Join(cfg.DataDir, "fixtures", "client"), append(slices.Clone(cfg.ClientURLs), cfg.ListenClientURLs...)); err != nil {
		return nil, err
	}
	for _, c := range []*tls.Config{s.peerTLS.server, s.peerTLS.client, s.clientTLS.server} {
		if c != nil && len(cfg.CipherSuites) > 0 {
			c.CipherSuites = slices.Clone(cfg.CipherSuites)
		}
	}
	if s.peerTLS.server != nil && !cfg.PeerTLS.SkipClientSANVerify {
		s.peerTLS.server = withSANCheck(s.peerTLS.server)
	}
	s.walDir = filepath.Join(s.memberDir, "wal")
	if cfg.WALDir != "" {
		s.walDir = cfg.WALDir
	}
	s.snapDir = filepath.Join(s.memberDir, "snap")
	s.dbPath = filepath.Join(s.snapDir, "db")
	if cfg.Registerer != nil {
		s.reg = cfg.Registerer
		if g, ok := cfg.Registerer.(prometheus.Gatherer); ok {
			s.gather = g
		}
	} else {
		r := prometheus.NewRegistry()
		s.reg, s.gather = r, r
	}
	s.metrics = newMetrics(s.reg)
	if err := os.MkdirAll(s.snapDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (choose a writable --data-dir)", ErrDataDir, cfg.DataDir, err)
	}
	if err := checkWritable(s.memberDir); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (choose a writable --data-dir)", ErrDataDir, cfg.DataDir, err)
	}
	switch src := s.etcdRestoreSource(); {
	case src != "":
		err = s.importEtcdRestore(src)
	case wal.Exists(s.walDir):
		err = s.restart()
		s.restarted = true
	default:
		err = s.bootstrap()
	}
	if err != nil {
		s.closeStorage()
		return nil, err
	}
	s.log = cfg.Logger.With("node", fmt.Sprintf("%x", s.id))
	s.reqIDs = newIDGen(s.id, time.Now())
	s.lessor = newLessor(s.clock, cfg.ElectionTimeout())
	s.lessor.checkpoint = cfg.LeaseCheckpoint
	return s, nil
}

func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func (s *Server) snapDBPath(index uint64) string {
	return filepath.Join(s.snapDir, fmt.Sprintf("%016x.snap.db", index))
}

func (s *Server) raftConfig(applied uint64) *raft.Config {
	return &raft.Config{
		ID:                        s.id,
		ElectionTick:              s.cfg.ElectionTicks,
		HeartbeatTick:             1,
		Storage:                   s.ms,
		Applied:                   applied,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           512,
		MaxUncommittedEntriesSize: 1 << 30,
		MaxCommittedSizePerReady:  64 << 20,
		AsyncStorageWrites:        true,
		CheckQuorum:               true,
		PreVote:                   s.cfg.PreVote,
		StepDownOnRemoval:         true,
		Logger:                    raftLogger{s.cfg.Logger.With("component", "raft")},
	}
}

func (s *Server) mvccConfig() mvcc.Config {
	c := mvcc.DefaultConfig()
	c.Logger = s.cfg.Logger
	c.FreelistType = s.cfg.BoltFreelistType
	c.NoFsync = s.cfg.UnsafeNoFsync
	// etcd raises lease TTLs to ceil(1.5 * election timeout) seconds.
	c.MinLeaseTTL = int64(math.Ceil(1.5 * s.cfg.ElectionTimeout().Seconds()))
	return c
}

func (s *Server) openWAL() (*wal.State, error) {
	w, st, err := wal.Open(s.walDir, wal.Config{SegmentBytes: s.cfg.WALSegmentBytes, Keep: s.cfg.MaxWALs, NoSync: s.cfg.UnsafeNoFsync, Logger: s.cfg.Logger, OnSync: func(d time.Duration) {
		s.metrics.walFsync.Observe(d.Seconds())
	}})
	if err != nil {
		return nil, err
	}
	s.w = w
	return st, nil
}

// bootstrap creates a new member: from --initial-cluster (state new) or by
// asking the running cluster (state existing).
func (s *Server) bootstrap() error {
	cfg := s.cfg
	var ms []member
	var clusterID uint64
	var peers []raft.Peer
	if err := cfg.checkInitialURLs(); err != nil {
		return err
	}
	switch cfg.ClusterState {
	case ClusterStateNew:
		var ids []uint64
		for _, im := range cfg.InitialCluster {
			m := member{ID: MemberID(im.PeerURLs, cfg.ClusterToken, nil), Name: im.Name, PeerURLs: sortedCopy(im.PeerURLs)}
			if im.Name == cfg.Name {
				s.id = m.ID
				m.ClientURLs = slices.Clone(cfg.ClientURLs)
			}
			ms = append(ms, m)
			ids = append(ids, m.ID)
		}
		clusterID = ClusterID(ids)
		for _, m := range ms {
			peers = append(peers, raft.Peer{ID: m.ID, Context: mustJSON(m)})
		}
	case ClusterStateExisting:
		var urls []string
		for _, im := range cfg.InitialCluster {
			if im.Name != cfg.Name {
				urls = append(urls, im.PeerURLs...)
			}
		}
		if len(urls) == 0 {
			return errors.New("--initial-cluster-state existing: --initial-cluster names no other member to join through")
		}
		tr := newTransport(&Server{cfg: cfg, log: cfg.Logger, peerTLS: s.peerTLS}, localIPOf(cfg.PeerURLs))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rep, err := fetchMembers(ctx, tr.client, urls, cfg.PeerURLs)
		cancel()
		tr.client.CloseIdleConnections()
		if err != nil {
			return fmt.Errorf("join existing cluster: %w", err)
		}
		clusterID = rep.ClusterID
		for _, m := range rep.Members {
			if sameURLs(m.PeerURLs, cfg.PeerURLs) {
				s.id = m.ID
				m.Name, m.ClientURLs = cfg.Name, slices.Clone(cfg.ClientURLs)
			}
			ms = append(ms, m)
		}
		if s.id == 0 {
			return fmt.Errorf("join existing cluster %x: no member has peer URLs %v; run `etcdctl member add %s --peer-urls=%s` first",
				clusterID, cfg.PeerURLs, cfg.Name, cfg.PeerURLs[0])
		}
	}
	if err := s.create(ms, clusterID, peers); err != nil {
		return err
	}
	cfg.Logger.Info("bootstrapped member", "node", fmt.Sprintf("%x", s.id), "cluster", fmt.Sprintf("%x", clusterID),
		"state", cfg.ClusterState.String(), "members", len(ms))
	return nil
}

// create writes a new member's meta and WAL, opens the store and raft, and
// has raft bootstrap with peers (none when joining a running cluster).
func (s *Server) create(ms []member, clusterID uint64, peers []raft.Peer) error {
	cfg := s.cfg
	s.members = newMembership(clusterID, ms)
	if err := saveMeta(filepath.Join(s.memberDir, "meta.json"), meta{Name: cfg.Name, MemberID: s.id, ClusterID: clusterID, Token: cfg.ClusterToken}); err != nil {
		return err
	}
	if _, err := s.openWAL(); err != nil {
		return err
	}
	st, err := mvcc.Open(s.dbPath, s.mvccConfig())
	if err != nil {
		return err
	}
	s.store = st
	s.ms = raft.NewMemoryStorage()
	s.ap.confState = &raftpb.ConfState{}
	rn, err := raft.NewRawNode(s.raftConfig(0))
	if err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	if len(peers) > 0 {
		if err := rn.Bootstrap(peers); err != nil {
			return fmt.Errorf("raft bootstrap: %w", err)
		}
	}
	s.rn = rn
	cfg.Logger.Info("starting local member", "local-member-id", fmt.Sprintf("%x", s.id), "cluster-id", fmt.Sprintf("%x", clusterID),
		"state", cfg.ClusterState.String(), "members", len(ms))
	return nil
}

// restart recovers from the data dir: meta, WAL (snapshot, hard state,
// entries) and the store, restoring the store from a received snapshot file if
// a crash came between saving the snapshot and restoring it.
func (s *Server) restart() error {
	m, err := loadMeta(filepath.Join(s.memberDir, "meta.json"))
	if err != nil {
		return err
	}
	if m.Name != s.cfg.Name {
		s.cfg.Logger.Warn("data dir belongs to another name; keeping its identity", "data_dir_name", m.Name, "name", s.cfg.Name)
	}
	s.id = m.MemberID
	st, err := s.openWAL()
	if errors.Is(err, wal.ErrCorrupt) {
		// Starting from a shortened log would lose acknowledged writes (and
		// break what this member promised its peers): the member's copy is
		// gone, the cluster still has it.
		return fmt.Errorf("member %x (%s) cannot start: %w; on a healthy member run `etcdctl member remove %x`, then delete %s, "+
			"run `etcdctl member add %s --peer-urls=%s` and start this member again with --initial-cluster-state existing",
			s.id, s.cfg.Name, err, s.id, s.cfg.DataDir, s.cfg.Name, strings.Join(s.cfg.PeerURLs, ","))
	}
	if err != nil {
		return err
	}
	if s.cfg.ForceNewCluster {
		if err := s.forceNewCluster(st, m.ClusterID); err != nil {
			return err
		}
	}
	s.ms = raft.NewMemoryStorage()
	s.members = newMembership(m.ClusterID, nil)
	s.ap.confState = &raftpb.ConfState{}
	if st.Snapshot != nil {
		if err := s.ms.ApplySnapshot(st.Snapshot); err != nil {
			return fmt.Errorf("raft storage: apply snapshot: %w", err)
		}
		if err := s.members.restore(st.Snapshot.GetData()); err != nil {
			return err
		}
		s.ap.confState = st.Snapshot.GetMetadata().GetConfState()
		s.ap.snapIndex = st.Snapshot.GetMetadata().GetIndex()
		s.ap.entryIndex = s.ap.snapIndex
	}
	if st.HardState != nil {
		if err := s.ms.SetHardState(st.HardState); err != nil {
			return err
		}
	}
	if err := s.ms.Append(st.Entries); err != nil {
		return fmt.Errorf("raft storage: append: %w", err)
	}
	store, err := mvcc.Open(s.dbPath, s.mvccConfig())
	if err != nil {
		return err
	}
	s.store = store
	if store.ConsistentIndex() < s.ap.snapIndex {
		if err := s.restoreStore(s.ap.snapIndex); err != nil {
			return err
		}
	}
	rn, err := raft.NewRawNode(s.raftConfig(s.ap.snapIndex))
	if err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	s.rn = rn
	last, _ := s.ms.LastIndex()
	s.lastIndex.Store(last)
	s.appliedIndex.Store(s.ap.snapIndex)
	s.cfg.Logger.Info("restarting local member", "local-member-id", fmt.Sprintf("%x", s.id), "cluster-id", fmt.Sprintf("%x", m.ClusterID), "commit-index", st.HardState.GetCommit(),
		"snapshot", s.ap.snapIndex, "entries", len(st.Entries), "commit", st.HardState.GetCommit(), "store_index", store.ConsistentIndex())
	return nil
}

// restoreStore replaces the store with the received snapshot file for index.
func (s *Server) restoreStore(index uint64) error {
	path := s.snapDBPath(index)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("restore store from snapshot %d: %w", index, err)
	}
	defer f.Close()
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			return fmt.Errorf("restore store: close old store: %w", err)
		}
	}
	if err := mvcc.Restore(s.dbPath, f); err != nil {
		return fmt.Errorf("restore store from %s: %w", path, err)
	}
	st, err := mvcc.Open(s.dbPath, s.mvccConfig())
	if err != nil {
		s.store = nil
		return err
	}
	s.store = st
	if st.ConsistentIndex() < index {
		return fmt.Errorf("restored store from %s is at index %d, below snapshot %d", path, st.ConsistentIndex(), index)
	}
	// Older received snapshot files are of no further use.
	if ents, err := os.ReadDir(s.snapDir); err == nil {
		for _, e := range ents {
			if filepath.Ext(e.Name()) == ".db" && e.Name() != "db" && filepath.Join(s.snapDir, e.Name()) != path {
				_ = os.Remove(filepath.Join(s.snapDir, e.Name()))
			}
		}
	}
	return nil
}

func (s *Server) closeStorage() {
	if s.w != nil {
		_ = s.w.Close()
	}
	s.storeMu.Lock()
	if s.store != nil {
		_ = s.store.Close()
	}
	s.storeMu.Unlock()
}

// Start listens on the peer URL, starts the transport and the raft loop.
func (s *Server) Start() error {
	ln := s.cfg.PeerListener
	if ln == nil {
		u, err := url.Parse(s.cfg.ListenPeerURLs[0])
		if err != nil {
			return err
		}
		ln, err = net.Listen("tcp", u.Host)
		if err != nil {
			s.closeStorage()
			return fmt.Errorf("--listen-peer-urls %s: %w", s.cfg.ListenPeerURLs[0], err)
		}
	}
	s.peerLn = ln
	s.tr = newTransport(s, localIPOf(s.cfg.PeerURLs))
	s.tr.setPeers(s.members.list(), s.id)
	s.peerSrv = &http.Server{Handler: s.tr.handler(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	secure := s.cfg.PeerListener == nil && isHTTPS(s.cfg.ListenPeerURLs[0]) ||
		s.cfg.PeerListener != nil && s.peerTLS.server != nil
	if secure {
		// HTTP/1.1 only: the stream is a hijacked HTTP/1.1 connection.
		s.peerSrv.TLSConfig = s.peerTLS.server.Clone()
		s.peerSrv.TLSConfig.NextProtos = []string{"http/1.1"}
		s.peerSrv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		ln = tls.NewListener(ln, s.peerSrv.TLSConfig)
	}
	s.goFunc(func() {
		if err := s.peerSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("peer server stopped", "err", err)
		}
	})
	if s.cfg.InitialCorruptCheck && s.restarted {
		// etcd checks a restarting member before its raft loop runs;
		// peers reach its store through the peer server started above.
		if err := s.initialCorruptCheck(); err != nil {
			_ = s.peerSrv.Close()
			s.tr.stop()
			s.wg.Wait()
			s.closeStorage()
			return err
		}
	}
	if s.cfg.LeaseCheckpoint {
		s.goFunc(s.leaseCheckpointLoop)
	}
	if s.cfg.CorruptCheckTime > 0 {
		s.goFunc(func() { s.monitorKVHash(s.cfg.CorruptCheckTime) })
	}
	if vs := s.rn.Status().Config.Voters.IDs(); s.cfg.InitialElectionTickAdvance && len(vs) == 1 && hasKey(vs, s.id) {
		// etcd's adjustTicks for a one-voter cluster: nobody to hear from,
		// so elect at the next tick or so.
		for range s.cfg.ElectionTicks - 1 {
			s.rn.Tick()
		}
		s.log.Info("started as single-node; fast-forwarding election ticks", "forward-ticks", s.cfg.ElectionTicks-1, "election-ticks", s.cfg.ElectionTicks)
	} else if s.cfg.InitialElectionTickAdvance && len(vs) > 1 && s.cfg.ElectionTicks > 2 {
		s.goFunc(s.advanceTicksWhenPeersUp)
	}
	s.goFunc(s.run)
	s.goFunc(s.appendLoop)
	s.goFunc(s.applyLoop)
	s.goFunc(s.publish)
	s.runCompactor()
	s.log.Info("serving peer traffic", "address", s.peerLn.Addr().String())
	return nil
}

// whileLeaderEvery calls f every d while this member leads, until the
// server stops (the leader's periodic duties: compaction, corruption
// checks, lease checkpoints).
func (s *Server) whileLeaderEvery(d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-t.C:
		}
		if s.isLeader() {
			f()
		}
	}
}

func (s *Server) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Stop stops the loop and every goroutine, then closes the WAL and the store.
// It may be called more than once and returns after everything has exited.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		close(s.stopc)
		<-s.donec
		if s.peerSrv != nil {
			_ = s.peerSrv.Close()
		}
		if s.tr != nil {
			s.tr.stop()
		}
		s.wg.Wait()
		s.closeStorage()
		s.log.Info("member stopped")
	})
}

// Done is closed when the raft loop has exited (Stop, a fatal error, or this
// member's removal); Err then says why.
func (s *Server) Done() <-chan struct{} { return s.donec }

// Err is the loop's exit error: nil after Stop, ErrRemoved, or a storage error.
func (s *Server) Err() error {
	select {
	case <-s.donec:
		return s.loopErr
	default:
		return nil
	}
}

// ID is this member's ID.
func (s *Server) ID() uint64 { return s.id }

// ClusterID is the cluster's ID.
func (s *Server) ClusterID() uint64 { return s.members.clusterID() }

// Leader is the current leader's ID, 0 if none is known.
func (s *Server) Leader() uint64 { return s.lead.Load() }

// AppliedIndex is the raft index of the last applied entry.
func (s *Server) AppliedIndex() uint64 { return s.appliedIndex.Load() }

// Gatherer exposes the metrics for /metrics.
func (s *Server) Gatherer() prometheus.Gatherer { return s.gather }

// ClockOffset and SetClockOffset shift the lease clock (POST /admin/clock on
// AdminHandler).
func (s *Server) ClockOffset() time.Duration     { return s.clock.Offset() }
func (s *Server) SetClockOffset(d time.Duration) { s.clock.SetOffset(d) }

func (s *Server) leaderChanged() <-chan struct{} {
	s.leadChangeMu.Lock()
	defer s.leadChangeMu.Unlock()
	return s.leadChangeC
}

// recv hands a peer message to the loop, dropping it when the queue is full
// (raft retransmits).
func (s *Server) recv(m *raftpb.Message) {
	if t := m.GetType(); t == raftpb.MsgPreVote || t == raftpb.MsgVote {
		// Another member campaigns while this one still follows a leader:
		// the leader may be gone without this member having seen its
		// stream end (none was open). Ask its port (leadergone.go).
		if l := s.lead.Load(); l != raft.None && l != m.GetFrom() && s.tr != nil {
			s.tr.probeLeader(l)
		}
	}
	select {
	case s.recvc <- m:
	default:
		s.metrics.recvDropped.Inc()
	}
}

func (s *Server) report(r reportMsg) {
	select {
	case s.reportc <- r:
	default:
	}
}

func (s *Server) onRemovedByPeer() {
	select {
	case s.removedc <- struct{}{}:
	default:
	}
}

// writeStoreSnapshot writes the current store (committed state) to w.
func (s *Server) writeStoreSnapshot(w io.Writer) (int64, error) {
	s.storeMu.RLock()
	defer s.storeMu.RUnlock()
	if s.store == nil {
		return 0, ErrStopped
	}
	return s.store.WriteSnapshot(w)
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// advanceTicksWhenPeersUp is etcd's adjustTicks for a multi-member start:
// once more than one peer answers (within 5s), the election timer is
// fast-forwarded to leave two ticks, so a restarted cluster elects a leader
// without waiting a whole election timeout, while a running leader still
// has two ticks to be heard.
func (s *Server) advanceTicksWhenPeersUp() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.stopc:
			return
		case <-time.After(50 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		up := 0
		for _, ok := range s.reachableOf(ctx, s.knownMembers()) {
			if ok {
				up++
			}
		}
		cancel()
		if up > 1 {
			ticks := s.cfg.ElectionTicks - 2
			s.localq.push(localItem{advanceTicks: ticks})
			s.log.Info("initialized peer connections; fast-forwarding election ticks", "local-member-id", fmt.Sprintf("%x", s.id),
				"forward-ticks", ticks, "forward-duration", time.Duration(ticks)*s.cfg.TickInterval, "election-ticks", s.cfg.ElectionTicks,
				"active-remote-members", up)
			return
		}
	}
}
