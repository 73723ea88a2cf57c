// SPDX-License-Identifier: GPL-2.0
/*
 * vmpolice core: charging, buckets and per-queue state shared by the
 * vmpolice action and the vmpolice qdisc.
 *
 * A packet is charged what the wire carries: its MAC header, and for a
 * GSO packet every segment's own copy of the headers plus its payload,
 * each segment adjusted by overhead, mpu and the link layer on its own.
 * The segment count is derived from the packet's lengths; a guest's
 * gso_segs is never read.  Every frame must fit the per-frame ceiling
 * (mtu, 64 KiB by default); a GSO packet as a whole is not limited by it.
 *
 * A packet passes through up to four buckets: its queue's own (queue-rate),
 * then the aggregate packet, peak and byte buckets.  Each admits as many
 * leading frames as fit; a bucket that admits fewer than an earlier one
 * makes the earlier ones refund the difference.  When some but not all
 * frames of a TCP or UDP GSO packet are admitted, the packet is cut to
 * exactly those frames (lengths and checksums fixed), and only the rest
 * is exceeded.
 */

#include <linux/if_ether.h>
#include <linux/if_vlan.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/mm.h>
#include <linux/sctp.h>
#include <linux/slab.h>
#include <linux/tcp.h>
#include <linux/timekeeping.h>
#include <linux/udp.h>
#include <net/checksum.h>
#include <net/dsfield.h>
#include <net/inet_ecn.h>
#include <net/ip.h>
#include <net/pkt_cls.h>
#include <net/sch_generic.h>

#include "vmpolice_core.h"

/* overhead, as cake allows: a negative value removes framing bytes */
#define VMP_OVERHEAD_MIN	(-64)
#define VMP_OVERHEAD_MAX	256
/* keeps every bucket depth (ns) far from s64 overflow */
#define VMP_MAX_TAU_NS		(S64_MAX >> 2)

const struct nla_policy vmp_policy[TCA_VMPOLICE_MAX + 1] = {
	[TCA_VMPOLICE_PARMS]	= NLA_POLICY_EXACT_LEN(sizeof(struct tc_vmpolice)),
	[TCA_VMPOLICE_TM]	= { .type = NLA_REJECT,
				    .reject_message = "TM is dump only" },
	[TCA_VMPOLICE_RATE64]	= { .type = NLA_U64 },
	[TCA_VMPOLICE_BURST]	= { .type = NLA_U32 },
	[TCA_VMPOLICE_MTU]	= { .type = NLA_U32 },
	[TCA_VMPOLICE_PEAKRATE64] = { .type = NLA_U64 },
	[TCA_VMPOLICE_PKTRATE64] = { .type = NLA_U64 },
	[TCA_VMPOLICE_PKTBURST64] = { .type = NLA_U64 },
	[TCA_VMPOLICE_OVERHEAD]	= { .type = NLA_S32 },
	[TCA_VMPOLICE_MPU]	= { .type = NLA_U32 },
	[TCA_VMPOLICE_LINKLAYER] = { .type = NLA_U8 },
	[TCA_VMPOLICE_CONFORM]	= { .type = NLA_U32 },
	[TCA_VMPOLICE_QRATE64]	= { .type = NLA_U64 },
	[TCA_VMPOLICE_QBURST]	= { .type = NLA_U32 },
	[TCA_VMPOLICE_STATS]	= { .type = NLA_REJECT,
				    .reject_message = "STATS is dump only" },
	[TCA_VMPOLICE_QUEUES]	= { .type = NLA_REJECT,
				    .reject_message = "QUEUES is dump only" },
	[TCA_VMPOLICE_LATENCY64] = { .type = NLA_U64 },
	[TCA_VMPOLICE_ECN]	= NLA_POLICY_MAX(NLA_U8, 1),
	[TCA_VMPOLICE_ECN_THRESH64] = { .type = NLA_U64 },
	[TCA_VMPOLICE_BURST64]	= { .type = NLA_U64 },
	[TCA_VMPOLICE_QBURST64]	= { .type = NLA_U64 },
	[TCA_VMPOLICE_QUEUES_OMITTED] = { .type = NLA_REJECT,
				    .reject_message = "QUEUES_OMITTED is dump only" },
	[TCA_VMPOLICE_IFINDEX]	= { .type = NLA_REJECT,
				    .reject_message = "IFINDEX is dump only" },
	[TCA_VMPOLICE_HANDLE]	= { .type = NLA_REJECT,
				    .reject_message = "HANDLE is dump only" },
};
EXPORT_SYMBOL_IF_KUNIT(vmp_policy);

/*
 * Policers, their configurations and chunks of per-queue state, each from
 * a cache of objects of exactly their size (kmalloc would round the
 * 832-byte policer up to 1 KiB and the 280-byte parameters to 512):
 * Documentation, "Memory".
 */
static struct kmem_cache *vmp_policer_cache;
static struct kmem_cache *vmp_params_cache;
static struct kmem_cache *vmp_chunk_cache;

#if IS_ENABLED(CONFIG_KUNIT)
/* KUnit: chunk allocations fail, as GFP_ATOMIC ones may. */
bool vmp_test_chunk_nomem;
EXPORT_SYMBOL_IF_KUNIT(vmp_test_chunk_nomem);
#define vmp_chunk_nomem()	READ_ONCE(vmp_test_chunk_nomem)
#else
#define vmp_chunk_nomem()	false
#endif

/*
 * After rcu_barrier(): policers and replaced configurations are freed
 * from call_rcu().
 */
void vmp_core_exit(void)
{
	kmem_cache_destroy(vmp_chunk_cache);
	kmem_cache_destroy(vmp_params_cache);
	kmem_cache_destroy(vmp_policer_cache);
}

int vmp_core_init(void)
{
	vmp_policer_cache = KMEM_CACHE(vmp_policer, SLAB_HWCACHE_ALIGN);
	vmp_params_cache = KMEM_CACHE(vmp_params, SLAB_HWCACHE_ALIGN);
	vmp_chunk_cache = KMEM_CACHE(vmp_chunk, SLAB_HWCACHE_ALIGN);
	if (!vmp_policer_cache || !vmp_params_cache || !vmp_chunk_cache) {
		vmp_core_exit();
		return -ENOMEM;
	}
	return 0;
}

/* A configuration, zeroed; published by vmp_policer_apply(). */
struct vmp_params *vmp_params_alloc(void)
{
	return kmem_cache_zalloc(vmp_params_cache, GFP_KERNEL);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_params_alloc);

/* One that was never published (or is no longer read: see below). */
void vmp_params_free(struct vmp_params *prm)
{
	kmem_cache_free(vmp_params_cache, prm);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_params_free);

static void vmp_params_free_rcu(struct rcu_head *head)
{
	vmp_params_free(container_of(head, struct vmp_params, rcu));
}

struct vmp_policer *vmp_policer_alloc(void)
{
	struct vmp_policer *p;
	u64 now = ktime_get_ns();

	p = kmem_cache_zalloc(vmp_policer_cache, GFP_KERNEL);
	if (!p)
		return NULL;
	vmp_bucket_reset(&p->rate, now);
	vmp_bucket_reset(&p->peak, now);
	vmp_bucket_reset(&p->pkt, now);
	vmp_bucket_reset(&p->fallback.bucket, now);
	INIT_LIST_HEAD(&p->hold_node);
	refcount_set(&p->refcnt, 1);
	return p;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_policer_alloc);

void vmp_policer_get(struct vmp_policer *p)
{
	refcount_inc(&p->refcnt);
}

static void vmp_policer_free_rcu(struct rcu_head *head)
{
	struct vmp_policer *p = container_of(head, struct vmp_policer, rcu);
	struct vmp_params *prm = rcu_dereference_protected(p->params, 1);
	struct vmp_queue *q;
	u32 i;

	vmp_for_each_slot(p, i, q)
		vmp_hold_free(q);
	for (i = 0; i < VMP_CHUNKS; i++)
		if (p->chunks[i])
			kmem_cache_free(vmp_chunk_cache, p->chunks[i]);
	if (prm)
		vmp_params_free(prm);
	kmem_cache_free(vmp_policer_cache, p);
}

