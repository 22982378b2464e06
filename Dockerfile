# handoff as the front container of a service: it proxies the service's traffic and deploys
# the service's app containers through the Docker socket mounted into it.
#
#   scripts/build-image        (makes the Debian 12 base image locally if it cannot be pulled)
#   docker run -d --name proxy --network app-net -p 80:80 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v handoff-state:/var/lib/handoff -v /run/handoff:/run/handoff handoff
#   handoff deploy default --image app:v2 --network app-net      (host CLI, via /run/handoff)
#   docker exec proxy handoff deploy default --image app:v2 --network app-net
ARG DEBIAN_IMAGE=debian:12

FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ cmake make libboost1.81-dev \
      libboost-json1.81-dev libcurl4-openssl-dev libssl-dev libfmt-dev libnghttp2-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY proxy proxy
COPY control control
COPY containers containers
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHANDOFF_BUILD_TESTS=OFF \
 && cmake --build build -j"$(nproc)" --target handoff \
 && strip build/handoff
# The runtime is the binary and the shared libraries it loads, nothing else: no shell, no
# package manager. /etc gets the few files the C library reads (users for the control
# socket's peer check, name resolution for host names in --upstream and --listen).
RUN mkdir -p /rootfs/usr/local/bin /rootfs/var/lib/handoff /rootfs/run/handoff /rootfs/tmp \
      /rootfs/etc \
 && cp build/handoff /rootfs/usr/local/bin/handoff \
 && ldd build/handoff | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' \
      | xargs -I{} cp --parents -L {} /rootfs \
 && printf 'root:x:0:0:root:/:/usr/local/bin/handoff\n' > /rootfs/etc/passwd \
 && printf 'root:x:0:\n' > /rootfs/etc/group \
 && printf 'hosts: files dns\n' > /rootfs/etc/nsswitch.conf \
 && printf '127.0.0.1 localhost\n::1 localhost\n' > /rootfs/etc/hosts \
 && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=build /rootfs /
ENV PATH=/usr/local/bin
# Services are saved here. Mount a directory (a named volume or a host directory), never a
# single file: the state is replaced by renaming a new file over it, which fails with EBUSY on
# a file that is itself a bind mount.
VOLUME /var/lib/handoff
# The control socket lives here (/run/handoff/control.sock); bind-mount the directory to use
# the handoff CLI from the host.
VOLUME /run/handoff
EXPOSE 80 443
# handoff is PID 1: SIGTERM stops accepting, lets requests in flight finish, and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/handoff"]
CMD ["run", "--listen", "0.0.0.0:80"]
