// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Helpers shared by the xlimit CLI's commands: messages, the pinned maps
 * and the lock on their directory, parsing of ports and addresses, JSON
 * output, per-CPU statistics and the clock.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"

struct xl_opts xl_opts = { .pin_dir = XL_PIN_DIR, .root = "" };

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
};

const char *xl_progname = "xlimit";

void xl_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", xl_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int xl_dispatch(const char *what, const struct xl_cmd *cmds, int argc,
		char **argv)
{
	const struct xl_cmd *c;
	bool help = argc >= 1 &&
		    (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") ||
		     !strcmp(argv[0], "-h"));

	if (argc < 1) {
		xl_err("%s: expected a command; try 'xlimit %s help'", what,
		       what);
	} else if (!help) {
		for (c = cmds; c->name; c++) {
			char *name;

			if (strcmp(c->name, argv[0]))
				continue;
			/* getopt prefixes its messages with argv[0]: make it
			 * say "xlimit limit set: ...". Lives until exit. */
			if (asprintf(&name, "xlimit %s%s%s", what,
				     *what ? " " : "", c->name) > 0)
				argv[0] = name;
			return c->fn(argc, argv);
		}
		xl_err("%s%sunknown command '%s'; try 'xlimit %s%shelp'", what,
		       *what ? ": " : "", argv[0], what, *what ? " " : "");
	}
	fprintf(help ? stdout : stderr, "Usage: xlimit %s COMMAND ...\n\n",
		what);
	for (c = cmds; c->name; c++)
		fprintf(help ? stdout : stderr, "  %s\n", c->summary);
	return help ? XL_EXIT_OK : XL_EXIT_USAGE;
}

void xl_pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", xl_opts.pin_dir, name);
}

int xl_maps_open(struct xl_maps *m, const char *cmd)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < XL_M_NR; i++)
		m->fd[i] = -1;
	for (i = 0; i < XL_M_NR; i++) {
		xl_pin_path(path, sizeof(path), xl_map_names[i]);
		m->fd[i] = bpf_obj_get(path);
		if (m->fd[i] >= 0)
			continue;
		if (errno == ENOENT) {
			xl_err("%s: xlimit is not loaded (no %s); run 'xlimit attach IFACE' (or 'xlimit load') first",
			       cmd, path);
			xl_maps_close(m);
			return XL_EXIT_USAGE;
		}
		xl_err("%s: open %s: %s", cmd, path, strerror(errno));
		xl_maps_close(m);
		return XL_EXIT_FAIL;
	}
	return 0;
}

