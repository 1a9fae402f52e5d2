#!/usr/bin/env bash
# Run every test: Rust unit + integration tests (against a real redis-server),
# then the browser end-to-end tests in tests/e2e (headless Chromium).
#
#   scripts/test.sh           everything
#   scripts/test.sh --quick   skip the browser tests
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help)
      echo "usage: $0 [--quick]"
      exit 0
      ;;
    *)
      echo "unknown argument: $arg (usage: $0 [--quick])" >&2
      exit 2
      ;;
  esac
done

bash scripts/setup.sh test

# --- Redis ---------------------------------------------------------------
redis_host=127.0.0.1
redis_port=6379
started_redis=0
redis_ping() { [[ "$(redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null)" == PONG ]]; }

tmp="$(mktemp -d)"
cleanup() {
  if [[ $started_redis -eq 1 ]]; then
    redis-cli -h "$redis_host" -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if ! redis_ping; then
  echo "test.sh: no redis on $redis_host:$redis_port, starting one"
  redis-server --daemonize yes --bind "$redis_host" --port "$redis_port" \
    --save "" --appendonly no --dir "$tmp" --logfile "$tmp/redis.log"
  started_redis=1
  for _ in $(seq 1 100); do
    redis_ping && break
    sleep 0.1
  done
  if ! redis_ping; then
    echo "test.sh: redis-server did not answer within 10 s" >&2
    cat "$tmp/redis.log" >&2 || true
    exit 1
  fi
fi
export GATEHOUSE_TEST_REDIS_URL="redis://$redis_host:$redis_port"

# --- Summary over both runners ------------------------------------------------
passed=0
failed=0
skipped=0
summary() { echo "Summary: $passed passed, $failed failed, $skipped skipped"; }

# --- Rust tests -----------------------------------------------------------
cargo_log="$tmp/cargo-test.log"
set +e
cargo test --all-targets 2>&1 | tee "$cargo_log"
cargo_rc=${PIPESTATUS[0]}
set -e
while read -r p f i; do
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + i))
done < <(sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored.*/\1 \2 \3/p' "$cargo_log")
if [[ $cargo_rc -ne 0 ]]; then
  echo "test.sh: cargo test failed (exit $cargo_rc)" >&2
  summary
  exit "$cargo_rc"
fi

# --- SCIM conformance (scim2-tester from PyPI against a gateway on loopback) ---------
target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
cargo build --quiet --bin gatehouse
scim_log="$tmp/scim-conformance.log"
set +e
GATEHOUSE_BIN="$target_dir/debug/gatehouse" bash tests/scim_conformance/run.sh 2>&1 | tee "$scim_log"
scim_rc=${PIPESTATUS[0]}
set -e
while read -r p f i; do
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + i))
done < <(sed -nE 's/^scim2-tester: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p' "$scim_log")
if [[ $scim_rc -ne 0 ]]; then
  echo "test.sh: SCIM conformance failed (exit $scim_rc)" >&2
  summary
  exit "$scim_rc"
fi

# --- OpenAPI description (openapi-spec-validator from PyPI) --------------------------
openapi_log="$tmp/openapi.log"
set +e
bash tests/openapi/validate.sh 2>&1 | tee "$openapi_log"
openapi_rc=${PIPESTATUS[0]}
set -e
while read -r p f; do
  passed=$((passed + p))
  failed=$((failed + f))
done < <(sed -nE 's/^openapi: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$openapi_log")
if [[ $openapi_rc -ne 0 ]]; then
  echo "test.sh: the OpenAPI description is not valid (exit $openapi_rc)" >&2
  summary
  exit "$openapi_rc"
fi

if [[ $quick -eq 1 ]]; then
  echo "test.sh: --quick, skipping browser tests"
  summary
  exit 0
fi

# --- Browser end-to-end tests -----------------------------------------------
target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
# `cargo test` builds the binary for integration tests; make sure it is current anyway.
cargo build --quiet --bin gatehouse
export GATEHOUSE_BIN="$target_dir/debug/gatehouse"

cd "$root/tests/e2e"
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
node_log="$tmp/node-test.log"
set +e
node --test --test-reporter=spec 2>&1 | tee "$node_log"
node_rc=${PIPESTATUS[0]}
set -e
count() {
  local v
  v="$(sed -nE "s/^[^a-z]*$1 ([0-9]+)\$/\\1/p" "$node_log" | tail -n 1)"
  echo "${v:-0}"
}
passed=$((passed + $(count pass)))
failed=$((failed + $(count fail)))
skipped=$((skipped + $(count skipped)))
summary
if [[ $node_rc -ne 0 ]]; then
  echo "test.sh: browser tests failed (exit $node_rc)" >&2
  exit "$node_rc"
fi
