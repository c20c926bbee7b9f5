// Package netdelay delays packets in user space on a kernel without netem.
// In a network namespace, nft rules (the lab's table) mark the packets to
// delay; a steering rule sends marked packets to an NFQUEUE queue
// (`-m mark --mark M -j NFQUEUE --queue-num N --queue-bypass`, through the
// xtables NFQUEUE target, since this kernel's nf_tables has no queue
// expression); and a Delayer, whose netlink socket was opened inside that
// namespace, holds each packet for its delay and then lets it go on (an
// ACCEPT verdict). nfnetlink_queue is all it needs from the kernel.
//
// The socket is made on a goroutine locked to its OS thread that enters the
// namespace (setns), creates and binds the socket, and returns to the
// thread's own namespace (InNamespace); a socket stays in the namespace it
// was made in, so the Delayer serves that namespace's queue from then on.
// If the thread cannot return, it is not unlocked and dies with its
// goroutine.
//
// Each packet is due at its arrival plus Delay, plus or minus a uniform
// share of Jitter, but never before the packet queued ahead of it: a queue
// is one FIFO, so jitter varies the delay without reordering packets (TCP
// would take reordering for loss). The kernel sends only the packet's
// metadata (copy mode META), never its payload. Verdicts are batched: once
// packets are due, one VERDICT_BATCH accepts every packet up to the last
// due one.
//
// Bounds: at most MaxHeld packets wait in a queue (the kernel's
// queue-maxlen); beyond that, and whenever the socket's buffer overflows,
// the kernel lets packets through undelayed (fail-open) instead of dropping
// them. With --queue-bypass, packets also pass when no Delayer listens
// (after Close, or if the process died), so traffic is never held forever.
// Close removes the steering rule, accepts every packet still held, and
// closes the socket.
//
// Caveats:
//   - Any change to the namespace's netfilter hooks (deleting or replacing
//     an nft table with a base chain, as the lab's firewall does on every
//     change) makes the kernel drop every packet held in every queue: close
//     the Delayer before removing the mark, not after.
//   - One queue number serves one Delayer per namespace: a second Open of
//     the same number in the same namespace fails.
//   - Timers have the Go runtime's resolution: a packet may wait a little
//     longer than its due time, never less.
package netdelay
