package cluster

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// scriptRuntime is a Runtime that records the firewall scripts installed.
type scriptRuntime struct {
	Runtime // unused methods panic
	members []Member
	calls   []string
	fail    error
}

func (r *scriptRuntime) Members() []Member { return r.members }
func (r *scriptRuntime) Firewall(_ context.Context, name, script string) error {
	var rules []string
	for _, l := range strings.Split(script, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "ip saddr") || strings.Contains(l, "meta mark set") {
			rules = append(rules, l)
		}
	}
	r.calls = append(r.calls, name+" ["+strings.Join(rules, "; ")+"]")
	return r.fail
}

func TestFirewall(t *testing.T) {
	ctx := context.Background()
	rt := &scriptRuntime{members: []Member{{Name: "n1", Host: "10.0.0.1"}, {Name: "n2", Host: "10.0.0.2"}, {Name: "n3", Host: "10.0.0.3"}}}
	fw := NewFirewall(rt)
	// Nothing in force: healing asks nothing of the runtime (a loopback
	// runtime, which has no firewall, must not fail a final heal).
	if err := fw.Heal(ctx); err != nil || len(rt.calls) != 0 {
		t.Fatalf("Heal of a clean cluster = %v with calls %q, want nil and none", err, rt.calls)
	}
	steps := []struct {
		do   func() error
		want []string
	}{
		{func() error { return fw.Partition(ctx, Grudge{"n1": {"n2"}, "n2": {"n1"}}) },
			[]string{"n1 [ip saddr { 10.0.0.2 } drop]", "n2 [ip saddr { 10.0.0.1 } drop]"}},
		// Loss on n3 keeps the partition and touches only n3.
		{func() error { return fw.Loss(ctx, 10, []string{"n3"}) },
			[]string{"n3 [ip saddr { 10.0.0.1, 10.0.0.2 } numgen random mod 100 < 10 drop]"}},
		// A new partition replaces the old one.
		{func() error { return fw.Partition(ctx, Grudge{"n3": {"n1"}, "n1": {"n3"}}) },
			[]string{"n1 [ip saddr { 10.0.0.3 } drop]", "n2 []",
				"n3 [ip saddr { 10.0.0.1 } drop; ip saddr { 10.0.0.1, 10.0.0.2 } numgen random mod 100 < 10 drop]"}},
		{func() error { return fw.Heal(ctx) },
			[]string{"n1 []", "n3 [ip saddr { 10.0.0.1, 10.0.0.2 } numgen random mod 100 < 10 drop]"}},
		{func() error { return fw.Loss(ctx, 0, []string{"n3"}) }, []string{"n3 []"}},
		// A steer joins the partition in the same table, and leaves it.
		{func() error { return fw.Partition(ctx, Grudge{"n1": {"n2"}, "n2": {"n1"}}) },
			[]string{"n1 [ip saddr { 10.0.0.2 } drop]", "n2 [ip saddr { 10.0.0.1 } drop]"}},
		{func() error { return fw.Steer(ctx, Steer{Mark: 9, Peers: true}, []string{"n1", "n3"}) },
			[]string{"n1 [ip saddr { 10.0.0.2 } drop; oifname != \"lo\" ip daddr { 10.0.0.2, 10.0.0.3 } meta mark set 0x9]",
				"n3 [oifname != \"lo\" ip daddr { 10.0.0.1, 10.0.0.2 } meta mark set 0x9]"}},
		{func() error { return fw.Steer(ctx, Steer{}, []string{"n1", "n3"}) },
			[]string{"n1 [ip saddr { 10.0.0.2 } drop]", "n3 []"}},
		{func() error { return fw.Heal(ctx) }, []string{"n1 []", "n2 []"}},
	}
	for i, s := range steps {
		rt.calls = nil
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if !reflect.DeepEqual(rt.calls, s.want) {
			t.Errorf("step %d installed\n%q\nwant\n%q", i, rt.calls, s.want)
		}
	}
	if err := fw.Partition(ctx, Grudge{"n9": {"n1"}}); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("partition naming n9 = %v, want ErrUnknownMember", err)
	}
	if err := fw.Steer(ctx, Steer{Mark: 1, Peers: true}, []string{"n9"}); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("steer on n9 = %v, want ErrUnknownMember", err)
	}
	if err := fw.Loss(ctx, 10, []string{"n9"}); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("loss on n9 = %v, want ErrUnknownMember", err)
	}
	if err := fw.Loss(ctx, 101, []string{"n1"}); err == nil || !strings.Contains(err.Error(), "0..100") {
		t.Errorf("loss of 101%% = %v, want an error naming the range", err)
	}
	// A failed install is retried by the next change, not taken as done.
	rt.fail = errors.New("nft: no such namespace")
	if err := fw.Loss(ctx, 5, []string{"n2"}); err == nil {
		t.Fatal("Loss with a failing runtime returned nil")
	}
	rt.fail, rt.calls = nil, nil
	if err := fw.Loss(ctx, 5, []string{"n2"}); err != nil || len(rt.calls) != 1 {
		t.Errorf("retry after a failed install: %v, calls %q; want n2 installed again", err, rt.calls)
	}
}
