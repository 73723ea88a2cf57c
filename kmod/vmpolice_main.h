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

int vmp_act_register(void);
void vmp_act_unregister(void);
int vmp_sch_register(void);
void vmp_sch_unregister(void);
int vmp_genl_register(void);
void vmp_genl_unregister(void);

struct vmp_policer *vmp_act_get(struct net *net, u32 index,
				struct tc_action **ap);
void vmp_act_put(struct tc_action *a);
struct Qdisc *vmp_sch_get(struct net *net, u32 ifindex, u32 handle,
			  struct netlink_ext_ack *extack);
int vmp_sch_queues_put(struct sk_buff *skb, struct Qdisc *sch, u32 *next);

#endif /* _VMPOLICE_MAIN_H */
