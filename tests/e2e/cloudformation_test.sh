#!/usr/bin/env bash
# CloudFormation stacks against real boots, on one cloud whose guests reach a test "outside"
# (tests/e2e/outside.sh: an apt repository with a package built here, no internet). Two Debian
# boots and one tiny boot in all, overlapped where the cases allow:
#
# 1. (Debian boot 1) tests/e2e/cloudformation/web.yaml with `minicloud cloudformation
#    create-stack --wait`: cfn-init's configSets set up the apt source, install the package, make a
#    group and a user, write files with owner/mode and a mustache context, run ordered commands (one
#    skipped by its `test`, one with cwd and env), enable and start a systemd service and cfn-hup,
#    then a last config prints what it finds to the console; cfn-signal sends SUCCESS. Asserts exit
#    0, CREATE_COMPLETE, and every evidence line from inside the guest.
# 4. update-stack --wait of the same stack with a new Version parameter (metadata only): cfn-hup
#    (interval 1 minute) sees the change and its hook re-runs cfn-init, which prints the version.
# 3. (tiny boot, alongside 1) tests/e2e/cloudformation/timeout.yaml: no signal within PT1M ->
#    CREATE_FAILED, rollback, create-stack --wait exits 1 and says no signal came.
# 2. (Debian boot 2, alongside 4) tests/e2e/cloudformation/fail.yaml: cfn-init's second command
#    exits 3 -> FAILURE signal -> ROLLBACK_COMPLETE; the verdict names the step and shows the
#    command's output; exit 1; the rollback terminated the instance; the third command never ran.
# 5. (no boot) the stock aws CLI v1 creates, waits for, describes and deletes
#    tests/e2e/cloudformation/keys.yaml (a key pair and a placement group) over the Query API.
# Every template passes cfn-lint first.
#
# Bugs each part catches: (1) a cfn-init section skipped or run out of order, file owner/mode or
# context not applied, a `test` ignored, the service not enabled, the signal not reaching the
# stack; (4) cfn-hup not polling or the hook not run; (3) a CreationPolicy timeout never firing;
# (2) the verdict missing the step or its output, a rollback leaking the instance, cfn-init going
# on after a failed command; (5) the Query protocol's CloudFormation actions not what the aws CLI
# expects (create, waiter, describe, delete).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/outside.sh"

