#!/usr/bin/env bash
# The end-to-end story with our own two tools: a busybox image is pushed to a
# real docker-registry on loopback, pulled with `oximg`, made into a bundle,
# and run with `oxrun` (run; create, start, exec, ps, pause, resume, kill,
# delete), checking output, exit status and that nothing is left behind
# (state, mounts, cgroups, processes). Then the registry is stopped: a second
# bundle must come from the store alone, and a tampered blob must make
# `oximg bundle` fail without leaving a bundle.
#   bash integration/e2e.sh          (root; part of integration/run)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=integration/lib.sh
. integration/lib.sh

bash scripts/deps || { echo "e2e: scripts/deps failed" >&2; exit 1; }
cargo build -q -p oxrun -p oximg || { echo "e2e: cargo build failed" >&2; exit 1; }
BIN=${CARGO_TARGET_DIR:-$PWD/target}/debug
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac

W=$(mktemp -d /tmp/oxe2e.XXXXXX)
R=$W/state          # oxrun --root
STORE=$W/store      # oximg --store
B1=$W/bundle        # pulled, then run (one-shot and the lifecycle)
B2=$W/bundle-tag    # from the store with the registry down (by tag) ...
B3=$W/bundle-digest # ... and by digest
BAD=$W/bundle-bad   # from a store with a tampered layer: must never appear
RUN_ID=oxe2e-$$-run
LIFE_ID=oxe2e-$$-life
OFF_ID=oxe2e-$$-offline
REG_PID=

oxrun() { timeout 60 "$BIN/oxrun" --root "$R" "$@"; }
oximg() { timeout 60 "$BIN/oximg" --store "$STORE" "$@"; }

