// SPDX-License-Identifier: GPL-2.0
/*
 * act_vmpolice: the guest-aware policer as a tc action.
 *
 * A drop-in for "police": same options, same conform/exceed verdicts, any
 * classifier, shared between filters by index.  What differs is what a
 * packet is charged (the wire bytes of every segment, see vmpolice_core.c),
 * that a GSO packet which only partly conforms is cut to its conforming
 * head when the exceed verdict drops, that state is kept per queue, and
 * that no lock is taken per packet.  A change keeps tokens and counters.
 *
 * The queue is the one the packet arrived on at ingress (tun records the
 * guest's TX virtqueue there) and the skb's queue mapping at egress.
 */

#include <linux/module.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <net/act_api.h>
#include <net/netlink.h>
#include <net/pkt_cls.h>

#include "vmpolice_core.h"
#include "vmpolice_main.h"

/* Not a number the kernel hands out: far above the in-tree actions. */
#define TCA_ID_VMPOLICE	(__TCA_ID_MAX - 1)

struct tcf_vmpolice {
	struct tc_action	common;
	struct vmp_policer	*pol;
	bool			bound_egress;	/* in a filter at egress once */
};

#define to_vmpolice(a) ((struct tcf_vmpolice *)(a))

static struct tc_action_ops act_vmpolice_ops;

static u32 vmp_act_queue(const struct sk_buff *skb)
{
	if (skb_at_tc_ingress(skb))
		return skb_rx_queue_recorded(skb) ? skb_get_rx_queue(skb) : 0;
	return skb_get_queue_mapping(skb);
}

static int tcf_vmpolice_act(struct sk_buff *skb, const struct tc_action *a,
			    struct tcf_result *res)
{
	struct tcf_vmpolice *v = to_vmpolice(a);
	const struct vmp_params *prm;
	struct vmp_queue *q;
	unsigned int flags;
	int exceed;
	struct vmp_train t;
	u64 release;

	tcf_lastuse_update(&v->tcf_tm);
	/*
	 * Not tcf_action_update_bstats(): it counts gso_segs, which tun
	 * leaves at 0 for a guest's (DODGY) GSO packets.  Count the frames
	 * the packet really stands for, as the policer charges them: the
	 * train computed here is the one vmp_police() charges.
	 */
	vmp_police_train(skb, &t);
	tcf_action_update_stats(&v->common, qdisc_pkt_len(skb), t.segs ?: 1,
				0, false);

again:
	prm = rcu_dereference_bh(v->pol->params);
	exceed = prm->exceed;
	flags = exceed == TC_ACT_SHOT ? VMP_MAY_CUT : 0;
	/*
	 * Held packets go back into the receive path: ingress only, and not
	 * on a device with a generic XDP program, which the receive path
	 * runs before tc and so would run on them a second time.
	 */
	if (unlikely(prm->latency_ns) && skb_at_tc_ingress(skb) &&
	    !rcu_access_pointer(skb->dev->xdp_prog))
		flags |= VMP_MAY_HOLD;
	switch (vmp_police(v->pol, prm, skb, &t, vmp_act_queue(skb), flags,
			   &release, &q)) {
	case VMP_CONFORM:
		break;
	case VMP_PARTIAL:
		/*
		 * Its tail was dropped here.  pkt_len and pkt_segs are the
		 * cut packet's (vmp_skb_cut()): the root qdisc after clsact
		 * egress counts and shapes what leaves.  A classful qdisc
		 * running us from its own filters (tc filter ... parent 1:)
		 * took the old length before and adds it to its backlog;
		 * nothing tells it (Documentation: "Partial admission").
		 */
		tcf_action_inc_overlimit_qstats(&v->common);
		tcf_action_inc_drop_qstats(&v->common);
		break;
	case VMP_MALFORMED:
		/* never forward a packet whose segments cannot be known */
		tcf_action_inc_drop_qstats(&v->common);
		return TC_ACT_SHOT;
	case VMP_EXCEED:
		goto exceed;
	case VMP_RETRY:
		/* changed under it: police it with the new parameters */
		goto again;
	}
	if (likely(!release)) {
		if (likely(!(flags & VMP_MAY_HOLD)) ||
		    !vmp_hold_busy(q))
			return prm->conform;
		/* due now, but not before what its queue holds */
		release = ktime_get_ns();
	}
	/* on the queue it was charged on, whatever chunk came meanwhile */
	if (likely(!vmp_hold_skb(v->pol, prm, q, skb, release)))
		return TC_ACT_CONSUMED;
	/* over the cap on held bytes: it exceeds, its tokens stay spent */
	vmp_count_refused(q, skb);

exceed:
	tcf_action_inc_overlimit_qstats(&v->common);
	if (exceed == TC_ACT_SHOT)
		tcf_action_inc_drop_qstats(&v->common);
	return exceed;
}

/*
 * False when the filter @tp is known to run at egress: a block that is
 * not the ingress block of an ingress or clsact qdisc.  Shared blocks and
 * actions made on their own cannot be told at configuration time; there
 * the action holds nothing when it runs at egress (vmp_police() is then
 * not allowed to hold), and what does not conform exceeds.
 */
