package cluster

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Steer says which packets a member sends get the mark a user-space
// delayer queues (package netdelay): those to its peers, those to anyone
// else (the lab's clients), or both. The zero value marks none.
type Steer struct {
	Mark    uint32 `json:"mark,omitempty"`
	Peers   bool   `json:"peers,omitempty"`
	Clients bool   `json:"clients,omitempty"`
}

// on says whether the steer marks anything.
func (s Steer) on(peers []string) bool {
	return s.Mark != 0 && (s.Clients || (s.Peers && len(peers) > 0))
}

// Table is one member's firewall table, `inet coordlab`: the partition
// (drop every packet from Drop), the loss (drop LossPercent of the packets
// from Peers), and the steer (mark outgoing packets for a delayer).
type Table struct {
	Drop        []string
	LossPercent int
	Peers       []string
	Steer       Steer
}

// Script renders the table as one nft transaction, loaded inside the
// member's network namespace. An empty table deletes it. "add table" first
// makes "delete table" valid when it did not exist, so the script replaces
// whatever was there. Only our own table is ever touched: the host's
// ruleset (dockerd's among it) is never flushed.
func (t Table) Script() string {
	var b strings.Builder
	b.WriteString("add table inet coordlab\ndelete table inet coordlab\n")
	in := len(t.Drop) > 0 || (t.LossPercent > 0 && len(t.Peers) > 0)
	out := t.Steer.on(t.Peers)
	if !in && !out {
		return b.String()
	}
	b.WriteString("table inet coordlab {\n")
	if in {
		b.WriteString("\tchain in {\n\t\ttype filter hook input priority -10; policy accept;\n")
		if len(t.Drop) > 0 {
			fmt.Fprintf(&b, "\t\tip saddr { %s } drop\n", strings.Join(t.Drop, ", "))
		}
		if t.LossPercent > 0 && len(t.Peers) > 0 {
			fmt.Fprintf(&b, "\t\tip saddr { %s } numgen random mod 100 < %d drop\n", strings.Join(t.Peers, ", "), t.LossPercent)
		}
		b.WriteString("\t}\n")
	}
	if out {
		// Priority -10: before the filter table's OUTPUT chain, where the
		// steering rule queues what carries the mark. Loopback traffic
		// (a member talking to itself) is never delayed.
		b.WriteString("\tchain out {\n\t\ttype filter hook output priority -10; policy accept;\n")
		var match string
		switch {
		case t.Steer.Peers && t.Steer.Clients:
		case t.Steer.Peers:
			match = fmt.Sprintf("ip daddr { %s } ", strings.Join(t.Peers, ", "))
		case len(t.Peers) > 0: // clients: anyone but the peers
			match = fmt.Sprintf("ip daddr != { %s } ", strings.Join(t.Peers, ", "))
		}
		fmt.Fprintf(&b, "\t\toifname != \"lo\" %smeta mark set %#x\n", match, t.Steer.Mark)
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// NFTScript renders a table with a partition and loss only (Table.Script).
func NFTScript(srcs []string, lossPercent int, peers []string) string {
	return Table{Drop: srcs, LossPercent: lossPercent, Peers: peers}.Script()
}

// DropSources resolves a grudge into what each member's firewall drops: for
// every member in hosts (name -> address), the sorted, unique addresses of
// the members it holds a grudge against. A name the cluster does not have is
// an error, so a typo cannot become a partition that cuts nothing.
func DropSources(g Grudge, hosts map[string]string) (map[string][]string, error) {
	for dst, srcs := range g {
		for _, n := range append([]string{dst}, srcs...) {
			if _, ok := hosts[n]; !ok {
				return nil, fmt.Errorf("%w %q in partition %s", ErrUnknownMember, n, g)
			}
		}
	}
	out := make(map[string][]string, len(hosts))
	for name := range hosts {
		var ips []string
		for _, s := range g[name] {
			ips = append(ips, hosts[s])
		}
		sort.Strings(ips)
		out[name] = slices.Compact(ips)
	}
	return out, nil
}
