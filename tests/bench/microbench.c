// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-packet cost of the xlimit XDP program, against baseline programs,
 * through bpf_prog_test_run_opts(). Each case runs one crafted frame
 * `repeat` times in the kernel, several rounds, and keeps the median.
 * The cases of one setup of the maps are timed interleaved (run_cases()),
 * and the ratio of two of them is the median of their rounds' ratios:
 * on a shared machine, a load that comes and goes then weighs on both
 * sides of a ratio alike.
 *
 * A round is timed by this thread's CPU clock (CLOCK_THREAD_CPUTIME_ID,
 * ns) around the call, less the median cost of a call of FIXED_REP
 * repetitions: the syscall, the frame's copy in and out, and the switch
 * of the XDP dispatcher to the program and back, which test_run does
 * for any repeat above 1 and which costs 0.6-1.6 ms of CPU here (text
 * patching, with IPIs to the other CPU). What is left is `repeat` -
 * FIXED_REP runs, to a fraction of a ns. The kernel's own average (the
 * `duration` test_run reports) leaves the fixed cost out but is a whole
 * number of ns, rounded down, which moves a 6 ns row's ratio by 0.17; it
 * is printed beside as a cross-check (it should be the CPU figure
 * rounded down, give or take the noise). Both leave out the time the
 * thread is preempted (test_run stops its clock when it yields, and the
 * thread's CPU clock stops), so neither counts the other jobs of a
 * shared machine; interrupts served during a run count in both.
 *
 * The churning-sources case goes through a wrapper
 * (baseline.bpf.c) that writes a new IPv6 source into the frame on every
 * repetition and tail-calls xlimit: its baseline is the same wrapper in
 * front of parse-and-drop, so the wrapper's own cost is on both sides.
 *
 * Prints a Markdown table on stdout and, with --tsv FILE, the same rows
 * for the plot. Loads its own copy of the object with no pins, so it
 * touches no installed xlimit. Needs root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pkt.h"
#include "xlimit.h"
#include "xlimit.skel.h"
#include "baseline.skel.h"
#include "ladder.skel.h"
#include "xlimit_lib.h"

#define ROUNDS 5
#define ROUNDS_MAX 31 /* --rounds */
#define FIXED_REP 2 /* repetitions of the calls that time the fixed cost */
#define FIXED_CALLS 7 /* how many of those */

/* Rows other rows are compared with. */
#define R_PASS "XDP_PASS"
#define R_DROP "XDP_DROP"
#define R_PPASS "parse-and-pass (TCP ACK)"
#define R_PDROP "parse-and-drop (SYN)"
#define R_CNT "counter: parse + LRU lookup + atomic add"
#define R_CNT_KT "counter + bpf_ktime_get_ns"
#define R_CNT_CO "counter + bpf_ktime_get_coarse_ns"
#define R_WPD "wrapper + parse-and-drop (IPv6 SYN)"
#define R_WCNT1 "wrapper + counter: IPv6 SYN, hot source"
#define R_WCNT1M "wrapper + counter: 1M sources, map of 1M"
#define R_WCNT2M "wrapper + counter: 2M sources, map of 1M"
#define R_WCNTOV "wrapper + counter: 100,000 sources, every one over"
/* The counter with the clock xlimit reads (decide.h's xl_now()). */
#define R_REF R_CNT_CO
#define REF_PROG bl->progs.ref_count_coarse
#define LIST_BIG 60000 /* prefixes in each list for the big-list rows */
#define STATE_SIZE 1048576 /* --max-sources 1048576, as for memory */

static struct xlimit_bpf *xl;
static struct baseline_bpf *bl;
static struct ladder_bpf *ld;
static unsigned int repeat = 2000000;
static int rounds = ROUNDS;
static bool use_min; /* --min: the fastest round, not the median */

struct result {
	const char *name;
	double ns;
	double kns; /* the kernel's duration, whole ns */
	const char *base; /* row its added ns are counted from, or NULL */
	const char *ref; /* row its ratio is to, or NULL */
	double target; /* ratio to reach, 0 for none */
	int batch; /* the run_cases() call that timed it */
	int nt;
	double t[ROUNDS_MAX]; /* its rounds' ns per run, in round order */
};

#define MAX_RESULTS 48
static struct result res[MAX_RESULTS];
static int nres;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Row names containing one of these are run, all when there are none. */
#define MAX_ONLY 16
static const char *only[MAX_ONLY];
static int nonly;

static bool selected(const char *name)
{
	int i;

	for (i = 0; i < nonly; i++)
		if (strstr(name, only[i]))
			return true;
	return !nonly;
}

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* One call of `rep` repetitions: its CPU time in ns, the kernel's
 * duration and the verdict. */
static int run_once(int fd, const __u8 *frame, size_t len, unsigned int rep,
		    double *ns, __u32 *kns, __u32 *verdict)
{
	__u8 out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out),
		    .repeat = rep);
	double t0 = cpu_ns();

	if (bpf_prog_test_run_opts(fd, &o)) {
		fprintf(stderr, "microbench: test_run: %s\n", strerror(errno));
		return -1;
	}
	*ns = cpu_ns() - t0;
	*kns = o.duration;
	*verdict = o.retval;
	return 0;
}

