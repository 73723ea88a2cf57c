/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vmpolice: a guest-aware policer, as a tc action and as a qdisc.
 *
 * Both take the same TCA_VMPOLICE_* attributes: the action inside
 * TCA_ACT_OPTIONS, the qdisc inside TCA_OPTIONS.  Attributes marked
 * "action only" are refused by the qdisc; "dump only" ones are refused
 * on input.
 */
#ifndef _UAPI_LINUX_TC_VMPOLICE_H
#define _UAPI_LINUX_TC_VMPOLICE_H

#include <linux/types.h>
#include <linux/pkt_cls.h>

/* Largest wire segment the policer admits; also the default "mtu". */
#define VMPOLICE_MAX_MTU	65536U

/* Per-queue state slots; queue N uses slot N % VMPOLICE_MAX_QUEUES. */
#define VMPOLICE_MAX_QUEUES	256U

/*
 * Largest burst and queue-burst, in bytes: 1 TiB (2^40), eleven seconds
 * at 800 Gbit/s.  A burst is also refused if it lasts more than about 73
 * years (2^61 ns) at its rate.
 */
#define VMPOLICE_MAX_BURST	1099511627776ULL

/* Longest "latency" (delay budget) a policer accepts: 10 s, in ns. */
#define VMPOLICE_MAX_LATENCY_NS	10000000000ULL

/* action only: index, exceed verdict (action), refcnt, bindcnt */
struct tc_vmpolice {
	tc_gen;
};

/*
 * Counters, per queue and in total.  A "segment" is one frame on the
 * wire: a GSO packet of N segments counts 1 packet and N segments.
 * Bytes are wire bytes: MAC header plus every segment's own headers and
 * payload, without the configured overhead.  (An SCTP GSO packet whose
 * segments differ in length counts each as its longest, as it is
 * charged: Documentation, "What a packet costs".)
 */
struct tc_vmpolice_stats {
	__u64	packets;	/* packets seen */
	__u64	bytes;		/* wire bytes seen */
	__u64	segments;	/* wire segments seen */
	__u64	conformed;	/* segments admitted */
	__u64	conformed_bytes;
	__u64	exceeded;	/* segments refused */
	__u64	exceeded_bytes;
	__u64	partial;	/* GSO packets cut to their conforming head */
	__u64	malformed;	/* packets with impossible GSO metadata */
	__u64	dodgy;		/* GSO packets from an untrusted source
				 * (SKB_GSO_DODGY: a guest), their
				 * segments recounted
				 */
	/*
	 * Holding (latency > 0).  A held packet conforms within the delay
	 * budget and is sent at the moment it conforms.  Packets, not
	 * segments: a GSO packet held counts 1.
	 */
	__u64	held;		/* packets held, ever */
	__u64	held_bytes;	/* their wire bytes */
	__u64	released;	/* held packets sent on */
	__u64	overlimit;	/* packets (or a GSO packet's tail) refused
				 * because they would conform only after
				 * latency, or the cap on held bytes was
				 * reached (action); also in exceeded
				 */
	__u64	flushed;	/* held packets dropped before release:
				 * device gone, policer deleted, latency
				 * shortened (action)
				 */
	__u64	ce_marked;	/* ECT packets marked CE (ecn) */
	__u64	backlog;	/* packets held now */
	__u64	backlog_bytes;	/* wire bytes held now */
	__u64	max_hold_ns;	/* largest delay given to a packet, ns */
};

