// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * --user NAME: xlimit-sidecar opens the pinned objects and binds its
 * listeners as root, then becomes NAME (its uid, gid and the groups
 * /etc/group gives it). When the pins have a group NAME is in (`xlimit
 * load --pin-group`), it keeps no capability: it opens the maps it reads
 * read-only and the two programs it runs through that group. Else it
 * keeps CAP_DAC_OVERRIDE, to open the pins again (root's, mode 0600) when
 * xlimit is loaded anew. Reading and charging through fds opened before
 * (map lookups, BPF_PROG_TEST_RUN of the query program) needs none, nor
 * does BPF_OBJ_GET itself (tested on Linux 6.18,
 * unprivileged_bpf_disabled=2).
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "msg.h"
#include "xlimit_lib.h"
#include "sidecar.h"

static uid_t uid;
static gid_t gid;

int sc_user_lookup(const char *name)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw)
		return -1;
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	return 0;
}

/* The pin directory's group, XL_NO_GROUP if none: read as root from the
 * directory the pins were opened from (under `ip netns exec`, through
 * /proc/PID/root of the shell that ran ip, which the user may not enter). */
static gid_t pin_group(void)
{
	gid_t pg;

	return xl_pins_get_group(sc_pin_ctx(), &pg) ? XL_NO_GROUP : pg;
}

/* Is the user, with the groups it has now, in group pg? */
static bool in_group(gid_t pg)
{
	gid_t groups[NGROUPS_MAX];
	int i, n;

	if (pg == XL_NO_GROUP)
		return false;
	n = getgroups(NGROUPS_MAX, groups);
	for (i = 0; i < n; i++)
		if (groups[i] == pg)
			return true;
	return pg == gid;
}

int sc_drop_privileges(void)
{
	static const cap_value_t keep[] = { CAP_DAC_OVERRIDE };
	int n = sizeof(keep) / sizeof(keep[0]);
	cap_t caps;
	gid_t pg;
	int err = 0;

	if (!sc_cfg.user)
		return 0;
	pg = pin_group();
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    initgroups(sc_cfg.user, gid) || setgid(gid) || setuid(uid)) {
		xl_err("--user %s: cannot become that user: %s", sc_cfg.user,
		       strerror(errno));
		return -1;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (in_group(pg))
		n = 0;
	else
		xl_err("--user %s: keeps CAP_DAC_OVERRIDE to open the pins of %s, which are root's; with '--pin-group GROUP' on xlimit load or attach, and %s in GROUP, it needs none",
		       sc_cfg.user, sc_cfg.pin_dir, sc_cfg.user);
	caps = cap_init();
	if (!caps ||
	    (n && (cap_set_flag(caps, CAP_PERMITTED, n, keep, CAP_SET) ||
		   cap_set_flag(caps, CAP_EFFECTIVE, n, keep, CAP_SET))) ||
	    cap_set_proc(caps)) {
		xl_err("--user %s: cannot keep the capabilities it needs: %s",
		       sc_cfg.user, strerror(errno));
		err = -1;
	}
	if (caps)
		cap_free(caps);
	if (!err && (getuid() != uid || geteuid() != uid)) {
		xl_err("--user %s: still running as uid %d", sc_cfg.user,
		       (int)geteuid());
		err = -1;
	}
	return err;
}
