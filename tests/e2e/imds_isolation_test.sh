#!/usr/bin/env bash
# Metadata isolation with real guests: a second guest cannot read the first guest's user data,
# even after taking the first guest's private IP, its MAC, or both. The metadata service names
# the caller by its source address; the per-tap nftables rules are what make that safe.
#
# Two tiny (busybox) guests on one host and one subnet. A's user data holds a random secret and
# prints it, then keeps probing its own metadata. B's user data (templated with A's IP, MAC and
# the MD5 of A's user data, never the secret) reads its own user data (control), then tries
# `GET /latest/user-data` as A's IP, as A's MAC + IP, and as A's MAC with its own IP, then puts
# its own address back and reads its own user data again (control). Each try prints
# `isolation: <try> result=blocked|leaked|answered|own rc=<wget status> ...`; "blocked" means
# wget failed and returned nothing. The test asserts every try is blocked, the secret never
# appears on B's console, both controls read B's own user data, A's own read worked and A still
# reaches the metadata service after B's tries, and the port chain of B's tap counted drops of
# frames with a foreign MAC and of IPv4 packets with a foreign source address (each its own
# counter; ARP is not in either).
source "$(dirname "$0")/lib.sh"

[[ -f $IMAGES/tiny/manifest.json ]] || fail "tiny AMI missing: run images/build-tiny-ami.sh"
grep -q user_data_start "$IMAGES/tiny/manifest.json" ||
  fail "tiny AMI predates user-data support: run images/build-tiny-ami.sh"
cloud_up --hosts 1
image=$("$MC" register-image --manifest "$IMAGES/tiny/manifest.json" | jq -r .ImageId)
log "registered $image"

console() { "$MC" --output text get-console-output --instance-id "$1"; }
describe() { "$MC" describe-instances --instance-ids "$1" | jq -r ".Reservations[0].Instances[0]$2"; }