T=$(cd "$(dirname "$0")/cloudformation" && pwd)
DEBIAN=${MINICLOUD_DEBIAN_AMI_DIR:-$IMAGES/debian-12}
for tool in cfn-lint aws jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
[[ -f $DEBIAN/manifest.json ]] || fail "Debian AMI missing: run images/build-debian-ami.sh"
[[ -f $IMAGES/tiny/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"

cfn-lint "$T"/*.yaml || fail "a test template does not pass cfn-lint"
# The guests take the helpers of this build from their host (deploy/cloud serves this archive).
CFN_TARBALL=${MINICLOUD_CFN_BOOTSTRAP:-$MINICLOUD_BIN/../guest/cfn-bootstrap.tar.gz}
[[ -f $CFN_TARBALL ]] || fail "no $CFN_TARBALL: build the target cfn_bootstrap_tarball"

teardown_cfn() {
  local rc=$?
  outside_down
  (exit $rc) # teardown (lib.sh) exits with the status it finds
  teardown
}
trap teardown_cfn EXIT
export AWS_SHARED_CREDENTIALS_FILE=$MINICLOUD_HOME/aws-credentials

outside_up || fail "the outside fixture did not come up"
log "outside: apt repository at http://$OUTSIDE_IP/debian ($OUTSIDE_PACKAGE)"
cloud_up --hosts 1 --egress-interface "$OUTSIDE_IF" --dns "$OUTSIDE_IP"
deb=$("$MC" register-image --manifest "$DEBIAN/manifest.json" | jq -r .ImageId)
tiny=$("$MC" register-image --manifest "$IMAGES/tiny/manifest.json" | jq -r .ImageId)
CFN=("$MC" cloudformation)
W=$MINICLOUD_HOME

stack_status() { "${CFN[@]}" describe-stacks --stack-name "$1" --query 'Stacks[0].StackStatus' \
  --output text; }
# The instance a stack's events name for a logical id (it may be gone from the resources).
instance_of() {
  "${CFN[@]}" describe-stack-events --stack-name "$1" |
    jq -r --arg l "$2" '[.StackEvents[] | select(.LogicalResourceId == $l and
      (.PhysicalResourceId | startswith("i-")))][0].PhysicalResourceId'
}
wait_terminated() {
  local id=$1 start=$SECONDS
  until [[ $(state_of "$id") == terminated ]]; do
    ((SECONDS - start < 300)) || fail "$id is $(state_of "$id"), not terminated"
    sleep 3
  done
}

# --- 3. (background) a CreationPolicy that times out, on the tiny AMI ---------------------------
"${CFN[@]}" create-stack --stack-name silent --template-body "file://$T/timeout.yaml" \
  --parameters "ParameterKey=ImageId,ParameterValue=$tiny" --wait --wait-timeout 600 \
  >"$W/silent.out" 2>"$W/silent.err" &
silent_pid=$!

# --- 1. (background) the full bootstrap --------------------------------------------------------
start=$SECONDS
"${CFN[@]}" create-stack --stack-name web --template-body "file://$T/web.yaml" --parameters \
  "ParameterKey=ImageId,ParameterValue=$deb" \
  "ParameterKey=RepoUrl,ParameterValue=http://$OUTSIDE_IP/debian" --wait --wait-timeout 1500 \
  >"$W/web.out" 2>"$W/web.err" &
web_pid=$!

# --- 5. the stock aws CLI: a stack without instances --------------------------------------------
awscfn() { aws --endpoint-url "$AWS_ENDPOINT_URL_EC2" --output json cloudformation "$@"; }
sid=$(awscfn create-stack --stack-name keys --template-body "file://$T/keys.yaml" \
  --parameters ParameterKey=KeyName,ParameterValue=cfn-e2e-key --query StackId --output text) ||
  fail "aws cloudformation create-stack"
[[ $sid == arn:aws:cloudformation:* ]] || fail "aws create-stack gave '$sid'"
awscfn wait stack-create-complete --stack-name keys || fail "aws wait stack-create-complete"
assert_eq "$(awscfn describe-stacks --stack-name keys --query 'Stacks[0].StackStatus' --output text)" \
  CREATE_COMPLETE "aws describe-stacks"
"$MC" describe-key-pairs --key-names cfn-e2e-key >/dev/null || fail "the stack's key pair is missing"
awscfn describe-stack-resources --stack-name keys --query 'length(StackResources)' --output text |
  grep -qx 2 || fail "aws describe-stack-resources: not 2 resources"
awscfn delete-stack --stack-name keys || fail "aws cloudformation delete-stack"
awscfn wait stack-delete-complete --stack-name "$sid" || fail "aws wait stack-delete-complete"
expect_error InvalidKeyPair.NotFound "$MC" describe-key-pairs --key-names cfn-e2e-key
log "5: aws cloudformation created, described and deleted a stack"

# --- 1. the full bootstrap, its end --------------------------------------------------------
rc=0
wait "$web_pid" || rc=$?
cat "$W/web.err" "$W/web.out" | sed 's/^/  web: /'
((rc == 0)) || fail "create-stack web --wait exited $rc"
assert_eq "$(stack_status web)" CREATE_COMPLETE "stack web"
grep -q '^verdict: succeeded$' "$W/web.out" || fail "no success verdict"
grep -q 'cfn-init: succeeded' "$W/web.out" || fail "the verdict does not show cfn-init's success"
log "1: web CREATE_COMPLETE in $((SECONDS - start)) s"
web_id=$(instance_of web Web)
wait_console "$web_id" "cfn-e2e: evidence done" 120
evidence=$(console_text "$web_id" | tr -d '\r' | grep -o 'cfn-e2e: .*' | sort -u)
printf '%s\n' "$evidence" | sed 's/^/  guest: /'
expect_line() { grep -qxF "$1" <<<"$evidence" || fail "guest evidence lacks '$1'"; }
expect_line "cfn-e2e: conf name=web"
expect_line "cfn-e2e: conf port=8080"
expect_line "cfn-e2e: conf version=1"
expect_line "cfn-e2e: conf-attrs cfnapp:cfne2e:640"
grep -qE '^cfn-e2e: user cfnapp uid=4322 groups=([a-z0-9]+,)*cfne2e(,[a-z0-9]+)* home=/var/lib/cfnapp$' \
  <<<"$evidence" || fail "the user is not as declared (uid, group cfne2e, home)"
expect_line "cfn-e2e: group cfne2e:4321"
expect_line "cfn-e2e: order first|hello second from /var/lib/cfn-e2e|"
expect_line "cfn-e2e: skipped not-run"
expect_line "cfn-e2e: package minicloud-egress-probe: installed from the outside repository"
grep -qE '^cfn-e2e: service enabled active started .*cfnapp' <<<"$evidence" ||
  fail "the service is not enabled, running, as cfnapp"
expect_line "cfn-e2e: cfn-hup active"
ip=$("$MC" describe-instances --instance-ids "$web_id" \
  --query 'Reservations[0].Instances[0].PrivateIpAddress' --output text)
assert_eq "$("${CFN[@]}" describe-stacks --stack-name web --output text \
  --query "Stacks[0].Outputs[?OutputKey=='PrivateIp'].OutputValue")" "$ip" "output PrivateIp"
"${CFN[@]}" describe-stack-resource --stack-name web --logical-resource-id Web |
  jq -e '.StackResourceDetail.Metadata | fromjson | ."AWS::CloudFormation::Init".configSets.full' \
    >/dev/null || fail "describe-stack-resource: no Init metadata"

# --- 2. (background) a failing command: Debian boot 2 -----------------------------------------
"${CFN[@]}" create-stack --stack-name broken --template-body "file://$T/fail.yaml" \
  --parameters "ParameterKey=ImageId,ParameterValue=$deb" --wait --wait-timeout 1500 \
  >"$W/broken.out" 2>"$W/broken.err" &
broken_pid=$!

# --- 4. update-stack: cfn-hup runs the hook ---------------------------------------------------
rc=0
"${CFN[@]}" update-stack --stack-name web --use-previous-template --parameters \
  ParameterKey=ImageId,UsePreviousValue=true ParameterKey=RepoUrl,UsePreviousValue=true \
  ParameterKey=Version,ParameterValue=2 --wait --wait-timeout 600 \
  >"$W/update.out" 2>"$W/update.err" || rc=$?
cat "$W/update.err" "$W/update.out" | sed 's/^/  update: /'
((rc == 0)) || fail "update-stack web --wait exited $rc"
assert_eq "$(stack_status web)" UPDATE_COMPLETE "stack web after the update"
assert_eq "$(instance_of web Web)" "$web_id" "a metadata change must not replace the instance"
wait_console "$web_id" "cfn-e2e: hook ran version=2" 240
log "4: cfn-hup ran the hook after update-stack"

# --- 3. the timeout -------------------------------------------------------------------------
rc=0
wait "$silent_pid" || rc=$?
cat "$W/silent.err" "$W/silent.out" | sed 's/^/  silent: /'
assert_eq "$rc" 1 "create-stack silent --wait exit code"
assert_eq "$(stack_status silent)" ROLLBACK_COMPLETE "stack silent"
grep -q '^  signal: none received$' "$W/silent.out" || fail "the verdict does not say no signal came"
grep -q '^  CREATE_FAILED: ' "$W/silent.out" || fail "the verdict does not give the timeout's reason"
grep -q 'Silent (AWS::EC2::Instance, i-' "$W/silent.out" || fail "the verdict does not name Silent"
wait_terminated "$(instance_of silent Silent)"
log "3: the CreationPolicy timed out, the instance was rolled back"

# --- 2. the failing command -----------------------------------------------------------------
rc=0
wait "$broken_pid" || rc=$?
cat "$W/broken.err" "$W/broken.out" | sed 's/^/  broken: /'
assert_eq "$rc" 1 "create-stack broken --wait exit code"
assert_eq "$(stack_status broken)" ROLLBACK_COMPLETE "stack broken"
grep -q 'cfn-init step [^ ]*/config/commands/02_widget failed: exit status 3$' "$W/broken.out" ||
  fail "the verdict does not name the failed command"
grep -q '| widget missing: cfn-e2e-fail-marker' "$W/broken.out" ||
  fail "the verdict does not show the command's output"
grep -q 'signal: .*FAILURE' "$W/broken.out" || fail "the verdict does not show the FAILURE signal"
broken_id=$(instance_of broken Broken)
wait_terminated "$broken_id"
console_text "$broken_id" | grep -q "the third command ran" && fail "cfn-init ran on after a failure"
log "2: the failing command's output is in the verdict; the instance was rolled back"

# --- the end: delete-stack --wait removes the instance ---------------------------------------
"${CFN[@]}" delete-stack --stack-name web --wait >"$W/delete.out" 2>&1 ||
  { cat "$W/delete.out"; fail "delete-stack web --wait"; }
wait_terminated "$web_id"
"${CFN[@]}" wait stack-delete-complete --stack-name web || fail "wait stack-delete-complete"
log "PASS"
