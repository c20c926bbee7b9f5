package netdelay

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Iptables is the program that installs the steering rule. The kernel's
// nf_tables has no queue expression here (CONFIG_NFT_QUEUE unset), but
// the xtables NFQUEUE target is built in; the legacy xtables keep our one
// rule apart from every nft table in the namespace.
var Iptables = "iptables-legacy"

// steerArgs is the steering rule: in the filter table's OUTPUT chain
// (after the nft chains of priority below 0, where the mark is set), the
// packets that carry the mark go to the queue, and pass when nothing
// listens (--queue-bypass).
func steerArgs(c Config) []string {
	return []string{"-t", "filter", "OUTPUT", "-m", "mark", "--mark", "0x" + strconv.FormatUint(uint64(c.Mark), 16),
		"-j", "NFQUEUE", "--queue-num", strconv.Itoa(int(c.Queue)), "--queue-bypass"}
}

// iptables runs Iptables with op (-C, -I, -D) and the steering rule inside
// the namespace nsPath.
func iptables(nsPath, op string, c Config) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rule := steerArgs(c)
	// op goes before the chain: "-t filter -I OUTPUT ...".
	args := append([]string{"--net=" + nsPath, "--", Iptables, "-w", "5", rule[0], rule[1], op}, rule[2:]...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("netdelay: nsenter %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// steer installs the steering rule unless it is there already.
func steer(nsPath string, c Config) error {
	if _, err := iptables(nsPath, "-C", c); err == nil {
		return nil
	}
	_, err := iptables(nsPath, "-I", c)
	return err
}

// unsteer removes the steering rule.
func unsteer(nsPath string, c Config) error {
	_, err := iptables(nsPath, "-D", c)
	return err
}