/*
 * The last reference may go while a packet on another CPU still holds a
 * pointer it read under RCU (a qdisc leaf being destroyed under traffic),
 * so the memory goes after a grace period.
 */
void vmp_policer_put(struct vmp_policer *p)
{
	if (refcount_dec_and_test(&p->refcnt))
		call_rcu(&p->rcu, vmp_policer_free_rcu);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_policer_put);

/*
 * The state of @queue, or NULL while no packet of its chunk has been
 * policed (it then reads as all zeros).  Any context.  A chunk is only
 * reached through the pointer read here, which was published with a
 * full barrier after the chunk was filled (vmp_chunk_new()): the address
 * dependency orders the reads, as rcu_dereference() does.
 */
struct vmp_queue *vmp_policer_queue(struct vmp_policer *p, u32 queue)
{
	struct vmp_chunk *c;

	queue %= VMPOLICE_MAX_QUEUES;
	c = READ_ONCE(p->chunks[queue / VMP_CHUNK_QUEUES]);
	return c ? &c->q[queue % VMP_CHUNK_QUEUES] : NULL;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_policer_queue);

/*
 * First packet of a chunk: make it, its buckets full (tat = @now, which
 * is full whatever the parameters, so a chunk that appears while they
 * change needs no rescaling: vmp_policer_apply() rescales the chunks it
 * finds, and one it does not find did not exist yet).  Two CPUs may race
 * here: the first cmpxchg wins, the other frees its copy.  Without
 * memory the packet is charged to the fallback, never to nothing.
 */
static noinline struct vmp_queue *vmp_chunk_new(struct vmp_policer *p,
						u32 queue, u32 gen, u64 now)
{
	struct vmp_chunk **slot, *c, *old;
	u32 i;

	queue %= VMPOLICE_MAX_QUEUES;
	slot = &p->chunks[queue / VMP_CHUNK_QUEUES];
	c = vmp_chunk_nomem() ? NULL :
	    kmem_cache_zalloc(vmp_chunk_cache, GFP_ATOMIC | __GFP_NOWARN);
	if (unlikely(!c))
		return &p->fallback;
	/* full, of the configuration the packet read (vmp_bucket_reset()) */
	for (i = 0; i < VMP_CHUNK_QUEUES; i++)
		atomic64_set(&c->q[i].bucket.tat, vmp_word(gen, now));
	/* a successful cmpxchg is a full barrier: the chunk is filled first */
	old = cmpxchg(slot, NULL, c);
	if (old) {
		kmem_cache_free(vmp_chunk_cache, c);
		c = old;
	}
	return &c->q[queue % VMP_CHUNK_QUEUES];
}

/*
 * The packet path's way to a queue: made on first use (KUnit too), its
 * bucket full and of generation @gen, the configuration's the packet read.
 */
struct vmp_queue *vmp_policer_queue_get(struct vmp_policer *p, u32 queue,
					u32 gen, u64 now)
{
	struct vmp_queue *q = vmp_policer_queue(p, queue);

	return likely(q) ? q : vmp_chunk_new(p, queue, gen, now);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_policer_queue_get);

/*
 * The next queue that has state (*@it->i set to its number), then, if
 * @it->fallback, the fallback (VMP_FALLBACK), then NULL.  Absent chunks
 * are skipped whole.  See vmp_for_each_queue().
 */
struct vmp_queue *vmp_policer_next(struct vmp_queue_iter *it)
{
	struct vmp_chunk *c;
	u32 i = it->next;

	while (i < VMPOLICE_MAX_QUEUES) {
		c = READ_ONCE(it->p->chunks[i / VMP_CHUNK_QUEUES]);
		if (c) {
			*it->i = i;
			it->next = i + 1;
			return &c->q[i % VMP_CHUNK_QUEUES];
		}
		i = round_down(i, VMP_CHUNK_QUEUES) + VMP_CHUNK_QUEUES;
	}
	it->next = VMP_FALLBACK + 1;
	if (!it->fallback || i != VMP_FALLBACK)
		return NULL;
	*it->i = VMP_FALLBACK;
	return &it->p->fallback;
}

/*
 * Bytes @p takes from the allocators (ksize(): what the slab really
 * gives each allocation): the policer, its parameters, its chunks and
 * its queues' hold queues.  The action's or qdisc's own struct is not
 * counted.  For the docs and the KUnit budget check.
 */
size_t vmp_policer_memory(struct vmp_policer *p)
{
	const struct vmp_params *prm;
	struct vmp_chunk *c;
	struct vmp_queue *q;
	size_t bytes = ksize(p);
	struct vmp_hold *h;
	u32 i;

	rcu_read_lock();
	prm = rcu_dereference(p->params);
	if (prm)
		bytes += ksize(prm);
	rcu_read_unlock();
	for (i = 0; i < VMP_CHUNKS; i++) {
		c = READ_ONCE(p->chunks[i]);
		if (c)
			bytes += ksize(c);
	}
	vmp_for_each_slot(p, i, q) {
		h = READ_ONCE(q->hold);
		if (h)
			bytes += ksize(h);
	}
	return bytes;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_policer_memory);

/* A rate of zero is refused by the caller, which names the option. */
static bool vmp_rate_set(struct vmp_rate *r, const struct nlattr *attr)
{
	u64 rate = nla_get_u64(attr);

	if (!rate)
		return false;
	vmp_rate_init(r, rate);
	return true;
}

/*
 * Depth in ns of a bucket holding @units (at most @max) at rate @r,
 * refused if absurd.  @units / rate is checked first, so that the ns
 * computed are known to fit 64 bits: a burst of 2^40 bytes at 1 B/s would
 * be 2^40 s, 2^70 ns.
 */
static int vmp_parse_tau(const struct vmp_rate *r, u64 units, u64 max,
			 s64 *tau, struct nlattr *attr,
			 struct netlink_ext_ack *extack)
{
	u64 ns;

	if (units > max ||
	    div64_u64(units, r->rate) >= VMP_MAX_TAU_NS / NSEC_PER_SEC) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "burst lasts too long at this rate");
		return -EINVAL;
	}
	ns = vmp_rate_ns(r, units);
	if (ns > VMP_MAX_TAU_NS) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "burst lasts too long at this rate");
		return -EINVAL;
	}
	*tau = ns;
	return 0;
}

static int vmp_parse_framing(struct nlattr **tb, struct vmp_params *prm,
			     struct netlink_ext_ack *extack)
{
	struct vmp_framing *f = &prm->framing;

