#!/usr/bin/env bash
# Installs what crius needs on a Debian 12 node, idempotently: the OS packages
# (container runtimes, CNI plugins, NATS, registry and cross-check tools, the
# Kubernetes Python client as an outside streaming client, the C toolchain for
# native/conmon) and the npm dependencies. Safe to run often:
# it only calls apt/npm when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  nats-server runc crun conmon catatonit busybox-static
  containernetworking-plugins iproute2 iptables util-linux mount
  protobuf-compiler gcc make libc6-dev libseccomp-dev
  docker-registry skopeo umoci attr zstd apache2-utils openssl
  systemd selinux-policy-dev systemd-container debootstrap apparmor criu
  python3-kubernetes python3-websocket
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund
fi

# CRIU for checkpoint/restore: Debian's when it works on this kernel, else built once.
bash scripts/criu/setup-criu.sh

# The cgroup layout: report a hybrid node crun refuses; change it only when asked.
bash scripts/cgroup-layout.sh
