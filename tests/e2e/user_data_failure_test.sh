#!/usr/bin/env bash
# One Debian 12 boot (stock cloud-init) carries three checks:
#
# 1. Instance profiles: a profile allowing ec2:DescribeTags and ec2:CreateTags, the instance
#    launched with it, and user data that does what a script on EC2 does with its instance role:
#      IMDSv2 token → meta-data/iam/security-credentials/ (the role) → …/<role> (AccessKeyId,
#      SecretAccessKey, Token) → EC2 Query API at http://169.254.169.254:8773 (the agent relays
#      it to the controller), signed with SigV4 by curl (--aws-sigv4; the AMI has no aws CLI)
#      with the session token as X-Amz-Security-Token:
#        DescribeTags on itself → 200, shows the tag given at launch; CreateTags on itself → 200;
#        DeleteTags on itself → 403 UnauthorizedOperation (not in the profile).
#    Each step prints `iam-e2e: …` to the console. Checked from outside: the console lines, the
#    tag the guest created (describe-tags over the admin API), iam/info's profile ARN, and
#    describe-instances showing the profile.
# 2. The IMDSv2 PUT response hop limit, from a real extra hop: the user data builds a network
#    namespace behind the guest (veth, IP forwarding, nftables masquerade) and asks for a token
#    from the guest itself and from inside the namespace. With HttpPutResponseHopLimit=1 the
#    guest gets its token and the namespace gets no answer (the guest's forwarding drops the
#    response at TTL 0); after modify-instance-metadata-options sets it to 2, the namespace gets
#    its token too. Each probe prints `hop-probe <n>: guest=<http code> hop=<http code>` to the
#    console (000 = no answer within 5 s).
# 3. The verdict on user data that fails: the script prints a line and exits 3. `run-instances
#    --wait` and `wait user-data-finished` exit 1 and print "FAILED" with what the script printed
#    and cloud-init's failure lines, and the exit status when the console carries it (cloud-init
#    22.4 does not: the verdict says so); `--output json` carries the same; both waiters exit
#    255 when they give up (a short timeout, as the aws CLI's waiters).
source "$(dirname "$0")/lib.sh"

