// Package docker runs a cluster of our engines (raftkv, zab) as containers
// with testcontainers-go, on a private bridge network per run with a static
// address per member, and injects faults into them: SIGKILL and restart of
// the same container, docker pause, and partitions and packet loss with nft
// in each container's own network namespace (our table `inet coordlab`,
// entered with nsenter from the host). When the target serves an admin
// endpoint (cluster.TargetOptions.Admin), it binds 0.0.0.0:2390 inside the
// container and the lab reaches it at the container's address.
//
// Images are FROM scratch with one static binary (docker/*.Dockerfile,
// `make images`); nothing is ever pulled, so Ryuk must be disabled
// (TESTCONTAINERS_RYUK_DISABLED=true: New refuses otherwise) and cleanup is
// ours: Stop removes the run's containers and network, and Sweep removes
// those of runs whose owner process died (found by the coordlab.run and
// coordlab.owner labels).
//
// Each member's directory is bind-mounted at the same path inside its
// container, so the configuration a cluster.Target writes there (zoo.cfg,
// data dir) is valid inside the container and the data and log stay on the
// host for the report.
//
// Caveats:
//   - The lab's clients on the host reach members at their container
//     addresses through the bridge; no ports are published.
//   - A restart gives the container a new network namespace: Restart
//     re-installs the member's last firewall script before it returns.
//   - Real etcd and ZooKeeper are not containerized (there is no image to
//     pull and none is built); they run in the local runtime.
//   - Partitions, loss and latency need root (nsenter, setns); kill and
//     pause do not. Netns names the namespace of the container's current
//     process (/proc/<pid>/ns/net): a restart makes a new one, which the
//     latency fault's delayer does not follow.
package docker
