package zabtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"slices"
	"strings"

	"coordlab/engines/zab"
)

// Options configure a Cluster.
type Options struct {
	// N is the number of members, with ids 1..N. Required.
	N int
	// Seed drives the network, snapshots and each member's core.
	Seed int64
	// Net are the network faults.
	Net NetOptions
	// Config, if set, adjusts each member's zab.Config (ID, Peers, Storage and
	// Seed are set by the cluster).
	Config func(*zab.Config)
	// SnapshotRate is the probability that a member snapshots its state after
	// applying a Ready (so that restarts replay from different points).
	SnapshotRate float64
	// Trace, if set, receives every Ready handled and every message delivered.
	Trace io.Writer
	// Logger, if set, receives the cores' logs.
	Logger *slog.Logger
}

// Member is one server of the cluster.
type Member struct {
	ID      zab.ServerID
	Node    *zab.Node // nil while crashed
	Storage *zab.MemoryStorage
	// Applied is the application state: every entry applied, in order.
	Applied []zab.Entry
	// Syncs completed on this member, in order.
	Syncs    []zab.SyncResult
	restarts int
	checked  int // Applied[:checked] matches the global order
	skew     Skew
	ticksDue float64 // fractional ticks owed under skew
	// syncFloor maps a pending sync to the highest zxid a leader had
	// delivered when the sync was issued.
	syncFloor map[zab.RequestID]zab.Zxid
}

// Up reports whether the member is running.
func (m *Member) Up() bool { return m.Node != nil }

// Cluster is N members over one network. It is not safe for concurrent use.
type Cluster struct {
	opts    Options
	rand    *rand.Rand
	net     *network
	ids     []zab.ServerID
	members map[zab.ServerID]*Member

	order     []zab.Entry             // the global delivery order
	leaders   map[uint32]zab.ServerID // established leader per epoch
	acked     []zab.Entry
	ackedSeen map[zab.Zxid]bool
	violation error
}