	f->linklayer = VMP_LINKLAYER_ETHERNET;
	if (tb[TCA_VMPOLICE_LINKLAYER]) {
		f->linklayer = nla_get_u8(tb[TCA_VMPOLICE_LINKLAYER]);
		if (f->linklayer != VMP_LINKLAYER_ETHERNET &&
		    f->linklayer != VMP_LINKLAYER_ATM) {
			NL_SET_ERR_MSG_ATTR(extack, tb[TCA_VMPOLICE_LINKLAYER],
					    "unknown linklayer (ethernet or atm)");
			return -EINVAL;
		}
	}
	if (tb[TCA_VMPOLICE_OVERHEAD]) {
		f->overhead = nla_get_s32(tb[TCA_VMPOLICE_OVERHEAD]);
		if (f->overhead < VMP_OVERHEAD_MIN ||
		    f->overhead > VMP_OVERHEAD_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, tb[TCA_VMPOLICE_OVERHEAD],
					    "overhead must be between -64 and 256 bytes");
			return -EINVAL;
		}
	}
	if (tb[TCA_VMPOLICE_MPU]) {
		f->mpu = nla_get_u32(tb[TCA_VMPOLICE_MPU]);
		if (f->mpu > VMPOLICE_MAX_MTU) {
			NL_SET_ERR_MSG_ATTR(extack, tb[TCA_VMPOLICE_MPU],
					    "mpu must not exceed 65536 bytes");
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * A burst in bytes from TCA_VMPOLICE_BURST64 or TCA_VMPOLICE_BURST (the
 * caller prefers the 64-bit one), or the same for the queue-burst.
 */
static u64 vmp_get_bytes(const struct nlattr *attr)
{
	if (nla_type(attr) == TCA_VMPOLICE_BURST64 ||
	    nla_type(attr) == TCA_VMPOLICE_QBURST64)
		return nla_get_u64(attr);
	return nla_get_u32(attr);
}

static int vmp_parse_bytes(struct nlattr **tb, struct vmp_params *prm,
			   struct netlink_ext_ack *extack)
{
	struct nlattr *burst = tb[TCA_VMPOLICE_BURST64] ?:
			       tb[TCA_VMPOLICE_BURST];
	struct nlattr *peak = tb[TCA_VMPOLICE_PEAKRATE64];
	int err;

	if (!tb[TCA_VMPOLICE_RATE64]) {
		if (burst) {
			NL_SET_ERR_MSG_ATTR(extack, burst,
					    "burst needs a byte rate (rate)");
			return -EINVAL;
		}
		if (peak) {
			NL_SET_ERR_MSG_ATTR(extack, peak,
					    "peakrate needs a byte rate (rate)");
			return -EINVAL;
		}
		return 0;
	}
	if (!vmp_rate_set(&prm->rate, tb[TCA_VMPOLICE_RATE64])) {
		NL_SET_ERR_MSG_ATTR(extack, tb[TCA_VMPOLICE_RATE64],
				    "rate must be above zero");
		return -EINVAL;
	}

	prm->burst = VMP_DEFAULT_BURST;
	if (burst) {
		prm->burst = vmp_get_bytes(burst);
		if (!prm->burst) {
			NL_SET_ERR_MSG_ATTR(extack, burst,
					    "burst must be above zero");
			return -EINVAL;
		}
		if (prm->burst > VMPOLICE_MAX_BURST) {
			NL_SET_ERR_MSG_ATTR(extack, burst,
					    "burst must not exceed 1 TiB (1099511627776 bytes)");
			return -EINVAL;
		}
	}
	err = vmp_parse_tau(&prm->rate, prm->burst, VMPOLICE_MAX_BURST,
			    &prm->burst_ns, burst ?: tb[TCA_VMPOLICE_RATE64],
			    extack);
	if (err)
		return err;

	if (!peak)
		return 0;
	if (!vmp_rate_set(&prm->peak, peak)) {
		NL_SET_ERR_MSG_ATTR(extack, peak, "peakrate must be above zero");
		return -EINVAL;
	}
	if (prm->peak.rate <= prm->rate.rate) {
		NL_SET_ERR_MSG_ATTR(extack, peak,
				    "peakrate must be above rate");
		return -EINVAL;
	}
	/* The peak bucket holds one ceiling-sized frame, as in police. */
	return vmp_parse_tau(&prm->peak, prm->mtu, VMPOLICE_MAX_MTU,
			     &prm->peak_burst_ns, peak, extack);
}

static int vmp_parse_packets(struct nlattr **tb, struct vmp_params *prm,
			     struct netlink_ext_ack *extack)
{
	struct nlattr *rate = tb[TCA_VMPOLICE_PKTRATE64];
	struct nlattr *burst = tb[TCA_VMPOLICE_PKTBURST64];

	if (!rate && !burst)
		return 0;
	if (!rate || !burst) {
		NL_SET_ERR_MSG_ATTR(extack, rate ?: burst,
				    "pkts_rate and pkts_burst go together");
		return -EINVAL;
	}
	if (!vmp_rate_set(&prm->pkt_rate, rate)) {
		NL_SET_ERR_MSG_ATTR(extack, rate, "pkts_rate must be above zero");
		return -EINVAL;
	}
	prm->pkt_burst = nla_get_u64(burst);
	if (!prm->pkt_burst) {
		NL_SET_ERR_MSG_ATTR(extack, burst,
				    "pkts_burst must be above zero");
		return -EINVAL;
	}
	if (prm->pkt_burst > U32_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, burst,
				    "pkts_burst must not exceed 4294967295 segments");
		return -EINVAL;
	}
	return vmp_parse_tau(&prm->pkt_rate, prm->pkt_burst, U32_MAX,
			     &prm->pkt_burst_ns, burst, extack);
}

static int vmp_parse_queue(struct nlattr **tb, struct vmp_params *prm,
			   struct netlink_ext_ack *extack)
{
	struct nlattr *burst = tb[TCA_VMPOLICE_QBURST64] ?:
			       tb[TCA_VMPOLICE_QBURST];

	if (!tb[TCA_VMPOLICE_QRATE64]) {
		if (burst) {
			NL_SET_ERR_MSG_ATTR(extack, burst,
					    "queue-burst needs queue-rate");
			return -EINVAL;
		}
		return 0;
	}
	if (!vmp_rate_set(&prm->queue_rate, tb[TCA_VMPOLICE_QRATE64])) {
		NL_SET_ERR_MSG_ATTR(extack, tb[TCA_VMPOLICE_QRATE64],
				    "queue-rate must be above zero");
		return -EINVAL;
	}
	prm->queue_burst = prm->rate.rate ? prm->burst : VMP_DEFAULT_BURST;
	if (burst) {
		prm->queue_burst = vmp_get_bytes(burst);
		if (!prm->queue_burst) {
			NL_SET_ERR_MSG_ATTR(extack, burst,
					    "queue-burst must be above zero");
			return -EINVAL;
		}
		if (prm->queue_burst > VMPOLICE_MAX_BURST) {
			NL_SET_ERR_MSG_ATTR(extack, burst,
					    "queue-burst must not exceed 1 TiB (1099511627776 bytes)");
			return -EINVAL;
		}
	}
	return vmp_parse_tau(&prm->queue_rate, prm->queue_burst,
			     VMPOLICE_MAX_BURST, &prm->queue_burst_ns,
			     burst ?: tb[TCA_VMPOLICE_QRATE64], extack);
}

static int vmp_parse_conform(struct nlattr *attr, struct vmp_params *prm,
			     struct netlink_ext_ack *extack)
{
	prm->conform = TC_ACT_OK;
	if (!attr)
		return 0;
	prm->conform = nla_get_u32(attr);
	if (!tcf_action_valid(prm->conform)) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "invalid conform verdict");
		return -EINVAL;
	}
	if (TC_ACT_EXT_CMP(prm->conform, TC_ACT_GOTO_CHAIN)) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "goto chain is only allowed as the exceed verdict");
		return -EINVAL;
	}
	return 0;
}

/*
 * The delay budget.  Held packets are re-injected past the filters that
 * follow the action, so an action may only hold with a conform verdict
 * that ends classification there anyway (ok, also spelt pass).
 */
static int vmp_parse_latency(struct nlattr **tb, bool action,
			     struct vmp_params *prm,
			     struct netlink_ext_ack *extack)
{
	struct nlattr *lat = tb[TCA_VMPOLICE_LATENCY64];
	struct nlattr *ecn = tb[TCA_VMPOLICE_ECN];
	struct nlattr *thresh = tb[TCA_VMPOLICE_ECN_THRESH64];

	if (lat)
		prm->latency_ns = nla_get_u64(lat);
	if (prm->latency_ns > VMPOLICE_MAX_LATENCY_NS) {
		NL_SET_ERR_MSG_ATTR(extack, lat,
				    "latency must not exceed 10 s");
		return -EINVAL;
	}
	prm->ecn = ecn && nla_get_u8(ecn);
	if (!prm->latency_ns) {
		if (prm->ecn || thresh) {
			NL_SET_ERR_MSG_ATTR(extack, prm->ecn ? ecn : thresh,
					    "ecn and ecn-threshold need a latency: only held packets are marked");
			return -EINVAL;
		}
		return 0;
	}
	prm->ecn_thresh_ns = prm->latency_ns / 4;
	if (thresh) {
		prm->ecn_thresh_ns = nla_get_u64(thresh);
		if (prm->ecn_thresh_ns > prm->latency_ns) {
			NL_SET_ERR_MSG_ATTR(extack, thresh,
					    "ecn-threshold must not exceed latency");
			return -EINVAL;
		}
	}
	if (action && prm->conform != TC_ACT_OK) {
		NL_SET_ERR_MSG_ATTR(extack, lat,
				    "latency needs the conform verdict ok (pass): held packets are re-injected past the remaining filters");
		return -EINVAL;
	}
	return 0;
}

