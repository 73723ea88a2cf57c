// SPDX-License-Identifier: GPL-2.0
/*
 * vmpolice hold queues: where the action keeps packets that conform
 * within its delay budget ("latency") until the moment they conform.
 *
 * At tc ingress (where hypervisors police what a guest sends), the action
 * takes such a packet with TC_ACT_CONSUMED and appends it to the hold
 * queue of the queue it arrived on (per guest virtqueue on a multiqueue
 * tap), so queues never wait behind each other beyond what the shared
 * rate dictates.  The release time was reserved in the GCRA buckets by
 * vmp_police(); a queue's release times grow with arrival order, so each
 * queue is a FIFO served by one softirq hrtimer at its head's release
 * time.  Due packets go back into the same device's receive path, in
 * batches of at most VMP_RELEASE_BATCH per timer run, with
 * tc_skip_classify set, as drivers/net/ifb.c re-injects: whatever comes
 * after tc ingress (bridge, Open vSwitch, macvtap, the stack) sees them as
 * if they had just arrived, and the filters are not run again.
 *
 * A held packet keeps its socket charge (tun's sock_wfree on a tap with a
 * finite sndbuf), so a guest that outruns the rate is held back by
 * vhost-net/tun instead of losing packets.  It also holds a reference on
 * its device; a netdevice notifier drops the packets of a device that
 * goes away, and nothing is ever sent on a device that is not registered
 * and up.  Memory is bounded: a policer holds at most vmp_hold_cap()
 * bytes (rate x latency plus one 64 KiB train per holding queue).
 */

#include <linux/hrtimer.h>
#include <linux/netdevice.h>
#include <linux/netfilter_netdev.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <net/dst.h>

#include "vmpolice_core.h"

/* Packets one timer run re-injects at most before yielding the CPU. */
#define VMP_RELEASE_BATCH	64

/*
 * One queue's held packets.  @lock orders the queue, its timer and
 * @backlog_bytes; it is taken from softirq context only, or with BHs off.
 */
struct vmp_hold {
	spinlock_t		lock;		/* skbs, backlog_bytes, timer */
	struct sk_buff_head	skbs;
	u64			backlog_bytes;
	struct hrtimer		timer;
	struct vmp_policer	*pol;
	struct vmp_queue	*q;
};

/* Held packets are ours alone: their control block carries this. */
struct vmp_hold_cb {
	u64	release;	/* ns, ktime_get_ns() */
	u32	bytes;		/* wire bytes counted in pol->hold_bytes */
};

static struct vmp_hold_cb *vmp_hold_cb(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct vmp_hold_cb) > sizeof(skb->cb));
	return (struct vmp_hold_cb *)skb->cb;
}

/* Every action policer, for the netdevice notifier. */
static LIST_HEAD(vmp_hold_list);
/* guards vmp_hold_list; taken before a hold's lock */
static DEFINE_SPINLOCK(vmp_hold_list_lock);

void vmp_hold_register(struct vmp_policer *p)
{
	spin_lock_bh(&vmp_hold_list_lock);
	list_add(&p->hold_node, &vmp_hold_list);
	spin_unlock_bh(&vmp_hold_list_lock);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_hold_register);

/*
 * Send, or drop if its device is going away, one due packet.  It goes
 * back where tc ingress took it: netfilter's netdev ingress hook, which
 * runs after tc, sees it now (so that holding is no way around the
 * operator's ingress rules), then the receive path resumes past tc
 * (tc_skip_classify, as ifb does).  The egress hook must not be skipped
 * on the device it will leave by: __netif_receive_skb_core() set
 * nf_skip_egress for tc ingress and only clears it for a packet tc gives
 * back.
 */
static void vmp_hold_send(struct vmp_hold *h, struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;

	atomic64_sub(vmp_hold_cb(skb)->bytes, &h->pol->hold_bytes);
	memset(vmp_hold_cb(skb), 0, sizeof(struct vmp_hold_cb));
	if (unlikely(vmp_dev_reg_state(dev) != NETREG_REGISTERED ||
		     !(READ_ONCE(dev->flags) & IFF_UP))) {
		atomic64_inc(&h->q->flushed);
		kfree_skb_reason(skb, SKB_DROP_REASON_DEV_READY);
		goto out;
	}
	atomic64_inc(&h->q->released);
	nf_skip_egress(skb, false);
	rcu_read_lock();
	if (nf_hook_ingress_active(skb) && nf_hook_ingress(skb) < 0) {
		/* netfilter took or dropped it */
		rcu_read_unlock();
		goto out;
	}
	rcu_read_unlock();
	skb->tc_skip_classify = 1;
	netif_receive_skb(skb);
out:
	dev_put(dev);
}

static enum hrtimer_restart vmp_hold_timer(struct hrtimer *timer)
{
	struct vmp_hold *h = container_of(timer, struct vmp_hold, timer);
	u64 now = ktime_get_ns(), next;
	struct sk_buff_head due;
	struct sk_buff *skb;
	u32 n = 0;

