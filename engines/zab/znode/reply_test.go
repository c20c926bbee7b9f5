package znode

import (
	"bytes"
	"testing"

	"coordlab/engines/zab/jute"
)

func TestMultiResponse(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/cap", "v0", 0)
	ops := []jute.MultiOp{
		{Type: jute.OpCreate, Body: &jute.CreateRequest{Path: "/cap/a", ACL: jute.OpenACLUnsafe()}},
		{Type: jute.OpCreate2, Body: &jute.CreateRequest{Path: "/cap/b", ACL: jute.OpenACLUnsafe()}},
		{Type: jute.OpCreateContainer, Body: &jute.CreateRequest{Path: "/cap/c", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagContainer}},
		{Type: jute.OpCreateTTL, Body: &jute.CreateTTLRequest{Path: "/cap/d", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagPersistentWithTTL, TTL: 5}},
		{Type: jute.OpSetData, Body: &jute.SetDataRequest{Path: "/cap", Version: 0}},
		{Type: jute.OpCheck, Body: &jute.CheckVersionRequest{Path: "/cap", Version: 1}},
		{Type: jute.OpDelete, Body: &jute.DeleteRequest{Path: "/cap/a", Version: -1}},
	}
	res, _ := h.write(s1, jute.OpMulti, &jute.MultiRequest{Ops: ops})
	mr := MultiResponse(ops, res)
	var types []jute.Op
	for _, r := range mr.Results {
		types = append(types, r.Type)
	}
	// What ZooKeeper 3.8.0 answers (jute's TestAgainstZooKeeper).
	want := []jute.Op{jute.OpCreate, jute.OpCreate, jute.OpCreate2, jute.OpCreate2, jute.OpSetData, jute.OpCheck, jute.OpDelete}
	if len(types) != len(want) {
		t.Fatalf("result types %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("result types %v, want %v", types, want)
		}
	}
	if p := mr.Results[1].Body.(*jute.CreateResponse).Path; p != "/cap/b" {
		t.Errorf("create2 result path %q", p)
	}
	if st := mr.Results[4].Body.(*jute.StatResponse).Stat; st.Version != 1 || st.Mzxid != int64(h.zxid) {
		t.Errorf("setData result stat %+v", st)
	}

	// The captured failed multi (gozk-18/19): the body must be byte-equal.
	failedOps := []jute.MultiOp{
		{Type: jute.OpCreate, Body: &jute.CreateRequest{Path: "/cap/m", Data: []byte("m"), ACL: jute.OpenACLUnsafe()}},
		{Type: jute.OpCheck, Body: &jute.CheckVersionRequest{Path: "/cap", Version: 99}},
	}
	res, _ = h.write(s1, jute.OpMulti, &jute.MultiRequest{Ops: failedOps})
	var got, wantBody jute.Writer
	MultiResponse(failedOps, res).Encode(&got)
	_, golden := goldenReply(t, "gozk-19-s2c-multi-failed-response.hex", jute.OpMulti)
	golden.Encode(&wantBody)
	if !bytes.Equal(got.Buf, wantBody.Buf) {
		t.Errorf("failed multi body %x, ZooKeeper sent %x", got.Buf, wantBody.Buf)
	}

	// A multi refused as a whole has no body.
	res, _ = h.write(s1+99, jute.OpMulti, &jute.MultiRequest{Ops: failedOps})
	if res.Err != jute.ZSESSIONEXPIRED || MultiResponse(failedOps, res) != nil {
		t.Errorf("multi from an unknown session: %v, body %v; want ZSESSIONEXPIRED and nil", res.Err, MultiResponse(failedOps, res))
	}
}
