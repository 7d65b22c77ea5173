#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted scripts run inside the container
# Real podman (4.3) + conmon driving oxrun, with runc as the reference: every
# scenario runs once per runtime, each runtime with its own private podman
# (root, runroot, tmpdir, storage, network config, containers.conf) under one
# mktemp -d directory; nothing in /etc/containers is read or written.
#   bash integration/podman.sh            (OXRUN=/path/to/oxrun: that binary)
# The runtime podman gets is an argv-logging wrapper (lib.sh) around a tap
# that records each call's exit status, its stderr (for the calls that spawn
# no container process) and the --log file conmon passes; the closing
# scenarios check those logs, and the distinct call shapes are printed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=integration/lib.sh
. integration/lib.sh

# --- tools --------------------------------------------------------------------
missing=()
for p in podman conmon; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # --no-install-recommends: no buildah, slirp4netns, fuse-overlayfs; the
  # package's systemd units are only linked, nothing starts here.
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { echo "podman.sh: cannot install ${missing[*]}" >&2; exit 1; }
fi
bash scripts/deps || exit 1
# OXRUN=/path/to/oxrun tests that binary instead of building one.
if [ -z "${OXRUN:-}" ]; then
  cargo build -q -p oxrun || { echo "podman.sh: cargo build -p oxrun failed" >&2; exit 1; }
  OXRUN=${CARGO_TARGET_DIR:-$PWD/target}/debug/oxrun
fi
RUNC=$(command -v runc) || { echo "podman.sh: no runc" >&2; exit 1; }
declare -A REAL=([oxrun]=$OXRUN [runc]=$RUNC)
RUNTIMES=(oxrun runc)

# --- a private podman per runtime ---------------------------------------------
T=$(mktemp -d /tmp/integ-podman.XXXXXX)
IMG=localhost/busybox:integ

# What podman, as root, creates outside its --root/--runroot/--tmpdir: the
# /libpod_parent cgroup (with conmon's cgroup under it) and
# /run/containers/networks. Removed at exit when they were not there before.
pre_libpod_parent=0
[ -d /sys/fs/cgroup/memory/libpod_parent ] && pre_libpod_parent=1
pre_run_containers=0
[ -d /run/containers ] && pre_run_containers=1

# The container ids a runtime was asked to create (from its argv log).
created_ids() {
  awk -F'\t' '{ for (i = 1; i <= NF; i++) if ($i == "create") print $NF }' "$T/$1/argv.log" 2>/dev/null | sort -u
}

cleanup() {
  local r id pid f m c
  for r in "${RUNTIMES[@]}"; do
    [ -x "$T/$r/podman" ] && "$T/$r/podman" rm -af -t 0 >/dev/null 2>&1
  done
  # conmon outlives podman: kill ours (their pid files are in our runroots).
  for f in "$T"/*/*/runroot/*-containers/*/userdata/conmon.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    grep -qs "$T" "/proc/$pid/cmdline" && kill -9 "$pid" 2>/dev/null
  done
  for r in "${RUNTIMES[@]}"; do
    for id in $(created_ids "$r"); do
      "${REAL[$r]}" delete --force "$id" >/dev/null 2>&1
      for c in /sys/fs/cgroup/*/libpod_parent/"libpod-$id"; do
        [ -d "$c" ] && rmdir "$c" 2>/dev/null
      done
    done
  done
  if [ $pre_libpod_parent = 0 ]; then
    for c in /sys/fs/cgroup/*/libpod_parent; do
      [ -d "$c/conmon" ] && rmdir "$c/conmon" 2>/dev/null
      rmdir "$c" 2>/dev/null
    done
  fi
  if [ $pre_run_containers = 0 ]; then
    rmdir /run/containers/networks /run/containers 2>/dev/null
  fi
  # Everything mounted under $T, deepest first.
  findmnt -rn -o TARGET | grep "^$T/" | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# podman as root asks for nofile/nproc 1048576, which this machine cannot
# grant (no CAP_SYS_RESOURCE in the bounding set): give the caller's hard
# limits instead. podman lowers its own RLIMIT_NPROC to kernel.pid_max at
# start (it reads /proc/sys/kernel/pid_max, then setrlimit), so nproc cannot
# be above that either.
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ] && nproc=$pid_max
[ "$nofile" = unlimited ] && nofile=1048576

echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
echo 'unqualified-search-registries = []' >"$T/registries.conf"
cat >"$T/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
# podman has conmon pass --log-format=json --log <oci-log> only to runtimes
# named here (by the binary's basename), as it does for runc by default.
runtime_supports_json = ["crun", "runc", "oxrun"]
EOF

for r in "${RUNTIMES[@]}"; do
  d=$T/$r
  mkdir -p "$d/bin"
  : >"$d/argv.log"
  : >"$d/calls.log"
  : >"$d/runtime-stderr.log"
  : >"$d/podman-stderr.log"
  # The tap: runs the real runtime as a child and records "rc<TAB>argv".
  # create/exec/run keep their stdio untouched (the container inherits it);
  # for them the --log file conmon passes is kept instead. Every other call
  # has its stderr kept (and passed on to podman).
  cat >"$d/tap" <<EOF
#!/bin/bash
log= prev=
for a in "\$@"; do
  [ "\$prev" = --log ] && log=\$a
  case \$a in --log=*) log=\${a#--log=} ;; esac
  prev=\$a
done
case " \$* " in
  *" create "* | *" exec "* | *" run "*)
    '${REAL[$r]}' "\$@"; rc=\$?
    [ -n "\$log" ] && [ -s "\$log" ] && cat "\$log" >>'$d/runtime-stderr.log' ;;
  *)
    err=\$(mktemp '$d/err.XXXXXX')
    '${REAL[$r]}' "\$@" 2>"\$err"; rc=\$?
    cat "\$err" >&2; cat "\$err" >>'$d/runtime-stderr.log'; rm -f "\$err" ;;
esac
(IFS='	'; printf '%s\t%s\n' "\$rc" "\$*") >>'$d/calls.log'
exit \$rc
EOF
  chmod 755 "$d/tap"
  logging_wrapper "$d/tap" "$d/bin/$r" "$d/argv.log"
  # containers/storage insists on these two; the flags below override them.
  cat >"$d/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$d/runroot"
graphroot = "$d/root"
EOF
  # This runtime's podman: every flag that points it at private state. The
  # stderr of every podman call is also kept. timeout --foreground: podman
  # stays in the terminal's foreground process group (run -t under script).
  cat >"$d/podman" <<EOF
#!/bin/bash
export CONTAINERS_CONF='$T/containers.conf' CONTAINERS_STORAGE_CONF='$d/storage.conf' \\
  CONTAINERS_REGISTRIES_CONF='$T/registries.conf'
exec 2> >(tee -a '$d/podman-stderr.log' >&2)
s='$d'/\${PODMAN_STORAGE_DRIVER:-overlay}
exec timeout --foreground -k 10 60 podman --root "\$s/root" --runroot "\$s/runroot" \\
  --tmpdir "\$s/tmp" --cgroup-manager cgroupfs --events-backend file \\
  --storage-driver "\${PODMAN_STORAGE_DRIVER:-overlay}" --network-config-dir "\$s/net" \\
  --volumepath "\$s/vol" --runtime '$d/bin/$r' "\$@"
EOF
  chmod 755 "$d/podman"
done