static double median(double *t, int n)
{
	qsort(t, n, sizeof(t[0]), cmp_double);
	return t[n / 2];
}

static const char *verdict_name(__u32 v)
{
	switch (v) {
	case XDP_PASS:
		return "PASS";
	case XDP_DROP:
		return "DROP";
	case XDP_ABORTED:
		return "ABORTED";
	default:
		return "?";
	}
}

/* What the next rows are compared with: set by vs(). */
static const char *cur_base, *cur_ref;
static double cur_target;

static void vs(const char *base, const char *ref, double target)
{
	cur_base = base;
	cur_ref = ref;
	cur_target = target;
}

/* Records a row (its time comes later, from run_cases()): its index. */
static int add_row(const char *name)
{
	if (nres == MAX_RESULTS)
		return -1;
	res[nres] = (struct result){ .name = name,
				     .base = cur_base,
				     .ref = cur_ref,
				     .target = cur_target };
	return nres++;
}

/*
 * The cases registered since the last run_cases(): rows to time
 * together. run_cases() times them interleaved, one call of each case a
 * round, the round starting one case further each time, so that a load
 * that comes and goes falls on every row of a ratio alike, and no row
 * always follows the same one.
 */
struct bcase {
	int row;
	int fd;
	__u8 frame[PKT_MAX];
	size_t len;
	unsigned int rep;
	__u32 want;
	__u32 nsrc; /* through the churn wrapper with nsrc sources, or 0 */
	int prog; /* the program the wrapper tail-calls */
	double fixed; /* the median cost of a call of FIXED_REP repetitions */
	double t[ROUNDS_MAX], k[ROUNDS_MAX];
	__u32 verdict;
};

#define MAX_CASES MAX_RESULTS
static struct bcase cases[MAX_CASES];
static int ncases;

static struct bcase *new_case(const char *name, int fd,
			      const struct pkt_spec *spec, __u32 want)
{
	struct bcase *c;

	if (!selected(name))
		return NULL;
	if (ncases == MAX_CASES) {
		fprintf(stderr, "microbench: more than %d cases in a run\n",
			MAX_CASES);
		exit(1);
	}
	c = &cases[ncases];
	*c = (struct bcase){ .fd = fd, .rep = repeat, .want = want };
	c->len = pkt_build(spec, c->frame, sizeof(c->frame));
	c->row = add_row(name);
	if (!c->len || c->row < 0) {
		fprintf(stderr, "microbench: %s: bad frame or too many rows\n",
			name);
		exit(1);
	}
	ncases++;
	return c;
}

/* Registers one case: a frame through a program, its expected verdict. */
static void bench(const char *name, int fd, const struct pkt_spec *spec,
		  __u32 want)
{
	new_case(name, fd, spec, want);
}

static int churn_setup(int prog, __u32 nsrc);

/* One call of a case with `rep` repetitions (see run_once()). */
static int case_once(struct bcase *c, unsigned int rep, double *ns, __u32 *kns)
{
	if (c->nsrc && churn_setup(c->prog, c->nsrc))
		return -1;
	return run_once(c->fd, c->frame, c->len, rep, ns, kns, &c->verdict);
}

/*
 * Times the registered cases, `rounds` rounds (at most ROUNDS_MAX), interleaved; each row
 * gets the median ns per run (the least with --min): CPU time less the
 * fixed cost of a call (see the top of the file), and the median of the
 * kernel's durations. Fails when a case's last verdict is not the one
 * it expects.
 */
