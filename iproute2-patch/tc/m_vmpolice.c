// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * m_vmpolice.c		vmpolice action: a guest-aware policer.
 *
 * A drop-in for police: the same words with the same meaning, so that
 * the lines libvirt, Open vSwitch and Neutron run work with "police"
 * replaced by "vmpolice".  In addition a byte rate and a packet rate may
 * be combined, mtu defaults to 64 KiB, queue-rate and queue-burst cap
 * each queue, and the counters are kept per queue.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

#include "utils.h"
#include "tc_util.h"
#include "tc_vmpolice_common.h"

/* conform verdict not given: the kernel's default (ok) applies */
#define VMPOLICE_UNSET	INT_MIN

static void explain(void)
{
	fprintf(stderr,
		"Usage: ... vmpolice [ rate BPS ] [ burst BYTES ] [ mtu BYTES ] [ peakrate BPS ]\n"
		"		[ pkts_rate SEGMENTS pkts_burst SEGMENTS ] [ overhead BYTES ]\n"
		"		[ mpu BYTES ] [ linklayer TYPE ] [ queue-rate BPS ]\n"
		"		[ queue-burst BYTES ] [ latency TIME [ ecn | noecn ]\n"
		"		[ ecn-threshold TIME ] ] [ CONTROL ] [ index INDEX ]\n"
		"       ... vmpolice index INDEX	use the existing action INDEX\n"
		"Where:	CONTROL := conform-exceed EXCEEDACT[/CONFORMACT] | EXCEEDACT\n"
		"	EXCEEDACT/CONFORMACT := { reclassify | drop | shot | pass | ok | pipe |\n"
		"				  continue | goto chain CHAIN_INDEX }\n"
		"	the verdict for segments that exceed (default reclassify, as police)\n"
		"	and for those that conform (default ok)\n"
		"	index INDEX: share one action (one bucket) between filters\n"
		"	latency: at ingress only, and only with the conform verdict ok or\n"
		"	pass (the kernel refuses the rest)\n");
	vmpolice_print_options_help(true);
}

static void usage(void)
{
	explain();
	exit(-1);
}

static int parse_vmpolice_action(const struct action_util *a, int *argc_p,
				 char ***argv_p, int tca_id,
				 struct nlmsghdr *n)
{
	struct tc_vmpolice p = { .action = TC_ACT_RECLASSIFY };
	int conform = VMPOLICE_UNSET;
	struct vmpolice_opt o = {};
	bool have_index = false, have_verdict = false;
	int argc = *argc_p;
	char **argv = *argv_p;
	struct rtattr *tail;
	int ok = 0;
	int ret;

	if (a)		/* as an action, not after a classifier's "vmpolice" */
		NEXT_ARG();

	while (argc > 0) {
		ret = vmpolice_parse_opt(&o, &argc, &argv, NULL);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			ok++;
			continue;
		}

		if (matches(*argv, "index") == 0) {
			NEXT_ARG();
			if (have_index)
				duparg("index", *argv);
			have_index = true;
			if (get_u32(&p.index, *argv, 10))
				invarg("not an action index", *argv);
		} else if (vmpolice_is_verdict(*argv)) {
			if (have_verdict)
				duparg("conform-exceed", *argv);
			have_verdict = true;
			if (parse_action_control(&argc, &argv, &p.action,
						 false))
				return -1;
			ok++;
			continue;
		} else if (strcmp(*argv, "conform-exceed") == 0) {
			NEXT_ARG();
			if (have_verdict)
				duparg("conform-exceed", *argv);
			have_verdict = true;
			if (parse_action_control_slash(&argc, &argv, &p.action,
						       &conform, true)) {
				/* "a/b" fails without a word of its own */
				if (strchr(*argv, '/'))
					fprintf(stderr,
						"vmpolice: bad verdicts \"%s\", want EXCEEDACT[/CONFORMACT]\n",
						*argv);
				return -1;
			}
			ok++;
			continue;
		} else if (strcmp(*argv, "help") == 0) {
			usage();
		} else {
			/* not ours: the filter's or the next action's */
			break;
		}
		NEXT_ARG_FWD();
		ok++;
	}

	if (!ok) {
		explain();
		return -1;
	}

	tail = addattr_nest(n, MAX_MSG, tca_id);
	addattr_l(n, MAX_MSG, TCA_VMPOLICE_PARMS, &p, sizeof(p));
	if (conform != VMPOLICE_UNSET)
		addattr32(n, MAX_MSG, TCA_VMPOLICE_CONFORM, conform);
	vmpolice_add_opt(n, MAX_MSG, &o);
	addattr_nest_end(n, tail);

	*argc_p = argc;
	*argv_p = argv;
	return 0;
}

