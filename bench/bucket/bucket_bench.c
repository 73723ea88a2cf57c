// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace contention benchmark of vmpolice's bucket code against a
 * spinlock token bucket shaped like the kernel's police action.
 *
 * The vmpolice side is kmod/vmpolice_bucket.h itself, built with the unit
 * tests' selftests/unit/kshim.h (KSHIM_BENCH: no test hooks), and called
 * the way the action or the qdisc and vmp_police() call it: the
 * parameters' pointer read (rcu_dereference_bh()), the clock, the train
 * of the packet, the configuration (struct vmp_gen) and the cost per
 * bucket, vmp_bucket_take() on the queue bucket then on the aggregate
 * one, each checked for VMP_STALE, vmp_bucket_refund() when the
 * aggregate refuses.  No configuration changes during a run, so no
 * packet starts over and no bucket is converted; what is measured is
 * the generation check as every packet pays it.  The queue is the
 * thread's own at a fixed address: the module's lookup of the queue's
 * chunk (vmp_policer_queue_get()) is not modelled.  The police side
 * is a model of tcf_police_act(): the clock read before the lock, one
 * spinlock around toks/ptoks/t_c on their own cache line, psched-style
 * reciprocal time math.  Neither side parses an skb, runs in softirq or
 * counts bytes per CPU: what is measured is the charging alone.
 *
 * Every packet is a 1514-byte frame; each thread is pinned to its own
 * CPU.  Each repetition runs every case once, in an order rotated from
 * one repetition to the next, so that a load from elsewhere hits every
 * case alike; the table gives medians and min-max over repetitions.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmpolice_bucket.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* the kernel's, which vmp_police() uses on the same branches */
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define BB_CACHELINE	64
#define BB_MAX_THREADS	2
#define BB_PKT_LEN	1514
#define BB_MTU		65536
/* conform: 8 Tbit/s, burst 1 ms of it; every packet conforms */
#define BB_FAST_RATE	1000000000000ULL
#define BB_FAST_BURST	1000000000ULL
/* saturated: 1 Gbit/s, burst 64 KiB (libvirt-like); nearly none do */
#define BB_SLOW_RATE	125000000ULL
#define BB_SLOW_BURST	65536ULL

/* x86-64 only, as the module's packages: the kernel's cpu_relax() */
static inline void bb_cpu_relax(void)
{
	__builtin_ia32_pause();
}

/* ktime_get_ns() stand-in: the vDSO clock on the same clock source. */
static inline u64 bb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * NSEC_PER_SEC + (u64)ts.tv_nsec;
}

/*
 * The police model.  A spinlock whose uncontended path is one locked
 * cmpxchg and whose release is a plain store, waiters spinning on a
 * read with pause in between (the shape of a qspinlock with one
 * waiter), next to the bucket state on the same cache line.
 */
struct pol_lock {
	int	locked;
};

static inline void pol_lock(struct pol_lock *l)
{
	int unlocked = 0;

	while (!__atomic_compare_exchange_n(&l->locked, &unlocked, 1, false,
					    __ATOMIC_ACQUIRE,
					    __ATOMIC_RELAXED)) {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			bb_cpu_relax();
		unlocked = 0;
	}
}