/*
 * Build a complete configuration from @tb, as every change sends the
 * whole option set again.  The qdisc (@action false) refuses what only
 * an action can do.  Returns 0 with a new vmp_params in *@newp (the
 * caller gives it to vmp_policer_apply() or frees it with
 * vmp_params_free()), -EINVAL with an extack message naming the option
 * for a value out of range or options that do not go together, or
 * -ENOMEM.
 */
int vmp_params_parse(struct nlattr **tb, bool action,
		     struct vmp_params **newp, struct netlink_ext_ack *extack)
{
	struct vmp_params *prm;
	int err;

	if (!action && (tb[TCA_VMPOLICE_PARMS] || tb[TCA_VMPOLICE_CONFORM])) {
		NL_SET_ERR_MSG(extack,
			       "a qdisc drops what exceeds: conform-exceed and index are action options");
		return -EINVAL;
	}
	if (!tb[TCA_VMPOLICE_RATE64] && !tb[TCA_VMPOLICE_PKTRATE64]) {
		NL_SET_ERR_MSG(extack,
			       "vmpolice needs a byte rate (rate) or a packet rate (pkts_rate)");
		return -EINVAL;
	}

	prm = vmp_params_alloc();
	if (!prm)
		return -ENOMEM;

	prm->mtu = VMPOLICE_MAX_MTU;
	if (tb[TCA_VMPOLICE_MTU]) {
		prm->mtu = nla_get_u32(tb[TCA_VMPOLICE_MTU]);
		if (!prm->mtu || prm->mtu > VMPOLICE_MAX_MTU) {
			NL_SET_ERR_MSG_ATTR(extack, tb[TCA_VMPOLICE_MTU],
					    "mtu (per-frame ceiling) must be between 1 and 65536 bytes");
			err = -EINVAL;
			goto err_free;
		}
	}

	err = vmp_parse_framing(tb, prm, extack);
	if (err)
		goto err_free;
	err = vmp_parse_bytes(tb, prm, extack);
	if (err)
		goto err_free;
	err = vmp_parse_packets(tb, prm, extack);
	if (err)
		goto err_free;
	err = vmp_parse_queue(tb, prm, extack);
	if (err)
		goto err_free;
	if (action) {
		err = vmp_parse_conform(tb[TCA_VMPOLICE_CONFORM], prm, extack);
		if (err)
			goto err_free;
	}
	err = vmp_parse_latency(tb, action, prm, extack);
	if (err)
		goto err_free;
	*newp = prm;
	return 0;

err_free:
	vmp_params_free(prm);
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_params_parse);

/* Bucket @rate of @p as configuration @prm charges it, @was before it. */
static void vmp_gen_init(struct vmp_gen *g, const struct vmp_policer *p,
			 const struct vmp_params *prm,
			 const struct vmp_rate *rate, const struct vmp_was *was)
{
	vmp_gen_set(g, &p->params, prm, prm->gen, rate, &was->rate, was->tau);
}

static void vmp_was_set(struct vmp_was *was, const struct vmp_rate *rate,
			s64 tau)
{
	was->rate = *rate;
	was->tau = tau;
}

static void vmp_rescale(struct vmp_policer *p, const struct vmp_params *prm,
			struct vmp_bucket *b, const struct vmp_rate *rate,
			s64 tau, const struct vmp_was *was, u64 now)
{
	struct vmp_gen g;

	vmp_gen_init(&g, p, prm, rate, was);
	vmp_bucket_rescale(b, &g, tau, now);
}

/*
 * Publish @newp.  Tokens and counters survive: every bucket keeps what it
 * could admit, converted to the new rate and capped by the new burst.
 * Callers serialise changes (the action's lock or RTNL).
 *
 * @newp is published first, then every bucket is converted to it (struct
 * vmp_gen): a packet that read the old parameters charges a bucket only
 * while it is still of the old generation; once it is converted (or
 * @newp is published) the packet starts over with @newp (VMP_RETRY).
 * A packet on @newp converts a bucket it finds still old itself.  As
 * changes are serialised and each converts every bucket before it
 * returns, a bucket is always of the newest generation or the one before.
 */
void vmp_policer_apply(struct vmp_policer *p, struct vmp_params *newp)
{
	static const struct vmp_params none;
	const struct vmp_params *old;
	struct vmp_queue *q;
	u64 now;
	u32 i;

	old = rcu_dereference_protected(p->params, 1) ?: &none;
	newp->gen = old->gen + 1;
	vmp_was_set(&newp->was_rate, &old->rate, old->burst_ns);
	vmp_was_set(&newp->was_peak, &old->peak, old->peak_burst_ns);
	vmp_was_set(&newp->was_pkt, &old->pkt_rate, old->pkt_burst_ns);
	vmp_was_set(&newp->was_queue, &old->queue_rate, old->queue_burst_ns);

	/* published before any bucket is converted to it */
	old = rcu_replace_pointer(p->params, newp, true);
	/*
	 * Pairs with the cmpxchg that publishes a chunk (vmp_chunk_new()):
	 * a packet that made a chunk and then found its configuration still
	 * live (the live check after its charge) made it before the store
	 * above, so the walk below sees the chunk and converts it.  Without
	 * it the walk's read of a chunk pointer may pass the store (store
	 * buffering) and leave a charged bucket of the old generation, to
	 * be misread two changes later.
	 */
	smp_mb();

	now = ktime_get_ns();
	vmp_rescale(p, newp, &p->rate, &newp->rate, newp->burst_ns,
		    &newp->was_rate, now);
	vmp_rescale(p, newp, &p->peak, &newp->peak, newp->peak_burst_ns,
		    &newp->was_peak, now);
	vmp_rescale(p, newp, &p->pkt, &newp->pkt_rate, newp->pkt_burst_ns,
		    &newp->was_pkt, now);
	/*
	 * A chunk made meanwhile is full, of the generation its maker read
	 * (vmp_chunk_new()): right under either configuration.
	 */
	vmp_for_each_slot(p, i, q)
		vmp_rescale(p, newp, &q->bucket, &newp->queue_rate,
			    newp->queue_burst_ns, &newp->was_queue, now);

	/* call_rcu(), not kfree_rcu(): rcu_barrier() waits for it at exit */
	if (old)
		call_rcu(&((struct vmp_params *)old)->rcu, vmp_params_free_rcu);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_policer_apply);

static bool vmp_clamp(struct vmp_policer *p, const struct vmp_params *prm,
		      struct vmp_bucket *b, const struct vmp_rate *rate,
		      s64 tau, const struct vmp_was *was, u64 limit, u64 now)
{
	struct vmp_gen g;

	vmp_gen_init(&g, p, prm, rate, was);
	return vmp_bucket_clamp(b, &g, tau, limit + tau, now);
}

/*
 * Held packets of @p were dropped (a shorter latency, a device that went,
 * a qdisc reset): each bucket gives back what it reserved past its burst
 * beyond the point where every packet still held conforms: the current
 * latency from now when @some_held (a packet is held at most that long),
 * now when none is.  Without this the dropped packets' time delayed or
 * dropped the traffic after them, for up to the old latency.  Any context.
 * A change meanwhile: again with the new parameters.
 */
void vmp_policer_unreserve(struct vmp_policer *p, bool some_held)
{
	const struct vmp_params *prm;
	struct vmp_queue *q;
	u64 now, limit;
	u32 i;

	rcu_read_lock();
again:
	prm = rcu_dereference(p->params);
	if (prm) {
		now = ktime_get_ns();
		limit = now;
		if (some_held)
			limit += prm->latency_ns;
		if (!vmp_clamp(p, prm, &p->rate, &prm->rate, prm->burst_ns,
			       &prm->was_rate, limit, now) ||
		    !vmp_clamp(p, prm, &p->peak, &prm->peak,
			       prm->peak_burst_ns, &prm->was_peak, limit, now) ||
		    !vmp_clamp(p, prm, &p->pkt, &prm->pkt_rate,
			       prm->pkt_burst_ns, &prm->was_pkt, limit, now))
			goto again;
		vmp_for_each_slot(p, i, q)
			if (!vmp_clamp(p, prm, &q->bucket,
				       &prm->queue_rate, prm->queue_burst_ns,
				       &prm->was_queue, limit, now))
				goto again;
	}
	rcu_read_unlock();
}

