// SPDX-License-Identifier: GPL-2.0
/*
 * sch_vmpolice: the guest-aware policer as a qdisc.
 *
 * Same options and accounting as the vmpolice action (one core, see
 * vmpolice_core.c), at a device's egress: the direction a guest's inbound
 * traffic takes out of its tap.  Packets that conform go on to a child
 * queue (a pfifo of the device's txqueuelen by default); packets that
 * exceed are dropped at enqueue and counted.  A GSO packet that partly
 * conforms is cut to its conforming head.  A qdisc has no conform/exceed
 * choice: what exceeds is dropped.
 *
 * Two forms:
 *
 * - single: one instance polices everything the device (or the parent
 *   class it sits under) sends; class :1 is its child.
 *
 * - multiqueue: at the root of a device with several TX queues it works
 *   like mq.  Each TX queue gets a leaf of its own, with its own qdisc
 *   lock and child; all leaves police against the one shared policer,
 *   whose buckets need no lock, plus their queue's own queue-rate.  No
 *   lock is shared between queues.  Class X:N is TX queue N-1: its stats
 *   are that queue's, and grafting onto it replaces the leaf's child, so
 *   the queue stays policed:
 *
 *                       vmpolice X: (root, shared policer)
 *                     /          |            \
 *          leaf (txq 0)     leaf (txq 1)  ...  leaf (txq N-1)
 *          class X:1        class X:2          class X:N
 *              |                |                  |
 *            child            child              child
 */

#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/netlink.h>
#include <net/pkt_sched.h>
#include <net/sch_generic.h>

#include "vmpolice_core.h"
#include "vmpolice_main.h"

struct vmp_sched {
	struct vmp_policer	*pol;
	struct Qdisc		*child;		/* single form and leaves */
	struct Qdisc		**leaves;	/* multiqueue root, to attach */
	/* shaping (latency): packets not due yet, in arrival order */
	struct sk_buff_head	held;
	u32			held_bytes;
	struct qdisc_watchdog	watchdog;
	u32			queue;		/* leaf: its TX queue */
	bool			mq;		/* multiqueue root */
	bool			leaf;
};

static struct Qdisc_ops vmp_leaf_ops;

static u32 vmp_sch_queue(const struct vmp_sched *q, const struct sk_buff *skb)
{
	return q->leaf ? q->queue : skb_get_queue_mapping(skb);
}

/*
 * Shaping (latency > 0).  A packet that conforms only later waits in our
 * own queue (q->held), where its release time travels in the qdisc's
 * private control block; it is handed to the child once due, so the
 * child (any qdisc, also one that segments GSO packets) only ever sees
 * packets that may leave.  A packet that arrives while others wait queues
 * behind them: release order is arrival order.
 */
struct vmp_sch_cb {
	u64			release;	/* ns; 0: due already */
	struct vmp_queue	*q;		/* charged on (vmp_police()) */
};

static struct vmp_sch_cb *vmp_sch_cb(struct sk_buff *skb)
{
	qdisc_cb_private_validate(skb, sizeof(struct vmp_sch_cb));
	return (struct vmp_sch_cb *)qdisc_skb_cb(skb)->data;
}

/* Move what is due to the child; wake up when the next one is. */
static void vmp_sch_release_due(struct Qdisc *sch)
{
	struct vmp_sched *q = qdisc_priv(sch);
	unsigned int dropped = 0, dropped_len = 0, len;
	struct sk_buff *skb, *to_free = NULL;
	u64 now = ktime_get_ns(), release;
	struct vmp_queue *vq;

	while ((skb = skb_peek(&q->held))) {
		release = vmp_sch_cb(skb)->release;
		if (release && (s64)(release - now) > 0) {
			qdisc_watchdog_schedule_ns(&q->watchdog, release);
			break;
		}
		__skb_unlink(skb, &q->held);
		len = qdisc_pkt_len(skb);
		q->held_bytes -= len;
		vq = vmp_sch_cb(skb)->q;
		if (qdisc_enqueue(skb, q->child, &to_free) == NET_XMIT_SUCCESS) {
			atomic64_inc(&vq->released);
			continue;
		}
		/* the child did not take it: it is gone */
		atomic64_inc(&vq->flushed);
		qdisc_qstats_drop(sch);
		sch->q.qlen--;
		sch->qstats.backlog -= len;
		dropped++;
		dropped_len += len;
	}
	if (dropped)
		qdisc_tree_reduce_backlog(sch, dropped, dropped_len);
	kfree_skb_list(to_free);
}