static inline void pol_unlock(struct pol_lock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* Reciprocal rate: ns = (len * mult) >> shift, as psched_ratecfg. */
struct pol_ratecfg {
	u64	rate;		/* bytes per second */
	u32	mult;
	u8	shift;
	u16	overhead;
	u16	mpu;
};

static void pol_ratecfg_init(struct pol_ratecfg *r, u64 rate)
{
	u64 num = NSEC_PER_SEC;
	u8 shift = 0;
	u32 mult;

	memset(r, 0, sizeof(*r));
	r->rate = rate;
	/* the largest shift that keeps mult within 31 bits */
	for (;;) {
		mult = num / rate;
		if ((mult & (1U << 31)) || (num & (1ULL << 63)))
			break;
		num <<= 1;
		shift++;
	}
	r->mult = mult;
	r->shift = shift;
}

static inline u64 pol_len_to_ns(const struct pol_ratecfg *r, u32 len)
{
	len += r->overhead;
	if (len < r->mpu)
		len = r->mpu;
	return ((u64)len * r->mult) >> r->shift;
}

struct pol_params {
	struct pol_ratecfg	rate;
	s64			burst;		/* ns */
	u32			mtu;
};

struct pol_state {
	struct pol_lock	lock;
	s64		toks;
	s64		ptoks;
	s64		pkttoks;
	s64		t_c;
} __aligned(BB_CACHELINE);

/*
 * One packet through the police model; true if it conforms.  @now is
 * read just before, outside the lock, as tcf_police_act() does.
 */
static inline bool pol_charge(struct pol_state *s, const struct pol_params *p,
			      u32 len, s64 now)
{
	s64 toks;

	if (len > p->mtu)
		return false;
	pol_lock(&s->lock);
	toks = min_t(s64, now - s->t_c, p->burst);
	toks += s->toks;
	if (toks > p->burst)
		toks = p->burst;
	toks -= (s64)pol_len_to_ns(&p->rate, len);
	if (toks >= 0) {
		s->t_c = now;
		s->toks = toks;
		s->ptoks = 0;
		s->pkttoks = 0;
		pol_unlock(&s->lock);
		return true;
	}
	pol_unlock(&s->lock);
	return false;
}

/* The vmpolice side: the header's buckets, laid out as the module's. */
struct vmp_was_b {
	struct vmp_rate		rate;
	s64			tau;
};

/* The configuration (the header's struct vmp_params is only a name). */
struct vmp_params {
	struct vmp_rate		rate;
	struct vmp_rate		queue_rate;
	struct vmp_framing	framing;
	s64			tau;		/* ns */
	s64			queue_tau;	/* ns */
	u32			mtu;
	/* as vmp_policer_apply() sets them */
	u32			gen;
	struct vmp_was_b	was_rate;
	struct vmp_was_b	was_queue;
};

/* As struct vmp_queue: the queue bucket, then its counters. */
struct vmp_queue_b {
	struct vmp_bucket	bucket;
	atomic64_t		packets;
	atomic64_t		conformed;
	atomic64_t		conformed_bytes;
	atomic64_t		exceeded;
	atomic64_t		exceeded_bytes;
} __aligned(BB_CACHELINE);

/* As struct vmp_policer: the parameters, the aggregate on its own line. */
struct vmp_policer_b {
	struct vmp_params __rcu	*params;
	struct vmp_bucket	rate __aligned(BB_CACHELINE);
	struct vmp_queue_b	queues[BB_MAX_THREADS];
};

/* As vmp_gen_init(): bucket @rate of @v as configuration @prm charges it. */
static inline void vmp_gen_init_b(struct vmp_gen *g,
				  const struct vmp_policer_b *v,
				  const struct vmp_params *prm,
				  const struct vmp_rate *rate,
				  const struct vmp_was_b *was)
{
	vmp_gen_set(g, &v->params, prm, prm->gen, rate, &was->rate, was->tau);
}

enum bb_variant {
	BB_CLOCK,	/* the clock read and the train: the floor */
	BB_VMP_AGG,	/* (a) the shared aggregate bucket only */
	BB_VMP_QAGG,	/* (b) own queue bucket + shared aggregate */
	BB_VMP_QAGG_CTR,	/* (b) + vmp_police()'s queue counters */
	BB_POLICE,	/* (c) one spinlock bucket */
	BB_VMP_Q,	/* (d) own queue bucket only, no aggregate rate */
	BB_VARIANTS
};

static const char * const bb_variant_name[BB_VARIANTS] = {
	[BB_CLOCK] = "floor: clock read and train, no bucket",
	[BB_VMP_AGG] = "(a) vmpolice, shared aggregate bucket",
	[BB_VMP_QAGG] = "(b) vmpolice, queue bucket + shared aggregate",
	[BB_VMP_QAGG_CTR] = "(b) + 3 atomic queue counters (today's vmp_police)",
	[BB_POLICE] = "(c) police model, one spinlock bucket",
	[BB_VMP_Q] = "(d) vmpolice, queue bucket only (queue-rate, no rate)",
};

enum bb_mode {
	BB_CONFORM,
	BB_SATURATED,
	BB_CONFORM_NOCLOCK,	/* the clock read once per BB_CLOCK_EVERY */
	BB_MODES
};

#define BB_CLOCK_EVERY	256

static const char * const bb_mode_name[BB_MODES] = {
	[BB_CONFORM] = "conform",
	[BB_SATURATED] = "saturated",
	[BB_CONFORM_NOCLOCK] = "conform, clock every 256 pkts",
};

/*
 * One packet through the vmpolice buckets; frames admitted.  As the
 * action and the qdisc do, the parameters' pointer is read first, then
 * vmp_police() reads the clock (into *@now, when @tick; otherwise *@now
 * is the last one read); with @clock, a refusal reads the clock again,
 * as vmp_refund() does.  A stale configuration (VMP_STALE: never during
 * a run, nothing changes it) starts the packet over, as VMP_RETRY does.
 */
static inline u32 vmp_charge_b(struct vmp_policer_b *v, struct vmp_queue_b *q,
			       bool per_queue, bool aggregate, bool counters,
			       u32 len, u64 *now, bool tick, bool clock)
{
	u64 qbase = 0, rbase = 0, later;
	struct vmp_cost qc = { 0 }, rc = { 0 };
	const struct vmp_params *prm;
	struct vmp_gen qg, rg;
	struct vmp_train t;
	u32 want, k;

again:
	prm = READ_ONCE(v->params);	/* rcu_dereference_bh() */
	if (tick)
		*now = bb_now();
	want = 0;
	k = 0;
	vmp_train_single(&t, len);
	if (likely(vmp_train_max_len(&t) <= prm->mtu)) {
		/*
		 * As vmp_take_all(): every bucket's configuration and cost,
		 * then the takes in turn.
		 */
		if (per_queue) {
			vmp_gen_init_b(&qg, v, prm, &prm->queue_rate,
				       &prm->was_queue);
			vmp_cost_bytes(&qc, &prm->queue_rate, &prm->framing,
				       &t);
		}
		if (aggregate) {
			vmp_gen_init_b(&rg, v, prm, &prm->rate,
				       &prm->was_rate);
			vmp_cost_bytes(&rc, &prm->rate, &prm->framing, &t);
		}
		k = t.segs;
		if (per_queue) {
			want = vmp_bucket_take(&q->bucket, &qg, prm->queue_tau,
					       0, &qc, k, *now, &qbase);
			/* nothing counted yet: start over */
			if (unlikely(want == VMP_STALE))
				goto again;
			k = want;
		}
		if (aggregate && k) {
			k = vmp_bucket_take(&v->rate, &rg, prm->tau, 0, &rc, k,
					    *now, &rbase);
			if (unlikely(k == VMP_STALE))
				goto again;
		}
	}
	if (counters)
		__atomic_fetch_add(&q->packets.counter, 1, __ATOMIC_RELAXED);
	if (k < t.segs) {
		/* as vmp_refund(): the clock again, after the refusal */
		later = clock ? bb_now() : *now;
		if (per_queue)
			vmp_bucket_refund(&q->bucket, &qg, &qc, qbase, want, k,
					  later);
		if (aggregate)
			vmp_bucket_refund(&v->rate, &rg, &rc, rbase, k, k,
					  later);
	}
	if (counters && k) {
		__atomic_fetch_add(&q->conformed.counter, k,
				   __ATOMIC_RELAXED);
		__atomic_fetch_add(&q->conformed_bytes.counter,
				   vmp_train_bytes(&t, k), __ATOMIC_RELAXED);
	}
	if (counters && k < t.segs) {
		__atomic_fetch_add(&q->exceeded.counter, t.segs - k,
				   __ATOMIC_RELAXED);
		__atomic_fetch_add(&q->exceeded_bytes.counter,
				   vmp_train_bytes(&t, t.segs) -
				   vmp_train_bytes(&t, k), __ATOMIC_RELAXED);
	}
	return k;
}

struct bb_run {
	enum bb_variant		variant;
	enum bb_mode		mode;
	unsigned int		threads;
	u64			iters;
	struct vmp_policer_b	*vmp;
	struct vmp_params	*vprm;
	struct pol_state	*pol;
	struct pol_params	*pprm;
	unsigned int		ready;
};

struct bb_thread {
	struct bb_run	*run;
	pthread_t	tid;
	unsigned int	index;
	int		cpu;
	u64		t0, t1;
	u64		conformed;
	u64		retries;
} __aligned(BB_CACHELINE);

static void *bb_thread_fn(void *arg)
{
	struct bb_thread *th = arg;
	struct bb_run *r = th->run;
	struct vmp_queue_b *q = &r->vmp->queues[th->index];
	bool clock = r->mode != BB_CONFORM_NOCLOCK;
	enum bb_variant variant = r->variant;
	u64 i, ok = 0, now = 0;
	struct vmp_train t;
	cpu_set_t set;
	bool tick;

	CPU_ZERO(&set);
	CPU_SET(th->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("sched_setaffinity");
		exit(1);
	}
	/* start together */
	__atomic_fetch_add(&r->ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&r->ready, __ATOMIC_ACQUIRE) < r->threads)
		bb_cpu_relax();
	kshim_cmpxchg_fails = 0;
	th->t0 = bb_now();
	for (i = 0; i < r->iters; i++) {
		tick = clock || !(i % BB_CLOCK_EVERY);
		switch (variant) {
		case BB_CLOCK:
			if (tick)
				now = bb_now();
			vmp_train_single(&t, BB_PKT_LEN);
			ok += vmp_train_max_len(&t) <= r->vprm->mtu;
			__asm__ __volatile__("" : : "r"(now) : "memory");
			break;
		/* vmpolice reads its parameters, then the clock */
		case BB_VMP_AGG:
			ok += vmp_charge_b(r->vmp, q, false, true, false,
					   BB_PKT_LEN, &now, tick, clock);
			break;
		case BB_VMP_QAGG:
			ok += vmp_charge_b(r->vmp, q, true, true, false,
					   BB_PKT_LEN, &now, tick, clock);
			break;
		case BB_VMP_QAGG_CTR:
			ok += vmp_charge_b(r->vmp, q, true, true, true,
					   BB_PKT_LEN, &now, tick, clock);
			break;
		case BB_VMP_Q:
			ok += vmp_charge_b(r->vmp, q, true, false, false,
					   BB_PKT_LEN, &now, tick, clock);
			break;
		case BB_POLICE:
			if (tick)
				now = bb_now();
			ok += pol_charge(r->pol, r->pprm, BB_PKT_LEN,
					 (s64)now);
			break;
		default:
			break;
		}
	}
	th->t1 = bb_now();
	th->conformed = ok;
	th->retries = kshim_cmpxchg_fails;
	return NULL;
}

