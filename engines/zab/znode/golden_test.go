package znode

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coordlab/engines/zab/jute"
)

// goldenReply decodes a reply captured from ZooKeeper 3.8.0 (the frames
// jute tests against).
func goldenReply(t *testing.T, name string, op jute.Op) (jute.ReplyHeader, jute.Record) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "jute", "testdata", "frames", name))
	if err != nil {
		t.Fatal(err)
	}
	frame, err := hex.DecodeString(strings.ReplaceAll(string(raw), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	body, err := jute.ReadFrame(bytes.NewReader(frame), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, rec, err := jute.DecodeReply(body, op)
	if err != nil {
		t.Fatal(err)
	}
	return h, rec
}

// TestGoldenSession replays the three captured client sessions (same
// zxids, same leader times) and checks that every Stat, path, error code
// and zxid the tree produces equals what ZooKeeper 3.8.0 sent.
func TestGoldenSession(t *testing.T) {
	h := newHarness(t)
	const (
		gozk   SessionID = 0x0100002c73070000
		zkcli  SessionID = 0x0100002c73070001
		zkjava SessionID = 0x0100002c73070002
	)
	check := func(name string, op jute.Op, gotZxid Zxid, gotErr jute.Code, got jute.Record) {
		t.Helper()
		hdr, want := goldenReply(t, name, op)
		if Zxid(hdr.Zxid) != gotZxid || hdr.Err != gotErr {
			t.Errorf("%s: zxid %v err %v, ZooKeeper sent zxid %#x err %v", name, gotZxid, gotErr, hdr.Zxid, hdr.Err)
		}
		var gw, ww jute.Writer
		if got != nil {
			got.Encode(&gw)
		}
		if want != nil {
			want.Encode(&ww)
		}
		if !bytes.Equal(gw.Buf, ww.Buf) {
			t.Errorf("%s: body\n got %#v\nwant %#v", name, got, want)
		}
	}
	createReq := func(path, data string, flags int32) *jute.CreateRequest {
		return &jute.CreateRequest{Path: path, Data: []byte(data), ACL: jute.OpenACLUnsafe(), Flags: flags}
	}

	// gozk: zxids 0x1-0x9.
	h.session(gozk)
	h.now = 1795843059214
	res, _ := h.write(gozk, jute.OpCreate, createReq("/cap", "v0", 0))
	check("gozk-04-s2c-create-response.hex", jute.OpCreate, h.zxid, res.Err, &jute.CreateResponse{Path: res.Path})
	res, _ = h.write(gozk, jute.OpCreate, createReq("/cap/e-", "", jute.FlagEphemeralSequential))
	check("gozk-06-s2c-create-ephemeral-sequential-response.hex", jute.OpCreate, h.zxid, res.Err, &jute.CreateResponse{Path: res.Path})
	data, st, err := h.tree.GetData("/cap", nil, 1)
	check("gozk-08-s2c-getdata-response.hex", jute.OpGetData, h.tree.LastZxid(), jute.CodeOf(err), &jute.GetDataResponse{Data: data, Stat: st})
	h.now = 1795843059268
	res, ev := h.write(gozk, jute.OpSetData, &jute.SetDataRequest{Path: "/cap", Data: []byte("v1"), Version: 0})
	check("gozk-11-s2c-setdata-response.hex", jute.OpSetData, h.zxid, res.Err, &jute.StatResponse{Stat: res.Stat})
	if len(ev) != 1 || ev[0].Type != jute.EventNodeDataChanged || ev[0].Path != "/cap" || ev[0].Conn != 1 {
		t.Errorf("setData events %v, want NodeDataChanged /cap for conn 1 (gozk-10)", ev)
	}
	res, _ = h.write(gozk, jute.OpSetData, &jute.SetDataRequest{Path: "/cap", Data: []byte("v2"), Version: 0})
	check("gozk-13-s2c-setdata-badversion-response.hex", jute.OpSetData, h.zxid, res.Err, nil)
	_, err = h.tree.Exists("/cap/missing", nil, 0)
	check("gozk-15-s2c-exists-nonode-response.hex", jute.OpExists, h.tree.LastZxid(), jute.CodeOf(err), nil)
	kids, st, err := h.tree.Children("/cap", nil, 0)
	check("gozk-17-s2c-getchildren2-response.hex", jute.OpGetChildren2, h.tree.LastZxid(), jute.CodeOf(err), &jute.GetChildren2Response{Children: kids, Stat: st})
	res, _ = h.write(gozk, jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{
		{Type: jute.OpCreate, Body: createReq("/cap/m", "m", 0)},
		{Type: jute.OpCheck, Body: &jute.CheckVersionRequest{Path: "/cap", Version: 99}},
	}})
	mr := &jute.MultiResponse{}
	for _, r := range res.Multi {
		mr.Results = append(mr.Results, jute.MultiResult{Type: jute.OpError, Err: r.Err})
	}
	check("gozk-19-s2c-multi-failed-response.hex", jute.OpMulti, h.zxid, res.Err, mr)
	res, _ = h.write(gozk, jute.OpDelete, &jute.DeleteRequest{Path: "/cap/e-0000000000", Version: -1})
	check("gozk-25-s2c-delete-ephemeral-response.hex", jute.OpDelete, h.zxid, res.Err, nil)
	res, _ = h.write(gozk, jute.OpDelete, &jute.DeleteRequest{Path: "/cap", Version: -1})
	check("gozk-27-s2c-delete-response.hex", jute.OpDelete, h.zxid, res.Err, nil)
	res, _ = h.write(gozk, jute.OpCloseSession, nil)
	check("gozk-29-s2c-closesession-response.hex", jute.OpCloseSession, h.zxid, res.Err, nil)

	// zkcli: zxids 0xa-0xd.
	h.session(zkcli)
	h.now = 1795843076606
	res, _ = h.write(zkcli, jute.OpCreate, createReq("/zc", "x", 0))
	check("zkcli-04-s2c-create-response.hex", jute.OpCreate, h.zxid, res.Err, &jute.CreateResponse{Path: res.Path})
	data, st, err = h.tree.GetData("/zc", nil, 0)
	check("zkcli-06-s2c-getdata-response.hex", jute.OpGetData, h.tree.LastZxid(), jute.CodeOf(err), &jute.GetDataResponse{Data: data, Stat: st})
	kids, st, err = h.tree.Children("/", nil, 0)
	check("zkcli-08-s2c-getchildren2-response.hex", jute.OpGetChildren2, h.tree.LastZxid(), jute.CodeOf(err), &jute.GetChildren2Response{Children: kids, Stat: st})
	res, _ = h.write(zkcli, jute.OpDelete, &jute.DeleteRequest{Path: "/zc", Version: -1})
	check("zkcli-10-s2c-delete-response.hex", jute.OpDelete, h.zxid, res.Err, nil)
	res, _ = h.write(zkcli, jute.OpCloseSession, nil)
	check("zkcli-12-s2c-closesession-response.hex", jute.OpCloseSession, h.zxid, res.Err, nil)

	// zkjava: zxids 0xe-0x11, with create2.
	h.session(zkjava)
	h.now = 1795843079074
	res, _ = h.write(zkjava, jute.OpCreate2, createReq("/zj", "j", 0))
	check("zkjava-04-s2c-create2-response.hex", jute.OpCreate2, h.zxid, res.Err, &jute.Create2Response{Path: res.Path, Stat: res.Stat})
	res, _ = h.write(zkjava, jute.OpDelete, &jute.DeleteRequest{Path: "/zj", Version: -1})
	check("zkjava-06-s2c-delete-response.hex", jute.OpDelete, h.zxid, res.Err, nil)
	res, _ = h.write(zkjava, jute.OpCloseSession, nil)
	check("zkjava-08-s2c-closesession-response.hex", jute.OpCloseSession, h.zxid, res.Err, nil)
}
