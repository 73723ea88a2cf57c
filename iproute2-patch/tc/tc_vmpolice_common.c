// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tc_vmpolice_common.c	Options and counters shared by the vmpolice
 *			action (m_vmpolice.c) and qdisc (q_vmpolice.c).
 *
 * The words, aliases, abbreviations and units are police's, so that a
 * police command line works with "police" replaced by "vmpolice".  Only
 * the syntax is checked here: whether the values make sense (a zero
 * rate, mtu above 64 KiB, peakrate not above rate, ...) is the kernel's
 * to judge, and its refusal comes back with a message that tc prints.
 */

#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <ctype.h>

#include <linux/genetlink.h>

#include "utils.h"
#include "libgenl.h"
#include "tc_util.h"
#include "tc_vmpolice_common.h"

void vmpolice_print_options_help(bool action)
{
	fprintf(stderr,
		"Options (a byte rate, a packet rate, or both; a packet must conform to each):\n"
		"	rate BPS		byte rate of the aggregate, all queues together\n"
		"	burst BYTES		depth of its bucket (also: buffer, maxburst); default 64Kb,\n"
		"				at most 1Tb\n"
		"	mtu BYTES		largest wire segment, at most 64Kb (also: minburst,\n"
		"				ceiling); default 64Kb; bigger segments exceed\n"
		"	peakrate BPS		rate of a second bucket, mtu deep; must be above rate\n"
		"	pkts_rate SEGMENTS	segments per second (a GSO packet counts each segment)\n"
		"	pkts_burst SEGMENTS	depth of the packet bucket; needed with pkts_rate\n"
		"	overhead BYTES		added to each segment's size, may be negative; default 0\n"
		"	mpu BYTES		smallest size charged for a segment; default 0\n"
		"	linklayer TYPE		ethernet (default), or atm/adsl for ATM cell framing\n"
		"	queue-rate BPS		also cap each %s on its own; default none\n"
		"	queue-burst BYTES	depth of each queue's bucket; default burst\n"
		"	latency TIME		hold a packet that would conform within TIME and send\n"
		"				it when it does (%s);\n"
		"				default 0: what does not conform now exceeds; at most 10s\n"
		"	ecn			mark ECT packets CE when the queue ahead of them\n"
		"				is longer than ecn-threshold (noecn: do not,\n"
		"				the default)\n"
		"	ecn-threshold TIME	at most latency; default latency/4\n"
		"Units:	BPS is a rate: bit, kbit, mbit, gbit, tbit (powers of 1000) or kibit, mibit...;\n"
		"	Bps, kbps, mbps, gbps are BYTES per second: 1024kbps = 8192kbit\n"
		"	BYTES is a size: b, k or kb (1024), m or mb, g or gb, kbit (128 bytes), mbit;\n"
		"	burst and mtu take police's BYTES/CELL too, and ignore the CELL\n"
		"	TIME is a time with a unit: s, ms, us or ns (2s, 5ms, 500us)\n"
		"	TYPE := { ethernet | atm | adsl }\n"
		"Sizes are wire sizes: MAC header, every segment's own headers and payload.\n",
		action ? "queue (RX at ingress, TX at egress)" : "TX queue",
		action ? "at ingress, with the conform verdict ok or pass" :
			 "the qdisc shapes");
}

static const char * const vmpolice_verdicts[] = {
	"reclassify", "drop", "shot", "continue", "pass", "ok", "pipe", "goto",
};

/* The words police takes as a bare exceed verdict, abbreviations included. */
bool vmpolice_is_verdict(const char *word)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vmpolice_verdicts); i++)
		if (matches(word, vmpolice_verdicts[i]) == 0)
			return true;
	return false;
}

static void vmpolice_once(struct vmpolice_opt *o, unsigned int bit,
			  const char *key, const char *arg)
{
	if (o->given & bit)
		duparg(key, arg);
	o->given |= bit;
}

static int vmpolice_get_rate(__u64 *rate, const char *str, const char *dev)
{
	if (dev && strchr(str, '%'))
		return get_percent_rate64(rate, str, dev);
	/* get_rate64() would take "-1", "inf" or "nan" for a number */
	if (!isdigit((unsigned char)*str) && *str != '.')
		return -1;
	return get_rate64(rate, str);
}

static int vmpolice_get_count(__u64 *count, const char *str)
{
	/* get_u64() would take "-1" for 2^64 - 1 */
	if (!isdigit((unsigned char)*str))
		return -1;
	return get_u64(count, str, 10);
}

struct vmpolice_unit {
	const char	*name;
	double		scale;
};

/*
 * A decimal number, digits with at most one point, then one of @units or
 * nothing (*@bare is then true).  No sign, exponent, hexadecimal, "inf"
 * or "nan", all of which strtod() alone would take.  Returns 0 or -1.
 */