static int run_cases(int rounds)
{
	static int batch = 1;
	double f[FIXED_CALLS];
	struct bcase *c;
	__u32 kd;
	int i, j, r, err = 0;

	for (i = 0; i < ncases; i++) {
		c = &cases[i];
		/* A churning case's first cycle fills the state map. */
		if (c->nsrc && case_once(c, c->nsrc, &f[0], &kd))
			goto fail;
		for (j = 0; c->rep > FIXED_REP && j < FIXED_CALLS; j++)
			if (case_once(c, FIXED_REP, &f[j], &kd))
				goto fail;
		c->fixed = c->rep > FIXED_REP ? median(f, FIXED_CALLS) : 0;
	}
	for (r = 0; r < rounds; r++) {
		for (j = 0; j < ncases; j++) {
			c = &cases[(j + r) % ncases];
			if (case_once(c, c->rep, &c->t[r], &kd))
				goto fail;
			c->t[r] = (c->t[r] - c->fixed) /
				  (c->rep > FIXED_REP ? c->rep - FIXED_REP :
							c->rep);
			c->k[r] = kd;
		}
	}
	for (i = 0; i < ncases; i++) {
		struct result *row;

		c = &cases[i];
		row = &res[c->row];
		if (c->verdict != c->want) {
			fprintf(stderr,
				"microbench: %s: verdict %s, expected %s\n",
				row->name, verdict_name(c->verdict),
				verdict_name(c->want));
			err = -1;
		}
		row->kns = median(c->k, rounds);
		row->batch = batch;
		row->nt = rounds;
		memcpy(row->t, c->t, sizeof(row->t));
		row->ns = median(c->t, rounds);
		if (use_min)
			row->ns = c->t[0]; /* sorted: the least */
	}
	ncases = 0;
	batch++;
	return err;
fail:
	ncases = 0;
	return -1;
}

/* Times xlimit's XDP program on an IPv4 SYN from src to port. */
static void bench_xl(const char *name, const char *src, __u16 port, __u32 want)
{
	struct pkt_spec spec = { .dport = port, .src = src };

	bench(name, bpf_program__fd(xl->progs.xlimit_xdp), &spec, want);
}

static const struct result *row_of(const char *name)
{
	int i;

	for (i = 0; i < nres; i++)
		if (!strcmp(res[i].name, name))
			return &res[i];
	return NULL;
}

static double ns_of(const char *name)
{
	const struct result *r = row_of(name);

	return r ? r->ns : 0;
}

/*
 * The ratio of row r to the row named ref: of two rows timed in the
 * same rounds, the median of their rounds' ratios (each round's two
 * calls a few ms apart, under the same load), else (and with --min)
 * the ratio of their times. 0 when there is no such row.
 */
static double ratio_of(const struct result *r, const char *ref)
{
	const struct result *f = ref ? row_of(ref) : NULL;
	double q[ROUNDS_MAX];
	int i;

	if (!f || f->ns <= 0)
		return 0;
	if (use_min || f->batch != r->batch || f->nt != r->nt)
		return r->ns / f->ns;
	for (i = 0; i < r->nt; i++)
		q[i] = f->t[i] > 0 ? r->t[i] / f->t[i] : 0;
	return median(q, r->nt);
}

/* The maps xl_rule_write() and xl_config_resync() write (user/lib). */
static struct xl_maps rule_maps;

/* Port's rule (stats slot `slot`): one limit of `amount` per `period_s`
 * that drops, counted as `strategy` (a token bucket with a burst of its
 * amount), with `flags`. */
static int put_rule(__u16 port, __u64 amount, __u64 period_s, __u32 slot,
		    __u32 strategy, __u32 flags)
{
	struct xl_rule r = { .nlimits = 1, .slot = slot, .flags = flags };

	r.limits[0].amount = amount;
	r.limits[0].period_ns = period_s * XL_NSEC_PER_SEC;
	r.limits[0].action = XL_ACT_DROP;
	r.limits[0].strategy = strategy;
	r.limits[0].burst = strategy == XL_STRAT_TOKEN ? amount : 0;
	return xl_rule_write(&rule_maps, port, &r);
}

static int set_rule(__u16 port, __u64 amount, __u64 period_s, __u32 slot)
{
	return put_rule(port, amount, period_s, slot, XL_STRAT_FIXED, 0);
}

/* Gives port's rule (slot) a ceiling of `amount` SYNs an hour for all
 * sources, with `flags` beside XL_RULE_TOTAL, as `limit set --total`
 * writes it: the ceiling first. */
static int set_ceiling(__u16 port, __u32 slot, __u64 amount, __u32 flags)
{
	struct xl_total t = { .rule = { .nlimits = 1 } };

	t.rule.limits[0].amount = amount;
	t.rule.limits[0].period_ns = 3600 * XL_NSEC_PER_SEC;
	if (bpf_map_update_elem(bpf_map__fd(xl->maps.xl_total), &slot, &t,
				BPF_ANY))
		return -1;
	return put_rule(port, XL_AMOUNT_MAX, 3600, slot, XL_STRAT_FIXED,
			XL_RULE_TOTAL | flags);
}

