#!/usr/bin/env bash
# Forward-auth benchmark: the gateway's GET /auth/verify against nginx serving a static 200,
# measured in the same run on the same machine.
#
#   bench/forward_auth.sh
#
# Steps: release build (and examples/loadgen.rs, std only, compiled with rustc); Redis (started if none answers) and the gateway on Redis with a fresh
# key prefix; a tenant, a user and a minted session through the admin API; nginx on loopback
# (`return 200`, worker_processes 2) as the baseline; closed-loop maximum throughput with
# `wrk -t2 -c64 -d10s` for both; open-loop latency with examples/loadgen at half of the
# gateway's maximum; then 100,000 sessions minted and each distinct token verified once, with
# the gateway's resident memory (VmRSS) along the way. Writes bench/results/forward_auth.md.
#
# Knobs (environment): BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 64),
# BENCH_SESSIONS (default 100000), BENCH_REDIS_URL (default redis://127.0.0.1:6379);
# BENCH_GATEHOUSE_BIN and BENCH_LOADGEN_BIN use prebuilt binaries and skip the build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

duration="${BENCH_DURATION:-10}"
connections="${BENCH_CONNECTIONS:-64}"
sessions="${BENCH_SESSIONS:-100000}"
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
cookie_name="${GATEHOUSE_COOKIE_NAME:-gatehouse_session}"
results_dir="$root/bench/results"
results="$results_dir/forward_auth.md"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

bash scripts/setup.sh test >&2
for tool in wrk nginx redis-cli redis-server curl node; do
  command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || die "$tool not found"
done
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
gatehouse_bin="${BENCH_GATEHOUSE_BIN:-$target_dir/release/gatehouse}"
loadgen_bin="${BENCH_LOADGEN_BIN:-$target_dir/release/loadgen-bench}"
if [[ -z "${BENCH_GATEHOUSE_BIN:-}" ]]; then
  log "building the release binary (cargo build --release --bin gatehouse)"
  cargo build --release --bin gatehouse >&2
fi
if [[ -z "${BENCH_LOADGEN_BIN:-}" ]]; then
  # loadgen uses only std: compile it on its own, so that building it neither waits for the
  # dev-dependencies nor changes the features the gateway binary is built with.
  log "compiling examples/loadgen.rs (release)"
  mkdir -p "$target_dir/release"
  rustc --edition 2021 -C opt-level=3 -o "$loadgen_bin" examples/loadgen.rs >&2
fi

work="$(mktemp -d /tmp/gatehouse-bench.XXXXXX)"
gw_pid=""
started_redis=0
redis_prefix="ghbench-$(date +%s)-$$"
redis_hostport="${redis_url#redis://}"
redis_hostport="${redis_hostport%%/*}"
redis_host="${redis_hostport%%:*}"
redis_port="${redis_hostport##*:}"
[[ "$redis_port" != "$redis_hostport" ]] || redis_port=6379
rcli() { redis-cli -h "$redis_host" -p "$redis_port" "$@"; }

cleanup() {
  local rc=$?
  set +e
  if [[ -n "$gw_pid" ]] && kill -0 "$gw_pid" 2>/dev/null; then
    kill -TERM "$gw_pid" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "$gw_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$gw_pid" 2>/dev/null
  fi
  if [[ -f "$work/nginx/nginx.pid" ]]; then
    kill -QUIT "$(cat "$work/nginx/nginx.pid")" 2>/dev/null
  fi
  if [[ $started_redis -eq 1 ]]; then
    rcli shutdown nosave >/dev/null 2>&1
  else
    # Drop what this run stored under its own prefix.
    rcli --scan --pattern "${redis_prefix}*" 2>/dev/null | xargs -r -n 1000 redis-cli -h "$redis_host" -p "$redis_port" unlink >/dev/null 2>&1
  fi
  if [[ $rc -ne 0 && -f "$work/gateway.log" ]]; then
    log "gateway log (last 40 lines):"
    tail -n 40 "$work/gateway.log" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  for p in $(seq "$1" $(($1 + 200))); do
    if port_free "$p"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
wait_until() { # wait_until SECONDS command...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
json_get() { # json_get FIELD < json
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v===undefined||v===null){console.error("no field "+process.argv[1]+" in "+s);process.exit(1)}console.log(v)})' "$1"
}
rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$gw_pid/status"; }
hwm_mb() { awk '/^VmHWM:/ {printf "%.1f", $2/1024}' "/proc/$gw_pid/status"; }

# --- Redis ------------------------------------------------------------------------
redis_up() { [[ "$(rcli ping 2>/dev/null)" == PONG ]]; }
if ! redis_up; then
  [[ "$redis_host" == 127.0.0.1 || "$redis_host" == localhost ]] || die "no Redis at $redis_url"
  log "starting redis-server on $redis_host:$redis_port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --dir "$work" --logfile "$work/redis.log"
  started_redis=1
  wait_until 10 redis_up || die "redis-server did not answer"