void xl_maps_close(struct xl_maps *m)
{
	int i;

	for (i = 0; i < XL_M_NR; i++) {
		if (m->fd[i] >= 0)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
}

/* The pin directory as an absolute path, its parent resolved: what the
 * lock file is named after, the path in the mount namespace xlimit works
 * in (without xl_opts.root). Returns 0, or -1 with a message (none when
 * cmd is NULL). */
static int canonical_pin_dir(const char *cmd, char *out, size_t len)
{
	char dir[PATH_MAX], real[PATH_MAX], *base;
	size_t n;

	if (*xl_opts.root) { /* made canonical by xl_pin_dir_resolve() */
		snprintf(out, len, "%s",
			 xl_opts.pin_dir + strlen(xl_opts.root));
		return 0;
	}
	n = snprintf(dir, sizeof(dir), "%s", xl_opts.pin_dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	base = strrchr(dir, '/');
	if (base)
		*base++ = '\0';
	else
		base = dir;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		if (cmd)
			xl_err("%s: --pin-dir '%s' must name a directory of its own, e.g. %s",
			       cmd, xl_opts.pin_dir, XL_PIN_DIR);
		return -1;
	}
	if (!realpath(base == dir ? "." : *dir ? dir : "/", real)) {
		if (cmd)
			xl_err("%s: --pin-dir '%s': its parent directory: %s",
			       cmd, xl_opts.pin_dir, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "",
			     base) >= len) {
		if (cmd)
			xl_err("%s: --pin-dir '%s' is too long", cmd,
			       xl_opts.pin_dir);
		return -1;
	}
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

void xl_pin_dir_resolve(void)
{
	static char root[32], dir[PATH_MAX];
	char canon[PATH_MAX], parent[PATH_MAX + 32];
	dev_t ours, theirs;
	pid_t anchor;

	if (canonical_pin_dir(NULL, canon, sizeof(canon)))
		return; /* the command says what is wrong */
	anchor = mount_ns_anchor();
	if (!anchor)
		return;
	xl_opts.anchor = anchor;
	snprintf(root, sizeof(root), "/proc/%d/root", (int)anchor);
	snprintf(parent, sizeof(parent), "%s%s", root, canon);
	*strrchr(parent, '/') = '\0';
	theirs = bpffs_dev(parent);
	ours = bpffs_dev(parent + strlen(root));
	/* Only where this namespace has no bpffs at all: one mounted here
	 * on purpose (`nsenter --mount` into a container's) is used. */
	if (!theirs || ours)
		return;
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s", root, canon) >=
	    sizeof(dir))
		return;
	xl_opts.root = root;
	xl_opts.pin_dir = dir;
	if (xl_opts.verbose)
		fprintf(stderr,
			"%s: this mount namespace has its own /sys (as under 'ip netns exec'): pinning in the one of process %d, as %s\n",
			xl_progname, (int)anchor, dir);
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
static int ensure_bpffs(const char *cmd, const char *path)
{
	char parent[PATH_MAX];

	if (on_bpffs(path))
		return 0;
	if (access(path, F_OK)) {
		snprintf(parent, sizeof(parent), "%s", path);
		*strrchr(parent, '/') = '\0';
		if (on_bpffs(parent))
			return 0;
		if (!strcmp(parent, XL_BPFFS_DEFAULT) && xl_opts.anchor) {
			xl_err("%s: this mount namespace is not the one xlimit was started from (as under 'ip netns exec', which mounts its own /sys), and neither has a bpf filesystem on %s: pins made here would vanish with the command; mount one on the host with 'mount -t bpf bpf %s', and run xlimit in a network namespace with 'nsenter --net=/run/netns/NAME xlimit ...'",
			       cmd, parent, parent);
			return -XL_EXIT_USAGE;
		}
		if (!strcmp(parent, XL_BPFFS_DEFAULT)) {
			if (!mount("bpf", parent, "bpf", 0, NULL))
				return 0;
			xl_err("%s: mount a bpf filesystem on %s: %s; mount it with 'mount -t bpf bpf %s'",
			       cmd, parent, strerror(errno), parent);
			return -XL_EXIT_FAIL;
		}
	}
	xl_err("%s: --pin-dir %s is not on a bpf filesystem, which pins need; use a directory under %s, or mount one first with 'mount -t bpf bpf DIR' and pass --pin-dir DIR/xlimit",
	       cmd, path, XL_BPFFS_DEFAULT);
	return -XL_EXIT_USAGE;
}

/*
 * The lock serialises every command that changes the pins of one pin
 * directory. It is a file of its own under XL_LOCK_DIR (in the mount
 * namespace the pins are in), never removed, named after the pin
 * directory's path ('/' as '-', anything else than letters, digits, '_'
 * and '.' as \xNN, as systemd escapes paths), so that `unload` can remove
 * the pin directory while holding it and the next `load` waits, then finds
 * no directory or a whole one. Returns an fd, or -XL_EXIT_* with a message.
 */
static int take_lock(const char *cmd, const char *canon)
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
	if (*p || off + strlen(".lock") > NAME_MAX) {
		xl_err("%s: --pin-dir %s is too long to name its lock file after",
		       cmd, canon);
		return -XL_EXIT_USAGE;
	}
	snprintf(dir, sizeof(dir), "%s" XL_LOCK_DIR, xl_opts.root);
	snprintf(path, sizeof(path), "%s/%.*s.lock", dir, (int)off, name);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		xl_err("%s: create %s: %s", cmd, dir, strerror(errno));
		return -XL_EXIT_FAIL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		xl_err("%s: lock %s: %s", cmd, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -XL_EXIT_FAIL;
	}
	return fd;
}

static int lock_dir(const char *cmd, bool create)
{
	char canon[PATH_MAX], path[PATH_MAX];
	int fd, err;

	if (!create && access(xl_opts.pin_dir, F_OK) && errno == ENOENT)
		goto not_loaded;
	if (canonical_pin_dir(cmd, canon, sizeof(canon)))
		return -XL_EXIT_USAGE;
	if ((size_t)snprintf(path, sizeof(path), "%s%s", xl_opts.root, canon) >=
	    sizeof(path)) {
		xl_err("%s: --pin-dir '%s' is too long", cmd, xl_opts.pin_dir);
		return -XL_EXIT_USAGE;
	}
	/* Refuse a directory off bpffs before creating anything. */
	if (create && (err = ensure_bpffs(cmd, path)) == -XL_EXIT_USAGE)
		return err;
	fd = take_lock(cmd, canon);
	if (fd < 0)
		return fd;
	/* Under the lock: /sys/fs/bpf is mounted once, and the directory
	 * is there or not, wholly (load renames it into place, unload
	 * removes it, each holding the lock). */
	if (create && (err = ensure_bpffs(cmd, path))) {
		xl_unlock(fd);
		return err;
	}
	if (!create && access(path, F_OK)) {
		xl_unlock(fd);
		goto not_loaded;
	}
	return fd;
not_loaded:
	xl_err("%s: xlimit is not loaded (no %s); run 'xlimit attach IFACE' (or 'xlimit load') first",
	       cmd, xl_opts.pin_dir);
	return -XL_EXIT_USAGE;
}

int xl_lock(const char *cmd)
{
	return lock_dir(cmd, true);
}

int xl_lock_loaded(const char *cmd)
{
	return lock_dir(cmd, false);
}

void xl_unlock(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

int xl_parse_num(const char *s, unsigned long min, unsigned long max,
		 unsigned long *v)
{
	unsigned long n;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n < min || n > max)
		return -1;
	*v = n;
	return 0;
}

int xl_parse_port(const char *s, bool allow_zero, uint16_t *port)
{
	unsigned long v;

	if (xl_parse_num(s, allow_zero ? 0 : 1, 65535, &v))
		return -1;
	*port = v;
	return 0;
}

int xl_negative_operand(int argc, char **argv, const struct option *opts,
			const char **arg)
{
	const struct option *o;
	size_t len;
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			break;
		if (a[0] == '-' && a[1] >= '0' && a[1] <= '9') {
			*arg = a;
			return n;
		}
		if (a[0] != '-' || !a[1]) {
			n++;
			continue;
		}
		/* "--name X" (or "--na X"): X is an option's argument */
		if (a[1] != '-' || strchr(a, '='))
			continue;
		len = strlen(a + 2);
		for (o = opts; o->name; o++) {
			if (!strncmp(o->name, a + 2, len) &&
			    o->has_arg == required_argument) {
				i++;
				break;
			}
		}
	}
	return -1;
}

