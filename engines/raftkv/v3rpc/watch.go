package v3rpc

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// invalidWatchID is clientv3.InvalidWatchID: the id of a failed create and
// of a stream-wide progress response.
const invalidWatchID = -1

type watchServer struct {
	pb.UnimplementedWatchServer
	b   Backend
	cfg Config
}

// Watch serves one bidirectional watch stream with two goroutines: a
// receiver that only reads requests and hands them over, and the handler's
// own goroutine, which owns every watcher of the stream, creates and cancels
// them, and is the only one to call stream.Send. Because creation and event
// delivery happen on the same goroutine, a created response always precedes
// the watcher's events.
//
// Shutdown: when the handler returns (client gone, send error, no leader),
// it cancels every watcher and closes done; the receiver is blocked in
// stream.Recv, which gRPC ends as soon as the handler has returned, and then
// exits without touching shared state.
func (s *watchServer) Watch(stream grpc.BidiStreamingServer[pb.WatchRequest, pb.WatchResponse]) error {
	ws := &watchStream{
		b:        s.b,
		cfg:      s.cfg,
		stream:   stream,
		watches:  make(map[int64]*watch),
		reqc:     make(chan *pb.WatchRequest),
		recvErrc: make(chan error, 1),
		done:     make(chan struct{}),
	}
	defer ws.close()
	go ws.recvLoop()
	return ws.sendLoop()
}

// watch is one watcher of a stream: the mvcc watcher and etcd's per-watch
// options. Owned by the stream's send goroutine.
type watch struct {
	id       int64
	w        *storeWatcher
	prevKV   bool
	fragment bool
	progress bool // progress_notify: periodic notifications when idle
	// sentEvents is set when events went out since the last periodic tick,
	// so the watcher is not idle (etcd sends progress only to idle ones).
	sentEvents bool
	// wantPeriodic marks a progress asked of the store for the periodic
	// notification and not yet answered.
	wantPeriodic bool
}

type watchStream struct {
	b      Backend
	cfg    Config
	stream grpc.BidiStreamingServer[pb.WatchRequest, pb.WatchResponse]

	reqc     chan *pb.WatchRequest
	recvErrc chan error
	done     chan struct{}

	watches map[int64]*watch
	nextID  int64

	// A stream-wide progress request (WatchProgressRequest) is answered
	// once every watcher has reported that it is synced; pendingAll holds
	// those still to report and allRev the smallest revision reported.
	allActive  bool
	pendingAll map[int64]bool
	allRev     int64

	// select cases over the watchers' channels, rebuilt when dirty.
	cases     []reflect.SelectCase
	caseWatch []*watch
	dirty     bool
}

const (
	caseReq = iota
	caseRecvErr
	caseTick
	caseDone
	caseLeader
	fixedCases
)

func (ws *watchStream) recvLoop() {
	for {
		req, err := ws.stream.Recv()
		if err != nil {
			ws.recvErrc <- err
			return
		}
		select {
		case ws.reqc <- req:
		case <-ws.done:
			return
		}
	}
}

func (ws *watchStream) close() {
	close(ws.done)
	for _, w := range ws.watches {
		w.w.cancel()
	}
	ws.watches = nil
}

func (ws *watchStream) sendLoop() error {
	tick := time.NewTicker(ws.cfg.ProgressNotifyInterval)
	defer tick.Stop()
	ctx := ws.stream.Context()
	// Streams that require a leader check for one periodically; the others
	// select on a nil channel, which never fires.
	var leaderC <-chan time.Time
	if requiresLeader(ctx) {
		lt := time.NewTicker(ws.cfg.LeaderCheckInterval)
		defer lt.Stop()
		leaderC = lt.C
	}
	noLeader := 0
	ws.cases = []reflect.SelectCase{
		caseReq:     {Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ws.reqc)},
		caseRecvErr: {Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ws.recvErrc)},
		caseTick:    {Dir: reflect.SelectRecv, Chan: reflect.ValueOf(tick.C)},
		caseDone:    {Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		caseLeader:  {Dir: reflect.SelectRecv, Chan: reflect.ValueOf(leaderC)},
	}
	for {
		if ws.dirty {
			ws.rebuildCases()
		}
		chosen, v, ok := reflect.Select(ws.cases)
		var err error
		switch chosen {
		case caseReq:
			err = ws.handleRequest(v.Interface().(*pb.WatchRequest))
		case caseRecvErr:
			rerr, _ := v.Interface().(error)
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			return rerr
		case caseTick:
			ws.periodicProgress()
		case caseDone:
			return ctx.Err()
		case caseLeader:
			if ws.b.Status().Leader != 0 {
				noLeader = 0
			} else if noLeader++; noLeader >= 3 {
				return rpctypes.ErrGRPCNoLeader
			}
		default:
			w := ws.caseWatch[chosen-fixedCases]
			if !ok {
				err = ws.storeClosed(w)
			} else {
				err = ws.deliver(w, v.Interface().(storeWatchResponse))
			}
		}
		if err != nil {
			return err
		}
	}
}

