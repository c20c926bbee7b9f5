#!/usr/bin/env bash
# setup.sh installs what coordlab's build, tests and benchmarks need on a
# fresh Debian machine: the reference systems (etcd 3.4 and ZooKeeper 3.8 from
# Debian's packages), nft for partitions, iproute2 for namespaces, fuse3 for
# the lose-unsynced fault's FUSE mounts, Chromium for
# report screenshots. It is idempotent and quiet when everything is present.
set -euo pipefail

pkgs=()
command -v etcd >/dev/null 2>&1 || pkgs+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || pkgs+=(etcd-client)
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || pkgs+=(zookeeper)
command -v nft >/dev/null 2>&1 || pkgs+=(nftables)
command -v ip >/dev/null 2>&1 || pkgs+=(iproute2)
command -v iptables-legacy >/dev/null 2>&1 || pkgs+=(iptables) # the latency fault's NFQUEUE steering rule
command -v fusermount3 >/dev/null 2>&1 || pkgs+=(fuse3)               # lose-unsynced: lazyfs mounts the data dirs (FUSE)
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)

if [ ${#pkgs[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing Debian packages: ${pkgs[*]}; run 'sudo apt-get install ${pkgs[*]}' or run make as root" >&2
		exit 1
	fi
	echo "setup: installing ${pkgs[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# Debian's packages may start their own daemons on the default ports; the lab
# launches its own members on chosen addresses, so stop any that came up.
for svc in etcd zookeeper; do
	if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done

go mod download
