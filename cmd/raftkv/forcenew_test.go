package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// argValue returns the value following flag in args.
func argValue(args []string, flag string) string {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	return args[i+1]
}

func setArg(args []string, flag, value string) []string {
	out := slices.Clone(args)
	if i := slices.Index(out, flag); i >= 0 {
		out[i+1] = value
		return out
	}
	return append(out, flag, value)
}

// TestForceNewCluster is etcd's disaster recovery after losing a quorum for
// good: of three members two die with their data; the survivor restarted
// with --force-new-cluster becomes a one-member cluster holding every
// acknowledged write, takes writes, and members are then added back.
func TestForceNewCluster(t *testing.T) {
	ms := startMembers(t, 3)
	leaderIndex(t, ms)
	cli := newClient(t, ms[0].client, ms[1].client, ms[2].client)
	acked := map[string]bool{}
	for i := range 200 {
		k := fmt.Sprintf("acked/%04d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cli.Put(ctx, k, "v")
		cancel()
		if err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
		acked[k] = true
	}
	cli.Close()
	// Two members are lost with their data: no quorum, ever.
	for _, m := range ms[1:] {
		m.kill()
		if err := os.RemoveAll(argValue(m.args, "--data-dir")); err != nil {
			t.Fatal(err)
		}
	}
	survivor := ms[0]
	survivor.kill()
	survivor.args = append(survivor.args, "--force-new-cluster", "--log-level", "info")
	survivor.start(t)
	waitAllPresent(t, survivor.client, "acked/", acked)
	c0 := newClient(t, survivor.client)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c0.Put(ctx, "after/force", "1"); err != nil {
		t.Fatalf("write after --force-new-cluster: %v", err)
	}
	ml, err := c0.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != 1 || ml.Members[0].Name != "p0" {
		t.Fatalf("members after --force-new-cluster: %v, want p0 alone", ml.Members)
	}
	if !strings.Contains(survivor.log(), "forcing restart of member") {
		t.Errorf("log lacks etcd's \"forcing restart of member\" line")
	}
	// Restarting again without the flag keeps the one-member cluster.
	survivor.kill()
	survivor.args = slices.DeleteFunc(survivor.args, func(a string) bool { return a == "--force-new-cluster" })
	survivor.start(t)
	waitAllPresent(t, survivor.client, "acked/", acked)

	// Add the lost members back, one at a time, with empty data dirs.
	for _, m := range ms[1:] {
		peer := argValue(m.args, "--initial-advertise-peer-urls")
		c := newClient(t, survivor.client)
		var resp *clientv3.MemberAddResponse
		deadline := time.Now().Add(15 * time.Second)
		for {
			actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err = c.MemberAdd(actx, []string{peer})
			acancel()
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("member add %s: %v", peer, err)
		}
		var ic []string
		for _, x := range resp.Members {
			name := x.Name
			if name == "" {
				name = argValue(m.args, "--name")
			}
			for _, u := range x.PeerURLs {
				ic = append(ic, name+"="+u)
			}
		}
		m.args = setArg(m.args, "--initial-cluster", strings.Join(ic, ","))
		m.args = setArg(m.args, "--initial-cluster-state", "existing")
		m.start(t)
		waitAllPresent(t, m.client, "acked/", acked)
		waitAllPresent(t, m.client, "after/", map[string]bool{"after/force": true})
	}
	// A quorum again: with one member down, writes still go through.
	ms[2].kill()
	c := newClient(t, survivor.client, ms[1].client)
	pctx, pcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer pcancel()
	if _, err := c.Put(pctx, "after/readded", "1"); err != nil {
		t.Fatalf("write with 2 of 3 re-formed members: %v", err)
	}
}
