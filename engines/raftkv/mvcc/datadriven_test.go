package mvcc

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// TestDataDriven runs the scripts in testdata/: each command applies an entry (or reads)
// and prints the response, so the files read as a transcript of etcd's semantics.
// Refresh with -rewrite and review the diff.
//
//	put key=k value=v [lease=ID] [prev_kv] [ignore_value] [ignore_lease]
//	get key=k [end=e|prefix] [rev=N] [limit=N] [sort=TARGET-ORDER] [keys_only] [count_only]
//	    [min_mod=N] [max_mod=N] [min_create=N] [max_create=N]
//	del key=k [end=e|prefix]
//	txn              input lines: "if TARGET(key) OP value", "then|else put k v",
//	                 "then|else get k [end]", "then|else del k [end]"
//	compact rev=N
//	grant id=N ttl=N | revoke id=N | leases
//	commit | reopen | hashkv [rev=N]
//	watch name=w key=k [end=e|prefix] [start=N] [prev_kv] [noput] [nodelete]
//	events name=w n=N   (waits for N events)
//
// An end of \0 means "every key >= key"; prefix sets end to key+1.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarnessConfig(t, testConfig())
		watchers := map[string]*Watcher{}
		defer func() {
			for _, w := range watchers {
				w.Cancel()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			out, err := runCommand(t, h, watchers, td)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

func arg(td *datadriven.TestData, key string) (string, bool) {
	a, ok := td.Arg(key)
	if !ok {
		return "", false
	}
	if len(a.Vals) == 0 {
		return "", true
	}
	return a.Vals[0], true
}

func argInt(t *testing.T, td *datadriven.TestData, key string) int64 {
	v, ok := arg(td, key)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		td.Fatalf(t, "%s: %v", key, err)
	}
	return n
}

func keyEnd(td *datadriven.TestData) ([]byte, []byte) {
	k, _ := arg(td, "key")
	key := unescape(k)
	if td.HasArg("prefix") {
		end := []byte(k)
		end[len(end)-1]++
		return key, end
	}
	e, ok := arg(td, "end")
	if !ok {
		return key, nil
	}
	return key, unescape(e)
}

func unescape(s string) []byte {
	if s == `\0` {
		return []byte{0}
	}
	return []byte(s)
}

func runCommand(t *testing.T, h *harness, watchers map[string]*Watcher, td *datadriven.TestData) (string, error) {
	switch td.Cmd {
	case "put":
		k, _ := arg(td, "key")
		v, _ := arg(td, "value")
		return show(h.apply(&pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(k), Value: []byte(v),
			Lease: argInt(t, td, "lease"), PrevKv: td.HasArg("prev_kv"),
			IgnoreValue: td.HasArg("ignore_value"), IgnoreLease: td.HasArg("ignore_lease")}}))
	case "get":
		key, end := keyEnd(td)
		r := &pb.RangeRequest{Key: key, RangeEnd: end, Revision: argInt(t, td, "rev"), Limit: argInt(t, td, "limit"),
			KeysOnly: td.HasArg("keys_only"), CountOnly: td.HasArg("count_only"),
			MinModRevision: argInt(t, td, "min_mod"), MaxModRevision: argInt(t, td, "max_mod"),
			MinCreateRevision: argInt(t, td, "min_create"), MaxCreateRevision: argInt(t, td, "max_create")}
		if s, ok := arg(td, "sort"); ok {
			target, order, _ := strings.Cut(strings.ToUpper(s), "-")
			r.SortTarget = pb.RangeRequest_SortTarget(pb.RangeRequest_SortTarget_value[target])
			r.SortOrder = pb.RangeRequest_SortOrder(pb.RangeRequest_SortOrder_value[order])
		}
		resp, err := h.s.Range(r)
		return show(resp, err)
	case "del":
		key, end := keyEnd(td)
		return show(h.apply(&pb.InternalRaftRequest{DeleteRange: &pb.DeleteRangeRequest{Key: key, RangeEnd: end, PrevKv: true}}))
	case "txn":
		txn, err := parseTxn(td.Input)
		if err != nil {
			td.Fatalf(t, "%v", err)
		}
		return show(h.apply(&pb.InternalRaftRequest{Txn: txn}))
	case "compact":
		return show(h.apply(&pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: argInt(t, td, "rev")}}))
	case "grant":
		return show(h.apply(&pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: argInt(t, td, "id"), TTL: argInt(t, td, "ttl")}}))
	case "revoke":
		return show(h.apply(&pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: argInt(t, td, "id")}}))
	case "leases":
		var b strings.Builder
		for _, l := range h.s.Leases() {
			fmt.Fprintf(&b, "lease %d ttl=%d keys=%q\n", l.ID, l.TTL, l.Keys)
		}
		return b.String(), nil
	case "commit":
		return fmt.Sprintf("ok ci=%d\n", h.s.ConsistentIndex()), h.s.Commit()
	case "reopen":
		for name, w := range watchers {
			w.Cancel()
			delete(watchers, name)
		}
		h.reopen()
		return fmt.Sprintf("rev=%d compact=%d ci=%d\n", h.s.Rev(), h.s.CompactRev(), h.s.ConsistentIndex()), nil
	case "hashkv":
		hash, c, err := h.s.HashKV(argInt(t, td, "rev"))
		return fmt.Sprintf("hash=%08x compact=%d\n", hash, c), err
	case "watch":
		name, _ := arg(td, "name")
		key, end := keyEnd(td)
		w, err := h.s.Watch(WatchRequest{Key: key, End: end, StartRev: argInt(t, td, "start"),
			PrevKV: td.HasArg("prev_kv"), NoPut: td.HasArg("noput"), NoDelete: td.HasArg("nodelete")})
		if err != nil {
			return "", err
		}
		watchers[name] = w
		return "ok\n", nil
	case "events":
		name, _ := arg(td, "name")
		w := watchers[name]
		if w == nil {
			td.Fatalf(t, "no watcher %q", name)
		}
		var b strings.Builder
		n := int(argInt(t, td, "n"))
		for got := 0; got < n; {
			batch, ok := next(t, w)
			if !ok {
				return b.String(), fmt.Errorf("watcher ended: %v", w.Err())
			}
			if batch.CompactRevision != 0 {
				fmt.Fprintf(&b, "compacted at %d\n", batch.CompactRevision)
				return b.String(), nil
			}
			for _, ev := range batch.Events {
				b.WriteString(evString(ev) + "\n")
				got++
			}
		}
		return b.String(), nil
	}
	td.Fatalf(t, "unknown command %q", td.Cmd)
	return "", nil
}