int xl_parse_addr(const char *s, uint8_t addr[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, s, addr) == 1)
		return 0;
	if (inet_pton(AF_INET, s, &a4) != 1)
		return -1;
	memset(addr, 0, 10);
	addr[10] = addr[11] = 0xff;
	memcpy(addr + 12, &a4, 4);
	return 0;
}

void xl_format_addr(const uint8_t addr[16], char *buf, size_t len)
{
	if (xl_is_v4mapped(addr))
		inet_ntop(AF_INET, addr + 12, buf, len);
	else
		inet_ntop(AF_INET6, addr, buf, len);
}

void xl_lpm_key_mask(struct xl_lpm_key *k)
{
	unsigned int i;

	for (i = 0; i < 16; i++) {
		unsigned int bits =
			k->prefixlen > 8u * i ? k->prefixlen - 8u * i : 0;

		if (bits < 8)
			k->addr[i] &= (uint8_t)(0xff00 >> bits);
	}
}

int xl_parse_cidr(const char *s, struct xl_lpm_key *k, char *err, size_t len)
{
	char host[INET6_ADDRSTRLEN + 1], *slash;
	unsigned long plen, max;
	struct xl_lpm_key m;
	bool v4;

	if (strlen(s) >= sizeof(host)) {
		snprintf(err, len, "'%s' is not an IPv4 or IPv6 address", s);
		return -1;
	}
	strcpy(host, s);
	slash = strchr(host, '/');
	if (slash)
		*slash = '\0';
	if (xl_parse_addr(host, k->addr)) {
		snprintf(
			err, len,
			"'%s' is not an IPv4 or IPv6 address (expected e.g. 198.18.0.0/15 or 2001:2::/48)",
			s);
		return -1;
	}
	v4 = strchr(host, ':') == NULL;
	max = v4 ? 32 : 128;
	plen = max;
	if (slash) {
		char *end;

		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (!slash[1] || slash[1] < '0' || slash[1] > '9' || *end ||
		    errno || plen > max) {
			snprintf(
				err, len,
				"'%s': bad prefix length '%s' (expected 0 to %lu)",
				s, slash + 1, max);
			return -1;
		}
	}
	k->prefixlen = v4 ? plen + 96 : plen;
	m = *k;
	xl_lpm_key_mask(&m);
	if (memcmp(m.addr, k->addr, 16)) {
		char net[INET6_ADDRSTRLEN + 8];

		xl_format_cidr(&m, net, sizeof(net));
		snprintf(
			err, len,
			"'%s' has host bits set past the prefix; did you mean %s?",
			s, net);
		return -1;
	}
	return 0;
}

