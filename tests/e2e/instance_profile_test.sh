#!/usr/bin/env bash
# Instance profiles on a real boot (Debian 12, stock cloud-init): a profile allowing
# ec2:DescribeTags and ec2:CreateTags, an instance launched with it, and user data that does
# what a script on EC2 does with its instance role:
#
#   IMDSv2 token → meta-data/iam/security-credentials/ (the role) → …/<role> (AccessKeyId,
#   SecretAccessKey, Token) → EC2 Query API at http://169.254.169.254:8773 (the agent relays it
#   to the controller), signed with SigV4 by curl (--aws-sigv4; the AMI has no aws CLI) with the
#   session token as X-Amz-Security-Token:
#     DescribeTags on itself   → 200, shows the tag given at launch
#     CreateTags on itself     → 200
#     DeleteTags on itself     → 403 UnauthorizedOperation (not in the profile)
#
# Each step prints `iam-e2e: …` to the console. Checked from outside: the console lines, the tag
# the guest created (describe-tags over the admin API), iam/info's profile ARN, and
# describe-instances showing the profile.
source "$(dirname "$0")/lib.sh"

DEBIAN=${MINICLOUD_DEBIAN_AMI_DIR:-$IMAGES/debian-12}
[[ -f $DEBIAN/manifest.json ]] || fail "Debian AMI missing: run images/build-debian-ami.sh"
cloud_up --hosts 1
image=$("$MC" register-image --manifest "$DEBIAN/manifest.json" | jq -r .ImageId)
log "registered $image (Debian)"

profile=$("$MC" create-instance-profile --instance-profile-name e2e-tagger --role-name e2e-role \
  --allowed-actions ec2:DescribeTags,ec2:CreateTags)
arn=$(jq -r .InstanceProfile.Arn <<<"$profile")
[[ $arn == arn:aws:iam::*:instance-profile/e2e-tagger ]] || fail "profile ARN: $arn"

cat >"$MINICLOUD_HOME/user-data.sh" <<'EOF_UD'
#!/bin/bash
MD=http://169.254.169.254
T=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 900' $MD/latest/api/token)
md() { curl -sf -H "X-aws-ec2-metadata-token: $T" "$MD/latest/meta-data/$1"; }
ID=$(md instance-id)
ROLE=
for _ in $(seq 1 90); do ROLE=$(md iam/security-credentials/) && [[ -n $ROLE ]] && break; sleep 2; done
echo "iam-e2e: role=$ROLE arn=$(md iam/info | python3 -c 'import json,sys; print(json.load(sys.stdin)["InstanceProfileArn"])')"
CREDS=$(md "iam/security-credentials/$ROLE")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$CREDS" "$1"; }
AK=$(field AccessKeyId) SK=$(field SecretAccessKey) TK=$(field Token)
echo "iam-e2e: key=${AK:0:4} expiration=$(field Expiration)"
# One EC2 Query call, SigV4-signed by curl; prints "http=<status> <what the XML says>".
ec2() {
  curl -s --max-time 30 -o /tmp/ec2.xml -w '%{http_code}' --aws-sigv4 "aws:amz:home-1:ec2" \
    --user "$AK:$SK" -H "X-Amz-Security-Token: $TK" \
    --data "$1&Version=2016-11-15" http://169.254.169.254:8773/ >/tmp/ec2.code
  printf 'http=%s %s\n' "$(cat /tmp/ec2.code)" "$(python3 - <<'PY'
import xml.etree.ElementTree as ET
try:
    root = ET.parse('/tmp/ec2.xml').getroot()
except Exception as e:
    print('unparsable', e); raise SystemExit
strip = lambda t: t.split('}')[-1]
code = [e.text for e in root.iter() if strip(e.tag) == 'Code']
tags = [(i.find('{*}key').text, i.find('{*}value').text or '') for i in root.iter()
        if strip(i.tag) == 'item' and i.find('{*}key') is not None]
print('code=' + code[0] if code else ' '.join('%s=%s' % t for t in sorted(tags)) or 'ok')
PY
)"
}
echo "iam-e2e: describe-tags $(ec2 "Action=DescribeTags&Filter.1.Name=resource-id&Filter.1.Value.1=$ID")"
echo "iam-e2e: create-tags $(ec2 "Action=CreateTags&ResourceId.1=$ID&Tag.1.Key=made-by&Tag.1.Value=guest")"
echo "iam-e2e: delete-tags $(ec2 "Action=DeleteTags&ResourceId.1=$ID&Tag.1.Key=Name")"
echo "iam-e2e: done"
EOF_UD

id=$("$MC" run-instances --image-id "$image" --instance-type t3.small \
  --iam-instance-profile Name=e2e-tagger --tags Key=Name,Value=iam-e2e \
  --user-data "file://$MINICLOUD_HOME/user-data.sh" | jq -r '.Instances[0].InstanceId')
log "launched $id with profile e2e-tagger"
got_arn=$("$MC" describe-instances --instance-ids "$id" |
  jq -r '.Reservations[0].Instances[0].IamInstanceProfile.Arn')
assert_eq "$got_arn" "$arn" "describe-instances IamInstanceProfile.Arn"

wait_console "$id" "iam-e2e: done" 900
console=$(console_text "$id")
grep 'iam-e2e:' <<<"$console" | tr -d '\r' | sed 's/^/    /'
grep -q "iam-e2e: role=e2e-role arn=$arn" <<<"$console" || fail "iam/ role or info wrong"
grep -q "iam-e2e: key=ASIA" <<<"$console" || fail "no session key at IMDS"
grep -q "iam-e2e: describe-tags http=200 Name=iam-e2e" <<<"$console" ||
  fail "describe-tags with the instance credentials"
grep -q "iam-e2e: create-tags http=200" <<<"$console" || fail "create-tags with the instance credentials"
grep -q "iam-e2e: delete-tags http=403 code=UnauthorizedOperation" <<<"$console" ||
  fail "delete-tags was not refused as UnauthorizedOperation"

# The guest's tag, seen from outside.
made_by=$("$MC" describe-tags --filters "Name=resource-id,Values=$id" |
  jq -r '.Tags[] | select(.Key == "made-by") | .Value')
assert_eq "$made_by" "guest" "tag created by the guest"
"$MC" terminate-instances --instance-ids "$id" >/dev/null
log "PASS"
