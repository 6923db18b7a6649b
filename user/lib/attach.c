// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loading and attaching, for `xlimit load`, `attach`, `detach`, `unload`,
 * `status` and `apply`. The programs and maps are pinned under the pin directory so
 * that they outlive the command. An XDP attachment is a bpf_link pinned as
 * link_<ifname>, a tc attachment a tcx link pinned as tcx_<ifname>: nobody
 * else can replace them, and they are found again from the pins whatever
 * network namespace the interface is in. On kernels without tcx (before
 * 6.6) a tc attachment is a cls_bpf filter on clsact ingress with
 * xlimit's own handle and priority, found by those in the current network
 * namespace.
 *
 * A command either does all it set out to do or leaves the pins as they
 * were: `load` (and `attach` when it loads) builds the pin directory
 * beside it as <pin dir>~new and renames it into place once every map,
 * program and link is made; on any failure the staging directory is
 * removed, and so nothing half made is ever seen under the pin directory.
 * `unload` removes the maps and programs only once everything is detached.
 *
 * The sockops program that learns known clients (bpf/flood.h) is
 * attached only when a rule asks for it (`limit set --admit-known`), to
 * the root of the cgroup v2 hierarchy, as a link pinned as sockops_link;
 * `unload` detaches it with the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "xlimit.skel.h"

/* enum bpf_attach_type's BPF_TCX_INGRESS (Linux 6.6), which the UAPI
 * headers of Debian 12 predate. */
#define XL_TCX_INGRESS 46
#define XL_LINK_TYPE_TCX 11 /* enum bpf_link_type's BPF_LINK_TYPE_TCX */
const char *const xl_mode_names[4] = { "auto", "native", "generic", "tc" };

void xl_progs_close(struct xl_progs *p)
{
	if (p->xdp >= 0)
		close(p->xdp);
	if (p->tc >= 0)
		close(p->tc);
	if (p->query >= 0)
		close(p->query);
	p->xdp = p->tc = p->query = -1;
}

int xl_progs_open(struct xl_ctx *c, struct xl_progs *p)
{
	char path[PATH_MAX];

	xl_pin_path(c, path, sizeof(path), XL_PIN_PROG_XDP);
	p->xdp = bpf_obj_get(path);
	xl_pin_path(c, path, sizeof(path), XL_PIN_PROG_TC);
	p->tc = bpf_obj_get(path);
	xl_pin_path(c, path, sizeof(path), XL_PIN_PROG_QUERY);
	p->query = bpf_obj_get(path);
	if (p->xdp < 0 || p->tc < 0 || p->query < 0) {
		xl_progs_close(p);
		return -ENOENT;
	}
	return 0;
}

__u32 xl_pinned_state_size(struct xl_ctx *c)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	xl_pin_path(c, path, sizeof(path), XL_STR(XL_MAP_STATE));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

/* Gives the hashes of xl_over and xl_vcache a random key, once per pinned
 * config: a sender that cannot tell slots apart cannot aim at one
 * client's. */