static int vmpolice_get_scaled(double *v, bool *bare, const char *str,
			       const struct vmpolice_unit *units, size_t n)
{
	size_t len = strspn(str, "0123456789.");
	char *p;
	size_t i;

	if (!len)
		return -1;
	*v = strtod(str, &p);
	if (p != str + len)	/* ".", "1.2.3", "0x10", "1e3" */
		return -1;
	*bare = !*p;
	if (*bare)
		return 0;
	for (i = 0; i < n; i++) {
		if (strcasecmp(p, units[i].name) == 0) {
			*v *= units[i].scale;
			return 0;
		}
	}
	return -1;
}

/*
 * A size in bytes, with the units police takes (get_size64()'s); not
 * get_size64() itself, which 6.1 lacks, and which takes "-1", "inf",
 * "1e3" and "0x10".  A fraction of a byte, or a size of 2^64 bytes or
 * more, is refused.
 */
static int vmpolice_get_size64(__u64 *size, const char *str)
{
	static const struct vmpolice_unit units[] = {
		{ "b", 1 }, { "k", 1024 }, { "kb", 1024 },
		{ "m", 1048576 }, { "mb", 1048576 },
		{ "g", 1073741824 }, { "gb", 1073741824 },
		{ "kbit", 1024 / 8 }, { "mbit", 1048576 / 8 },
		{ "gbit", 1073741824 / 8 },
	};
	double v;
	bool bare;

	if (vmpolice_get_scaled(&v, &bare, str, units, ARRAY_SIZE(units)))
		return -1;
	if (v >= 18446744073709551616.0 || v != (double)(__u64)v)
		return -1;
	*size = v;
	return 0;
}

/*
 * police takes "burst BYTES/CELL" and "mtu BYTES/CELL", CELL a power of
 * two, the cell size of its rate tables.  vmpolice has no tables: it
 * charges every segment its exact size, so the cell is checked as police
 * checks it and then ignored, and a police line works unchanged.
 */
static void vmpolice_get_size_cell(__u64 *size, char *str)
{
	char *slash = strchr(str, '/');
	int ok = 1;

	if (slash) {
		char *end;
		long cell;

		*slash = '\0';
		cell = strtol(slash + 1, &end, 0);
		ok = end != slash + 1 && !*end && cell > 0 &&
		     cell <= 1L << 30 && !(cell & (cell - 1));
	}
	if (ok)
		ok = !vmpolice_get_size64(size, str);
	if (slash)
		*slash = '/';
	if (!ok)
		invarg("not a size (BYTES or BYTES/CELL, CELL a power of two)",
		       str);
}

static void vmpolice_get_size(__u64 *size, char *str)
{
	if (vmpolice_get_size64(size, str))
		invarg("not a size (BYTES: 1500, 64kb, 1mb, ...)", str);
}

/* A size that the kernel takes as a u32 (mtu, mpu). */
static void vmpolice_get_size32(__u32 *size, __u64 v, const char *str)
{
	if (v > 0xffffffffULL)
		invarg("not a size (BYTES: 1500, 64kb, 1mb, ...)", str);
	*size = v;
}

/*
 * A time in ns: a number and a unit, the units get_time64() takes.  Not
 * get_time64() itself: it truncates (1.001ms gives 1000999ns), takes
 * "-5ms", "inf", "nan" and "1e3ms", and reads a bare number as ns where
 * get_time() (and tbf's latency) read it as us; a bare number other than
 * 0 is refused here.  Too big a time gives ~0.
 */
static int vmpolice_get_time(__u64 *ns, const char *str)
{
	static const struct vmpolice_unit units[] = {
		{ "s", NSEC_PER_SEC }, { "sec", NSEC_PER_SEC },
		{ "secs", NSEC_PER_SEC }, { "ms", NSEC_PER_MSEC },
		{ "msec", NSEC_PER_MSEC }, { "msecs", NSEC_PER_MSEC },
		{ "us", NSEC_PER_USEC }, { "usec", NSEC_PER_USEC },
		{ "usecs", NSEC_PER_USEC }, { "ns", 1 }, { "nsec", 1 },
		{ "nsecs", 1 },
	};
	double t;
	bool bare;

	if (vmpolice_get_scaled(&t, &bare, str, units, ARRAY_SIZE(units)) ||
	    (bare && t != 0))
		return -1;
	*ns = t < 1e19 ? (__u64)(t + 0.5) : ~0ULL;
	return 0;
}

static void vmpolice_get_latency(__u64 *ns, const char *str)
{
	if (vmpolice_get_time(ns, str))
		invarg("not a time (TIME: a number and a unit: 5ms, 500us, 2s)",
		       str);
	if (*ns > VMPOLICE_MAX_LATENCY_NS)
		invarg("more than 10s, the longest latency", str);
}

/*
 * Parse the option at *argv_p.  Returns 1 and moves past it if it is one
 * of the options above, 0 if the word is not (the caller's: a verdict,
 * "index", "help", or the end of our options), -1 on an error already
 * reported.  dev, when not NULL, allows rates as a percentage of its speed.
 */