/*
 * Drop held packets due after @deadline (ns; 0: all of them), counted as
 * flushed.  Caller holds the qdisc's lock.  Returns packets dropped and,
 * in *@bytes, their length, for the caller to tell the parents.
 */
static unsigned int vmp_sch_flush(struct Qdisc *sch, u64 deadline,
				  unsigned int *bytes)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct sk_buff *skb, *tmp;
	unsigned int n = 0, len;

	*bytes = 0;
	skb_queue_walk_safe(&q->held, skb, tmp) {
		if (deadline &&
		    (s64)(vmp_sch_cb(skb)->release - deadline) <= 0)
			continue;
		__skb_unlink(skb, &q->held);
		len = qdisc_pkt_len(skb);
		q->held_bytes -= len;
		atomic64_inc(&vmp_sch_cb(skb)->q->flushed);
		qdisc_qstats_drop(sch);
		sch->q.qlen--;
		sch->qstats.backlog -= len;
		*bytes += len;
		n++;
		kfree_skb_reason(skb, SKB_DROP_REASON_QDISC_DROP);
	}
	return n;
}

static int vmp_sch_enqueue(struct sk_buff *skb, struct Qdisc *sch,
			   struct sk_buff **to_free)
{
	struct vmp_sched *q = qdisc_priv(sch);
	const struct vmp_params *prm;
	unsigned int len = qdisc_pkt_len(skb);
	struct vmp_queue *vq;
	struct vmp_train t;
	unsigned int flags;
	int cut = 0;
	u64 release;
	int ret;

	vmp_police_train(skb, &t);
again:
	prm = rcu_dereference_bh(q->pol->params);
	flags = VMP_MAY_CUT;
	if (unlikely(prm->latency_ns))
		flags |= VMP_MAY_HOLD;
	switch (vmp_police(q->pol, prm, skb, &t, vmp_sch_queue(q, skb), flags,
			   &release, &vq)) {
	case VMP_CONFORM:
		break;
	case VMP_PARTIAL:
		qdisc_qstats_overlimit(sch);
		/*
		 * Cut: pkt_len and pkt_segs are the cut packet's now
		 * (vmp_skb_cut()).  Our ancestors took the old length
		 * before calling us and add it to their backlog when we
		 * return; at dequeue they take off and count the new one.
		 * The difference comes off their backlog now, as
		 * tbf_segment() does for its segments.
		 */
		if (sch->parent != TC_H_ROOT && !(sch->flags & TCQ_F_NOPARENT))
			cut = (int)(len - qdisc_pkt_len(skb));
		break;
	case VMP_EXCEED:
		qdisc_qstats_overlimit(sch);
		return qdisc_drop(skb, sch, to_free);
	case VMP_MALFORMED:
		return qdisc_drop(skb, sch, to_free);
	case VMP_RETRY:
		/* changed under it: police it with the new parameters */
		goto again;
	}

