package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"coordlab/engines/zab"
	"coordlab/engines/zab/znode"
	"coordlab/engines/zab/zxid"
)

// Server is one zab member: the core, its disk, the peer transport, the
// client listener and the one loop goroutine that owns them all.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	clock   *skewClock
	metrics *metrics
	started time.Time

	statusPtr atomic.Pointer[statusView]

	txnLog    *TxnLog
	node      *zab.Node
	tree      *znode.Tree
	transport *Transport // nil for a standalone member

	clientLn     net.Listener // nil when only the TLS port is served
	secureLn     net.Listener // secureClientPort, nil without TLS
	tlsConfig    *tls.Config
	httpLn       net.Listener
	httpSrv      *http.Server
	adminLn      net.Listener // /admin/clock, nil unless AdminAddr is set
	adminSrv     *http.Server
	clientEvents chan clientEvent
	// loopCalls runs functions in the loop for the four-letter words that
	// read or reset loop-owned state (inLoop).
	loopCalls   chan func()
	connLimiter connLimiter

	sessionlessExpired atomic.Int64 // connections closed for sending no ConnectRequest in time
	connRejected       atomic.Int64 // connections closed at accept by maxClientCnxns or maxCnxns

	stopCh   chan struct{}
	stopping atomic.Bool
	loopDone chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup // loop, accept loops, HTTP
	connWG   sync.WaitGroup // client connection goroutines
	loopErr  error

	// loop-owned state
	st loopState
}

// Run starts a server with cfg and serves until ctx is done or the server
// fails; it returns after everything stopped.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	s.Start()
	select {
	case <-ctx.Done():
	case <-s.loopDone:
	}
	return s.Stop()
}

// New validates cfg, recovers the member's state from disk (newest snapshot,
// epoch files, txn log for the core) and binds its ports. Call Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("node", cfg.ID)
	s := &Server{
		cfg:          cfg,
		logger:       logger,
		clock:        &skewClock{now: time.Now},
		started:      time.Now(),
		clientEvents: make(chan clientEvent, cfg.ClientQueueLen),
		loopCalls:    make(chan func()),
		connLimiter:  connLimiter{max: cfg.MaxClientCnxns, maxTotal: cfg.MaxCnxns, n: map[string]int{}},
		stopCh:       make(chan struct{}),
		loopDone:     make(chan struct{}),
	}
	s.metrics = newMetrics(s)
	ok := false
	defer func() {
		if !ok {
			s.closeResources()
		}
	}()
	if err := s.recover(); err != nil {
		return nil, err
	}
	members := cfg.Servers
	if len(members) == 0 {
		members = []Member{{ID: cfg.ID, Host: "127.0.0.1"}}
	}
	if len(cfg.Servers) > 1 {
		tr, err := NewTransport(TransportConfig{
			ID: cfg.ID, Members: cfg.Servers, QueueLen: cfg.PeerQueueLen, InboxLen: cfg.PeerQueueLen,
			MaxFrameBytes: 256 << 20, Logger: cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
		s.transport = tr
	}
	if cfg.ClientPort != 0 {
		ln, err := net.Listen("tcp", cfg.ClientAddr())
		if err != nil {
			return nil, fmt.Errorf("zab: listen on client address %s: %w", cfg.ClientAddr(), err)
		}
		s.clientLn = ln
	}
	if cfg.SecureClientPort != 0 {
		tc, err := cfg.serverTLS()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		ln, err := net.Listen("tcp", cfg.SecureClientAddr())
		if err != nil {
			return nil, fmt.Errorf("zab: listen on secure client address %s (secureClientPort): %w", cfg.SecureClientAddr(), err)
		}
		s.secureLn, s.tlsConfig = ln, tc
	}
	if cfg.HTTPAddr != "" {
		hl, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return nil, fmt.Errorf("zab: listen on HTTP address %s: %w", cfg.HTTPAddr, err)
		}
		s.httpLn = hl
		s.httpSrv = &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
	}
	if cfg.AdminAddr != "" {
		al, err := net.Listen("tcp", cfg.AdminListenAddr())
		if err != nil {
			return nil, fmt.Errorf("zab: listen on admin address %s (zab.adminAddress): %w", cfg.AdminListenAddr(), err)
		}
		s.adminLn = al
		s.adminSrv = &http.Server{Handler: s.clockHandler(), ReadHeaderTimeout: 5 * time.Second}
	}
	s.st.init(s, members)
	ok = true
	return s, nil
}

