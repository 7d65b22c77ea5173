#!/usr/bin/env bash
# oxrun under a real containerd (1.6, runc shim io.containerd.runc.v2), with
# runc as the reference: every scenario runs once with `--runc-binary` set to
# an argv-logging wrapper around oxrun and once around runc. At the end the
# logs are checked (no call rejected for its flags, every verb containerd uses
# was called, the same calls for both) and the calls oxrun got are printed.
#
#   bash integration/containerd.sh        (root; part of integration/run)
#
# containerd is private to this run: its own config, root, state, sockets,
# fifo dir and runc root under one mktemp -d directory, and its own namespace
# (integ-$$, so cgroups are /integ-$$/<id>). Nothing is left behind: no
# containerd, shim or container process, mount, cgroup or shim socket.
# Single quotes around $… are for the container's shell; pid and id lists
# are words.
# shellcheck disable=SC2016,SC2013
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=integration/lib.sh
. integration/lib.sh

die() {
  echo "containerd.sh: $*" >&2
  exit 1
}

# --- prerequisites ----------------------------------------------------------
if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
  echo "containerd.sh: installing containerd" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd >/dev/null ||
    die "cannot install containerd"
fi
bash scripts/deps || die "scripts/deps failed"
command -v script >/dev/null || die "script(1) (bsdutils) is missing"
cargo build -q -p oxrun || die "cargo build -p oxrun failed"
target=${CARGO_TARGET_DIR:-$PWD/target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
[ -x "$target/debug/oxrun" ] || die "no $target/debug/oxrun after the build"
RUNC=$(command -v runc) || die "runc is missing"

T=$(mktemp -d /tmp/integ-containerd.XXXXXX)
NS=integ-$$
SOCK=$T/containerd.sock
IMG=docker.io/library/integ-busybox:latest
IMG_NOBODY=docker.io/library/integ-busybox:nobody
CTRD_PID=
RUNTIMES=(oxrun runc)
# A private copy: other builds in the shared target dir cannot swap the binary
# under a running test.
mkdir -p "$T/bin"
cp "$target/debug/oxrun" "$T/bin/oxrun"
logging_wrapper "$T/bin/oxrun" "$T/wrap-oxrun" "$T/argv-oxrun.log"
logging_wrapper "$RUNC" "$T/wrap-runc" "$T/argv-runc.log"
: >"$T/argv-oxrun.log"
: >"$T/argv-runc.log"
: >"$T/ids"

if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then CGV=2; else CGV=1; fi

# --- teardown (idempotent; also the EXIT trap) -------------------------------
# The shim socket of container ID: containerd 1.6 names it after
# sha256(<containerd address>/<namespace>/<id>) under /run/containerd/s.
shim_socket() {
  local h
  h=$(printf '%s' "$SOCK/$NS/$1" | sha256sum | cut -d' ' -f1)
  echo "/run/containerd/s/$h"
}

# Processes of our containerd's shims (their command line names our socket).
our_shims() { pgrep -f -- "-address $SOCK( |\$)" || true; }

# Our namespace's cgroup directories, deepest first, on every hierarchy.
our_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS"; do
    [ -d "$d" ] && find "$d" -depth -type d
  done
}

mounts_under() { awk -v p="$1" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo; }