	len = qdisc_pkt_len(skb);
	if (unlikely(release || !skb_queue_empty(&q->held))) {
		/* released or flushed on the queue it was charged on */
		vmp_sch_cb(skb)->release = release;
		vmp_sch_cb(skb)->q = vq;
		__skb_queue_tail(&q->held, skb);
		q->held_bytes += len;
		vmp_count_held(vq, len);
		goto queued;
	}
	ret = qdisc_enqueue(skb, q->child, to_free);
	if (ret != NET_XMIT_SUCCESS) {
		if (net_xmit_drop_count(ret))
			qdisc_qstats_drop(sch);
		return ret;
	}
queued:
	sch->qstats.backlog += len;
	sch->q.qlen++;
	/* after our qlen grew: an ancestor must not think us empty */
	if (unlikely(cut))
		qdisc_tree_reduce_backlog(sch, 0, cut);
	return NET_XMIT_SUCCESS;
}

static struct sk_buff *vmp_sch_dequeue(struct Qdisc *sch)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct sk_buff *skb;

	if (unlikely(!skb_queue_empty(&q->held)))
		vmp_sch_release_due(sch);
	skb = qdisc_dequeue_peeked(q->child);
	if (!skb)
		return NULL;
	qdisc_qstats_backlog_dec(sch, skb);
	qdisc_bstats_update(sch, skb);
	sch->q.qlen--;
	return skb;
}

static struct sk_buff *vmp_sch_peek(struct Qdisc *sch)
{
	struct vmp_sched *q = qdisc_priv(sch);

	if (unlikely(!skb_queue_empty(&q->held)))
		vmp_sch_release_due(sch);
	return q->child->ops->peek(q->child);
}

static void vmp_sch_reset(struct Qdisc *sch)
{
	struct vmp_sched *q = qdisc_priv(sch);
	unsigned int bytes;

	qdisc_watchdog_cancel(&q->watchdog);
	/* a leaf's siblings may still hold, within the latency */
	if (vmp_sch_flush(sch, 0, &bytes))
		vmp_policer_unreserve(q->pol,
				      q->leaf && vmp_policer_holds(q->pol));
	if (q->child)
		qdisc_reset(q->child);
}

/*
 * A leaf's child may have been grafted through the root's class, so its
 * drops do not reach the leaf (it has no parent to tell): the leaf's
 * queue length is read back from the child (plus what it holds) instead.
 */
static void vmp_leaf_sync(struct Qdisc *sch)
{
	struct vmp_sched *q = qdisc_priv(sch);
	u32 qlen, backlog;

	spin_lock_bh(qdisc_lock(sch));
	qdisc_qstats_qlen_backlog(q->child, &qlen, &backlog);
	sch->q.qlen = qlen + skb_queue_len(&q->held);
	sch->qstats.backlog = backlog + q->held_bytes;
	spin_unlock_bh(qdisc_lock(sch));
}

static int vmp_sch_parse(struct nlattr *opt, struct vmp_params **prm,
			 struct netlink_ext_ack *extack)
{
	struct nlattr *tb[TCA_VMPOLICE_MAX + 1];
	int err;

	if (!opt) {
		NL_SET_ERR_MSG_MOD(extack,
				   "vmpolice needs options: rate or pkts_rate");
		return -EINVAL;
	}
	err = nla_parse_nested(tb, TCA_VMPOLICE_MAX, opt, vmp_policy, extack);
	if (err < 0)
		return err;
	return vmp_params_parse(tb, false, prm, extack);
}

static struct Qdisc *vmp_mq_leaf(struct Qdisc *sch, unsigned long cl);

/*
 * Each leaf drops, under its own lock, what is held past @deadline.
 * Returns how many packets were dropped.
 */
static unsigned int vmp_mq_flush(struct Qdisc *sch, u64 deadline)
{
	struct net_device *dev = qdisc_dev(sch);
	unsigned int i, bytes, n = 0;
	struct Qdisc *leaf;

	for (i = 0; i < dev->num_tx_queues; i++) {
		leaf = vmp_mq_leaf(sch, i + 1);
		if (!leaf)
			continue;
		spin_lock_bh(qdisc_lock(leaf));
		n += vmp_sch_flush(leaf, deadline, &bytes);
		spin_unlock_bh(qdisc_lock(leaf));
	}
	return n;
}

