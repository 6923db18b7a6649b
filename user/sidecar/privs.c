// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * --user NAME: xlimit-sidecar opens the pinned objects and binds its
 * listeners as root, then becomes NAME (its uid, gid and no other groups),
 * keeping only the one capability it still needs: CAP_DAC_OVERRIDE, to
 * open the pins again (they are root's, mode 0600) when xlimit is loaded
 * anew. Reading and charging through the fds opened as root (map
 * lookups, BPF_PROG_TEST_RUN of the query program) needs none, nor does
 * BPF_OBJ_GET itself (tested on Linux 6.18, unprivileged_bpf_disabled=2).
 */
#include <errno.h>
#include <grp.h>
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

int sc_drop_privileges(void)
{
	static const cap_value_t keep[] = { CAP_DAC_OVERRIDE };
	int n = sizeof(keep) / sizeof(keep[0]);
	cap_t caps;
	int err = 0;

	if (!sc_cfg.user)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(1, &gid) ||
	    setgid(gid) || setuid(uid)) {
		xl_err("--user %s: cannot become that user: %s", sc_cfg.user,
		       strerror(errno));
		return -1;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	caps = cap_init();
	if (!caps || cap_set_flag(caps, CAP_PERMITTED, n, keep, CAP_SET) ||
	    cap_set_flag(caps, CAP_EFFECTIVE, n, keep, CAP_SET) ||
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