int vmpolice_parse_opt(struct vmpolice_opt *o, int *argc_p, char ***argv_p,
		       const char *dev)
{
	int argc = *argc_p;
	char **argv = *argv_p;
	unsigned int linklayer;
	__u64 size;

	/* same order as police, so that abbreviations resolve the same */
	if (matches(*argv, "burst") == 0 ||
	    strcmp(*argv, "buffer") == 0 ||
	    strcmp(*argv, "maxburst") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_BURST, "burst", *argv);
		vmpolice_get_size_cell(&o->burst, *argv);
	} else if (strcmp(*argv, "mtu") == 0 ||
		   strcmp(*argv, "minburst") == 0 ||
		   strcmp(*argv, "ceiling") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_MTU, "mtu", *argv);
		vmpolice_get_size_cell(&size, *argv);
		vmpolice_get_size32(&o->mtu, size, *argv);
	} else if (strcmp(*argv, "mpu") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_MPU, "mpu", *argv);
		vmpolice_get_size(&size, *argv);
		vmpolice_get_size32(&o->mpu, size, *argv);
	} else if (strcmp(*argv, "rate") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_RATE, "rate", *argv);
		if (vmpolice_get_rate(&o->rate, *argv, dev))
			invarg("not a rate (BPS: 100mbit, 1024kbps, ...)", *argv);
	} else if (strcmp(*argv, "avrate") == 0) {
		fprintf(stderr,
			"vmpolice: \"avrate\" is not supported: vmpolice polices with token buckets (rate, peakrate, pkts_rate), not against a rate estimator\n");
		return -1;
	} else if (matches(*argv, "peakrate") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_PEAKRATE, "peakrate", *argv);
		if (vmpolice_get_rate(&o->peakrate, *argv, dev))
			invarg("not a rate (BPS: 100mbit, 1024kbps, ...)", *argv);
	} else if (vmpolice_is_verdict(*argv) ||
		   strcmp(*argv, "conform-exceed") == 0) {
		return 0;
	} else if (matches(*argv, "overhead") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_OVERHEAD, "overhead", *argv);
		if (get_s32(&o->overhead, *argv, 10))
			invarg("not a number of bytes", *argv);
	} else if (matches(*argv, "linklayer") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_LINKLAYER, "linklayer", *argv);
		if (get_linklayer(&linklayer, *argv))
			invarg("not a link layer (ethernet, atm, adsl)", *argv);
		o->linklayer = linklayer == LINKLAYER_ATM ?
			       TC_LINKLAYER_ATM : TC_LINKLAYER_ETHERNET;
	} else if (matches(*argv, "pkts_rate") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_PKTS_RATE, "pkts_rate", *argv);
		if (vmpolice_get_count(&o->pkts_rate, *argv))
			invarg("not a number of segments per second", *argv);
	} else if (matches(*argv, "pkts_burst") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_PKTS_BURST, "pkts_burst", *argv);
		if (vmpolice_get_count(&o->pkts_burst, *argv))
			invarg("not a number of segments", *argv);
	} else if (strcmp(*argv, "queue-rate") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_QRATE, "queue-rate", *argv);
		if (vmpolice_get_rate(&o->qrate, *argv, dev))
			invarg("not a rate (BPS: 100mbit, 1024kbps, ...)", *argv);
	} else if (strcmp(*argv, "queue-burst") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_QBURST, "queue-burst", *argv);
		vmpolice_get_size(&o->qburst, *argv);
	} else if (strcmp(*argv, "latency") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_LATENCY, "latency", *argv);
		vmpolice_get_latency(&o->latency, *argv);
	} else if (strcmp(*argv, "ecn") == 0 || strcmp(*argv, "noecn") == 0) {
		vmpolice_once(o, VMP_ECN, "ecn", *argv);
		o->ecn = strcmp(*argv, "ecn") == 0;
	} else if (strcmp(*argv, "ecn-threshold") == 0) {
		NEXT_ARG();
		vmpolice_once(o, VMP_ECN_THRESH, "ecn-threshold", *argv);
		vmpolice_get_latency(&o->ecn_thresh, *argv);
	} else {
		return 0;
	}

	NEXT_ARG_FWD();
	*argc_p = argc;
	*argv_p = argv;
	return 1;
}

/*
 * A burst of 32 bits as the u32 attribute, which every vmpolice module
 * takes; a larger one as the 64-bit attribute, which the kernel checks
 * against its limit (VMPOLICE_MAX_BURST).
 */
static void vmpolice_add_bytes(struct nlmsghdr *n, int maxlen, int attr,
			       int attr64, __u64 v)
{
	if (v > 0xffffffffULL)
		addattr64(n, maxlen, attr64, v);
	else
		addattr32(n, maxlen, attr, v);
}

