// SPDX-License-Identifier: GPL-2.0
/*
 * vmpolice_genl: the per-queue counters of one policer, as a dump.
 *
 * An action or a qdisc travels in one message of about a page on several
 * kernel paths (filter and action dumps and notifications, qdisc
 * notifications), often with others: 256 queues of counters do not fit
 * there, and the options carry the totals and the number of queues that
 * have seen traffic (TCA_VMPOLICE_QUEUES_OMITTED).  This family's dump
 * pages through the queues, several per message, one TCA_VMPOLICE_QUEUE
 * entry each (vmp_queue_put()).  See the UAPI header for the request.
 */

#include <linux/rtnetlink.h>
#include <net/act_api.h>
#include <net/genetlink.h>
#include <net/sch_generic.h>
#include <net/sock.h>

#include "vmpolice_core.h"
#include "vmpolice_main.h"

/* What the dump keeps in cb->args between its calls. */
enum {
	VMP_GENL_ARG_INDEX,	/* action index, or 0 for a qdisc */
	VMP_GENL_ARG_IFINDEX,
	VMP_GENL_ARG_HANDLE,
	VMP_GENL_ARG_NEXT,	/* first queue not sent yet */
	VMP_GENL_ARG_CHECKED,	/* the request was checked */
};

static const struct nla_policy vmp_genl_policy[VMPOLICE_A_HANDLE + 1] = {
	[VMPOLICE_A_ACT_INDEX]	= NLA_POLICY_MIN(NLA_U32, 1),
	[VMPOLICE_A_IFINDEX]	= NLA_POLICY_MIN(NLA_U32, 1),
	[VMPOLICE_A_HANDLE]	= NLA_POLICY_MIN(NLA_U32, 1),
};

static struct genl_family vmp_genl_family;

/*
 * Check the request and that its policer exists now, so that a wrong
 * one is refused with a reason instead of an empty dump.  Nothing is
 * held between calls: each call looks the policer up again, and one
 * gone meanwhile ends the dump with -ENOENT.
 */
static int vmp_genl_check(struct netlink_callback *cb)
{
	struct nlattr **tb = vmp_genl_dump_attrs(cb);
	struct netlink_ext_ack *extack = cb->extack;
	struct net *net = sock_net(cb->skb->sk);
	struct tc_action *a;
	struct Qdisc *sch;
	u32 ifindex, handle;

	if (tb[VMPOLICE_A_ACT_INDEX]) {
		if (tb[VMPOLICE_A_IFINDEX] || tb[VMPOLICE_A_HANDLE]) {
			NL_SET_ERR_MSG_ATTR(extack, tb[VMPOLICE_A_ACT_INDEX],
					    "give an action index or a device and qdisc handle, not both");
			return -EINVAL;
		}
		cb->args[VMP_GENL_ARG_INDEX] =
			nla_get_u32(tb[VMPOLICE_A_ACT_INDEX]);
		if (!vmp_act_get(net, cb->args[VMP_GENL_ARG_INDEX], &a)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[VMPOLICE_A_ACT_INDEX],
					    "no vmpolice action with this index");
			return -ENOENT;
		}
		vmp_act_put(a);
		cb->args[VMP_GENL_ARG_CHECKED] = 1;
		return 0;
	}
	if (!tb[VMPOLICE_A_IFINDEX] || !tb[VMPOLICE_A_HANDLE]) {
		NL_SET_ERR_MSG(extack,
			       "give an action index, or a device and qdisc handle");
		return -EINVAL;
	}
	ifindex = nla_get_u32(tb[VMPOLICE_A_IFINDEX]);
	handle = nla_get_u32(tb[VMPOLICE_A_HANDLE]);
	if (TC_H_MIN(handle)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[VMPOLICE_A_HANDLE],
				    "a qdisc handle has no minor number");
		return -EINVAL;
	}
	rtnl_lock();
	sch = vmp_sch_get(net, ifindex, handle, extack);
	rtnl_unlock();
	if (!sch)
		return -ENOENT;
	cb->args[VMP_GENL_ARG_IFINDEX] = ifindex;
	cb->args[VMP_GENL_ARG_HANDLE] = handle;
	cb->args[VMP_GENL_ARG_CHECKED] = 1;
	return 0;
}