/*
 * Some queue of @p holds packets now (held = released + flushed +
 * backlog).  Summed over the queues and the fallback.  A held packet is
 * counted held, released and flushed on the queue it was charged on
 * (vmp_police()'s *@qp), so each queue's counts agree by themselves too.
 */
bool vmp_policer_holds(struct vmp_policer *p)
{
	s64 held = 0, gone = 0;
	struct vmp_queue *q;
	u32 i;

	vmp_for_each_slot(p, i, q) {
		held += atomic64_read(&q->held);
		gone += atomic64_read(&q->released) + atomic64_read(&q->flushed);
	}
	return held != gone;
}

/*
 * Wire bytes of a frame's link-layer header that are not in skb->data:
 * the MAC header in front of it (mac_len at ingress, 0 at egress) and an
 * 802.1Q tag the skb carries beside its data (skb_vlan_tag_present():
 * what veth, tun and NICs with VLAN offload hand over, and what the core
 * makes of a tagged frame before tc ingress; it goes on the wire with
 * every segment).
 */
static u32 vmp_mac_bytes(const struct sk_buff *skb)
{
	u32 tag = skb_vlan_tag_present(skb) ? VLAN_HLEN : 0;
	int off;

	if (!skb_mac_header_was_set(skb))
		return tag;
	off = skb_mac_offset(skb);
	return (off < 0 ? -off : 0) + tag;
}

/* Wire length of @skb as it stands: MAC header included at ingress. */
u32 vmp_skb_wire_len(const struct sk_buff *skb)
{
	return skb->len + vmp_mac_bytes(skb);
}

/*
 * SCTP's GSO, the one user of GSO_BY_FRAGS (net/sctp/output.c): the head
 * carries the headers every segment repeats, up to and with the SCTP
 * common header (@hdr, MAC included), and each frag_list member the
 * chunks of one segment (skb_segment() cuts at the members).  The train
 * is exact when every member but the last has one length; when they
 * differ, every segment is charged as the longest (never less than the
 * wire).  Payload in the head itself, which SCTP never puts there, is
 * charged as one more segment of its own.
 */
static bool vmp_skb_train_by_frags(const struct sk_buff *skb, u32 mac,
				   u32 hdr, struct vmp_train *t)
{
	u32 head = skb->len, first = 0, last = 0, longest = 0, segs = 0;
	const struct sk_buff *frag;
	bool regular = true;

	skb_walk_frags(skb, frag) {
		head -= min(head, frag->len);
		if (segs > 1 && last != first)
			regular = false;
		if (!segs)
			first = frag->len;
		last = frag->len;
		longest = max(longest, last);
		segs++;
	}
	if (head < hdr - mac || !segs || !last)
		return false;
	if (head > hdr - mac) {
		longest = max(longest, head - (hdr - mac));
		regular = false;
		segs++;
	}
	t->segs = segs;
	t->hdr_len = hdr;
	t->gso_size = regular ? first : longest;
	t->seg_len = hdr + t->gso_size;
	t->last_len = regular ? hdr + last : t->seg_len;
	return true;
}

/*
 * Describe @skb as the frames it puts on the wire.  Returns false for a
 * GSO packet whose metadata cannot be true: no transport header, a TCP
 * header shorter than 20 bytes or beyond the packet, no payload.
 */
bool vmp_skb_train(const struct sk_buff *skb, struct vmp_train *t)
{
	const struct skb_shared_info *shinfo = skb_shinfo(skb);
	u32 mac = vmp_mac_bytes(skb);
	u32 wire_len = skb->len + mac;
	u32 l4 = 0;
	int thoff;

	if (!skb_is_gso(skb)) {
		vmp_train_single(t, wire_len);
		return true;
	}

	if (skb->encapsulation) {
		thoff = skb_inner_transport_offset(skb);
	} else {
		if (!skb_transport_header_was_set(skb))
			return false;
		thoff = skb_transport_offset(skb);
	}
	if (thoff <= 0 || thoff >= skb->len)
		return false;

	if (shinfo->gso_type & (SKB_GSO_TCPV4 | SKB_GSO_TCPV6)) {
		const struct tcphdr *th;
		struct tcphdr _th;

		th = skb_header_pointer(skb, thoff, sizeof(_th), &_th);
		if (!th || th->doff < sizeof(_th) / 4)
			return false;
		l4 = th->doff * 4;
	} else if (shinfo->gso_type & SKB_GSO_UDP_L4) {
		l4 = sizeof(struct udphdr);
	} else if (shinfo->gso_type & SKB_GSO_SCTP) {
		l4 = sizeof(struct sctphdr);
	}
	/*
	 * Other GSO types (UFO, ESP, ...) repeat the headers up to the
	 * transport header; their payload starts there.
	 */
	if (shinfo->gso_size == GSO_BY_FRAGS)
		return vmp_skb_train_by_frags(skb, mac, mac + thoff + l4, t);
	return vmp_train_gso(t, wire_len, mac + thoff + l4, shinfo->gso_size);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_skb_train);

/*
 * Only a packet whose IP header carries a real length can be cut: not a
 * BIG TCP packet (IPv4 tot_len 0, IPv6 jumbogram), nor one whose network
 * header is not where the stack says.  Checked before anything changes.
 */
static bool vmp_ip_len_fixable(const struct sk_buff *skb)
{
	int nhoff = skb_network_offset(skb);
	const struct iphdr *iph;

	if (nhoff < 0 || skb->len - nhoff > U16_MAX ||
	    skb_headlen(skb) < nhoff + sizeof(*iph))
		return false;
	iph = ip_hdr(skb);
	if (iph->version == 4)
		return iph->tot_len;
	if (iph->version == 6)
		return skb_headlen(skb) >= nhoff + sizeof(struct ipv6hdr) &&
		       ipv6_hdr(skb)->payload_len;
	return false;
}

static void vmp_fix_ip_len(struct sk_buff *skb)
{
	u32 len = skb->len - skb_network_offset(skb);
	struct iphdr *iph = ip_hdr(skb);
	__be16 old;

	if (iph->version == 4) {
		old = iph->tot_len;
		iph->tot_len = htons(len);
		csum_replace2(&iph->check, old, iph->tot_len);
	} else {
		ipv6_hdr(skb)->payload_len =
			htons(len - sizeof(struct ipv6hdr));
	}
}

/*
 * Cut a TCP or UDP GSO packet to its first @keep full frames, so that it
 * is a valid packet of exactly those frames whether it is delivered
 * locally or segmented later: IP lengths, the pseudo-header checksum
 * (which a CHECKSUM_PARTIAL packet carries in its L4 checksum field) and
 * the UDP length follow the new size; FIN and PSH belong to the dropped
 * tail.  Anything else is refused, and the caller exceeds it whole.
 *
 * A clone shares its skb_shared_info (gso_segs, gso_size) and data with
 * its siblings (a tap on the device, a mirred copy): the packet is made
 * private with skb_unclone() before anything is written.  That and the
 * header pull may move the head, so shinfo is read again after them.
 *
 * qdisc_skb_cb(skb)->pkt_len and pkt_segs (6.19+) become those of the
 * cut packet, so that the qdiscs after us count and shape what leaves:
 * every bstats_update() checks pkt_segs against gso_segs
 * (DEBUG_NET_WARN_ON_ONCE in qdisc_pkt_segs()).  A qdisc that took the
 * old length before calling us must be told (vmp_sch_enqueue()).
 *
 * Returns 0, or -EOPNOTSUPP (not a packet we can cut) or -ENOMEM with
 * the packet's content unchanged (it may have become a private copy).
 */
