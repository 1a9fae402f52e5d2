#!/usr/bin/env bash
# SCIM benchmark on the Redis store: 10,000 user creates in sequence over HTTP,
# `filter=userName eq` latency with 100,000 users stored, 1,000 members added in one PATCH.
#
#   bench/scim.sh     (BENCH_SEQUENTIAL=10000 BENCH_TOTAL=100000 BENCH_QUERIES=2000 BENCH_MEMBERS=1000)
#
# Release build; its own redis-server on a free port without snapshots (so a background
# save of 100,000 users cannot land in the measurement, and nothing is left in the shared
# Redis); writes bench/results/scim.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
log() { printf '[scim-bench] %s\n' "$*" >&2; }

bash scripts/setup.sh test >&2
cargo build --release --bin gatehouse --example scim_bench >&2
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="$target_dir/release/gatehouse"
tool="$target_dir/release/examples/scim_bench"

work="$(mktemp -d /tmp/gatehouse-scim-bench.XXXXXX)"
prefix="ghbench-scim"
pid=""
redis_pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  [[ -n "$redis_pid" ]] && kill "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
redis_url="redis://127.0.0.1:$redis_port"
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
token="bench-admin-token-$(openssl rand -hex 16)"
env -i PATH="$PATH" GATEHOUSE_LISTEN="127.0.0.1:$port" GATEHOUSE_BASE_URL="$base" \
  GATEHOUSE_REDIS_URL="$redis_url" GATEHOUSE_REDIS_KEY_PREFIX="$prefix" GATEHOUSE_ADMIN_TOKEN="$token" \
  GATEHOUSE_LOG=warn "$bin" serve >"$work/gateway.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done

load="$(cut -d' ' -f1-3 /proc/loadavg)"
table="$("$tool" --base "$base" --admin-token "$token" --domain "bench$RANDOM.test" \
  --sequential "${BENCH_SEQUENTIAL:-10000}" --total "${BENCH_TOTAL:-100000}" \
  --queries "${BENCH_QUERIES:-2000}" --members "${BENCH_MEMBERS:-1000}")"
mkdir -p bench/results
{
  echo "# SCIM benchmark"
  echo
  echo "\`bench/scim.sh\` on $(nproc)-core $(uname -m) ($(date -u +%Y-%m-%d)), release build, Redis store"
  echo "(its own redis-server $(redis-server --version | sed -nE 's/.*v=([0-9.]+).*/\1/p') on loopback, no snapshots); the driver, the gateway and Redis"
  echo "share the same cores, and other work on the machine is not stopped (load average at the start: $load)."
  echo
  echo "$table"
} > bench/results/scim.md
cat bench/results/scim.md
