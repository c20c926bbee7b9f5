package cluster

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// NFTScript renders one member's firewall table, `inet coordlab`, loaded
// inside that member's network namespace: the partition (drop every packet
// from srcs) and the loss (drop lossPercent of the packets from peers). An
// empty rule set deletes the table. "add table" first makes "delete table"
// valid when it did not exist, so the whole script is one nft transaction
// that replaces whatever was there. Only our own table is ever touched: the
// host's ruleset (dockerd's among it) is never flushed.
func NFTScript(srcs []string, lossPercent int, peers []string) string {
	var b strings.Builder
	b.WriteString("add table inet coordlab\ndelete table inet coordlab\n")
	if len(srcs) == 0 && (lossPercent == 0 || len(peers) == 0) {
		return b.String()
	}
	b.WriteString("table inet coordlab {\n\tchain in {\n\t\ttype filter hook input priority -10; policy accept;\n")
	if len(srcs) > 0 {
		fmt.Fprintf(&b, "\t\tip saddr { %s } drop\n", strings.Join(srcs, ", "))
	}
	if lossPercent > 0 && len(peers) > 0 {
		fmt.Fprintf(&b, "\t\tip saddr { %s } numgen random mod 100 < %d drop\n", strings.Join(peers, ", "), lossPercent)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
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