teardown() {
  [ -n "${T:-}" ] && [ -d "$T" ] || return 0
  local p d m id i
  if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
    # Whatever a failed scenario left: tasks (killed) and containers.
    for id in $(c task ls -q 2>/dev/null); do c task delete -f "$id" >/dev/null 2>&1; done
    for id in $(c containers ls -q 2>/dev/null); do c containers delete "$id" >/dev/null 2>&1; done
    kill "$CTRD_PID" 2>/dev/null
    for i in $(seq 50); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$CTRD_PID" 2>/dev/null
    wait "$CTRD_PID" 2>/dev/null
  fi
  CTRD_PID=
  # Container processes still in our cgroups (thawed first: a frozen task
  # does not die), then the shims, then the cgroups themselves.
  for d in $(our_cgroups); do
    [ -f "$d/freezer.state" ] && echo THAWED >"$d/freezer.state" 2>/dev/null
    [ -f "$d/cgroup.freeze" ] && echo 0 >"$d/cgroup.freeze" 2>/dev/null
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  done
  for p in $(our_shims); do kill -9 "$p" 2>/dev/null; done
  for i in $(seq 20); do
    [ -z "$(our_shims)" ] && break
    sleep 0.1
  done
  for d in $(our_cgroups); do
    for i in $(seq 20); do rmdir "$d" 2>/dev/null && break; [ -d "$d" ] || break; sleep 0.1; done
  done
  for m in $(mounts_under "$T/" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m"; done
  while read -r id; do
    [ -n "$id" ] && rm -f "$(shim_socket "$id")" "$(shim_socket "$id").debug"
  done <"$T/ids"
  if [ -z "$(mounts_under "$T/")" ]; then
    rm -rf --one-file-system "$T"
  else
    echo "containerd.sh: mounts left under $T; not removing it" >&2
  fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- containerd -------------------------------------------------------------
# ctr against our containerd and namespace; stdin closed; never a hang.
c() { timeout 60 ctr --address "$SOCK" -n "$NS" "$@" </dev/null; }
# ctr run RT [opts] IMAGE ID CMD...: through RT's logging wrapper.
crun() {
  local rt=$1
  shift
  c run --fifo-dir "$T/fifo" --runc-root "$T/runc" --runc-binary "$T/wrap-$rt" "$@"
}
cexec() { c task exec --fifo-dir "$T/fifo" "$@"; }
# newid RT NAME: a container id, remembered for the socket cleanup.
newid() {
  echo "$1-$2" >>"$T/ids"
  echo "$1-$2"
}

cat >"$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
  "io.containerd.internal.v1.restart",
]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
EOF
containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 </dev/null &
CTRD_PID=$!
for _ in $(seq 100); do
  [ -S "$SOCK" ] && ctr --address "$SOCK" version >/dev/null 2>&1 && break
  kill -0 "$CTRD_PID" 2>/dev/null || break
  sleep 0.1
done
if ! c version >/dev/null 2>&1; then
  tail -n 20 "$T/containerd.log" >&2
  die "containerd did not come up"
fi
# overlayfs when its plugin loaded (it test-mounts at start), else native.
if c plugins ls | grep -Eq '^io\.containerd\.snapshotter\.v1 +overlayfs .* ok *$'; then
  export CONTAINERD_SNAPSHOTTER=overlayfs
else
  export CONTAINERD_SNAPSHOTTER=native
fi

# --- the image: local busybox, plus a tag whose config says USER 65534 ------
busybox_layout "$T/layout" latest >/dev/null || die "busybox_layout failed"
umoci config --image "$T/layout:latest" --tag nobody --config.user 65534 ||
  die "umoci config --config.user failed"
for tag in latest nobody; do
  skopeo copy -q "oci:$T/layout:$tag" "oci-archive:$T/$tag.tar:docker.io/library/integ-busybox:$tag" ||
    die "skopeo copy $tag failed"
  c images import "$T/$tag.tar" >/dev/null || die "ctr images import $tag failed"
done
echo "containerd $(containerd --version | awk '{print $3}'), snapshotter $CONTAINERD_SNAPSHOTTER, cgroup v$CGV, namespace $NS; set up in $SECONDS s" >&2

# --- helpers for scenarios ---------------------------------------------------
# task_field ID COLUMN: from `ctr task ls` (2 = pid, 3 = status).
task_field() { c task ls | awk -v id="$1" -v f="$2" '$1 == id {print $f}'; }

# wait_status ID STATUS: up to 10 s.
wait_status() {
  local i
  for i in $(seq 100); do
    [ "$(task_field "$1" 3)" = "$2" ] && return 0
    sleep 0.1
  done
  echo "task $1: status $(task_field "$1" 3), want $2" >&2
  return 1
}

# The host cgroup directory of container ID for controller CTRL (v1), or the
# unified one (v2).
cg_dir() {
  if [ "$CGV" = 2 ]; then echo "/sys/fs/cgroup/$NS/$2"; else echo "/sys/fs/cgroup/$1/$NS/$2"; fi
}

# in_tty CMD...: runs CMD (a ctr command line, words quoted for sh) on a
# pseudo-terminal made by script(1); its exit status is CMD's.
in_tty() { timeout 60 script -qec "$*" /dev/null </dev/null; }

# --- scenarios ---------------------------------------------------------------
s_echo() {
  local rt=$1 out
  out=$(crun "$rt" --rm "$IMG" "$(newid "$rt" echo)" echo "hello from $rt") ||
    { echo "ctr run failed: $out"; return 1; }
  expect_eq "echo output" "$out" "hello from $rt"
}

s_exit_status() {
  local rt=$1 rc
  crun "$rt" --rm "$IMG" "$(newid "$rt" exit7)" sh -c 'exit 7'
  rc=$?
  expect_eq "ctr run exit status of sh -c 'exit 7'" "$rc" 7 || return 1
  crun "$rt" --rm "$IMG" "$(newid "$rt" exit0)" true
  rc=$?
  expect_eq "ctr run exit status of true" "$rc" 0
}

# A failing create: ctr fails, with the runtime's error (from its --log file,
# which the shim reads) in its message.
s_create_error() {
  local rt=$1 out
  if out=$(crun "$rt" --rm "$IMG" "$(newid "$rt" noexe)" no-such-command 2>&1); then
    echo "ctr run of a missing command succeeded: $out"
    return 1
  fi
  expect_contains "ctr run of a missing command" "$out" "executable file not found" || return 1
  if out=$(crun "$rt" --rm "$IMG" "$(newid "$rt" noperm)" /etc/passwd 2>&1); then
    echo "ctr run of a non-executable file succeeded: $out"
    return 1
  fi
  expect_contains "ctr run of a non-executable file" "$out" "permission denied" || return 1
  if c containers ls -q | grep -q "^$rt-no"; then echo "a failed container is still listed"; return 1; fi
}

# One detached container per runtime for the lifecycle steps below.
life_id() { echo "$1-life"; }

s_run_detached() {
  local rt=$1 id pid cg
  id=$(newid "$rt" life)
  # TERM is trapped: the exit code 42 later shows that `kill` delivered it.
  crun "$rt" -d "$IMG" "$id" sh -c 'trap "exit 42" TERM; sleep 1000 & wait' ||
    { echo "ctr run -d failed"; return 1; }
  wait_status "$id" RUNNING || return 1
  pid=$(task_field "$id" 2)
  if [ -z "$pid" ] || [ ! -d "/proc/$pid" ]; then echo "task pid [$pid] is not a live process"; return 1; fi
  # containerd's cgroupsPath is /<namespace>/<id>.
  if [ "$CGV" = 2 ]; then
    cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
  else
    cg=$(sed -n 's/^[0-9]*:memory://p' "/proc/$pid/cgroup")
  fi
  expect_eq "cgroup of the task's init" "$cg" "/$NS/$id"
}

s_exec() {
  local rt=$1 id out rc
  id=$(life_id "$rt")
  out=$(cexec --exec-id x1 "$id" sh -c 'echo exec-ok; tr "\0" " " </proc/1/cmdline') ||
    { echo "exec failed: $out"; return 1; }
  # Same pid namespace: pid 1 is the container's init.
  expect_eq "exec output" "$out" "exec-ok
sh -c trap \"exit 42\" TERM; sleep 1000 & wait " || return 1
  cexec --exec-id x2 "$id" sh -c 'exit 4'
  rc=$?
  expect_eq "exit status of an exec'd sh -c 'exit 4'" "$rc" 4 || return 1
  out=$(cexec --exec-id x3 --user 65534:65534 --cwd /tmp "$id" sh -c 'echo $(id -u):$(id -g) $(pwd)') ||
    { echo "exec --user failed: $out"; return 1; }
  expect_eq "exec --user 65534:65534 --cwd /tmp" "$out" "65534:65534 /tmp"
}

s_exec_tty() {
  local rt=$1 id out rc
  id=$(life_id "$rt")
  out=$(in_tty "ctr --address '$SOCK' -n '$NS' task exec -t --fifo-dir '$T/fifo' --exec-id xtty '$id'" \
    "sh -c '[ -t 0 ] && [ -t 1 ] && echo exec-on-a-tty; tty; exit 3'")
  rc=$?
  expect_contains "exec -t output" "$out" "exec-on-a-tty" || return 1
  expect_contains "exec -t tty(1)" "$out" "/dev/pts/" || return 1
  expect_eq "exec -t exit status" "$rc" 3
}

s_ps() {
  local rt=$1 id pid pids p bg=
  id=$(life_id "$rt")
  cexec -d --exec-id xbg "$id" sleep 1001 || { echo "exec -d failed"; return 1; }
  pid=$(task_field "$id" 2)
  pids=$(c task ps "$id" | awk 'NR > 1 {print $1}' | tr '\n' ' ') || { echo "ctr task ps failed"; return 1; }
  echo "$pids" >"$T/$id.pids"
  expect_contains "ctr task ps" " $pids" " $pid " || return 1
  for p in $pids; do
    [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "sleep 1001 " ] && bg=$p
  done
  [ -n "$bg" ] || { echo "ctr task ps [$pids] lacks the exec'd sleep 1001"; return 1; }
  # init, its background sleep and the exec'd sleep
  expect_eq "number of pids" "$(echo "$pids" | wc -w)" 3
}

s_pause_resume() {
  local rt=$1 id out
  id=$(life_id "$rt")
  c task pause "$id" || { echo "ctr task pause failed"; return 1; }
  wait_status "$id" PAUSED || return 1
  if [ "$CGV" = 2 ]; then
    grep -qx 'frozen 1' "$(cg_dir - "$id")/cgroup.events" || { echo "cgroup not frozen"; return 1; }
  else
    expect_eq "freezer.state" "$(cat "$(cg_dir freezer "$id")/freezer.state")" FROZEN || return 1
  fi
  c task resume "$id" || { echo "ctr task resume failed"; return 1; }
  wait_status "$id" RUNNING || return 1
  if [ "$CGV" = 2 ]; then
    grep -qx 'frozen 0' "$(cg_dir - "$id")/cgroup.events" || { echo "cgroup still frozen"; return 1; }
  else
    expect_eq "freezer.state" "$(cat "$(cg_dir freezer "$id")/freezer.state")" THAWED || return 1
  fi
  out=$(cexec --exec-id xafter "$id" echo alive) || { echo "exec after resume failed: $out"; return 1; }
  expect_eq "exec after resume" "$out" alive
}

s_kill() {
  local rt=$1 id
  id=$(life_id "$rt")
  c task kill "$id" || { echo "ctr task kill failed"; return 1; }
  wait_status "$id" STOPPED
}

s_delete() {
  local rt=$1 id out p
  id=$(life_id "$rt")
  out=$(c task delete "$id" 2>&1) || { echo "ctr task delete failed: $out"; return 1; }
  # ctr reports the init's exit code: the TERM trap's 42.
  expect_contains "ctr task delete" "$out" "exit code 42" || return 1
  c containers delete "$id" || { echo "ctr container delete failed"; return 1; }
  if c containers ls -q | grep -qx "$id"; then echo "container $id still listed"; return 1; fi
  for p in $(cat "$T/$id.pids" 2>/dev/null); do
    [ -d "/proc/$p" ] && { echo "pid $p of the container still alive"; return 1; }
  done
  [ ! -e "$(cg_dir memory "$id")" ] || { echo "cgroup $(cg_dir memory "$id") left"; return 1; }
  [ ! -e "$T/runc/$NS/$id" ] || { echo "runtime state $T/runc/$NS/$id left"; return 1; }
}

# ctr task delete --force of a running task: the shim calls `kill --all ID 9`.
s_force_delete() {
  local rt=$1 id pids p out
  id=$(newid "$rt" force)
  crun "$rt" -d "$IMG" "$id" sleep 1000 || { echo "ctr run -d failed"; return 1; }
  wait_status "$id" RUNNING || return 1
  cexec -d --exec-id xbg "$id" sleep 1002 || { echo "exec -d failed"; return 1; }
  pids=$(c task ps "$id" | awk 'NR > 1 {print $1}')
  expect_eq "number of pids" "$(echo "$pids" | wc -w)" 2 || return 1
  out=$(c task delete -f "$id" 2>&1) || { echo "ctr task delete -f failed: $out"; return 1; }
  # killed by SIGKILL
  expect_contains "ctr task delete -f" "$out" "exit code 137" || return 1
  if c task ls -q | grep -qx "$id"; then echo "task $id still listed"; return 1; fi
  sleep 0.2
  for p in $pids; do
    [ -d "/proc/$p" ] && { echo "pid $p survived the force delete"; return 1; }
  done
  c containers delete "$id" || { echo "ctr container delete failed"; return 1; }
  [ ! -e "$(cg_dir memory "$id")" ] || { echo "cgroup $(cg_dir memory "$id") left"; return 1; }
}

s_tty() {
  local rt=$1 id out rc
  id=$(newid "$rt" tty)
  out=$(in_tty "ctr --address '$SOCK' -n '$NS' run --rm -t --fifo-dir '$T/fifo' --runc-root '$T/runc'" \
    "--runc-binary '$T/wrap-$rt' '$IMG' '$id'" \
    "sh -c '[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo on-a-tty; tty; exit 5'")
  rc=$?
  expect_contains "run -t output" "$out" "on-a-tty" || return 1
  expect_contains "run -t tty(1)" "$out" "/dev/pts/" || return 1
  expect_eq "run -t exit status" "$rc" 5
}

s_memory_limit() {
  local rt=$1 id out want=67108864 file
  id=$(newid "$rt" mem)
  if [ "$CGV" = 2 ]; then file=/sys/fs/cgroup/memory.max; else file=/sys/fs/cgroup/memory/memory.limit_in_bytes; fi
  # containerd's default spec mounts no cgroupfs: ask for one (read-only).
  out=$(crun "$rt" --rm --memory-limit "$want" \
    --mount type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:nodev:noexec \
    "$IMG" "$id" cat "$file") || { echo "ctr run failed: $out"; return 1; }
  expect_eq "$file inside" "$out" "$want"
}

s_readonly() {
  local rt=$1 out
  out=$(crun "$rt" --rm "$IMG" "$(newid "$rt" rw)" sh -c 'touch /probe && echo wrote') ||
    { echo "ctr run failed: $out"; return 1; }
  expect_eq "writing / without --read-only" "$out" wrote || return 1
  out=$(crun "$rt" --rm --read-only "$IMG" "$(newid "$rt" ro)" \
    sh -c 'touch /probe 2>&1 && echo wrote; echo shm >/dev/shm/x && echo shm-writable')
  expect_eq "writing / and /dev/shm with --read-only" "$out" "touch: /probe: Read-only file system
shm-writable"
}

s_env() {
  local rt=$1 out
  out=$(crun "$rt" --rm --env FOO=bar --env 'SPACED=a b' "$IMG" "$(newid "$rt" env)" \
    sh -c 'echo "$FOO|$SPACED|$PATH"') || { echo "ctr run failed: $out"; return 1; }
  # PATH comes from the image config.
  expect_eq "env" "$out" "bar|a b|/bin:/sbin:/usr/bin:/usr/sbin"
}

s_cwd() {
  local rt=$1 out
  out=$(crun "$rt" --rm --cwd /tmp "$IMG" "$(newid "$rt" cwd)" pwd) || { echo "ctr run failed: $out"; return 1; }
  expect_eq "--cwd /tmp" "$out" /tmp || return 1
  # A missing cwd is created (runc does, images rely on it).
  out=$(crun "$rt" --rm --cwd /made/by/runtime "$IMG" "$(newid "$rt" cwd2)" pwd) ||
    { echo "ctr run failed: $out"; return 1; }
  expect_eq "--cwd /made/by/runtime" "$out" /made/by/runtime
}

# ctr 1.6 `run` has no --user: the image's config says USER 65534 (containerd
# takes the gid from the image's /etc/passwd).
s_user() {
  local rt=$1 out
  out=$(crun "$rt" --rm "$IMG_NOBODY" "$(newid "$rt" user)" sh -c 'echo $(id -u) $(id -g) $(id -G)') ||
    { echo "ctr run failed: $out"; return 1; }
  expect_eq "id -u, id -g, id -G" "$out" "65534 65534 65534"
}

# --- the logs ----------------------------------------------------------------
# argv_shapes RT: the calls RT got, one per line, words space-separated, with
# temporary paths, the namespace, container and exec ids generalized.
argv_shapes() {
  sed -E -e "s#$T#\$T#g" -e "s#$NS#<ns>#g" \
    -e 's#/tmp/runc-process[0-9]+#/tmp/runc-process<N>#g' -e 's#/tmp/pty[0-9]+/#/tmp/pty<N>/#g' \
    -e "s#(^|[/\t])$1-[a-z0-9]+([/\t]|\$)#\1<id>\2#g" \
    -e 's#/init\.pid#/INIT.PID#g' -e 's#(<id>/)[^/\t]+\.pid#\1<exec-id>.pid#g' -e 's#/INIT\.PID#/init.pid#g' \
    -e 's#\t# #g' "$T/argv-$1.log"
}

# The verb of each logged call (the first word that is neither a global flag
# nor its value).
logged_verbs() {
  awk -F'\t' '{
    for (i = 1; i <= NF; i++) {
      if ($i == "--root" || $i == "--log" || $i == "--log-format") { i++; continue }
      if ($i ~ /^-/) continue
      print $i; break
    }
  }' "$T/argv-$1.log" | sort -u
}