void xl_format_cidr(const struct xl_lpm_key *k, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	bool v4 = xl_is_v4mapped(k->addr) && k->prefixlen >= 96;

	xl_format_addr(k->addr, a, sizeof(a));
	if (!v4 && xl_is_v4mapped(k->addr)) /* ::ffff:0:0/N, N < 96 */
		inet_ntop(AF_INET6, k->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, v4 ? k->prefixlen - 96 : k->prefixlen);
}

uint64_t xl_mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * XL_NSEC_PER_SEC + ts.tv_nsec;
}

double xl_mono_to_utc(uint64_t mono_ns)
{
	struct timespec rt;
	uint64_t mono = xl_mono_now();

	clock_gettime(CLOCK_REALTIME, &rt);
	return rt.tv_sec + rt.tv_nsec / 1e9 +
	       ((double)mono_ns - (double)mono) / 1e9;
}

/* A rule's limits as JSON: [{"limit", "amount", "period"[, "action"[,
 * "burst"]]}] (the ceiling's, without action: always a fixed window that
 * drops). */
static struct json_object *limits_json(const struct xl_rule *r, bool action)
{
	struct json_object *ls = json_object_new_array();
	__u32 k;

	for (k = 0; k < r->nlimits && k < XL_MAX_LIMITS; k++) {
		struct json_object *l = json_object_new_object();
		const struct xl_limit *lim = &r->limits[k];
		char text[96];

		xl_format_rule_limit(lim, text, sizeof(text));
		json_object_object_add(l, "limit",
				       json_object_new_string(text));
		json_object_object_add(l, "amount",
				       json_object_new_uint64(lim->amount));
		json_object_object_add(l, "period",
				       json_object_new_uint64(lim->period_ns /
							      XL_NSEC_PER_SEC));
		if (action)
			json_object_object_add(
				l, "action",
				json_object_new_string(
					xl_action_name(lim->action)));
		if (action && lim->strategy == XL_STRAT_TOKEN)
			json_object_object_add(
				l, "burst", json_object_new_uint64(lim->burst));
		json_object_array_add(ls, l);
	}
	return ls;
}

