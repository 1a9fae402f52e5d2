#!/usr/bin/env bash
# ACS benchmark: validated SAML assertions per second through HTTP
# (parse + RSA-2048/SHA-256 signature check + every ACS check + replay cache + session),
# against nginx answering the same POSTs with a static 200, in the same run.
#
#   bench/saml_acs.sh            (BENCH_RESPONSES=6000 BENCH_CONNECTIONS=4 by default)
#
# Uses the Redis store (started if none answers) with a fresh key prefix; writes
# bench/results/saml_acs.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
count="${BENCH_RESPONSES:-6000}"
conns="${BENCH_CONNECTIONS:-4}"
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
log() { printf '[saml-bench] %s\n' "$*" >&2; }

bash scripts/setup.sh test >&2
redis-cli -u "$redis_url" ping >/dev/null 2>&1 || redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null
cargo build --release --bin gatehouse --example saml_acs_bench >&2
bin="$root/target/release/gatehouse"
tool="$root/target/release/examples/saml_acs_bench"

work="$(mktemp -d /tmp/gatehouse-saml-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
nginx_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
domain="bench$RANDOM.test"
email="person@$domain"
token="bench-admin-token-$(openssl rand -hex 16)"
prefix="ghbench-saml-$RANDOM"

log "signing $count responses with xmlsec1"
"$tool" fixtures --acs "$base/saml/acs/$domain" --audience "$base/saml/metadata/$domain" \
  --email "$email" --count "$count" --out "$work/fixtures"

env -i PATH="$PATH" GATEHOUSE_LISTEN="127.0.0.1:$port" GATEHOUSE_BASE_URL="$base" \
  GATEHOUSE_REDIS_URL="$redis_url" GATEHOUSE_REDIS_KEY_PREFIX="$prefix" GATEHOUSE_ADMIN_TOKEN="$token" \
  GATEHOUSE_LOG=warn "$bin" serve >"$work/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done

api() { curl -fsS -H "Authorization: Bearer $token" -H 'content-type: application/json' "$@"; }
tenant="$(api -d "{\"name\":\"Bench\",\"primary_domain\":\"$domain\"}" "$base/api/v1/tenants" | python3 -c 'import sys,json; print(json.load(sys.stdin)["id"])')"
api -d "{\"email\":\"$email\"}" "$base/api/v1/tenants/$tenant/users" >/dev/null
python3 - "$work/fixtures/idp-cert.pem" > "$work/saml.json" <<'PY'
import json, sys
print(json.dumps({"provider": "custom", "idp_entity_id": "https://bench-idp.example/metadata",
  "idp_sso_url": "https://bench-idp.example/sso", "certificate": open(sys.argv[1]).read(),
  "allow_idp_initiated": True}))
PY
api -X PUT --data @"$work/saml.json" "$base/api/v1/tenants/$tenant/saml" >/dev/null

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fcgi; uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
  client_max_body_size 1m; client_body_buffer_size 1m;
  server { listen 127.0.0.1:$nginx_port; location / { return 303 /; } }
}
NGINX
"$(command -v nginx || echo /usr/sbin/nginx)" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" && break; sleep 0.05; done

log "baseline: nginx answering the same $count POSTs"
baseline="$("$tool" post --url "http://127.0.0.1:$nginx_port/saml/acs/$domain" --dir "$work/fixtures" --connections "$conns" | tail -1)"
log "$baseline"
log "gateway: POST each response once to the ACS"
gateway="$("$tool" post --url "$base/saml/acs/$domain" --dir "$work/fixtures" --connections "$conns" | tail -1)"
log "$gateway"
replay="$("$tool" post --url "$base/saml/acs/$domain" --dir "$work/fixtures" --connections "$conns" | tail -1)"
log "replayed (all must be refused): $replay"

rate() { sed -nE 's/.*rate=([0-9]+).*/\1/p' <<<"$1"; }
field() { sed -nE "s/.*$1=([0-9.]+).*/\1/p" <<<"$2"; }
mkdir -p bench/results
cat > bench/results/saml_acs.md <<MD
# SAML ACS benchmark

$(date -u +%F) · gatehouse $(git rev-parse --short HEAD) · \`bench/saml_acs.sh\` · **2-core machine**: the
client threads, the gateway, Redis and nginx share the same 2 cores. Each request is a distinct
IdP-initiated Response (RSA-2048, RSA-SHA256, exclusive c14n, ~$(($(wc -c < "$work/fixtures/000000.form") / 1024)) KiB form body) signed by xmlsec1;
the gateway verifies it with samael/xmlsec, runs every ACS check, records the assertion ID in the
replay cache, finds the person and creates a session (Redis store). $conns keep-alive connections.

| run | accepted | other | seconds | accepted/s |
|---|---:|---:|---:|---:|
| nginx \`return 303\` on the same POSTs (baseline) | $(field accepted "$baseline") | $(field other "$baseline") | $(field secs "$baseline") | $(rate "$baseline") |
| gateway \`POST /saml/acs/{domain}\` | $(field accepted "$gateway") | $(field other "$gateway") | $(field secs "$gateway") | **$(rate "$gateway")** |
| the same responses again (replays: all refused) | $(field accepted "$replay") | $(field other "$replay") | $(field secs "$replay") | – |
MD
cat bench/results/saml_acs.md
