// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The pin directory: where it is (xl_pin_dir_resolve()), the maps pinned
 * in it and the lock that serialises the commands that change it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xlimit_lib.h"
#include "xlimit.skel.h"

const char *const xl_map_names[XL_M_NR] = {
	[XL_M_RULES] = XL_STR(XL_MAP_RULES),
	[XL_M_STATE] = XL_STR(XL_MAP_STATE),
	[XL_M_ALLOW] = XL_STR(XL_MAP_ALLOW),
	[XL_M_DENY] = XL_STR(XL_MAP_DENY),
	[XL_M_STATS] = XL_STR(XL_MAP_STATS),
	[XL_M_CONFIG] = XL_STR(XL_MAP_CONFIG),
	[XL_M_OVER] = XL_STR(XL_MAP_OVER),
	[XL_M_VCACHE] = XL_STR(XL_MAP_VCACHE),
	[XL_M_SYNC] = XL_STR(XL_MAP_SYNC),
	[XL_M_SEEN] = XL_STR(XL_MAP_SEEN),
	[XL_M_EVENTS] = XL_STR(XL_MAP_EVENTS),
	[XL_M_TOTAL] = XL_STR(XL_MAP_TOTAL),
	[XL_M_KNOWN] = XL_STR(XL_MAP_KNOWN),
	[XL_M_ROUTES] = XL_STR(XL_MAP_ROUTES),
	[XL_M_RSTATE] = XL_STR(XL_MAP_RSTATE),
	[XL_M_PORTS] = XL_STR(XL_MAP_PORTS),
	[XL_M_RSLOTS] = XL_STR(XL_MAP_RSLOTS),
	[XL_M_RSTATS] = XL_STR(XL_MAP_RSTATS),
};

void xl_ctx_init(struct xl_ctx *c, const char *pin_dir)
{
	int i;

	memset(c, 0, sizeof(*c));
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s",
		 pin_dir ? pin_dir : XL_PIN_DIR);
	for (i = 0; i < XL_M_NR; i++)
		c->maps.fd[i] = -1;
}

void xl_maps_of(struct bpf_object *obj, struct xl_maps *m)
{
	struct bpf_map *map;
	int i;

	for (i = 0; i < XL_M_NR; i++) {
		map = bpf_object__find_map_by_name(obj, xl_map_names[i]);
		m->fd[i] = map ? bpf_map__fd(map) : -1;
	}
}

int xl_pin_path(const struct xl_ctx *c, char *buf, size_t len, const char *name)
{
	size_t n = strlen(c->pin_dir), m = strlen(name);

	if (n + 1 + m >= len)
		return -ENAMETOOLONG;
	memcpy(buf, c->pin_dir, n);
	buf[n] = '/';
	memcpy(buf + n + 1, name, m + 1);
	return 0;
}