static int vmp_sch_change(struct Qdisc *sch, struct nlattr *opt,
			  struct netlink_ext_ack *extack)
{
	struct vmp_sched *q = qdisc_priv(sch);
	unsigned int n = 0, bytes;
	struct vmp_params *prm;
	u64 deadline;
	int err;

	err = vmp_sch_parse(opt, &prm, extack);
	if (err)
		return err;
	deadline = ktime_get_ns() + prm->latency_ns;
	sch_tree_lock(sch);
	vmp_policer_apply(q->pol, prm);
	/*
	 * a shorter latency drops what would now wait too long, and the
	 * buckets give back the time reserved for it
	 */
	if (!q->mq) {
		n = vmp_sch_flush(sch, deadline, &bytes);
		qdisc_tree_reduce_backlog(sch, n, bytes);
	}
	sch_tree_unlock(sch);
	if (q->mq)
		n = vmp_mq_flush(sch, deadline);
	if (n)
		vmp_policer_unreserve(q->pol, true);
	return 0;
}

static struct Qdisc *vmp_child_create(struct Qdisc *sch,
				      struct netlink_ext_ack *extack)
{
	u32 limit = max_t(u32, qdisc_dev(sch)->tx_queue_len, 1);

	return fifo_create_dflt(sch, &pfifo_qdisc_ops, limit, extack);
}

/* One leaf per TX queue, all grafted at attach, so attach cannot fail. */
static int vmp_mq_init(struct Qdisc *sch, struct netlink_ext_ack *extack)
{
	struct net_device *dev = qdisc_dev(sch);
	struct vmp_sched *q = qdisc_priv(sch);
	struct vmp_sched *lq;
	struct Qdisc *leaf;
	unsigned int i;

	q->leaves = kcalloc(dev->num_tx_queues, sizeof(*q->leaves),
			    GFP_KERNEL);
	if (!q->leaves)
		return -ENOMEM;
	for (i = 0; i < dev->num_tx_queues; i++) {
		leaf = qdisc_create_dflt(netdev_get_tx_queue(dev, i),
					 &vmp_leaf_ops,
					 TC_H_MAKE(TC_H_MAJ(sch->handle),
						   TC_H_MIN(i + 1)), extack);
		if (!leaf)
			return -ENOMEM;
		lq = qdisc_priv(leaf);
		lq->queue = i;
		lq->pol = q->pol;
		vmp_policer_get(q->pol);
		leaf->flags |= TCQ_F_ONETXQUEUE | TCQ_F_NOPARENT;
		q->leaves[i] = leaf;
	}
	q->mq = true;
	sch->flags |= TCQ_F_MQROOT;
	return 0;
}

static int vmp_sch_init(struct Qdisc *sch, struct nlattr *opt,
			struct netlink_ext_ack *extack)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct vmp_params *prm;
	int err;

	/* destroy() runs after a failed init: leave nothing half set */
	q->child = &noop_qdisc;
	__skb_queue_head_init(&q->held);
	qdisc_watchdog_init(&q->watchdog, sch);
	err = vmp_sch_parse(opt, &prm, extack);
	if (err)
		return err;

	q->pol = vmp_policer_alloc();
	if (!q->pol) {
		err = -ENOMEM;
		goto err_free_params;
	}
	vmp_policer_apply(q->pol, prm);

	if (sch->parent == TC_H_ROOT && netif_is_multiqueue(qdisc_dev(sch)))
		return vmp_mq_init(sch, extack);

	q->child = vmp_child_create(sch, extack);
	if (IS_ERR(q->child)) {
		err = PTR_ERR(q->child);
		q->child = &noop_qdisc;
		return err;
	}
	qdisc_hash_add(q->child, true);
	return 0;

err_free_params:
	vmp_params_free(prm);
	return err;
}

/*
 * At the root, qdisc_graft() leaves grafting onto the TX queues to us
 * because we have an attach() (which the multiqueue form needs).  The
 * single form takes every queue itself, one reference each, as the
 * default grafting would.
 */
