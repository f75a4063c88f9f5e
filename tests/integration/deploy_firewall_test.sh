#!/usr/bin/env bash
# deploy/minicloud-host.nft, loaded as shipped into a private network namespace that stands for
# a homelab agent host (192.168.1.21, guest bridge mcbr0) next to a LAN namespace (the
# controller 192.168.1.10, another agent 192.168.1.22, an admin machine 192.168.1.50, a
# stranger 10.9.9.9) and a guest
# namespace (172.31.0.4 on the bridge). Every drop is seen twice: the connection fails and the
# file's rule counted it; every case that the file drops connects before the file is loaded.
# Needs root (network namespaces); exits 77 (skipped) without it.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
NFT_FILE=$REPO/deploy/minicloud-host.nft
[[ $(id -u) -eq 0 ]] || { echo "SKIPPED: needs root for network namespaces"; exit 77; }
command -v nft >/dev/null || { echo "FAIL: nft missing"; exit 1; }

tag=fw$$
H=$tag-host L=$tag-lan G=$tag-guest
cleanup() {
  local pids
  for ns in $H $L $G; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n $pids ]] && kill $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

for ns in $H $L $G; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
# host <-> LAN
ip link add "${tag}h" netns "$H" type veth peer name "${tag}l" netns "$L"
ip -n "$H" addr add 192.168.1.21/24 dev "${tag}h"
ip -n "$H" addr add 10.9.9.1/24 dev "${tag}h"
for a in 192.168.1.10/24 192.168.1.22/24 192.168.1.50/24 10.9.9.9/24; do ip -n "$L" addr add "$a" dev "${tag}l"; done
ip -n "$H" link set "${tag}h" up
ip -n "$L" link set "${tag}l" up
ip -n "$L" route add 172.31.0.0/20 via 192.168.1.21
# host bridge <-> guest
ip -n "$H" link add mcbr0 type bridge
ip -n "$H" addr add 172.31.0.1/20 dev mcbr0
ip -n "$H" addr add 169.254.169.254/32 dev mcbr0
ip link add "${tag}b" netns "$H" type veth peer name "${tag}g" netns "$G"
ip -n "$H" link set "${tag}b" master mcbr0
ip -n "$H" link set "${tag}b" up
ip -n "$H" link set mcbr0 up
ip -n "$G" addr add 172.31.0.4/20 dev "${tag}g"
ip -n "$G" link set "${tag}g" up
ip -n "$G" route add default via 172.31.0.1
ip netns exec "$H" sysctl -q -w net.ipv4.ip_forward=1

# Listeners: the host answers on 22, 80, 7700, 7701, 7702; the "controller" on the LAN on 7700.
serve() {
  ip netns exec "$1" python3 -c '
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"ok\n"); c.close()
for p in sys.argv[2:]: threading.Thread(target=serve, args=(int(p),), daemon=True).start()
threading.Event().wait()' x "${@:2}" &
}
serve "$H" 22 80 7700 7701 7702
serve "$L" 7700
# probe NS SRC DST PORT: "ok" when a connection from SRC is answered within a give-up limit.
probe() {
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(3)
try:
    s.bind((sys.argv[1], 0)); s.connect((sys.argv[2], int(sys.argv[3]))); print(s.recv(3).decode().strip())
except OSError:
    print("closed")' "$2" "$3" "$4"
}
for _ in $(seq 1 50); do [[ $(probe "$H" 127.0.0.1 127.0.0.1 7701) == ok ]] && break; sleep 0.1; done
for _ in $(seq 1 50); do [[ $(probe "$L" 192.168.1.10 192.168.1.10 7700) == ok ]] && break; sleep 0.1; done

# ns src dst port verdict [comment of the dropping rule]
cases=(
  "$G 172.31.0.4 169.254.169.254 80 ok"
  "$G 172.31.0.4 172.31.0.1 7701 closed guest to a host port it may not use"
  "$G 172.31.0.4 192.168.1.21 22 closed guest to a host port it may not use"
  "$G 172.31.0.4 192.168.1.10 7700 closed guest to a private network"
  "$L 192.168.1.10 192.168.1.21 7700 ok"
  "$L 192.168.1.50 192.168.1.21 7700 ok"
  "$L 10.9.9.9 10.9.9.1 7700 closed controller API from elsewhere"
  "$L 192.168.1.10 192.168.1.21 7701 ok"
  "$L 192.168.1.50 192.168.1.21 7701 closed agent port from elsewhere"
  "$L 192.168.1.22 192.168.1.21 7702 ok"
  "$L 192.168.1.50 192.168.1.21 7702 closed controller agent listener from elsewhere"
)
# Without the file everything connects: each drop below is the file's doing.
for c in "${cases[@]}"; do
  read -r ns src dst port _ <<<"$c"
  [[ $(probe "$ns" "$src" "$dst" "$port") == ok ]] || fail "before loading: $src -> $dst:$port"
done
ip netns exec "$H" nft -f "$NFT_FILE"
ip netns exec "$H" nft -f "$NFT_FILE"  # reloading replaces the table
counter() {  # packets counted by the rule with this comment
  ip netns exec "$H" nft list table inet minicloud_host |
    awk -v c="comment \"$1\"" 'index($0, c) { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) } END { print s + 0 }'
}
for c in "${cases[@]}"; do
  read -r ns src dst port want comment <<<"$c"
  before=$([[ -n $comment ]] && counter "$comment" || echo 0)
  got=$(probe "$ns" "$src" "$dst" "$port")
  [[ $got == "$want" ]] || fail "$src -> $dst:$port: expected $want, got $got"
  if [[ -n $comment ]]; then
    after=$(counter "$comment")
    ((after > before)) || fail "$src -> $dst:$port closed, but not by \"$comment\""
  fi
  echo "ok: $src -> $dst:$port $want${comment:+ ($comment)}"
done
[[ $(ip netns exec "$H" nft list tables | grep -c minicloud_host) == 1 ]] || fail "one table after two loads"
echo "PASS"
