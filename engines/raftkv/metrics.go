package raftkv

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are etcd's server and disk metrics under the raftkv_ prefix.
type metrics struct {
	proposalsCommitted prometheus.Gauge
	proposalsApplied   prometheus.Gauge
	proposalsPending   prometheus.Gauge
	proposalsFailed    prometheus.Counter
	leaderChanges      prometheus.Counter
	hasLeader          prometheus.Gauge
	isLeader           prometheus.Gauge
	walFsync           prometheus.Histogram
	walSyncedEntries   prometheus.Histogram
	backendCommit      prometheus.Histogram
	applyDuration      prometheus.Histogram
	readIndexRounds    prometheus.Counter
	peerDropped        prometheus.Counter
	recvDropped        prometheus.Counter
	snapshotsSaved     prometheus.Counter
	snapshotsApplied   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		proposalsCommitted: prometheus.NewGauge(prometheus.GaugeOpts{Name: "raftkv_server_proposals_committed_total", Help: "The total number of consensus proposals committed."}),
		proposalsApplied:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "raftkv_server_proposals_applied_total", Help: "The total number of consensus proposals applied."}),
		proposalsPending:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "raftkv_server_proposals_pending", Help: "The current number of pending proposals to commit."}),
		proposalsFailed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_server_proposals_failed_total", Help: "The total number of failed proposals seen."}),
		leaderChanges:      prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_server_leader_changes_seen_total", Help: "The number of leader changes seen."}),
		hasLeader:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "raftkv_server_has_leader", Help: "Whether or not a leader exists. 1 is existence, 0 is not."}),
		isLeader:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "raftkv_server_is_leader", Help: "Whether or not this member is a leader. 1 if is, 0 otherwise."}),
		walFsync: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "raftkv_disk_wal_fsync_duration_seconds", Help: "The latency distributions of fsync called by WAL.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		walSyncedEntries: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "raftkv_disk_wal_entries_per_fsync", Help: "Raft entries made durable by one WAL fsync (batching).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		backendCommit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "raftkv_disk_backend_commit_duration_seconds", Help: "The latency distributions of commit called by backend.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "raftkv_server_apply_duration_seconds", Help: "The latency distributions of applying one batch of committed entries.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20)}),
		readIndexRounds:  prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_server_read_index_rounds_total", Help: "ReadIndex rounds issued (each serves a batch of linearizable reads)."}),
		peerDropped:      prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_network_peer_send_dropped_total", Help: "Raft messages dropped because a peer send queue was full."}),
		recvDropped:      prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_network_peer_recv_dropped_total", Help: "Raft messages dropped because the receive queue was full."}),
		snapshotsSaved:   prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_server_snapshots_saved_total", Help: "Raft snapshots taken locally."}),
		snapshotsApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_server_snapshots_applied_total", Help: "Raft snapshots received from the leader and applied."}),
	}
	reg.MustRegister(m.proposalsCommitted, m.proposalsApplied, m.proposalsPending, m.proposalsFailed,
		m.leaderChanges, m.hasLeader, m.isLeader, m.walFsync, m.walSyncedEntries, m.backendCommit, m.applyDuration,
		m.readIndexRounds, m.peerDropped, m.recvDropped, m.snapshotsSaved, m.snapshotsApplied)
	return m
}