// recover loads the newest snapshot into the tree, reads the epoch files,
// opens the txn log and builds the core over them.
func (s *Server) recover() error {
	cfg := s.cfg
	lg, err := OpenTxnLog(cfg.LogDir(), s.logger)
	if err != nil {
		return err
	}
	s.txnLog = lg
	snapZxid, payload, found, err := LatestSnapshot(cfg.DataDir, lg.FirstZxid(), s.logger)
	if err != nil {
		return err
	}
	if found {
		t, err := znode.ReadSnapshot(bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("zab: load snapshot %s from %s: %w", snapZxid.Hex(), snapDir(cfg.DataDir), err)
		}
		s.tree = t
	} else {
		s.tree = znode.New()
	}
	s.setupTree()
	accepted, err := ReadEpochFile(cfg.DataDir, acceptedEpochFile)
	if err != nil {
		return err
	}
	current, err := ReadEpochFile(cfg.DataDir, currentEpochFile)
	if err != nil {
		return err
	}
	if accepted < current {
		return &CorruptError{Path: filepath.Join(cfg.DataDir, acceptedEpochFile), Reason: fmt.Sprintf("acceptedEpoch %d is below currentEpoch %d", accepted, current)}
	}
	// acceptedEpoch is durable before any txn of its epoch reaches the log
	// or a snapshot (a member acknowledges NEWEPOCH before it is sent the
	// epoch's txns). Data from a later epoch means the file was lost or
	// damaged: reading it as 0 would let this member accept a leader it has
	// already promised to reject.
	if e := max(snapZxid, lg.LastZxid()).Epoch(); e > accepted {
		return &CorruptError{Path: filepath.Join(cfg.DataDir, acceptedEpochFile), Reason: fmt.Sprintf("acceptedEpoch is %d but the snapshot and txn log hold txns of epoch %d (a missing file reads as 0)", accepted, e)}
	}
	hard := zab.HardState{AcceptedEpoch: accepted, CurrentEpoch: current}
	node, err := s.newCore(hard, snapZxid)
	if err != nil {
		return err
	}
	s.node = node
	s.st.applied = snapZxid
	s.st.snapZxid = snapZxid
	s.st.hard = hard
	s.logger.Info("recovered", "snapshot_zxid", snapZxid.String(), "log_last_zxid", lg.LastZxid().String(),
		"accepted_epoch", accepted, "current_epoch", current)
	return nil
}

// newCore builds the ZAB core over the durable state: hard, the txns up to
// applied already in the tree, and the txn log after them.
func (s *Server) newCore(hard zab.HardState, applied zxid.Zxid) (*zab.Node, error) {
	cfg := s.cfg
	storage := &diskStorage{
		init: zab.InitialState{HardState: hard, Applied: applied},
		log:  s.txnLog,
	}
	peers := []zab.ServerID{zab.ServerID(cfg.ID)}
	if len(cfg.Servers) > 0 {
		peers = peers[:0]
		for _, m := range cfg.Servers {
			peers = append(peers, zab.ServerID(m.ID))
		}
	}
	// The core needs a different seed at each start (its connection ids
	// come from it), so the seed is the start time.
	seed := time.Now().UnixNano() ^ int64(cfg.ID)<<48
	zc := zab.DefaultConfig()
	zc.ID = zab.ServerID(cfg.ID)
	zc.Peers = peers
	zc.Storage = storage
	// The core ticks ticksPerTickTime times per tickTime, so limits scale.
	zc.InitLimitTicks = cfg.InitLimit * ticksPerTickTime
	zc.SyncLimitTicks = cfg.SyncLimit * ticksPerTickTime
	zc.MaxBatchEntries = cfg.MaxBatchTxns
	zc.MaxCommittedLog = cfg.CommitLogCount
	// ZooKeeper re-sends votes after 200 ms and waits finalizeWait = 200 ms.
	zc.ElectionTicks = 2
	zc.FinalizeWaitTicks = 2
	zc.Seed = seed
	zc.Logger = cfg.Logger // the core adds its own node key
	node, err := zab.NewNode(zc)
	if err != nil {
		return nil, fmt.Errorf("zab: start core: %w", err)
	}
	storage.release()
	return node, nil
}