func (ws *watchStream) rebuildCases() {
	ws.cases = ws.cases[:fixedCases]
	ws.caseWatch = ws.caseWatch[:0]
	for _, w := range ws.watches {
		ws.cases = append(ws.cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.w.events())})
		ws.caseWatch = append(ws.caseWatch, w)
	}
	ws.dirty = false
}

func (ws *watchStream) send(resp *pb.WatchResponse) error {
	return ws.stream.Send(resp)
}

func (ws *watchStream) handleRequest(req *pb.WatchRequest) error {
	switch {
	case req.GetCreateRequest() != nil:
		return ws.create(req.GetCreateRequest())
	case req.GetCancelRequest() != nil:
		return ws.cancel(req.GetCancelRequest().WatchId)
	case req.GetProgressRequest() != nil:
		return ws.requestProgressAll()
	}
	// An empty request is ignored, as etcd does.
	return nil
}

// create registers a watcher and answers created=true with its id, or
// created=true, canceled=true, watch_id=-1 and the reason, as etcd does.
func (ws *watchStream) create(cr *pb.WatchCreateRequest) error {
	rev := currentRev(ws.b)
	fail := func(reason string) error {
		return ws.send(&pb.WatchResponse{
			Header: ws.hdr(rev), WatchId: invalidWatchID,
			Created: true, Canceled: true, CancelReason: reason,
		})
	}
	if err := ws.watchPermitted(cr); err != nil {
		// etcd puts the rpctypes error's text, "rpc error: code = ...",
		// in the reason, which etcdctl prints.
		return fail(toGRPC(err).Error())
	}
	key, end := cr.Key, cr.RangeEnd
	if len(end) != 0 && !bytes.Equal(end, []byte{0}) && bytes.Compare(key, end) >= 0 {
		return fail("mvcc: watcher range is empty")
	}
	id := cr.WatchId
	if id != 0 {
		if _, dup := ws.watches[id]; dup {
			return fail("mvcc: duplicate watch ID provided on the WatchStream")
		}
	} else {
		for ws.watches[ws.nextID] != nil {
			ws.nextID++
		}
		id = ws.nextID
		ws.nextID++
	}
	var noPut, noDelete bool
	for _, f := range cr.Filters {
		switch f {
		case pb.WatchCreateRequest_NOPUT:
			noPut = true
		case pb.WatchCreateRequest_NODELETE:
			noDelete = true
		}
	}
	start := cr.StartRevision
	if start <= 0 {
		start = rev + 1
	}
	sw, compactRev, err := openStoreWatcher(ws.b, key, end, start, cr.PrevKv, noPut, noDelete)
	if err != nil && compactRev == 0 {
		return fail(err.Error())
	}
	if err := ws.send(&pb.WatchResponse{Header: ws.hdr(rev), WatchId: id, Created: true}); err != nil {
		if sw != nil {
			sw.cancel()
		}
		return err
	}
	if compactRev != 0 {
		// etcd creates the watch, then answers compact_revision with
		// canceled=true and drops it.
		return ws.send(&pb.WatchResponse{Header: ws.hdr(currentRev(ws.b)), WatchId: id, CompactRevision: compactRev, Canceled: true})
	}
	ws.watches[id] = &watch{id: id, w: sw, prevKV: cr.PrevKv, fragment: cr.Fragment, progress: cr.ProgressNotify}
	ws.dirty = true
	return nil
}

