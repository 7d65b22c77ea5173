# Sourced by ci.sh and results.sh: builds the runner and the static checker
# and sets $runner and $checker to their paths. The explicit --target keeps
# the static flags off the host build.
# shellcheck shell=bash
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -q -p oci-conformance --bin oci-conformance
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build -q -p oci-conformance --bin oci-checker --target x86_64-unknown-linux-gnu
runner="$CARGO_TARGET_DIR/debug/oci-conformance"
checker="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/debug/oci-checker"