struct bb_sample {
	double	ns_per_pkt;	/* per thread, mean over the threads */
	double	mpps;		/* all threads: packets / wall time */
	double	conform;	/* fraction of packets that conformed */
	double	retries;	/* lost cmpxchg races per packet */
};

static struct vmp_policer_b bb_vmp;
static struct pol_state bb_pol;

static void bb_setup(struct bb_run *r, struct vmp_params *vprm,
		     struct pol_params *pprm)
{
	bool slow = r->mode == BB_SATURATED;
	u64 rate = slow ? BB_SLOW_RATE : BB_FAST_RATE;
	u64 burst = slow ? BB_SLOW_BURST : BB_FAST_BURST;
	u64 now = bb_now();
	struct vmp_gen g;
	unsigned int i;

	memset(vprm, 0, sizeof(*vprm));
	vprm->framing.linklayer = VMP_LINKLAYER_ETHERNET;
	vprm->mtu = BB_MTU;
	vmp_rate_init(&vprm->rate, rate);
	vprm->tau = (s64)vmp_rate_ns(&vprm->rate, burst);
	/*
	 * Under an aggregate, the queue bucket never limits: when saturated,
	 * it takes and is refunded.  Alone (d), it is the one that limits.
	 */
	if (r->variant == BB_VMP_Q) {
		vmp_rate_init(&vprm->queue_rate, rate);
		vprm->queue_tau = (s64)vmp_rate_ns(&vprm->queue_rate, burst);
	} else {
		vmp_rate_init(&vprm->queue_rate, BB_FAST_RATE);
		vprm->queue_tau = (s64)vmp_rate_ns(&vprm->queue_rate,
						   BB_FAST_BURST);
	}