static void vmp_sch_attach(struct Qdisc *sch)
{
	struct net_device *dev = qdisc_dev(sch);
	struct vmp_sched *q = qdisc_priv(sch);
	struct Qdisc *qdisc, *old;
	unsigned int i;

	for (i = 0; i < dev->num_tx_queues; i++) {
		if (q->mq) {
			qdisc = q->leaves[i];
		} else {
			qdisc = sch;
			qdisc_refcount_inc(sch);
		}
		old = dev_graft_qdisc(netdev_get_tx_queue(dev, i), qdisc);
		qdisc_put(old);
		if (q->mq && i < dev->real_num_tx_queues)
			qdisc_hash_add(qdisc, false);
	}
	kfree(q->leaves);
	q->leaves = NULL;
}

static void vmp_sch_change_real_num_tx(struct Qdisc *sch,
				       unsigned int new_real_tx)
{
	struct vmp_sched *q = qdisc_priv(sch);

	if (q->mq)
		mq_change_real_num_tx(sch, new_real_tx);
}

static void vmp_sch_destroy(struct Qdisc *sch)
{
	struct net_device *dev = qdisc_dev(sch);
	struct vmp_sched *q = qdisc_priv(sch);
	unsigned int i;

	qdisc_watchdog_cancel(&q->watchdog);
	__skb_queue_purge(&q->held);
	/* leaves never attached (a failed init) are still ours */
	if (q->leaves) {
		for (i = 0; i < dev->num_tx_queues && q->leaves[i]; i++)
			qdisc_put(q->leaves[i]);
		kfree(q->leaves);
	}
	if (q->child)
		qdisc_put(q->child);
	if (q->pol)
		vmp_policer_put(q->pol);
}

static struct Qdisc *vmp_mq_leaf(struct Qdisc *sch, unsigned long cl)
{
	struct net_device *dev = qdisc_dev(sch);
	struct Qdisc *leaf;

	if (!cl || cl > dev->num_tx_queues)
		return NULL;
	leaf = vmp_qdisc_sleeping(netdev_get_tx_queue(dev, cl - 1));
	return leaf->ops == &vmp_leaf_ops ? leaf : NULL;
}

/* Fold the leaves' counters into the root's, as mq does. */
static void vmp_mq_sum(struct Qdisc *sch)
{
	struct net_device *dev = qdisc_dev(sch);
	struct Qdisc *leaf;
	unsigned int i;

	sch->q.qlen = 0;
	gnet_stats_basic_sync_init(&sch->bstats);
	memset(&sch->qstats, 0, sizeof(sch->qstats));
	for (i = 0; i < dev->num_tx_queues; i++) {
		leaf = vmp_mq_leaf(sch, i + 1);
		if (!leaf)
			continue;
		vmp_leaf_sync(leaf);
		spin_lock_bh(qdisc_lock(leaf));
		gnet_stats_add_basic(&sch->bstats, leaf->cpu_bstats,
				     &leaf->bstats, false);
		gnet_stats_add_queue(&sch->qstats, leaf->cpu_qstats,
				     &leaf->qstats);
		sch->q.qlen += leaf->q.qlen;
		spin_unlock_bh(qdisc_lock(leaf));
	}
}

/*
 * What a qdisc holds is in its own held queue: per TX queue in the
 * multiqueue form (each leaf's), in the totals only in the single form
 * (one queue serves every TX queue).
 */
static void vmp_sch_held(struct Qdisc *sch, struct tc_vmpolice_stats *st)
{
	spinlock_t *lock = qdisc_root_sleeping_lock(sch);
	struct vmp_sched *q = qdisc_priv(sch);

	spin_lock_bh(lock);
	st->backlog = skb_queue_len(&q->held);
	st->backlog_bytes = q->held_bytes;
	spin_unlock_bh(lock);
}