fi

# --- Gateway ----------------------------------------------------------------------
gw_port="$(pick_port 18480)" || die "no free port for the gateway"
gw="http://127.0.0.1:$gw_port"
admin_token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$work/data"
log "starting gateway on $gw (Redis store, key prefix $redis_prefix)"
# The gateway takes every GATEHOUSE_* variable as configuration (unknown ones are errors), and
# a gatehouse.toml in its working directory: start it from the scratch directory, with only ours.
unset_env=()
while IFS= read -r v; do
  [[ "$v" == GATEHOUSE_COOKIE_NAME ]] || unset_env+=(-u "$v")
done < <(compgen -e | grep '^GATEHOUSE_' || true)
cd "$work"
env "${unset_env[@]}" \
  GATEHOUSE_LISTEN="127.0.0.1:$gw_port" \
  GATEHOUSE_BASE_URL="$gw" \
  GATEHOUSE_DATA_DIR="$work/data" \
  GATEHOUSE_REDIS_URL="$redis_url" \
  GATEHOUSE_REDIS_KEY_PREFIX="$redis_prefix" \
  GATEHOUSE_ADMIN_TOKEN="$admin_token" \
  "$gatehouse_bin" serve >"$work/gateway.log" 2>&1 &
gw_pid=$!
cd "$root"
healthy() {
  kill -0 "$gw_pid" 2>/dev/null || die "gateway exited"
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$gw/healthz")" == 200 ]]
}
wait_until 30 healthy || die "gateway not healthy after 30 s"
rss_idle="$(rss_mb)"

api() { # api METHOD PATH [JSON]
  curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $admin_token" \
    -H 'Content-Type: application/json' -H 'Accept: application/json' \
    ${3:+--data "$3"} "$gw/api/v1$2"
}
tenant_id="$(api POST /tenants '{"name":"Bench","primary_domain":"bench.test","secondary_domains":[],"sso_only":false}' | json_get id)"
user_id="$(api POST "/tenants/$tenant_id/users" '{"email":"load@bench.test","password":"Bench-passphrase-2026!","display_name":"Load","groups":["eng","bench"]}' | json_get id)"
token="$(api POST "/tenants/$tenant_id/users/$user_id/sessions" '{}' | json_get token)"
cookie="Cookie: $cookie_name=$token"
status="$(curl -s -o /dev/null -w '%{http_code}' -H "$cookie" "$gw/auth/verify")"
[[ "$status" == 200 ]] || die "/auth/verify with the minted session answered $status, not 200"

# --- Baseline nginx -----------------------------------------------------------------
ng_port="$(pick_port 18580)" || die "no free port for nginx"
ng="http://127.0.0.1:$ng_port"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx;
    scgi_temp_path $work/nginx;
    server {
        # reuseport: one listening socket per worker, so connections spread evenly over both.
        listen 127.0.0.1:$ng_port reuseport;
        location / { return 200 "ok"; }
    }
}
EOF
"$nginx_bin" -e stderr -p "$work/nginx" -c "$work/nginx/nginx.conf"
nginx_up() { [[ "$(curl -s -o /dev/null -w '%{http_code}' "$ng/")" == 200 ]]; }
wait_until 10 nginx_up || die "nginx did not start"

