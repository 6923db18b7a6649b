/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Messages of the programs built on libxlimit (user/msg.c).
 */
#ifndef XL_MSG_H
#define XL_MSG_H

/* The name messages start with: "xlimit", or the sidecar's. */
extern const char *xl_progname;

/* Prints "<xl_progname>: " + message + newline on stderr. */
void xl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* XL_MSG_H */
