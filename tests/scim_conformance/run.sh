#!/usr/bin/env bash
# Runs the independent SCIM conformance checker scim2-tester (PyPI) against a real gateway
# on loopback: a fresh embedded store, a tenant and a SCIM API key created through the
# admin API, then every check scim2-tester has (see check.py for what counts as passing).
#
#   tests/scim_conformance/run.sh [GATEWAY_BINARY]
#
# The binary defaults to $GATEHOUSE_BIN, then target/debug/gatehouse. The checker is
# installed into a venv ($SCIM_VENV, default $CARGO_TARGET_DIR/scim-venv or target/scim-venv)
# at pinned versions. The closing line reads "scim2-tester: N passed, N failed, N skipped".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${1:-${GATEHOUSE_BIN:-$target_dir/debug/gatehouse}}"
venv="${SCIM_VENV:-$target_dir/scim-venv}"

if [[ ! -x "$bin" ]]; then
  echo "run.sh: gateway binary $bin not found (cargo build --bin gatehouse)" >&2
  exit 2
fi
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  'scim2-tester==0.5.2' 'scim2-client[httpx2]==0.13.2' 'scim2-models==0.12.3'

tmp="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
admin_token="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
base="http://127.0.0.1:$port"
GATEHOUSE_LISTEN="127.0.0.1:$port" GATEHOUSE_BASE_URL="$base" GATEHOUSE_DATA_DIR="$tmp/data" \
  GATEHOUSE_ADMIN_TOKEN="$admin_token" GATEHOUSE_REDIS_URL="" \
  "$bin" serve >"$tmp/gateway.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Waits for readiness (bounded), then creates the tenant and the key through the admin API.
read -r domain key < <(BASE="$base" ADMIN="$admin_token" python3 - <<'PY'
import json, os, sys, time, urllib.request, urllib.error

base, admin = os.environ["BASE"], os.environ["ADMIN"]
for _ in range(200):
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=1) as r:
            if r.status == 200:
                break
    except (urllib.error.URLError, OSError):
        pass
    time.sleep(0.05)
else:
    sys.exit("gateway never became ready")

def post(path, body):
    req = urllib.request.Request(
        f"{base}/api/v1{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)

domain = "conformance.test"
tenant = post("/tenants", {"name": "SCIM conformance", "primary_domain": domain})
key = post(f"/tenants/{tenant['id']}/api-keys", {"label": "scim2-tester", "scopes": ["scim"]})
print(domain, key["secret"])
PY
)
if [[ -z "${key:-}" ]]; then
  echo "run.sh: could not set up the tenant; gateway log:" >&2
  cat "$tmp/gateway.log" >&2
  exit 1
fi
set +e
"$venv/bin/python" "$here/check.py" "$base/scim/v2" "$key" "$domain"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  echo "run.sh: conformance failures; gateway log tail:" >&2
  tail -n 50 "$tmp/gateway.log" >&2
fi
exit $rc