static int seed_config(int fd)
{
	struct xl_config cfg = {};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -errno;
	if (cfg.hash_seed)
		return 0;
	while (!cfg.hash_seed)
		if (getrandom(&cfg.hash_seed, sizeof(cfg.hash_seed), 0) !=
		    sizeof(cfg.hash_seed))
			return -errno;
	return bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

static const char *const prog_pins[] = { XL_PIN_PROG_XDP, XL_PIN_PROG_TC,
					 XL_PIN_PROG_QUERY, XL_PIN_PROG_SOCKOPS,
					 XL_PIN_PROG_ROUTE };
#define XL_NPROGS (int)(sizeof(prog_pins) / sizeof(prog_pins[0]))

static bool is_link_pin(const char *name)
{
	return !strncmp(name, XL_PIN_LINK_PREFIX, strlen(XL_PIN_LINK_PREFIX)) ||
	       !strncmp(name, XL_PIN_TCX_PREFIX, strlen(XL_PIN_TCX_PREFIX)) ||
	       !strcmp(name, XL_PIN_SOCKOPS_LINK);
}

/* The i-th map or program a loaded xlimit has pinned, NULL past them. */
static const char *needed_pin(int i)
{
	if (i < XL_M_NR)
		return xl_map_names[i];
	return i < XL_M_NR + XL_NPROGS ? prog_pins[i - XL_M_NR] : NULL;
}

/* Whether xlimit makes pins of that name: a map ("xl_..."), a program
 * ("prog_...") or a link, of this version or another. */
static bool pin_is_ours(const char *name)
{
	return !strncmp(name, "xl_", 3) || !strncmp(name, "prog_", 5) ||
	       is_link_pin(name);
}

/*
 * Removes from dir every pin (all) or xlimit's own only, detaching links
 * first: unlinking a pin another process holds open would leave its link
 * attached. Not the directory itself. Returns 0 or the first -errno, with
 * a message.
 */
int xl_remove_pins(struct xl_ctx *c, const char *dir, bool all)
{
	char path[PATH_MAX];
	struct dirent *de;
	int err = 0, fd;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (!all && !pin_is_ours(de->d_name)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (is_link_pin(de->d_name) && (fd = bpf_obj_get(path)) >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		if (unlink(path) && errno != ENOENT && !err)
			err = xl_ctx_fail(c, -errno, false, "remove %s: %s",
					  path, strerror(errno));
	}
	closedir(d);
	return err;
}

/* Whether path is a mount point: its parent is another filesystem. */
static bool is_mount_point(const char *path)
{
	char parent[PATH_MAX + 4];
	struct stat st, up;

	snprintf(parent, sizeof(parent), "%s/..", path);
	return !stat(path, &st) && !stat(parent, &up) && st.st_dev != up.st_dev;
}

/*
 * What the pin directory holds: 0 nothing (no directory, or an empty
 * one), 1 every map and program of a loaded xlimit (and maybe links), or
 * -errno with a message: part of them (a load that failed before
 * loads were all-or-nothing, or another version's set), or only objects
 * that are not xlimit's.
 */
static int pins_present(struct xl_ctx *c)
{
	const char *missing = NULL, *n;
	char path[PATH_MAX], foreign[NAME_MAX + 1] = "";
	int entries = 0, ours = 0, i;
	struct dirent *de;
	DIR *d;

	d = opendir(c->pin_dir);
	if (!d && errno == ENOENT)
		return 0;
	if (!d)
		return xl_ctx_fail(
			c, -errno, false,
			"--pin-dir %s: %s; remove it, or choose another --pin-dir",
			c->pin_dir, strerror(errno));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		entries++;
		if (pin_is_ours(de->d_name))
			ours++;
		else if (!*foreign)
			snprintf(foreign, sizeof(foreign), "%s", de->d_name);
	}
	closedir(d);
	for (i = 0; (n = needed_pin(i)) && !missing; i++) {
		xl_pin_path(c, path, sizeof(path), n);
		if (access(path, F_OK))
			missing = n;
	}
	if (!missing)
		return 1;
	/* A new pin directory is built beside it: the same filesystem. */
	if (is_mount_point(c->pin_dir))
		return xl_ctx_fail(
			c, -EBUSY, true,
			"--pin-dir %s is a mount point: xlimit builds its pins beside the pin directory, then renames them into place; pass --pin-dir %s/xlimit",
			c->pin_dir, c->pin_dir);
	if (!entries)
		return 0;
	if (!ours)
		return xl_ctx_fail(
			c, -EEXIST, true,
			"--pin-dir %s holds objects that are not xlimit's (%s); choose a directory of xlimit's own",
			c->pin_dir, foreign);
	/* Another version's maps: say which and how. */
	if (xl_pins_check(c) == -ESTALE)
		return -ESTALE;
	return xl_ctx_fail(
		c, -ENOENT, false,
		"%s holds part of an xlimit (no %s): left by another version of xlimit, or one that failed; run 'xlimit unload' to remove it ('xlimit dump > FILE' before and 'xlimit apply FILE' after keep its configuration), then try again",
		c->pin_dir, missing);
}

/*
 * Starts building the pin directory as <pin dir>~new (bpffs refuses names
 * with a '.'), where commands that read the pins do not look: from here
 * on c->pin_dir is that. A leftover of a load that was killed is
 * removed first (under the lock nobody else builds it); anything else in
 * the way is refused. Returns 0 or -errno with a message.
 */
static int stage_begin(struct xl_ctx *c, struct xl_stage *s)
{
	struct stat st;
	size_t n;

	n = snprintf(s->final, sizeof(s->final), "%s", c->pin_dir);
	while (n > 1 && s->final[n - 1] == '/')
		s->final[--n] = '\0';
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s~new", s->final) >=
	    sizeof(s->dir)) {
		s->dir[0] = '\0';
		return xl_ctx_fail(c, -ENAMETOOLONG, true,
				   "--pin-dir %s is too long", s->final);
	}
	if (!lstat(s->dir, &st)) {
		char *saved = s->dir;
		bool only_ours = S_ISDIR(st.st_mode);
		struct dirent *de;
		DIR *d = only_ours ? opendir(saved) : NULL;

		while (d && (de = readdir(d)))
			if (strcmp(de->d_name, ".") &&
			    strcmp(de->d_name, "..") &&
			    !pin_is_ours(de->d_name))
				only_ours = false;
		if (d)
			closedir(d);
		if (!only_ours || xl_remove_pins(c, saved, true) ||
		    rmdir(saved)) {
			int err = xl_ctx_fail(
				c, -EEXIST, false,
				"%s is in the way: xlimit builds a new pin directory there, and this is not one it left; remove it",
				saved);

			s->dir[0] = '\0';
			return err;
		}
	}
	if (mkdir(s->dir, 0700)) {
		int err = xl_ctx_fail(c, -errno, false, "create %s: %s", s->dir,
				      strerror(errno));

		s->dir[0] = '\0';
		return err;
	}
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", s->dir);
	return 0;
}

