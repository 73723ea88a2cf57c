// SPDX-License-Identifier: GPL-2.0
/*
 * sch_vmpolice: the guest-aware policer as a qdisc.
 *
 * Same options and accounting as the vmpolice action (one core, see
 * vmpolice_core.c), at a device's egress: the direction a guest's inbound
 * traffic takes out of its tap.  Packets that conform go on to a child
 * queue (a pfifo of the device's txqueuelen by default, replaceable through
 * class :1); packets that exceed are dropped at enqueue and counted.  A
 * GSO packet that partly conforms is cut to its conforming head.  A
 * qdisc has no conform/exceed choice: what exceeds is dropped.
 *
 * State is kept per TX queue (the queue the packet was sent to), and the
 * buckets need no lock, but in this form one instance, with its qdisc
 * lock, serves every queue of the device.
 */

#include <linux/module.h>
#include <linux/skbuff.h>
#include <net/netlink.h>
#include <net/pkt_sched.h>
#include <net/sch_generic.h>

#include "vmpolice_core.h"
#include "vmpolice_main.h"

struct vmp_sched {
	struct vmp_policer	*pol;
	struct Qdisc		*child;
};

/*
 * A cut packet is shorter than the length its ancestors already counted.
 * Only with no ancestor to tell (root) may its queue length change: under
 * another qdisc the original length is kept, so every level adds and
 * removes the same amount.
 */
static void vmp_sch_recount(struct Qdisc *sch, struct sk_buff *skb)
{
	struct vmp_train t;

	if (sch->parent != TC_H_ROOT && !(sch->flags & TCQ_F_NOPARENT))
		return;
	if (!vmp_skb_train(skb, &t))
		return;
	qdisc_skb_cb(skb)->pkt_len = vmp_train_bytes(&t, t.segs);
	vmp_set_pkt_segs(skb, t.segs);
}

static int vmp_sch_enqueue(struct sk_buff *skb, struct Qdisc *sch,
			   struct sk_buff **to_free)
{
	struct vmp_sched *q = qdisc_priv(sch);
	const struct vmp_params *prm;
	unsigned int len;
	int ret;

	prm = rcu_dereference_bh(q->pol->params);
	switch (vmp_police(q->pol, prm, skb, skb_get_queue_mapping(skb),
			   true)) {
	case VMP_CONFORM:
		break;
	case VMP_PARTIAL:
		qdisc_qstats_overlimit(sch);
		vmp_sch_recount(sch, skb);
		break;
	case VMP_EXCEED:
		qdisc_qstats_overlimit(sch);
		return qdisc_drop(skb, sch, to_free);
	case VMP_MALFORMED:
		return qdisc_drop(skb, sch, to_free);
	}

	len = qdisc_pkt_len(skb);
	ret = qdisc_enqueue(skb, q->child, to_free);
	if (ret != NET_XMIT_SUCCESS) {
		if (net_xmit_drop_count(ret))
			qdisc_qstats_drop(sch);
		return ret;
	}
	sch->qstats.backlog += len;
	sch->q.qlen++;
	return NET_XMIT_SUCCESS;
}

static struct sk_buff *vmp_sch_dequeue(struct Qdisc *sch)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct sk_buff *skb;

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

	return q->child->ops->peek(q->child);
}

static void vmp_sch_reset(struct Qdisc *sch)
{
	struct vmp_sched *q = qdisc_priv(sch);

	qdisc_reset(q->child);
}

static int vmp_sch_parse(struct Qdisc *sch, struct nlattr *opt,
			 struct vmp_params **prm,
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

static int vmp_sch_change(struct Qdisc *sch, struct nlattr *opt,
			  struct netlink_ext_ack *extack)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct vmp_params *prm;
	int err;

	err = vmp_sch_parse(sch, opt, &prm, extack);
	if (err)
		return err;
	sch_tree_lock(sch);
	vmp_policer_apply(q->pol, prm);
	sch_tree_unlock(sch);
	return 0;
}

