/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmpolice core: what the action and the qdisc share.  Neither keeps a
 * copy of any of it: configuration, charging, buckets, per-queue state
 * and their netlink form all live here.
 */
#ifndef _VMPOLICE_CORE_H
#define _VMPOLICE_CORE_H

#include <linux/atomic.h>
#include <linux/math64.h>
#include <linux/netlink.h>
#include <linux/refcount.h>
#include <linux/skbuff.h>
#include <net/netlink.h>
#include <uapi/linux/tc_vmpolice.h>

#include "vmpolice_bucket.h"

#define VMP_DEFAULT_BURST	(64 * 1024U)

/* A bucket's rate and depth in the configuration before (for converting). */
struct vmp_was {
	struct vmp_rate		rate;
	s64			tau;
};

/*
 * Configuration: immutable once published, replaced as a whole (RCU).
 * From a cache of its own (vmp_params_alloc()), cache-line aligned: what
 * every packet reads comes first and fills exactly the first two lines
 * (rates, framing, mtu, depths, latency, generation, exceed verdict);
 * the rest is read by the action after policing (conform), by held
 * packets (ecn), by dumps (the bursts in units) and by conversions after
 * a change (was_*).  280 bytes, 320 with the alignment: see the
 * Documentation's "Memory".
 */
struct vmp_params {
	struct vmp_rate		rate;
	struct vmp_rate		peak;
	struct vmp_rate		pkt_rate;
	struct vmp_rate		queue_rate;
	struct vmp_framing	framing;
	u32			mtu;
	s64			burst_ns;
	s64			peak_burst_ns;
	s64			pkt_burst_ns;
	s64			queue_burst_ns;
	/* holding: 0 is a pure policer; see vmp_police() */
	u64			latency_ns;	/* delay budget */
	/*
	 * Set by vmp_policer_apply(): the generation (struct vmp_gen) and,
	 * below, each bucket as the configuration before had it.
	 */
	u32			gen;
	/*
	 * Action only: the verdicts (TC_ACT_*), both here so that a packet
	 * sees the two of one configuration (exceed is also the action's
	 * tcf_action, which tc dumps and goto chain needs).
	 */
	int			exceed;
	int			conform;
	bool			ecn;
	u64			ecn_thresh_ns;	/* held longer: CE (ecn) */
	u64			burst;		/* bytes */
	u64			pkt_burst;
	u64			queue_burst;	/* bytes */
	struct vmp_was		was_rate;
	struct vmp_was		was_peak;
	struct vmp_was		was_pkt;
	struct vmp_was		was_queue;
	struct rcu_head		rcu;
} ____cacheline_aligned_in_smp;

struct vmp_hold;

/* One queue's share of the state: cache lines of its own, for its CPU. */
struct vmp_queue {
	struct vmp_bucket	bucket;		/* queue-rate */
	atomic64_t		packets;
	atomic64_t		conformed;
	atomic64_t		conformed_bytes;
	atomic64_t		exceeded;
	atomic64_t		exceeded_bytes;
	atomic64_t		partial;
	atomic64_t		malformed;
	atomic64_t		dodgy;
	/* only touched when holding (latency > 0) */
	atomic64_t		held;
	atomic64_t		held_bytes;
	atomic64_t		released;
	atomic64_t		overlimit;
	atomic64_t		flushed;
	atomic64_t		ce_marked;
	atomic64_t		max_hold_ns;
	struct vmp_hold		*hold;		/* action's held packets */
} ____cacheline_aligned_in_smp;

/*
 * Per-queue state comes in chunks of VMP_CHUNK_QUEUES queues, made the
 * first time a packet of one of them is policed: a one-queue tap pays for
 * one chunk, a 256-queue one for what its queues use.  Four queues of
 * three cache lines each (768 bytes) from a cache of their own; see
 * Documentation, "Memory", for why not kmalloc and why not eight.
 */
#define VMP_CHUNK_QUEUES	4
#define VMP_CHUNKS		(VMPOLICE_MAX_QUEUES / VMP_CHUNK_QUEUES)

struct vmp_chunk {
	struct vmp_queue	q[VMP_CHUNK_QUEUES];
};

/*
 * The policer proper.  The aggregate buckets are shared by every queue
 * and updated with cmpxchg only; nothing on the packet path locks.
 *
 * Layout: what every packet reads but does not write (the parameters,
 * the chunk table) comes first, apart from the line every packet of every
 * queue writes (the aggregate buckets, the hold byte count), so that the
 * table is not invalidated in every CPU's cache by each charge.  The
 * fallback queue has lines of its own (struct vmp_queue is aligned).
 */
struct vmp_policer {
	struct vmp_params __rcu	*params;
	/* NULL until used; set once (cmpxchg), freed with the policer */
	struct vmp_chunk	*chunks[VMP_CHUNKS];
	refcount_t		refcnt;
	bool			dying;		/* action: no more holding */
	struct list_head	hold_node;	/* action: on vmp_hold_list */
	struct rcu_head		rcu;

	struct vmp_bucket	rate ____cacheline_aligned_in_smp;
	struct vmp_bucket	peak;
	struct vmp_bucket	pkt;
	atomic64_t		hold_bytes;	/* action: wire bytes held now */
	atomic_t		hold_queues;	/* action: queues that held */

	/*
	 * Charged and counted in place of a queue whose chunk could not be
	 * allocated (GFP_ATOMIC on the packet path): its queue-rate bucket
	 * is shared by all such queues, so while memory is short a packet
	 * is charged at least what its own queue's bucket would have (see
	 * the Documentation's "Memory" for the moment its chunk comes).
	 */
	struct vmp_queue	fallback;
};

/* The fallback's number in vmp_for_each_slot(): after every queue. */
#define VMP_FALLBACK		VMPOLICE_MAX_QUEUES