s_verbs_called() {
  local rt=$1 verbs v missing=
  verbs=" $(logged_verbs "$rt" | tr '\n' ' ')"
  for v in create start exec ps pause resume kill delete; do
    case $verbs in *" $v "*) ;; *) missing+=" $v" ;; esac
  done
  [ -z "$missing" ] || { echo "verbs never called:$missing (called:$verbs)"; return 1; }
  # The variants the contract lists.
  local shapes
  shapes=$(argv_shapes "$rt")
  for v in "create --bundle" "--console-socket /tmp/pty<N>/pty.sock <id>" "exec --process" \
    "--detach" "ps --format json" "kill --all <id> 9" "kill <id> 15" "delete --force <id>"; do
    expect_contains "calls of $rt" "$shapes" "$v" || return 1
  done
}

# usage_error OUT: whether a runtime's output is a complaint about its flags
# (clap: oxrun; urfave/cli: runc).
usage_error() {
  grep -Eiq 'unexpected argument|unknown (flag|option)|flag provided but not defined|incorrect usage|unrecognized subcommand|invalid value .* for|^usage:' <<<"$1"
}

# replay RT ARGV...: runs RT's real binary with a logged argv, pointed at a
# fresh state root and log, a container id that does not exist and paths
# that do not exist, so that it does nothing but parse and fail (or, for
# `delete --force`, succeed). Prints the exit status, stderr and log.
replay() {
  local rt=$1 bin out rc i
  shift
  local argv=("$@") nope=$T/replay-missing
  [ "$rt" = oxrun ] && bin=$T/bin/oxrun || bin=$RUNC
  for ((i = 0; i < ${#argv[@]}; i++)); do
    case ${argv[i]} in
      --root) argv[i + 1]=$T/replay-root-$rt ;;
      --log) argv[i + 1]=$T/replay-$rt.log ;;
      --bundle | --pid-file | --process | --console-socket) argv[i + 1]=$nope/${argv[i]#--} ;;
      "$rt"-*) argv[i]=integ-missing-$$ ;;
    esac
  done
  rm -f "$T/replay-$rt.log"
  out=$("$bin" "${argv[@]}" 2>&1)
  rc=$?
  printf 'rc=%s\n%s\n%s\n' "$rc" "$out" "$(cat "$T/replay-$rt.log" 2>/dev/null)"
}

