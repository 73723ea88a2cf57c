/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef _TC_VMPOLICE_COMMON_H_
#define _TC_VMPOLICE_COMMON_H_

#include <stdbool.h>
#include <linux/types.h>
#include <linux/tc_vmpolice.h>

#include "libnetlink.h"

/* The options the action and the qdisc share, as the user gave them. */
struct vmpolice_opt {
	unsigned int	given;		/* VMP_* bits */
	__u64		rate;		/* bytes/s */
	__u64		peakrate;	/* bytes/s */
	__u64		pkts_rate;	/* segments/s */
	__u64		pkts_burst;	/* segments */
	__u64		qrate;		/* bytes/s */
	__u64		latency;	/* ns */
	__u64		ecn_thresh;	/* ns */
	__u64		burst;		/* bytes */
	__u64		qburst;		/* bytes */
	__u32		mtu;		/* bytes */
	__u32		mpu;		/* bytes */
	__s32		overhead;	/* bytes */
	__u8		linklayer;	/* TC_LINKLAYER_* */
	__u8		ecn;		/* 0 or 1 */
};

enum {
	VMP_RATE	= 1 << 0,
	VMP_BURST	= 1 << 1,
	VMP_MTU		= 1 << 2,
	VMP_PEAKRATE	= 1 << 3,
	VMP_PKTS_RATE	= 1 << 4,
	VMP_PKTS_BURST	= 1 << 5,
	VMP_OVERHEAD	= 1 << 6,
	VMP_MPU		= 1 << 7,
	VMP_LINKLAYER	= 1 << 8,
	VMP_QRATE	= 1 << 9,
	VMP_QBURST	= 1 << 10,
	VMP_LATENCY	= 1 << 11,
	VMP_ECN		= 1 << 12,
	VMP_ECN_THRESH	= 1 << 13,
};

/*
 * Shared by the action (m_vmpolice.c) and the qdisc (q_vmpolice.c); the
 * full contract of each is at its definition in tc_vmpolice_common.c.
 */

/* The options' part of the usage text; @action adds the action's own. */
void vmpolice_print_options_help(bool action);
/* Whether @word is a verdict police takes bare (abbreviations too). */
bool vmpolice_is_verdict(const char *word);
/* 1: an option parsed, 0: not ours, -1: an error already reported. */
int vmpolice_parse_opt(struct vmpolice_opt *o, int *argc_p, char ***argv_p,
		       const char *dev);
/* The attributes of what the user gave, into @n (at most @maxlen). */
void vmpolice_add_opt(struct nlmsghdr *n, int maxlen,
		      const struct vmpolice_opt *o);
/* Every parameter in @tb, text and JSON; returns the latency in ns. */
__u64 vmpolice_print_opt(struct rtattr *tb[]);
/* The totals (struct tc_vmpolice_stats in @attr) under @key. */
void vmpolice_print_stats(const char *key, const char *prefix,
			  const struct rtattr *attr, bool holding);
/*
 * The per-queue table, fetched with the generic netlink dump for action
 * @index or (@index 0) the qdisc whose ifindex and handle @tb has.
 */
void vmpolice_print_queues(const char *prefix, struct rtattr *tb[],
			   __u32 index, bool holding);

#endif
