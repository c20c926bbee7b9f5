package server

import (
	"slices"
	"testing"

	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/zxid"
)

func TestForwardRoundTrip(t *testing.T) {
	payload := jute.AppendRequest(nil, jute.RequestHeader{Xid: 7, Type: jute.OpSetData}, &jute.SetDataRequest{Path: "/a", Data: []byte("x"), Version: -1})[4:]
	auth := []jute.Id{{Scheme: "digest", ID: "u:abc="}}
	f, err := decodeForward(encodeForwardWrite(42, auth, payload))
	if err != nil || f.kind != fwdWrite || f.session != 42 || !slices.Equal(f.auth, auth) || f.hdr.Xid != 7 || f.hdr.Type != jute.OpSetData {
		t.Fatalf("write: %+v %v", f, err)
	}
	if body, ok := f.body.(*jute.SetDataRequest); !ok || body.Path != "/a" || string(body.Data) != "x" {
		t.Fatalf("write body: %+v", f.body)
	}
	f, err = decodeForward(encodeTouch([]int64{1, -5, 1 << 60}))
	if err != nil || !slices.Equal(f.touches, []int64{1, -5, 1 << 60}) {
		t.Fatalf("touch: %+v %v", f, err)
	}
	read := jute.AppendRequest(nil, jute.RequestHeader{Xid: 1, Type: jute.OpGetData}, &jute.PathWatchRequest{Path: "/a"})[4:]
	for name, b := range map[string][]byte{
		"empty":         nil,
		"unknown kind":  {9},
		"read op":       encodeForwardWrite(1, nil, read),
		"huge touch n":  {fwdTouch, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"trailing":      append(encodeTouch([]int64{1}), 0),
		"bad timeout":   {fwdCreateSession, 2, 0},
		"truncated str": {fwdWrite, 2, 1, 10, 'a'},
	} {
		if _, err := decodeForward(b); err == nil {
			t.Errorf("%s: decodeForward(%x) succeeded, want an error", name, b)
		}
	}
}

func FuzzDecodeForward(f *testing.F) {
	payload := jute.AppendRequest(nil, jute.RequestHeader{Xid: 7, Type: jute.OpCreate}, &jute.CreateRequest{Path: "/a", ACL: jute.OpenACLUnsafe()})[4:]
	f.Add(encodeForwardWrite(42, []jute.Id{{Scheme: "digest", ID: "u:x"}}, payload))
	f.Add(encodeTouch([]int64{1, 2, 3}))
	f.Add([]byte{fwdCreateSession, 2, 0x80, 0x7d})
	f.Fuzz(func(t *testing.T, b []byte) {
		fw, err := decodeForward(b)
		if err != nil {
			return
		}
		// Re-encode what can be re-encoded and decode again.
		switch fw.kind {
		case fwdTouch:
			again, err := decodeForward(encodeTouch(fw.touches))
			if err != nil || !slices.Equal(again.touches, fw.touches) {
				t.Fatalf("touch round trip: %+v %v", again, err)
			}
		case fwdWrite:
			p := jute.AppendRequest(nil, fw.hdr, fw.body)[4:]
			again, err := decodeForward(encodeForwardWrite(fw.session, fw.auth, p))
			if err != nil || again.session != fw.session || again.hdr != fw.hdr {
				t.Fatalf("write round trip: %+v %v", again, err)
			}
		}
	})
}

// FuzzOpenTxnLog: recovery over arbitrary segment bytes never panics; it
// either opens (possibly truncating a torn tail) or reports corruption.
func FuzzOpenTxnLog(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		l, err := OpenTxnLog(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		if err := writeFile(lastSegmentPath(dir), b); err != nil {
			t.Fatal(err)
		}
		l, err = OpenTxnLog(dir, nil)
		if err != nil {
			return
		}
		defer l.Close()
		n := 0
		if err := l.ReadFrom(0, func(LogRecord) error { n++; return nil }); err != nil {
			t.Fatalf("opened log fails to read: %v", err)
		}
		// The recovered log accepts appends after its last record.
		if l.LastZxid() == ^zxid.Zxid(0) {
			return
		}
		if err := l.Append(LogRecord{Zxid: l.LastZxid() + 1, Data: []byte("next")}); err != nil {
			t.Fatal(err)
		}
	})
}