/* Makes addr (IPv4) a known client of port, as the sockops program does
 * when one of its connections is established. */
static int set_known(const char *addr, __u16 port)
{
	struct xl_known v = { .conns = 1 };
	struct xl_key k = { .port = port };

	k.addr[10] = k.addr[11] = 0xff;
	if (inet_pton(AF_INET, addr, k.addr + 12) != 1)
		return -1;
	return bpf_map_update_elem(bpf_map__fd(xl->maps.xl_known), &k, &v,
				   BPF_ANY);
}

/* Writes xl_config as the CLI would: counted per /128 (the churning
 * sources differ in their low 32 bits), `flags` beside the list flags,
 * which xl_config_resync() then sets from the lists (in xl_config and in
 * xl_ports' copy), with a new generation. */
static int set_config(__u32 flags)
{
	static struct xl_config cfg = { .ipv6_prefix = 128,
					.hash_seed = 0x5eed };
	__u32 zero = 0;

	cfg.flags = flags;
	cfg.gen += 2; /* past the one xl_config_resync() moved it to */
	if (bpf_map_update_elem(bpf_map__fd(xl->maps.xl_config), &zero, &cfg,
				BPF_ANY))
		return -1;
	return xl_config_resync(&rule_maps);
}

/* Adds an IPv4 address to a list (xl_allow, xl_deny). */
static int list_v4(struct bpf_map *list, const char *addr)
{
	struct xl_lpm_key k = { .prefixlen = 128 };
	__u32 one = 1;

	k.addr[10] = 0xff;
	k.addr[11] = 0xff;
	if (inet_pton(AF_INET, addr, &k.addr[12]) != 1)
		return -EINVAL;
	return bpf_map_update_elem(bpf_map__fd(list), &k, &one, BPF_ANY);
}

/* Adds one prefix of `len` bits of addr (IPv6-sized, v4-mapped for
 * IPv4) to a list. */
static int list_add(struct bpf_map *list, const __u8 addr[16], __u32 len)
{
	struct xl_lpm_key k = { .prefixlen = len };
	__u32 one = 1, i;

	memcpy(k.addr, addr, 16);
	for (i = len; i < 128; i++) /* no host bits past the prefix */
		k.addr[i / 8] &= ~(0x80 >> (i % 8));
	return bpf_map_update_elem(bpf_map__fd(list), &k, &one, BPF_ANY);
}

/*
 * Fills a list with n prefixes of mixed lengths, half IPv4 (/8 to /32,
 * in net4/8) and half IPv6 (/16 to /128, in net6/16), from a fixed
 * pseudo-random sequence: a list of the size operators feed from
 * reputation feeds. None covers 198.18.0.0/15 or 2001:2::/48.
 */
static int list_fill(struct bpf_map *list, __u8 net4, __u16 net6, int n)
{
	__u64 x = 0x2545f4914f6cdd1dULL ^ net4;
	__u8 a[16];
	int i, err = 0;

	for (i = 0; i < n && !err; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(a, &x, 8);
		memcpy(a + 8, &x, 8);
		if (i & 1) {
			a[0] = net6 >> 8;
			a[1] = net6 & 0xff;
			err = list_add(list, a, 16 + x % 113);
		} else {
			memset(a, 0, 10);
			a[10] = a[11] = 0xff;
			a[12] = net4;
			err = list_add(list, a, 96 + 8 + x % 25);
		}
	}
	return err;
}

/* Empties a list (its prefixes as list_add() wrote them). */
static int list_clear(struct bpf_map *list)
{
	int fd = bpf_map__fd(list);
	struct xl_lpm_key k;

	while (!bpf_map_get_next_key(fd, NULL, &k))
		if (bpf_map_delete_elem(fd, &k))
			return -1;
	return 0;
}

static int load(void)
{
	struct bpf_map *m, *xm;
	int err;

	xl = xlimit_bpf__open();
	bl = baseline_bpf__open();
	ld = ladder_bpf__open();
	if (!xl || !bl || !ld) {
		fprintf(stderr, "microbench: open the BPF objects: %s\n",
			strerror(errno));
		return -1;
	}
	/* A private copy: nothing pinned, nothing shared. */
	bpf_object__for_each_map(m, xl->obj) bpf_map__set_pin_path(m, NULL);
	bpf_map__set_max_entries(xl->maps.xl_state, STATE_SIZE);
	bpf_map__set_max_entries(bl->maps.ref_state, STATE_SIZE);
	err = xlimit_bpf__load(xl);
	if (!err)
		err = baseline_bpf__load(bl);
	/* The ladder's rungs run on xlimit's own maps. */
	bpf_object__for_each_map(m, ld->obj)
	{
		bpf_map__set_pin_path(m, NULL);
		xm = err ? NULL :
			   bpf_object__find_map_by_name(xl->obj,
							bpf_map__name(m));
		if (xm && !err)
			err = bpf_map__reuse_fd(m, bpf_map__fd(xm));
	}
	if (!err)
		err = ladder_bpf__load(ld);
	if (err) {
		fprintf(stderr, "microbench: load: %s (needs root)\n",
			strerror(-err));
		return -1;
	}
	xl_maps_of(xl->obj, &rule_maps);
	return 0;
}

