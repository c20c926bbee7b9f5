package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReadModeRoundTrip(t *testing.T) {
	for _, m := range []ReadMode{Linearizable, Serializable, Sync, Local} {
		got, err := ParseReadMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseReadMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	if _, err := ParseReadMode("quorum"); err == nil || !strings.Contains(err.Error(), "want linearizable, serializable, sync or local") {
		t.Errorf("ParseReadMode(quorum) error %v, want one listing the choices", err)
	}
	if ReadMode(0).String() != "ReadMode(0)" {
		t.Errorf("zero ReadMode prints %q", ReadMode(0).String())
	}
	tests := []struct {
		m          ReadMode
		etcd, zook bool
	}{{Linearizable, true, false}, {Serializable, true, false}, {Sync, false, true}, {Local, false, true}, {0, false, false}}
	for _, tc := range tests {
		if tc.m.Etcd() != tc.etcd || tc.m.ZooKeeper() != tc.zook {
			t.Errorf("%v: Etcd %v ZooKeeper %v, want %v %v", tc.m, tc.m.Etcd(), tc.m.ZooKeeper(), tc.etcd, tc.zook)
		}
	}
}

func TestIsDefinite(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"definite", Definite("put", "k", "n1", ErrUnavailable), true},
		{"indefinite", Indefinite("put", "k", "n1", ErrTimeout), false},
		{"wrapped definite", fmt.Errorf("workload: %w", Definite("get", "k", "", ErrNoLeader)), true},
		{"bare error", errors.New("boom"), false},
		{"bare deadline", context.DeadlineExceeded, false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsDefinite(tc.err); got != tc.want {
				t.Errorf("IsDefinite(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestOpErrorMessageAndUnwrap(t *testing.T) {
	err := Indefinite("cas", "r/1", "n2", fmt.Errorf("etcd: %w", ErrTimeout))
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("errors.Is(%v, ErrTimeout) = false", err)
	}
	if want := "cas r/1 on n2: indeterminate: etcd: client: timeout"; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
}

func TestEventTypeString(t *testing.T) {
	want := map[EventType]string{EventPut: "put", EventDelete: "delete", EventProgress: "progress", EventCompacted: "compacted", EventError: "error", 0: "EventType(0)"}
	for et, s := range want {
		if et.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(et), et.String(), s)
		}
	}
}