static void vmp_sch_backlog(void *ctx, int queue, struct tc_vmpolice_stats *st)
{
	struct Qdisc *sch = ctx, *leaf;
	struct vmp_sched *q = qdisc_priv(sch);
	struct tc_vmpolice_stats one;
	unsigned int i;

	if (!q->mq) {
		if (queue < 0)
			vmp_sch_held(sch, st);
		return;
	}
	if (queue >= 0) {
		leaf = vmp_mq_leaf(sch, queue + 1);
		if (leaf)
			vmp_sch_held(leaf, st);
		return;
	}
	st->backlog = 0;
	st->backlog_bytes = 0;
	for (i = 0; i < qdisc_dev(sch)->num_tx_queues; i++) {
		leaf = vmp_mq_leaf(sch, i + 1);
		if (!leaf)
			continue;
		vmp_sch_held(leaf, &one);
		st->backlog += one.backlog;
		st->backlog_bytes += one.backlog_bytes;
	}
}

static int vmp_sch_dump(struct Qdisc *sch, struct sk_buff *skb)
{
	struct vmp_sched *q = qdisc_priv(sch);
	const struct vmp_params *prm;
	struct nlattr *nest;

	if (q->mq)
		vmp_mq_sum(sch);
	nest = nla_nest_start_noflag(skb, TCA_OPTIONS);
	if (!nest)
		return -EMSGSIZE;
	prm = rtnl_dereference(q->pol->params);
	/*
	 * Where the generic netlink dump finds this qdisc, for a printer
	 * that lists its queues: 16 bytes, always.
	 */
	if (vmp_params_dump(skb, prm) ||
	    nla_put_u32(skb, TCA_VMPOLICE_IFINDEX, qdisc_dev(sch)->ifindex) ||
	    nla_put_u32(skb, TCA_VMPOLICE_HANDLE, sch->handle) ||
	    vmp_stats_dump(skb, q->pol, vmp_sch_backlog, sch)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	return nla_nest_end(skb, nest);
}

static int vmp_sch_dump_stats(struct Qdisc *sch, struct gnet_dump *d)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct tc_vmpolice_stats st;

	if (q->mq)
		vmp_mq_sum(sch);
	vmp_policer_totals(q->pol, &st);
	vmp_sch_backlog(sch, -1, &st);
	return gnet_stats_copy_app(d, &st, sizeof(st));
}

static int vmp_sch_graft(struct Qdisc *sch, unsigned long cl,
			 struct Qdisc *new, struct Qdisc **old,
			 struct netlink_ext_ack *extack)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct Qdisc *leaf = sch;

	if (q->mq) {
		leaf = vmp_mq_leaf(sch, cl);
		if (!leaf) {
			NL_SET_ERR_MSG_MOD(extack, "no vmpolice leaf for this class");
			return -ENOENT;
		}
		q = qdisc_priv(leaf);
		/* its drops cannot be told to a leaf: see vmp_leaf_sync() */
		if (new)
			new->flags |= TCQ_F_ONETXQUEUE | TCQ_F_NOPARENT;
	}
	*old = qdisc_replace(leaf, new ?: &noop_qdisc, &q->child);
	return 0;
}

static struct Qdisc *vmp_sch_leaf(struct Qdisc *sch, unsigned long cl)
{
	struct vmp_sched *q = qdisc_priv(sch);

	if (q->mq) {
		sch = vmp_mq_leaf(sch, cl);
		if (!sch)
			return NULL;
		q = qdisc_priv(sch);
	}
	return q->child;
}

static unsigned long vmp_sch_find(struct Qdisc *sch, u32 classid)
{
	struct vmp_sched *q = qdisc_priv(sch);

	if (!q->mq)
		return 1;
	return vmp_mq_leaf(sch, TC_H_MIN(classid)) ? TC_H_MIN(classid) : 0;
}

