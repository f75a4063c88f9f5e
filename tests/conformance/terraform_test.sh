#!/usr/bin/env bash
# Terraform's AWS provider (from the filesystem mirror /opt/tf-plugins, no network) against the
# EC2 Query API of one in-process cloud (query_cloud): deploy/examples/terraform/main.tf must
# init, apply, plan with no changes (-detailed-exitcode 0) and destroy cleanly.
#
# Bugs caught: any action or attribute the provider reads at refresh that we answer wrongly (a
# perpetual diff in plan: e.g. user data not returned, a placement group name dropped from the
# instance), or that we do not implement (apply fails), or a destroy that leaves the instance.
set -euo pipefail
QUERY_CLOUD=${1:?usage: terraform_test.sh path/to/query_cloud}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TERRAFORM=${TERRAFORM:-/usr/local/bin/terraform}
MIRROR=${TF_PLUGIN_MIRROR:-/opt/tf-plugins}
skip() { echo "SKIP: $*"; exit 77; }
[[ -x $TERRAFORM ]] || skip "no $TERRAFORM"
[[ -d $MIRROR/registry.terraform.io/hashicorp/aws ]] || skip "no AWS provider in $MIRROR"
[[ -x $QUERY_CLOUD ]] || skip "no $QUERY_CLOUD"
command -v jq >/dev/null || skip "no jq"

WORK=$(mktemp -d)
coproc CLOUD { "$QUERY_CLOUD" --hosts 1; }
CLOUD_IN=${CLOUD[1]}
cleanup() {
  exec {CLOUD_IN}>&- 2>/dev/null || true
  wait "$CLOUD_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
read -r INFO <&"${CLOUD[0]}" || { echo "query_cloud did not start"; exit 1; }
ENDPOINT=$(jq -r .endpoint <<<"$INFO")
IMAGE=$(jq -r .image_id <<<"$INFO")

cat >"$WORK/terraformrc" <<EOT
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
EOT
mkdir "$WORK/tf"
cp "$REPO/deploy/examples/terraform/main.tf" "$WORK/tf/"
ssh-keygen -q -t ed25519 -N "" -f "$WORK/key"
cat >"$WORK/tf/terraform.tfvars" <<EOT
endpoint   = "$ENDPOINT"
image_id   = "$IMAGE"
public_key = "$(cat "$WORK/key.pub")"
name       = "tf-test"
EOT
export TF_CLI_CONFIG_FILE=$WORK/terraformrc TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
export AWS_ACCESS_KEY_ID=$(jq -r .access_key_id <<<"$INFO")
export AWS_SECRET_ACCESS_KEY=$(jq -r .secret_access_key <<<"$INFO")
unset AWS_PROFILE AWS_DEFAULT_REGION AWS_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_EC2
export AWS_CONFIG_FILE=$WORK/none AWS_SHARED_CREDENTIALS_FILE=$WORK/none
export TF_LOG_PATH=$WORK/terraform.log TF_LOG=${TF_LOG:-}
cd "$WORK/tf"

step() { echo "== terraform $*"; }
fail() {
  echo "FAIL: $*"
  [[ -s $WORK/terraform.log ]] && grep -o "Action=[A-Za-z]*[^ \"]\{0,400\}" "$WORK/terraform.log" | sort -u | tail -n 40
  [[ -n ${KEEP_TF_LOG:-} ]] && cp "$WORK/terraform.log" "$KEEP_TF_LOG"
  exit 1
}

step init
"$TERRAFORM" init -no-color >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log"; fail "init"; }
step apply
"$TERRAFORM" apply -no-color -auto-approve || fail "apply"
INSTANCE=$("$TERRAFORM" output -raw instance_id)
[[ $INSTANCE == i-* ]] || fail "no instance id in the outputs ($INSTANCE)"
step "plan -detailed-exitcode"
rc=0
"$TERRAFORM" plan -no-color -detailed-exitcode || rc=$?
[[ $rc -eq 0 ]] || fail "plan after apply wants changes or failed (exit $rc)"
step destroy
"$TERRAFORM" destroy -no-color -auto-approve || fail "destroy"

# What Terraform says must be what the cloud has: the instance terminated, the key pair and the
# placement group gone (checked with the aws CLI, not Terraform's own state).
if command -v aws >/dev/null; then
  awsq() {
    AWS_DEFAULT_REGION=home-1 AWS_MAX_ATTEMPTS=1 aws --endpoint-url "$ENDPOINT" --output text ec2 "$@"
  }
  state=$(awsq describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].State.Name')
  [[ $state == terminated ]] || fail "instance $INSTANCE is $state after destroy"
  [[ -z $(awsq describe-key-pairs --query 'KeyPairs[?KeyName==`tf-test-key`].KeyName') ]] ||
    fail "key pair left after destroy"
  [[ -z $(awsq describe-placement-groups --query 'PlacementGroups[?GroupName==`tf-test-spread`].GroupName') ]] ||
    fail "placement group left after destroy"
fi
echo "PASS: terraform init, apply, plan (no changes), destroy"
