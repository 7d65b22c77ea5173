#!/usr/bin/env bash
# Build the runner and the static checker, then run the whole suite against
# one runtime. Exit status is the suite's: non-zero on any failure (skips,
# each with its reason, do not fail).
#   bash conformance/ci.sh [RUNTIME] [extra runner args...]
# RUNTIME defaults to oxrun built from this workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -q -p oci-conformance --bin oci-conformance
# --target keeps the static flags off the host build.
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build -q -p oci-conformance --bin oci-checker --target x86_64-unknown-linux-gnu
runtime="${1:-}"
if [ -z "$runtime" ]; then
  cargo build -q -p oxrun
  runtime="$CARGO_TARGET_DIR/debug/oxrun"
fi
shift || true
exec "$CARGO_TARGET_DIR/debug/oci-conformance" run --runtime "$runtime" \
  --checker "$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/debug/oci-checker" \
  --format tap -j 2 "$@"