# --- guest A: the victim -----------------------------------------------------------------------
secret="mc-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat >"$MINICLOUD_HOME/a.sh" <<EOF
#!/bin/sh
# tenant A: proves it read its own user data, then keeps probing its own metadata.
echo "tenant-a: secret=$secret"
n=0
while [ \$n -lt 120 ]; do
  n=\$((n + 1))
  if id=\$(timeout 5 wget -q -O - http://169.254.169.254/latest/meta-data/instance-id 2>/dev/null); then
    echo "tenant-a: probe \$n ok \$id"
  else
    echo "tenant-a: probe \$n failed"
  fi
  sleep 2
done >/dev/console 2>&1 &
EOF
a_sum=$(md5sum <"$MINICLOUD_HOME/a.sh" | cut -d' ' -f1)
a=$("$MC" run-instances --image-id "$image" --instance-type t3.nano \
  --user-data "file://$MINICLOUD_HOME/a.sh" | jq -r '.Instances[0].InstanceId')
log "launched A $a"
"$MC" wait instance-running --instance-ids "$a" --timeout 120 || fail "A never ran"
a_ip=$(describe "$a" .PrivateIpAddress)
a_mac=$(describe "$a" .NetworkInterfaces[0].MacAddress)
[[ $a_ip =~ ^[0-9.]+$ && $a_mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] ||
  fail "A has no usable address: ip='$a_ip' mac='$a_mac'"
wait_console "$a" "minicloud-tiny: user-data exit" 150
grep -qF "tenant-a: secret=$secret" <<<"$(console "$a")" || fail "A did not read its own user data"
wait_console "$a" "tenant-a: probe [0-9]+ ok $a" 60
log "A ($a_ip, $a_mac) read its own user data and reaches its metadata"

# --- guest B: the attacker ---------------------------------------------------------------------
cat >"$MINICLOUD_HOME/b.sh" <<'EOF'
#!/bin/sh
# tenant B: tries to read tenant A's user data through the metadata service.
A_IP=@A_IP@
A_MAC=@A_MAC@
A_SUM=@A_SUM@
URL=http://169.254.169.254/latest/user-data
IF=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
MY_MAC=$(cat "/sys/class/net/$IF/address")
MY_CIDR=$(ip -4 -o addr show dev "$IF" | awk '{print $4}' | head -n1)
PREFIX=${MY_CIDR#*/}
GW=$(ip route | awk '$1 == "default" {print $3; exit}')
OWN_SUM=none
echo "isolation: self if=$IF mac=$MY_MAC ip=$MY_CIDR gw=$GW target=$A_IP/$A_MAC"

# try NAME: one GET of the user data; the verdict rests on wget's exit status and on what came back.
try() {
  rm -f /tmp/body
  timeout 8 wget -q -O /tmp/body "$URL" 2>/tmp/err
  rc=$?
  [ -f /tmp/body ] || : >/tmp/body
  size=$(wc -c </tmp/body)
  sum=$(md5sum </tmp/body | cut -d' ' -f1)
  if [ "$sum" = "$A_SUM" ]; then res=leaked
  elif [ "$rc" -ne 0 ] && [ "$size" -eq 0 ]; then res=blocked
  elif [ "$rc" -eq 0 ] && [ "$sum" = "$OWN_SUM" ]; then res=own
  else res=answered
  fi
  echo "isolation: $1 result=$res rc=$rc bytes=$size md5=$sum err=$(head -n1 /tmp/err)"
  case $res in leaked|answered) sed 's/^/isolation: body: /' /tmp/body ;; esac
}
# addr IP: IP (with the subnet's prefix) as the only address, default route via the gateway, and
# a static ARP entry for the gateway so packets leave even when ARP for a foreign IP is dropped.
addr() {
  ip -4 addr flush dev "$IF"
  ip addr add "$1/$PREFIX" dev "$IF"
  ip route add default via "$GW" dev "$IF"
  [ -n "$GW_MAC" ] && arp -i "$IF" -s "$GW" "$GW_MAC"
  echo "isolation: now mac=$(cat "/sys/class/net/$IF/address") ip=$(ip -4 -o addr show dev "$IF" | awk '{print $4}')"
}
mac() {
  ip link set "$IF" down
  ip link set "$IF" address "$1"
  ip link set "$IF" up
}

# Control: our own user data (B's own MD5 is printed, not the body).
rm -f /tmp/body
timeout 8 wget -q -O /tmp/body "$URL" 2>/tmp/err && OWN_SUM=$(md5sum </tmp/body | cut -d' ' -f1)
try control-before
GW_MAC=$(awk -v gw="$GW" '$1 == gw {print $4}' /proc/net/arp)
echo "isolation: gateway $GW is $GW_MAC"

# (a) A's IP, own MAC; also announce A's IP (gratuitous ARP) as an attacker would.
addr "$A_IP"
arping -U -c 1 -I "$IF" -s "$A_IP" "$A_IP" >/dev/null 2>&1
try ip-spoof
# (b) A's MAC and A's IP.
mac "$A_MAC"
addr "$A_IP"
try mac-ip-spoof
# (c) A's MAC, own IP.
addr "${MY_CIDR%/*}"
try mac-spoof
# Back to our own identity: the path must work again.
mac "$MY_MAC"
addr "${MY_CIDR%/*}"
arp -i "$IF" -d "$GW" >/dev/null 2>&1
try control-after
echo "isolation: done"
EOF
sed -i -e "s/@A_IP@/$a_ip/" -e "s/@A_MAC@/$a_mac/" -e "s/@A_SUM@/$a_sum/" "$MINICLOUD_HOME/b.sh"
grep -qF "$secret" "$MINICLOUD_HOME/b.sh" && fail "B's user data must not contain the secret"
b_sum=$(md5sum <"$MINICLOUD_HOME/b.sh" | cut -d' ' -f1)
b=$("$MC" run-instances --image-id "$image" --instance-type t3.nano \
  --user-data "file://$MINICLOUD_HOME/b.sh" | jq -r '.Instances[0].InstanceId')
log "launched B $b"
"$MC" wait instance-running --instance-ids "$b" --timeout 120 || fail "B never ran"
assert_eq "$(describe "$b" .Placement.HostId)" "$(describe "$a" .Placement.HostId)" "B's host"
assert_eq "$(describe "$b" .SubnetId)" "$(describe "$a" .SubnetId)" "B's subnet"
wait_console "$b" "minicloud-tiny: user-data exit" 180
probes_before=$(console "$a" | grep -c "tenant-a: probe [0-9]* ok" || true)
out=$(console "$b")
grep '^isolation: ' <<<"$out" | grep -v '^isolation: body: ' | sed 's/^/  B: /' || true
grep -qF "$secret" <<<"$out" && fail "A's secret appeared on B's console"
grep -q "^isolation: done" <<<"$out" || fail "B's tries did not finish"
grep -q "^minicloud-tiny: user-data exit 0" <<<"$out" || fail "B's user data failed"
for t in control-before control-after; do
  grep -q "^isolation: $t result=own rc=0 bytes=[0-9]* md5=$b_sum " <<<"$out" ||
    fail "B could not read its own user data ($t)"
done
b_ip=$(describe "$b" .PrivateIpAddress)
b_mac=$(describe "$b" .NetworkInterfaces[0].MacAddress)
for now in "$b_mac $a_ip" "$a_mac $a_ip" "$a_mac $b_ip"; do
  grep -q "^isolation: now mac=${now% *} ip=${now#* }/" <<<"$out" ||
    fail "B never took MAC ${now% *} with IP ${now#* }"
done
for t in ip-spoof mac-ip-spoof mac-spoof; do
  line=$(grep "^isolation: $t result=" <<<"$out") || fail "no result for $t"
  [[ $line == "isolation: $t result=blocked rc="* ]] || fail "$t not blocked: $line"
done
log "every spoofing try was blocked; B read only its own user data"

# A is unaffected: it keeps reaching the metadata service after B's tries (no stolen FDB or
# ARP entry).
start=$SECONDS
while (($(console "$a" | grep -c "tenant-a: probe [0-9]* ok" || true) < probes_before + 3)); do
  ((SECONDS - start < 60)) || fail "A stopped reaching its metadata after B's tries"
  sleep 2
done
grep -q "tenant-a: probe [0-9]* ok i-" <<<"$(console "$a")" || fail "A's probes"
log "A still reaches its own metadata"

# The drops happened at B's tap, in its anti-spoofing chain.
ns=$(ip netns list | awk '{print $1}' | grep "^mc-$(printf '%s' "$MINICLOUD_HOME" | md5sum | cut -c1-4)-1$") ||
  fail "no network namespace for the agent"
chain=$(ip netns exec "$ns" nft -a list ruleset 2>/dev/null |
  awk -v id="$b" '/^\tchain port_/ {c=$2} index($0, "instance " id) {print c; exit}')
[[ -n $chain ]] || fail "no port chain for $b"
rules=$(ip netns exec "$ns" nft list ruleset | awk -v c="$chain" '$1 == "chain" {p = ($2 == c)} p && $1 == "}" {p = 0} p')
grep counter <<<"$rules" | sed 's/^[[:space:]]*/  nft: /' || true
# Each counter is read from its own rule: frames with a foreign source MAC, and IPv4 packets with
# a foreign source address (ARP has its own rules and never reaches that counter, so B's
# gratuitous ARP for A's IP cannot stand in for the spoofed metadata requests).
packets_of() { awk -v re="$1" '$0 ~ re {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}' <<<"$rules"; }
mac_drops=$(packets_of 'ether saddr !=')
ip_drops=$(packets_of 'comment "foreign IPv4 source"')
[[ -n $mac_drops ]] || fail "no foreign-MAC rule with a counter in $chain"
[[ -n $ip_drops ]] || fail "no foreign-IPv4-source rule with a counter in $chain"
((mac_drops > 0)) || fail "no frames dropped for a foreign source MAC at $chain"
((ip_drops > 0)) || fail "no IPv4 packets dropped for a foreign source IP at $chain"
log "B's port chain dropped $mac_drops frames with a foreign MAC and $ip_drops IPv4 packets with a foreign source IP"

"$MC" terminate-instances --instance-ids "$a" "$b" >/dev/null
"$MC" wait instance-terminated --instance-ids "$a" "$b" --timeout 60 || fail "never terminated"
for id in "$a" "$b"; do
  pgrep -f "guest=$id" >/dev/null && fail "QEMU still running for $id after terminate"
  [[ -e $MINICLOUD_HOME/agent-1/instances/$id ]] && fail "instance dir of $id left behind"
done
grep -q "$chain" <<<"$(ip netns exec "$ns" nft list ruleset)" && fail "port chain $chain left behind"
log "terminated cleanly; no rules left for B's tap"
