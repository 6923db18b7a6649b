// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xl_config: which lists the datapath looks up, and the generation that
 * makes it forget the verdicts it cached.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>

#include "xlimit_lib.h"

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

const struct xl_config *xl_config_map(int config_fd)
{
	void *p = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ, MAP_SHARED,
		       config_fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

void xl_config_unmap(const struct xl_config *cfg)
{
	if (cfg)
		munmap((void *)cfg, sysconf(_SC_PAGESIZE));
}