	memset(&bb_vmp, 0, sizeof(bb_vmp));
	vmp_bucket_reset(&bb_vmp.rate, now);
	for (i = 0; i < BB_MAX_THREADS; i++)
		vmp_bucket_reset(&bb_vmp.queues[i].bucket, now);
	/*
	 * As vmp_policer_apply() makes the first configuration: generation
	 * 1, nothing before it (was_*: no rate), published, then every
	 * bucket converted to it (full).  The packets then find every word
	 * of their generation.
	 */
	vprm->gen = 1;
	bb_vmp.params = vprm;
	vmp_gen_init_b(&g, &bb_vmp, vprm, &vprm->rate, &vprm->was_rate);
	vmp_bucket_rescale(&bb_vmp.rate, &g, vprm->tau, now);
	vmp_gen_init_b(&g, &bb_vmp, vprm, &vprm->queue_rate, &vprm->was_queue);
	for (i = 0; i < BB_MAX_THREADS; i++)
		vmp_bucket_rescale(&bb_vmp.queues[i].bucket, &g,
				   vprm->queue_tau, now);

	memset(pprm, 0, sizeof(*pprm));
	pol_ratecfg_init(&pprm->rate, rate);
	pprm->mtu = BB_MTU;
	pprm->burst = (s64)pol_len_to_ns(&pprm->rate, burst);
	memset(&bb_pol, 0, sizeof(bb_pol));
	bb_pol.toks = pprm->burst;
	bb_pol.t_c = (s64)now;

