#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Prints the machine a benchmark ran on as Markdown list items: the CPU
# (lscpu), the kernel, and the CPU vulnerability mitigations in force
# (/sys/devices/system/cpu/vulnerabilities, those not "Not affected"),
# which change what a helper call or a map lookup costs.
set -u
model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
hyp=$(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -n 1)
echo "- CPU: $model, $(nproc) CPUs${hyp:+ (virtual machine, $hyp)}"
# The tick sets the coarse clock's step (bpf_ktime_get_coarse_ns).
hz=$({ zcat -f /proc/config.gz "/boot/config-$(uname -r)"; } 2>/dev/null |
	sed -n 's/^CONFIG_HZ=//p' | head -n 1)
echo "- Kernel: $(uname -r), CONFIG_HZ=${hz:-unknown}"
mit=""
for f in /sys/devices/system/cpu/vulnerabilities/*; do
	[ -r "$f" ] || continue
	v=$(cat "$f")
	case $v in "Not affected") continue ;; esac
	mit="$mit${mit:+; }$(basename "$f"): $v"
done
echo "- Mitigations: ${mit:-none needed}"
