# Shared by the integration scripts (sourced, not run): scenario bookkeeping,
# argv-logging runtime wrappers and a locally built busybox image.
# shellcheck shell=bash

INTEG_PASS=0
INTEG_FAIL=0
INTEG_FAILED=()

# scenario NAME RUNTIME CMD...: runs CMD (a function or command) and prints
# PASS/FAIL; CMD's output is shown only when it fails.
scenario() {
  local name=$1 rt=$2; shift 2
  local out
  if out=$("$@" 2>&1); then
    INTEG_PASS=$((INTEG_PASS + 1))
    printf 'PASS %-8s %s\n' "$rt" "$name"
  else
    INTEG_FAIL=$((INTEG_FAIL + 1))
    INTEG_FAILED+=("$rt $name")
    printf 'FAIL %-8s %s\n' "$rt" "$name"
    printf '%s\n' "$out" | tail -n 30 | sed 's/^/     | /'
  fi
}

# summary: the closing line; exit status 1 when anything failed. With
# INTEG_RESULTS set, the counts are also appended there for integration/run.
summary() {
  echo "$INTEG_PASS passed, $INTEG_FAIL failed"
  if [ -n "${INTEG_RESULTS:-}" ]; then
    echo "$INTEG_PASS $INTEG_FAIL" >>"$INTEG_RESULTS"
  fi
  [ "$INTEG_FAIL" -eq 0 ]
}

# expect_eq WHAT GOT WANT
expect_eq() {
  if [ "$2" != "$3" ]; then
    echo "$1: got [$2], want [$3]" >&2
    return 1
  fi
}

# expect_contains WHAT HAYSTACK NEEDLE
expect_contains() {
  case $2 in
    *"$3"*) ;;
    *) echo "$1: [$2] lacks [$3]" >&2; return 1 ;;
  esac
}

# logging_wrapper REAL OUT LOG: writes an executable OUT that appends its
# argv (one line, words tab-separated) to LOG and execs REAL. The managers
# get OUT as their runtime, so LOG shows every call they made.
logging_wrapper() {
  local real=$1 out=$2 log=$3
  cat >"$out" <<W
#!/bin/sh
(IFS='	'; printf '%s\n' "\$*") >>'$log'
exec '$real' "\$@"
W
  chmod 755 "$out"
}

# busybox_layout DIR TAG: an OCI image layout in DIR holding a busybox-static
# image tagged TAG (one layer, built with umoci from bundle-examples/mkrootfs).
busybox_layout() {
  local dir=$1 tag=$2 root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  local work
  work=$(mktemp -d /tmp/integ-image.XXXXXX)
  umoci init --layout "$dir"
  umoci new --image "$dir:$tag"
  umoci unpack --image "$dir:$tag" "$work/b" >/dev/null
  bash "$root/bundle-examples/mkrootfs" "$work/b/rootfs" >/dev/null
  umoci repack --image "$dir:$tag" "$work/b"
  umoci config --image "$dir:$tag" --config.cmd /bin/sh --config.env PATH=/bin:/sbin:/usr/bin:/usr/sbin
  rm -rf "$work"
}