	r->vmp = &bb_vmp;
	r->vprm = vprm;
	r->pol = &bb_pol;
	r->pprm = pprm;
	r->ready = 0;
}

static void bb_run_one(enum bb_variant variant, enum bb_mode mode,
		       unsigned int threads, u64 iters, const int *cpus,
		       struct bb_sample *out)
{
	struct bb_thread th[BB_MAX_THREADS];
	struct vmp_params vprm;
	struct pol_params pprm;
	struct bb_run r = {
		.variant = variant,
		.mode = mode,
		.threads = threads,
		.iters = iters,
	};
	u64 t0 = ~0ULL, t1 = 0, ok = 0, retries = 0;
	double ns = 0;
	unsigned int i;
	int err;

	bb_setup(&r, &vprm, &pprm);
	memset(th, 0, sizeof(th));
	for (i = 0; i < threads; i++) {
		th[i].run = &r;
		th[i].index = i;
		th[i].cpu = cpus[i];
		err = pthread_create(&th[i].tid, NULL, bb_thread_fn, &th[i]);
		if (err) {
			fprintf(stderr, "pthread_create: %s\n", strerror(err));
			exit(1);
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(th[i].tid, NULL);
		t0 = min(t0, th[i].t0);
		t1 = max(t1, th[i].t1);
		ns += (double)(th[i].t1 - th[i].t0) / (double)iters;
		ok += th[i].conformed;
		retries += th[i].retries;
	}
	out->ns_per_pkt = ns / threads;
	out->mpps = (double)iters * threads * 1e3 / (double)(t1 - t0);
	out->conform = (double)ok / ((double)iters * threads);
	out->retries = (double)retries / ((double)iters * threads);
}

static int bb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define BB_CASES	(BB_VARIANTS * BB_MODES * BB_MAX_THREADS)

struct bb_stat {
	double	med, lo, hi;
};

static struct bb_stat bb_stats(const double *v, unsigned int n)
{
	double *s = malloc(n * sizeof(*s));
	struct bb_stat st;

	if (!s)
		exit(1);
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), bb_cmp_double);
	st.lo = s[0];
	st.hi = s[n - 1];
	st.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return st;
}

enum bb_field {
	BB_NS,
	BB_MPPS,
	BB_CONFORMED,
	BB_RETRIES,
};