static bool vmp_tp_maybe_ingress(const struct tcf_proto *tp)
{
	struct tcf_block *block;
	struct Qdisc *q;

	if (!tp)
		return true;
	block = tp->chain->block;
	q = block->q;
	if (!q)
		return true;
	if (!(q->flags & TCQ_F_INGRESS) || !q->ops->cl_ops->tcf_block)
		return false;
	return q->ops->cl_ops->tcf_block(q, TC_H_MIN(TC_H_MIN_INGRESS),
					 NULL) == block;
}

static bool vmp_act_holds(struct tcf_vmpolice *v)
{
	const struct vmp_params *prm;
	bool holds;

	rcu_read_lock();
	prm = rcu_dereference(v->pol->params);
	holds = prm && prm->latency_ns;
	rcu_read_unlock();
	return holds;
}

#define VMP_EGRESS_MSG \
	"latency holds packets at ingress only: at egress use the vmpolice qdisc"
#define VMP_EGRESS_BOUND_MSG \
	"latency holds packets at ingress only, and this action was bound in an egress filter: at egress use the vmpolice qdisc"

static int tcf_vmpolice_init(struct net *net, struct nlattr *nla,
			     struct nlattr *est, struct tc_action **a,
			     struct tcf_proto *tp, u32 flags,
			     struct netlink_ext_ack *extack)
{
	struct tc_action_net *tn = net_generic(net, act_vmpolice_ops.net_id);
	bool bind = flags & TCA_ACT_FLAGS_BIND;
	struct nlattr *tb[TCA_VMPOLICE_MAX + 1];
	struct tcf_chain *goto_ch = NULL;
	struct tc_vmpolice *parm;
	struct vmp_params *prm;
	struct tcf_vmpolice *v;
	int ret = 0, err;
	u64 latency;
	u32 index;

	if (!nla) {
		NL_SET_ERR_MSG_MOD(extack, "vmpolice needs options");
		return -EINVAL;
	}
	err = nla_parse_nested(tb, TCA_VMPOLICE_MAX, nla, vmp_policy, extack);
	if (err < 0)
		return err;
	if (!tb[TCA_VMPOLICE_PARMS]) {
		NL_SET_ERR_MSG_MOD(extack, "vmpolice parameters missing");
		return -EINVAL;
	}
	parm = nla_data(tb[TCA_VMPOLICE_PARMS]);
	index = parm->index;

	err = tcf_idr_check_alloc(tn, &index, a, bind);
	if (err < 0)
		return err;
	if (err && bind) {
		if (vmp_tp_maybe_ingress(tp))
			return ACT_P_BOUND;
		if (vmp_act_holds(to_vmpolice(*a))) {
			tcf_idr_release(*a, bind);
			NL_SET_ERR_MSG_MOD(extack, VMP_EGRESS_MSG);
			return -EOPNOTSUPP;
		}
		to_vmpolice(*a)->bound_egress = true;
		return ACT_P_BOUND;
	}
	if (!err) {
		ret = tcf_idr_create(tn, index, est, a, &act_vmpolice_ops,
				     bind, true, flags);
		if (ret) {
			tcf_idr_cleanup(tn, index);
			return ret;
		}
		ret = ACT_P_CREATED;
		v = to_vmpolice(*a);
		v->pol = vmp_policer_alloc();
		if (!v->pol) {
			err = -ENOMEM;
			goto release_idr;
		}
		vmp_hold_register(v->pol);
	} else if (!(flags & TCA_ACT_FLAGS_REPLACE)) {
		tcf_idr_release(*a, bind);
		NL_SET_ERR_MSG_MOD(extack,
				   "a vmpolice action with this index exists");
		return -EEXIST;
	}
	v = to_vmpolice(*a);

	err = tcf_action_check_ctrlact(parm->action, tp, &goto_ch, extack);
	if (err < 0)
		goto release_idr;
	err = vmp_params_parse(tb, true, &prm, extack);
	if (err)
		goto put_chain;
	/*
	 * A change (no filter to tell where it runs) is refused as well once
	 * the action was bound in an egress filter.
	 */
	if (prm->latency_ns &&
	    (!vmp_tp_maybe_ingress(tp) || v->bound_egress)) {
		vmp_params_free(prm);
		if (v->bound_egress)
			NL_SET_ERR_MSG_MOD(extack, VMP_EGRESS_BOUND_MSG);
		else
			NL_SET_ERR_MSG_MOD(extack, VMP_EGRESS_MSG);
		err = -EOPNOTSUPP;
		goto put_chain;
	}
	if (bind && !vmp_tp_maybe_ingress(tp))
		v->bound_egress = true;

