#!/usr/bin/env bash
# Validates static/openapi.json (the admin API's description) as OpenAPI 3.1 with the
# independent openapi-spec-validator (PyPI, pinned, in a venv under the target directory).
# The closing line reads "openapi: 1 passed, 0 failed" or "openapi: 0 passed, 1 failed".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
venv="${OPENAPI_VENV:-$target_dir/openapi-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator==0.7.2'
if "$venv/bin/openapi-spec-validator" "$root/static/openapi.json"; then
  echo "openapi: 1 passed, 0 failed"
else
  echo "openapi: 0 passed, 1 failed"
  exit 1
fi
