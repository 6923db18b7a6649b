#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Puts the tables of the last benchmark run into README.md's performance
# section: between <!-- bench:NAME --> and <!-- /bench:NAME -->, the
# table of build/bench/NAME.md (micro, flood, sidecar), with its date and
# the load average LOAD the run started under; for the sidecar also the
# lines after its table (each round's ratios and the summary). Run by run.sh (`make bench`); alone
# after e.g. `bash tests/bench/bench_flood.sh >build/bench/flood.md`, with
# the tables to update in TABLES (default: micro flood sidecar).
set -u
cd "$(dirname "$0")/../.."
LOAD=${1:-$(cut -d' ' -f1 /proc/loadavg)}
for name in ${TABLES:-micro flood sidecar}; do
	[ -s "build/bench/$name.md" ] || continue
	python3 - "$name" "build/bench/$name.md" README.md \
		"$(date -u +%Y-%m-%d -r "build/bench/$name.md"), load average $LOAD at its start" <<'EOF'
import sys
name, src, readme, when = sys.argv[1:]
lines = open(src).readlines()
rows = [l for l in lines if l.startswith("|")]
if name == "sidecar" and rows:
    rows = lines[lines.index(rows[0]):]
text = open(readme).read()
begin, end = "<!-- bench:%s -->" % name, "<!-- /bench:%s -->" % name
if begin in text and end in text:
    a, b = text.index(begin) + len(begin), text.index(end)
    body = "\n\nRun of %s:\n\n%s\n" % (when, "".join(rows))
    open(readme, "w").write(text[:a] + body + text[b:])
    print("bench: README.md: the %s table of %s" % (name, src))
EOF
done