	latency = prm->latency_ns;
	prm->exceed = parm->action;
	spin_lock_bh(&v->tcf_lock);
	goto_ch = tcf_action_set_ctrlact(*a, parm->action, goto_ch);
	vmp_policer_apply(v->pol, prm);
	spin_unlock_bh(&v->tcf_lock);
	/*
	 * What is held was admitted within the old budget: a shorter one
	 * drops what would now wait too long (counted as flushed), and the
	 * buckets give back the time reserved for it.
	 */
	if (ret != ACT_P_CREATED &&
	    vmp_hold_flush(v->pol, NULL, ktime_get_ns() + latency))
		vmp_policer_unreserve(v->pol, true);

	if (goto_ch)
		tcf_chain_put_by_act(goto_ch);
	return ret;

put_chain:
	if (goto_ch)
		tcf_chain_put_by_act(goto_ch);
release_idr:
	tcf_idr_release(*a, bind);
	return err;
}

static void tcf_vmpolice_cleanup(struct tc_action *a)
{
	struct tcf_vmpolice *v = to_vmpolice(a);

	if (v->pol) {
		vmp_hold_unregister(v->pol);
		vmp_policer_put(v->pol);
	}
}

static int tcf_vmpolice_dump(struct sk_buff *skb, struct tc_action *a,
			     int bind, int ref)
{
	unsigned char *b = skb_tail_pointer(skb);
	struct tcf_vmpolice *v = to_vmpolice(a);
	struct tc_vmpolice opt = {
		.index = v->tcf_index,
		.refcnt = refcount_read(&v->tcf_refcnt) - ref,
		.bindcnt = atomic_read(&v->tcf_bindcnt) - bind,
	};
	const struct vmp_params *prm;
	struct tcf_t t;

	rcu_read_lock();
	prm = rcu_dereference(v->pol->params);
	opt.action = READ_ONCE(v->tcf_action);
	tcf_tm_dump(&t, &v->tcf_tm);
	if (nla_put(skb, TCA_VMPOLICE_PARMS, sizeof(opt), &opt) ||
	    nla_put_u32(skb, TCA_VMPOLICE_CONFORM, prm->conform) ||
	    vmp_params_dump(skb, prm) ||
	    nla_put_64bit(skb, TCA_VMPOLICE_TM, sizeof(t), &t,
			  TCA_VMPOLICE_PAD) ||
	    vmp_stats_dump(skb, v->pol, NULL, NULL))
		goto nla_put_failure;
	rcu_read_unlock();
	return skb->len;

nla_put_failure:
	rcu_read_unlock();
	nlmsg_trim(skb, b);
	return -1;
}

/*
 * What our dump puts, at most: the same with any traffic, as the
 * per-queue counters are in the generic netlink dump, not here.
 */
static size_t tcf_vmpolice_get_fill_size(const struct tc_action *a)
{
	return nla_total_size(sizeof(struct tc_vmpolice)) +
	       nla_total_size_64bit(sizeof(struct tcf_t)) +
	       vmp_dump_size();
}

static struct tc_action_ops act_vmpolice_ops = {
	.kind		= "vmpolice",
	.id		= TCA_ID_VMPOLICE,
	.owner		= THIS_MODULE,
	.act		= tcf_vmpolice_act,
	.dump		= tcf_vmpolice_dump,
	.init		= tcf_vmpolice_init,
	.cleanup	= tcf_vmpolice_cleanup,
	.get_fill_size	= tcf_vmpolice_get_fill_size,
	.size		= sizeof(struct tcf_vmpolice),
};

/*
 * The policer of the vmpolice action @index in @net, for the generic
 * netlink dump, with a reference on the action in *@ap (give it back
 * with vmp_act_put()); NULL if there is no such action.
 */
struct vmp_policer *vmp_act_get(struct net *net, u32 index,
				struct tc_action **ap)
{
	struct tc_action_net *tn = net_generic(net, act_vmpolice_ops.net_id);

	if (!tcf_idr_search(tn, ap, index))
		return NULL;
	return to_vmpolice(*ap)->pol;
}

/* Gives back the reference vmp_act_get() took. */
void vmp_act_put(struct tc_action *a)
{
	tcf_idr_release(a, false);
}

static __net_init int vmpolice_act_init_net(struct net *net)
{
	struct tc_action_net *tn = net_generic(net, act_vmpolice_ops.net_id);

	return tc_action_net_init(net, tn, &act_vmpolice_ops);
}

static void __net_exit vmpolice_act_exit_net(struct list_head *net_list)
{
	tc_action_net_exit(net_list, act_vmpolice_ops.net_id);
}

static struct pernet_operations vmpolice_act_net_ops = {
	.init		= vmpolice_act_init_net,
	.exit_batch	= vmpolice_act_exit_net,
	.id		= &act_vmpolice_ops.net_id,
	.size		= sizeof(struct tc_action_net),
};

/* Returns 0, or -EEXIST (an action of this kind) or -ENOMEM. */
int vmp_act_register(void)
{
	return tcf_register_action(&act_vmpolice_ops, &vmpolice_act_net_ops);
}

void vmp_act_unregister(void)
{
	tcf_unregister_action(&act_vmpolice_ops, &vmpolice_act_net_ops);
}
