#!/usr/bin/env bash
# Build the runner and the static checker, then run the whole suite against
# one runtime. Exit status is the suite's: non-zero on any failure (skips,
# each with its reason, do not fail).
#   bash conformance/ci.sh [RUNTIME] [extra runner args...]
# RUNTIME defaults to oxrun built from this workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
. conformance/build.sh
runtime="${1:-}"
if [ -z "$runtime" ]; then
  cargo build -q -p oxrun
  runtime="$CARGO_TARGET_DIR/debug/oxrun"
fi
shift || true
exec "$runner" run --runtime "$runtime" --checker "$checker" --format tap -j 2 "$@"