/* Only what the user gave: the kernel applies its defaults to the rest. */
void vmpolice_add_opt(struct nlmsghdr *n, int maxlen,
		      const struct vmpolice_opt *o)
{
	if (o->given & VMP_RATE)
		addattr64(n, maxlen, TCA_VMPOLICE_RATE64, o->rate);
	if (o->given & VMP_BURST)
		vmpolice_add_bytes(n, maxlen, TCA_VMPOLICE_BURST,
				   TCA_VMPOLICE_BURST64, o->burst);
	if (o->given & VMP_MTU)
		addattr32(n, maxlen, TCA_VMPOLICE_MTU, o->mtu);
	if (o->given & VMP_PEAKRATE)
		addattr64(n, maxlen, TCA_VMPOLICE_PEAKRATE64, o->peakrate);
	if (o->given & VMP_PKTS_RATE)
		addattr64(n, maxlen, TCA_VMPOLICE_PKTRATE64, o->pkts_rate);
	if (o->given & VMP_PKTS_BURST)
		addattr64(n, maxlen, TCA_VMPOLICE_PKTBURST64, o->pkts_burst);
	if (o->given & VMP_OVERHEAD)
		addattr32(n, maxlen, TCA_VMPOLICE_OVERHEAD, (__u32)o->overhead);
	if (o->given & VMP_MPU)
		addattr32(n, maxlen, TCA_VMPOLICE_MPU, o->mpu);
	if (o->given & VMP_LINKLAYER)
		addattr8(n, maxlen, TCA_VMPOLICE_LINKLAYER, o->linklayer);
	if (o->given & VMP_QRATE)
		addattr64(n, maxlen, TCA_VMPOLICE_QRATE64, o->qrate);
	if (o->given & VMP_QBURST)
		vmpolice_add_bytes(n, maxlen, TCA_VMPOLICE_QBURST,
				   TCA_VMPOLICE_QBURST64, o->qburst);
	if (o->given & VMP_LATENCY)
		addattr64(n, maxlen, TCA_VMPOLICE_LATENCY64, o->latency);
	if (o->given & VMP_ECN)
		addattr8(n, maxlen, TCA_VMPOLICE_ECN, o->ecn);
	if (o->given & VMP_ECN_THRESH)
		addattr64(n, maxlen, TCA_VMPOLICE_ECN_THRESH64, o->ecn_thresh);
}

/*
 * A size as police prints its burst: whole Gb, Mb or Kb when it is that
 * within 1024 bytes (16 bytes for Kb), else bytes.  Not print_size():
 * 6.1's takes 32 bits and has no Gb, and 7.1.0's JSON takes 32 bits.
 * Where police would print a million units or more as %g does
 * ("1.04858e+06Mb"), this prints them whole.
 */
static const char *vmpolice_sprint_size(__u64 sz, char *buf)
{
	static const struct {
		__u64		unit;
		__u64		slack;
		const char	*name;
	} units[] = {
		{ 1ULL << 30, 1024, "Gb" }, { 1ULL << 20, 1024, "Mb" },
		{ 1ULL << 10, 16, "Kb" },
	};
	__u64 n, off;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (sz < units[i].unit)
			continue;
		n = sz / units[i].unit;
		off = sz % units[i].unit;
		if (off >= units[i].unit / 2) {
			n++;
			off = units[i].unit - off;
		}
		if (off < units[i].slack) {
			snprintf(buf, SPRINT_BSIZE, "%llu%s",
				 (unsigned long long)n, units[i].name);
			return buf;
		}
	}
	snprintf(buf, SPRINT_BSIZE, "%llub", (unsigned long long)sz);
	return buf;
}

/* A 64-bit burst: text as police prints it, JSON in bytes. */
static void vmpolice_print_bytes(const char *key, const char *fmt, __u64 v)
{
	SPRINT_BUF(b);

	print_u64(PRINT_JSON, key, NULL, v);
	print_string(PRINT_FP, NULL, fmt, vmpolice_sprint_size(v, b));
}

/*
 * A burst from the kernel: the 64-bit attribute if there is one, else
 * the u32 one (a module from before 64-bit bursts, or a value of 32
 * bits).  Returns false if there is neither.
 */
static bool vmpolice_get_burst(struct rtattr *tb[], int attr, int attr64,
			       __u64 *v)
{
	if (tb[attr64] && RTA_PAYLOAD(tb[attr64]) >= sizeof(__u64)) {
		*v = rta_getattr_u64(tb[attr64]);
		return true;
	}
	if (tb[attr] && RTA_PAYLOAD(tb[attr]) >= sizeof(__u32)) {
		*v = rta_getattr_u32(tb[attr]);
		return true;
	}
	return false;
}

static bool vmpolice_has(const struct rtattr *rta, size_t len)
{
	return rta && RTA_PAYLOAD(rta) >= len;
}

/*
 * Every parameter the kernel reports, in text and JSON alike; the latency
 * (0: a pure policer) is returned.  Without a latency, ecn-threshold is
 * not printed: what it would be is no part of what is configured.
 */