/* Appends to buf (of len) what printf makes of fmt, as far as it fits. */
static void append(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/* The maps `xlimit dump` reads, and of them those it does without when
 * they are not pinned (an xlimit from before routes or ceilings). */
#define XL_DUMP_MAPS                                               \
	(1u << XL_M_RULES | 1u << XL_M_TOTAL | 1u << XL_M_CONFIG | \
	 1u << XL_M_ALLOW | 1u << XL_M_DENY | 1u << XL_M_ROUTES)
#define XL_DUMP_OPTIONAL (1u << XL_M_TOTAL | 1u << XL_M_ROUTES)

/* Appends what is pinned as map i and differs from what this build
 * makes of it (as its BPF object declares it) to buf, one clause per
 * difference ("xl_stats: value size 96, this xlimit expects 104"). The
 * state map's size is not one: --max-sources sets it at load. Returns
 * whether anything differs. */
static bool map_differs(int i, const struct bpf_map_info *have,
			const struct bpf_map *want, char *buf, size_t len)
{
	const struct {
		const char *what, *fmt;
		__u32 have, want;
	} f[] = {
		{ "key size", "%u", have->key_size, bpf_map__key_size(want) },
		{ "value size", "%u", have->value_size,
		  bpf_map__value_size(want) },
		{ "map flags", "0x%x", have->map_flags,
		  bpf_map__map_flags(want) },
		{ "max_entries", "%u", i == XL_M_STATE ? 0 : have->max_entries,
		  i == XL_M_STATE ? 0 : bpf_map__max_entries(want) },
	};
	char fmt[64];
	bool differs = false;
	size_t k;

	if (have->type != bpf_map__type(want)) {
		const char *h = libbpf_bpf_map_type_str(have->type);

		append(buf, len, "; %s: type %s, this xlimit expects %s",
		       xl_map_names[i], h ? h : "unknown",
		       libbpf_bpf_map_type_str(bpf_map__type(want)));
		differs = true;
	}
	for (k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		if (f[k].have == f[k].want)
			continue;
		snprintf(fmt, sizeof(fmt),
			 "; %%s: %%s %s, this xlimit expects %s", f[k].fmt,
			 f[k].fmt);
		append(buf, len, fmt, xl_map_names[i], f[k].what, f[k].have,
		       f[k].want);
		differs = true;
	}
	return differs;
}

/* Names the maps of mask in buf, "a, b and c". */
static void map_list(__u32 mask, char *buf, size_t len)
{
	int i, left = __builtin_popcount(mask);

	for (i = 0; i < XL_M_NR; i++)
		if (mask & 1u << i)
			append(buf, len, "%s%s", xl_map_names[i],
			       --left > 1 ? ", " :
			       left	  ? " and " :
					    "");
}

/* Fails c with what differs in the pin directory and how to move what
 * it holds over to this version. */
static int another_version(struct xl_ctx *c, const char *diffs,
			   __u32 unreadable)
{
	char xl[PATH_MAX + 32] = "xlimit", unread[256] = "";
	const char *dir = c->pin_dir + strlen(c->root);

	if (strcmp(dir, XL_PIN_DIR))
		snprintf(xl, sizeof(xl), "xlimit --pin-dir %s", dir);
	map_list(unreadable & XL_DUMP_MAPS, unread, sizeof(unread));
	if (*unread)
		return xl_ctx_fail(
			c, -ESTALE, true,
			"%s holds the pins of another version of xlimit: %s. 'xlimit dump' (and 'xlimit upgrade') cannot read %s either: write the configuration down with the xlimit that loaded them ('xlimit dump > FILE'), then with this one run '%s unload' and '%s apply FILE'",
			dir, diffs + 2, unread, xl, xl);
	return xl_ctx_fail(
		c, -ESTALE, true,
		"%s holds the pins of another version of xlimit: %s. Carry its configuration over to this version (the counts start again) with '%s upgrade', or by hand: '%s dump > FILE', '%s unload', '%s apply FILE' (apply loads xlimit and attaches the interfaces FILE names)",
		dir, diffs + 2, xl, xl, xl, xl);
}

/* xl_maps_open() with only the maps of `need` (a mask of 1u << XL_M_*)
 * required, less those of `optional` when they are not pinned: a map
 * outside `need` that is missing or differs has fd -1. */
static int maps_open(struct xl_ctx *c, __u32 need, __u32 optional)
{
	LIBBPF_OPTS(bpf_obj_get_opts, o);
	struct xl_maps *m = &c->maps;
	struct xlimit_bpf *skel = NULL;
	char path[PATH_MAX], diffs[sizeof(c->err) / 2] = "";
	__u32 differ = 0, missing = 0;
	int i, err, pinned = 0;

	for (i = 0; i < XL_M_NR; i++)
		m->fd[i] = -1;
	if (c->maps_rdonly)
		o.file_flags = BPF_F_RDONLY;
	for (i = 0; i < XL_M_NR; i++) {
		xl_pin_path(c, path, sizeof(path), xl_map_names[i]);
		m->fd[i] = bpf_obj_get_opts(path, &o);
		if (m->fd[i] >= 0) {
			pinned++;
			continue;
		}
		err = -errno;
		if (err == -ENOENT) {
			missing |= 1u << i;
			continue;
		}
		/* A reader its pin group lets open only the maps it reads:
		 * those are the ones checked. */
		if (err == -EACCES && c->maps_rdonly)
			continue;
		xl_maps_close(c);
		return xl_ctx_fail(c, err, false, "open %s: %s", path,
				   strerror(-err));
	}
	if (!pinned) {
		xl_pin_path(c, path, sizeof(path), xl_map_names[0]);
		return xl_ctx_fail(
			c, -ENOENT, true,
			"xlimit is not loaded (no %s); run 'xlimit attach IFACE' (or 'xlimit load') first",
			path);
	}
	for (i = 0; i < XL_M_NR; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (missing & 1u << i) {
			append(diffs, sizeof(diffs), "; %s is missing",
			       xl_map_names[i]);
			continue;
		}
		if (m->fd[i] < 0) /* not ours to open (above) */
			continue;
		if (!skel && !(skel = xlimit_bpf__open())) {
			err = -errno;
			xl_maps_close(c);
			return xl_ctx_fail(c, err, false, "open BPF object: %s",
					   strerror(-err));
		}
		if (bpf_obj_get_info_by_fd(m->fd[i], &info, &len))
			info.type = BPF_MAP_TYPE_UNSPEC; /* not a map */
		if (!map_differs(i, &info,
				 bpf_object__find_map_by_name(skel->obj,
							      xl_map_names[i]),
				 diffs, sizeof(diffs)))
			continue;
		/* Nothing reads or writes it with this build's layout. */
		close(m->fd[i]);
		m->fd[i] = -1;
		differ |= 1u << i;
	}
	xlimit_bpf__destroy(skel);
	if (!((differ | (missing & ~optional)) & need))
		return 0;
	xl_maps_close(c);
	return another_version(c, diffs,
			       differ | (missing & ~XL_DUMP_OPTIONAL));
}

int xl_maps_open(struct xl_ctx *c)
{
	return maps_open(c, ~0u, 0);
}

int xl_maps_open_dump(struct xl_ctx *c)
{
	return maps_open(c, XL_DUMP_MAPS, XL_DUMP_OPTIONAL);
}

int xl_pins_check(struct xl_ctx *c)
{
	bool rdonly = c->maps_rdonly;
	int err;

	c->maps_rdonly = true;
	err = xl_maps_open(c);
	c->maps_rdonly = rdonly;
	xl_maps_close(c);
	return err;
}

void xl_maps_close(struct xl_ctx *c)
{
	struct xl_maps *m = &c->maps;
	int i;

	for (i = 0; i < XL_M_NR; i++) {
		if (m->fd[i] >= 0)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
}

const char *const xl_shared_maps[] = {
	XL_STR(XL_MAP_ALLOW),
	XL_STR(XL_MAP_DENY),
	XL_STR(XL_MAP_RULES),
	XL_STR(XL_MAP_STATS),
	XL_STR(XL_MAP_ROUTES),
	XL_STR(XL_MAP_CONFIG),
	XL_STR(XL_MAP_RSTATS), /* /metrics */
	NULL,
};
const char *const xl_shared_progs[] = { XL_PIN_PROG_QUERY, XL_PIN_PROG_ROUTE,
					NULL };

static int share_one(struct xl_ctx *c, const char *name, gid_t gid, mode_t mode)
{
	char path[PATH_MAX];

	xl_pin_path(c, path, sizeof(path), name);
	if (chown(path, 0, gid == XL_NO_GROUP ? 0 : gid) ||
	    chmod(path, gid == XL_NO_GROUP ? 0600 : mode))
		return xl_ctx_fail(c, -errno, false, "give %s the group: %s",
				   path, strerror(errno));
	return 0;
}

int xl_pins_set_group(struct xl_ctx *c, gid_t gid)
{
	int i, err = 0;

	for (i = 0; xl_shared_maps[i] && !err; i++)
		err = share_one(c, xl_shared_maps[i], gid, 0640);
	for (i = 0; xl_shared_progs[i] && !err; i++)
		err = share_one(c, xl_shared_progs[i], gid, 0660);
	if (err)
		return err;
	/* The directory last: nothing is reachable before its pins are. */
	if (chown(c->pin_dir, 0, gid == XL_NO_GROUP ? 0 : gid) ||
	    chmod(c->pin_dir, gid == XL_NO_GROUP ? 0700 : 0750))
		return xl_ctx_fail(c, -errno, false, "give %s the group: %s",
				   c->pin_dir, strerror(errno));
	return 0;
}

int xl_pins_get_group(struct xl_ctx *c, gid_t *gid)
{
	struct stat st;

	if (stat(c->pin_dir, &st))
		return xl_ctx_fail(c, -errno, false, "%s: %s", c->pin_dir,
				   strerror(errno));
	*gid = (st.st_mode & 0050) == 0050 ? st.st_gid : XL_NO_GROUP;
	return 0;
}

/* The pin directory as an absolute path, its parent resolved: what the
 * lock file is named after, the path in the mount namespace xlimit works
 * in (without c->root). Returns 0 or -EINVAL, with a message. */
static int canonical_pin_dir(struct xl_ctx *c, char *out, size_t len)
{
	char dir[PATH_MAX], real[PATH_MAX], *base;
	size_t n;

	if (*c->root) { /* made canonical by xl_pin_dir_resolve() */
		snprintf(out, len, "%s", c->pin_dir + strlen(c->root));
		return 0;
	}
	n = snprintf(dir, sizeof(dir), "%s", c->pin_dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	base = strrchr(dir, '/');
	if (base)
		*base++ = '\0';
	else
		base = dir;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return xl_ctx_fail(
			c, -EINVAL, true,
			"--pin-dir '%s' must name a directory of its own, e.g. %s",
			c->pin_dir, XL_PIN_DIR);
	if (!realpath(base == dir ? "." : *dir ? dir : "/", real))
		return xl_ctx_fail(c, -EINVAL, true,
				   "--pin-dir '%s': its parent directory: %s",
				   c->pin_dir, strerror(errno));
	if ((size_t)snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "",
			     base) >= len)
		return xl_ctx_fail(c, -EINVAL, true,
				   "--pin-dir '%s' is too long", c->pin_dir);
	return 0;
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* The parent process of pid, or 0. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd, ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, ')' too */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

/*
 * The nearest ancestor process in another mount namespace than ours, as
 * under `ip netns exec` (which unshares the mount namespace and mounts a
 * fresh /sys, without bpffs, for the command it runs) or `unshare -m`: the
 * namespace xlimit was started from. 0 when there is none this process may
 * look into (an ancestor of another user, or the top of our PID
 * namespace).
 */
static pid_t mount_ns_anchor(void)
{
	struct stat self, st;
	char path[64];
	pid_t pid = getppid();
	int depth;

	if (stat("/proc/self/ns/mnt", &self))
		return 0;
	for (depth = 0; pid > 0 && depth < 64; depth++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
		if (stat(path, &st))
			return 0;
		if (st.st_ino != self.st_ino || st.st_dev != self.st_dev)
			return pid;
		pid = parent_of(pid);
	}
	return 0;
}

/* statfs() and stat() of path's bpffs: its st_dev, or 0 off bpffs. */
static dev_t bpffs_dev(const char *path)
{
	struct stat st;

	if (!on_bpffs(path) || stat(path, &st))
		return 0;
	return st.st_dev;
}

bool xl_pin_dir_resolve(struct xl_ctx *c)
{
	char root[32], canon[PATH_MAX], parent[PATH_MAX + 32];
	dev_t ours, theirs;
	pid_t anchor;

	if (canonical_pin_dir(c, canon, sizeof(canon)))
		return false; /* the command says what is wrong */
	anchor = mount_ns_anchor();
	if (!anchor)
		return false;
	c->anchor = anchor;
	snprintf(root, sizeof(root), "/proc/%d/root", (int)anchor);
	snprintf(parent, sizeof(parent), "%s%s", root, canon);
	*strrchr(parent, '/') = '\0';
	theirs = bpffs_dev(parent);
	ours = bpffs_dev(parent + strlen(root));
	/* Only where this namespace has no bpffs at all: one mounted here
	 * on purpose (`nsenter --mount` into a container's) is used. */
	if (!theirs || ours)
		return false;
	if ((size_t)snprintf(parent, sizeof(parent), "%s%s", root, canon) >=
	    sizeof(c->pin_dir))
		return false;
	snprintf(c->root, sizeof(c->root), "%s", root);
	strcpy(c->pin_dir, parent); /* its length is checked above */
	return true;
}

/*
 * Pins can only live on a bpf filesystem: the pin directory, or its parent
 * when it does not exist yet, must be on one. The one exception is
 * /sys/fs/bpf, the kernel's own mount point for it, which stays empty
 * until bpffs is mounted there: mount it when it is missing, unless this
 * is a mount namespace that dies with the command (see
 * xl_pin_dir_resolve()). Anywhere else, mounting would hide what the
 * directory holds, so refuse. `path` is the pin directory as this process
 * reaches it.
 */
static int ensure_bpffs(struct xl_ctx *c, const char *path)
{
	char parent[PATH_MAX];

	if (on_bpffs(path))
		return 0;
	if (access(path, F_OK)) {
		snprintf(parent, sizeof(parent), "%s", path);
		*strrchr(parent, '/') = '\0';
		if (on_bpffs(parent))
			return 0;
		if (!strcmp(parent, XL_BPFFS_DEFAULT) && c->anchor)
			return xl_ctx_fail(
				c, -EXDEV, true,
				"this mount namespace is not the one xlimit was started from (as under 'ip netns exec', which mounts its own /sys), and neither has a bpf filesystem on %s: pins made here would vanish with the command; mount one on the host with 'mount -t bpf bpf %s', and run xlimit in a network namespace with 'nsenter --net=/run/netns/NAME xlimit ...'",
				parent, parent);
		if (!strcmp(parent, XL_BPFFS_DEFAULT)) {
			if (!mount("bpf", parent, "bpf", 0, NULL))
				return 0;
			return xl_ctx_fail(
				c, -errno, false,
				"mount a bpf filesystem on %s: %s; mount it with 'mount -t bpf bpf %s'",
				parent, strerror(errno), parent);
		}
	}
	return xl_ctx_fail(
		c, -ENOTSUP, true,
		"--pin-dir %s is not on a bpf filesystem, which pins need; use a directory under %s, or mount one first with 'mount -t bpf bpf DIR' and pass --pin-dir DIR/xlimit",
		path, XL_BPFFS_DEFAULT);
}

/*
 * The lock serialises every command that changes the pins of one pin
 * directory. It is a file of its own under XL_LOCK_DIR (in the mount
 * namespace the pins are in), never removed, named after the pin
 * directory's path ('/' as '-', anything else than letters, digits, '_'
 * and '.' as \xNN, as systemd escapes paths), so that `unload` can remove
 * the pin directory while holding it and the next `load` waits, then finds
 * no directory or a whole one. Returns an fd, or -errno with a message.
 */
static int take_lock(struct xl_ctx *c, const char *canon)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2], name[NAME_MAX + 1];
	const unsigned char *p;
	size_t off = 0;
	int fd;

	for (p = (const unsigned char *)canon + 1; *p && off < NAME_MAX; p++) {
		if (*p == '/')
			name[off++] = '-';
		else if (isalnum(*p) || *p == '_' || *p == '.')
			name[off++] = *p;
		else
			off += snprintf(name + off, sizeof(name) - off,
					"\\x%02x", *p);
	}
	if (*p || off + strlen(".lock") > NAME_MAX)
		return xl_ctx_fail(
			c, -ENAMETOOLONG, true,
			"--pin-dir %s is too long to name its lock file after",
			canon);
	snprintf(dir, sizeof(dir), "%s" XL_LOCK_DIR, c->root);
	snprintf(path, sizeof(path), "%s/%.*s.lock", dir, (int)off, name);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return xl_ctx_fail(c, -errno, false, "create %s: %s", dir,
				   strerror(errno));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return xl_ctx_fail(c, err, false, "lock %s: %s", path,
				   strerror(-err));
	}
	return fd;
}