/* Where vmp_for_each_queue() and vmp_for_each_slot() are. */
struct vmp_queue_iter {
	struct vmp_policer	*p;
	u32			*i;		/* the caller's queue number */
	u32			next;		/* first queue not seen yet */
	bool			fallback;	/* the fallback at the end */
};

struct vmp_queue *vmp_policer_next(struct vmp_queue_iter *it);

/* Every queue that has state, @i its number (what dumps list). */
#define vmp_for_each_queue(p, i, q) \
	for (struct vmp_queue_iter __vmp_it = { (p), &(i), 0, false }; \
	     ((q) = vmp_policer_next(&__vmp_it));)

/* The same, then the fallback (@i VMP_FALLBACK): totals, changes, free. */
#define vmp_for_each_slot(p, i, q) \
	for (struct vmp_queue_iter __vmp_it = { (p), &(i), 0, true }; \
	     ((q) = vmp_policer_next(&__vmp_it));)

/* What became of a packet. */
enum vmp_verdict {
	VMP_CONFORM,		/* every frame admitted */
	VMP_PARTIAL,		/* cut to its admitted leading frames */
	VMP_EXCEED,		/* nothing admitted */
	VMP_MALFORMED,		/* impossible GSO metadata: drop */
	VMP_RETRY,		/* the parameters changed: read them, again */
};

extern const struct nla_policy vmp_policy[TCA_VMPOLICE_MAX + 1];

int vmp_core_init(void);
void vmp_core_exit(void);
struct vmp_policer *vmp_policer_alloc(void);
struct vmp_params *vmp_params_alloc(void);
void vmp_params_free(struct vmp_params *prm);
size_t vmp_policer_memory(struct vmp_policer *p);
void vmp_policer_get(struct vmp_policer *p);
void vmp_policer_put(struct vmp_policer *p);

int vmp_params_parse(struct nlattr **tb, bool action,
		     struct vmp_params **newp, struct netlink_ext_ack *extack);
void vmp_policer_apply(struct vmp_policer *p, struct vmp_params *newp);
void vmp_policer_unreserve(struct vmp_policer *p, bool some_held);
bool vmp_policer_holds(struct vmp_policer *p);

/* What the caller of vmp_police() can do with a packet. */
#define VMP_MAY_CUT	BIT(0)	/* drop a GSO packet's tail: exceed drops */
#define VMP_MAY_HOLD	BIT(1)	/* send it later: latency applies */

enum vmp_verdict vmp_police(struct vmp_policer *p,
			    const struct vmp_params *prm,
			    struct sk_buff *skb, const struct vmp_train *train,
			    u32 queue, unsigned int flags,
			    u64 *release, struct vmp_queue **qp);

bool vmp_skb_train(const struct sk_buff *skb, struct vmp_train *t);
int vmp_skb_cut(struct sk_buff *skb, const struct vmp_train *t, u32 keep);

/*
 * The train vmp_police() charges for @skb: vmp_skb_train(), or 0 frames
 * when @skb cannot be described (malformed).  Once per packet: the
 * headers are parsed here only.
 */
static inline void vmp_police_train(const struct sk_buff *skb,
				    struct vmp_train *t)
{
	if (unlikely(!vmp_skb_train(skb, t)))
		t->segs = 0;
}

void vmp_queue_read(struct vmp_queue *q, struct tc_vmpolice_stats *st);
void vmp_policer_totals(struct vmp_policer *p, struct tc_vmpolice_stats *st);
struct vmp_queue *vmp_policer_queue(struct vmp_policer *p, u32 queue);
struct vmp_queue *vmp_policer_queue_get(struct vmp_policer *p, u32 queue,
					u32 gen, u64 now);
#if IS_ENABLED(CONFIG_KUNIT)
extern bool vmp_test_chunk_nomem;
#endif

u32 vmp_skb_wire_len(const struct sk_buff *skb);
void vmp_count_held(struct vmp_queue *q, u32 bytes);
void vmp_count_refused(struct vmp_queue *q, const struct sk_buff *skb);

/*
 * The action's hold queues (vmpolice_hold.c).  @q is the queue
 * vmp_police() charged the packet on (its *@qp).
 */
bool vmp_hold_busy(struct vmp_queue *q);
int vmp_hold_skb(struct vmp_policer *p, const struct vmp_params *prm,
		 struct vmp_queue *q, struct sk_buff *skb, u64 release);
unsigned int vmp_hold_flush(struct vmp_policer *p,
			    const struct net_device *dev, u64 deadline);
void vmp_hold_register(struct vmp_policer *p);
void vmp_hold_unregister(struct vmp_policer *p);
void vmp_hold_free(struct vmp_queue *q);
void vmp_hold_backlog(struct vmp_queue *q, u64 *packets, u64 *bytes);
int vmp_hold_init(void);
void vmp_hold_exit(void);

int vmp_params_dump(struct sk_buff *skb, const struct vmp_params *prm);
int vmp_stats_dump(struct sk_buff *skb, struct vmp_policer *p,
		   void (*backlog)(void *ctx, int queue,
				   struct tc_vmpolice_stats *st),
		   void *ctx);
size_t vmp_dump_size(void);
size_t vmp_queue_entry_size(void);
int vmp_queue_put(struct sk_buff *skb, u32 queue,
		  const struct tc_vmpolice_stats *st);
int vmp_queues_put_from(struct sk_buff *skb, struct vmp_policer *p,
			void (*backlog)(void *ctx, int queue,
					struct tc_vmpolice_stats *st),
			void *ctx, u32 *next);
u32 vmp_policer_active(struct vmp_policer *p);

#endif /* _VMPOLICE_CORE_H */
