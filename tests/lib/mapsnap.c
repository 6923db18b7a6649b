// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mapsnap DIR MAP...: prints every entry of the maps pinned as DIR/MAP, in
 * hex, so that two snapshots taken before and after a command compare
 * byte for byte (tests/lib/lib.sh, xl_snap_maps). The same content
 * `bpftool map dump` shows, without its formatting: bpftool takes about
 * two seconds on a 65,536-entry array, this a few milliseconds.
 *
 * An array's all-zero entries are counted, not printed: an entry written
 * since shows as a new line all the same. A map that cannot be read
 * entry by entry (a ring buffer) is shown by its definition only, as
 * bpftool shows it. A map that cannot be opened is a line saying so: the
 * snapshot still compares (a pin that appears or vanishes is a change).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static void hex(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int is_array(__u32 type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

static int is_percpu(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* One entry: printed unless it is an array's all-zero one, counted. */
static void entry(const struct bpf_map_info *info, const unsigned char *key,
		  const unsigned char *val, size_t vsz, unsigned long *zeros)
{
	if (is_array(info->type) && all_zero(val, vsz)) {
		(*zeros)++;
		return;
	}
	hex(key, info->key_size);
	putchar(' ');
	hex(val, vsz);
	putchar('\n');
}

/* Entries in the order the kernel walks them, which is stable while the
 * map does not change: in batches of BATCH where the map type has batch
 * lookups (one syscall, not two per entry), else key by key (LPM tries).
 * Returns 0 or -errno. */
#define BATCH 8192
static int dump(int fd, const struct bpf_map_info *info)
{
	size_t vsz = info->value_size;
	size_t ksz = info->key_size + 8;
	unsigned char *keys, *vals, *key, *in, *out;
	unsigned long zeros = 0;
	__u32 i, n;
	int err = 0, first = 1;

	if (is_percpu(info->type))
		vsz = ((vsz + 7) & ~(size_t)7) * libbpf_num_possible_cpus();
	keys = calloc(BATCH, info->key_size);
	vals = calloc(BATCH, vsz);
	/* A batch cursor is 4 bytes for hashes and arrays, a whole key for
	 * the other types (the kernel's generic batch walk): room for both. */
	key = calloc(4, ksz);
	in = key + 2 * ksz;
	out = key + 3 * ksz;
	if (!keys || !vals || !key) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		n = BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys,
					   vals, &n, NULL);
		if (err && errno != ENOENT)
			break;
		for (i = 0; i < n; i++)
			entry(info, keys + (size_t)i * info->key_size,
			      vals + (size_t)i * vsz, vsz, &zeros);
		if (err) { /* ENOENT: that was the last batch */
			err = 0;
			goto done;
		}
		memcpy(in, out, ksz);
		first = 0;
	}
	if (!first || (errno != EINVAL && errno != ENOTSUP && errno != 524)) {
		err = -errno;
		goto out;
	}
	/* No batch lookups for this type (524 is the kernel's ENOTSUPP). */
	err = 0;
	first = 1;
	while (!bpf_map_get_next_key(fd, first ? NULL : key, key + ksz)) {
		first = 0;
		memcpy(key, key + ksz, info->key_size);
		if (bpf_map_lookup_elem(fd, key, vals)) {
			if (errno == ENOENT) /* deleted while walked */
				continue;
			err = -errno;
			goto out;
		}
		entry(info, key, vals, vsz, &zeros);
	}
done:
	if (zeros)
		printf("%lu zero entries\n", zeros);
out:
	free(keys);
	free(vals);
	free(key);
	return err;
}

int main(int argc, char **argv)
{
	char path[4096];
	int i, rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: mapsnap DIR MAP...\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd, err;

		snprintf(path, sizeof(path), "%s/%s", argv[1], argv[i]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			printf("== %s: %s\n", argv[i], strerror(errno));
			continue;
		}
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			printf("== %s: %s\n", argv[i], strerror(errno));
			close(fd);
			continue;
		}
		printf("== %s type %u key %u value %u max %u flags %#x\n",
		       argv[i], info.type, info.key_size, info.value_size,
		       info.max_entries, info.map_flags);
		if (info.type != BPF_MAP_TYPE_RINGBUF) {
			err = dump(fd, &info);
			if (err) {
				printf("== %s: read failed: %s\n", argv[i],
				       strerror(-err));
				rc = 1;
			}
		}
		close(fd);
	}
	return rc;
}