struct json_object *xl_rules_json(int rules_fd, int total_fd)
{
	struct json_object *arr = json_object_new_array();
	struct xl_rule_row *rows = calloc(XL_MAX_RULES, sizeof(*rows));
	int n, i;

	n = rows ? xl_rules_read(rules_fd, total_fd, rows, XL_MAX_RULES) : 0;
	for (i = 0; i < n; i++) {
		const struct xl_rule *r = &rows[i].rule;
		struct json_object *e = json_object_new_object();
		char why[96];

		json_object_object_add(e, "port",
				       json_object_new_int(rows[i].port));
		json_object_object_add(e, "strategy",
				       json_object_new_string(xl_strategy_name(
					       r->limits[0].strategy)));
		if (xl_rule_check(r, why, sizeof(why)))
			json_object_object_add(e, "invalid",
					       json_object_new_string(why));
		json_object_object_add(e, "limits", limits_json(r, true));
		json_object_object_add(e, "total",
				       limits_json(&rows[i].total, false));
		json_object_object_add(e, "admit_known",
				       json_object_new_boolean(
					       r->flags & XL_RULE_ADMIT_KNOWN));
		json_object_array_add(arr, e);
	}
	free(rows);
	return arr;
}

void xl_print_total(struct json_object *rule)
{
	struct json_object *ls = json_object_object_get(rule, "total");
	size_t k;

	for (k = 0; k < json_object_array_length(ls); k++)
		printf("%s%s", k ? "; " : "; total ",
		       json_object_get_string(json_object_object_get(
			       json_object_array_get_idx(ls, k), "limit")));
	if (json_object_get_boolean(
		    json_object_object_get(rule, "admit_known")))
		printf(", admit known");
}

void xl_json_print(struct json_object *o)
{
	puts(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int xl_stats_read(int fd, uint32_t slot, struct xl_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i, j;
	struct xl_stats *v;

	memset(sum, 0, sizeof(*sum));
	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &slot, v)) {
		free(v);
		return -errno;
	}
	for (i = 0; i < ncpu; i++)
		for (j = 0; j < XL_STAT_NR; j++)
			sum->c[j] += v[i].c[j];
	free(v);
	return 0;
}

const char *const xl_stat_names[XL_STAT_NR] = {
	[XL_STAT_SEEN] = "seen",
	[XL_STAT_PASSED] = "passed",
	[XL_STAT_DROPPED] = "dropped",
	[XL_STAT_OVER_PASSED] = "over_passed",
	[XL_STAT_ALLOWED] = "allowed",
	[XL_STAT_DENIED] = "denied",
	[XL_STAT_FRAG_DROPPED] = "frag_dropped",
	[XL_STAT_DEEP_DROPPED] = "deep_dropped",
	[XL_STAT_NEW] = "new_clients",
	[XL_STAT_RESTORED] = "restored",
	[XL_STAT_REJECTED] = "rejected",
	[XL_STAT_TOTAL_DROPPED] = "total_dropped",
	[XL_STAT_KNOWN_ADMITTED] = "known_admitted",
	[XL_STAT_KNOWN_LEARNED] = "known_learned",
};

static int by_row_port(const void *a, const void *b)
{
	return ((const struct xl_rule_row *)a)->port -
	       ((const struct xl_rule_row *)b)->port;
}

int xl_rules_read(int rules_fd, int total_fd, struct xl_rule_row *rows, int max)
{
	__u16 port, *prev = NULL;
	char why[96];
	int n = 0;

	while (n < max && !bpf_map_get_next_key(rules_fd, prev, &port)) {
		struct xl_rule_row *r = &rows[n];
		struct xl_total t;

		/* rows[n] is the walk's cursor until it is kept */
		prev = &r->port;
		r->port = port;
		if (bpf_map_lookup_elem(rules_fd, &port, &r->rule))
			continue;
		r->invalid = xl_rule_check(&r->rule, why, sizeof(why)) != 0;
		memset(&r->total, 0, sizeof(r->total));
		if (total_fd >= 0 && (r->rule.flags & XL_RULE_TOTAL) &&
		    r->rule.slot < XL_MAX_RULES &&
		    !bpf_map_lookup_elem(total_fd, &r->rule.slot, &t))
			r->total = t.rule;
		n++;
	}
	qsort(rows, n, sizeof(*rows), by_row_port);
	return n;
}