int vmp_skb_cut(struct sk_buff *skb, const struct vmp_train *t, u32 keep)
{
	struct skb_shared_info *shinfo = skb_shinfo(skb);
	u32 mac = vmp_mac_bytes(skb);
	u32 hdr = t->hdr_len - mac;	/* headers, counted from skb->data */
	u32 old_l4, new_l4;
	int thoff, err;

	if (!keep || keep >= t->segs || skb->encapsulation ||
	    skb->ip_summed != CHECKSUM_PARTIAL ||
	    shinfo->gso_size == GSO_BY_FRAGS ||
	    (shinfo->gso_type & SKB_GSO_FRAGLIST) ||
	    !(shinfo->gso_type & (SKB_GSO_TCPV4 | SKB_GSO_TCPV6 |
				  SKB_GSO_UDP_L4)))
		return -EOPNOTSUPP;

	/* Private, headers linear first: a failure changes nothing. */
	err = skb_unclone(skb, GFP_ATOMIC);
	if (err)
		return err;
	err = skb_ensure_writable(skb, hdr);
	if (err)
		return err;
	if (!vmp_ip_len_fixable(skb))
		return -EOPNOTSUPP;
	thoff = skb_transport_offset(skb);
	old_l4 = skb->len - thoff;
	err = pskb_trim(skb, hdr + keep * t->gso_size);
	if (err)
		return err;
	new_l4 = skb->len - thoff;
	shinfo = skb_shinfo(skb);

	vmp_fix_ip_len(skb);
	if (shinfo->gso_type & SKB_GSO_UDP_L4) {
		struct udphdr *uh = udp_hdr(skb);

		uh->len = htons(new_l4);
		inet_proto_csum_replace4(&uh->check, skb, htonl(old_l4),
					 htonl(new_l4), true);
	} else {
		struct tcphdr *th = tcp_hdr(skb);

		inet_proto_csum_replace4(&th->check, skb, htonl(old_l4),
					 htonl(new_l4), true);
		th->fin = 0;
		th->psh = 0;
	}

	/* One frame left is a plain packet: GSO of one segment is refused. */
	if (keep == 1)
		skb_gso_reset(skb);
	else
		shinfo->gso_segs = keep;
	qdisc_skb_cb(skb)->pkt_len = vmp_train_bytes(t, keep);
	vmp_set_pkt_segs(skb, keep);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_skb_cut);

struct vmp_charge {
	struct vmp_bucket	*bucket;
	struct vmp_gen		gen;
	s64			tau;
	struct vmp_cost		cost;
	u64			base;	/* max(tat, now) before the charge */
	u32			taken;
};

/*
 * Charge every configured bucket in turn; each takes at most what the
 * one before it took.  @slack is the delay budget (0: police).  Returns
 * the frames every bucket took; the charges are in @ch[0..*n).
 * VMP_STALE when @prm is no longer the newest configuration: the
 * buckets before keep what they took (a refund in @prm's ns would be
 * dropped, vmp_bucket_refund()): one packet charged twice, never less.
 */
static u32 vmp_take_all(struct vmp_policer *p, const struct vmp_params *prm,
			struct vmp_queue *q, const struct vmp_train *t,
			struct vmp_charge *ch, u32 *n, s64 slack, u64 now)
{
	u32 want = t->segs, i;

	*n = 0;
	if (prm->queue_rate.rate) {
		ch[*n].bucket = &q->bucket;
		ch[*n].tau = prm->queue_burst_ns;
		vmp_gen_init(&ch[*n].gen, p, prm, &prm->queue_rate,
			     &prm->was_queue);
		vmp_cost_bytes(&ch[(*n)++].cost, &prm->queue_rate,
			       &prm->framing, t);
	}
	if (prm->pkt_rate.rate) {
		ch[*n].bucket = &p->pkt;
		ch[*n].tau = prm->pkt_burst_ns;
		vmp_gen_init(&ch[*n].gen, p, prm, &prm->pkt_rate,
			     &prm->was_pkt);
		vmp_cost_frames(&ch[(*n)++].cost, &prm->pkt_rate, t);
	}
	if (prm->peak.rate) {
		ch[*n].bucket = &p->peak;
		ch[*n].tau = prm->peak_burst_ns;
		vmp_gen_init(&ch[*n].gen, p, prm, &prm->peak, &prm->was_peak);
		vmp_cost_bytes(&ch[(*n)++].cost, &prm->peak, &prm->framing, t);
	}
	if (prm->rate.rate) {
		ch[*n].bucket = &p->rate;
		ch[*n].tau = prm->burst_ns;
		vmp_gen_init(&ch[*n].gen, p, prm, &prm->rate, &prm->was_rate);
		vmp_cost_bytes(&ch[(*n)++].cost, &prm->rate, &prm->framing, t);
	}

	for (i = 0; i < *n; i++)
		ch[i].taken = 0;
	for (i = 0; i < *n && want; i++) {
		ch[i].taken = vmp_bucket_take(ch[i].bucket, &ch[i].gen,
					      ch[i].tau, slack, &ch[i].cost,
					      want, now, &ch[i].base);
		if (unlikely(ch[i].taken == VMP_STALE))
			return VMP_STALE;
		want = ch[i].taken;
	}
	return want;
}

/*
 * Give back what the buckets took beyond the @kept frames.  Most refusals
 * have nothing to give back (the first bucket refused the whole packet,
 * or a cut keeps all that was taken): those read no clock and touch no
 * bucket.  Any bucket that took more than @kept is refunded, whichever it
 * is in @ch.
 */
static void vmp_refund(struct vmp_charge *ch, u32 n, u32 kept)
{
	u64 now;
	u32 i;

	for (i = 0; i < n && ch[i].taken <= kept; i++)
		;
	if (i == n)
		return;
	now = ktime_get_ns();	/* after the refusal, not the take */
	for (; i < n; i++)
		vmp_bucket_refund(ch[i].bucket, &ch[i].gen, &ch[i].cost,
				  ch[i].base, ch[i].taken, kept, now);
}

/* When the first @k frames conform in every bucket: the latest of them. */
static u64 vmp_release_all(const struct vmp_charge *ch, u32 n, u32 k, u64 now)
{
	u64 release = now, r;
	u32 i;

	for (i = 0; i < n; i++) {
		r = vmp_release_ns(ch[i].base, vmp_cost_of(&ch[i].cost, k),
				   ch[i].tau, now);
		if ((s64)(r - release) > 0)
			release = r;
	}
	return release;
}

static void vmp_atomic64_max(atomic64_t *v, s64 val)
{
	s64 old = atomic64_read(v);

	while (old < val && !atomic64_try_cmpxchg(v, &old, val))
		;
}

/*
 * Mark an ECN-capable packet CE (RFC 3168).  A GSO packet's segments all
 * copy this IP header, so all of them are marked.  False when the packet
 * is not ECT (CE already included) or its header cannot be made writable.
 */
static bool vmp_ecn_mark(struct sk_buff *skb)
{
	unsigned int hlen;
	bool ipv4;
	u8 ds;

	switch (skb_protocol(skb, true)) {
	case htons(ETH_P_IP):
		hlen = sizeof(struct iphdr);
		ipv4 = true;
		break;
	case htons(ETH_P_IPV6):
		hlen = sizeof(struct ipv6hdr);
		ipv4 = false;
		break;
	default:
		return false;
	}
	if (skb_ensure_writable(skb, skb_network_offset(skb) + hlen))
		return false;
	ds = ipv4 ? ipv4_get_dsfield(ip_hdr(skb)) :
		    ipv6_get_dsfield(ipv6_hdr(skb));
	/* CE already: marked upstream, not by us */
	if (INET_ECN_is_ce(ds) || INET_ECN_is_not_ect(ds))
		return false;
	return INET_ECN_set_ce(skb);
}