__u64 vmpolice_print_opt(struct rtattr *tb[])
{
	__u64 latency = 0, burst;
	bool ecn = false;

	SPRINT_BUF(b);

	if (vmpolice_has(tb[TCA_VMPOLICE_RATE64], sizeof(__u64)))
		tc_print_rate(PRINT_ANY, "rate", "rate %s ",
			      rta_getattr_u64(tb[TCA_VMPOLICE_RATE64]));
	if (vmpolice_get_burst(tb, TCA_VMPOLICE_BURST, TCA_VMPOLICE_BURST64,
			       &burst))
		vmpolice_print_bytes("burst", "burst %s ", burst);
	if (vmpolice_has(tb[TCA_VMPOLICE_MTU], sizeof(__u32)))
		print_size(PRINT_ANY, "mtu", "mtu %s ",
			   rta_getattr_u32(tb[TCA_VMPOLICE_MTU]));
	if (vmpolice_has(tb[TCA_VMPOLICE_PEAKRATE64], sizeof(__u64)))
		tc_print_rate(PRINT_ANY, "peakrate", "peakrate %s ",
			      rta_getattr_u64(tb[TCA_VMPOLICE_PEAKRATE64]));
	if (vmpolice_has(tb[TCA_VMPOLICE_PKTRATE64], sizeof(__u64)))
		print_u64(PRINT_ANY, "pkts_rate", "pkts_rate %llu ",
			  rta_getattr_u64(tb[TCA_VMPOLICE_PKTRATE64]));
	if (vmpolice_has(tb[TCA_VMPOLICE_PKTBURST64], sizeof(__u64)))
		print_u64(PRINT_ANY, "pkts_burst", "pkts_burst %llu ",
			  rta_getattr_u64(tb[TCA_VMPOLICE_PKTBURST64]));
	if (vmpolice_has(tb[TCA_VMPOLICE_OVERHEAD], sizeof(__s32)))
		print_int(PRINT_ANY, "overhead", "overhead %d ",
			  rta_getattr_s32(tb[TCA_VMPOLICE_OVERHEAD]));
	if (vmpolice_has(tb[TCA_VMPOLICE_MPU], sizeof(__u32)))
		print_size(PRINT_ANY, "mpu", "mpu %s ",
			   rta_getattr_u32(tb[TCA_VMPOLICE_MPU]));
	if (vmpolice_has(tb[TCA_VMPOLICE_LINKLAYER], sizeof(__u8))) {
		__u8 ll = rta_getattr_u8(tb[TCA_VMPOLICE_LINKLAYER]);

		print_string(PRINT_ANY, "linklayer", "linklayer %s ",
			     sprint_linklayer(ll == TC_LINKLAYER_ATM ?
					      LINKLAYER_ATM :
					      ll == TC_LINKLAYER_ETHERNET ?
					      LINKLAYER_ETHERNET : 255, b));
	}
	if (vmpolice_has(tb[TCA_VMPOLICE_QRATE64], sizeof(__u64)))
		tc_print_rate(PRINT_ANY, "queue_rate", "queue-rate %s ",
			      rta_getattr_u64(tb[TCA_VMPOLICE_QRATE64]));
	if (vmpolice_get_burst(tb, TCA_VMPOLICE_QBURST, TCA_VMPOLICE_QBURST64,
			       &burst))
		vmpolice_print_bytes("queue_burst", "queue-burst %s ", burst);

	if (vmpolice_has(tb[TCA_VMPOLICE_LATENCY64], sizeof(__u64)))
		latency = rta_getattr_u64(tb[TCA_VMPOLICE_LATENCY64]);
	if (vmpolice_has(tb[TCA_VMPOLICE_ECN], sizeof(__u8)))
		ecn = rta_getattr_u8(tb[TCA_VMPOLICE_ECN]);
	if (latency) {
		print_u64(PRINT_JSON, "latency", NULL, latency);
		print_string(PRINT_FP, NULL, "latency %s ",
			     sprint_time64(latency, b));
	}
	if (ecn)
		print_bool(PRINT_ANY, "ecn", "ecn ", true);
	else if (latency)
		print_bool(PRINT_JSON, "ecn", NULL, false);
	if (latency &&
	    vmpolice_has(tb[TCA_VMPOLICE_ECN_THRESH64], sizeof(__u64))) {
		__u64 thresh = rta_getattr_u64(tb[TCA_VMPOLICE_ECN_THRESH64]);

		print_u64(PRINT_JSON, "ecn_threshold", NULL, thresh);
		print_string(PRINT_FP, NULL, "ecn-threshold %s ",
			     sprint_time64(thresh, b));
	}
	return latency;
}

static void vmpolice_get_stats(struct tc_vmpolice_stats *st,
			       const struct rtattr *rta)
{
	size_t len = RTA_PAYLOAD(rta);

	/* an older or newer kernel may send fewer or more counters */
	memset(st, 0, sizeof(*st));
	memcpy(st, RTA_DATA(rta), len < sizeof(*st) ? len : sizeof(*st));
}

/* Whether any of the counters of holding is not zero. */
static bool vmpolice_held_any(const struct tc_vmpolice_stats *st)
{
	return st->held || st->held_bytes || st->released || st->overlimit ||
	       st->flushed || st->ce_marked || st->backlog ||
	       st->backlog_bytes || st->max_hold_ns;
}

/*
 * Totals: a JSON object named key, two lines of text after prefix, and a
 * third for holding when holding (a latency is configured) or when any of
 * its counters is not zero.  JSON always has every counter.
 */
