/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Loading and attaching, as cmd_attach.c uses them for `load`, `attach`,
 * `detach` and `unload`, shared with `apply` (cmd_apply.c), which loads,
 * attaches and detaches under one lock. Every function expects the lock
 * of the pin directory held (xl_lock()). A message (ctx->err) names the
 * interface when there is one: "eth0: another XDP program ...".
 */
#ifndef XL_ATTACH_H
#define XL_ATTACH_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>

#include "xlimit_lib.h"

enum xl_mode { XL_MODE_AUTO, XL_MODE_NATIVE, XL_MODE_GENERIC, XL_MODE_TC };
extern const char *const xl_mode_names[4]; /* by enum xl_mode */

/* The pinned programs, opened. */
struct xl_progs {
	int xdp, tc, query;
};
void xl_progs_close(struct xl_progs *p);

/* A pin directory being built as <pin dir>~new (see cmd_attach.c). */
struct xl_stage {
	char dir[PATH_MAX]; /* "" when not staging */
	char final[PATH_MAX];
};

/* Loads and pins the maps and programs into a stage, unless xlimit is
 * loaded already (then the pinned ones are opened). The caller commits
 * or aborts the stage. max_sources 0 = the default, or what the pinned
 * state map has. Returns 0 or -errno with a message in c. */
int xl_load(struct xl_ctx *c, __u32 max_sources, struct xl_progs *p,
	    struct xl_stage *stage);
/* Renames the stage into place (a no-op when not staging). */
int xl_stage_commit(struct xl_ctx *c, struct xl_stage *s);
/* Undoes a stage: detaches its links, removes its pins. */
int xl_stage_abort(struct xl_ctx *c, struct xl_stage *s);

/* The max_entries of the pinned state map, or 0 if there is none. */
__u32 xl_pinned_state_size(struct xl_ctx *c);

/* Where xlimit is attached on one interface. */
struct xl_attachment {
	char name[IF_NAMESIZE];
	int ifindex; /* 0: gone, or in another network namespace */
	bool elsewhere; /* its link's interface is alive, in another network
			 * namespace */
	enum xl_mode mode;
	__u32 prog_id;
	const char *pin_prefix; /* of its pinned link; NULL: a tc filter */
};

#define XL_MAX_IFACES 256

/* Lists where xlimit is attached; returns the number found. */
int xl_list_attachments(struct xl_ctx *c, struct xl_attachment *out, int max);
/* Attaches the programs of p to an interface in *mode; auto tries native
 * XDP, then tc, and says which in *mode. Returns 0 or -errno, with a message in c. */
int xl_attach_iface(struct xl_ctx *c, const char *ifname, int ifindex,
		    const struct xl_progs *p, enum xl_mode *mode);
/* Detaches one attachment. Returns 0 or -errno, with a message in c. */
int xl_detach_one(struct xl_ctx *c, const struct xl_attachment *a);
/* The attachment on ifname into *a: 1, or 0 when there is none. */
int xl_find_attachment(struct xl_ctx *c, const char *ifname,
		       struct xl_attachment *a);
/* The mode, as far as this network namespace can tell. */
const char *xl_mode_label(const struct xl_attachment *a);

/* Opens the pinned programs: 0 or -ENOENT. */
int xl_progs_open(struct xl_ctx *c, struct xl_progs *p);
/* The id of the program fd, or 0. */
int xl_get_prog_id(int fd);
/* Removes from dir every pin (all) or xlimit's own only, detaching links
 * first. Returns 0 or the first -errno, with a message in c. */
int xl_remove_pins(struct xl_ctx *c, const char *dir, bool all);

#endif /* XL_ATTACH_H */