/*
 * "vmpolice ..." without "action" in front, where a classifier takes
 * "police ...": one vmpolice action as the filter's action list, after
 * which the classifier goes on with its own options, as after police.
 */
int parse_vmpolice(int *argc_p, char ***argv_p, int tca_id, struct nlmsghdr *n)
{
	struct rtattr *tail, *act;
	char **argv;
	int argc;

	/*
	 * police and "action" can't be mixed either (the kernel uses police
	 * and ignores the actions), but here the later action list would
	 * silently replace vmpolice: refuse.
	 */
	for (argc = *argc_p, argv = *argv_p; argc > 0; argc--, argv++) {
		if (strcmp(*argv, "action") == 0) {
			fprintf(stderr,
				"vmpolice: to combine vmpolice with other actions, write it as one of them: \"action vmpolice ...\"\n");
			return -1;
		}
	}

	tail = addattr_nest(n, MAX_MSG, tca_id);
	act = addattr_nest(n, MAX_MSG, 1);
	addattr_l(n, MAX_MSG, TCA_ACT_KIND, "vmpolice", sizeof("vmpolice"));
	if (parse_vmpolice_action(NULL, argc_p, argv_p,
				  TCA_ACT_OPTIONS | NLA_F_NESTED, n))
		return -1;
	addattr_nest_end(n, act);
	addattr_nest_end(n, tail);
	return 0;
}

static int print_vmpolice_action(const struct action_util *a, FILE *f,
				 struct rtattr *arg)
{
	struct rtattr *tb[TCA_VMPOLICE_MAX + 1];
	struct tc_vmpolice *p;
	bool holding;

	print_string(PRINT_ANY, "kind", "%s ", "vmpolice");
	if (!arg)
		return 0;

	parse_rtattr_nested(tb, TCA_VMPOLICE_MAX, arg);
	if (!tb[TCA_VMPOLICE_PARMS] ||
	    RTA_PAYLOAD(tb[TCA_VMPOLICE_PARMS]) < sizeof(*p)) {
		fprintf(stderr, "[missing or short vmpolice parameters]");
		return -1;
	}
	p = RTA_DATA(tb[TCA_VMPOLICE_PARMS]);

	holding = vmpolice_print_opt(tb) != 0;

	open_json_object("exceed");
	print_action_control("conform-exceed ", p->action, "");
	close_json_object();
	if (tb[TCA_VMPOLICE_CONFORM] &&
	    RTA_PAYLOAD(tb[TCA_VMPOLICE_CONFORM]) >= sizeof(__u32)) {
		open_json_object("conform");
		print_action_control("/",
				     rta_getattr_u32(tb[TCA_VMPOLICE_CONFORM]),
				     "");
		close_json_object();
	}

	print_nl();
	print_uint(PRINT_ANY, "index", "\t index %u", p->index);
	print_int(PRINT_ANY, "ref", " ref %d", p->refcnt);
	print_int(PRINT_ANY, "bind", " bind %d", p->bindcnt);

	if (show_stats) {
		if (tb[TCA_VMPOLICE_TM] &&
		    RTA_PAYLOAD(tb[TCA_VMPOLICE_TM]) >= sizeof(struct tcf_t))
			print_tm(RTA_DATA(tb[TCA_VMPOLICE_TM]));
		if (tb[TCA_VMPOLICE_STATS]) {
			print_nl();
			vmpolice_print_stats("totals", "\t ",
					     tb[TCA_VMPOLICE_STATS], holding);
		}
		vmpolice_print_queues("\t ", tb, p->index, holding);
	}
	print_nl();
	return 0;
}

struct action_util vmpolice_action_util = {
	.id = "vmpolice",
	.parse_aopt = parse_vmpolice_action,
	.print_aopt = print_vmpolice_action,
};
