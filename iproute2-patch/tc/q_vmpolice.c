// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * q_vmpolice.c		vmpolice qdisc: the vmpolice policer at a device's
 *			egress, one class (and child qdisc) per TX queue.
 *
 * Same options as the vmpolice action but for the verdicts: what
 * conforms goes on to the child qdisc, what exceeds is dropped.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils.h"
#include "tc_util.h"
#include "tc_vmpolice_common.h"

static void explain(void)
{
	fprintf(stderr,
		"Usage: ... vmpolice [ rate BPS ] [ burst BYTES ] [ mtu BYTES ] [ peakrate BPS ]\n"
		"		[ pkts_rate SEGMENTS pkts_burst SEGMENTS ] [ overhead BYTES ]\n"
		"		[ mpu BYTES ] [ linklayer TYPE ] [ queue-rate BPS ]\n"
		"		[ queue-burst BYTES ] [ latency TIME [ ecn | noecn ]\n"
		"		[ ecn-threshold TIME ] ]\n"
		"Segments that conform go on to a child qdisc (see tc class show for\n"
		"the classes and their counters); those that exceed are dropped and\n"
		"counted: a qdisc has no conform-exceed.  With a latency, the qdisc\n"
		"is a shaper: it holds what conforms within latency until it does.\n"
		"A rate may also be given as a percentage of the device's speed.\n");
	vmpolice_print_options_help(false);
}

static int vmpolice_parse_qopt(const struct qdisc_util *qu, int argc,
			       char **argv, struct nlmsghdr *n, const char *dev)
{
	struct vmpolice_opt o = {};
	struct rtattr *tail;
	int ret;

	while (argc > 0) {
		ret = vmpolice_parse_opt(&o, &argc, &argv, dev);
		if (ret < 0)
			return -1;
		if (ret > 0)
			continue;

		if (strcmp(*argv, "help") == 0) {
			explain();
			return -1;
		} else if (strcmp(*argv, "conform-exceed") == 0 ||
			   vmpolice_is_verdict(*argv)) {
			fprintf(stderr,
				"vmpolice: \"%s\": a qdisc drops what exceeds; conform-exceed is an action option\n",
				*argv);
			return -1;
		} else if (matches(*argv, "index") == 0) {
			fprintf(stderr,
				"vmpolice: \"%s\": a qdisc is not shared; index is an action option\n",
				*argv);
			return -1;
		}
		fprintf(stderr, "vmpolice: What is \"%s\"?\n", *argv);
		explain();
		return -1;
	}

	tail = addattr_nest(n, 1024, TCA_OPTIONS | NLA_F_NESTED);
	vmpolice_add_opt(n, 1024, &o);
	addattr_nest_end(n, tail);
	return 0;
}

/*
 * Whether the qdisc or class whose options were printed last holds (has
 * a latency): tc prints its xstats next, which do not say.  Taken, and
 * so cleared, by vmpolice_print_xstats().
 */
static bool vmpolice_holding;

static int vmpolice_print_qopt(const struct qdisc_util *qu, FILE *f,
			       struct rtattr *opt)
{
	struct rtattr *tb[TCA_VMPOLICE_MAX + 1];

	vmpolice_holding = false;
	if (!opt)
		return 0;

	parse_rtattr_nested(tb, TCA_VMPOLICE_MAX, opt);
	vmpolice_holding = vmpolice_print_opt(tb) != 0;
	/*
	 * The totals are the xstats; the queues are fetched through the
	 * ifindex and handle the root puts in its options.  Each class of
	 * the multiqueue form is one TX queue, with its own counters.
	 */
	if (show_stats)
		vmpolice_print_queues(" ", tb, 0, vmpolice_holding);
	return 0;
}

/* struct tc_vmpolice_stats, for the qdisc and for each class (TX queue) */
static int vmpolice_print_xstats(const struct qdisc_util *qu, FILE *f,
				 struct rtattr *xstats)
{
	bool holding = vmpolice_holding;

	vmpolice_holding = false;
	if (!xstats)
		return 0;

	vmpolice_print_stats("xstats", " ", xstats, holding);
	return 0;
}

struct qdisc_util vmpolice_qdisc_util = {
	.id		= "vmpolice",
	.parse_qopt	= vmpolice_parse_qopt,
	.print_qopt	= vmpolice_print_qopt,
	.print_xstats	= vmpolice_print_xstats,
	.print_copt	= vmpolice_print_qopt,
};