DEBIAN=${MINICLOUD_DEBIAN_AMI_DIR:-$IMAGES/debian-12}
[[ -f $DEBIAN/manifest.json ]] || fail "Debian AMI missing: run images/build-debian-ami.sh"
[[ -f $IMAGES/tiny/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"
jq -e '.build.packages | index("nftables")' "$DEBIAN/manifest.json" >/dev/null ||
  fail "the Debian AMI predates nftables in its recipe: run images/build-debian-ami.sh"
cloud_up --hosts 1
image=$("$MC" register-image --manifest "$DEBIAN/manifest.json" | jq -r .ImageId)
tiny=$("$MC" register-image --manifest "$IMAGES/tiny/manifest.json" | jq -r .ImageId)
log "registered $image (Debian) and $tiny (tiny)"

profile=$("$MC" create-instance-profile --instance-profile-name e2e-tagger --role-name e2e-role \
  --allowed-actions ec2:DescribeTags,ec2:CreateTags)
arn=$(jq -r .InstanceProfile.Arn <<<"$profile")
[[ $arn == arn:aws:iam::*:instance-profile/e2e-tagger ]] || fail "profile ARN: $arn"

cat >"$MINICLOUD_HOME/user-data.sh" <<'EOF'
#!/bin/bash
# --- the instance profile ---
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
# --- the hop limit ---
# A namespace "hop" behind the guest: veth 10.200.0.1 (guest) <-> 10.200.0.2 (hop), forwarding
# and masquerade out of the guest's NIC, so the metadata service sees the guest's own address.
nic=$(ip -o route get 169.254.169.254 | sed -n 's/.* dev \([^ ]*\).*/\1/p')
ip netns add hop
ip link add vhop0 type veth peer name vhop1
ip link set vhop1 netns hop
ip addr add 10.200.0.1/24 dev vhop0 && ip link set vhop0 up
ip -n hop addr add 10.200.0.2/24 dev vhop1 && ip -n hop link set vhop1 up
ip -n hop link set lo up && ip -n hop route add default via 10.200.0.1
sysctl -qw net.ipv4.ip_forward=1
nft add table ip hop
nft add chain ip hop post '{ type nat hook postrouting priority srcnat; }'
nft add rule ip hop post ip saddr 10.200.0.0/24 oifname "$nic" masquerade
cat >/usr/local/bin/hop-probe <<'PROBE'
#!/bin/bash
exec >/dev/console 2>&1
put() {
  "$@" curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token
}
for n in $(seq 1 "$1"); do
  echo "hop-probe $n: guest=$(put) hop=$(put ip netns exec hop)"
  sleep 2
done
PROBE
chmod 755 /usr/local/bin/hop-probe
echo "hop-setup: nic=$nic forwarding=$(sysctl -n net.ipv4.ip_forward)"
# Keeps probing after the user data is done (its own unit, so cloud-init does not wait for it).
systemd-run --unit hop-probe /usr/local/bin/hop-probe 200
echo "udf: the user data fails now, on purpose"
exit 3
EOF

# A waiter that gives up exits 255: run-instances --wait on a tiny guest (no cloud-init, so its
# verdict never comes) with a 3 s limit.
rc=0
out=$("$MC" run-instances --image-id "$tiny" --instance-type t3.nano --wait --wait-timeout 3 2>&1) ||
  rc=$?
assert_eq "$rc" 255 "exit status of run-instances --wait that timed out"
grep -q "timed out after" <<<"$out" || fail "no timeout message: $out"
tiny_id=$(grep -o 'i-[0-9a-f]\{17\}' <<<"$out" | head -n1)
[[ -n $tiny_id ]] || fail "run-instances --wait printed no instance id: $out"
"$MC" terminate-instances --instance-ids "$tiny_id" >/dev/null
log "run-instances --wait that gives up exits 255"

# The Debian guest, followed by run-instances --wait in the background.
"$MC" run-instances --image-id "$image" --instance-type t3.small \
  --iam-instance-profile Name=e2e-tagger --tags Key=Name,Value=iam-e2e \
  --metadata-options HttpTokens=optional,HttpPutResponseHopLimit=1 \
  --user-data "file://$MINICLOUD_HOME/user-data.sh" --wait --wait-timeout 900 \
  >"$MINICLOUD_HOME/run-wait.out" 2>"$MINICLOUD_HOME/run-wait.err" &
run_wait_pid=$!
id=""
for _ in $(seq 1 60); do
  id=$(grep -o 'i-[0-9a-f]\{17\}' "$MINICLOUD_HOME/run-wait.err" | head -n1 || true)
  [[ -n $id ]] && break
  sleep 1
done
[[ -n $id ]] || fail "run-instances --wait never named its instance: $(cat "$MINICLOUD_HOME/run-wait.err")"
log "launched $id (HttpPutResponseHopLimit=1)"
rc=0
"$MC" wait user-data-finished --instance-ids "$id" --timeout 3 >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 255 "exit status of wait user-data-finished that timed out"
log "wait user-data-finished that gives up exits 255"

# --- instance profile ------------------------------------------------------------------------
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
log "instance profile: the guest's role credentials sign EC2 calls; the profile's limits hold"

# --- hop limit ---------------------------------------------------------------------------------
wait_console "$id" "hop-setup: nic=" 900
grep -q "hop-setup: nic=[a-z].* forwarding=1" <<<"$(console_text "$id")" ||
  fail "the namespace behind the guest was not set up: $(grep hop-setup <<<"$(console_text "$id")")"
wait_console "$id" "hop-probe 3: " 120
before=$(console_text "$id" | grep -o 'hop-probe [0-9]*: guest=[0-9]* hop=[0-9]*' | sort -u)
"$MC" modify-instance-metadata-options --instance-id "$id" --http-put-response-hop-limit 2 \
  >/dev/null
log "probes with hop limit 1:"$'\n'"$before"
grep -q "guest=200 hop=000" <<<"$before" || fail "no probe with the guest answered and the hop not"
bad=$(grep -v "guest=200 hop=000" <<<"$before" || true)
[[ -z $bad ]] || fail "with hop limit 1: $bad"
wait_console "$id" "hop-probe [0-9]+: guest=200 hop=200" 120
log "hop limit 1: the guest gets a token, the extra hop none; hop limit 2: both do"

# --- the verdict -------------------------------------------------------------------------------
rc=0
verdict=$("$MC" wait user-data-finished --instance-ids "$id" --timeout 900 2>/dev/null) || rc=$?
assert_eq "$rc" 1 "exit status of wait user-data-finished on failed user data"
# cloud-init 22.4 logs a failed script's status only in the guest (DEBUG, cloud-init.log); older
# ones put "Failed running <script> [<status>]" on the console. The verdict shows what is there.
if grep -q "Failed running /var/lib/cloud/instance/scripts/part-001 \[3\]" <<<"$(console_text "$id")"; then
  want_verdict="verdict: user data FAILED (exit status 3)" want_status=3
else
  want_verdict="verdict: user data FAILED (exit status not on the console" want_status=null
fi
grep -qF "$want_verdict" <<<"$verdict" || fail "verdict: $verdict"
grep -q "udf: the user data fails now, on purpose" <<<"$verdict" || fail "output: $verdict"
grep -q "^failure: .*scripts" <<<"$verdict" || fail "no cloud-init failure line: $verdict"
rc=0
wait "$run_wait_pid" || rc=$?
assert_eq "$rc" 1 "exit status of run-instances --wait on failed user data"
grep -qF "$want_verdict" "$MINICLOUD_HOME/run-wait.out" ||
  fail "run-instances --wait verdict: $(cat "$MINICLOUD_HOME/run-wait.out")"
json=$("$MC" --output json wait user-data-finished --instance-ids "$id" --timeout 60 2>/dev/null) ||
  true
assert_eq "$(jq -r '.Verdicts[0].UserDataExitStatus' <<<"$json")" "$want_status" \
  "UserDataExitStatus (JSON)"
assert_eq "$(jq -r '.Verdicts[0].Verdict' <<<"$json")" failed "Verdict (JSON)"
log "failed user data: both waiters exit 1; ${want_verdict#verdict: }"
printf '%s\n' "$verdict" | sed 's/^/    /'

"$MC" terminate-instances --instance-ids "$id" >/dev/null
"$MC" wait instance-terminated --instance-ids "$id" "$tiny_id" --timeout 120 ||
  fail "instances never terminated"
