#!/usr/bin/env bash
# Install the Debian packages Gatehouse needs, only those that are missing.
#
#   scripts/setup.sh run    build dependencies only (enough for `cargo build` / `cargo run`)
#   scripts/setup.sh test   build dependencies + everything the tests and benchmarks use
#
# Idempotent: a second run installs nothing and does not touch the network.
set -euo pipefail

mode="${1:-test}"

build_pkgs=(pkg-config libssl-dev libxml2-dev libxmlsec1-dev libclang-dev)
test_pkgs=(xmlsec1 openssl redis-server wrk chromium chromium-driver curl ca-certificates dnsmasq-base)

case "$mode" in
  run) wanted=("${build_pkgs[@]}") ;;
  test) wanted=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *)
    echo "usage: $0 [run|test]" >&2
    exit 2
    ;;
esac

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for pkg in "${wanted[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if [[ "$mode" == test ]]; then
  # Any nginx build with auth_request will do (Debian's `nginx` has it).
  if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    missing+=(nginx)
  fi
  # Node.js usually comes with the machine (often from another source than Debian):
  # only install Debian's when there is no node at all.
  if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs)
  fi
  if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
  fi
  # The SCIM conformance checker (scim2-tester) runs in a Python venv.
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3 python3-venv)
  fi
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup.sh ($mode): all system packages present"
  exit 0
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
  else
    echo "setup.sh: not root and no sudo; please install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "setup.sh ($mode): installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
# Packages installed here must not start their services (nginx on :80, a second redis):
# the tests and benchmarks start their own. policy-rc.d is Debian's switch for that.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 0755 "$policy"
  own_policy=1
fi
cleanup() {
  rm -f "$log"
  if [[ $own_policy -eq 1 ]]; then "${SUDO[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT
if ! "${SUDO[@]}" apt-get update -qq >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup.sh: apt-get update failed" >&2
  exit 1
fi
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup.sh: apt-get install failed" >&2
  exit 1
fi
echo "setup.sh ($mode): installed ${missing[*]}"