/*
 * Police one packet arriving on (ingress) or leaving by (egress) @queue.
 * @train is @skb as vmp_police_train() describes it, computed once by the
 * caller (which counts the same frames in its own stats): it is what is
 * charged and counted, so it must be @skb's as @skb stands now.  A train
 * of 0 frames is a packet that cannot be described: VMP_MALFORMED.  It
 * stays valid across VMP_RETRY (nothing is done to @skb then).
 * On VMP_PARTIAL the packet has been cut to its admitted frames.  Cutting
 * is only right when what exceeds is dropped (VMP_MAY_CUT): with any
 * other exceed verdict the tail would have gone on, so a packet that
 * does not fully conform then takes the exceed verdict whole.
 *
 * With VMP_MAY_HOLD and a latency, frames that conform within the
 * latency are admitted too, and *@release (ns, ktime_get_ns()) says when
 * the packet conforms: the caller must not send it before.  *@release is
 * 0 when the packet may go at once.  With ecn on, an ECT packet whose
 * first frame conforms only after the ECN threshold is marked CE.  The caller counts
 * the packet held (vmp_count_held()) once it really keeps it.
 *
 * *@qp is set to the queue the packet was charged and counted on: its
 * own, or the fallback when its chunk could not be made.  Whatever
 * follows on the same packet (holding it, counting it held or refused)
 * must use that queue, never look the queue up again: another CPU may
 * make the chunk meanwhile, and the packet's counts and its hold would
 * then land on another queue than its charge.
 *
 * VMP_RETRY (nothing done, nothing counted) when @prm is no longer the
 * newest configuration of @p: the caller reads the parameters again and
 * polices the packet with them.  That happens only when a change was
 * published while this packet was being policed, so a packet starts
 * over at most once per change made meanwhile: changes are serialised
 * configuration requests, not traffic, and cannot keep it looping.
 */
enum vmp_verdict vmp_police(struct vmp_policer *p,
			    const struct vmp_params *prm,
			    struct sk_buff *skb, const struct vmp_train *train,
			    u32 queue, unsigned int flags,
			    u64 *release, struct vmp_queue **qp)
{
	const struct vmp_train t = *train;	/* @skb may be cut below */
	enum vmp_verdict verdict;
	struct vmp_charge ch[4];
	u64 now = ktime_get_ns();
	struct vmp_queue *q;
	u32 n = 0, k = 0;
	s64 slack = 0;
	u64 bytes;

	*release = 0;
	q = vmp_policer_queue_get(p, queue, prm->gen, now);
	*qp = q;
	if (likely(t.segs)) {
		if (unlikely(prm->latency_ns) && (flags & VMP_MAY_HOLD))
			slack = prm->latency_ns;
		if (likely(vmp_train_max_len(&t) <= prm->mtu))
			k = vmp_take_all(p, prm, q, &t, ch, &n, slack, now);
		/* nothing counted yet: the caller starts over */
		if (unlikely(k == VMP_STALE))
			return VMP_RETRY;
	}

	atomic64_inc(&q->packets);
	if (skb_is_gso(skb) && (skb_shinfo(skb)->gso_type & SKB_GSO_DODGY))
		atomic64_inc(&q->dodgy);
	if (unlikely(!t.segs)) {
		atomic64_inc(&q->malformed);
		atomic64_inc(&q->exceeded);
		atomic64_add(vmp_skb_wire_len(skb), &q->exceeded_bytes);
		return VMP_MALFORMED;
	}

	verdict = VMP_CONFORM;
	if (unlikely(k < t.segs)) {
		verdict = VMP_EXCEED;
		if (k && (flags & VMP_MAY_CUT) && vmp_skb_cut(skb, &t, k) == 0) {
			verdict = VMP_PARTIAL;
			atomic64_inc(&q->partial);
		} else {
			k = 0;
		}
		vmp_refund(ch, n, k);
		if (slack)
			atomic64_inc(&q->overlimit);
	}

	bytes = vmp_train_bytes(&t, k);
	if (k) {
		atomic64_add(k, &q->conformed);
		atomic64_add(bytes, &q->conformed_bytes);
	}
	if (k < t.segs) {
		atomic64_add(t.segs - k, &q->exceeded);
		atomic64_add(vmp_train_bytes(&t, t.segs) - bytes,
			     &q->exceeded_bytes);
	}

	if (unlikely(slack) && k) {
		u64 when = vmp_release_all(ch, n, k, now);
		u64 delay = when - now;

		if (delay) {
			*release = when;
			vmp_atomic64_max(&q->max_hold_ns, delay);
			/*
			 * ECN judges the queue ahead of the packet: when its
			 * first frame conforms.  A GSO packet longer than the
			 * burst waits for its own tail even into a full bucket;
			 * that is not congestion.
			 */
			if (prm->ecn &&
			    vmp_ecn_should_mark(vmp_release_all(ch, n, 1, now) -
						now, prm->ecn_thresh_ns) &&
			    vmp_ecn_mark(skb))
				atomic64_inc(&q->ce_marked);
		}
	}
	return verdict;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_police);

/*
 * A packet vmp_police() admitted on @q, to be held, could not be kept
 * after all (the cap on held bytes): its frames move from conformed to
 * exceeded.
 */
void vmp_count_refused(struct vmp_queue *q, const struct sk_buff *skb)
{
	struct vmp_train t;
	u64 bytes;

	if (!vmp_skb_train(skb, &t))
		return;
	bytes = vmp_train_bytes(&t, t.segs);
	atomic64_sub(t.segs, &q->conformed);
	atomic64_sub(bytes, &q->conformed_bytes);
	atomic64_add(t.segs, &q->exceeded);
	atomic64_add(bytes, &q->exceeded_bytes);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_count_refused);

/* A packet of @bytes wire bytes charged on @q is really held. */
void vmp_count_held(struct vmp_queue *q, u32 bytes)
{
	atomic64_inc(&q->held);
	atomic64_add(bytes, &q->held_bytes);
}
EXPORT_SYMBOL_IF_KUNIT(vmp_count_held);

/* @q NULL: a queue without state (vmp_policer_queue()), all zeros. */
void vmp_queue_read(struct vmp_queue *q, struct tc_vmpolice_stats *st)
{
	if (!q) {
		memset(st, 0, sizeof(*st));
		return;
	}
	st->packets = atomic64_read(&q->packets);
	st->conformed = atomic64_read(&q->conformed);
	st->conformed_bytes = atomic64_read(&q->conformed_bytes);
	st->exceeded = atomic64_read(&q->exceeded);
	st->exceeded_bytes = atomic64_read(&q->exceeded_bytes);
	st->partial = atomic64_read(&q->partial);
	st->malformed = atomic64_read(&q->malformed);
	st->dodgy = atomic64_read(&q->dodgy);
	st->held = atomic64_read(&q->held);
	st->held_bytes = atomic64_read(&q->held_bytes);
	st->released = atomic64_read(&q->released);
	st->overlimit = atomic64_read(&q->overlimit);
	st->flushed = atomic64_read(&q->flushed);
	st->ce_marked = atomic64_read(&q->ce_marked);
	st->max_hold_ns = atomic64_read(&q->max_hold_ns);
	vmp_hold_backlog(q, &st->backlog, &st->backlog_bytes);
	st->segments = st->conformed + st->exceeded;
	st->bytes = st->conformed_bytes + st->exceeded_bytes;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_queue_read);

static void vmp_stats_add(struct tc_vmpolice_stats *sum,
			  const struct tc_vmpolice_stats *st)
{
	sum->packets += st->packets;
	sum->bytes += st->bytes;
	sum->segments += st->segments;
	sum->conformed += st->conformed;
	sum->conformed_bytes += st->conformed_bytes;
	sum->exceeded += st->exceeded;
	sum->exceeded_bytes += st->exceeded_bytes;
	sum->partial += st->partial;
	sum->malformed += st->malformed;
	sum->dodgy += st->dodgy;
	sum->held += st->held;
	sum->held_bytes += st->held_bytes;
	sum->released += st->released;
	sum->overlimit += st->overlimit;
	sum->flushed += st->flushed;
	sum->ce_marked += st->ce_marked;
	sum->backlog += st->backlog;
	sum->backlog_bytes += st->backlog_bytes;
	sum->max_hold_ns = max(sum->max_hold_ns, st->max_hold_ns);
}

void vmp_policer_totals(struct vmp_policer *p, struct tc_vmpolice_stats *sum)
{
	struct tc_vmpolice_stats st;
	struct vmp_queue *q;
	u32 i;

	memset(sum, 0, sizeof(*sum));
	vmp_for_each_slot(p, i, q) {
		vmp_queue_read(q, &st);
		vmp_stats_add(sum, &st);
	}
}
EXPORT_SYMBOL_IF_KUNIT(vmp_policer_totals);

/*
 * A burst as police dumps a 64-bit rate: the u32 attribute always, at
 * most U32_MAX, and the 64-bit one when the value does not fit it.
 */
