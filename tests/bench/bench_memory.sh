#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Memory benchmark: the bytes of kernel memory xlimit's state map costs
# per tracked source, as the kernel accounts it (`bpftool map show`,
# bytes_memlock), with the map sized for 1,048,576 sources through the
# real CLI (`xlimit load --max-sources 1048576`) in a private pin
# directory. The LRU hash preallocates every element, so the figure does
# not depend on how many sources are tracked. Prints a Markdown section.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/lib.sh

N=1048576
xl_test_init >/dev/null
xl load --max-sources "$N" >/dev/null || exit 1
$PY - "$N" <<EOF2
import json, subprocess, sys
n = int(sys.argv[1])
rows = []
for m in ("xl_state", "xl_rules", "xl_ports", "xl_rslots", "xl_allow", "xl_deny", "xl_stats", "xl_config"):
    j = json.loads(subprocess.check_output(
        ["bpftool", "-j", "map", "show", "pinned", "$XL_PIN/" + m]))
    rows.append(j)
s = rows[0]
per = s["bytes_memlock"] / s["max_entries"]
print("| map | type | key B | value B | entries | memory (bytes_memlock) | per entry |")
print("|---|---|---:|---:|---:|---:|---:|")
for j in rows:
    print("| %s | %s | %d | %d | %s | %s | %.1f B |" % (
        j["name"], j["type"], j["bytes_key"], j["bytes_value"],
        f'{j["max_entries"]:,}', f'{j["bytes_memlock"]:,}',
        j["bytes_memlock"] / j["max_entries"]))
print()
print("xl_state: **%.1f bytes per tracked source** at %s sources (target "
      "≤ 128: %s). The LRU hash preallocates each element as a 48-byte "
      "kernel header (hash-list and LRU-list nodes, hash), the %d-byte key "
      "rounded to %d and the %d-byte value, plus its bucket array." % (
      per, f"{n:,}", "met" if per <= 128 else "**missed**",
      s["bytes_key"], (s["bytes_key"] + 7) // 8 * 8, s["bytes_value"]))
EOF2
