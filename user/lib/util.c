// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Small helpers of the library: failures in the context, numbers and ports, and the
 * monotonic-to-UTC clock.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xlimit_lib.h"

int xl_ctx_fail(struct xl_ctx *c, int err, bool usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->usage = usage;
	return err < 0 ? err : -EINVAL;
}

int xl_parse_num(const char *s, unsigned long min, unsigned long max,
		 unsigned long *v)
{
	unsigned long n;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n < min || n > max)
		return -EINVAL;
	*v = n;
	return 0;
}

int xl_parse_port(const char *s, bool allow_zero, uint16_t *port)
{
	unsigned long v;

	if (xl_parse_num(s, allow_zero ? 0 : 1, 65535, &v))
		return -EINVAL;
	*port = v;
	return 0;
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

bool xl_group_gid(const char *name, gid_t *gid)
{
	struct group *g;

	if (!strcmp(name, "none")) {
		*gid = XL_NO_GROUP;
		return true;
	}
	g = getgrnam(name);
	if (!g)
		return false;
	*gid = g->gr_gid;
	return true;
}

void xl_group_name(gid_t gid, char *buf, size_t len)
{
	struct group *g = gid == XL_NO_GROUP ? NULL : getgrgid(gid);

	if (gid == XL_NO_GROUP)
		snprintf(buf, len, "none");
	else if (g)
		snprintf(buf, len, "%s", g->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned)gid);
}