static int vmp_put_bytes(struct sk_buff *skb, int attr, int attr64,
			 u64 bytes)
{
	if (nla_put_u32(skb, attr, min_t(u64, bytes, U32_MAX)))
		return -EMSGSIZE;
	if (bytes > U32_MAX &&
	    nla_put_u64_64bit(skb, attr64, bytes, TCA_VMPOLICE_PAD))
		return -EMSGSIZE;
	return 0;
}

int vmp_params_dump(struct sk_buff *skb, const struct vmp_params *prm)
{
	const struct vmp_framing *f = &prm->framing;

	if (prm->rate.rate &&
	    (nla_put_u64_64bit(skb, TCA_VMPOLICE_RATE64, prm->rate.rate,
			       TCA_VMPOLICE_PAD) ||
	     vmp_put_bytes(skb, TCA_VMPOLICE_BURST, TCA_VMPOLICE_BURST64,
			   prm->burst)))
		return -EMSGSIZE;
	if (prm->peak.rate &&
	    nla_put_u64_64bit(skb, TCA_VMPOLICE_PEAKRATE64, prm->peak.rate,
			      TCA_VMPOLICE_PAD))
		return -EMSGSIZE;
	if (prm->pkt_rate.rate &&
	    (nla_put_u64_64bit(skb, TCA_VMPOLICE_PKTRATE64,
			       prm->pkt_rate.rate, TCA_VMPOLICE_PAD) ||
	     nla_put_u64_64bit(skb, TCA_VMPOLICE_PKTBURST64, prm->pkt_burst,
			       TCA_VMPOLICE_PAD)))
		return -EMSGSIZE;
	if (prm->queue_rate.rate &&
	    (nla_put_u64_64bit(skb, TCA_VMPOLICE_QRATE64,
			       prm->queue_rate.rate, TCA_VMPOLICE_PAD) ||
	     vmp_put_bytes(skb, TCA_VMPOLICE_QBURST, TCA_VMPOLICE_QBURST64,
			   prm->queue_burst)))
		return -EMSGSIZE;
	if (nla_put_u32(skb, TCA_VMPOLICE_MTU, prm->mtu) ||
	    nla_put_s32(skb, TCA_VMPOLICE_OVERHEAD, f->overhead) ||
	    nla_put_u32(skb, TCA_VMPOLICE_MPU, f->mpu) ||
	    nla_put_u8(skb, TCA_VMPOLICE_LINKLAYER, f->linklayer))
		return -EMSGSIZE;
	if (prm->latency_ns &&
	    (nla_put_u64_64bit(skb, TCA_VMPOLICE_LATENCY64, prm->latency_ns,
			       TCA_VMPOLICE_PAD) ||
	     nla_put_u8(skb, TCA_VMPOLICE_ECN, prm->ecn) ||
	     nla_put_u64_64bit(skb, TCA_VMPOLICE_ECN_THRESH64,
			       prm->ecn_thresh_ns, TCA_VMPOLICE_PAD)))
		return -EMSGSIZE;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_params_dump);

/* Room one TCA_VMPOLICE_QUEUE entry takes. */
size_t vmp_queue_entry_size(void)
{
	return nla_total_size(nla_total_size(sizeof(u32)) +
			      nla_total_size(sizeof(struct tc_vmpolice_stats)));
}
EXPORT_SYMBOL_IF_KUNIT(vmp_queue_entry_size);

/* One TCA_VMPOLICE_QUEUE entry: the only encoder of a queue's counters. */
int vmp_queue_put(struct sk_buff *skb, u32 queue,
		  const struct tc_vmpolice_stats *st)
{
	struct nlattr *entry;

	entry = nla_nest_start_noflag(skb, TCA_VMPOLICE_QUEUE);
	if (!entry)
		return -EMSGSIZE;
	if (nla_put_u32(skb, TCA_VMPOLICE_QUEUE_ID, queue) ||
	    nla_put(skb, TCA_VMPOLICE_QUEUE_STATS, sizeof(*st), st)) {
		nla_nest_cancel(skb, entry);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, entry);
	return 0;
}

/*
 * Queues from *@next on that have seen traffic, one entry each, as many
 * as fit in @skb and keep its nest's 16-bit length (a dump message is at
 * most 32 KiB, so the second bound is only a guard); *@next is left at
 * the first queue not put.  Returns -EMSGSIZE when one did not fit (there
 * are more), else 0.  The caller holds what keeps @p alive (RCU, a
 * reference) and, for a qdisc, what @backlog needs: it fills in the
 * backlog of queue @queue from what the qdisc holds.
 */
int vmp_queues_put_from(struct sk_buff *skb, struct vmp_policer *p,
			void (*backlog)(void *ctx, int queue,
					struct tc_vmpolice_stats *st),
			void *ctx, u32 *next)
{
	struct tc_vmpolice_stats st;
	struct vmp_queue *q;
	u32 i;

	vmp_for_each_queue(p, i, q) {
		if (i < *next)
			continue;
		vmp_queue_read(q, &st);
		if (!st.packets)
			continue;
		if (skb->len + vmp_queue_entry_size() > U16_MAX) {
			*next = i;
			return -EMSGSIZE;
		}
		if (backlog)
			backlog(ctx, i, &st);
		if (vmp_queue_put(skb, i, &st)) {
			*next = i;
			return -EMSGSIZE;
		}
	}
	*next = VMPOLICE_MAX_QUEUES;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_queues_put_from);

/* Queues that have seen traffic: the ones a dump lists. */
u32 vmp_policer_active(struct vmp_policer *p)
{
	struct vmp_queue *q;
	u32 i, n = 0;

	vmp_for_each_queue(p, i, q)
		if (atomic64_read(&q->packets))
			n++;
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_policer_active);

/*
 * The totals (TCA_VMPOLICE_STATS), which cover every queue, and how many
 * queues have seen traffic (TCA_VMPOLICE_QUEUES_OMITTED, when not 0):
 * their counters are not in the options but in the generic netlink dump
 * (vmpolice_genl.c), which pages through any number of them.  So our
 * part of a message has one size, vmp_dump_size() at most, whatever the
 * traffic: a message holding several policers (a filter's actions, a get
 * or delete of up to TCA_ACT_MAX_PRIO actions, one message of an action
 * dump) is sized as it would be for police, and never fails or goes
 * short for a per-queue list.  A qdisc keeps held packets in its own
 * queues: @backlog, if given, fills in the totals' backlog (queue -1)
 * from them.  Returns 0 or -EMSGSIZE.
 */
int vmp_stats_dump(struct sk_buff *skb, struct vmp_policer *p,
		   void (*backlog)(void *ctx, int queue,
				   struct tc_vmpolice_stats *st),
		   void *ctx)
{
	struct tc_vmpolice_stats st;
	u32 active;

	vmp_policer_totals(p, &st);
	if (backlog)
		backlog(ctx, -1, &st);
	if (nla_put_64bit(skb, TCA_VMPOLICE_STATS, sizeof(st), &st,
			  TCA_VMPOLICE_PAD))
		return -EMSGSIZE;
	active = vmp_policer_active(p);
	if (active && nla_put_u32(skb, TCA_VMPOLICE_QUEUES_OMITTED, active))
		return -EMSGSIZE;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(vmp_stats_dump);

/*
 * Room the parameters, the totals and the queue count take in a dump at
 * most, with every option given and 64-bit bursts (vmp_params_dump()),
 * the action's conform verdict and the qdisc's ifindex and handle: a
 * bound, the same with any traffic (KUnit vmp_test_dump_size).
 */
size_t vmp_dump_size(void)
{
	return 9 * nla_total_size_64bit(sizeof(u64)) +	/* rates, bursts64,
							 * latency, ecn-thr
							 */
	       6 * nla_total_size(sizeof(u32)) +	/* bursts, mtu,
							 * overhead, mpu,
							 * conform
							 */
	       2 * nla_total_size(sizeof(u8)) +		/* linklayer, ecn */
	       nla_total_size_64bit(sizeof(struct tc_vmpolice_stats)) +
	       nla_total_size(sizeof(u32)) +		/* queues omitted */
	       2 * nla_total_size(sizeof(u32));		/* ifindex, handle */
}
EXPORT_SYMBOL_IF_KUNIT(vmp_dump_size);
