package jute

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// seedGolden adds every captured frame of the given direction (c2s or
// s2c) to the fuzz corpus, via add.
func seedGolden(f *testing.F, dir string, add func(name string, frame []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", "frames", "*-"+dir+"-*.hex"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden frames for %s: %v", dir, err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		add(name, loadFrame(f, name))
	}
}

// FuzzDecodeRequest: any frame either fails with an error or decodes;
// what decodes re-encodes to bytes that decode to the same value and
// re-encode to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	seedGolden(f, "c2s", func(name string, frame []byte) {
		if !strings.Contains(name, "connect") {
			f.Add(frame)
		}
	})
	f.Fuzz(func(t *testing.T, frame []byte) {
		body, err := ReadFrame(bytes.NewReader(frame), nil, 1<<16)
		if err != nil {
			return
		}
		h, rec, err := DecodeRequest(body)
		if err != nil {
			return
		}
		enc := AppendRequest(nil, h, rec)
		h2, rec2, err := DecodeRequest(enc[4:])
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v\nfirst %+v %#v\nbytes %x", err, h, rec, enc)
		}
		if h != h2 || !reflect.DeepEqual(rec, rec2) {
			t.Fatalf("round trip changed the request\nfirst  %+v %#v\nsecond %+v %#v", h, rec, h2, rec2)
		}
		if enc2 := AppendRequest(nil, h2, rec2); !bytes.Equal(enc, enc2) {
			t.Fatalf("second encoding differs\n%x\n%x", enc, enc2)
		}
	})
}

// FuzzDecodeReply does the same for replies; op is the request's opcode.
func FuzzDecodeReply(f *testing.F) {
	ops := map[string]Op{}
	for _, g := range golden {
		ops[g.file] = g.op
	}
	seedGolden(f, "s2c", func(name string, frame []byte) {
		if !strings.Contains(name, "connect") {
			f.Add(frame, int32(ops[name]))
		}
	})
	f.Fuzz(func(t *testing.T, frame []byte, op int32) {
		body, err := ReadFrame(bytes.NewReader(frame), nil, 1<<16)
		if err != nil {
			return
		}
		h, rec, err := DecodeReply(body, Op(op))
		if err != nil {
			return
		}
		enc := AppendReply(nil, h, rec)
		h2, rec2, err := DecodeReply(enc[4:], Op(op))
		if err != nil {
			t.Fatalf("re-encoded reply does not decode: %v\nfirst %+v %#v", err, h, rec)
		}
		if h != h2 || !reflect.DeepEqual(rec, rec2) {
			t.Fatalf("round trip changed the reply\nfirst  %+v %#v\nsecond %+v %#v", h, rec, h2, rec2)
		}
		if enc2 := AppendReply(nil, h2, rec2); !bytes.Equal(enc, enc2) {
			t.Fatalf("second encoding differs\n%x\n%x", enc, enc2)
		}
	})
}

// FuzzDecodeConnect covers both connect records.
func FuzzDecodeConnect(f *testing.F) {
	for _, dir := range []string{"c2s", "s2c"} {
		seedGolden(f, dir, func(name string, frame []byte) {
			if strings.Contains(name, "connect") {
				f.Add(frame[4:])
			}
		})
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if req, err := DecodeConnectRequest(body); err == nil {
			enc := AppendFrame(nil, req)
			req2, err := DecodeConnectRequest(enc[4:])
			if err != nil || !reflect.DeepEqual(req, req2) {
				t.Fatalf("ConnectRequest round trip: %v\n%#v\n%#v", err, req, req2)
			}
		}
		if resp, err := DecodeConnectResponse(body); err == nil {
			enc := AppendFrame(nil, resp)
			resp2, err := DecodeConnectResponse(enc[4:])
			if err != nil || !reflect.DeepEqual(resp, resp2) {
				t.Fatalf("ConnectResponse round trip: %v\n%#v\n%#v", err, resp, resp2)
			}
		}
	})
}