/* Renames the staging directory into place, if staging. On failure it is
 * left for xl_stage_abort(). Returns 0 or -errno with a message. */
int xl_stage_commit(struct xl_ctx *c, struct xl_stage *s)
{
	if (!s->dir[0])
		return 0;
	if (rename(s->dir, s->final))
		return xl_ctx_fail(c, -errno, false, "rename %s to %s: %s",
				   s->dir, s->final, strerror(errno));
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", s->final);
	s->dir[0] = '\0';
	return 0;
}

/* Undoes what was staged: detaches its links, removes its pins and the
 * directory. A no-op when not staging. Returns 0, or -errno with a
 * message when something stays. */
int xl_stage_abort(struct xl_ctx *c, struct xl_stage *s)
{
	int err = 0;

	if (!s->dir[0])
		return 0;
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", s->final);
	if (xl_remove_pins(c, s->dir, true) || rmdir(s->dir))
		err = xl_ctx_fail(
			c, -EBUSY, false,
			"could not remove %s; the next load removes it",
			s->dir);
	s->dir[0] = '\0';
	return err;
}

/*
 * Loads the object and pins its maps and programs into a staging
 * directory (stage_begin()), unless they are pinned already: then the
 * pinned ones are used. Called with the lock held; the caller commits or
 * aborts the stage. max_sources 0 = the default, or whatever the pinned
 * state map has.
 */
int xl_load(struct xl_ctx *c, __u32 max_sources, struct xl_progs *p,
	    struct xl_stage *stage)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct bpf_program *progs[XL_NPROGS];
	struct xlimit_bpf *skel;
	char path[PATH_MAX];
	__u32 have;
	int err, i;

	err = pins_present(c);
	if (err < 0)
		return err;
	if (err) {
		/* Never this build's programs on another's maps, nor
		 * another's programs written to with this build's layout. */
		err = xl_pins_check(c);
		if (err)
			return err;
		have = xl_pinned_state_size(c);
		if (max_sources && have != max_sources)
			return xl_ctx_fail(
				c, -EEXIST, true,
				"the state map already exists with %u entries; run 'xlimit unload' first to change --max-sources",
				have);
		if (xl_progs_open(c, p))
			return xl_ctx_fail(c, -errno, false,
					   "open the programs pinned in %s: %s",
					   c->pin_dir, strerror(errno));
		return 0;
	}
	err = stage_begin(c, stage);
	if (err)
		return err;
	oo.pin_root_path = c->pin_dir;
	skel = xlimit_bpf__open_opts(&oo);
	if (!skel)
		return xl_ctx_fail(c, -errno, false, "open BPF object: %s",
				   strerror(errno));
	if (max_sources)
		bpf_map__set_max_entries(skel->maps.XL_MAP_STATE, max_sources);
	err = xlimit_bpf__load(skel);
	if (err == -ENOMEM || err == -E2BIG) {
		xl_ctx_fail(
			c, err, false,
			"create the maps: %s; the state map for %u clients does not fit: use a smaller --max-sources",
			strerror(-err),
			bpf_map__max_entries(skel->maps.XL_MAP_STATE));
		goto out;
	} else if (err) {
		xl_ctx_fail(c, err, false, "load BPF programs: %s%s",
			    strerror(-err),
			    c->verbose ?
				    "" :
				    " (run with -v for the verifier's log)");
		goto out;
	}
	progs[0] = skel->progs.xlimit_xdp; /* in prog_pins' order */
	progs[1] = skel->progs.xlimit_tc;
	progs[2] = skel->progs.xlimit_query;
	progs[3] = skel->progs.xlimit_sockops;
	progs[4] = skel->progs.xlimit_route;
	for (i = 0; i < XL_NPROGS && !err; i++) {
		xl_pin_path(c, path, sizeof(path), prog_pins[i]);
		err = bpf_program__pin(progs[i], path);
	}
	if (err) {
		xl_ctx_fail(c, err, false, "pin %s: %s", path, strerror(-err));
		goto out;
	}
	err = seed_config(bpf_map__fd(skel->maps.XL_MAP_CONFIG));
	if (!err) {
		struct xl_maps lm;

		xl_maps_of(skel->obj, &lm);
		err = xl_config_resync(&lm);
	}
	if (err) {
		xl_ctx_fail(c, err, false, "write %s: %s",
			    XL_STR(XL_MAP_CONFIG), strerror(-err));
		goto out;
	}
	err = xl_progs_open(c, p);
	if (err)
		xl_ctx_fail(c, err, false, "reopen pinned programs: %s",
			    strerror(-err));