// New starts N members, all LOOKING.
func New(opts Options) (*Cluster, error) {
	if opts.N < 1 {
		return nil, fmt.Errorf("zabtest: N: want at least 1 member, got %d", opts.N)
	}
	c := &Cluster{
		opts:      opts,
		rand:      rand.New(rand.NewSource(opts.Seed)),
		members:   map[zab.ServerID]*Member{},
		leaders:   map[uint32]zab.ServerID{},
		ackedSeen: map[zab.Zxid]bool{},
	}
	c.net = &network{opts: opts.Net, rand: rand.New(rand.NewSource(opts.Seed + 1)), cut: map[[2]zab.ServerID]bool{}}
	for i := 1; i <= opts.N; i++ {
		c.ids = append(c.ids, zab.ServerID(i))
	}
	for _, id := range c.ids {
		m := &Member{ID: id, Storage: zab.NewMemoryStorage()}
		c.members[id] = m
		if err := c.start(m); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) start(m *Member) error {
	cfg := zab.DefaultConfig()
	if c.opts.Config != nil {
		c.opts.Config(&cfg)
	}
	cfg.ID, cfg.Peers, cfg.Storage = m.ID, c.ids, m.Storage
	cfg.Seed = c.opts.Seed*1000 + int64(m.ID)*10 + int64(m.restarts)
	if c.opts.Logger != nil {
		cfg.Logger = c.opts.Logger
	}
	n, err := zab.NewNode(cfg)
	if err != nil {
		return fmt.Errorf("zabtest: start member %d: %w", m.ID, err)
	}
	m.Node, m.checked = n, 0
	// The application state comes back from the snapshot alone.
	snap := m.Storage.Snapshot()
	m.Applied, err = decodeState(snap.Data)
	if err != nil {
		return fmt.Errorf("zabtest: member %d: %w", m.ID, err)
	}
	if got := lastZxid(m.Applied); got != snap.Zxid {
		return fmt.Errorf("zabtest: member %d: snapshot at %s holds state up to %s", m.ID, snap.Zxid, got)
	}
	return nil
}

// IDs returns the member ids in order.
func (c *Cluster) IDs() []zab.ServerID { return slices.Clone(c.ids) }

// Member returns member id.
func (c *Cluster) Member(id zab.ServerID) *Member { return c.members[id] }

// Now returns the fake clock in ticks.
func (c *Cluster) Now() int64 { return c.net.now }

// Dropped counts messages lost so far (faults, partitions, crashes).
func (c *Cluster) Dropped() int { return c.net.dropped }

// Skew is how one member's clock runs against the cluster's fake clock
// (the shapes of tigerbeetle's TimeSim: drift, periodic; JumpClock is the step).
type Skew struct {
	// Rate is the member's ticks per cluster tick: 0 or 1 keeps it in step,
	// 0.5 runs it slow, 2 fast (drift).
	Rate float64
	// Period, if positive, makes the skew periodic: the member runs at Rate for
	// Period cluster ticks, then in step for Period ticks, and so on.
	Period int
}

// SetSkew sets member id's clock skew (it survives restarts).
func (c *Cluster) SetSkew(id zab.ServerID, s Skew) { c.members[id].skew = s }

// JumpClock steps member id's clock forward by n ticks at once.
func (c *Cluster) JumpClock(id zab.ServerID, n int) {
	if m := c.members[id]; m.Up() {
		for range n {
			m.Node.Tick()
		}
	}
}

// Tick advances the cluster clock one tick and ticks every running member
// as its skew says (once, without skew).
func (c *Cluster) Tick() {
	c.net.now++
	for _, id := range c.ids {
		m := c.members[id]
		if !m.Up() {
			continue
		}
		rate := m.skew.Rate
		if rate == 0 || (m.skew.Period > 0 && (c.net.now/int64(m.skew.Period))%2 == 1) {
			rate = 1
		}
		m.ticksDue += rate
		for m.ticksDue >= 1 {
			m.ticksDue--
			m.Node.Tick()
		}
	}
}

// TickMember ticks one member without advancing the cluster clock.
func (c *Cluster) TickMember(id zab.ServerID) {
	if m := c.members[id]; m.Up() {
		m.Node.Tick()
	}
}

// Partition cuts every link between different groups (members in no group
// keep their links to everyone).
func (c *Cluster) Partition(groups ...[]zab.ServerID) {
	group := map[zab.ServerID]int{}
	for i, g := range groups {
		for _, id := range g {
			group[id] = i + 1
		}
	}
	for _, a := range c.ids {
		for _, b := range c.ids {
			ga, gb := group[a], group[b]
			if a != b && ga != 0 && gb != 0 && ga != gb {
				c.net.cut[[2]zab.ServerID{a, b}] = true
			}
		}
	}
}

// Heal restores every link.
func (c *Cluster) Heal() { clear(c.net.cut) }

// DropPending discards the messages in flight to or from id.
func (c *Cluster) DropPending(id zab.ServerID) int { return c.net.dropFor(id) }

// Crash stops member id: its core and application state are gone, its
// storage keeps what handled Readys persisted, its messages in flight are lost.
func (c *Cluster) Crash(id zab.ServerID) {
	m := c.members[id]
	m.Node, m.Applied = nil, nil
	c.net.dropFor(id)
}

// Restart starts a crashed member from its storage.
func (c *Cluster) Restart(id zab.ServerID) error {
	m := c.members[id]
	if m.Up() {
		return fmt.Errorf("zabtest: restart %d: it is running", id)
	}
	m.restarts++
	return c.start(m)
}

// Propose submits a client write at member id: Propose on an established
// leader, Forward on a follower.
func (c *Cluster) Propose(id zab.ServerID, data []byte) error {
	m := c.members[id]
	if !m.Up() {
		return fmt.Errorf("zabtest: propose at %d: member is down", id)
	}
	if m.Node.Status().State == zab.StateLeading {
		_, err := m.Node.Propose(data)
		return err
	}
	return m.Node.Forward(data)
}

// Leader returns the established leader with the highest epoch among running members.
func (c *Cluster) Leader() (zab.ServerID, bool) {
	var best zab.ServerID
	var bestEpoch uint32
	for _, id := range c.ids {
		m := c.members[id]
		if !m.Up() {
			continue
		}
		s := m.Node.Status()
		if s.State == zab.StateLeading && s.Phase == zab.PhaseBroadcast && (best == 0 || s.Epoch > bestEpoch) {
			best, bestEpoch = id, s.Epoch
		}
	}
	return best, best != 0
}

// HandleReady carries out one Ready of member id, if it has one, and reports
// whether it did.
func (c *Cluster) HandleReady(id zab.ServerID) bool {
	m := c.members[id]
	if !m.Up() || !m.Node.HasReady() {
		return false
	}
	rd := m.Node.Ready()
	for i := range rd.EarlyMessages {
		c.fillSnap(m, &rd.EarlyMessages[i])
	}
	for i := range rd.Messages {
		c.fillSnap(m, &rd.Messages[i])
	}
	c.trace(id, rd)
	if rd.SoftState != nil && rd.SoftState.State == zab.StateLeading && rd.SoftState.Phase == zab.PhaseBroadcast {
		if prev, ok := c.leaders[rd.SoftState.Epoch]; ok && prev != id {
			c.fail("two leaders in epoch %d: %d and %d", rd.SoftState.Epoch, prev, id)
		}
		c.leaders[rd.SoftState.Epoch] = id
	}
	// Early messages may leave before the fsync.
	for _, msg := range rd.EarlyMessages {
		c.net.send(msg)
	}
	if err := m.Storage.Persist(rd); err != nil {
		c.fail("member %d: persist: %v", id, err)
	}
	if rd.Snapshot != nil {
		st, err := decodeState(rd.Snapshot.Data)
		if err != nil {
			c.fail("member %d: install snapshot: %v", id, err)
		}
		m.Applied, m.checked = st, 0
		c.checkPrefix(m)
	}
	for _, msg := range rd.Messages {
		c.net.send(msg)
	}
	isLeader := m.Node.Status().State == zab.StateLeading
	for _, e := range rd.Committed {
		c.apply(m, e, isLeader)
	}
	if len(rd.Committed) > 0 && c.opts.SnapshotRate > 0 && c.rand.Float64() < c.opts.SnapshotRate {
		m.Storage.SetSnapshot(zab.Snapshot{Zxid: lastZxid(m.Applied), Data: encodeState(m.Applied)})
	}
	for _, s := range rd.Syncs {
		floor, ok := m.syncFloor[s.ID]
		delete(m.syncFloor, s.ID)
		if ok && s.Err == nil && lastZxid(m.Applied) < floor {
			c.fail("member %d: sync %d completed at %s, before %s, which a leader delivered before the sync began", id, s.ID, lastZxid(m.Applied), floor)
		}
	}
	m.Syncs = append(m.Syncs, rd.Syncs...)
	m.Node.Advance(rd)
	for _, r := range rd.Requests {
		// The test application's "prepare" is the identity; a full window
		// drops the write, as a server would answer its client with an error.
		if _, err := m.Node.Propose(r.Data); err != nil && !errors.Is(err, zab.ErrProposalsFull) && !errors.Is(err, zab.ErrNotLeader) {
			c.fail("member %d: propose forwarded write: %v", id, err)
		}
	}
	return true
}

func (c *Cluster) fillSnap(m *Member, msg *zab.Message) {
	if msg.Type != zab.MsgSnap {
		return
	}
	if got := lastZxid(m.Applied); got != msg.Zxid {
		c.fail("member %d: SNAP at %s but its state is at %s", m.ID, msg.Zxid, got)
	}
	msg.Data = encodeState(m.Applied)
}

func (c *Cluster) apply(m *Member, e zab.Entry, isLeader bool) {
	m.Applied = append(m.Applied, e)
	c.checkPrefix(m)
	if isLeader && !c.ackedSeen[e.Zxid] {
		c.ackedSeen[e.Zxid] = true
		c.acked = append(c.acked, e)
	}
}

// checkPrefix checks m.Applied against the global order, extending it.
func (c *Cluster) checkPrefix(m *Member) {
	if m.checked > len(m.Applied) {
		m.checked = 0
	}
	for i := m.checked; i < len(m.Applied); i++ {
		e := m.Applied[i]
		m.checked = i + 1
		if i > 0 && e.Zxid <= m.Applied[i-1].Zxid {
			c.fail("member %d: applied %s after %s", m.ID, e.Zxid, m.Applied[i-1].Zxid)
			return
		}
		if i < len(c.order) {
			if o := c.order[i]; o.Zxid != e.Zxid || string(o.Data) != string(e.Data) {
				c.fail("member %d: position %d holds %s %q, but another member applied %s %q there", m.ID, i, e.Zxid, e.Data, o.Zxid, o.Data)
				return
			}
			continue
		}
		c.order = append(c.order, e)
	}
}

func (c *Cluster) fail(format string, a ...any) {
	if c.violation == nil {
		c.violation = fmt.Errorf("zabtest: "+format, a...)
	}
}

// Check returns the first safety violation seen, or nil.
func (c *Cluster) Check() error { return c.violation }

// Acked returns every entry a leader delivered, in delivery order.
func (c *Cluster) Acked() []zab.Entry { return slices.Clone(c.acked) }

// Order returns the global delivery order seen so far.
func (c *Cluster) Order() []zab.Entry { return slices.Clone(c.order) }

// Deliver hands member id the messages due to it and reports how many.
func (c *Cluster) Deliver(id zab.ServerID) int {
	m := c.members[id]
	if !m.Up() {
		c.net.take(id) // lost
		return 0
	}
	msgs := c.net.take(id)
	if len(msgs) > 0 && c.opts.Trace != nil {
		fmt.Fprintf(c.opts.Trace, "> %d receiving messages\n", id)
	}
	for _, msg := range msgs {
		if c.opts.Trace != nil {
			fmt.Fprintf(c.opts.Trace, "  %s\n", msg)
		}
		if err := m.Node.Step(msg); err != nil {
			c.fail("member %d: step %s: %v", id, msg, err)
		}
	}
	return len(msgs)
}

// Stabilize handles Readys and delivers due messages until nothing is left
// to do, without ticking. It gives up after max rounds (0: 1000).
func (c *Cluster) Stabilize(max int) {
	if max <= 0 {
		max = 1000
	}
	for range max {
		busy := false
		for _, id := range c.ids {
			for c.HandleReady(id) {
				busy = true
			}
		}
		for _, id := range c.ids {
			if c.Deliver(id) > 0 {
				busy = true
			}
		}
		if !busy {
			return
		}
	}
}

func (c *Cluster) trace(id zab.ServerID, rd zab.Ready) {
	w := c.opts.Trace
	if w == nil {
		return
	}
	fmt.Fprintf(w, "> %d handling Ready\n", id)
	if s := rd.SoftState; s != nil {
		fmt.Fprintf(w, "  State: %s %s leader=%d epoch=%d\n", s.State, s.Phase, s.Leader, s.Epoch)
	}
	if h := rd.HardState; h != nil {
		fmt.Fprintf(w, "  HardState: accepted=%d current=%d\n", h.AcceptedEpoch, h.CurrentEpoch)
	}
	if rd.Snapshot != nil {
		fmt.Fprintf(w, "  Snapshot: %s (%d entries)\n", rd.Snapshot.Zxid, len(mustDecode(rd.Snapshot.Data)))
	}
	if rd.Truncate {
		fmt.Fprintf(w, "  Truncate: after %s\n", rd.TruncateTo)
	}
	if len(rd.Entries) > 0 {
		fmt.Fprintf(w, "  Entries: %s\n", entryList(rd.Entries))
	}
	for _, m := range rd.EarlyMessages {
		fmt.Fprintf(w, "  Early: %s\n", m)
	}
	for _, m := range rd.Messages {
		fmt.Fprintf(w, "  Send: %s\n", m)
	}
	if len(rd.Committed) > 0 {
		fmt.Fprintf(w, "  Committed: %s\n", entryList(rd.Committed))
	}
	for _, s := range rd.Syncs {
		if s.Err != nil {
			fmt.Fprintf(w, "  Sync %d: %v\n", s.ID, s.Err)
		} else {
			fmt.Fprintf(w, "  Sync %d: done\n", s.ID)
		}
	}
	for _, r := range rd.Requests {
		fmt.Fprintf(w, "  Request from %d: %q\n", r.From, r.Data)
	}
}

func entryList(ents []zab.Entry) string {
	var b strings.Builder
	for i, e := range ents {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s/%s", e.Zxid, e.Data)
	}
	return b.String()
}

func lastZxid(ents []zab.Entry) zab.Zxid {
	if len(ents) == 0 {
		return 0
	}
	return ents[len(ents)-1].Zxid
}

// encodeState serializes an applied list: count, then (zxid, len, data) each.
func encodeState(ents []zab.Entry) []byte {
	b := binary.AppendUvarint(nil, uint64(len(ents)))
	for _, e := range ents {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Zxid))
		b = binary.AppendUvarint(b, uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b
}

func decodeState(b []byte) ([]zab.Entry, error) {
	if len(b) == 0 {
		return nil, nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("decode state: bad entry count")
	}
	b = b[k:]
	ents := make([]zab.Entry, 0, n)
	for range n {
		if len(b) < 8 {
			return nil, fmt.Errorf("decode state: truncated zxid")
		}
		z := zab.Zxid(binary.BigEndian.Uint64(b))
		b = b[8:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("decode state: bad data length")
		}
		b = b[k:]
		ents = append(ents, zab.Entry{Zxid: z, Data: slices.Clone(b[:l])})
		b = b[l:]
	}
	return ents, nil
}

func mustDecode(b []byte) []zab.Entry {
	e, err := decodeState(b)
	if err != nil {
		panic(err)
	}
	return e
}

// SetNet replaces the network faults (messages in flight keep their delays).
func (c *Cluster) SetNet(o NetOptions) { c.net.opts = o }

// Elections counts the established leaderships seen (one per epoch).
func (c *Cluster) Elections() int { return len(c.leaders) }

// CrashMidReady takes member id's Ready, sends its EarlyMessages and crashes
// before persisting anything (the fsync never happened). It reports whether
// the member had a Ready; without one it crashes all the same.
func (c *Cluster) CrashMidReady(id zab.ServerID) bool {
	m := c.members[id]
	if !m.Up() {
		return false
	}
	had := m.Node.HasReady()
	if had {
		rd := m.Node.Ready()
		for _, msg := range rd.EarlyMessages {
			c.fillSnap(m, &msg)
			c.net.send(msg)
		}
		if c.opts.Trace != nil {
			fmt.Fprintf(c.opts.Trace, "> %d crashed before persisting its Ready\n", id)
		}
	}
	m.Node, m.Applied = nil, nil
	// Messages already in flight from id stay in flight: they left before the crash.
	return had
}

// Sync starts a sync at member id (see zab.Node.Sync). When it completes, the
// cluster checks that the member applied every entry a leader had delivered
// before this call.
func (c *Cluster) Sync(id zab.ServerID, req zab.RequestID) error {
	m := c.members[id]
	if !m.Up() {
		return fmt.Errorf("zabtest: sync at %d: member is down", id)
	}
	if err := m.Node.Sync(req); err != nil {
		return err
	}
	if m.syncFloor == nil {
		m.syncFloor = map[zab.RequestID]zab.Zxid{}
	}
	var floor zab.Zxid
	if n := len(c.acked); n > 0 {
		floor = c.acked[n-1].Zxid
	}
	m.syncFloor[req] = floor
	return nil
}
