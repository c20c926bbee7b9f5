// Package local runs cluster members as processes on this machine.
//
// As root (the normal case, and in CI) each member runs in a network
// namespace of its own, clab<run>n<i>, with its own address 10.77.<x>.<i>;
// the members' veths meet on a bridge that lives in a "switch" namespace,
// clab<run>sw, so that the host's firewall (dockerd sets FORWARD to DROP)
// cannot interfere, and one more veth, clab<run>h with 10.77.<x>.254, lets the
// lab's clients on the host reach every member. Partitions and loss are nft
// rules in our own table `inet coordlab` inside each member's namespace: a
// grudge dst->srcs drops, on dst's input hook, what srcs send, which cuts TCP
// in both directions (the SYN-ACKs and data of either side are lost). Because
// every member has exactly one address, this cuts any program, including the
// real etcd and ZooKeeper whose peer connections do not choose their source
// address. <x> is unique among the runs alive on this machine, chosen under a
// lock file in /run/coordlab; each run records its owner's pid there, and
// Sweep deletes the namespaces and links of runs whose owner is gone, by
// their exact names.
//
// Without root members are plain processes on loopback addresses
// 127.0.0.<10+i> with free ports; only kill, restart and pause are offered,
// and Firewall fails with ErrUnsupported and says why.
//
// Signal sends SIGKILL, SIGSTOP or SIGCONT to the member's process group,
// Restart starts the same command on the same data, Firewall loads the
// script into the member's namespace (which outlives its process, so a
// restart keeps it), Netns is that namespace's path
// (/var/run/netns/clab<run>n<i>), and AdminURL is the member's address and admin port
// (2390, or a free port on loopback) when the target serves one. Each member's stdout and stderr go to nodes/<name>/output.log
// and its data to nodes/<name>/data under the run directory. With
// Config.LazyFS (as root, with /dev/fuse) that data directory is a lazyfs
// mount over itself for the run's life, and LoseUnsynced rolls a killed
// member's directory back to what it fsynced; Stop unmounts, leaving the
// data in place, and Sweep unmounts what a crashed lab left.
//
// Caveats:
//   - Stop, and any failure inside Start, remove the namespaces, veths and
//     rules; a process killed with SIGKILL itself leaves them behind until
//     the next Sweep (`coordlab clean`, or any coordlab run).
//   - Pause uses signals, not the cgroup freezer: a member can observe
//     SIGCONT. The history records which one was used.
//   - Loss applies to member-to-member packets, never to the lab's clients.
package local