/*
 * Where genetlink gives a dump's start no extack (6.1), a refusal from
 * here would carry no reason: the first dump call checks instead, and
 * its refusal goes out in NLMSG_DONE with the message.
 */
static int vmp_genl_start(struct netlink_callback *cb)
{
	if (!cb->extack)
		return 0;
	return vmp_genl_check(cb);
}

static int vmp_genl_put_queues(struct sk_buff *skb, struct net *net,
			       struct netlink_callback *cb, u32 *next)
{
	struct tc_action *a;
	struct vmp_policer *p;
	struct Qdisc *sch;
	int err;

	if (cb->args[VMP_GENL_ARG_INDEX]) {
		p = vmp_act_get(net, cb->args[VMP_GENL_ARG_INDEX], &a);
		if (!p)
			return -ENOENT;
		/* the queues' state is read under RCU, as the action's dump */
		rcu_read_lock();
		err = vmp_queues_put_from(skb, p, NULL, NULL, next);
		rcu_read_unlock();
		vmp_act_put(a);
		return err;
	}
	/* the qdisc and what it holds per queue: under RTNL, as its dump */
	rtnl_lock();
	sch = vmp_sch_get(net, cb->args[VMP_GENL_ARG_IFINDEX],
			  cb->args[VMP_GENL_ARG_HANDLE], NULL);
	err = sch ? vmp_sch_queues_put(skb, sch, next) : -ENOENT;
	rtnl_unlock();
	return err;
}

static int vmp_genl_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	u32 next = cb->args[VMP_GENL_ARG_NEXT], first = next;
	struct net *net = sock_net(skb->sk);
	struct nlattr *queues;
	void *hdr;
	int err;

	if (next >= VMPOLICE_MAX_QUEUES)
		return 0;
	if (!cb->args[VMP_GENL_ARG_CHECKED]) {
		err = vmp_genl_check(cb);
		if (err)
			return err;
	}
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
			  cb->nlh->nlmsg_seq, &vmp_genl_family, NLM_F_MULTI,
			  VMPOLICE_CMD_QUEUE_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (cb->args[VMP_GENL_ARG_INDEX]) {
		if (nla_put_u32(skb, VMPOLICE_A_ACT_INDEX,
				cb->args[VMP_GENL_ARG_INDEX]))
			goto cancel;
	} else if (nla_put_u32(skb, VMPOLICE_A_IFINDEX,
			       cb->args[VMP_GENL_ARG_IFINDEX]) ||
		   nla_put_u32(skb, VMPOLICE_A_HANDLE,
			       cb->args[VMP_GENL_ARG_HANDLE])) {
		goto cancel;
	}
	queues = nla_nest_start(skb, VMPOLICE_A_QUEUES);
	if (!queues)
		goto cancel;
	err = vmp_genl_put_queues(skb, net, cb, &next);
	/* a full message goes out and the next call goes on from @next */
	if (err && (err != -EMSGSIZE || next == first)) {
		genlmsg_cancel(skb, hdr);
		return err;
	}
	nla_nest_end(skb, queues);
	genlmsg_end(skb, hdr);
	cb->args[VMP_GENL_ARG_NEXT] = next;
	return skb->len;

cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static const struct genl_ops vmp_genl_ops[] = {
	{
		.cmd		= VMPOLICE_CMD_QUEUE_GET,
		.start		= vmp_genl_start,
		.dumpit		= vmp_genl_dumpit,
		.policy		= vmp_genl_policy,
		.maxattr	= ARRAY_SIZE(vmp_genl_policy) - 1,
	},
};

static struct genl_family vmp_genl_family = {
	.name		= VMPOLICE_GENL_NAME,
	.version	= VMPOLICE_GENL_VERSION,
	.netnsok	= true,
	/* no state of the family's own: RTNL, RCU and references */
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.ops		= vmp_genl_ops,
	.n_ops		= ARRAY_SIZE(vmp_genl_ops),
	.resv_start_op	= VMPOLICE_CMD_QUEUE_GET + 1,
};

/* Returns 0 or genl_register_family()'s error (-EEXIST, -ENOMEM). */
int vmp_genl_register(void)
{
	return genl_register_family(&vmp_genl_family);
}

void vmp_genl_unregister(void)
{
	genl_unregister_family(&vmp_genl_family);
}