out:
	xlimit_bpf__destroy(skel);
	return err;
}

int xl_get_prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/* Our tc filter on ifindex: its program id, or 0. */
static __u32 tc_prog_on(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = XL_TC_HANDLE,
		    .priority = XL_TC_PRIORITY);

	if (bpf_tc_query(&hook, &o))
		return 0;
	return o.prog_id;
}

/* XDP mode and program on ifindex as the kernel reports it. */
static enum xl_mode xdp_mode_on(int ifindex, __u32 *prog_id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	*prog_id = 0;
	if (bpf_xdp_query(ifindex, 0, &q))
		return XL_MODE_AUTO;
	if (q.attach_mode == XDP_ATTACHED_DRV) {
		*prog_id = q.drv_prog_id;
		return XL_MODE_NATIVE;
	}
	if (q.attach_mode == XDP_ATTACHED_SKB) {
		*prog_id = q.skb_prog_id;
		return XL_MODE_GENERIC;
	}
	if (q.attach_mode == XDP_ATTACHED_MULTI) {
		*prog_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
		return q.drv_prog_id ? XL_MODE_NATIVE : XL_MODE_GENERIC;
	}
	return XL_MODE_AUTO;
}

/* Fills *a from the link pinned as `pin` in the pin directory. */
static void link_attachment(struct xl_ctx *c, const char *pin,
			    const char *prefix, struct xl_attachment *a)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX], here[IF_NAMESIZE];
	int fd;

	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", pin + strlen(prefix));
	a->pin_prefix = prefix;
	a->mode = strcmp(prefix, XL_PIN_TCX_PREFIX) ? XL_MODE_NATIVE :
						      XL_MODE_TC;
	xl_pin_path(c, path, sizeof(path), pin);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	/* tcx's link info starts with the ifindex too, where xdp's does. */
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.xdp.ifindex &&
	    if_indextoname(info.xdp.ifindex, here) && !strcmp(here, a->name))
		a->ifindex = info.xdp.ifindex;
	a->elsewhere = !a->ifindex && info.xdp.ifindex;
	a->prog_id = info.prog_id;
	close(fd);
	if (a->ifindex && a->mode != XL_MODE_TC)
		a->mode = xdp_mode_on(a->ifindex, &a->prog_id);
}

/* Lists where xlimit is attached: pinned XDP and tcx links, and tc filters
 * with our handle running our tc program. Returns the number found. */
int xl_list_attachments(struct xl_ctx *c, struct xl_attachment *out, int max)
{
	static const char *const prefixes[] = { XL_PIN_LINK_PREFIX,
						XL_PIN_TCX_PREFIX };
	struct if_nameindex *ifs, *i;
	char path[PATH_MAX];
	struct dirent *de;
	__u32 tc_id = 0;
	int n = 0, fd, k;
	DIR *d;

	d = opendir(c->pin_dir);
	while (d && (de = readdir(d)) && n < max) {
		for (k = 0; k < 2; k++) {
			if (strncmp(de->d_name, prefixes[k],
				    strlen(prefixes[k])))
				continue;
			link_attachment(c, de->d_name, prefixes[k], &out[n++]);
			break;
		}
	}
	if (d)
		closedir(d);

	xl_pin_path(c, path, sizeof(path), XL_PIN_PROG_TC);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		tc_id = xl_get_prog_id(fd);
		close(fd);
	}
	ifs = if_nameindex();
	for (i = ifs; tc_id && i && i->if_index && n < max; i++) {
		if (tc_prog_on(i->if_index) != tc_id)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].name, sizeof(out[n].name), "%s", i->if_name);
		out[n].ifindex = i->if_index;
		out[n].mode = XL_MODE_TC;
		out[n].prog_id = tc_id;
		n++;
	}
	if (ifs)
		if_freenameindex(ifs);
	return n;
}