# Every distinct call containerd made, replayed: none is a usage error. The
# same check on a call with an unknown flag added must see one.
s_flags_accepted() {
  local rt=$1 line out n calls=0 bad=0
  local -a argv
  # The control: an unknown flag is recognised as such.
  IFS=$'\t' read -r -a argv < <(grep -m1 $'\tstart\t' "$T/argv-$rt.log")
  [ ${#argv[@]} -gt 0 ] || { echo "no start call logged"; return 1; }
  out=$(replay "$rt" "${argv[@]:0:${#argv[@]}-1}" --no-such-flag "${argv[-1]}")
  usage_error "$out" || { echo "control: an unknown flag was not detected: $out"; return 1; }
  # The calls, one per distinct shape.
  while IFS= read -r n; do
    line=$(sed -n "${n}p" "$T/argv-$rt.log")
    IFS=$'\t' read -r -a argv <<<"$line"
    out=$(replay "$rt" "${argv[@]}")
    calls=$((calls + 1))
    if usage_error "$out"; then
      echo "rejected: ${argv[*]}"
      printf '%s\n' "$out"
      bad=$((bad + 1))
    fi
  done < <(argv_shapes "$rt" | awk '!seen[$0]++ {print NR}')
  [ "$calls" -gt 0 ] || { echo "nothing logged"; return 1; }
  [ "$bad" -eq 0 ]
}

s_same_calls_as_runc() {
  local d
  d=$(diff <(argv_shapes runc | sort -u) <(argv_shapes oxrun | sort -u)) ||
    { echo "calls differ (< runc, > oxrun):"; echo "$d"; return 1; }
}

# After every container is deleted: nothing of RT's containers is left.
s_nothing_left() {
  local rt=$1 i id left=
  for i in $(seq 50); do
    left=$(pgrep -af -- "-id $rt-[a-z0-9]+ -address $SOCK( |\$)")
    [ -z "$left" ] && break
    sleep 0.1
  done
  [ -z "$left" ] || { echo "shims left: $left"; return 1; }
  left=$(mounts_under "$T/state/io.containerd.runtime.v2.task/$NS/$rt-")
  [ -z "$left" ] || { echo "mounts left: $left"; return 1; }
  left=$(our_cgroups | grep -E "/$NS/$rt-" || true)
  [ -z "$left" ] || { echo "cgroups left: $left"; return 1; }
  left=$(ls -d "$T/runc/$NS/$rt-"* 2>/dev/null)
  [ -z "$left" ] || { echo "runtime state left: $left"; return 1; }
  left=$(c containers ls -q | grep "^$rt-")
  [ -z "$left" ] || { echo "containers left: $left"; return 1; }
  for id in $(grep "^$rt-" "$T/ids"); do
    [ -e "$(shim_socket "$id")" ] && { echo "shim socket of $id left: $(shim_socket "$id")"; return 1; }
  done
  return 0
}

# --- run -----------------------------------------------------------------------
# scenario, plus a note when one is slow (a hang ends at ctr's 60 s timeout).
sc() {
  local t0=$SECONDS
  scenario "$@"
  [ $((SECONDS - t0)) -lt 10 ] || echo "     (took $((SECONDS - t0)) s)"
}
for rt in "${RUNTIMES[@]}"; do
  sc "echo" "$rt" s_echo "$rt"
  sc "exit status" "$rt" s_exit_status "$rt"
  sc "create error reaches ctr" "$rt" s_create_error "$rt"
  sc "run -d" "$rt" s_run_detached "$rt"
  sc "exec (output, status, --user, --cwd)" "$rt" s_exec "$rt"
  sc "exec -t" "$rt" s_exec_tty "$rt"
  sc "ps" "$rt" s_ps "$rt"
  sc "pause/resume" "$rt" s_pause_resume "$rt"
  sc "kill" "$rt" s_kill "$rt"
  sc "delete" "$rt" s_delete "$rt"
  sc "delete --force (kill --all)" "$rt" s_force_delete "$rt"
  sc "run -t" "$rt" s_tty "$rt"
  sc "--memory-limit" "$rt" s_memory_limit "$rt"
  sc "--read-only" "$rt" s_readonly "$rt"
  sc "--env" "$rt" s_env "$rt"
  sc "--cwd" "$rt" s_cwd "$rt"
  sc "image USER" "$rt" s_user "$rt"
done
for rt in "${RUNTIMES[@]}"; do
  sc "verbs called" "$rt" s_verbs_called "$rt"
  sc "no call rejected for its flags" "$rt" s_flags_accepted "$rt"
  sc "nothing left behind" "$rt" s_nothing_left "$rt"
done
sc "same calls as runc" oxrun s_same_calls_as_runc

echo "calls containerd's shim made to oxrun (count, argv):"
argv_shapes oxrun | sort | uniq -c | sort -rn | sed 's/^/  /'

teardown
summary
