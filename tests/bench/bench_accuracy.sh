#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Accuracy benchmark: runs build/bench/accuracy (the limiter of
# include/xl_limiter.h under a simulated clock) and prints its Markdown
# section.
set -u
cd "$(dirname "$0")/../.."
./build/bench/accuracy || exit 1
cat <<EOF

Method: \`build/bench/accuracy\` (tests/bench/accuracy.c) drives the
limiter's own code with a simulated clock for 60 windows. "Exact" is
60 × the amount. The even client sends 2× its limit, evenly spaced; the
bursty one sends as many hits, timed to straddle window edges: fixed
window is exact per window but lets up to 2 × amount through in one
period across an edge (Flask-Limiter's fixed window: 2 × amount − 1; an
xlimit window starts at its first hit rounded down to 2^20 ns, so it may
end up to 1.05 ms before first hit + period, and one period from its
first hit can hold all of it and all of the next).
EOF
