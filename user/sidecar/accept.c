// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Content negotiation for the sidecar's refusals: does the client's Accept
 * header (RFC 9110 §12.5.1) prefer JSON to HTML? Each element of the
 * header is looked at once, so the work is linear in its length (a
 * 1 MiB Accept costs about a millisecond, not seconds).
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "sidecar.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A qvalue, "0", "0.5", "1.000": at most 1; anything else is 0. */
static double qvalue(const char **pp)
{
	const char *p = *pp;
	double q = 0, unit = 0.1;

	if (*p >= '0' && *p <= '9')
		q = *p++ - '0';
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, unit /= 10)
			q += (*p - '0') * unit;
	*pp = p;
	return q > 1 ? 1 : q;
}

double sc_accept_q(const char *accept, const char *type)
{
	size_t tlen = strlen(type), major = strcspn(type, "/") + 1;
	const char *p = accept;
	double best = 0;
	int best_spec = 0;

	while (p && *p) {
		const char *media, *end;
		double q = 1;
		size_t n;
		int spec;

		while (blank(*p) || *p == ',')
			p++;
		media = p;
		p += strcspn(p, ",;");
		for (end = p; end > media && blank(end[-1]); end--)
			;
		/* Its parameters, up to the next element: q is the one. */
		while (*p == ';') {
			for (p++; blank(*p); p++)
				;
			if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
				p += 2;
				q = qvalue(&p);
			}
			p += strcspn(p, ",;");
		}
		n = end - media;
		spec = n == tlen && !strncasecmp(media, type, n) ? 3 :
		       n == major + 1 && !strncasecmp(media, type, major) &&
				       media[major] == '*' ?
								   2 :
		       n == 3 && !memcmp(media, "*/*", 3) ? 1 :
							    0;
		if (spec > best_spec) {
			best_spec = spec;
			best = q;
		}
	}
	return best;
}

bool sc_prefers_json(const char *accept)
{
	double json, problem, html;

	if (!accept || !*accept)
		return false;
	json = sc_accept_q(accept, "application/json");
	problem = sc_accept_q(accept, "application/problem+json");
	html = sc_accept_q(accept, "text/html");
	return (problem > json ? problem : json) > html;
}
