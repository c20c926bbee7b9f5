# The real etcd 3.4: Debian's etcd-server package as installed on the
# build machine. `coordlab images` puts /usr/bin/etcd and what it loads
# (glibc's /lib64/ld-linux-x86-64.so.2 and libc.so.6, with merged /usr's
# symlinks) and an /etc/nsswitch.conf under rootfs/ in the build context. No shell, no etcdctl:
# clients run on the host. Nothing is pulled (FROM scratch, classic
# builder, no syntax line), so it builds with no registry.
FROM scratch
COPY rootfs/ /
EXPOSE 2379 2380
VOLUME /data
ENTRYPOINT ["/usr/bin/etcd"]
# By default, a single member: run with flags for a cluster.
CMD ["--data-dir", "/data", "--listen-client-urls", "http://0.0.0.0:2379", "--advertise-client-urls", "http://127.0.0.1:2379", "--listen-peer-urls", "http://0.0.0.0:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380", "--initial-cluster", "default=http://127.0.0.1:2380"]