int xl_lock(struct xl_ctx *c, bool create)
{
	char canon[PATH_MAX], path[PATH_MAX];
	int fd, err;

	if (!create && access(c->pin_dir, F_OK) && errno == ENOENT)
		goto not_loaded;
	err = canonical_pin_dir(c, canon, sizeof(canon));
	if (err)
		return err;
	if ((size_t)snprintf(path, sizeof(path), "%s%s", c->root, canon) >=
	    sizeof(path))
		return xl_ctx_fail(c, -ENAMETOOLONG, true,
				   "--pin-dir '%s' is too long", c->pin_dir);
	/* Refuse a directory off bpffs before creating anything. */
	if (create && (err = ensure_bpffs(c, path)) && c->usage)
		return err;
	fd = take_lock(c, canon);
	if (fd < 0)
		return fd;
	/* Under the lock: /sys/fs/bpf is mounted once, and the directory
	 * is there or not, wholly (load renames it into place, unload
	 * removes it, each holding the lock). */
	if (create && (err = ensure_bpffs(c, path))) {
		xl_unlock(fd);
		return err;
	}
	if (!create && access(path, F_OK)) {
		xl_unlock(fd);
		goto not_loaded;
	}
	return fd;
not_loaded:
	return xl_ctx_fail(
		c, -ENOENT, true,
		"xlimit is not loaded (no %s); run 'xlimit attach IFACE' (or 'xlimit load') first",
		c->pin_dir);
}

void xl_unlock(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}