# --- Closed loop: maximum throughput --------------------------------------------------
run_wrk() { # run_wrk NAME URL [HEADER]
  local out="$work/wrk-$1.txt"
  log "wrk -t2 -c$connections -d${duration}s $2"
  wrk -t2 -c"$connections" -d"${duration}s" --latency ${3:+-H "$3"} "$2" >"$out"
  cat "$out" >&2
  if grep -q 'Non-2xx' "$out"; then
    die "$1: wrk saw non-2xx answers"
  fi
}
run_wrk nginx "$ng/"
run_wrk gateway "$gw/auth/verify" "$cookie"
rps() { awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$work/wrk-$1.txt"; }
wrk_p99() { awk '$1=="99%" {print $2}' "$work/wrk-$1.txt"; }
nginx_rps="$(rps nginx)"
gw_rps="$(rps gateway)"
ratio="$(awk -v g="$gw_rps" -v n="$nginx_rps" 'BEGIN {printf "%.1f", 100 * g / n}')"
rss_after_wrk="$(rss_mb)"

# --- Open loop: latency at half (and a quarter of) the gateway's maximum ---------------
half_rate=$((gw_rps / 2))
quarter_rate=$((gw_rps / 4))
((quarter_rate > 0)) || die "gateway throughput is zero"
run_loadgen() { # run_loadgen NAME RATE URL [HEADER]
  local out="$work/loadgen-$1.txt"
  log "loadgen --rate $2 --duration $duration --connections 32 $3"
  "$loadgen_bin" --url "$3" ${4:+--header "$4"} --rate "$2" --duration "$duration" \
    --connections 32 >"$out"
  cat "$out" >&2
  if ! grep -q '^RESULT .* non2xx=0 errors=0 ' "$out"; then
    die "loadgen saw failures against $3"
  fi
}
run_loadgen gw-half "$half_rate" "$gw/auth/verify" "$cookie"
run_loadgen ng-half "$half_rate" "$ng/"
run_loadgen gw-quarter "$quarter_rate" "$gw/auth/verify" "$cookie"
run_loadgen ng-quarter "$quarter_rate" "$ng/"
lg() { sed -nE "s/^RESULT .*\\b$2=([0-9.]+).*/\\1/p" "$work/loadgen-$1.txt"; }
lg_row() { # lg_row RUN -> "p50 / p99 / p99.9 / max µs"
  echo "$(lg "$1" p50_us) / **$(lg "$1" p99_us)** / $(lg "$1" p999_us) / $(lg "$1" max_us) µs"
}

# --- Many sessions: memory ----------------------------------------------------------
log "minting $sessions sessions through the admin API"
node bench/sessions.mjs mint "$gw" "$admin_token" "$tenant_id" "$user_id" "$sessions" "$work/tokens.txt" 16 \
  | tee "$work/mint.txt" >&2
rss_after_mint="$(rss_mb)"
log "verifying each distinct token once"
node bench/sessions.mjs verify "$gw" "$cookie_name" "$work/tokens.txt" 32 | tee "$work/verify.txt" >&2
rss_after_verify="$(rss_mb)"
peak_rss="$(hwm_mb)"
res() { sed -nE "s/^RESULT .*\\b$2=([0-9.]+).*/\\1/p" "$work/$1.txt"; }
minted="$(res mint ok)"
mint_s="$(res mint seconds)"
mint_rate="$(res mint rate)"
verified="$(res verify ok)"
verify_failed="$(res verify failed)"
verify_s="$(res verify seconds)"
verify_rate="$(res verify rate)"
redis_keys="$(rcli --scan --pattern "${redis_prefix}*" | wc -l)"

# --- Report ---------------------------------------------------------------------------
cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo uncommitted)"
mkdir -p "$results_dir"
cat >"$results.tmp" <<EOF
# Forward auth benchmark

$(date -u +%Y-%m-%d) · gatehouse $rev · \`bench/forward_auth.sh\` · **$(nproc)-core machine** ($cpu), so the load
generator, nginx or the gateway, and Redis all share the same $(nproc) cores: absolute numbers are
low, the ratio to the baseline is what matters. The gateway uses the Redis store; the baseline
is nginx (\`worker_processes 2\`) answering \`return 200\` on loopback. Load average before the
run: $load_before (anything else running, such as a build, skews the numbers).

| measurement | nginx \`return 200\` | gateway \`GET /auth/verify\` (session cookie) |
|---|---:|---:|
| max throughput, \`wrk -t2 -c$connections -d${duration}s\` | $nginx_rps req/s | $gw_rps req/s (**$ratio %** of nginx) |
| wrk p99 latency at max throughput | $(wrk_p99 nginx) | $(wrk_p99 gateway) |
| open loop at $half_rate req/s (½ of the gateway's max): achieved | $(lg ng-half rate) req/s | $(lg gw-half rate) req/s |
| open loop at ½ max: p50 / **p99** / p99.9 / max | $(lg_row ng-half) | $(lg_row gw-half) |
| open loop at $quarter_rate req/s (¼ of the gateway's max): achieved | $(lg ng-quarter rate) req/s | $(lg gw-quarter rate) req/s |
| open loop at ¼ max: p50 / **p99** / p99.9 / max | $(lg_row ng-quarter) | $(lg_row gw-quarter) |

Open-loop latency is measured by \`examples/loadgen\` from each request's scheduled send time
(no coordinated omission), over 32 keep-alive connections for ${duration} s. loadgen uses one
blocking thread per connection (about 20 µs of CPU per request, three times wrk's) and shares
the two cores with the server, so at ½ of the maximum the machine is close to saturated and the
tail varies a lot from run to run; ¼ of the maximum shows latency with headroom. Compare the
gateway's column with nginx's at the same rate rather than reading the numbers as absolute.

| sessions and memory (gateway) | value |
|---|---:|
| sessions minted through the admin API | $minted in $mint_s s ($mint_rate/s) |
| distinct tokens verified once each | $verified OK, $verify_failed failed, in $verify_s s ($verify_rate/s) |
| Redis keys under the run's prefix afterwards | $redis_keys |
| gateway RSS (VmRSS) after start | $rss_idle MiB |
| gateway RSS after the throughput runs | $rss_after_wrk MiB |
| gateway RSS after minting $sessions sessions | $rss_after_mint MiB |
| gateway RSS after verifying all of them | $rss_after_verify MiB (peak VmHWM $peak_rss MiB) |
EOF
mv "$results.tmp" "$results"
cat "$results"
log "written to ${results#"$root"/}"
