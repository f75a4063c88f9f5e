#!/usr/bin/env bash
# The layering rule of the source tree, checked on the #include lines:
#
#   controller/  and  agent/  are siblings over common/ and proto/:
#     controller/**  includes nothing under agent/
#     agent/**       includes nothing under controller/
#   cli/**     includes nothing under agent/ or controller/ (it speaks to the controller over gRPC)
#   common/**  includes nothing under agent/, controller/ or cli/
#   volume/**  (the per-AZ volume service) includes nothing under agent/, controller/ or cli/;
#     common/ and cli/ include nothing under volume/ (the controller may embed a VolumeBackend
#     through volume/backend/volume_backend.h)
#
# Usage: check_layering.sh <source-root>
# Prints one "file:line: <rule>: <include line>" per violation and exits 1 if there is any; exits
# 0 and prints nothing otherwise (2 on a usage error). The build runs it (target check_layering,
# part of `all`) and so does CTest (unit:layering).
set -uo pipefail

if [[ $# -ne 1 || ! -d "$1" ]]; then
  echo "usage: $0 <source-root>" >&2
  exit 2
fi
root=$1

# Known exceptions, one per line: "<file> <included path>". Each must name an edge that exists
# (a stale entry is reported too, so the list cannot silently outlive its reason).
allowed=(
)

# dir:forbidden-prefix pairs.
rules=(
  "controller:agent/"
  "agent:controller/"
  "cli:agent/"
  "cli:controller/"
  "common:agent/"
  "common:controller/"
  "common:cli/"
  "common:volume/"
  "volume:agent/"
  "volume:controller/"
  "volume:cli/"
  "cli:volume/"
  "guest:agent/"
  "guest:controller/"
  "guest:cli/"
  "guest:common/"
  "guest:volume/"
  "agent:guest/"
  "controller:guest/"
  "cli:guest/"
  "common:guest/"
  "volume:guest/"
)

is_allowed() {
  local file=$1 inc=$2 entry
  for entry in "${allowed[@]}"; do
    [[ "$entry" == "$file $inc" ]] && return 0
  done
  return 1
}

failed=0
declare -A used=()
for rule in "${rules[@]}"; do
  dir=${rule%%:*}
  prefix=${rule#*:}
  [[ -d "$root/$dir" ]] || continue
  # file:line:text for every #include "<prefix>..." or <prefix...> under dir.
  while IFS= read -r hit; do
    [[ -z "$hit" ]] && continue
    file=${hit%%:*}
    rest=${hit#*:}
    line=${rest%%:*}
    text=${rest#*:}
    rel=${file#"$root"/}
    inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]*)[">].*/\1/' <<<"$text")
    if is_allowed "$rel" "$inc"; then
      used["$rel $inc"]=1
      continue
    fi
    echo "$rel:$line: $dir/ must not include $prefix...: $text"
    failed=1
  done < <(grep -rnE --include='*.h' --include='*.cc' --include='*.hpp' --include='*.cpp' \
             "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]${prefix}" "$root/$dir" | sort)
done

for entry in "${allowed[@]}"; do
  if [[ -z "${used[$entry]:-}" ]]; then
    echo "${entry%% *}: stale layering exception (no longer includes ${entry#* }): remove it from $0"
    failed=1
  fi
done

exit $failed
