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

/* Configuration: immutable once published, replaced as a whole (RCU). */
struct vmp_params {
	struct vmp_rate		rate;
	struct vmp_rate		peak;
	struct vmp_rate		pkt_rate;
	struct vmp_rate		queue_rate;
	struct vmp_framing	framing;
	s64			burst_ns;
	s64			peak_burst_ns;
	s64			pkt_burst_ns;
	s64			queue_burst_ns;
	u32			burst;
	u32			mtu;
	u64			pkt_burst;
	u32			queue_burst;
	int			conform;	/* action only: TC_ACT_* */
	struct rcu_head		rcu;
};

/* One queue's share of the state: a cache line, touched by its CPU. */
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
} ____cacheline_aligned_in_smp;

/*
 * The policer proper.  The aggregate buckets are shared by every queue
 * and updated with cmpxchg only; nothing on the packet path locks.
 */
struct vmp_policer {
	struct vmp_params __rcu	*params;
	struct vmp_bucket	rate ____cacheline_aligned_in_smp;
	struct vmp_bucket	peak;
	struct vmp_bucket	pkt;
	struct vmp_queue	*queues;	/* VMPOLICE_MAX_QUEUES */
	refcount_t		refcnt;
	struct rcu_head		rcu;
};

/* What became of a packet. */
enum vmp_verdict {
	VMP_CONFORM,		/* every frame admitted */
	VMP_PARTIAL,		/* cut to its admitted leading frames */
	VMP_EXCEED,		/* nothing admitted */
	VMP_MALFORMED,		/* impossible GSO metadata: drop */
};

extern const struct nla_policy vmp_policy[TCA_VMPOLICE_MAX + 1];

struct vmp_policer *vmp_policer_alloc(void);
void vmp_policer_get(struct vmp_policer *p);
void vmp_policer_put(struct vmp_policer *p);

int vmp_params_parse(struct nlattr **tb, bool action,
		     struct vmp_params **newp, struct netlink_ext_ack *extack);
void vmp_policer_apply(struct vmp_policer *p, struct vmp_params *newp);

enum vmp_verdict vmp_police(struct vmp_policer *p,
			    const struct vmp_params *prm,
			    struct sk_buff *skb, u32 queue, bool may_cut);

bool vmp_skb_train(const struct sk_buff *skb, struct vmp_train *t);
int vmp_skb_cut(struct sk_buff *skb, const struct vmp_train *t, u32 keep);

void vmp_queue_read(struct vmp_queue *q, struct tc_vmpolice_stats *st);
void vmp_policer_totals(struct vmp_policer *p, struct tc_vmpolice_stats *st);
struct vmp_queue *vmp_policer_queue(struct vmp_policer *p, u32 queue);

int vmp_params_dump(struct sk_buff *skb, const struct vmp_params *prm);
int vmp_stats_dump(struct sk_buff *skb, struct vmp_policer *p);
size_t vmp_dump_size(void);

#endif /* _VMPOLICE_CORE_H */
