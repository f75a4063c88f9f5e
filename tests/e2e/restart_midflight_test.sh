#!/usr/bin/env bash
# Daemon restarts in the middle of a launch and of a stop, with real QEMU guests (tiny AMI).
#
# (a) The agent is frozen (SIGSTOP) while it fetches the AMI for a launch, i.e. after
#     run-instances returned and before the domain exists, then killed with SIGKILL and started
#     again. (b) The agent is frozen, run-instances is accepted by the controller, the controller
#     is killed with SIGKILL and started again, then the agent goes on. In both cases the
#     instance must reach running exactly once: one QEMU process, one boot on its console, its
#     user data run once.
# (c) A guest whose user data stops acpid ignores the ACPI power button; stop-instances waits
#     for it (the agent's stop timeout), and the agent is restarted during that wait. The
#     instance must end stopped with no QEMU left and its domain still defined, and a later
#     start-instances must boot it again. (d) The same stop with the controller restarted during
#     the wait.
source "$(dirname "$0")/lib.sh"

[[ -f $IMAGES/tiny/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"
grep -q user_data_start "$IMAGES/tiny/manifest.json" ||
  fail "tiny AMI predates user-data support: run images/build-tiny-ami.sh"
# Long enough that each restart below certainly falls inside the wait for the guest.
export MINICLOUD_STOP_TIMEOUT=20
cloud_up --hosts 1
image=$("$MC" register-image --manifest "$IMAGES/tiny/manifest.json" | jq -r .ImageId)
log "registered $image"
AGENT_LOG=$MINICLOUD_HOME/logs/agent-1.log
CONTROLLER_LOG=$MINICLOUD_HOME/logs/controller.log
pid_of() { cat "$MINICLOUD_HOME/run/$1.pid"; }
# deploy/cloud restart returns before the controller listens again.
restart_controller() {
  "$REPO/deploy/cloud" restart controller >/dev/null
  local i
  for i in $(seq 1 120); do
    "$MC" describe-hosts >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  fail "the controller did not come back after a restart"
}

# The whole console file of an instance (get-console-output returns only its last 64 KiB).
console_file() { cat "$MINICLOUD_HOME/agent-1/instances/$1/console.log" 2>/dev/null || true; }
count_in_console() { grep -cF -- "$2" <<<"$(console_file "$1")" || true; }
qemu_count() { pgrep -fc -- "guest=$1," || true; }
wait_count() { # wait_count ID TEXT N TIMEOUT: until TEXT is on the console N times
  local start=$SECONDS
  until (($(count_in_console "$1" "$2") >= $3)); do
    ((SECONDS - start < $4)) || fail "console of $1 never showed '$2' $3 times within $4s"
    sleep 1
  done
}
launch() { # launch USER_DATA_FILE: prints the instance id
  "$MC" run-instances --image-id "$image" --instance-type t3.nano --user-data "file://$1" |
    jq -r '.Instances[0].InstanceId'
}
# Persistent domain definitions of the embedded libvirt driver (one XML file per domain).
domain_defined() { find "$MINICLOUD_HOME/agent-1/libvirt" -path '*qemu*' -name "$1.xml" \
  -not -path '*/run/*' 2>/dev/null | grep -q .; }

# Asserts one running QEMU, one boot and one run of the user data; waits a few heartbeats first
# so a second boot has time to show.
assert_single_boot() {
  local id=$1 marker=$2
  "$MC" wait instance-running --instance-ids "$id" --timeout 180 || fail "$id never reached running"
  wait_console "$id" "minicloud-tiny: user-data exit" 150
  local hb
  hb=$(count_in_console "$id" "minicloud-tiny: heartbeat")
  wait_console "$id" "minicloud-tiny: heartbeat $((hb + 3)) " 60
  assert_eq "$(state_of "$id")" running "state of $id"
  assert_eq "$(qemu_count "$id")" 1 "QEMU processes of $id"
  assert_eq "$(count_in_console "$id" "minicloud-tiny: booted")" 1 "boots on the console of $id"
  assert_eq "$(count_in_console "$id" "$marker")" 1 "runs of the user data of $id"
}

# --- (a) agent killed while preparing a launch ------------------------------------------------
printf '#!/bin/sh\necho "midflight-a: user data ran"\n' >"$MINICLOUD_HOME/a.sh"
# The agent logs "fetching <sha>" when it starts downloading an AMI blob from the controller;
# freeze it right there (tail -F sees the line as it is written).
exec {tailfd}< <(exec timeout 120 tail -n 0 -F "$AGENT_LOG")
tail_pid=$!
a=$(launch "$MINICLOUD_HOME/a.sh")
log "launched $a"
grep -m1 -q "fetching " <&$tailfd || fail "the agent never started fetching the AMI for $a"
kill -STOP "$(pid_of agent-1)"
exec {tailfd}<&-
kill "$tail_pid" 2>/dev/null || true
assert_eq "$(qemu_count "$a")" 0 "QEMU processes of $a while the agent is frozen mid-launch"
domain_defined "$a" && fail "$a already had a domain when the agent was frozen"
kill -KILL "$(pid_of agent-1)"
log "agent killed while fetching the AMI for $a (no domain yet)"
"$REPO/deploy/cloud" restart agent-1 >/dev/null
assert_single_boot "$a" "midflight-a: user data ran"
log "(a) $a reached running once after the agent died mid-launch"

# --- (b) controller killed after accepting a launch -------------------------------------------
printf '#!/bin/sh\necho "midflight-b: user data ran"\n' >"$MINICLOUD_HOME/b.sh"
kill -STOP "$(pid_of agent-1)"
b=$(launch "$MINICLOUD_HOME/b.sh")
log "launched $b with the agent frozen"
kill -KILL "$(pid_of controller)"
restart_controller
kill -CONT "$(pid_of agent-1)"
log "controller killed right after accepting $b (agent frozen meanwhile), then restarted"
assert_single_boot "$b" "midflight-b: user data ran"
assert_single_boot "$a" "midflight-a: user data ran"
log "(b) $b reached running once after the controller died mid-launch; $a untouched"

# --- (c) agent restarted while a stop waits for a guest that ignores the power button -------
cat >"$MINICLOUD_HOME/c.sh" <<'EOF'
#!/bin/sh
killall acpid && echo "midflight-c: acpid stopped, the power button is ignored"
EOF
c=$(launch "$MINICLOUD_HOME/c.sh")
log "launched $c"
"$MC" wait instance-running --instance-ids "$c" --timeout 180 || fail "$c never reached running"
wait_console "$c" "midflight-c: acpid stopped" 150
"$MC" stop-instances --instance-ids "$c" >/dev/null
wait_for_log() { # wait_for_log FILE REGEX TIMEOUT
  local start=$SECONDS
  until grep -Eq -- "$2" "$1"; do
    ((SECONDS - start < $3)) || fail "$1 never matched /$2/ within $3s"
    sleep 0.5
  done
}
wait_for_log "$AGENT_LOG" "asked $c to shut down" 60
assert_eq "$(state_of "$c")" stopping "state of $c while the guest ignores the button"
sleep 12 # well into the guest's time to shut down
"$REPO/deploy/cloud" restart agent-1 >/dev/null
log "agent restarted while $c ignores the power button"
"$MC" wait instance-stopped --instance-ids "$c" --timeout 180 || fail "$c never stopped"
# The guest never shut down by itself, so every "stopped" of the agent must be a power-off.
grep -E "$c stopped$" "$AGENT_LOG" && fail "the agent said $c stopped while it still ran"
# The restarted agent keeps the deadline of the first button press: the power-off comes less
# than a whole stop timeout after it started (a fresh timeout would take all of it).
log_ms() { date -d "$(sed -n 's/^\[\([0-9-]* [0-9:.]*\)\].*/\1/p' <<<"$1")" +%s%3N; }
started_line=$(grep "agent starting with" "$AGENT_LOG" | tail -n1)
off_line=$(grep "$c did not shut down within" "$AGENT_LOG" | tail -n1)
gap_ms=$(($(log_ms "$off_line") - $(log_ms "$started_line")))
((gap_ms < MINICLOUD_STOP_TIMEOUT * 1000)) ||
  fail "the restarted agent gave $c a fresh stop timeout (power-off ${gap_ms} ms after it started)"
assert_eq "$(qemu_count "$c")" 0 "QEMU processes of $c after the stop"
grep -q "minicloud-tiny: power button" <<<"$(console_file "$c")" &&
  fail "$c shut down on the power button: the test guest should ignore it"
grep -q "$c did not shut down within" "$AGENT_LOG" || fail "no forced power-off of $c logged"
domain_defined "$c" || fail "the domain of $c is gone after the stop (it must stay defined)"
"$MC" start-instances --instance-ids "$c" >/dev/null
"$MC" wait instance-running --instance-ids "$c" --timeout 180 || fail "$c never ran again"
wait_count "$c" "midflight-c: acpid stopped" 2 150
assert_eq "$(count_in_console "$c" "minicloud-tiny: booted")" 2 "boots on the console of $c"
assert_eq "$(qemu_count "$c")" 1 "QEMU processes of $c after the start"
log "(c) $c stopped despite an agent restart mid-stop, and booted again on start"

# --- (d) controller restarted during the same kind of stop ------------------------------------
offs=$(grep -c "$c did not shut down within" "$AGENT_LOG")
asked=$(grep -c "asked $c to shut down" "$AGENT_LOG")
"$MC" stop-instances --instance-ids "$c" >/dev/null
until (($(grep -c "asked $c to shut down" "$AGENT_LOG") > asked)); do sleep 0.5; done
restart_controller
log "controller restarted while $c ignores the power button"
"$MC" wait instance-stopped --instance-ids "$c" --timeout 180 || fail "$c never stopped (d)"
assert_eq "$(qemu_count "$c")" 0 "QEMU processes of $c after the second stop"
(($(grep -c "$c did not shut down within" "$AGENT_LOG") > offs)) ||
  fail "no forced power-off of $c logged for the second stop"
domain_defined "$c" || fail "the domain of $c is gone after the second stop"
assert_eq "$(count_in_console "$c" "minicloud-tiny: booted")" 2 "boots of $c after the stop"
log "(d) $c stopped despite a controller restart mid-stop"

"$MC" terminate-instances --instance-ids "$a" "$b" "$c" >/dev/null
"$MC" wait instance-terminated --instance-ids "$a" "$b" "$c" --timeout 120 ||
  fail "instances never terminated"
for id in "$a" "$b" "$c"; do assert_eq "$(qemu_count "$id")" 0 "QEMU processes of $id at the end"; done
log "all terminated"