// parseTxn reads "if TARGET(key) OP value" and "then|else put|get|del ..." lines.
func parseTxn(input string) (*pb.TxnRequest, error) {
	txn := &pb.TxnRequest{}
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "if":
			if len(f) != 4 {
				return nil, fmt.Errorf("want: if TARGET(key) OP value, got %q", line)
			}
			target, key, _ := strings.Cut(strings.TrimSuffix(f[1], ")"), "(")
			c := &pb.Compare{Key: []byte(key)}
			c.Result = map[string]pb.Compare_CompareResult{"=": pb.Compare_EQUAL, "!=": pb.Compare_NOT_EQUAL, ">": pb.Compare_GREATER, "<": pb.Compare_LESS}[f[2]]
			n, _ := strconv.ParseInt(f[3], 10, 64)
			switch target {
			case "value":
				c.Target, c.TargetUnion = pb.Compare_VALUE, &pb.Compare_Value{Value: []byte(f[3])}
			case "version":
				c.Target, c.TargetUnion = pb.Compare_VERSION, &pb.Compare_Version{Version: n}
			case "create":
				c.Target, c.TargetUnion = pb.Compare_CREATE, &pb.Compare_CreateRevision{CreateRevision: n}
			case "mod":
				c.Target, c.TargetUnion = pb.Compare_MOD, &pb.Compare_ModRevision{ModRevision: n}
			case "lease":
				c.Target, c.TargetUnion = pb.Compare_LEASE, &pb.Compare_Lease{Lease: n}
			default:
				return nil, fmt.Errorf("unknown compare target %q", target)
			}
			txn.Compare = append(txn.Compare, c)
		case "then", "else":
			if len(f) < 3 {
				return nil, fmt.Errorf("want: then|else put|get|del key ..., got %q", line)
			}
			var op *pb.RequestOp
			end := []byte(nil)
			if len(f) > 3 {
				end = unescape(f[3])
			}
			switch f[1] {
			case "put":
				if len(f) != 4 {
					return nil, fmt.Errorf("want: put key value, got %q", line)
				}
				op = &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(f[2]), Value: []byte(f[3]), PrevKv: true}}}
			case "get":
				op = &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte(f[2]), RangeEnd: end}}}
			case "del":
				op = &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte(f[2]), RangeEnd: end, PrevKv: true}}}
			default:
				return nil, fmt.Errorf("unknown op %q", f[1])
			}
			if f[0] == "then" {
				txn.Success = append(txn.Success, op)
			} else {
				txn.Failure = append(txn.Failure, op)
			}
		default:
			return nil, fmt.Errorf("unknown txn line %q", line)
		}
	}
	return txn, nil
}

