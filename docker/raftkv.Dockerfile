# raftkv as a standalone server. Built by `make images` from a static binary;
# nothing is pulled (FROM scratch), so it builds with no registry.
FROM scratch
COPY raftkv /raftkv
EXPOSE 2379 2380 2381
VOLUME /data
ENTRYPOINT ["/raftkv"]
CMD ["--data-dir", "/data", "--listen-client-urls", "http://0.0.0.0:2379", "--advertise-client-urls", "http://127.0.0.1:2379", "--listen-peer-urls", "http://0.0.0.0:2380", "--listen-metrics-urls", "http://0.0.0.0:2381"]
