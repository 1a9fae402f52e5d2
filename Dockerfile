# syntax=docker/dockerfile:1
# Gatehouse container image: build with the Rust toolchain, run on a slim Debian.
#   docker build -t gatehouse .
#   docker run -p 8080:8080 -e GATEHOUSE_ADMIN_TOKEN=... gatehouse

# ---- build ------------------------------------------------------------------
FROM rust:bookworm AS builder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config libssl-dev libxml2-dev libxmlsec1-dev libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin gatehouse \
 && install -D -m 0755 target/release/gatehouse /out/gatehouse

# ---- run --------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# Shared libraries the binary links (samael -> xmlsec1/OpenSSL, libxml2).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libxmlsec1-openssl libxml2 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/gatehouse --create-home --shell /usr/sbin/nologin gatehouse
COPY --from=builder /out/gatehouse /usr/local/bin/gatehouse
# Served from disk if the binary does not embed them (harmless otherwise).
COPY --from=builder /src/static /usr/share/gatehouse/static
USER gatehouse
WORKDIR /var/lib/gatehouse
ENV GATEHOUSE_LISTEN=0.0.0.0:8080 \
    GATEHOUSE_DATA_DIR=/var/lib/gatehouse/data
EXPOSE 8080
VOLUME ["/var/lib/gatehouse"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