/* The mode, as far as this network namespace can tell. */
const char *xl_mode_label(const struct xl_attachment *a)
{
	if (a->ifindex)
		return xl_mode_names[a->mode];
	return a->mode == XL_MODE_TC ? "tc" : "xdp";
}

/* Attaches prog_fd to ifindex with a link of `type` and pins it as
 * <prefix><ifname>. Returns 0 or -errno (printed, except -EINVAL for a
 * tcx link, which the caller takes as "no tcx in this kernel"). */
static int attach_link(struct xl_ctx *c, const char *ifname, int ifindex,
		       int prog_fd, enum xl_mode mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	bool tcx = mode == XL_MODE_TC;
	char path[PATH_MAX], name[NAME_MAX + 1];
	int link, err;

	if (!tcx)
		lo.flags = mode == XL_MODE_NATIVE ? XDP_FLAGS_DRV_MODE :
						    XDP_FLAGS_SKB_MODE;
	link = bpf_link_create(prog_fd, ifindex, tcx ? XL_TCX_INGRESS : BPF_XDP,
			       &lo);
	if (link < 0) {
		err = -errno;
		if (tcx && err == -EINVAL)
			return err;
		if (!tcx && (err == -EBUSY || err == -EEXIST)) {
			__u32 id;

			xdp_mode_on(ifindex, &id);
			xl_ctx_fail(
				c, err, false,
				"%s: another XDP program (id %u) is attached; remove it first, or use --mode tc",
				ifname, id);
		} else if (mode == XL_MODE_NATIVE &&
			   (err == -EOPNOTSUPP || err == -EINVAL)) {
			xl_ctx_fail(
				c, err, false,
				"%s: native XDP is not supported by this driver; use --mode generic or --mode tc",
				ifname);
		} else {
			xl_ctx_fail(c, err, false, "%s: attach %s: %s", ifname,
				    xl_mode_names[mode], strerror(-err));
		}
		return err;
	}
	snprintf(name, sizeof(name), "%s%s",
		 tcx ? XL_PIN_TCX_PREFIX : XL_PIN_LINK_PREFIX, ifname);
	err = xl_pin_path(c, path, sizeof(path), name);
	if (!err && bpf_obj_pin(link, path))
		err = -errno;
	if (err) {
		xl_ctx_fail(c, err, false, "%s: pin link %s: %s", ifname, path,
			    strerror(-err));
		bpf_link_detach(link);
		close(link);
		return err;
	}
	close(link);
	return 0;
}

/* tc ingress: a tcx link where the kernel has them, else a filter. */
static int attach_tc(struct xl_ctx *c, const char *ifname, int ifindex,
		     int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = XL_TC_HANDLE,
		    .priority = XL_TC_PRIORITY, .prog_fd = prog_fd);
	int err;

	err = attach_link(c, ifname, ifindex, prog_fd, XL_MODE_TC);
	if (err != -EINVAL)
		return err;
	/* XXX: a filter, unlike a link, cannot be found from another network
	 * namespace: unload there leaves it in place. */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		return xl_ctx_fail(c, err, false, "%s: create clsact qdisc: %s",
				   ifname, strerror(-err));
	}
	err = bpf_tc_attach(&hook, &o);
	if (err)
		xl_ctx_fail(c, err, false, "%s: attach tc filter: %s", ifname,
			    strerror(-err));
	return err;
}

int xl_find_attachment(struct xl_ctx *c, const char *ifname,
		       struct xl_attachment *a)
{
	struct xl_attachment all[XL_MAX_IFACES];
	int n = xl_list_attachments(c, all, XL_MAX_IFACES), i;

	for (i = 0; i < n; i++) {
		if (!strcmp(all[i].name, ifname)) {
			*a = all[i];
			return 1;
		}
	}
	return 0;
}