static double bb_get(const struct bb_sample *s, enum bb_field f)
{
	switch (f) {
	case BB_NS:
		return s->ns_per_pkt;
	case BB_MPPS:
		return s->mpps;
	case BB_CONFORMED:
		return s->conform * 100;
	default:
		return s->retries;
	}
}

/* Index of a case in a repetition. */
static unsigned int bb_case(unsigned int v, unsigned int m, unsigned int t)
{
	return (v * BB_MODES + m) * BB_MAX_THREADS + t - 1;
}

/* Median and spread of one field of one case over the repetitions. */
static struct bb_stat bb_field_stat(const struct bb_sample *res,
				    unsigned int reps, unsigned int c,
				    enum bb_field f, double *tmp)
{
	unsigned int rep;

	for (rep = 0; rep < reps; rep++)
		tmp[rep] = bb_get(&res[rep * BB_CASES + c], f);
	return bb_stats(tmp, reps);
}

static void bb_cell(struct bb_stat st, int prec)
{
	printf(" %.*f (%.*f..%.*f) |", prec, st.med, prec, st.lo, prec, st.hi);
}

/* The markdown table: medians (min-max) over the repetitions. */
static void bb_report(const struct bb_sample *res, unsigned int reps,
		      double *a, double *b)
{
	unsigned int v, m, rep, c1, c2, f1;

	printf("| case | rates |");
	printf(" ns/pkt/thread, 1 thread |");
	printf(" same, minus the floor row |");
	printf(" ns/pkt/thread, 2 threads |");
	printf(" Mpps, 1 thread | Mpps, 2 threads |");
	printf(" 2 threads / 1 thread (Mpps) |");
	printf(" conformed %%, 1 / 2 threads |");
	printf(" lost cmpxchg per pkt, 2 threads |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (m = 0; m < BB_MODES; m++) {
		for (v = 0; v < BB_VARIANTS; v++) {
			c1 = bb_case(v, m, 1);
			c2 = bb_case(v, m, 2);
			f1 = bb_case(BB_CLOCK, m, 1);
			printf("| %s | %s |", bb_variant_name[v],
			       bb_mode_name[m]);
			bb_cell(bb_field_stat(res, reps, c1, BB_NS, a), 1);
			/* paired with the floor of the same repetition */
			for (rep = 0; rep < reps; rep++)
				b[rep] = res[rep * BB_CASES + c1].ns_per_pkt -
					 res[rep * BB_CASES + f1].ns_per_pkt;
			bb_cell(bb_stats(b, reps), 1);
			bb_cell(bb_field_stat(res, reps, c2, BB_NS, a), 1);
			bb_cell(bb_field_stat(res, reps, c1, BB_MPPS, a), 1);
			bb_cell(bb_field_stat(res, reps, c2, BB_MPPS, a), 1);
			/* paired: both thread counts of the same repetition */
			for (rep = 0; rep < reps; rep++)
				b[rep] = res[rep * BB_CASES + c2].mpps /
					 res[rep * BB_CASES + c1].mpps;
			bb_cell(bb_stats(b, reps), 2);
			printf(" %.1f / %.1f |",
			       bb_field_stat(res, reps, c1, BB_CONFORMED, a).med,
			       bb_field_stat(res, reps, c2, BB_CONFORMED, a).med);
			printf(" %.3f |\n",
			       bb_field_stat(res, reps, c2, BB_RETRIES, a).med);
		}
	}
}

