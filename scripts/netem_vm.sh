#!/usr/bin/env bash
# Run the kernel-backend (netem) tests inside a throwaway VM booted with Debian's stock kernel, which has
# sch_netem; for machines whose own kernel lacks it (`rehearse profiles` says so). Optional, not part of CI.
#
#   bash scripts/netem_vm.sh [extra pytest args]      # NETEM_VM_TESTS=tests/x.py picks other test files
#
# Needs root (apt), and Debian's qemu-system-x86, linux-image-amd64 and busybox-static, plus virtme-ng (PyPI)
# in its own venv; all are installed when missing. The VM sees this checkout read-only through an overlay, so it
# writes nothing here. With usable KVM it runs at full speed; without, QEMU emulates the CPU (TCG) and every
# Python step is ~50x slower: functional results hold, but the ±5 % timing checks then fail on the proxy's
# emulated overhead (measured ~20 ms per request), not on netem.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
venv=${NETEM_VM_VENV:-/tmp/rehearse-vng}
log() { echo "netem_vm: $*" >&2; }

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v busybox >/dev/null || need+=(busybox-static)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)
if ((${#need[@]})); then
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
[ -x "$venv/bin/vng" ] || { python3 -m venv "$venv" && "$venv/bin/python" -m pip install -q virtme-ng; }
export PATH="$venv/bin:$PATH"
kernel=$(ls /boot/vmlinuz-* | sort -V | tail -1)
[ -x "$repo/.venv/bin/python" ] || { log "run 'make setup' first (the VM uses .venv)"; exit 2; }

accel=()
# NETEM_VM_KVM=1/0 forces the choice. KVM under a PVM host (kvm_pvm, as in some nested sandboxes) only runs
# PVM-built guest kernels: a stock kernel hangs at boot there, so that case emulates.
kvm=${NETEM_VM_KVM:-auto}
if [ "$kvm" = auto ]; then
    kvm=0
    if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then kvm=1; fi
fi
if [ "$kvm" = 1 ]; then
    log "using KVM"
else
    log "emulating the CPU (no usable KVM): slow, and timing checks will be off (see the header)"
    accel=(--disable-kvm --qemu-opts='-accel tcg,thread=multi')
fi

guest=$(mktemp /tmp/rehearse-netem-guest.XXXXXX.sh)
args=$(printf ' %q' "$@")
cat >"$guest" <<GUEST
#!/bin/sh
modprobe sch_netem; modprobe veth
cd "$repo" || exit 99
.venv/bin/python -m pytest -q -s -p no:cacheprovider ${NETEM_VM_TESTS:-tests/test_network_netem.py}$args
GUEST
chmod +x "$guest"
log "booting $kernel"
vng "${accel[@]}" --run "$kernel" --user root --cpus 2 --memory 4G --overlay-rwdir "$(dirname "$repo")" -- "$guest"