	__skb_queue_head_init(&due);
	spin_lock(&h->lock);
	while (n < VMP_RELEASE_BATCH && (skb = skb_peek(&h->skbs)) &&
	       (s64)(vmp_hold_cb(skb)->release - now) <= 0) {
		__skb_unlink(skb, &h->skbs);
		h->backlog_bytes -= vmp_hold_cb(skb)->bytes;
		__skb_queue_tail(&due, skb);
		n++;
	}
	skb = skb_peek(&h->skbs);
	if (skb && !READ_ONCE(h->pol->dying)) {
		/* a full batch: let other softirq work run, then go on */
		next = n == VMP_RELEASE_BATCH ? now : vmp_hold_cb(skb)->release;
		hrtimer_start(timer, ns_to_ktime(next),
			      HRTIMER_MODE_ABS_PINNED_SOFT);
	}
	spin_unlock(&h->lock);

	while ((skb = __skb_dequeue(&due)))
		vmp_hold_send(h, skb);
	return HRTIMER_NORESTART;
}

/* The queue's hold, made on first use (packet path: no sleeping). */
static struct vmp_hold *vmp_hold_get(struct vmp_policer *p,
				     struct vmp_queue *q)
{
	struct vmp_hold *h = READ_ONCE(q->hold), *old;

	if (likely(h))
		return h;
	h = kzalloc_obj(*h, GFP_ATOMIC);
	if (!h)
		return NULL;
	spin_lock_init(&h->lock);
	__skb_queue_head_init(&h->skbs);
	vmp_hrtimer_setup(&h->timer, vmp_hold_timer, CLOCK_MONOTONIC,
			  HRTIMER_MODE_ABS_PINNED_SOFT);
	h->pol = p;
	h->q = q;
	old = cmpxchg(&q->hold, NULL, h);
	if (old) {
		kfree(h);
		return old;
	}
	atomic_inc(&p->hold_queues);
	return h;
}

/*
 * Largest byte rate at which held packets can become due: a packet waits
 * for the latest of its buckets, so the fastest one bounds what the
 * latency can hold.
 */
static u64 vmp_hold_rate(const struct vmp_params *prm, u32 queues)
{
	u64 rate = max(prm->rate.rate, prm->peak.rate);

	if (prm->pkt_rate.rate > U64_MAX / prm->mtu)
		return U64_MAX;
	rate = max(rate, prm->pkt_rate.rate * prm->mtu);
	if (queues && prm->queue_rate.rate > U64_MAX / queues)
		return U64_MAX;
	return max(rate, prm->queue_rate.rate * queues);
}

/*
 * @q holds packets: one that conforms at once must wait behind them, as
 * release order is arrival order within a queue (after a change to a
 * higher rate or a shorter latency it would overtake them otherwise).
 */
bool vmp_hold_busy(struct vmp_queue *q)
{
	struct vmp_hold *h = READ_ONCE(q->hold);

	return h && !skb_queue_empty_lockless(&h->skbs);
}

/*
 * Keep @skb, charged on @q by vmp_police(), until @release (ns).  On
 * success the packet is ours and the caller returns TC_ACT_CONSUMED.
 * Fails with -ENOBUFS when the policer already holds its cap of bytes,
 * -ENOMEM when a queue's hold cannot be made, -ENODEV while the policer
 * is being destroyed; the caller then gives the packet the exceed
 * verdict, its tokens spent (never under-charge).  Counted as overlimit.
 * A queue that holds nothing may always hold one packet, however long
 * (BIG TCP).
 */
int vmp_hold_skb(struct vmp_policer *p, const struct vmp_params *prm,
		 struct vmp_queue *q, struct sk_buff *skb, u64 release)
{
	u32 bytes = vmp_skb_wire_len(skb);
	struct vmp_hold *h;
	u64 cap;
	int err = -ENOMEM;

	h = vmp_hold_get(p, q);
	if (unlikely(!h))
		goto refuse;
	cap = vmp_hold_cap(vmp_hold_rate(prm, atomic_read(&p->hold_queues)),
			   prm->latency_ns, atomic_read(&p->hold_queues),
			   VMPOLICE_MAX_MTU);
	err = -ENOBUFS;
	if (atomic64_add_return(bytes, &p->hold_bytes) > cap &&
	    !skb_queue_empty_lockless(&h->skbs))
		goto unaccount;
	/* the route (if any) must outlive the RCU section it was taken in */
	skb_dst_force(skb);

