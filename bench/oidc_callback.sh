#!/usr/bin/env bash
# OIDC benchmark: `/oidc/callback` latency (token exchange on loopback + ID token checks +
# person lookup + session) and whole-login throughput, against the stand-in provider of the
# integration tests, with a plain loopback HTTP round trip as the baseline, on both stores.
#
#   bench/oidc_callback.sh        (BENCH_LOGINS=400 by default)
#
# Release build of the integration test binary; writes bench/results/oidc_callback.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
redis_url="${GATEHOUSE_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

bash scripts/setup.sh test >&2
redis-cli -u "$redis_url" ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null
out="$root/bench/results/oidc_callback.md"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
BENCH_OUT="$tmp" GATEHOUSE_TEST_REDIS_URL="$redis_url" \
  cargo test --release --test integration -- --ignored --exact oidc_bench::bench_oidc_callback --nocapture >&2
{
  echo "# OIDC callback benchmark"
  echo
  echo "\`bench/oidc_callback.sh\`, release build, $(nproc)-core machine ($(date -u +%Y-%m-%d)); the gateway, the"
  echo "stand-in provider, the client and Redis share the same cores. RSA-2048 ID tokens (RS256)."
  echo
  cat "$tmp"
} >"$out"
cat "$out"