void vmpolice_print_stats(const char *key, const char *prefix,
			  const struct rtattr *rta, bool holding)
{
	struct tc_vmpolice_stats st;
	enum output_type t;

	SPRINT_BUF(b);

	vmpolice_get_stats(&st, rta);
	open_json_object(key);
	print_string(PRINT_FP, NULL, "%s", prefix);
	print_u64(PRINT_ANY, "packets", "seen %llu pkt ", st.packets);
	print_u64(PRINT_ANY, "bytes", "%llu bytes ", st.bytes);
	print_u64(PRINT_ANY, "segments", "%llu segments ", st.segments);
	print_u64(PRINT_ANY, "partial", "partial %llu ", st.partial);
	print_u64(PRINT_ANY, "malformed", "malformed %llu ", st.malformed);
	print_u64(PRINT_ANY, "dodgy", "dodgy %llu", st.dodgy);
	print_nl();
	print_string(PRINT_FP, NULL, "%s", prefix);
	print_u64(PRINT_ANY, "conformed", "conformed %llu segments ",
		  st.conformed);
	print_u64(PRINT_ANY, "conformed_bytes", "%llu bytes ",
		  st.conformed_bytes);
	print_u64(PRINT_ANY, "exceeded", "exceeded %llu segments ",
		  st.exceeded);
	print_u64(PRINT_ANY, "exceeded_bytes", "%llu bytes",
		  st.exceeded_bytes);

	t = holding || vmpolice_held_any(&st) ? PRINT_ANY : PRINT_JSON;
	if (t == PRINT_ANY) {
		print_nl();
		print_string(PRINT_FP, NULL, "%s", prefix);
	}
	print_u64(t, "held", "held %llu pkt ", st.held);
	print_u64(t, "held_bytes", "%llu bytes ", st.held_bytes);
	print_u64(t, "released", "released %llu ", st.released);
	print_u64(t, "overlimit", "overlimit %llu ", st.overlimit);
	print_u64(t, "flushed", "flushed %llu ", st.flushed);
	print_u64(t, "ce_marked", "ce %llu ", st.ce_marked);
	print_u64(t, "backlog", "backlog %llup ", st.backlog);
	print_u64(t, "backlog_bytes", "%llub ", st.backlog_bytes);
	print_u64(PRINT_JSON, "max_hold_ns", NULL, st.max_hold_ns);
	if (t == PRINT_ANY)
		print_string(PRINT_FP, NULL, "max_hold %s",
			     sprint_time64(st.max_hold_ns, b));
	close_json_object();
}

static const struct {
	const char	*key;
	const char	*title;
	int		width;
	bool		hold;	/* a counter of holding */
	bool		time;	/* ns, printed as a time in text */
	size_t		offset;
} vmpolice_columns[] = {
#define COL(key, title, width, hold, time) \
	{ #key, title, width, hold, time, \
	  offsetof(struct tc_vmpolice_stats, key) }
	COL(packets,		"packets",	10, false, false),
	COL(bytes,		"bytes",	14, false, false),
	COL(segments,		"segments",	10, false, false),
	COL(conformed,		"conformed",	10, false, false),
	COL(conformed_bytes,	"(bytes)",	14, false, false),
	COL(exceeded,		"exceeded",	10, false, false),
	COL(exceeded_bytes,	"(bytes)",	14, false, false),
	COL(partial,		"partial",	9, false, false),
	COL(malformed,		"malformed",	9, false, false),
	COL(dodgy,		"dodgy",	9, false, false),
	COL(held,		"held",		10, true, false),
	COL(held_bytes,		"(bytes)",	14, true, false),
	COL(released,		"released",	10, true, false),
	COL(overlimit,		"overlimit",	10, true, false),
	COL(flushed,		"flushed",	9, true, false),
	COL(ce_marked,		"ce",		9, true, false),
	COL(backlog,		"backlog",	9, true, false),
	COL(backlog_bytes,	"(bytes)",	14, true, false),
	COL(max_hold_ns,	"max_hold",	9, true, true),
#undef COL
};

/* One TCA_VMPOLICE_QUEUE entry: its id and counters, false if not one. */
static bool vmpolice_get_queue(const struct rtattr *q, __u32 *id,
			       struct tc_vmpolice_stats *st)
{
	struct rtattr *tb[TCA_VMPOLICE_QUEUE_MAX + 1];

	if ((q->rta_type & ~NLA_F_NESTED) != TCA_VMPOLICE_QUEUE)
		return false;
	parse_rtattr_nested(tb, TCA_VMPOLICE_QUEUE_MAX, q);
	if (!vmpolice_has(tb[TCA_VMPOLICE_QUEUE_ID], sizeof(__u32)) ||
	    !tb[TCA_VMPOLICE_QUEUE_STATS])
		return false;
	*id = rta_getattr_u32(tb[TCA_VMPOLICE_QUEUE_ID]);
	vmpolice_get_stats(st, tb[TCA_VMPOLICE_QUEUE_STATS]);
	return true;
}