static void vmp_sch_walk(struct Qdisc *sch, struct qdisc_walker *walker)
{
	struct vmp_sched *q = qdisc_priv(sch);
	unsigned int i, n = 1;

	if (q->mq)
		n = qdisc_dev(sch)->real_num_tx_queues;
	if (walker->stop)
		return;
	walker->count = walker->skip;
	for (i = walker->skip; i < n; i++)
		if (!tc_qdisc_stats_dump(sch, i + 1, walker))
			break;
}

static int vmp_sch_dump_class(struct Qdisc *sch, unsigned long cl,
			      struct sk_buff *skb, struct tcmsg *tcm)
{
	struct Qdisc *child = vmp_sch_leaf(sch, cl);

	tcm->tcm_parent = TC_H_ROOT;
	tcm->tcm_handle |= TC_H_MIN(cl);
	tcm->tcm_info = child ? child->handle : 0;
	return 0;
}

/* A class of the multiqueue form is one TX queue: its leaf's counters. */
static int vmp_sch_dump_class_stats(struct Qdisc *sch, unsigned long cl,
				    struct gnet_dump *d)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct tc_vmpolice_stats st;
	struct Qdisc *leaf = sch;
	u32 queue = 0;

	if (q->mq) {
		leaf = vmp_mq_leaf(sch, cl);
		if (!leaf)
			return -1;
		queue = cl - 1;
		vmp_leaf_sync(leaf);
		vmp_queue_read(vmp_policer_queue(q->pol, queue), &st);
	} else {
		vmp_policer_totals(q->pol, &st);
	}
	vmp_sch_held(leaf, &st);
	if (gnet_stats_copy_basic(d, leaf->cpu_bstats, &leaf->bstats, true) < 0 ||
	    qdisc_qstats_copy(d, leaf) < 0)
		return -1;
	return gnet_stats_copy_app(d, &st, sizeof(st));
}

static struct netdev_queue *vmp_sch_select_queue(struct Qdisc *sch,
						 struct tcmsg *tcm)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct Qdisc *leaf;

	if (!q->mq)
		return sch->dev_queue;
	leaf = vmp_mq_leaf(sch, TC_H_MIN(tcm->tcm_parent));
	return leaf ? leaf->dev_queue : NULL;
}

static const struct Qdisc_class_ops vmp_sch_class_ops = {
	.select_queue	= vmp_sch_select_queue,
	.graft		= vmp_sch_graft,
	.leaf		= vmp_sch_leaf,
	.find		= vmp_sch_find,
	.walk		= vmp_sch_walk,
	.dump		= vmp_sch_dump_class,
	.dump_stats	= vmp_sch_dump_class_stats,
};

static struct Qdisc_ops vmp_sch_ops __read_mostly = {
	.cl_ops		= &vmp_sch_class_ops,
	.id		= "vmpolice",
	.priv_size	= sizeof(struct vmp_sched),
	.enqueue	= vmp_sch_enqueue,
	.dequeue	= vmp_sch_dequeue,
	.peek		= vmp_sch_peek,
	.init		= vmp_sch_init,
	.reset		= vmp_sch_reset,
	.destroy	= vmp_sch_destroy,
	.change		= vmp_sch_change,
	.attach		= vmp_sch_attach,
	.change_real_num_tx = vmp_sch_change_real_num_tx,
	.dump		= vmp_sch_dump,
	.dump_stats	= vmp_sch_dump_stats,
	.owner		= THIS_MODULE,
};

/*
 * Leaves: created by the multiqueue root only, never by tc.  The root
 * hands each its TX queue and a reference to the shared policer.
 */
static int vmp_leaf_init(struct Qdisc *sch, struct nlattr *opt,
			 struct netlink_ext_ack *extack)
{
	struct vmp_sched *q = qdisc_priv(sch);

	q->leaf = true;
	__skb_queue_head_init(&q->held);
	qdisc_watchdog_init(&q->watchdog, sch);
	q->child = vmp_child_create(sch, extack);
	if (IS_ERR(q->child)) {
		int err = PTR_ERR(q->child);

		q->child = &noop_qdisc;
		return err;
	}
	q->child->flags |= TCQ_F_ONETXQUEUE | TCQ_F_NOPARENT;
	return 0;
}