/* The goals of issue 13, item (2), read from the medians. */
static void bb_verdict(const struct bb_sample *res, unsigned int reps,
		       double *a, double *b)
{
	static const enum bb_variant vmp[] = { BB_VMP_AGG, BB_VMP_QAGG,
					       BB_VMP_QAGG_CTR };
	unsigned int m, i, rep, c1, c2;
	struct bb_stat p, x;

	printf("\nGoals (issue 13), from the medians above:\n\n");
	for (m = 0; m < BB_MODES; m++) {
		p = bb_field_stat(res, reps, bb_case(BB_POLICE, m, 1), BB_NS,
				  a);
		for (i = 0; i < ARRAY_SIZE(vmp); i++) {
			x = bb_field_stat(res, reps, bb_case(vmp[i], m, 1),
					  BB_NS, a);
			printf("- %s, 1 thread, %s: %.1f ns against police's %.1f: %s\n",
			       bb_mode_name[m], bb_variant_name[vmp[i]],
			       x.med, p.med,
			       x.med <= p.med ? "at most police's (met)" :
			       "more than police's (NOT met)");
		}
		for (i = 0; i < BB_VARIANTS; i++) {
			c1 = bb_case(i, m, 1);
			c2 = bb_case(i, m, 2);
			for (rep = 0; rep < reps; rep++)
				b[rep] = res[rep * BB_CASES + c2].mpps /
					 res[rep * BB_CASES + c1].mpps;
			x = bb_stats(b, reps);
			printf("- %s, 2 threads / 1 thread, %s: %.2f%s\n",
			       bb_mode_name[m], bb_variant_name[i], x.med,
			       i == BB_POLICE ? "" :
			       i == BB_CLOCK ? " (the host's own ratio)" :
			       x.med >= 1.8 ? " (>= 1.8: met)" :
			       " (< 1.8: NOT met)");
		}
	}
}

static void bb_usage(const char *me)
{
	fprintf(stderr, "usage: %s [-n repetitions] [-i packets] %s\n", me,
		"[-c cpu0,cpu1] [-r raw.tsv]");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int reps = 9, rep, c, n, v, m, i;
	int cpus[BB_MAX_THREADS] = { 0, 1 };
	u64 iters = 10000000;
	struct bb_sample *res;
	const char *raw = NULL;
	FILE *rawf = NULL;
	double *a, *b;
	int opt;

	while ((opt = getopt(argc, argv, "n:i:c:r:")) != -1) {
		switch (opt) {
		case 'n':
			reps = strtoul(optarg, NULL, 0);
			break;
		case 'i':
			iters = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &cpus[0], &cpus[1]) != 2)
				bb_usage(argv[0]);
			break;
		case 'r':
			raw = optarg;
			break;
		default:
			bb_usage(argv[0]);
		}
	}
	if (!reps || !iters || cpus[0] == cpus[1])
		bb_usage(argv[0]);
	if (raw) {
		rawf = fopen(raw, "w");
		if (!rawf) {
			perror(raw);
			return 1;
		}
		fputs("rep\tvariant\tmode\tthreads\tns_per_pkt_thread", rawf);
		fputs("\tmpps\tconform\tretries_per_pkt\n", rawf);
	}
	res = calloc((size_t)reps * BB_CASES, sizeof(*res));
	a = calloc(reps, sizeof(*a));
	b = calloc(reps, sizeof(*b));
	if (!res || !a || !b)
		return 1;

	/* warm up every case once, untimed */
	for (c = 0; c < BB_CASES; c++) {
		struct bb_sample s;

		bb_run_one(c / (BB_MODES * BB_MAX_THREADS),
			   c / BB_MAX_THREADS % BB_MODES,
			   c % BB_MAX_THREADS + 1, iters / 10 + 1, cpus, &s);
	}
	for (rep = 0; rep < reps; rep++) {
		for (n = 0; n < BB_CASES; n++) {
			/* a different case first in every repetition */
			c = (n + rep * 7) % BB_CASES;
			v = c / (BB_MODES * BB_MAX_THREADS);
			m = c / BB_MAX_THREADS % BB_MODES;
			i = c % BB_MAX_THREADS + 1;
			bb_run_one(v, m, i, iters, cpus,
				   &res[rep * BB_CASES + c]);
			if (rawf)
				fprintf(rawf, "%u\t%s\t%s\t%u\t%.3f\t%.3f\t%.6f\t%.6f\n",
					rep, bb_variant_name[v],
					bb_mode_name[m], i,
					res[rep * BB_CASES + c].ns_per_pkt,
					res[rep * BB_CASES + c].mpps,
					res[rep * BB_CASES + c].conform,
					res[rep * BB_CASES + c].retries);
		}
		fprintf(stderr, "repetition %u of %u done\n", rep + 1, reps);
	}
	if (rawf)
		fclose(rawf);

	bb_report(res, reps, a, b);
	bb_verdict(res, reps, a, b);
	free(res);
	free(a);
	free(b);
	return 0;
}