/*
 * Active queues whose counters the kernel's message does not carry
 * (TCA_VMPOLICE_QUEUES_OMITTED) and tc could not fetch (the policer is
 * gone, or the module has no generic netlink family): their count, in
 * JSON as "queues_omitted".
 */
static void vmpolice_print_omitted(const char *prefix,
				   const struct rtattr *attr)
{
	__u32 n;

	if (!vmpolice_has(attr, sizeof(__u32)))
		return;
	n = rta_getattr_u32(attr);
	if (!n)
		return;
	print_nl();
	print_string(PRINT_FP, NULL, "%s", prefix);
	print_uint(PRINT_ANY, "queues_omitted", "queues omitted %u", n);
}

/* Every queue's counters, from the options or from the dump below. */
struct vmpolice_queues {
	unsigned int	n;
	struct {
		__u32				id;
		struct tc_vmpolice_stats	st;
	} q[VMPOLICE_MAX_QUEUES];
};

static void vmpolice_queues_add(struct vmpolice_queues *qs,
				const struct rtattr *queues)
{
	struct rtattr *q;

	rtattr_for_each_nested(q, queues) {
		if (qs->n == VMPOLICE_MAX_QUEUES)
			return;
		if (vmpolice_get_queue(q, &qs->q[qs->n].id, &qs->q[qs->n].st))
			qs->n++;
	}
}

/*
 * The kernel's own dump of every queue (generic netlink family
 * VMPOLICE_GENL_NAME), for when the message that carried the action left
 * queues out.  One socket for the whole run, in tc's network namespace;
 * a module without the family is asked once, silently.
 */
static struct rtnl_handle vmpolice_grth = { .fd = -1 };
static int vmpolice_genl_id = -1;	/* 0: none */

static int vmpolice_genl_resolve(void)
{
	GENL_REQUEST(req, 128, GENL_ID_CTRL, 0, 0, CTRL_CMD_GETFAMILY,
		     NLM_F_REQUEST);
	struct rtattr *tb[CTRL_ATTR_MAX + 1];
	struct nlmsghdr *answer;
	int len, id = 0;

	if (rtnl_open_byproto(&vmpolice_grth, 0, NETLINK_GENERIC) < 0)
		return 0;
	vmpolice_grth.flags |= RTNL_HANDLE_F_SUPPRESS_NLERR;
	addattr_l(&req.n, sizeof(req), CTRL_ATTR_FAMILY_NAME,
		  VMPOLICE_GENL_NAME, sizeof(VMPOLICE_GENL_NAME));
	if (rtnl_talk_suppress_rtnl_errmsg(&vmpolice_grth, &req.n,
					   &answer) < 0)
		return 0;
	len = answer->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	if (len >= 0) {
		parse_rtattr(tb, CTRL_ATTR_MAX,
			     (void *)((char *)NLMSG_DATA(answer) + GENL_HDRLEN),
			     len);
		if (tb[CTRL_ATTR_FAMILY_ID])
			id = rta_getattr_u16(tb[CTRL_ATTR_FAMILY_ID]);
	}
	free(answer);
	return id;
}

static int vmpolice_genl_queue(struct nlmsghdr *n, void *arg)
{
	struct rtattr *tb[VMPOLICE_A_MAX + 1];
	int len = n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

	if (n->nlmsg_type != vmpolice_genl_id || len < 0)
		return 0;
	parse_rtattr_flags(tb, VMPOLICE_A_MAX,
			   (void *)((char *)NLMSG_DATA(n) + GENL_HDRLEN), len,
			   NLA_F_NESTED);
	if (tb[VMPOLICE_A_QUEUES])
		vmpolice_queues_add(arg, tb[VMPOLICE_A_QUEUES]);
	return 0;
}

/*
 * A refusal (the qdisc or action gone by the time a notification of its
 * deletion is printed) is not an error of tc's: say nothing, and print
 * the omitted count instead.  A refusal in the start's ack (NLMSG_ERROR)
 * is silenced by the handle's RTNL_HANDLE_F_SUPPRESS_NLERR and fails the
 * dump; one in NLMSG_DONE (6.1) is silenced here and noted in @arg (not
 * NLMSG_ERROR's: suppressed, the dump would wait for a DONE that never
 * comes).
 */
static int vmpolice_genl_err(struct nlmsghdr *n, void *arg)
{
	*(bool *)arg = true;
	return RTNL_SUPPRESS_NLMSG_DONE_NLERR;
}

/*
 * Every queue into @qs of action @index or, if 0, of the qdisc with
 * handle @handle on device @ifindex; false if that cannot be had.
 */