	vmp_hold_cb(skb)->release = release;
	vmp_hold_cb(skb)->bytes = bytes;
	spin_lock(&h->lock);
	if (unlikely(READ_ONCE(p->dying))) {
		spin_unlock(&h->lock);
		err = -ENODEV;
		goto unaccount;
	}
	dev_hold(skb->dev);
	__skb_queue_tail(&h->skbs, skb);
	h->backlog_bytes += bytes;
	if (skb_queue_len(&h->skbs) == 1)
		hrtimer_start(&h->timer, ns_to_ktime(release),
			      HRTIMER_MODE_ABS_PINNED_SOFT);
	spin_unlock(&h->lock);
	vmp_count_held(q, bytes);
	return 0;

unaccount:
	atomic64_sub(bytes, &p->hold_bytes);
refuse:
	atomic64_inc(&q->overlimit);
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_hold_skb);

/*
 * Drop held packets of @p: all of them (@dev NULL, @deadline 0), those
 * on @dev, or those due after @deadline (ns).  Counted as flushed.
 * Returns how many were dropped.  Any context but hardirq.
 */
unsigned int vmp_hold_flush(struct vmp_policer *p,
			    const struct net_device *dev, u64 deadline)
{
	struct sk_buff *skb, *tmp;
	struct sk_buff_head drop;
	struct vmp_queue *q;
	struct vmp_hold *h;
	unsigned int n = 0;
	u32 i;

	__skb_queue_head_init(&drop);
	vmp_for_each_slot(p, i, q) {
		h = READ_ONCE(q->hold);
		if (!h)
			continue;
		spin_lock_bh(&h->lock);
		skb_queue_walk_safe(&h->skbs, skb, tmp) {
			if (dev && skb->dev != dev)
				continue;
			if (deadline &&
			    (s64)(vmp_hold_cb(skb)->release - deadline) <= 0)
				continue;
			__skb_unlink(skb, &h->skbs);
			h->backlog_bytes -= vmp_hold_cb(skb)->bytes;
			atomic64_sub(vmp_hold_cb(skb)->bytes, &p->hold_bytes);
			atomic64_inc(&h->q->flushed);
			__skb_queue_tail(&drop, skb);
		}
		spin_unlock_bh(&h->lock);
	}
	while ((skb = __skb_dequeue(&drop))) {
		dev_put(skb->dev);
		kfree_skb_reason(skb, SKB_DROP_REASON_QDISC_DROP);
		n++;
	}
	return n;
}

/*
 * The policer goes: no packet is held from now on, no timer runs again,
 * and what is held is dropped.  Called with no packet in the action
 * (filters unlinked and an RCU grace period passed), process context.
 */
void vmp_hold_unregister(struct vmp_policer *p)
{
	struct vmp_queue *q;
	struct vmp_hold *h;
	u32 i;

	spin_lock_bh(&vmp_hold_list_lock);
	list_del(&p->hold_node);
	spin_unlock_bh(&vmp_hold_list_lock);

	WRITE_ONCE(p->dying, true);
	vmp_for_each_slot(p, i, q) {
		h = READ_ONCE(q->hold);
		if (!h)
			continue;
		/* a timer run that read dying as false has re-armed by now */
		spin_lock_bh(&h->lock);
		spin_unlock_bh(&h->lock);
		hrtimer_cancel(&h->timer);
	}
	vmp_hold_flush(p, NULL, 0);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_hold_unregister);

void vmp_hold_free(struct vmp_queue *q)
{
	kfree(q->hold);
}

/* Packets and bytes @q holds now (0 for a queue that never held). */
void vmp_hold_backlog(struct vmp_queue *q, u64 *packets, u64 *bytes)
{
	struct vmp_hold *h = READ_ONCE(q->hold);

	*packets = 0;
	*bytes = 0;
	if (!h)
		return;
	spin_lock_bh(&h->lock);
	*packets = skb_queue_len(&h->skbs);
	*bytes = h->backlog_bytes;
	spin_unlock_bh(&h->lock);
}

/*
 * A device goes away (unregister, netns teardown, move to another
 * namespace): drop what is held on it, releasing our references, so that
 * the unregistration is not kept waiting and nothing is sent on it.
 */
static int vmp_hold_netdev_event(struct notifier_block *nb,
				 unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct vmp_policer *p;

	if (event != NETDEV_UNREGISTER)
		return NOTIFY_DONE;
	/* a policer leaves the list before it is destroyed: see above */
	spin_lock_bh(&vmp_hold_list_lock);
	list_for_each_entry(p, &vmp_hold_list, hold_node)
		/* packets on other devices stay held, within the latency */
		if (atomic_read(&p->hold_queues) && vmp_hold_flush(p, dev, 0))
			vmp_policer_unreserve(p, true);
	spin_unlock_bh(&vmp_hold_list_lock);
	return NOTIFY_DONE;
}

static struct notifier_block vmp_hold_notifier = {
	.notifier_call = vmp_hold_netdev_event,
};

int vmp_hold_init(void)
{
	return register_netdevice_notifier(&vmp_hold_notifier);
}

void vmp_hold_exit(void)
{
	unregister_netdevice_notifier(&vmp_hold_notifier);
}
