# zab as a standalone server. Built by `make images` from a static binary;
# nothing is pulled (FROM scratch), so it builds with no registry.
FROM scratch
COPY zab /zab
EXPOSE 2181 2888 3888 8080
VOLUME /data
ENTRYPOINT ["/zab"]