int xl_stat_rows(int rules_fd, int stats_fd, struct xl_stat_row *rows)
{
	struct xl_rule_row *rr = calloc(XL_MAX_RULES, sizeof(*rr));
	int n, i, err = 0;

	if (!rr)
		return -ENOMEM;
	n = xl_rules_read(rules_fd, -1, rr, XL_MAX_RULES);
	for (i = 0; i < n && !err; i++) {
		rows[i].port = rr[i].port;
		rows[i].rule = rr[i].rule;
		/* A slot out of range (a rule written by hand) has no
		 * counters: the datapath finds none to add to either. */
		memset(&rows[i].s, 0, sizeof(rows[i].s));
		if (rows[i].rule.slot < XL_MAX_RULES)
			err = xl_stats_read(stats_fd, rows[i].rule.slot,
					    &rows[i].s);
	}
	free(rr);
	return err ? err : n;
}

int xl_stats_clear(int fd, uint32_t slot)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	struct xl_stats *v;

	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &slot, v, BPF_ANY))
		err = -errno;
	free(v);
	return err;
}

/* A key of `port`'s rule: its own port, or for port 0 a port without a
 * rule of its own. */
static bool xl_key_of_rule(const struct xl_maps *m, const struct xl_key *k,
			   uint16_t port)
{
	struct xl_rule rule;

	if (port)
		return k->port == port;
	return k->port == 0 ||
	       bpf_map_lookup_elem(m->fd[XL_M_RULES], &k->port, &rule);
}

/* Forgets, in xl_over, the clients of `port`'s rule (as
 * xl_state_clear_port() does in xl_state), so that they do not come back
 * over a limit that was changed or removed. */
static int xl_over_clear_port(const struct xl_maps *m, uint16_t port)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	static const struct xl_over empty;
	struct xl_over *v = calloc(XL_OVER_SLOTS, sizeof(*v));
	__u32 *keys = calloc(XL_OVER_SLOTS, sizeof(*keys));
	__u32 count = XL_OVER_SLOTS, next, i;
	struct xl_key k = {};
	int err = 0;

	if (!v || !keys) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_batch(m->fd[XL_M_OVER], NULL, &next, keys, v, &count,
				 &bo) &&
	    errno != ENOENT) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < count; i++) {
		k.port = v[i].port;
		if (!v[i].tag || !xl_key_of_rule(m, &k, port))
			continue;
		if (bpf_map_update_elem(m->fd[XL_M_OVER], &keys[i], &empty,
					BPF_ANY))
			err = -errno;
	}
out:
	free(v);
	free(keys);
	return err;
}

int xl_total_write(const struct xl_maps *m, __u32 slot,
		   const struct xl_rule *ceiling)
{
	struct xl_total t = {};

	if (ceiling)
		t.rule = *ceiling;
	return bpf_map_update_elem(m->fd[XL_M_TOTAL], &slot, &t, BPF_ANY) ?
		       -errno :
		       0;
}

int xl_state_clear_port(const struct xl_maps *m, uint16_t port)
{
	struct xl_key *del = NULL, *prev = NULL, next;
	size_t n = 0, cap = 0, i;
	int err = xl_over_clear_port(m, port);

	/* Walk first, delete after: deleting under the walk restarts it. */
	while (bpf_map_get_next_key(m->fd[XL_M_STATE], prev, &next) == 0) {
		if (n == cap) {
			struct xl_key *d;

			cap = cap ? 2 * cap : 1024;
			d = realloc(del, cap * sizeof(*del));
			if (!d) {
				free(del);
				return -ENOMEM;
			}
			del = d;
		}
		/* A key we keep stays in del[n] only as the walk's cursor,
		 * until the next key overwrites it. */
		del[n] = next;
		prev = &del[n];
		if (xl_key_of_rule(m, &next, port))
			n++;
	}
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(m->fd[XL_M_STATE], &del[i]) &&
		    errno != ENOENT)
			err = -errno;
	free(del);
	return err;
}