static int vmp_leaf_change(struct Qdisc *sch, struct nlattr *opt,
			   struct netlink_ext_ack *extack)
{
	NL_SET_ERR_MSG_MOD(extack,
			   "a queue of the multiqueue vmpolice shares its root's configuration: change the root");
	return -EOPNOTSUPP;
}

static int vmp_leaf_dump(struct Qdisc *sch, struct sk_buff *skb)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct nlattr *nest;

	vmp_leaf_sync(sch);
	nest = nla_nest_start_noflag(skb, TCA_OPTIONS);
	if (!nest)
		return -EMSGSIZE;
	if (vmp_params_dump(skb, rtnl_dereference(q->pol->params))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	return nla_nest_end(skb, nest);
}

static int vmp_leaf_dump_stats(struct Qdisc *sch, struct gnet_dump *d)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct tc_vmpolice_stats st;

	vmp_queue_read(vmp_policer_queue(q->pol, q->queue), &st);
	vmp_sch_held(sch, &st);
	return gnet_stats_copy_app(d, &st, sizeof(st));
}

static struct Qdisc_ops vmp_leaf_ops __read_mostly = {
	.id		= "vmpolice",
	.priv_size	= sizeof(struct vmp_sched),
	.enqueue	= vmp_sch_enqueue,
	.dequeue	= vmp_sch_dequeue,
	.peek		= vmp_sch_peek,
	.init		= vmp_leaf_init,
	.reset		= vmp_sch_reset,
	.destroy	= vmp_sch_destroy,
	.change		= vmp_leaf_change,
	.dump		= vmp_leaf_dump,
	.dump_stats	= vmp_leaf_dump_stats,
	.owner		= THIS_MODULE,
};

/*
 * The vmpolice qdisc @handle on the device @ifindex of @net, for the
 * generic netlink dump: the root of the single or the multiqueue form,
 * never a leaf.  Under RTNL, as qdisc_lookup() (not exported) is.
 */
struct Qdisc *vmp_sch_get(struct net *net, u32 ifindex, u32 handle,
			  struct netlink_ext_ack *extack)
{
	struct net_device *dev;
	struct Qdisc *sch;

	ASSERT_RTNL();
	dev = __dev_get_by_index(net, ifindex);
	if (!dev) {
		NL_SET_ERR_MSG(extack, "no device with this ifindex");
		return NULL;
	}
	sch = rtnl_dereference(dev->qdisc);
	if (sch->handle != handle) {
		hash_for_each_possible_rcu(dev->qdisc_hash, sch, hash, handle,
					   lockdep_rtnl_is_held()) {
			if (sch->handle == handle)
				break;
		}
	}
	if (!sch || sch->handle != handle || sch->ops != &vmp_sch_ops) {
		NL_SET_ERR_MSG(extack,
			       "no vmpolice qdisc with this handle on the device");
		return NULL;
	}
	return sch;
}

/*
 * Queues from *@next on, as vmp_queues_put_from() puts them, with what
 * the qdisc holds per queue.  Under RTNL, as the qdisc's own dump.
 * Returns 0 when every queue was put, -EMSGSIZE when @skb is full
 * (*@next is then the first queue not put).
 */
int vmp_sch_queues_put(struct sk_buff *skb, struct Qdisc *sch, u32 *next)
{
	struct vmp_sched *q = qdisc_priv(sch);

	return vmp_queues_put_from(skb, q->pol, vmp_sch_backlog, sch, next);
}

/* Returns 0, or -EEXIST if a qdisc of this name is registered. */
int vmp_sch_register(void)
{
	return register_qdisc(&vmp_sch_ops);
}

/* At module exit, after every vmpolice qdisc is gone. */
void vmp_sch_unregister(void)
{
	unregister_qdisc(&vmp_sch_ops);
}
