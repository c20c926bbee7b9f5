# The real ZooKeeper 3.8: Debian's zookeeper and libzookeeper-java packages
# on Debian's OpenJDK 17, as installed on the build machine. `coordlab
# images` puts under rootfs/ in the build context: /usr/bin/java (Debian's
# alternatives link to the JDK), the JDK files a headless server uses
# (lib/modules, the VM, the native libraries of java.base, net, nio, zip
# and management, conf/ and lib/security/), the jars of the class path
# below and the jars their manifests name, Debian's log4j.properties, the
# shared libraries of it all, a minimal /etc/passwd, /etc/nsswitch.conf
# and /tmp.
#
# There is no shell: the JVM is the entrypoint, with the flags and class
# path of the lab's local runtime (Debian's zkEnv.sh class path plus the
# slf4j-to-log4j binding, logging to the console). The argument is the
# zoo.cfg path; mount the configuration at /conf, and put dataDir (with its
# myid) on /data. The heap is JDK_JAVA_OPTIONS, which the launcher reads
# before the command line: override it with `-e JDK_JAVA_OPTIONS=-Xmx1g`.
# Nothing is pulled (FROM scratch, classic builder, no syntax line).
FROM scratch
COPY rootfs/ /
ENV JDK_JAVA_OPTIONS=-Xmx256m
EXPOSE 2181 2888 3888
VOLUME /data
ENTRYPOINT ["/usr/bin/java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.log.dir=/tmp", "-Dzookeeper.root.logger=INFO,CONSOLE", "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=*", "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar", "org.apache.zookeeper.server.quorum.QuorumPeerMain"]
CMD ["/conf/zoo.cfg"]