cleanup() {
  if [ -n "$REG_PID" ]; then
    kill "$REG_PID" 2>/dev/null
    wait "$REG_PID" 2>/dev/null
  fi
  local id m
  if [ -d "$R" ]; then
    for id in $("$BIN/oxrun" --root "$R" list -q 2>/dev/null); do
      timeout 60 "$BIN/oxrun" --root "$R" delete --force "$id" >/dev/null 2>&1
    done
  fi
  # The bundles' rootfs overlays (made by oximg), deepest first.
  awk -v w="$W/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  rm -rf --one-file-system "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers (scenario bodies run in a subshell: state goes through files) ---

fail() { echo "$*" >&2; return 1; }

# json_get FILE|- EXPR: prints EXPR evaluated on the JSON document as `j`.
json_get() {
  python3 -c 'import json, sys
j = json.load(sys.stdin if sys.argv[1] == "-" else open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$@"
}

# edit_config BUNDLE PYTHON: runs PYTHON on the bundle's config.json as `c`.
edit_config() {
  python3 -c 'import json, sys
p = sys.argv[1] + "/config.json"
c = json.load(open(p))
exec(sys.argv[2])
json.dump(c, open(p, "w"), indent=2)' "$@"
}

# set_args BUNDLE ARG...: the container's process.args.
set_args() {
  local b=$1; shift
  python3 -c 'import json, sys
p = sys.argv[1] + "/config.json"
c = json.load(open(p))
c["process"]["args"] = sys.argv[2:]
json.dump(c, open(p, "w"), indent=2)' "$b" "$@"
}

status_of() { oxrun state "$1" | json_get - 'j["status"]'; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s.
wait_for() {
  local n=$(($1 * 10)); shift
  until "$@"; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || return 1
    sleep 0.1
  done
}

is_status() { [ "$(status_of "$1")" = "$2" ]; }

# Mount points under the temp dir (the bundles' overlays and nothing else).
mounts_under_w() {
  awk -v w="$W/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort
}

# record ID: once the container has an init, saves what check_gone looks for:
# the init pid, its pid namespace, the cgroup directories that hold it (every
# v1 hierarchy under /sys/fs/cgroup/*/, the hybrid `unified` one, or a pure
# v2 /sys/fs/cgroup). Callers save the mounts under the temp dir before the
# container exists (mounts.ID).
record() {
  local id=$1 pid path h d
  pid=$(oxrun state "$id" | json_get - 'j["pid"]') || return 1
  [ "$pid" -gt 0 ] 2>/dev/null || fail "state of $id has pid [$pid]" || return 1
  [ -d "/proc/$pid" ] || fail "init pid $pid of $id does not exist" || return 1
  echo "$pid" >"$W/pid.$id"
  readlink "/proc/$pid/ns/pid" >"$W/ns.$id"
  [ "$(cat "$W/ns.$id")" != "$(readlink /proc/self/ns/pid)" ] ||
    fail "init of $id is in our pid namespace" || return 1
  while IFS=: read -r _ _ path; do
    [ "$path" = / ] && continue
    for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
      d=${h%/}$path
      [ -f "$d/cgroup.procs" ] && grep -qx "$pid" "$d/cgroup.procs" && echo "$d"
    done
  done <"/proc/$pid/cgroup" | sort -u >"$W/cg.$id"
  [ -s "$W/cg.$id" ] || fail "init $pid of $id is in no cgroup of its own: $(cat "/proc/$pid/cgroup")"
}

# check_gone ID BUNDLE: nothing of the container is left: no list entry, no
# state, no state dir, no new mount under the temp dir nor one naming the
# container, none of its cgroup directories (nor any named after it), no
# process in its pid namespace or with root/cwd in the bundle.
check_gone() {
  local id=$1 bundle=$2 bad=0 d
  oxrun list -q | grep -qx "$id" && { echo "$id is still listed"; bad=1; }
  oxrun state "$id" >/dev/null 2>&1 && { echo "state still answers for $id"; bad=1; }
  [ -e "$R/$id" ] && { echo "state dir $R/$id is left"; bad=1; }
  if [ -f "$W/mounts.$id" ]; then
    mounts_under_w | diff "$W/mounts.$id" - || { echo "mounts under $W changed"; bad=1; }
  fi
  grep -F -e "$id" -e "$R" /proc/self/mountinfo && { echo "a mount names $id or the state dir"; bad=1; }
  if [ -f "$W/cg.$id" ]; then
    while read -r d; do
      [ -e "$d" ] && { echo "cgroup $d is left"; bad=1; }
    done <"$W/cg.$id"
  fi
  d=$(find /sys/fs/cgroup -maxdepth 4 -type d -name "*$id*" 2>/dev/null)
  [ -z "$d" ] || { echo "cgroup dirs named after $id: $d"; bad=1; }
  python3 - "$bundle" "$W/ns.$id" <<'PY' || bad=1
import os, sys
bundle, nsfile = sys.argv[1], sys.argv[2]
ns = open(nsfile).read().strip() if os.path.exists(nsfile) else None
rootfs = os.path.join(bundle, "rootfs")
rst = os.stat(rootfs) if os.path.exists(rootfs) else None
overlay = rst is not None and os.path.ismount(rootfs)
left = []
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        # A zombie whose parent is the host's init is that init's to reap
        # (the container's init is reparented there after create): not ours.
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if fields[0] == "Z" and fields[1] == "1":
            continue
        if ns and os.readlink(f"/proc/{p}/ns/pid") == ns:
            left.append((p, "in the container's pid namespace"))
        for what in ("root", "cwd"):
            link = os.readlink(f"/proc/{p}/{what}")
            if link == bundle or link.startswith(bundle + "/"):
                left.append((p, f"{what} {link}"))
            if rst is None:
                continue
            st = os.stat(f"/proc/{p}/{what}")
            if (st.st_dev, st.st_ino) == (rst.st_dev, rst.st_ino) or (overlay and st.st_dev == rst.st_dev):
                left.append((p, f"{what} in {rootfs}"))
    except OSError:
        pass  # gone meanwhile, or a zombie
for p, why in left:
    try:
        cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        cmd = "?"
    print(f"process {p} left: {why}: {cmd}")
sys.exit(1 if left else 0)
PY
  return $bad
}

# freezer_says ID FROZEN|THAWED: the container's freezer cgroup agrees: the
# v1 freezer.state when there is a v1 freezer (on a hybrid host the unified
# cgroup is not the one frozen), else v2 cgroup.events.
freezer_says() {
  local id=$1 want=$2 d v1 v2
  v1=$(while read -r d; do [ -f "$d/freezer.state" ] && echo "$d"; done <"$W/cg.$id" | head -n 1)
  if [ -n "$v1" ]; then
    expect_eq "$v1/freezer.state" "$(cat "$v1/freezer.state")" "$want"
    return
  fi
  v2=$(while read -r d; do [ -f "$d/cgroup.events" ] && echo "$d"; done <"$W/cg.$id" | head -n 1)
  [ -n "$v2" ] || fail "no freezer cgroup among $(cat "$W/cg.$id")" || return 1
  if [ "$want" = FROZEN ]; then
    grep -qx 'frozen 1' "$v2/cgroup.events" || fail "$v2/cgroup.events: $(cat "$v2/cgroup.events")"
  else
    grep -qx 'frozen 0' "$v2/cgroup.events" || fail "$v2/cgroup.events: $(cat "$v2/cgroup.events")"
  fi
}

# --- the registry ---

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
REF=$REG/e2e/busybox:1
mkdir -p "$W/registry"
cat >"$W/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/registry/data
  delete:
    enabled: true
http:
  addr: $REG
  secret: oxe2e
EOF
docker-registry serve "$W/registry/config.yml" </dev/null >/dev/null 2>"$W/registry/log" &
REG_PID=$!

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

t_push() {
  wait_for 20 port_open || fail "docker-registry does not listen on $PORT: $(cat "$W/registry/log")" || return 1
  busybox_layout "$W/layout" e2e >/dev/null || return 1
  timeout 60 skopeo --insecure-policy copy -q --dest-tls-verify=false \
    "oci:$W/layout:e2e" "docker://$REF"
}

# --- oximg ---

t_pull() {
  local out digest reg hex
  out=$(oximg pull --quiet "$REF") || return 1
  digest=$(printf '%s\n' "$out" | tail -n 1)
  [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || fail "pull printed [$out], not a digest" || return 1
  echo "$digest" >"$W/digest"
  # The store's index holds the manifest under the full reference.
  expect_eq "index.json entry for $REF" \
    "$(json_get "$STORE/index.json" "[m['digest'] for m in j['manifests'] if m.get('annotations', {}).get('org.opencontainers.image.ref.name') == '$REF']")" \
    "[\"$digest\"]" || return 1
  hex=${digest#sha256:}
  expect_eq "manifest blob's hash" "$(sha256sum <"$STORE/blobs/sha256/$hex" | cut -d' ' -f1)" "$hex" || return 1
  # What the registry serves under that tag.
  reg=$(timeout 60 skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REF") || return 1
  expect_eq "manifest digest vs skopeo inspect" "$digest" "$reg" || return 1
  # Pulling again changes nothing and prints the same digest.
  expect_eq "second pull" "$(oximg pull --quiet "$REF" | tail -n 1)" "$digest" || return 1
  oximg fsck
}

t_bundle() {
  oximg --quiet bundle "$REF" "$B1" || return 1
  [ -x "$B1/rootfs/bin/busybox" ] || fail "no executable rootfs/bin/busybox" || return 1
  expect_eq "bundle dir mode" "$(stat -c %a "$B1")" 700 || return 1
  timeout 60 skopeo inspect --tls-verify=false --config "docker://$REF" >"$W/image-config.json" || return 1
  python3 - "$B1/config.json" "$W/image-config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
i = json.load(open(sys.argv[2]))["config"]
want = (i.get("Entrypoint") or []) + (i.get("Cmd") or [])
assert want == ["/bin/sh"], f"image Entrypoint+Cmd {want}"
assert c["process"]["args"] == want, f"process.args {c['process']['args']} != {want}"
for e in i["Env"]:
    assert e in c["process"]["env"], f"image env {e} not in {c['process']['env']}"
assert "PATH=/bin:/sbin:/usr/bin:/usr/sbin" in c["process"]["env"], c["process"]["env"]
assert c["root"]["path"] == "rootfs", c["root"]
assert c["process"]["terminal"] is False
PY
}

# --- oxrun ---

# One-shot `run`: output, exit status 7, and its own cgroup (no cgroup
# namespace here, so the container sees the host path of its cgroup).
t_run() {
  local cg=/oxe2e-$$-runcg h out rc
  set_args "$B1" sh -c 'echo "hello from pid $$"; cat /proc/self/cgroup; exit 7' || return 1
  edit_config "$B1" "c['linux']['cgroupsPath'] = '$cg'
c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'cgroup']" || return 1
  : >"$W/cg.$RUN_ID"
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do echo "${h%/}$cg" >>"$W/cg.$RUN_ID"; done
  mounts_under_w >"$W/mounts.$RUN_ID"
  out=$(oxrun run -b "$B1" "$RUN_ID" </dev/null 2>"$W/run.err")
  rc=$?
  expect_eq "exit status of run" "$rc" 7 || { cat "$W/run.err"; return 1; }
  expect_eq "first line" "$(printf '%s\n' "$out" | head -n 1)" "hello from pid 1" || return 1
  expect_contains "the container's /proc/self/cgroup" "$out" ":$cg" || return 1
  check_gone "$RUN_ID" "$B1"
}

t_create() {
  # Init: prints, then waits for SIGTERM (a handler: pid 1 of a pid
  # namespace ignores signals it does not handle).
  set_args "$B1" sh -c 'trap "echo got TERM; exit 0" TERM; echo started; sleep 1000 & wait' || return 1
  edit_config "$B1" "c['linux'].pop('cgroupsPath', None)
c['linux']['namespaces'].append({'type': 'cgroup'}) if not any(n['type'] == 'cgroup' for n in c['linux']['namespaces']) else None" || return 1
  mounts_under_w >"$W/mounts.$LIFE_ID"
  oxrun create -b "$B1" "$LIFE_ID" </dev/null >"$W/life.out" 2>"$W/life.err" ||
    fail "create failed: $(cat "$W/life.err")" || return 1
  expect_eq "status after create" "$(status_of "$LIFE_ID")" created || return 1
  expect_eq "bundle in state" "$(oxrun state "$LIFE_ID" | json_get - 'j["bundle"]')" "$B1" || return 1
  record "$LIFE_ID" || return 1
  oxrun list | grep -E "^$LIFE_ID +$(cat "$W/pid.$LIFE_ID") +created " >/dev/null ||
    fail "list: $(oxrun list)" || return 1
  [ ! -s "$W/life.out" ] || fail "the user process ran before start: $(cat "$W/life.out")"
}

life_started() { grep -qx started "$W/life.out"; }

t_start() {
  local pid
  pid=$(cat "$W/pid.$LIFE_ID")
  oxrun start "$LIFE_ID" || return 1
  wait_for 10 life_started || fail "no 'started' from the container: $(cat "$W/life.out" "$W/life.err")" || return 1
  expect_eq "status after start" "$(status_of "$LIFE_ID")" running || return 1
  expect_eq "init pid after start" "$(oxrun state "$LIFE_ID" | json_get - 'j["pid"]')" "$pid" || return 1
  expect_eq "init's command" "$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -d' ' -f1-2)" "sh -c"
}

t_exec() {
  local out rc
  # shellcheck disable=SC2016 # expanded in the container
  out=$(oxrun exec -e E2E=yes --cwd /tmp "$LIFE_ID" sh -c 'echo "exec $E2E $(pwd) $(cat /proc/1/comm)"; exit 3' </dev/null)
  rc=$?
  expect_eq "exec exit status" "$rc" 3 || return 1
  expect_eq "exec output" "$out" "exec yes /tmp sh" || return 1
  # A failure of exec itself: 255 and `exec failed: …`, as runc.
  out=$(oxrun exec "$LIFE_ID" /nonexistent </dev/null 2>&1)
  expect_eq "exit status of a failed exec" "$?" 255 || return 1
  expect_contains "failed exec" "$out" 'exec failed: unable to start container process: exec: "/nonexistent": stat /nonexistent: no such file or directory'
}

t_ps() {
  local pid epid pids
  pid=$(cat "$W/pid.$LIFE_ID")
  oxrun exec -d --pid-file "$W/exec.pid" "$LIFE_ID" sleep 999 </dev/null >/dev/null 2>"$W/exec-d.err" ||
    fail "exec -d: $(cat "$W/exec-d.err")" || return 1
  epid=$(cat "$W/exec.pid")
  pids=$(oxrun ps --format json "$LIFE_ID") || return 1
  python3 - "$pids" "$pid" "$epid" "$(cat "$W/ns.$LIFE_ID")" <<'PY' || return 1
import json, os, sys
pids, init, ex, ns = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
assert init in pids, f"init {init} not in {pids}"
assert ex in pids, f"exec'd {ex} not in {pids}"
assert len(pids) >= 3, f"init, its sleep and the exec'd sleep: {pids}"
for p in pids:
    assert os.readlink(f"/proc/{p}/ns/pid") == ns, f"{p} is not in the container"
PY
  oxrun ps "$LIFE_ID" | grep -E "^root +$epid .*sleep 999" >/dev/null ||
    fail "ps table: $(oxrun ps "$LIFE_ID")"
}

t_pause() {
  local err
  oxrun pause "$LIFE_ID" || return 1
  expect_eq "status after pause" "$(status_of "$LIFE_ID")" paused || return 1
  oxrun list | grep -E "^$LIFE_ID .* paused " >/dev/null || fail "list: $(oxrun list)" || return 1
  freezer_says "$LIFE_ID" FROZEN || fail "the freezer cgroup is not frozen" || return 1
  err=$(oxrun exec "$LIFE_ID" true </dev/null 2>&1)
  expect_eq "exit status of exec in a paused container" "$?" 255 || return 1
  expect_contains "exec in a paused container" "$err" "exec failed: cannot exec in a paused container (use --ignore-paused to override)" || return 1
  err=$(oxrun pause "$LIFE_ID" 2>&1) && fail "pause of a paused container succeeded" && return 1
  return 0
}

t_resume() {
  oxrun resume "$LIFE_ID" || return 1
  expect_eq "status after resume" "$(status_of "$LIFE_ID")" running || return 1
  freezer_says "$LIFE_ID" THAWED || fail "the freezer cgroup is still frozen" || return 1
  expect_eq "exec after resume" "$(oxrun exec "$LIFE_ID" echo awake </dev/null)" awake || return 1
  oxrun resume "$LIFE_ID" 2>/dev/null && fail "resume of a running container succeeded"
  return 0
}

is_stopped() { is_status "$LIFE_ID" stopped; }

t_kill() {
  oxrun kill "$LIFE_ID" TERM || return 1
  wait_for 10 is_stopped || fail "not stopped after SIGTERM: $(status_of "$LIFE_ID")" || return 1
  expect_contains "init's output" "$(cat "$W/life.out")" "got TERM" || return 1
  oxrun kill "$LIFE_ID" KILL 2>/dev/null && fail "kill of a stopped container succeeded" && return 1
  return 0
}

t_delete() {
  oxrun delete "$LIFE_ID" || return 1
  check_gone "$LIFE_ID" "$B1"
}

# --- without the registry ---

t_registry_down() {
  ! port_open || fail "the registry still listens on $PORT"
}

# The same image again from the store alone (cached layer trees), by tag
# and by digest; a detached container in it, removed with delete --force.
t_offline_bundle() {
  local digest
  digest=$(cat "$W/digest")
  oximg --quiet bundle "$REF" "$B2" || return 1
  oximg --quiet bundle "$REG/e2e/busybox@$digest" "$B3" || return 1
  [ -x "$B2/rootfs/bin/busybox" ] && [ -x "$B3/rootfs/bin/busybox" ] || fail "no bin/busybox" || return 1
  expect_eq "args of the digest bundle" "$(json_get "$B3/config.json" 'j["process"]["args"]')" '["/bin/sh"]' || return 1
  set_args "$B2" sleep 1000 || return 1
  mounts_under_w >"$W/mounts.$OFF_ID"
  oxrun run -d -b "$B2" "$OFF_ID" </dev/null >/dev/null 2>"$W/off.err" || fail "run -d: $(cat "$W/off.err")" || return 1
  expect_eq "status after run -d" "$(status_of "$OFF_ID")" running || return 1
  record "$OFF_ID" || return 1
  oxrun delete "$OFF_ID" 2>/dev/null && fail "delete of a running container succeeded" && return 1
  oxrun delete --force "$OFF_ID" || return 1
  check_gone "$OFF_ID" "$B2"
}

# README: a tampered layer leaves nothing that looks finished (the bundle is
# built in a hidden sibling and renamed at the end). A copy of the store
# without oximg's cached layer trees, one byte of the layer flipped.
t_tampered() {
  local s=$W/store-tampered layer before err
  mkdir "$s" && cp -a "$STORE/oci-layout" "$STORE/index.json" "$STORE/blobs" "$s/" || return 1
  layer=$(json_get "$s/blobs/sha256/$(cut -d: -f2 <"$W/digest")" 'j["layers"][0]["digest"]')
  layer=$s/blobs/sha256/${layer#sha256:}
  python3 -c 'import sys
p = sys.argv[1]; d = bytearray(open(p, "rb").read()); d[len(d) // 2] ^= 0x55
open(p, "wb").write(d)' "$layer" || return 1
  before=$(ls -A "$W"; mounts_under_w)
  err=$(timeout 60 "$BIN/oximg" --store "$s" --quiet bundle "$REF" "$BAD" 2>&1) &&
    fail "bundle from a tampered store succeeded" && return 1
  expect_contains "oximg's error" "$err" "digest mismatch" || return 1
  [ ! -e "$BAD" ] || fail "a bundle dir was left: $(ls -la "$BAD")" || return 1
  expect_eq "temp dir and mounts after the failed bundle" "$(ls -A "$W"; mounts_under_w)" "$before" || return 1
  # Nothing half-made was cached and trusted: a second try fails the same way.
  timeout 60 "$BIN/oximg" --store "$s" --quiet bundle "$REF" "$BAD" 2>/dev/null &&
    fail "second bundle from a tampered store succeeded" && return 1
  [ ! -e "$BAD" ] || fail "a bundle dir was left by the second try" || return 1
  oxrun run -b "$BAD" "$RUN_ID-bad" </dev/null >/dev/null 2>&1 && fail "oxrun ran the failed bundle" && return 1
  [ ! -e "$R/$RUN_ID-bad" ] || fail "state left by the refused run" || return 1
  err=$(timeout 60 "$BIN/oximg" --store "$s" fsck 2>&1) && fail "fsck passed a tampered store" && return 1
  expect_contains "fsck" "$err" "${layer##*/}"
}

# Removing the bundles as the README says (umount rootfs, rm -rf) leaves no
# mount under the temp dir; no container is left in our state dir.
t_cleanup() {
  local b
  for b in "$B1" "$B2" "$B3"; do
    if mountpoint -q "$b/rootfs"; then umount "$b/rootfs" || return 1; fi
    rm -rf --one-file-system "$b" || return 1
  done
  expect_eq "mounts under $W" "$(mounts_under_w)" "" || return 1
  expect_eq "containers left" "$(oxrun list -q)" "" || return 1
  expect_eq "state dirs left" "$(ls -A "$R" 2>/dev/null)" "" || return 1
  oximg fsck
}

# --- the story ---

scenario "registry: push a busybox image" skopeo t_push
if [ "$INTEG_FAIL" -gt 0 ]; then summary; exit; fi
scenario "pull: digest printed, stored, = registry's" oximg t_pull
scenario "bundle: rootfs + config from the image" oximg t_bundle
scenario "run: output, exit 7, nothing left" oxrun t_run
scenario "create: created, init pid, cgroups" oxrun t_create
scenario "start: running, init runs" oxrun t_start
scenario "exec: output, exit 3, env, cwd" oxrun t_exec
scenario "ps --format json: init + exec'd pids" oxrun t_ps
scenario "pause: paused, frozen, exec refused" oxrun t_pause
scenario "resume: running, thawed, exec works" oxrun t_resume
scenario "kill TERM: handler runs, stopped" oxrun t_kill
scenario "delete: nothing left" oxrun t_delete
kill "$REG_PID" 2>/dev/null
wait "$REG_PID" 2>/dev/null
REG_PID=
scenario "registry stopped" skopeo t_registry_down
scenario "offline bundle (tag, digest), delete --force" oximg t_offline_bundle
scenario "tampered layer: bundle fails, nothing left" oximg t_tampered
scenario "bundles removed: no mounts, no state" oximg t_cleanup
summary
