#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Installs those of the Debian packages named on the command line that are
# not installed yet. Used by `make deps` (and so by `make check` and
# `make demo`); does nothing, quietly, when everything is there.
set -eu

missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "xlimit: missing Debian packages:$missing" >&2
	echo "xlimit: run as root (sudo make ...) to install them, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "xlimit: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