// ticksPerTickTime is how often the core ticks per tickTime. ZooKeeper's
// leader works at tickTime/2; finer ticks make election and failure
// detection faster without changing the configured limits. With the usual
// tickTime of 1-2 s a tick is 100-200 ms, ZooKeeper's election timings.
const ticksPerTickTime = 10

func (s *Server) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// Start starts the loop, the transport and the listeners.
func (s *Server) Start() {
	if s.transport != nil {
		s.transport.Start()
	}
	s.goFunc(func() {
		defer close(s.loopDone)
		if err := s.loop(); err != nil {
			s.logger.Error("server loop failed", "err", err)
			s.loopErr = err
		}
	})
	if s.clientLn != nil {
		s.goFunc(func() { s.acceptLoop(s.clientLn, nil) })
	}
	if s.secureLn != nil {
		s.goFunc(func() { s.acceptLoop(s.secureLn, s.tlsConfig) })
	}
	if s.httpSrv != nil {
		s.goFunc(func() {
			if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.logger.Error("HTTP admin server failed", "err", err)
			}
		})
	}
	if s.adminSrv != nil {
		s.goFunc(func() {
			if err := s.adminSrv.Serve(s.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.logger.Error("HTTP admin (clock) server failed", "err", err)
			}
		})
	}
	s.logger.Info("serving", "client", s.ClientAddr(), "secure_client", s.SecureClientAddr(), "http", s.cfg.HTTPAddr, "admin", s.AdminAddr(), "members", len(s.cfg.Servers))
}

// ClientAddr is the bound plaintext client address, or "" when only the
// TLS port is served.
func (s *Server) ClientAddr() string {
	if s.clientLn == nil {
		return ""
	}
	return s.clientLn.Addr().String()
}

// SecureClientAddr is the bound TLS client address (secureClientPort), or
// "" without TLS.
func (s *Server) SecureClientAddr() string {
	if s.secureLn == nil {
		return ""
	}
	return s.secureLn.Addr().String()
}

// AdminAddr is the bound address of /admin/clock, or "" when it is off.
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// Stop stops everything and waits for every goroutine; it returns the loop's
// error, if it failed. Safe to call twice.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		close(s.stopCh)
		if s.clientLn != nil {
			s.clientLn.Close()
		}
		if s.secureLn != nil {
			s.secureLn.Close()
		}
		if s.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			s.httpSrv.Shutdown(ctx)
			cancel()
		}
		if s.adminSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			s.adminSrv.Shutdown(ctx)
			cancel()
		}
		s.wg.Wait() // the loop closes client connections on its way out
		s.connWG.Wait()
		if s.transport != nil {
			s.transport.Stop()
		}
		if err := s.txnLog.Close(); err != nil && s.loopErr == nil {
			s.loopErr = err
		}
	})
	return s.loopErr
}

// closeResources releases what New opened when New fails half way.
func (s *Server) closeResources() {
	if s.transport != nil {
		s.transport.Stop()
	}
	if s.clientLn != nil {
		s.clientLn.Close()
	}
	if s.secureLn != nil {
		s.secureLn.Close()
	}
	if s.httpLn != nil {
		s.httpLn.Close()
	}
	if s.adminLn != nil {
		s.adminLn.Close()
	}
	if s.txnLog != nil {
		s.txnLog.Close()
	}
}

// setupTree applies this member's configuration to a tree it loaded or
// received: TTL nodes (extendedTypesEnabled) and /zookeeper/config, which
// ZooKeeper fills on start and after loading a snapshot (standalone
// servers leave it empty).
func (s *Server) setupTree() {
	s.tree.SetExtendedTypes(s.cfg.ExtendedTypesEnabled)
	if qc := s.cfg.QuorumConfig(); qc != "" {
		s.tree.SetConfigNode([]byte(qc), s.cfg.ConfigVersion, time.Now().UnixMilli())
	}
}