/* Points the churn wrapper at `prog` with `nsrc` sources. */
static int churn_setup(int prog, __u32 nsrc)
{
	__u32 zero = 0;

	bl->data->bl_nsrc = nsrc;
	bl->bss->bl_seq = 0;
	return bpf_map_update_elem(bpf_map__fd(bl->maps.bl_next), &zero, &prog,
				   BPF_ANY);
}

/* Churn: a case through the wrapper, which tail-calls `prog` with a new
 * source each run, `nsrc` of them; run_cases() fills the LRU with a
 * full cycle of sources first, then times full cycles, so that every
 * timed SYN meets a map at capacity. */
static void bench_churn(const char *name, int prog, __u32 nsrc,
			const struct pkt_spec *spec, __u32 want)
{
	struct bcase *c =
		new_case(name, bpf_program__fd(bl->progs.bl_churn), spec, want);

	if (!c)
		return;
	c->nsrc = nsrc;
	c->prog = prog;
	c->rep = nsrc > repeat ? nsrc : repeat;
}

static __u64 state_entries(void)
{
	int fd = bpf_map__fd(xl->maps.xl_state);
	struct xl_key k, next;
	__u64 n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static void print_table(FILE *tsv)
{
	int i;

	printf("| case | ns/packet | test_run ns | ns added | ratio | to | target |\n");
	printf("|---|---:|---:|---:|---:|---|---|\n");
	for (i = 0; i < nres; i++) {
		const struct result *r = &res[i];
		double b = r->base ? ns_of(r->base) : 0;
		double q = ratio_of(r, r->ref);
		char added[32] = "", ratio[32] = "", target[48] = "";

		if (b > 0)
			snprintf(added, sizeof(added), "%+.1f", r->ns - b);
		if (q > 0)
			snprintf(ratio, sizeof(ratio), "%.2f×", q);
		if (r->target > 0 && q > 0)
			snprintf(target, sizeof(target), "≤ %.2f× — %s",
				 r->target,
				 q <= r->target ? "met" : "**missed**");
		printf("| %s | %.1f | %.0f | %s | %s | %s | %s |\n", r->name,
		       r->ns, r->kns, added, ratio, r->ref ? r->ref : "",
		       target);
		if (tsv)
			fprintf(tsv, "\"%s\"\t%.1f\n", r->name, r->ns);
	}
}

/* A step of main() failed, errno says why: says so, and returns main()'s
 * exit code. */
static int failed(const char *what)
{
	fprintf(stderr, "microbench: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ "tsv", required_argument, NULL, 't' },
		{ "no-churn", no_argument, NULL, 'n' },
		{ "only", required_argument, NULL, 'o' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "min", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct pkt_spec syn80 = { .dport = 80 };
	const struct pkt_spec ack80 = { .dport = 80, .tcp_flags = PKT_TCP_ACK };
	const char *tsv_path = NULL;
	bool churn = true;
	FILE *tsv = NULL;
	int xdp, c;
	unsigned int rep;
	char *end;

	while ((c = getopt_long(argc, argv, "r:t:o:R:mh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			errno = 0;
			repeat = strtoul(optarg, &end, 10);
			if (errno || *end || !repeat) {
				fprintf(stderr, "microbench: bad --repeat\n");
				return 2;
			}
			break;
		case 't':
			tsv_path = optarg;
			break;
		case 'n':
			churn = false;
			break;
		case 'R':
			errno = 0;
			rounds = strtol(optarg, &end, 10);
			if (errno || *end || rounds < 1 ||
			    rounds > ROUNDS_MAX) {
				fprintf(stderr,
					"microbench: bad --rounds (1 to %d)\n",
					ROUNDS_MAX);
				return 2;
			}
			break;
		case 'm':
			use_min = true;
			break;
		case 'o':
			if (nonly == MAX_ONLY) {
				fprintf(stderr,
					"microbench: at most %d --only\n",
					MAX_ONLY);
				return 2;
			}
			only[nonly++] = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: microbench [--repeat N] [--rounds N] [--min] [--tsv FILE] [--no-churn] [--only TEXT]...\n"
				"  --rounds N: time each row N times (default %d), keep the median\n"
				"  --min: keep the fastest round instead (noise only adds)\n"
				"  --only TEXT: run only the rows whose name contains TEXT\n"
				"               (repeatable; the rows a ratio is to are\n"
				"               not added by themselves)\n",
				ROUNDS);
			return c == 'h' ? 0 : 2;
		}
	}
	/* The hot source must stay within port 80's limit for all its
	 * rounds. */
	if ((__u64)repeat * rounds + FIXED_REP * FIXED_CALLS > XL_AMOUNT_MAX) {
		fprintf(stderr,
			"microbench: --repeat times --rounds is at most %llu\n",
			XL_AMOUNT_MAX - FIXED_REP * FIXED_CALLS);
		return 2;
	}
	if (load())
		return 1;
	xdp = bpf_program__fd(xl->progs.xlimit_xdp);

	/* Port 80: a limit no hot source reaches; port 81: one SYN an hour;
	 * no rule for 82 and none for port 0; 85 and 86 as 80 with the other
	 * strategies: a sliding window of its largest amount an hour, a
	 * token bucket of 16.7M a second with a burst as large (a row's 5 ×
	 * repeat hits, tens of ns apart, never empty it). Floods
	 * (bpf/flood.h): port 83 with a ceiling a hot source never reaches;
	 * port 84 with one of 0 (exceeded by every SYN, as during a flood),
	 * which admits known clients, and 198.18.0.5 is one. Empty lists
	 * first. */
	if (set_rule(80, XL_AMOUNT_MAX, 3600, 1) || set_rule(81, 1, 3600, 2) ||
	    put_rule(85, XL_SLIDING_AMOUNT_MAX, 3600, 5, XL_STRAT_SLIDING, 0) ||
	    put_rule(86, XL_AMOUNT_MAX, 1, 6, XL_STRAT_TOKEN, 0) ||
	    set_ceiling(83, 3, XL_AMOUNT_MAX, 0) ||
	    set_ceiling(84, 4, 0, XL_RULE_ADMIT_KNOWN) ||
	    set_known("198.18.0.5", 84) || set_config(0))
		return failed("set up the maps");

	/* Every row up to the next run_cases() is timed in the same rounds,
	 * interleaved: the yardsticks, the ladder and xlimit's main rows. */
	/* The floor: verdicts alone, then the parse. */
	vs(NULL, NULL, 0);
	bench(R_PASS, bpf_program__fd(bl->progs.bl_pass), &syn80, XDP_PASS);
	bench(R_DROP, bpf_program__fd(bl->progs.bl_drop), &syn80, XDP_DROP);
	bench(R_PPASS, bpf_program__fd(bl->progs.bl_parse_pass), &ack80,
	      XDP_PASS);
	bench(R_PDROP, bpf_program__fd(bl->progs.bl_parse_drop), &syn80,
	      XDP_DROP);

	/* The yardstick: the minimal per-source counter, by clock. */
	vs(R_PDROP, NULL, 0);
	bench(R_CNT, bpf_program__fd(bl->progs.ref_count_plain), &syn80,
	      XDP_PASS);
	bench(R_CNT_KT, bpf_program__fd(bl->progs.ref_count_ktime), &syn80,
	      XDP_PASS);
	bench(R_CNT_CO, bpf_program__fd(REF_PROG), &syn80, XDP_PASS);
	/* Its threshold of 1: over from the second hit on. */
	syn80.src = "198.18.0.8";
	bench("counter + clock, over its threshold (drop)",
	      bpf_program__fd(bl->progs.ref_count_flood), &syn80, XDP_DROP);

	/* xlimit's decision, one step more per row (hot source, port 80). */
	vs(R_PDROP, R_REF, 0);
	/* Each charging rung charges a source of its own: no source may be
	 * charged more than `repeat` × ROUNDS times. */
	syn80.src = "198.18.0.2";
	bench("ladder 1: parse + rule lookup",
	      bpf_program__fd(ld->progs.ld_rule), &syn80, XDP_DROP);
	bench("ladder 2: + config, deny and allow lists",
	      bpf_program__fd(ld->progs.ld_lists), &syn80, XDP_DROP);
	bench("ladder 2b: + verdict cache probe (a miss)",
	      bpf_program__fd(ld->progs.ld_cache), &syn80, XDP_DROP);
	bench("ladder 3: + clock", bpf_program__fd(ld->progs.ld_clock), &syn80,
	      XDP_DROP);
	bench("ladder 4: + state lookup", bpf_program__fd(ld->progs.ld_state),
	      &syn80, XDP_DROP);
	syn80.src = "198.18.0.3";
	bench("ladder 5': + charge, general multi-limit path",
	      bpf_program__fd(ld->progs.ld_charge_all), &syn80, XDP_PASS);
	syn80.src = "198.18.0.2";
	bench("ladder 5: + charge (one-limit fast path)",
	      bpf_program__fd(ld->progs.ld_charge), &syn80, XDP_PASS);

	syn80.src = NULL;
	/* xlimit itself. */
	vs(R_PDROP, R_REF, 1.25);
	bench("xlimit: SYN allowed, hot source (ladder 5 + counters)", xdp,
	      &syn80, XDP_PASS);
	/* The other strategies (xl_limiter.h), each one compare-and-swap. A
	 * sliding window counts at most 2^20 - 1 hits a window: its row
	 * runs at most 1,000,000 times over its rounds. */
	bench_xl("xlimit: SYN allowed, hot source, token bucket", "198.18.0.12",
		 86, XDP_PASS);
	rep = repeat;
	repeat = repeat < 1000000U / rounds ? repeat : 1000000U / rounds;
	bench_xl("xlimit: SYN allowed, hot source, sliding window",
		 "198.18.0.11", 85, XDP_PASS);
	repeat = rep;
	vs(R_PDROP, R_REF, 1.0);
	bench("xlimit: SYN dropped, over the limit", xdp,
	      &(struct pkt_spec){ .dport = 81 }, XDP_DROP);
	vs(R_PDROP, R_PDROP, 1.10);
	bench("xlimit: SYN, port without a rule", xdp,
	      &(struct pkt_spec){ .dport = 82 }, XDP_PASS);
	vs(R_PPASS, R_PPASS, 1.05);
	bench("xlimit: TCP ACK", xdp, &ack80, XDP_PASS);
	vs(R_PPASS, R_PPASS, 0);
	bench("xlimit: UDP (not TCP)", xdp,
	      &(struct pkt_spec){ .dport = 80, .l4 = PKT_UDP }, XDP_PASS);
	vs(R_PDROP, R_REF, 1.25);
	bench_xl("xlimit: SYN allowed, hot source, port with a ceiling",
		 "198.18.0.6", 83, XDP_PASS);
	vs(R_PDROP, R_REF, 1.0);
	bench_xl("xlimit: SYN over the port's exceeded ceiling (a flood)",
		 "198.18.0.7", 84, XDP_DROP);
	vs(R_PDROP, R_REF, 0);
	bench_xl("xlimit: SYN of a known client past the exceeded ceiling",
		 "198.18.0.5", 84, XDP_PASS);
	if (run_cases(rounds))
		return 1;

	/* `xlimit sync` running: each charged client is reported once an
	 * epoch (bpf/sync.h), so a hot source pays the check of its mark. */
	vs(R_PDROP, R_REF, 0);
	if (set_config(XL_CFG_SYNC))
		return failed("sync flag");
	bench_xl("xlimit: SYN allowed, hot source, `xlimit sync` running",
		 "198.18.0.13", 80, XDP_PASS);
	if (run_cases(rounds))
		return 1;

	/* One allow-list entry: a counted SYN looks the trie up, unless the
	 * verdict cache knows its source. */
	if (list_v4(xl->maps.xl_allow, "198.18.0.9") || set_config(0))
		return failed("allow-list");
	vs(R_PDROP, R_REF, 0);
	bench_xl("xlimit: SYN allowed, hot source, allow list of 1 entry",
		 "198.18.0.4", 80, XDP_PASS);
	vs(R_PDROP, NULL, 0);
	bench_xl("xlimit: SYN from an allow-listed source (cached)",
		 "198.18.0.9", 80, XDP_PASS);
	if (run_cases(rounds))
		return 1;

	/* One deny-list entry (another source): a SYN to a port without a
	 * rule looks the deny trie up, which an empty list skips. */
	if (list_v4(xl->maps.xl_deny, "198.18.0.99") || set_config(0))
		return failed("deny-list");
	vs(R_PDROP, NULL, 0);
	bench("xlimit: SYN, port without a rule, deny list of 1 entry", xdp,
	      &(struct pkt_spec){ .dport = 82 }, XDP_PASS);
	if (run_cases(rounds))
		return 1;

	/* Deny and allow lists of 60,000 prefixes each, with a source of
	 * each among them (198.18.1.1 denied, 198.18.1.2 allowed). */
	if (list_fill(xl->maps.xl_deny, 10, 0xfd00, LIST_BIG) ||
	    list_fill(xl->maps.xl_allow, 100, 0xfc00, LIST_BIG) ||
	    list_v4(xl->maps.xl_deny, "198.18.1.1") ||
	    list_v4(xl->maps.xl_allow, "198.18.1.2") || set_config(0))
		return failed("big lists");
	vs(R_PDROP, R_REF, 0);
	bench_xl(
		"xlimit: SYN allowed, hot unlisted source, lists of 60,000 prefixes",
		"198.18.1.3", 80, XDP_PASS);
	bench_xl("xlimit: SYN from a hot deny-listed source, lists of 60,000",
		 "198.18.1.1", 80, XDP_DROP);
	bench_xl("xlimit: SYN from a hot allow-listed source, lists of 60,000",
		 "198.18.1.2", 80, XDP_PASS);
	vs(R_PDROP, R_PDROP, 0);
	bench_xl("xlimit: SYN, port without a rule, deny list of 60,000",
		 "198.18.1.3", 82, XDP_PASS);
	if (run_cases(rounds))
		return 1;

	/* Churning sources: IPv6, through the wrapper, 3 rounds; each pair
	 * of a counter and xlimit timed together (the two xlimit cases of
	 * many sources share xl_state, so they are not). Empty lists, as the
	 * flood benchmark has: with the lists of 60,000 still there, every
	 * SYN of a source the verdict cache misses would look both tries
	 * up, which the counter has no counterpart of. */
	if (churn && (list_clear(xl->maps.xl_allow) ||
		      list_clear(xl->maps.xl_deny) || set_config(0)))
		return failed("empty the lists");
	if (churn) {
		struct pkt_spec v6 = { .l3 = PKT_IPV6, .dport = 80 };
		int pd = bpf_program__fd(bl->progs.bl_parse_drop);
		int cnt = bpf_program__fd(REF_PROG);
		int n3 = rounds < 3 ? rounds : 3;
		__u64 n1;

		vs(NULL, NULL, 0);
		bench_churn(R_WPD, pd, 1, &v6, XDP_DROP);
		vs(R_WPD, NULL, 0);
		bench_churn(R_WCNT1, cnt, 1, &v6, XDP_PASS);
		vs(R_WPD, R_WCNT1, 1.25);
		bench_churn("wrapper + xlimit: IPv6 SYN, hot source", xdp, 1,
			    &v6, XDP_PASS);
		if (run_cases(n3))
			return 1;
		/* A flood of forged sources each over its limit, too many
		 * for the verdict cache: the counter with its threshold of 1,
		 * xlimit with port 81's 1 an hour. The first cycle lets each
		 * source's first SYN through; every timed SYN is refused. */
		v6.dport = 81;
		vs(R_WPD, NULL, 0);
		bench_churn(R_WCNTOV,
			    bpf_program__fd(bl->progs.ref_count_flood), 100000,
			    &v6, XDP_DROP);
		vs(R_WPD, R_WCNTOV, 1.10);
		bench_churn("wrapper + xlimit: 100,000 sources, every one over",
			    xdp, 100000, &v6, XDP_DROP);
		if (run_cases(rounds))
			return 1;
		v6.dport = 80;
		vs(R_WPD, NULL, 0);
		bench_churn(R_WCNT1M, cnt, 1000000, &v6, XDP_PASS);
		vs(R_WPD, R_WCNT1M, 1.10);
		bench_churn("wrapper + xlimit: 1M sources, map of 1M", xdp,
			    1000000, &v6, XDP_PASS);
		if (run_cases(n3))
			return 1;
		n1 = state_entries();
		vs(R_WPD, NULL, 0);
		bench_churn(R_WCNT2M, cnt, 2000000, &v6, XDP_PASS);
		vs(R_WPD, R_WCNT2M, 1.10);
		bench_churn("wrapper + xlimit: 2M sources, map of 1M", xdp,
			    2000000, &v6, XDP_PASS);
		if (run_cases(n3))
			return 1;
		fprintf(stderr,
			"microbench: xl_state held %llu of %d entries after "
			"the 1M-source cycles, %llu after the 2M ones\n",
			(unsigned long long)n1, STATE_SIZE,
			(unsigned long long)state_entries());
	}

	if (tsv_path) {
		tsv = fopen(tsv_path, "w");
		if (!tsv)
			return failed(tsv_path);
	}
	print_table(tsv);
	if (tsv)
		fclose(tsv);
	ladder_bpf__destroy(ld);
	xlimit_bpf__destroy(xl);
	baseline_bpf__destroy(bl);
	return 0;
}
