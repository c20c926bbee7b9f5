// Package docker runs a cluster of any target (our engines raftkv and
// zab, the real etcd and ZooKeeper) as containers with testcontainers-go,
// on a private bridge network per run with a static address per member,
// and injects faults into them: SIGKILL and restart of the same container,
// docker pause, and partitions and packet loss with nft in each
// container's own network namespace (our table `inet coordlab`, entered
// with nsenter from the host). When the target serves an admin endpoint
// (cluster.TargetOptions.Admin), it binds 0.0.0.0:2390 inside the
// container and the lab reaches it at the container's address.
//
// Images are FROM scratch (docker/*.Dockerfile, package images). Our
// engines' images hold one static binary, run as entrypoint with the
// target's arguments (`make images` builds them from `make build`). The
// reference images hold this machine's Debian etcd 3.4, or ZooKeeper 3.8
// with its JRE, at their host paths; Start builds them when their
// content-hash tag is missing. A reference member runs the local
// runtime's command line unchanged: the target's program (/usr/bin/etcd;
// /usr/bin/java with the same JVM flags and class path) as entrypoint,
// the same arguments and environment, so a comparison across runtimes
// compares runtimes only.
//
// Nothing is ever pulled, so Ryuk must be disabled
// (TESTCONTAINERS_RYUK_DISABLED=true: New refuses otherwise) and cleanup
// is ours: Stop removes the run's containers and network, and Sweep
// removes those of runs whose owner process died (found by the
// coordlab.run and coordlab.owner labels).
//
// Each member's directory is bind-mounted at the same path inside its
// container, so the configuration a cluster.Target writes there (zoo.cfg,
// data dir) is valid inside the container and the data and log stay on the
// host for the report.
//
// With Config.LazyFS (the lose-unsynced fault; root and /dev/fuse) the
// data directory is a lazyfs mount on the host, over itself, before the
// container is created: the bind of the member's directory carries it in
// (Start checks that each container sees it, which fails when the daemon
// runs in another mount namespace), no FUSE device or capability is
// needed inside. LoseUnsynced waits until the killed container's copy of
// the mount is gone, rolls the directory back and mounts it again; the
// container's next start binds the new mount.
//
// Caveats:
//   - The lab's clients on the host reach members at their container
//     addresses through the bridge; no ports are published.
//   - A restart gives the container a new network namespace: Restart
//     re-installs the member's last firewall script before it returns.
//   - A killed container's address vanishes: connections to it hang
//     rather than being refused, so probes dial with short timeouts.
//   - ZooKeeper's JVMs take 10-20 s to form a 3-member quorum; the
//     readiness bound (Config.ReadyTimeout) covers Start and Restart.
//   - The zookeeper image sets JDK_JAVA_OPTIONS for people who run it by
//     hand; Docker cannot unset an image's variable, so members get it
//     empty (the heap is on the command line) and the JVM notes that once
//     in the log.
//   - Partitions, loss and latency need root (nsenter, setns); kill and
//     pause do not. Netns names the namespace of the container's current
//     process (/proc/<pid>/ns/net): a restart makes a new one, which the
//     latency fault's delayer does not follow.
package docker