static int vmp_sch_init(struct Qdisc *sch, struct nlattr *opt,
			struct netlink_ext_ack *extack)
{
	struct vmp_sched *q = qdisc_priv(sch);
	u32 limit = max_t(u32, qdisc_dev(sch)->tx_queue_len, 1);
	struct vmp_params *prm;
	int err;

	/* destroy() runs after a failed init: leave nothing half set */
	q->child = &noop_qdisc;
	err = vmp_sch_parse(sch, opt, &prm, extack);
	if (err)
		return err;

	q->pol = vmp_policer_alloc();
	if (!q->pol) {
		err = -ENOMEM;
		goto err_free_params;
	}
	q->child = fifo_create_dflt(sch, &pfifo_qdisc_ops, limit, extack);
	if (IS_ERR(q->child)) {
		err = PTR_ERR(q->child);
		q->child = &noop_qdisc;
		goto err_free_params;
	}
	qdisc_hash_add(q->child, true);
	vmp_policer_apply(q->pol, prm);
	return 0;

err_free_params:
	kfree(prm);
	return err;
}

static void vmp_sch_destroy(struct Qdisc *sch)
{
	struct vmp_sched *q = qdisc_priv(sch);

	qdisc_put(q->child);
	if (q->pol)
		vmp_policer_put(q->pol);
}

static int vmp_sch_dump(struct Qdisc *sch, struct sk_buff *skb)
{
	struct vmp_sched *q = qdisc_priv(sch);
	const struct vmp_params *prm;
	struct nlattr *nest;

	nest = nla_nest_start_noflag(skb, TCA_OPTIONS);
	if (!nest)
		return -EMSGSIZE;
	prm = rtnl_dereference(q->pol->params);
	if (vmp_params_dump(skb, prm) || vmp_stats_dump(skb, q->pol)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	return nla_nest_end(skb, nest);
}

static int vmp_sch_dump_stats(struct Qdisc *sch, struct gnet_dump *d)
{
	struct vmp_sched *q = qdisc_priv(sch);
	struct tc_vmpolice_stats st;

	vmp_policer_totals(q->pol, &st);
	return gnet_stats_copy_app(d, &st, sizeof(st));
}

static int vmp_sch_graft(struct Qdisc *sch, unsigned long arg,
			 struct Qdisc *new, struct Qdisc **old,
			 struct netlink_ext_ack *extack)
{
	struct vmp_sched *q = qdisc_priv(sch);

	*old = qdisc_replace(sch, new ?: &noop_qdisc, &q->child);
	return 0;
}

static struct Qdisc *vmp_sch_leaf(struct Qdisc *sch, unsigned long arg)
{
	struct vmp_sched *q = qdisc_priv(sch);

	return q->child;
}

static unsigned long vmp_sch_find(struct Qdisc *sch, u32 classid)
{
	return 1;
}

static void vmp_sch_walk(struct Qdisc *sch, struct qdisc_walker *walker)
{
	if (!walker->stop)
		tc_qdisc_stats_dump(sch, 1, walker);
}

static int vmp_sch_dump_class(struct Qdisc *sch, unsigned long cl,
			      struct sk_buff *skb, struct tcmsg *tcm)
{
	struct vmp_sched *q = qdisc_priv(sch);

	tcm->tcm_handle |= TC_H_MIN(1);
	tcm->tcm_info = q->child->handle;
	return 0;
}

static const struct Qdisc_class_ops vmp_sch_class_ops = {
	.graft		= vmp_sch_graft,
	.leaf		= vmp_sch_leaf,
	.find		= vmp_sch_find,
	.walk		= vmp_sch_walk,
	.dump		= vmp_sch_dump_class,
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
	.dump		= vmp_sch_dump,
	.dump_stats	= vmp_sch_dump_stats,
	.owner		= THIS_MODULE,
};

int vmp_sch_register(void)
{
	return register_qdisc(&vmp_sch_ops);
}

void vmp_sch_unregister(void)
{
	unregister_qdisc(&vmp_sch_ops);
}
