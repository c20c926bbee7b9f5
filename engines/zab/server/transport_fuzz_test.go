package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"coordlab/engines/zab"
)

// fuzzMaxFrame is the fixture's frame limit: above 1 MiB, so both ways of
// reading a frame are reachable.
const fuzzMaxFrame = 4 << 20

// handshake is what a dialer sends first on the quorum port.
func handshake(from, to uint64) []byte {
	b := []byte(peerMagic)
	b = binary.BigEndian.AppendUint64(b, from)
	return binary.BigEndian.AppendUint64(b, to)
}

func zframe(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// expectConn is what the transport must make of a byte stream on its quorum
// port (member 3 of {1, 2, 3}): accepted iff the handshake names a member
// with a smaller id as sender and 3 as receiver; then every complete frame
// up to the first oversized or truncated one, in order.
func expectConn(stream []byte) (from uint64, accepted bool, frames [][]byte) {
	if len(stream) < 20 || string(stream[:4]) != peerMagic {
		return 0, false, nil
	}
	from = binary.BigEndian.Uint64(stream[4:12])
	to := binary.BigEndian.Uint64(stream[12:20])
	if (from != 1 && from != 2) || to != 3 {
		return from, false, nil
	}
	rest := stream[20:]
	for len(rest) >= 4 {
		n := binary.BigEndian.Uint32(rest)
		if n > fuzzMaxFrame || uint64(len(rest)-4) < uint64(n) {
			break
		}
		frames = append(frames, rest[4:4+n])
		rest = rest[4+n:]
	}
	return from, true, frames
}

// FuzzQuorumConn writes arbitrary bytes to the quorum port of a running
// transport: no panic; a connection whose handshake does not name a member
// that may dial this one delivers nothing; an accepted one delivers Up, its
// frames from that member exactly as sent, then Down.
func FuzzQuorumConn(f *testing.F) {
	ms := testMembers(f, 3)
	ms[2].QuorumPort = 0
	tr, err := NewTransport(TransportConfig{ID: 3, Members: ms, QueueLen: 16, InboxLen: 1024, MaxFrameBytes: fuzzMaxFrame})
	if err != nil {
		f.Fatal(err)
	}
	tr.Start()
	f.Cleanup(tr.Stop)
	addr := tr.Addr().String()

	ping := (&zab.Message{Type: zab.MsgPing, Epoch: 1}).Marshal()
	f.Add(append(handshake(1, 3), zframe(ping)...))
	f.Add(append(append(handshake(2, 3), zframe(ping)...), zframe([]byte{0xde, 0xad})...))
	f.Add(handshake(4, 3))                                                // not a member
	f.Add(handshake(1, 2))                                                // for someone else
	f.Add(append(handshake(1, 3), 0x7f, 0xff, 0xff, 0xff, 1, 2, 3))       // oversized frame
	f.Add(append(handshake(2, 3), 0x00, 0x20, 0x00, 0x00, 'x', 'y', 'z')) // 2 MiB claimed, 3 bytes sent
	f.Add([]byte("ZABX0000000000000000"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		from, accepted, want := expectConn(stream)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write(stream) // the transport may close first: that is an answer too
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
			t.Fatalf("transport did not close the connection: %v", err)
		}
		if !accepted {
			select {
			case ev := <-tr.Inbox():
				t.Fatalf("refused connection delivered %+v", ev)
			default:
			}
			return
		}
		timeout := time.After(20 * time.Second)
		var got [][]byte
		up := false
		for {
			select {
			case ev := <-tr.Inbox():
				if ev.From != from {
					t.Fatalf("event from %d on the connection of %d", ev.From, from)
				}
				switch {
				case ev.Up:
					up = true
				case ev.Down:
					if !up {
						t.Fatal("Down before Up")
					}
					if len(got) != len(want) {
						t.Fatalf("delivered %d frames, sent %d complete ones", len(got), len(want))
					}
					for i := range want {
						if !bytes.Equal(got[i], want[i]) {
							t.Fatalf("frame %d: got %x, sent %x", i, got[i], want[i])
						}
					}
					return
				default:
					got = append(got, ev.Data)
				}
			case <-timeout:
				t.Fatal("no Down within 20s of the connection closing")
			}
		}
	})
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// A frame header alone must not make the transport allocate the frame's
// claimed size.
func TestReadFrameAllocatesWhatArrives(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readFrame(bytes.NewReader([]byte("short")), 200<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Fatalf("reading 5 bytes of a 200 MiB frame allocated %d MiB", d>>20)
	}
	b, err := readFrame(bytes.NewReader(bytes.Repeat([]byte{7}, 3<<20)), 3<<20)
	if err != nil || len(b) != 3<<20 || b[len(b)-1] != 7 {
		t.Fatalf("3 MiB frame: len %d err %v", len(b), err)
	}
}