/* Whether a trie holds no entry; one we cannot read is not empty. */
static bool xl_trie_empty(int fd)
{
	struct xl_lpm_key k;

	return bpf_map_get_next_key(fd, NULL, &k) && errno == ENOENT;
}

/* Rewrites xl_config's list flags to `flags` (and its generation, +
 * `bump`); the other flags stay. */
static int xl_config_flags(int config_fd, __u32 flags, __u32 bump)
{
	struct xl_config cfg = {};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(config_fd, &zero, &cfg))
		return -errno;
	cfg.flags = (cfg.flags & ~(XL_CFG_NO_ALLOW | XL_CFG_NO_DENY)) | flags;
	cfg.gen += bump;
	return bpf_map_update_elem(config_fd, &zero, &cfg, BPF_ANY) ? -errno :
								      0;
}

int xl_config_resync(int config_fd, int allow_fd, int deny_fd)
{
	__u32 flags = 0;

	if (xl_trie_empty(allow_fd))
		flags |= XL_CFG_NO_ALLOW;
	if (xl_trie_empty(deny_fd))
		flags |= XL_CFG_NO_DENY;
	return xl_config_flags(config_fd, flags, 1);
}

int xl_config_lists_unsure(int config_fd)
{
	return xl_config_flags(config_fd, 0, 0);
}

static const char *const unit_names[] = { "second", "minute", "hour",
					  "day",    "month",  "year" };
static const uint64_t unit_secs[] = { 1, 60, 3600, 86400, 2592000, 31104000 };

void xl_format_rule_limit(const struct xl_limit *l, char *buf, size_t len)
{
	uint64_t secs = l->period_ns / XL_NSEC_PER_SEC;
	int u;

	for (u = 5; u > 0; u--)
		if (secs && secs % unit_secs[u] == 0)
			break;
	snprintf(buf, len, "%llu per %llu %s", (unsigned long long)l->amount,
		 (unsigned long long)(secs / unit_secs[u]), unit_names[u]);
}

int xl_rule_check(const struct xl_rule *r, char *why, size_t len)
{
	__u32 i;

	if (r->nlimits < 1 || r->nlimits > XL_MAX_LIMITS) {
		snprintf(why, len, "nlimits %u is not 1..%d", r->nlimits,
			 XL_MAX_LIMITS);
		return -1;
	}
	if (r->slot >= XL_MAX_RULES) {
		snprintf(why, len, "slot %u is not 0..%d", r->slot,
			 XL_MAX_RULES - 1);
		return -1;
	}
	if (r->flags & ~XL_RULE_FLAGS) {
		snprintf(why, len, "unknown flags 0x%x", r->flags);
		return -1;
	}
	for (i = 0; i < r->nlimits; i++) {
		const struct xl_limit *l = &r->limits[i];

		if (l->amount > XL_AMOUNT_MAX)
			snprintf(why, len, "limit %u: amount %llu is over %llu",
				 i, (unsigned long long)l->amount,
				 XL_AMOUNT_MAX);
		else if (l->period_ns < XL_NSEC_PER_SEC ||
			 l->period_ns > XL_PERIOD_MAX_S * XL_NSEC_PER_SEC)
			snprintf(why, len,
				 "limit %u: period %llu ns is not 1 to %llu s",
				 i, (unsigned long long)l->period_ns,
				 XL_PERIOD_MAX_S);
		else if (l->action != XL_ACT_DROP && l->action != XL_ACT_PASS &&
			 l->action != XL_ACT_REJECT)
			snprintf(why, len, "limit %u: unknown action %u", i,
				 l->action);
		else if (l->strategy != r->limits[0].strategy)
			snprintf(why, len,
				 "limit %u: strategy %u differs from limit 0's",
				 i, l->strategy);
		else if (xl_strategy_check(l, why, len))
			snprintf(why + strlen(why), len - strlen(why),
				 " (limit %u)", i);
		else
			continue;
		return -1;
	}
	return 0;
}