// remove cancels and forgets a watch; a pending stream-wide progress
// request no longer waits for it.
func (ws *watchStream) remove(id int64) error {
	w, ok := ws.watches[id]
	if !ok {
		return nil
	}
	w.w.cancel()
	delete(ws.watches, id)
	ws.dirty = true
	if ws.allActive && ws.pendingAll[id] {
		delete(ws.pendingAll, id)
		return ws.maybeFinishAll()
	}
	return nil
}

// cancel answers canceled=true for a known watch; an unknown id gets no
// answer, as etcd.
func (ws *watchStream) cancel(id int64) error {
	if _, ok := ws.watches[id]; !ok {
		return nil
	}
	if err := ws.remove(id); err != nil {
		return err
	}
	return ws.send(&pb.WatchResponse{Header: ws.hdr(currentRev(ws.b)), WatchId: id, Canceled: true})
}

// requestProgressAll handles a WatchProgressRequest: ask every watcher for
// its synced revision; the answer (watch_id -1) goes out once all have
// answered, with the smallest revision reported, so no watcher on the
// stream has undelivered events at or below it. A request while one is in
// progress joins it. With no watchers nothing is sent, as in etcd.
func (ws *watchStream) requestProgressAll() error {
	if ws.allActive || len(ws.watches) == 0 {
		return nil
	}
	ws.allActive = true
	ws.pendingAll = make(map[int64]bool, len(ws.watches))
	ws.allRev = 0
	for id, w := range ws.watches {
		ws.pendingAll[id] = true
		w.w.requestProgress()
	}
	return nil
}

func (ws *watchStream) maybeFinishAll() error {
	if !ws.allActive || len(ws.pendingAll) > 0 {
		return nil
	}
	ws.allActive = false
	rev := ws.allRev
	if rev == 0 {
		rev = currentRev(ws.b)
	}
	return ws.send(&pb.WatchResponse{Header: ws.hdr(rev), WatchId: invalidWatchID})
}

// periodicProgress asks every idle progress_notify watcher for a progress
// notification, and clears the idle marks for the next interval.
func (ws *watchStream) periodicProgress() {
	for _, w := range ws.watches {
		if w.progress && !w.sentEvents && !w.wantPeriodic {
			w.wantPeriodic = true
			w.w.requestProgress()
		}
		w.sentEvents = false
	}
}

// deliver forwards one batch from the store: events (packed into
// responses), a compaction (canceling the watch), or a progress report.
func (ws *watchStream) deliver(w *watch, r storeWatchResponse) error {
	if r.CompactRevision != 0 {
		if err := ws.remove(w.id); err != nil {
			return err
		}
		return ws.send(&pb.WatchResponse{Header: ws.hdr(currentRev(ws.b)), WatchId: w.id, CompactRevision: r.CompactRevision, Canceled: true})
	}
	if len(r.Events) == 0 {
		return ws.progressReport(w, r.Revision)
	}
	w.w.delivered(max(r.Revision, r.Events[len(r.Events)-1].Kv.ModRevision))
	if !w.prevKV {
		for _, ev := range r.Events {
			ev.PrevKv = nil
		}
	}
	w.sentEvents = true
	if err := ws.sendEvents(w, r.Revision, r.Events); err != nil {
		return err
	}
	// A watcher that still owes a progress answer may have been behind
	// when it was asked; now that it has delivered, ask again.
	if (ws.allActive && ws.pendingAll[w.id]) || w.wantPeriodic {
		w.w.requestProgress()
	}
	return nil
}

// progressReport handles a watcher's answer to requestProgress: rev is a
// revision up to which it has delivered everything.
func (ws *watchStream) progressReport(w *watch, rev int64) error {
	w.w.delivered(rev)
	if w.wantPeriodic {
		w.wantPeriodic = false
		if err := ws.send(&pb.WatchResponse{Header: ws.hdr(rev), WatchId: w.id}); err != nil {
			return err
		}
	}
	if ws.allActive && ws.pendingAll[w.id] {
		delete(ws.pendingAll, w.id)
		if ws.allRev == 0 || rev < ws.allRev {
			ws.allRev = rev
		}
		return ws.maybeFinishAll()
	}
	return nil
}

