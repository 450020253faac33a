#!/usr/bin/env bash
# Part of setup-node.sh: the node's cgroup layout as crun needs it.
set -euo pipefail

# crun refuses a hybrid cgroup layout (v1 controllers plus a v2 "unified"
# mount) while any controller is attached to the v2 hierarchy ("cgroups in
# hybrid mode not supported, drop all controllers from cgroupv2"); runc does
# not mind. Moving those controllers onto v1 hierarchies changes the host
# (until reboot), so this script only says so unless asked explicitly with
# CRIUS_MOVE_CGROUP_CONTROLLERS=1 (.ci/run asks: CI covers the crun handler).
root=${CRIUS_CGROUP_ROOT:-/sys/fs/cgroup}  # another root only for its test
unified=$root/unified
if [ -r "$unified/cgroup.controllers" ] && [ ! -e "$root/cgroup.controllers" ]; then
  v2_controllers=$(cat "$unified/cgroup.controllers")
  if [ -n "$v2_controllers" ] && [ "${CRIUS_MOVE_CGROUP_CONTROLLERS:-}" = 1 ] && [ "$(id -u)" -eq 0 ]; then
    for ctrl in $v2_controllers; do
      echo "setup: moving cgroup controller $ctrl from the v2 to a v1 hierarchy (CRIUS_MOVE_CGROUP_CONTROLLERS=1; lasts until reboot)"
      mkdir -p "$root/$ctrl"
      mount -t cgroup -o "$ctrl" cgroup "$root/$ctrl" || echo "setup: could not move $ctrl; the crun handler will not work" >&2
    done
  elif [ -n "$v2_controllers" ]; then
    cat >&2 <<EOF
setup: this node mixes cgroup v1 with controllers on the v2 hierarchy ($v2_controllers).
setup: runc works; crun refuses that layout, so the crun handler (and its test) will fail.
setup: to move those controllers onto v1 hierarchies (changes the host until reboot), run as root
setup: with CRIUS_MOVE_CGROUP_CONTROLLERS=1, e.g. CRIUS_MOVE_CGROUP_CONTROLLERS=1 npm test
EOF
  fi
fi