// show renders a response (or error) on stable, readable lines.
func show(m proto.Message, err error) (string, error) {
	if err != nil {
		return "", err
	}
	var b strings.Builder
	render(&b, "", m)
	return b.String(), nil
}

func render(b *strings.Builder, indent string, m proto.Message) {
	kvs := func(kvs []*mvccpb.KeyValue) {
		for _, kv := range kvs {
			fmt.Fprintf(b, "%s  %s\n", indent, kvString(kv))
		}
	}
	switch r := m.(type) {
	case *pb.PutResponse:
		fmt.Fprintf(b, "%sput rev=%d", indent, r.Header.Revision)
		if r.PrevKv != nil {
			fmt.Fprintf(b, " prev=%s", kvString(r.PrevKv))
		}
		b.WriteString("\n")
	case *pb.RangeResponse:
		fmt.Fprintf(b, "%srange rev=%d count=%d more=%v\n", indent, r.Header.Revision, r.Count, r.More)
		kvs(r.Kvs)
	case *pb.DeleteRangeResponse:
		fmt.Fprintf(b, "%sdelete rev=%d deleted=%d\n", indent, r.Header.Revision, r.Deleted)
		kvs(r.PrevKvs)
	case *pb.TxnResponse:
		fmt.Fprintf(b, "%stxn rev=%d succeeded=%v\n", indent, r.Header.Revision, r.Succeeded)
		for _, op := range r.Responses {
			switch v := op.Response.(type) {
			case *pb.ResponseOp_ResponsePut:
				render(b, indent+"  ", v.ResponsePut)
			case *pb.ResponseOp_ResponseRange:
				render(b, indent+"  ", v.ResponseRange)
			case *pb.ResponseOp_ResponseDeleteRange:
				render(b, indent+"  ", v.ResponseDeleteRange)
			case *pb.ResponseOp_ResponseTxn:
				render(b, indent+"  ", v.ResponseTxn)
			}
		}
	case *pb.CompactionResponse:
		fmt.Fprintf(b, "%scompact rev=%d\n", indent, r.Header.Revision)
	case *pb.LeaseGrantResponse:
		fmt.Fprintf(b, "%sgrant id=%d ttl=%d rev=%d\n", indent, r.ID, r.TTL, r.Header.Revision)
	case *pb.LeaseRevokeResponse:
		fmt.Fprintf(b, "%srevoke rev=%d\n", indent, r.Header.Revision)
	default:
		fmt.Fprintf(b, "%s%T\n", indent, m)
	}
}