// sendEvents sends events in responses of at most MaxWatchResponseBytes,
// cutting only between revisions. One revision larger than the limit goes
// alone, or, if the watcher asked for fragment, in pieces marked
// fragment=true except the last, which clientv3 joins again.
func (ws *watchStream) sendEvents(w *watch, rev int64, evs []*mvccpb.Event) error {
	limit := ws.cfg.MaxWatchResponseBytes
	hdr := ws.hdr(rev)
	var batch []*mvccpb.Event
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := ws.send(&pb.WatchResponse{Header: hdr, WatchId: w.id, Events: batch})
		batch, size = nil, 0
		return err
	}
	for i := 0; i < len(evs); {
		// One revision: evs[i:j].
		j, groupSize := i, 0
		for j < len(evs) && evs[j].Kv.ModRevision == evs[i].Kv.ModRevision {
			groupSize += proto.Size(evs[j])
			j++
		}
		if size > 0 && size+groupSize > limit {
			if err := flush(); err != nil {
				return err
			}
		}
		if groupSize > limit && w.fragment && j-i > 1 {
			if err := flush(); err != nil {
				return err
			}
			if err := ws.sendFragments(w, hdr, evs[i:j], limit); err != nil {
				return err
			}
		} else {
			batch = append(batch, evs[i:j]...)
			size += groupSize
		}
		i = j
	}
	return flush()
}

func (ws *watchStream) sendFragments(w *watch, hdr *pb.ResponseHeader, evs []*mvccpb.Event, limit int) error {
	var piece []*mvccpb.Event
	size := 0
	for i, ev := range evs {
		n := proto.Size(ev)
		if len(piece) > 0 && size+n > limit {
			if err := ws.send(&pb.WatchResponse{Header: hdr, WatchId: w.id, Events: piece, Fragment: true}); err != nil {
				return err
			}
			piece, size = nil, 0
		}
		piece = append(piece, ev)
		size += n
		if i == len(evs)-1 {
			return ws.send(&pb.WatchResponse{Header: hdr, WatchId: w.id, Events: piece})
		}
	}
	return nil
}

// storeClosed handles a watcher channel that the store closed without a
// cancel from us: the server swapped its store (snapshot restore) or is
// stopping. The watch continues on the current store from the first
// revision not yet delivered; if that is compacted the client gets etcd's
// compacted answer. If there is no usable store, the stream ends with
// ErrGRPCStopped (codes.Unavailable), and clientv3 reconnects and resumes
// every watch of the stream from its last revision.
func (ws *watchStream) storeClosed(w *watch) error {
	next := w.w.next()
	sw, compactRev, err := openStoreWatcher(ws.b, w.w.key, w.w.end, next, w.w.prevKV, w.w.noPut, w.w.noDelete)
	if err != nil {
		if compactRev == 0 {
			return rpctypes.ErrGRPCStopped
		}
		if err := ws.remove(w.id); err != nil {
			return err
		}
		return ws.send(&pb.WatchResponse{Header: ws.hdr(currentRev(ws.b)), WatchId: w.id, CompactRevision: compactRev, Canceled: true})
	}
	w.w = sw
	ws.dirty = true
	if (ws.allActive && ws.pendingAll[w.id]) || w.wantPeriodic {
		sw.requestProgress()
	}
	return nil
}

func (ws *watchStream) hdr(rev int64) *pb.ResponseHeader {
	h := &pb.ResponseHeader{Revision: rev}
	return fillHeader(ws.b, h)
}

// watchPermitted is etcd's isWatchPermitted: with auth enabled, the
// stream's user must be allowed to read the watched range. A refusal
// cancels the watch with etcd's error text as the reason.
func (ws *watchStream) watchPermitted(cr *pb.WatchCreateRequest) error {
	ai, err := authInfo(ws.stream.Context(), ws.b)
	if err != nil {
		return err
	}
	st, err := storeOf(ws.b)
	if err != nil {
		return err
	}
	return st.IsRangePermitted(ai, cr.Key, cr.RangeEnd)
}
