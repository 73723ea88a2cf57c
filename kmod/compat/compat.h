/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels vmpolice builds for (6.1 to 7.3)
 * lives here, and only here.  Force-included into every object by
 * kmod/Kbuild.  Differences are detected by the probes in
 * compat/Kbuild.include (VMP_HAVE_*), which grep the target's headers, so
 * a distribution kernel that backports a change is handled like the
 * release that made it; the supported range itself is enforced there.
 */
#ifndef _VMPOLICE_COMPAT_H
#define _VMPOLICE_COMPAT_H

#include <linux/hrtimer.h>
#include <linux/slab.h>
#include <net/act_api.h>
#include <net/genetlink.h>
#include <net/pkt_sched.h>

/* 7.0: typed allocation helpers; the gfp flags default to GFP_KERNEL. */
#ifndef kzalloc_obj
#define vmp_kzalloc_obj_gfp(P, gfp, ...)	kzalloc(sizeof(P), gfp)
#define kzalloc_obj(P, ...) \
	vmp_kzalloc_obj_gfp(P, ##__VA_ARGS__, GFP_KERNEL)
#endif

/*
 * tcf_action_valid() moved into act_api.h in 6.1.y stable and 6.15; some
 * trees in between keep it private to act_api.c.
 */
#ifndef VMP_HAVE_TCF_ACTION_VALID
static inline bool tcf_action_valid(int action)
{
	int opcode = TC_ACT_EXT_OPCODE(action);

	if (!opcode)
		return action <= TC_ACT_VALUE_MAX;
	return opcode <= TC_ACT_EXT_OPCODE_MAX || action == TC_ACT_UNSPEC;
}
#endif

/* 6.3: tcf_idr_check_alloc() callers return ACT_P_BOUND for a bind. */
#ifndef ACT_P_BOUND
#define ACT_P_BOUND 0
#endif

/*
 * 6.10 (and stable backports): modules are requested as "net-act-KIND"
 * and "net-sch-KIND"; older kernels ask for "act_KIND" and "sch_KIND".
 * The module declares both spellings.
 */
#ifndef MODULE_ALIAS_NET_ACT
#define MODULE_ALIAS_NET_ACT(kind)	MODULE_ALIAS("net-act-" kind)
#endif
#ifndef MODULE_ALIAS_NET_SCH
#define MODULE_ALIAS_NET_SCH(id)	MODULE_ALIAS("net-sch-" id)
#endif

/*
 * 6.19: qdisc_skb_cb grew pkt_segs, which a qdisc that changes a GSO
 * packet's segment count must keep right.
 */
#ifdef VMP_HAVE_QDISC_PKT_SEGS
static inline void vmp_set_pkt_segs(struct sk_buff *skb, u16 segs)
{
	qdisc_skb_cb(skb)->pkt_segs = segs;
}
#else
static inline void vmp_set_pkt_segs(struct sk_buff *skb, u16 segs)
{
}
#endif

/* 6.8: dev_queue->qdisc_sleeping became __rcu. */
#ifdef VMP_HAVE_QDISC_SLEEPING_RCU
#define vmp_qdisc_sleeping(txq)	rtnl_dereference((txq)->qdisc_sleeping)
#else
#define vmp_qdisc_sleeping(txq)	((txq)->qdisc_sleeping)
#endif

/*
 * "net: convert dev->reg_state to u8" (6.8, in Debian's 6.1 by 6.1.192,
 * not 6.1.176) made it a u8 that READ_ONCE() can read; before, it is an
 * 8-bit bit-field, read plainly (a single byte load either way).
 */
#ifdef VMP_HAVE_REG_STATE_U8
#define vmp_dev_reg_state(dev)	READ_ONCE((dev)->reg_state)
#else
#define vmp_dev_reg_state(dev)	((dev)->reg_state)
#endif

/* 6.13: hrtimer_setup() sets the callback; 6.15 removed hrtimer_init(). */
#ifdef VMP_HAVE_HRTIMER_SETUP
#define vmp_hrtimer_setup(timer, fn, clock, mode) \
	hrtimer_setup(timer, fn, clock, mode)
#else
static inline void
vmp_hrtimer_setup(struct hrtimer *timer,
		  enum hrtimer_restart (*fn)(struct hrtimer *),
		  clockid_t clock, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock, mode);
	timer->function = fn;
}
#endif

/*
 * 6.2: a dump's parsed request attributes moved into a struct genl_info
 * inside struct genl_dumpit_info (genl_info_dump()).
 */
#ifdef VMP_HAVE_GENL_INFO_DUMP
#define vmp_genl_dump_attrs(cb)	(genl_info_dump(cb)->attrs)
#else
#define vmp_genl_dump_attrs(cb)	(genl_dumpit_info(cb)->attrs)
#endif

/*
 * KUnit: vmpolice_kunit.ko tests vmpolice.ko through symbols exported for
 * it alone, in the EXPORTED_FOR_KUNIT_TESTING namespace, and only on a
 * kernel with KUnit (include/kunit/visibility.h, 6.2 and 6.1.y).  A tree
 * without that header gets the same macros here.
 */
#ifdef VMP_HAVE_KUNIT_VISIBILITY
#include <kunit/visibility.h>
#elif IS_ENABLED(CONFIG_KUNIT)
#define VISIBLE_IF_KUNIT
#define vmp_export_for_kunit(symbol) \
	EXPORT_SYMBOL_NS(symbol, EXPORTED_FOR_KUNIT_TESTING)
#define EXPORT_SYMBOL_IF_KUNIT vmp_export_for_kunit
#else
#define VISIBLE_IF_KUNIT static
#define vmp_export_for_kunit(symbol)
#define EXPORT_SYMBOL_IF_KUNIT vmp_export_for_kunit
#endif

/* 6.13: a symbol namespace is a string literal, not an identifier. */
#ifdef VMP_HAVE_NS_STRING
#define VMP_MODULE_IMPORT_KUNIT_NS() \
	MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING")
#else
#define VMP_MODULE_IMPORT_KUNIT_NS() \
	MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING)
#endif

#endif /* _VMPOLICE_COMPAT_H */