int xl_detach_one(struct xl_ctx *c, const struct xl_attachment *a)
{
	char path[PATH_MAX], name[NAME_MAX + 1];
	int err = 0, fd;

	if (!a->pin_prefix) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = XL_TC_HANDLE,
			    .priority = XL_TC_PRIORITY);

		err = bpf_tc_detach(&hook, &o);
		if (err)
			xl_ctx_fail(c, err, false, "%s: remove tc filter: %s",
				    a->name, strerror(-err));
		return err;
	}
	/* Detach explicitly: an open fd elsewhere would keep the link. */
	snprintf(name, sizeof(name), "%s%s", a->pin_prefix, a->name);
	xl_pin_path(c, path, sizeof(path), name);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* ENOLINK: its interface is gone. Anything else (a pin that
		 * is not a link) stays, and so does the pin. */
		if (bpf_link_detach(fd) && errno != ENOLINK)
			err = -errno;
		close(fd);
	}
	if (!err && unlink(path) && errno != ENOENT)
		err = -errno;
	if (err)
		xl_ctx_fail(c, err, false, "%s: %s: %s; it stays attached",
			    a->name, path, strerror(-err));
	return err;
}

int xl_attach_iface(struct xl_ctx *c, const char *ifname, int ifindex,
		    const struct xl_progs *p, enum xl_mode *mode)
{
	int err;

	switch (*mode) {
	case XL_MODE_AUTO:
		err = attach_link(c, ifname, ifindex, p->xdp, XL_MODE_NATIVE);
		if (err == -EOPNOTSUPP || err == -EINVAL) {
			*mode = XL_MODE_TC;
			return attach_tc(c, ifname, ifindex, p->tc);
		}
		*mode = XL_MODE_NATIVE;
		return err;
	case XL_MODE_NATIVE:
	case XL_MODE_GENERIC:
		return attach_link(c, ifname, ifindex, p->xdp, *mode);
	case XL_MODE_TC:
		return attach_tc(c, ifname, ifindex, p->tc);
	}
	return -EINVAL;
}

/* Where the cgroup v2 hierarchy is mounted (its root in this cgroup
 * namespace), or -ENOENT. */
static int cgroup2_root(char *buf, size_t len)
{
	FILE *f = setmntent("/proc/self/mounts", "re");
	struct mntent *me;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((me = getmntent(f))) {
		if (strcmp(me->mnt_type, "cgroup2"))
			continue;
		snprintf(buf, len, "%s", me->mnt_dir);
		err = 0;
		break;
	}
	endmntent(f);
	return err;
}

int xl_known_attach(struct xl_ctx *c)
{
	char link_path[PATH_MAX], prog_path[PATH_MAX], cg[PATH_MAX];
	int prog = -1, cgfd = -1, link = -1, err;

	xl_pin_path(c, link_path, sizeof(link_path), XL_PIN_SOCKOPS_LINK);
	if (!access(link_path, F_OK))
		return 0;
	if (cgroup2_root(cg, sizeof(cg)))
		return xl_ctx_fail(
			c, -ENOENT, false,
			"--admit-known learns known clients from the connections the kernel establishes, with a sockops program on the cgroup v2 hierarchy, and none is mounted; mount it with 'mount -t cgroup2 none /sys/fs/cgroup/unified'");
	xl_pin_path(c, prog_path, sizeof(prog_path), XL_PIN_PROG_SOCKOPS);
	prog = bpf_obj_get(prog_path);
	cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (prog < 0 || cgfd < 0) {
		err = -errno;
		xl_ctx_fail(c, err, false, "open %s: %s",
			    prog < 0 ? prog_path : cg, strerror(-err));
		goto out;
	}
	link = bpf_link_create(prog, cgfd, BPF_CGROUP_SOCK_OPS, NULL);
	if (link < 0) {
		err = -errno;
		xl_ctx_fail(c, err, false,
			    "attach the sockops program to the cgroup %s: %s",
			    cg, strerror(-err));
		goto out;
	}
	err = bpf_obj_pin(link, link_path) ? -errno : 0;
	if (err) {
		xl_ctx_fail(c, err, false, "pin %s: %s", link_path,
			    strerror(-err));
		bpf_link_detach(link);
	}
out:
	if (link >= 0)
		close(link);
	if (cgfd >= 0)
		close(cgfd);
	if (prog >= 0)
		close(prog);
	return err;
}
