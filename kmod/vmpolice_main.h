/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _VMPOLICE_MAIN_H
#define _VMPOLICE_MAIN_H

#include <linux/netlink.h>
#include <linux/types.h>

struct net;
struct Qdisc;
struct sk_buff;
struct tc_action;
struct vmp_policer;

/*
 * What the module's parts give each other (vmpolice_main.c registers
 * them; the charging core they share is vmpolice_core.h).  Each register
 * function returns 0 or a negative errno; each part's comment says which.
 */

/* The tc action "vmpolice" (act_vmpolice.c). */
int vmp_act_register(void);
void vmp_act_unregister(void);
/* The qdisc "vmpolice", single and multiqueue form (sch_vmpolice.c). */
int vmp_sch_register(void);
void vmp_sch_unregister(void);
/* The generic netlink family "vmpolice" (vmpolice_genl.c). */
int vmp_genl_register(void);
void vmp_genl_unregister(void);

/*
 * For the generic netlink dump: the policer of action @index in @net
 * with a reference on the action in *@ap, or NULL; vmp_act_put() gives
 * the reference back.
 */
struct vmp_policer *vmp_act_get(struct net *net, u32 index,
				struct tc_action **ap);
void vmp_act_put(struct tc_action *a);
/*
 * For the generic netlink dump, under RTNL: the root vmpolice qdisc
 * @handle on device @ifindex of @net, or NULL with an extack message;
 * its queues from *@next on into @skb (0 when all were put, -EMSGSIZE
 * when @skb is full, *@next then the first left out).
 */
struct Qdisc *vmp_sch_get(struct net *net, u32 ifindex, u32 handle,
			  struct netlink_ext_ack *extack);
int vmp_sch_queues_put(struct sk_buff *skb, struct Qdisc *sch, u32 *next);

#endif /* _VMPOLICE_MAIN_H */