enum {
	TCA_VMPOLICE_UNSPEC,
	TCA_VMPOLICE_PARMS,		/* struct tc_vmpolice, action only */
	TCA_VMPOLICE_TM,		/* struct tcf_t, dump only */
	TCA_VMPOLICE_RATE64,		/* u64 bytes/s */
	TCA_VMPOLICE_BURST,		/* u32 bytes; see BURST64 */
	TCA_VMPOLICE_MTU,		/* u32 bytes per segment (ceiling),
					 * 1..VMPOLICE_MAX_MTU; default the max
					 */
	TCA_VMPOLICE_PEAKRATE64,	/* u64 bytes/s, above rate; 0: none */
	TCA_VMPOLICE_PKTRATE64,		/* u64 segments/s; with PKTBURST64 */
	TCA_VMPOLICE_PKTBURST64,	/* u64 segments, at most 2^32 - 1 */
	TCA_VMPOLICE_OVERHEAD,		/* s32 bytes added per segment,
					 * -64..256
					 */
	TCA_VMPOLICE_MPU,		/* u32 minimum bytes per segment,
					 * 0..VMPOLICE_MAX_MTU
					 */
	TCA_VMPOLICE_LINKLAYER,		/* u8 TC_LINKLAYER_ETHERNET or
					 * TC_LINKLAYER_ATM
					 */
	TCA_VMPOLICE_CONFORM,		/* u32 TC_ACT_* verdict, action only */
	TCA_VMPOLICE_QRATE64,		/* u64 bytes/s for each queue alone */
	TCA_VMPOLICE_QBURST,		/* u32 bytes, default: burst; see
					 * QBURST64
					 */
	TCA_VMPOLICE_STATS,		/* struct tc_vmpolice_stats, dump only */
	TCA_VMPOLICE_QUEUES,		/* not put: the per-queue counters
					 * are in VMPOLICE_CMD_QUEUE_GET's
					 * dump (see QUEUES_OMITTED)
					 */
	TCA_VMPOLICE_PAD,
	TCA_VMPOLICE_LATENCY64,		/* u64 ns: delay budget; 0 (default):
					 * pure policer.  At most
					 * VMPOLICE_MAX_LATENCY_NS.
					 */
	TCA_VMPOLICE_ECN,		/* u8 0|1: mark an ECT packet CE when
					 * its first frame conforms only
					 * after ecn-threshold (the queue
					 * ahead of it, not its own length)
					 */
	TCA_VMPOLICE_ECN_THRESH64,	/* u64 ns, <= latency; default
					 * latency / 4
					 */
	/*
	 * A burst or queue-burst of up to VMPOLICE_MAX_BURST bytes.  Given
	 * with the u32 attribute, the 64-bit one wins.  As police does for
	 * its 64-bit rates, the u32 attribute is always dumped (at most
	 * 0xffffffff) and the 64-bit one only when the value does not fit
	 * 32 bits.
	 */
	TCA_VMPOLICE_BURST64,		/* u64 bytes */
	TCA_VMPOLICE_QBURST64,		/* u64 bytes */
	/*
	 * u32, dump only: how many queues have seen traffic, whose
	 * counters this message omits (put only when not 0): the generic
	 * netlink dump VMPOLICE_CMD_QUEUE_GET (below) lists them, so that
	 * an action's or qdisc's options have one size whatever the
	 * traffic.  For the multiqueue qdisc, each class (TX queue) also
	 * has its own counters.
	 */
	TCA_VMPOLICE_QUEUES_OMITTED,
	/*
	 * u32 each, dump only, in a vmpolice qdisc's options (single and
	 * multiqueue form): the device's ifindex and the qdisc's handle,
	 * what VMPOLICE_CMD_QUEUE_GET takes to list the queues a message
	 * omitted (a qdisc's printer is given only its options).  Never
	 * in an action's; refused on input.
	 */
	TCA_VMPOLICE_IFINDEX,
	TCA_VMPOLICE_HANDLE,
	__TCA_VMPOLICE_MAX
};

#define TCA_VMPOLICE_MAX (__TCA_VMPOLICE_MAX - 1)

/* Each TCA_VMPOLICE_QUEUES entry: a nest of type TCA_VMPOLICE_QUEUE. */
enum {
	TCA_VMPOLICE_QUEUE_UNSPEC,
	TCA_VMPOLICE_QUEUE,		/* nest */
	TCA_VMPOLICE_QUEUE_ID,		/* u32 queue index */
	TCA_VMPOLICE_QUEUE_STATS,	/* struct tc_vmpolice_stats */
	__TCA_VMPOLICE_QUEUE_MAX
};

#define TCA_VMPOLICE_QUEUE_MAX (__TCA_VMPOLICE_QUEUE_MAX - 1)

/*
 * Generic netlink family VMPOLICE_GENL_NAME: every per-queue entry of one
 * policer, in a dump that pages through them.  The paths that send an
 * action or qdisc in one message of about a page, several of them at
 * once (filter and action dumps and notifications, qdisc notifications),
 * have no room for 256 queues: the options carry the totals and, in
 * TCA_VMPOLICE_QUEUES_OMITTED, how many queues have seen traffic, and
 * this dump gives their counters.
 *
 * VMPOLICE_CMD_QUEUE_GET, with NLM_F_DUMP only.  The request names one
 * policer in the requesting socket's network namespace, either
 *   VMPOLICE_A_ACT_INDEX: a vmpolice action, or
 *   VMPOLICE_A_IFINDEX and VMPOLICE_A_HANDLE: the vmpolice qdisc (root of
 *   the single or the multiqueue form) with that handle on that device.
 * Each reply message carries the selector back and VMPOLICE_A_QUEUES, a
 * nest of TCA_VMPOLICE_QUEUE entries (queues that have seen traffic, in
 * queue order, several per message).
 * Refusals carry an extended ack message.
 */
#define VMPOLICE_GENL_NAME	"vmpolice"
#define VMPOLICE_GENL_VERSION	1

enum {
	VMPOLICE_CMD_UNSPEC,
	VMPOLICE_CMD_QUEUE_GET,		/* dump only */
	__VMPOLICE_CMD_MAX
};

#define VMPOLICE_CMD_MAX (__VMPOLICE_CMD_MAX - 1)

enum {
	VMPOLICE_A_UNSPEC,
	VMPOLICE_A_ACT_INDEX,		/* u32 action index, 1 .. 2^32 - 1 */
	VMPOLICE_A_IFINDEX,		/* u32 device ifindex, >= 1 */
	VMPOLICE_A_HANDLE,		/* u32 qdisc handle (major:0), not 0 */
	VMPOLICE_A_QUEUES,		/* nest of TCA_VMPOLICE_QUEUE, reply
					 * only; up to VMPOLICE_MAX_QUEUES
					 * entries over the whole dump
					 */
	__VMPOLICE_A_MAX
};

#define VMPOLICE_A_MAX (__VMPOLICE_A_MAX - 1)

#endif /* _UAPI_LINUX_TC_VMPOLICE_H */