# pm RUNTIME ARGS...: that runtime's podman. run/create also get the ulimits
# and no network (no CNI/netavark needed).
pm() { "$T/$1/podman" "${@:2}"; }
RUNOPTS=(--network none --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")

# The local busybox image, into each store: overlay, or vfs when overlay
# cannot mount here (decided on runc, the reference; each driver gets its
# own stores, since podman's database records the driver).
busybox_layout "$T/layout" latest >/dev/null 2>&1 || { echo "podman.sh: busybox_layout failed" >&2; exit 1; }
tar -C "$T/layout" -cf "$T/busybox.tar" .
load_image() {
  local r=$1 id
  id=$(pm "$r" pull -q --signature-policy "$T/policy.json" "oci-archive:$T/busybox.tar") || return 1
  pm "$r" tag "$id" "$IMG"
}
export PODMAN_STORAGE_DRIVER=overlay
if ! load_image runc >"$T/load.out" 2>&1 || ! pm runc run --rm "${RUNOPTS[@]}" "$IMG" true >>"$T/load.out" 2>&1; then
  echo "podman.sh: overlay storage does not work here, using vfs:" >&2
  sed 's/^/   /' "$T/load.out" >&2
  export PODMAN_STORAGE_DRIVER=vfs
  load_image runc || { echo "podman.sh: loading the image failed" >&2; exit 1; }
fi
load_image oxrun || { echo "podman.sh: loading the image failed" >&2; exit 1; }
echo "podman $(pm runc version -f '{{.Client.Version}}'), $(conmon --version | head -1), storage $PODMAN_STORAGE_DRIVER"

# --- scenarios ----------------------------------------------------------------
# Each takes the runtime name; returns non-zero with a message on mismatch.

s_run_echo() {
  local out
  out=$(pm "$1" run --rm "${RUNOPTS[@]}" "$IMG" echo hello-from-podman) || { echo "run failed"; return 1; }
  expect_eq "run output" "$out" hello-from-podman
}

s_run_exit_status() {
  local rc=0
  pm "$1" run --rm "${RUNOPTS[@]}" "$IMG" sh -c 'exit 7' || rc=$?
  expect_eq "exit status of sh -c 'exit 7'" "$rc" 7
}

s_run_missing_cmd() {
  # podman maps the runtime's error text: "no such file or directory" -> 127.
  local rc=0
  pm "$1" run --rm "${RUNOPTS[@]}" "$IMG" /no/such/binary || rc=$?
  expect_eq "exit status of a missing command" "$rc" 127
}

s_run_not_executable() {
  # ... and "permission denied" -> 126.
  local rc=0
  pm "$1" run --rm "${RUNOPTS[@]}" "$IMG" /etc/passwd || rc=$?
  expect_eq "exit status of a non-executable command" "$rc" 126
}

s_run_stdin() {
  local out
  out=$(printf 'line1\nline2\n' | pm "$1" run --rm -i "${RUNOPTS[@]}" "$IMG" sh -c 'cat; echo end') ||
    { echo "run -i failed"; return 1; }
  expect_eq "run -i" "$out" "line1
line2
end"
}

state_of() { pm "$1" inspect -f '{{.State.Status}}' "$2"; }

# cgroup_file ID CONTROLLER FILE: the host-side file of podman's cgroup.
cgroup_file() { cat "/sys/fs/cgroup/$2/libpod_parent/libpod-$1/$3"; }

s_lifecycle() {
  local r=$1 id out rc st t0 t1
  # init traps SIGTERM, so `stop` shows whether the runtime delivered it.
  id=$(pm "$r" run -d "${RUNOPTS[@]}" "$IMG" sh -c 'trap "exit 3" TERM; while :; do sleep 0.2; done') ||
    { echo "run -d failed"; return 1; }
  expect_eq "status after run -d" "$(state_of "$r" "$id")" running || return 1

  out=$(pm "$r" exec "$id" sh -c 'echo in-exec; exit 5'); rc=$?
  expect_eq "exec output" "$out" in-exec || return 1
  expect_eq "exec exit status" "$rc" 5 || return 1
  out=$(pm "$r" exec -e EXECVAR=ev -w /tmp "$id" sh -c 'echo "$EXECVAR $(pwd)"') || { echo "exec -e -w failed"; return 1; }
  expect_eq "exec -e -w" "$out" "ev /tmp" || return 1
  out=$(pm "$r" exec --user 65534 "$id" id -u) || { echo "exec --user failed"; return 1; }
  expect_eq "exec --user 65534" "$out" 65534 || return 1
  out=$(echo to-exec | pm "$r" exec -i "$id" cat) || { echo "exec -i failed"; return 1; }
  expect_eq "exec -i" "$out" to-exec || return 1
  rc=0; pm "$r" exec "$id" /no/such/binary || rc=$?
  expect_eq "exec of a missing command" "$rc" 127 || return 1

  out=$(pm "$r" top "$id") || { echo "top failed"; return 1; }
  expect_contains "top" "$out" "while" || return 1

  pm "$r" pause "$id" >/dev/null || { echo "pause failed"; return 1; }
  expect_eq "status after pause" "$(state_of "$r" "$id")" paused || return 1
  st=$(cgroup_file "$id" freezer freezer.state)
  expect_eq "freezer.state after pause" "$st" FROZEN || return 1
  pm "$r" unpause "$id" >/dev/null || { echo "unpause failed"; return 1; }
  expect_eq "status after unpause" "$(state_of "$r" "$id")" running || return 1
  st=$(cgroup_file "$id" freezer freezer.state)
  expect_eq "freezer.state after unpause" "$st" THAWED || return 1

  t0=$(date +%s)
  pm "$r" stop -t 20 "$id" >/dev/null || { echo "stop failed"; return 1; }
  t1=$(date +%s)
  expect_eq "status after stop" "$(state_of "$r" "$id")" exited || return 1
  expect_eq "exit code after stop (SIGTERM trapped)" "$(pm "$r" inspect -f '{{.State.ExitCode}}' "$id")" 3 || return 1
  [ $((t1 - t0)) -lt 10 ] || { echo "stop took $((t1 - t0))s: SIGTERM not delivered?"; return 1; }

  pm "$r" rm "$id" >/dev/null || { echo "rm failed"; return 1; }
  out=$(pm "$r" ps -a -q --no-trunc --filter "id=$id")
  expect_eq "podman ps after rm" "$out" "" || return 1
  if "${REAL[$r]}" state "$id" >/dev/null 2>&1; then
    echo "$r state $id still succeeds after rm"; return 1
  fi
  local left
  left=$(ls -d /sys/fs/cgroup/*/libpod_parent/"libpod-$id" 2>/dev/null)
  expect_eq "cgroups left after rm" "$left" ""
}

s_signals_logs_restart() {
  local r=$1 id out
  id=$(pm "$r" run -d "${RUNOPTS[@]}" "$IMG" \
    sh -c 'trap "echo got-usr1 >/tmp/sig" USR1; echo logged-line; while :; do sleep 0.2; done') ||
    { echo "run -d failed"; return 1; }
  pm "$r" kill -s USR1 "$id" >/dev/null || { echo "kill -s USR1 failed"; return 1; }
  for _ in $(seq 50); do
    out=$(pm "$r" exec "$id" cat /tmp/sig 2>/dev/null) && break
    sleep 0.1
  done
  expect_eq "USR1 trapped by init" "$out" got-usr1 || { pm "$r" rm -f -t 0 "$id" >/dev/null; return 1; }
  expect_eq "status after kill -s USR1" "$(state_of "$r" "$id")" running || return 1
  # restart: kill, delete and a new create + start under the same id.
  pm "$r" restart -t 0 "$id" >/dev/null || { echo "restart failed"; return 1; }
  expect_eq "status after restart" "$(state_of "$r" "$id")" running || return 1
  out=$(pm "$r" exec "$id" echo after-restart) || { echo "exec after restart failed"; return 1; }
  expect_eq "exec after restart" "$out" after-restart || return 1
  out=$(pm "$r" logs "$id")
  pm "$r" rm -f -t 0 "$id" >/dev/null
  expect_eq "logs (one line per start)" "$out" "logged-line
logged-line"
}

s_update() {
  local r=$1 id rc=0 q
  id=$(pm "$r" run -d "${RUNOPTS[@]}" "$IMG" sleep 1000) || { echo "run -d failed"; return 1; }
  pm "$r" update --cpus 0.5 "$id" >/dev/null || rc=1
  q=$(cgroup_file "$id" cpu cpu.cfs_quota_us)
  pm "$r" rm -f -t 0 "$id" >/dev/null
  [ $rc = 0 ] || { echo "update failed"; return 1; }
  expect_eq "cpu.cfs_quota_us after update --cpus 0.5" "$q" 50000
}

# tty CMD...: runs a command line under script(1), i.e. with a terminal.
tty_run() { script -qec "$*" /dev/null </dev/null | tr -d '\r'; }

s_run_tty() {
  local out
  out=$(tty_run "$T/$1/podman run --rm -t ${RUNOPTS[*]} $IMG sh -c '[ -t 0 ] && [ -t 1 ] && echo tty-yes || echo tty-no'")
  expect_eq "run -t" "$out" tty-yes
}

s_exec_tty() {
  local r=$1 id out
  id=$(pm "$r" run -d "${RUNOPTS[@]}" "$IMG" sleep 1000) || { echo "run -d failed"; return 1; }
  out=$(tty_run "$T/$r/podman exec -t $id sh -c '[ -t 0 ] && [ -t 1 ] && echo exec-tty-yes || echo exec-tty-no'")
  local plain
  plain=$(pm "$r" exec "$id" sh -c '[ -t 0 ] && echo tty || echo notty')
  pm "$r" rm -f -t 0 "$id" >/dev/null
  expect_eq "exec -t" "$out" exec-tty-yes || return 1
  expect_eq "exec without -t" "$plain" notty
}

s_memory() {
  local out
  # v1: the container's memory cgroup is mounted at /sys/fs/cgroup/memory;
  # v2: memory.max at /sys/fs/cgroup.
  out=$(pm "$1" run --rm "${RUNOPTS[@]}" --memory 64m "$IMG" \
    sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max') ||
    { echo "run --memory failed: $out"; return 1; }
  expect_eq "memory limit inside" "$out" 67108864
}

s_pids_cpus() {
  local out
  out=$(pm "$1" run --rm "${RUNOPTS[@]}" --pids-limit 20 --cpus 0.5 "$IMG" \
    sh -c 'cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null ||
           cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max') ||
    { echo "run --pids-limit --cpus failed: $out"; return 1; }
  case $out in
    "20"$'\n'"50000" | "20"$'\n'"50000 100000") ;;
    *) echo "pids/cpu limits inside: got [$out], want 20 and a 50000 quota"; return 1 ;;
  esac
}

s_cgroup_hierarchies() {
  # Every hierarchy the container is in (the v1 controllers, the named
  # name=systemd one, the v2 one) is podman's cgroupsPath, and the cgroup
  # mount shows the container's own cgroup: no release_agent (only a
  # hierarchy's root has one), no libpod_parent sibling directory.
  local out bad
  out=$(pm "$1" run --rm "${RUNOPTS[@]}" "$IMG" sh -c \
    'cat /proc/self/cgroup; for d in /sys/fs/cgroup/*/; do ls "$d" | sed "s#^#$d #"; done') ||
    { echo "run failed: $out"; return 1; }
  bad=$(printf '%s\n' "$out" | grep -E '^[0-9]+:' | grep -vE ':/libpod_parent/libpod-[0-9a-f]{64}$')
  [ -z "$bad" ] || { echo "not in podman's cgroup:"; echo "$bad"; return 1; }
  bad=$(printf '%s\n' "$out" | grep -E '^/sys/fs/cgroup/.* (release_agent|libpod_parent)$')
  [ -z "$bad" ] || { echo "a hierarchy's root is visible inside:"; echo "$bad"; return 1; }
}

s_read_only() {
  local out
  out=$(pm "$1" run --rm "${RUNOPTS[@]}" --read-only "$IMG" \
    sh -c 'if touch /written 2>/dev/null; then echo root-writable; else echo root-ro; fi; touch /tmp/ok && echo tmp-rw') ||
    { echo "run --read-only failed: $out"; return 1; }
  expect_eq "--read-only" "$out" "root-ro
tmp-rw"
}

s_env() {
  local out
  out=$(pm "$1" run --rm "${RUNOPTS[@]}" -e FOO=bar -e 'SPACED=a b' "$IMG" sh -c 'echo "$FOO|$SPACED|$PATH"') ||
    { echo "run -e failed"; return 1; }
  expect_eq "-e" "$out" "bar|a b|/bin:/sbin:/usr/bin:/usr/sbin"
}

s_workdir() {
  local out
  out=$(pm "$1" run --rm "${RUNOPTS[@]}" -w /var/tmp "$IMG" pwd) || { echo "run -w failed"; return 1; }
  expect_eq "-w" "$out" /var/tmp
}

s_user() {
  local out
  out=$(pm "$1" run --rm "${RUNOPTS[@]}" --user 65534 "$IMG" sh -c 'id -u; id -g') || { echo "run --user failed"; return 1; }
  expect_eq "--user 65534" "$out" "65534
65534"
}

# --- checks on what the runtime was called with -------------------------------

UNKNOWN_RE='unknown (flag|option|command)|unexpected argument|flag provided but not defined|unrecognized|Incorrect Usage|invalid value .* for'

s_no_unknown_flags() {
  local r=$1 d=$T/$1 hits bad
  hits=$(grep -hiE "$UNKNOWN_RE" "$d/runtime-stderr.log" "$d/podman-stderr.log")
  [ -z "$hits" ] || { echo "rejected calls:"; echo "$hits"; return 1; }
  # clap and urfave/cli exit with 2 / 1 on a usage error; a usage error that
  # printed nothing recognisable still shows as exit 2.
  bad=$(awk -F'\t' '$1 == 2' "$d/calls.log")
  [ -z "$bad" ] || { echo "calls that exited 2 (usage error):"; echo "$bad"; return 1; }
  [ -s "$d/argv.log" ] || { echo "no calls logged"; return 1; }
}

s_verbs_seen() {
  local r=$1 v missing=()
  for v in create start exec pause resume kill delete update; do
    awk -F'\t' -v v="$v" '{ for (i = 1; i <= NF; i++) if ($i == v) f = 1 } END { exit !f }' "$T/$r/argv.log" ||
      missing+=("$v")
  done
  [ ${#missing[@]} -eq 0 ] || { echo "never called: ${missing[*]}"; return 1; }
  # conmon passes the JSON error log (runtime_supports_json) on create/exec
  grep -q -- '--log-format=json' "$T/$r/argv.log" || { echo "no --log-format=json call"; return 1; }
}

s_no_leftovers() {
  local r=$1 id left=()
  for id in $(created_ids "$r"); do
    [ -e "/run/$r/$id" ] && left+=("/run/$r/$id")
    for c in /sys/fs/cgroup/*/libpod_parent/"libpod-$id"; do
      [ -d "$c" ] && left+=("$c")
    done
  done
  [ ${#left[@]} -eq 0 ] || { printf 'left behind: %s\n' "${left[@]}"; return 1; }
}

for r in "${RUNTIMES[@]}"; do
  scenario "run: echo" "$r" s_run_echo "$r"
  scenario "run: exit status 7" "$r" s_run_exit_status "$r"
  scenario "run: missing command -> 127" "$r" s_run_missing_cmd "$r"
  scenario "run: not executable -> 126" "$r" s_run_not_executable "$r"
  scenario "run -i: stdin" "$r" s_run_stdin "$r"
  scenario "run -d/exec/top/pause/unpause/stop/rm" "$r" s_lifecycle "$r"
  scenario "kill -s USR1/restart/logs" "$r" s_signals_logs_restart "$r"
  scenario "update --cpus" "$r" s_update "$r"
  scenario "run -t" "$r" s_run_tty "$r"
  scenario "exec -t" "$r" s_exec_tty "$r"
  scenario "--memory 64m inside" "$r" s_memory "$r"
  scenario "--pids-limit/--cpus inside" "$r" s_pids_cpus "$r"
  scenario "cgroups: every hierarchy the container's own" "$r" s_cgroup_hierarchies "$r"
  scenario "--read-only" "$r" s_read_only "$r"
  scenario "-e" "$r" s_env "$r"
  scenario "-w" "$r" s_workdir "$r"
  scenario "--user 65534" "$r" s_user "$r"
done
for r in "${RUNTIMES[@]}"; do
  pm "$r" rm -af -t 0 >/dev/null 2>&1
  scenario "calls: no flag rejected" "$r" s_no_unknown_flags "$r"
  scenario "calls: every verb seen" "$r" s_verbs_seen "$r"
  scenario "no state or cgroup left" "$r" s_no_leftovers "$r"
done

echo "-- what podman/conmon called oxrun with (distinct shapes; 64-hex ids -> <id>):"
sed -E -e "s#$T/oxrun#<dir>#g" -e 's/[0-9a-f]{64}/<id>/g' -e 's/exec-process-[A-Za-z0-9]+/exec-process-<r>/g' -e 's#/var/tmp/podman[0-9]+#/var/tmp/podman<n>#' \
  -e 's#/tmp/conmon-term\.[A-Za-z0-9]+#/tmp/conmon-term.<r>#g' -e 's/\t/ /g' "$T/oxrun/argv.log" |
  sort | uniq -c | sort -rn | sed 's/^/   /'

summary
