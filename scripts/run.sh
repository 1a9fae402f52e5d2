#!/usr/bin/env bash
# Build (release) and run the gateway: scripts/run.sh [--config FILE]
# Every setting can also come from GATEHOUSE_* environment variables.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh run
exec cargo run --release -- serve "$@"
