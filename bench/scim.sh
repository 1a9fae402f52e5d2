#!/usr/bin/env bash
# SCIM benchmark on the Redis store: 10,000 user creates in sequence over HTTP,
# `filter=userName eq` latency with 100,000 users stored, 1,000 members added in one PATCH.
#
#   bench/scim.sh     (BENCH_SEQUENTIAL=10000 BENCH_TOTAL=100000 BENCH_QUERIES=2000 BENCH_MEMBERS=1000)
#
# Release build; a fresh Redis key prefix, deleted afterwards; writes bench/results/scim.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
log() { printf '[scim-bench] %s\n' "$*" >&2; }

bash scripts/setup.sh test >&2
redis-cli -u "$redis_url" ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null
cargo build --release --bin gatehouse --example scim_bench >&2
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="$target_dir/release/gatehouse"
tool="$target_dir/release/examples/scim_bench"

work="$(mktemp -d /tmp/gatehouse-scim-bench.XXXXXX)"
prefix="ghbench-scim-$RANDOM"
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  redis-cli -u "$redis_url" --scan --pattern "$prefix:*" | xargs -r -d '\n' -n 1000 redis-cli -u "$redis_url" del >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
token="bench-admin-token-$(openssl rand -hex 16)"
env -i PATH="$PATH" GATEHOUSE_LISTEN="127.0.0.1:$port" GATEHOUSE_BASE_URL="$base" \
  GATEHOUSE_REDIS_URL="$redis_url" GATEHOUSE_REDIS_KEY_PREFIX="$prefix" GATEHOUSE_ADMIN_TOKEN="$token" \
  GATEHOUSE_LOG=warn "$bin" serve >"$work/gateway.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done

table="$("$tool" --base "$base" --admin-token "$token" --domain "bench$RANDOM.test" \
  --sequential "${BENCH_SEQUENTIAL:-10000}" --total "${BENCH_TOTAL:-100000}" \
  --queries "${BENCH_QUERIES:-2000}" --members "${BENCH_MEMBERS:-1000}")"
mkdir -p bench/results
{
  echo "# SCIM benchmark"
  echo
  echo "\`bench/scim.sh\` on $(nproc)-core $(uname -m) ($(date -u +%Y-%m-%d)), release build, Redis store"
  echo "(redis-server $(redis-server --version | sed -nE 's/.*v=([0-9.]+).*/\1/p') on loopback); the driver, the gateway and Redis share the same cores."
  echo
  echo "$table"
} > bench/results/scim.md
cat bench/results/scim.md
