// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Messages of the programs: "xlimit: ..." or "xlimit-sidecar: ..." on
 * stderr. The library prints nothing (user/lib/xlimit_lib.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "msg.h"

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