int xl_strategy_check(const struct xl_limit *l, char *why, size_t len)
{
	__u64 tau_max = XL_PERIOD_MAX_S * XL_NSEC_PER_SEC;

	switch (l->strategy) {
	case XL_STRAT_FIXED:
	case XL_STRAT_SLIDING:
		if (l->burst) {
			snprintf(why, len,
				 "a burst applies to token-bucket only, not %s",
				 xl_strategy_name(l->strategy));
			return -1;
		}
		if (l->strategy == XL_STRAT_SLIDING &&
		    l->amount > XL_SLIDING_AMOUNT_MAX) {
			snprintf(
				why, len,
				"amount %llu is over %llu, the most a sliding-window limit counts",
				(unsigned long long)l->amount,
				XL_SLIDING_AMOUNT_MAX);
			return -1;
		}
		return 0;
	case XL_STRAT_TOKEN:
		/* tau = burst * T must stay a period xlimit can hold. */
		if (l->amount &&
		    l->burst > tau_max / (l->period_ns / l->amount)) {
			snprintf(
				why, len,
				"burst %u of %llu per %llu s spans more than %llu s",
				l->burst, (unsigned long long)l->amount,
				(unsigned long long)(l->period_ns /
						     XL_NSEC_PER_SEC),
				XL_PERIOD_MAX_S);
			return -1;
		}
		return 0;
	}
	snprintf(why, len, "unknown strategy %u", l->strategy);
	return -1;
}

static const char *const strategy_names[] = {
	[XL_STRAT_FIXED] = "fixed-window",
	[XL_STRAT_SLIDING] = "sliding-window",
	[XL_STRAT_TOKEN] = "token-bucket",
};

const char *xl_strategy_name(uint32_t strategy)
{
	if (strategy < sizeof(strategy_names) / sizeof(strategy_names[0]))
		return strategy_names[strategy];
	return "unknown";
}

int xl_strategy_parse(const char *s, uint32_t *strategy)
{
	uint32_t i;

	for (i = 0; i < sizeof(strategy_names) / sizeof(strategy_names[0]);
	     i++) {
		if (!strcmp(s, strategy_names[i])) {
			*strategy = i;
			return 0;
		}
	}
	return -1;
}

void xl_print_rule_limits(struct json_object *rule)
{
	struct json_object *ls = json_object_object_get(rule, "limits");
	const char *st = json_object_get_string(
		json_object_object_get(rule, "strategy"));
	size_t k;

	if (st && strcmp(st, "fixed-window"))
		printf("%s: ", st);
	for (k = 0; k < json_object_array_length(ls); k++) {
		struct json_object *l = json_object_array_get_idx(ls, k);
		struct json_object *burst = json_object_object_get(l, "burst");

		printf("%s%s (%s", k ? "; " : "",
		       json_object_get_string(
			       json_object_object_get(l, "limit")),
		       json_object_get_string(
			       json_object_object_get(l, "action")));
		if (burst)
			printf(", burst %s", json_object_get_string(burst));
		printf(")");
	}
	xl_print_total(rule);
	xl_print_invalid(rule);
}

void xl_print_invalid(struct json_object *rule)
{
	struct json_object *why = json_object_object_get(rule, "invalid");

	if (why)
		printf("  INVALID RULE (%s): replace it with 'xlimit limit set'",
		       json_object_get_string(why));
}

const char *xl_action_name(uint32_t action)
{
	if (action == XL_ACT_PASS)
		return "pass";
	return action == XL_ACT_REJECT ? "reject" : "drop";
}
