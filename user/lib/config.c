// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xl_config: which lists the datapath looks up (with a copy in every
 * xl_ports entry), and the generation that makes it forget the verdicts
 * it cached.
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

/* Gives every port's entry in xl_ports the list flags `flags` (its copy
 * of XL_CFG_NO_ALLOW and XL_CFG_NO_DENY), one atomic store each. */
static int xl_ports_lflags(int ports_fd, __u32 flags)
{
	size_t len = XL_PORTS * sizeof(struct xl_port);
	struct xl_port *ports;
	__u32 p;

	ports = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ports_fd,
		     0);
	if (ports == MAP_FAILED)
		return -errno;
	for (p = 0; p < XL_PORTS; p++)
		if (__atomic_load_n(&ports[p].lflags, __ATOMIC_RELAXED) !=
		    flags)
			__atomic_store_n(&ports[p].lflags, flags,
					 __ATOMIC_RELEASE);
	munmap(ports, len);
	return 0;
}

/*
 * Rewrites xl_config's list flags to `flags` (and its generation, +
 * `bump`), and xl_ports' copy of them; the other flags stay. A set flag
 * in a port's copy is also set in xl_config at every moment (cleared
 * there after the ports, set there before them), so that `xlimit
 * status`, which checks xl_config against the lists, finds any copy that
 * skips an entry added behind the CLI's back.
 */
static int xl_config_flags(const struct xl_maps *m, __u32 flags, __u32 bump)
{
	struct xl_config cfg = {};
	__u32 zero = 0;
	int err;

	if (bpf_map_lookup_elem(m->fd[XL_M_CONFIG], &zero, &cfg))
		return -errno;
	err = xl_ports_lflags(m->fd[XL_M_PORTS],
			      cfg.flags & flags & XL_CFG_LISTS);
	cfg.flags = (cfg.flags & ~XL_CFG_LISTS) | flags;
	cfg.gen += bump;
	if (!err &&
	    bpf_map_update_elem(m->fd[XL_M_CONFIG], &zero, &cfg, BPF_ANY))
		err = -errno;
	if (!err)
		err = xl_ports_lflags(m->fd[XL_M_PORTS], flags);
	return err;
}

int xl_config_resync(const struct xl_maps *m)
{
	__u32 flags = 0;

	if (xl_trie_empty(m->fd[XL_M_ALLOW]))
		flags |= XL_CFG_NO_ALLOW;
	if (xl_trie_empty(m->fd[XL_M_DENY]))
		flags |= XL_CFG_NO_DENY;
	return xl_config_flags(m, flags, 1);
}

int xl_config_lists_unsure(const struct xl_maps *m)
{
	return xl_config_flags(m, 0, 0);
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