static bool vmpolice_genl_queues(struct vmpolice_queues *qs, __u32 index,
				 __u32 ifindex, __u32 handle)
{
	GENL_REQUEST(req, 128, 0, 0, VMPOLICE_GENL_VERSION,
		     VMPOLICE_CMD_QUEUE_GET, NLM_F_REQUEST | NLM_F_DUMP);
	bool refused = false;

	if (vmpolice_genl_id < 0)
		vmpolice_genl_id = vmpolice_genl_resolve();
	if (!vmpolice_genl_id)
		return false;
	req.n.nlmsg_type = vmpolice_genl_id;
	if (index) {
		addattr32(&req.n, sizeof(req), VMPOLICE_A_ACT_INDEX, index);
	} else {
		addattr32(&req.n, sizeof(req), VMPOLICE_A_IFINDEX, ifindex);
		addattr32(&req.n, sizeof(req), VMPOLICE_A_HANDLE, handle);
	}
	qs->n = 0;
	if (rtnl_dump_request_n(&vmpolice_grth, &req.n) < 0 ||
	    rtnl_dump_filter_errhndlr(&vmpolice_grth, vmpolice_genl_queue, qs,
				      vmpolice_genl_err, &refused) < 0)
		return false;
	return !refused;
}

/*
 * Where the kernel's dump finds the queues whose counters a message
 * omits: the action @index, else the qdisc whose options name its device
 * and handle.
 */
static bool vmpolice_fetch_queues(struct vmpolice_queues *qs,
				  struct rtattr *tb[], __u32 index)
{
	const struct rtattr *omitted = tb[TCA_VMPOLICE_QUEUES_OMITTED];
	const struct rtattr *ifindex = tb[TCA_VMPOLICE_IFINDEX];
	const struct rtattr *handle = tb[TCA_VMPOLICE_HANDLE];

	if (!vmpolice_has(omitted, sizeof(__u32)) || !rta_getattr_u32(omitted))
		return false;
	if (index)
		return vmpolice_genl_queues(qs, index, 0, 0);
	if (!vmpolice_has(ifindex, sizeof(__u32)) ||
	    !vmpolice_has(handle, sizeof(__u32)) ||
	    !rta_getattr_u32(ifindex) || !rta_getattr_u32(handle))
		return false;
	return vmpolice_genl_queues(qs, 0, rta_getattr_u32(ifindex),
				    rta_getattr_u32(handle));
}

/*
 * Per-queue counters: a JSON array "queues" of objects (empty when no
 * queue has seen traffic), and in text a table, one row per queue, each
 * line started (not ended) with a newline.  The columns of holding are in
 * the text when holding or when a queue has one of them not zero; JSON
 * always has every counter.  When the kernel's message says queues have
 * seen traffic (QUEUES_OMITTED) and @index names the action, or (a
 * qdisc's, @index 0) tb has its ifindex and handle, every queue is asked
 * for through the generic netlink dump and listed; without that, what
 * the message itself lists (an older module's), and the count of the
 * rest.
 */
void vmpolice_print_queues(const char *prefix, struct rtattr *tb[],
			   __u32 index, bool holding)
{
	static struct vmpolice_queues qs;
	const struct rtattr *omitted = tb[TCA_VMPOLICE_QUEUES_OMITTED];
	char fmt[16];
	size_t i, k;

	SPRINT_BUF(b);

	if (vmpolice_fetch_queues(&qs, tb, index)) {
		omitted = NULL;
	} else {
		qs.n = 0;
		if (tb[TCA_VMPOLICE_QUEUES])
			vmpolice_queues_add(&qs, tb[TCA_VMPOLICE_QUEUES]);
	}

	for (k = 0; k < qs.n && !holding; k++)
		holding = vmpolice_held_any(&qs.q[k].st);

	open_json_array(PRINT_JSON, "queues");
	for (k = 0; k < qs.n; k++) {
		const struct tc_vmpolice_stats *st = &qs.q[k].st;

		if (!k && !is_json_context()) {
			print_nl();
			printf("%s%5s", prefix, "queue");
			for (i = 0; i < ARRAY_SIZE(vmpolice_columns); i++)
				if (holding || !vmpolice_columns[i].hold)
					printf(" %*s", vmpolice_columns[i].width,
					       vmpolice_columns[i].title);
		}

		print_nl();
		open_json_object(NULL);
		print_string(PRINT_FP, NULL, "%s", prefix);
		print_uint(PRINT_ANY, "queue", "%5u", qs.q[k].id);
		for (i = 0; i < ARRAY_SIZE(vmpolice_columns); i++) {
			enum output_type t = PRINT_ANY;
			int w = vmpolice_columns[i].width;
			__u64 v;

			memcpy(&v, (char *)st + vmpolice_columns[i].offset,
			       sizeof(v));
			if (vmpolice_columns[i].hold && !holding)
				t = PRINT_JSON;
			if (vmpolice_columns[i].time) {
				print_u64(PRINT_JSON, vmpolice_columns[i].key,
					  NULL, v);
				snprintf(fmt, sizeof(fmt), " %%%ds", w);
				if (t == PRINT_ANY)
					print_string(PRINT_FP, NULL, fmt,
						     sprint_time64(v, b));
				continue;
			}
			snprintf(fmt, sizeof(fmt), " %%%dllu", w);
			print_u64(t, vmpolice_columns[i].key, fmt, v);
		}
		close_json_object();
	}
	close_json_array(PRINT_JSON, NULL);
	vmpolice_print_omitted(prefix, omitted);
}
