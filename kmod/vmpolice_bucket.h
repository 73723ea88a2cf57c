/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmpolice charging and bucket arithmetic.
 *
 * Everything here is pure arithmetic on integers and one atomic64_t per
 * bucket, so the same file is compiled into the module and into the
 * userspace unit tests (selftests/unit/), which supply the few kernel
 * primitives it uses.
 *
 * A packet is described as a "train": the wire frames it stands for.  A
 * GSO packet of N segments is N frames that each carry the repeated
 * headers; all but the last carry gso_size bytes of payload.  Charging a
 * train means charging every frame on its own, with overhead, mpu and the
 * link layer applied per frame, as the wire does.
 *
 * Buckets are GCRA ("virtual scheduling"): a bucket is one 64-bit
 * theoretical arrival time (tat) in nanoseconds.  A frame costing c ns
 * conforms at time now when max(tat, now) + c - now <= tau, where tau is
 * the burst expressed in ns at the bucket's rate; if so tat advances by c.
 * That is exactly a token bucket of depth tau, but its whole state is one
 * word, so every CPU and every queue can update it with a single cmpxchg
 * instead of taking a lock.  All time comparisons are signed differences,
 * so the clock may wrap.
 *
 * Generations.  Charges are in the ns of one configuration (its rate and
 * burst); a change converts every bucket to the new rate.  A charge or a
 * refund must only ever meet a tat of its own configuration, so the
 * word of a bucket also says which configuration its tat belongs to:
 * bit 63 is the generation's lowest bit, bits 0-62 the tat modulo 2^63,
 * read back as the tat nearest to now (a signed 63-bit difference: exact
 * while tat - now stays within +-2^62 ns, 146 years; the deepest bucket
 * is 73 years, VMP_MAX_RESERVE_NS caps what a change carries over beyond
 * the burst, and a bucket idle for more than 146 years of uptime reads
 * as a debt).  One bit is enough because a charger also checks, after
 * reading the word, that its configuration is still the one published
 * (struct vmp_gen): the words are then of that generation or of the one
 * before, which the change is still converting.
 */
#ifndef _VMPOLICE_BUCKET_H
#define _VMPOLICE_BUCKET_H

/* Link layers, as TC_LINKLAYER_* in <linux/pkt_sched.h>. */
#define VMP_LINKLAYER_ETHERNET	1
#define VMP_LINKLAYER_ATM	2

/* A rate prepared so that cost = (units * mult) >> shift nanoseconds. */
struct vmp_rate {
	u64	rate;		/* units per second; 0: not configured */
	u32	mult;
	u8	shift;
};

/* The frames a packet stands for on the wire. */
struct vmp_train {
	u32	segs;		/* frames, >= 1 */
	u32	seg_len;	/* wire length of every frame but the last */
	u32	last_len;	/* wire length of the last frame */
	u32	hdr_len;	/* headers every frame repeats */
	u32	gso_size;	/* payload per frame but the last; 0: not GSO */
};

/* How each frame's length is adjusted before it is charged. */
struct vmp_framing {
	s32	overhead;
	u32	mpu;
	u8	linklayer;
};

static inline void vmp_rate_init(struct vmp_rate *r, u64 rate)
{
	u64 factor = NSEC_PER_SEC;

	r->rate = rate;
	r->mult = 1;
	r->shift = 0;
	if (!rate)
		return;
	/*
	 * Largest shift that keeps mult within 32 bits: the relative error
	 * of the cost is then below 2^-31 (same scheme as psched_ratecfg).
	 */
	for (;;) {
		r->mult = div64_u64(factor, rate);
		if (r->mult & (1U << 31) || factor & (1ULL << 63))
			break;
		factor <<= 1;
		r->shift++;
	}
}

/*
 * Nanoseconds that @units (bytes or frames) take at rate @r.  The product
 * is taken in 128 bits: with mult up to 2^32, 64 bits would overflow from
 * 4 GiB on (a burst may be up to 2^40 bytes).  The result must fit 64
 * bits, i.e. @units / rate below 584 years: the parser refuses a burst
 * of more than 73 years (VMP_MAX_TAU_NS).
 */
static inline u64 vmp_rate_ns(const struct vmp_rate *r, u64 units)
{
	return mul_u64_u32_shr(units, r->mult, r->shift);
}

/* Units that @ns nanoseconds are worth at rate @r (for rescaling). */
static inline u64 vmp_rate_units(const struct vmp_rate *r, u64 ns)
{
	return mul_u64_u64_div_u64(ns, r->rate, NSEC_PER_SEC);
}

/* Length of one frame as the link charges it. */
static inline u32 vmp_frame_len(const struct vmp_framing *f, u32 len)
{
	s64 adj = (s64)len + f->overhead;

	if (adj < (s64)f->mpu)
		adj = f->mpu;
	if (adj < 1)
		adj = 1;
	if (f->linklayer == VMP_LINKLAYER_ATM)
		adj = DIV_ROUND_UP(adj, 48) * 53;
	return (u32)adj;
}

/*
 * Describe a GSO packet of @wire_len bytes (MAC header included) whose
 * every frame repeats @hdr_len bytes of headers and carries @gso_size
 * bytes of payload.  The segment count is derived from the lengths, never
 * taken from the sender.  Returns false when the description is
 * impossible (no payload, or no segment size).
 */
static inline bool vmp_train_gso(struct vmp_train *t, u32 wire_len,
				 u32 hdr_len, u32 gso_size)
{
	u32 payload;

	if (!gso_size || hdr_len >= wire_len)
		return false;
	payload = wire_len - hdr_len;
	t->segs = DIV_ROUND_UP(payload, gso_size);
	t->hdr_len = hdr_len;
	t->gso_size = gso_size;
	t->seg_len = hdr_len + min(gso_size, payload);
	t->last_len = hdr_len + (payload - (t->segs - 1) * gso_size);
	return true;
}

static inline void vmp_train_single(struct vmp_train *t, u32 wire_len)
{
	t->segs = 1;
	t->seg_len = wire_len;
	t->last_len = wire_len;
	t->hdr_len = 0;
	t->gso_size = 0;
}

/* Longest frame of the train: what the per-frame ceiling is checked on. */
static inline u32 vmp_train_max_len(const struct vmp_train *t)
{
	return max(t->seg_len, t->last_len);
}

/* Wire bytes of the first @k frames (without overhead). */
static inline u64 vmp_train_bytes(const struct vmp_train *t, u32 k)
{
	if (!k)
		return 0;
	if (k < t->segs)
		return (u64)k * t->seg_len;
	return (u64)(t->segs - 1) * t->seg_len + t->last_len;
}

/* What one bucket charges for the frames of one train. */
struct vmp_cost {
	u64	seg;		/* ns for each frame but the last */
	u64	last;		/* ns for the last frame */
	u32	segs;
};

/* Cost at a byte rate: every frame adjusted by the framing on its own. */
static inline void vmp_cost_bytes(struct vmp_cost *c, const struct vmp_rate *r,
				  const struct vmp_framing *f,
				  const struct vmp_train *t)
{
	c->seg = vmp_rate_ns(r, vmp_frame_len(f, t->seg_len));
	c->last = vmp_rate_ns(r, vmp_frame_len(f, t->last_len));
	c->segs = t->segs;
}

/* Cost at a packet rate: every frame is one packet. */
static inline void vmp_cost_frames(struct vmp_cost *c, const struct vmp_rate *r,
				   const struct vmp_train *t)
{
	c->seg = vmp_rate_ns(r, 1);
	c->last = c->seg;
	c->segs = t->segs;
}

static inline u64 vmp_cost_of(const struct vmp_cost *c, u32 k)
{
	if (!k)
		return 0;
	if (k < c->segs)
		return k * c->seg;
	return (c->segs - 1) * c->seg + c->last;
}

/*
 * How many leading frames, at most @limit, fit in @room ns of a bucket.
 * Frames are admitted in order: a train is cut, never reordered.
 */
static inline u32 vmp_cost_fit(const struct vmp_cost *c, s64 room, u32 limit)
{
	u32 k;

	if (room < 0 || !limit)
		return 0;
	if (limit == c->segs && vmp_cost_of(c, limit) <= (u64)room)
		return limit;
	/* Not all of it: only whole full-size frames before the last. */
	k = min_t(u32, limit, c->segs - 1);
	if (!c->seg)
		return k;
	return min_t(u64, k, div64_u64((u64)room, c->seg));
}

/*
 * A GCRA bucket: its state is one theoretical arrival time (ns).  tau is
 * the burst in ns at the bucket's rate; a rate of 0 means "no bucket".
 */
struct vmp_bucket {
	atomic64_t	tat;	/* generation bit and tat: vmp_word() */
};

#define VMP_TAT_BITS	63
#define VMP_TAT_MASK	((1ULL << VMP_TAT_BITS) - 1)

/* What a change keeps reserved beyond the burst, at most (ns, 36 years). */
#define VMP_MAX_RESERVE_NS	(S64_MAX >> 3)

/* Returned by the charging functions: see struct vmp_gen. */
#define VMP_STALE	U32_MAX

/* The word of a bucket whose tat @tat belongs to generation @gen. */
static inline s64 vmp_word(u32 gen, u64 tat)
{
	return (s64)(((u64)(gen & 1) << VMP_TAT_BITS) | (tat & VMP_TAT_MASK));
}

static inline bool vmp_word_is_gen(s64 word, u32 gen)
{
	return ((u64)word >> VMP_TAT_BITS) == (gen & 1);
}

/* The tat of @word: the one nearest @now that it stands for. */
static inline u64 vmp_word_tat(s64 word, u64 now)
{
	u64 d = ((u64)word - now) & VMP_TAT_MASK;

	/* sign-extend the 63-bit difference */
	return now + (u64)((s64)(d << 1) >> 1);
}

/*
 * A fresh bucket, full, of generation 0 (before any configuration).  A
 * bucket made once a configuration is published must carry that one's
 * generation instead (vmp_word(prm->gen, now)): of another, a charger
 * would convert it from the configuration before.
 */
static inline void vmp_bucket_reset(struct vmp_bucket *b, u64 now)
{
	atomic64_set(&b->tat, vmp_word(0, now));
}

struct vmp_params;	/* a configuration: here only its address */

/*
 * The configuration a charge, refund or change is made in, for one
 * bucket.  A policer counts its configurations (generations) and
 * publishes the newest at *@live (its RCU pointer).  A change publishes
 * the new configuration (with the rate and burst of the one before it,
 * @was) first, then converts every bucket to it; a charger that finds a
 * bucket of the generation before converts it itself, with the same
 * cmpxchg as its charge.  A charger whose configuration @cfg is no longer
 * the one published gets VMP_STALE and must read the parameters again and
 * start the packet over; a refund of an older configuration is dropped
 * (it would credit ns of the wrong rate; never credit).  @cfg cannot be
 * freed and its address reused while the charger holds it (RCU), so the
 * comparison of addresses is exact.
 */
struct vmp_gen {
	struct vmp_params __rcu	*const *live;
	const struct vmp_params	*cfg;	/* the configuration charged in */
	u32			gen;	/* its generation */
	const struct vmp_rate	*rate;	/* the bucket's rate in it */
	const struct vmp_rate	*was;	/* its rate in the one before */
	s64			was_tau;
};

/*
 * @g charges a bucket of rate @rate in configuration @cfg (generation
 * @gen) published at *@live; in the configuration before it the bucket
 * had rate @was and tau @was_tau ns.
 */
static inline void vmp_gen_set(struct vmp_gen *g,
			       struct vmp_params __rcu *const *live,
			       const struct vmp_params *cfg, u32 gen,
			       const struct vmp_rate *rate,
			       const struct vmp_rate *was, s64 was_tau)
{
	g->live = live;
	g->cfg = cfg;
	g->gen = gen;
	g->rate = rate;
	g->was = was;
	g->was_tau = was_tau;
}

/* @g's configuration is still the one published (read after the word). */
static inline bool vmp_gen_live(const struct vmp_gen *g)
{
	return rcu_access_pointer(*g->live) == g->cfg;
}

static inline u64 vmp_tat_convert(u64 tat, const struct vmp_gen *g, s64 tau,
				  u64 now);

/*
 * The tat of @word in the ns of @g (converted from the generation before
 * if need be).  False when @g is no longer the newest configuration.
 * The caller read its parameters, then (smp_rmb()) @word: the words are
 * then at least of the generation before @g, and with the published
 * configuration read after @word (a change publishes before it
 * converts) no newer than that one: of @g or the one before.
 */
static inline bool vmp_word_read(s64 word, const struct vmp_gen *g, s64 tau,
				 u64 now, u64 *tat)
{
	smp_rmb();	/* the configuration published after @word */
	if (!vmp_gen_live(g))
		return false;
	*tat = vmp_word_tat(word, now);
	if (!vmp_word_is_gen(word, g->gen))
		*tat = vmp_tat_convert(*tat, g, tau, now);
	return true;
}

/*
 * Take up to @want leading frames of the train from bucket @b, in the ns
 * of configuration @g.  Returns how many were taken; their cost is
 * charged, the rest is not.  VMP_STALE (nothing taken) when @g is no
 * longer the newest configuration.  Lock free: one cmpxchg per attempt,
 * retried only when another CPU charged or converted the same bucket in
 * between.
 *
 * @slack (ns, >= 0) is the delay budget ("latency"): a frame is taken if
 * it conforms now or will conform within @slack, i.e. if
 * max(tat, now) + cost - now <= tau + slack.  With @slack 0 this is plain
 * GCRA.  *@base receives max(tat, now) before the charge, from which
 * vmp_release_ns() tells when the taken frames conform.  The frames of a
 * held train leave together when the last of them conforms, so a train
 * longer than the burst (a 45-segment TCP GSO packet is 68130 wire
 * bytes, more than a 64 KiB burst) is not cut for its own length.
 */
static inline u32 vmp_bucket_take(struct vmp_bucket *b,
				  const struct vmp_gen *g, s64 tau, s64 slack,
				  const struct vmp_cost *c, u32 want, u64 now,
				  u64 *base)
{
	s64 old;
	u64 tat;
	u32 k;

	smp_rmb();	/* the word after the parameters: vmp_word_read() */
	old = atomic64_read(&b->tat);
	do {
		if (!vmp_word_read(old, g, tau, now, &tat))
			return VMP_STALE;
		*base = (s64)(tat - now) > 0 ? tat : now;
		k = vmp_cost_fit(c, tau + slack - (s64)(*base - now), want);
		if (!k)
			return 0;
	} while (!atomic64_try_cmpxchg(&b->tat, &old,
				       vmp_word(g->gen,
						*base + vmp_cost_of(c, k))));
	return k;
}

/*
 * When frames charged from @base at a total of @cost ns conform (ns,
 * same clock as @now): the moment their theoretical arrival time is no
 * more than tau ahead, never before @now.  Sending each train at this
 * time keeps the output of a bucket within burst + rate x t over any
 * window (GCRA: every frame leaves when the bucket would have admitted
 * it), however many CPUs reserve concurrently.
 */
static inline u64 vmp_release_ns(u64 base, u64 cost, s64 tau, u64 now)
{
	u64 release = base + cost - (u64)tau;

	return (s64)(release - now) > 0 ? release : now;
}

/*
 * The ECN decision: an ECN-capable packet that will be held more than
 * @threshold ns is marked CE (congestion experienced) rather than left to
 * wait until the budget is gone and packets are dropped (RFC 3168 5,
 * marking instead of dropping; a delay threshold as in RFC 8033/8289).
 */
static inline bool vmp_ecn_should_mark(u64 delay, u64 threshold)
{
	return delay > threshold;
}

/*
 * Bytes a policer may hold at most: what @rate (bytes/s) sends in
 * @latency ns, plus one 64 KiB train for each of @queues queues that
 * hold packets (the budget is checked per train, so each may overshoot
 * by one).  Saturates instead of overflowing.
 */
static inline u64 vmp_hold_cap(u64 rate, u64 latency, u32 queues, u32 train)
{
	u64 extra = (u64)queues * train;
	u64 bytes;

	/* the quotient must fit 64 bits (x86-64 divides with #DE if not) */
	if (latency > NSEC_PER_SEC &&
	    rate > div64_u64(U64_MAX, latency) * NSEC_PER_SEC)
		return U64_MAX;
	bytes = mul_u64_u64_div_u64(rate, latency, NSEC_PER_SEC);

	return bytes > U64_MAX - extra ? U64_MAX : bytes + extra;
}

/*
 * Held packets were dropped before they left: give back what the bucket
 * reserved for them beyond @limit (ns), so that the traffic after them
 * is not charged for packets that never left.  The caller puts @limit
 * past the reservations of every packet still held (they conform within
 * the latency).  Only lowers tat: a tat in the past reads as a full
 * bucket, so this never credits more than the burst.  False (nothing
 * done) when @g is no longer the newest configuration.
 */
static inline bool vmp_bucket_clamp(struct vmp_bucket *b,
				    const struct vmp_gen *g, s64 tau,
				    u64 limit, u64 now)
{
	s64 old;
	u64 tat;

	smp_rmb();	/* the word after the parameters: vmp_word_read() */
	old = atomic64_read(&b->tat);
	do {
		if (!vmp_word_read(old, g, tau, now, &tat))
			return false;	/* stale: the caller reads again */
		if ((s64)(tat - limit) <= 0)
			return true;
	} while (!atomic64_try_cmpxchg(&b->tat, &old, vmp_word(g->gen, limit)));
	return true;
}

/*
 * Give back the cost of frames that were taken from @b, reserved from
 * @base (ns) on, but then refused by another bucket.  Only the part of
 * that reservation still ahead of @now (ns, read after the refusal) comes
 * back: a bucket that ran idle meanwhile was re-based by the next taker
 * (max(tat, now) in vmp_bucket_take()), which dropped the expired
 * reservation already, and taking it off again would credit more than
 * the burst.  The refund can leave tat in the past, which reads the same
 * as a full bucket.  A refund of a configuration that is no longer the
 * newest is dropped: its ns are not the bucket's any more.
 */
static inline void vmp_bucket_refund(struct vmp_bucket *b,
				     const struct vmp_gen *g,
				     const struct vmp_cost *c, u64 base,
				     u32 taken, u32 kept, u64 now)
{
	u64 end = base + vmp_cost_of(c, taken), back;
	s64 old;

	if (taken <= kept || (s64)(end - now) <= 0)
		return;
	back = vmp_cost_of(c, taken) - vmp_cost_of(c, kept);
	back = min_t(u64, back, end - now);
	smp_rmb();	/* the word after the parameters: vmp_word_read() */
	old = atomic64_read(&b->tat);
	do {
		/*
		 * Only to a tat of the generation charged: the charge made
		 * it of @g or newer, and with @g still the newest it is @g.
		 */
		smp_rmb();
		if (!vmp_gen_live(g) || !vmp_word_is_gen(old, g->gen))
			return;
	} while (!atomic64_try_cmpxchg(&b->tat, &old,
				       vmp_word(g->gen,
						vmp_word_tat(old, now) - back)));
}

/* Units (bytes or frames) a bucket at @tat could admit at @now. */
static inline u64 vmp_tat_tokens(s64 tat, s64 tau, const struct vmp_rate *r,
				 u64 now)
{
	s64 debt = (s64)((u64)tat - now);

	if (debt < 0)
		debt = 0;
	if (debt >= tau)
		return 0;
	return vmp_rate_units(r, tau - debt);
}

/* Units (bytes or frames) a bucket could admit right now. */
static inline u64 vmp_bucket_tokens(struct vmp_bucket *b, s64 tau,
				    const struct vmp_rate *r, u64 now)
{
	return vmp_tat_tokens((s64)vmp_word_tat(atomic64_read(&b->tat), now),
			      tau, r, now);
}

/*
 * The tat that keeps a bucket's tokens across a change: the units it
 * could admit at @now stay what they were (capped by the new burst),
 * expressed at the new rate.  What is reserved beyond the burst (held
 * packets) stays reserved, converted to the new rate, or the new packets
 * would be given the same moments to leave.
 */
static inline s64 vmp_tat_rescale(s64 tat, const struct vmp_rate *old_rate,
				  s64 old_tau, const struct vmp_rate *new_rate,
				  s64 new_tau, u64 now)
{
	s64 debt = (s64)((u64)tat - now);
	u64 tokens, tokens_ns, excess;

	if (debt > old_tau) {
		excess = vmp_rate_units(old_rate, debt - old_tau);
		/* within the range of a bucket word (and of 64 bits) */
		if (excess >= vmp_rate_units(new_rate, VMP_MAX_RESERVE_NS))
			return (s64)(now + (u64)new_tau + VMP_MAX_RESERVE_NS);
		return (s64)(now + (u64)new_tau + vmp_rate_ns(new_rate, excess));
	}
	tokens = vmp_tat_tokens(tat, old_tau, old_rate, now);
	/*
	 * Capped by the new burst in units first: the tokens of a large
	 * old burst at a much lower new rate could last longer than 64
	 * bits of ns.
	 */
	if (tokens >= vmp_rate_units(new_rate, new_tau))
		return (s64)now;
	tokens_ns = vmp_rate_ns(new_rate, tokens);
	if (tokens_ns >= (u64)new_tau)
		return (s64)now;
	return (s64)(now + (u64)new_tau - tokens_ns);
}

/*
 * A tat of the generation before @g in @g's ns: the tokens kept
 * (vmp_tat_rescale()); a bucket that did not exist before starts full,
 * one that does not exist now is left as it is.
 */
static inline u64 vmp_tat_convert(u64 tat, const struct vmp_gen *g, s64 tau,
				  u64 now)
{
	if (!g->rate->rate)
		return tat;
	if (!g->was->rate)
		return now;
	return (u64)vmp_tat_rescale((s64)tat, g->was, g->was_tau, g->rate, tau,
				    now);
}

/*
 * A configuration change keeps the tokens: after publishing @g (*@g->live
 * is @g->cfg already) the change converts every bucket to it, configured
 * or not, so that every word is of @g or of the generation before.
 * Other CPUs keep charging meanwhile: those still on the old
 * configuration charge the old word until it is converted (then they
 * start over), those on the new one convert it themselves.  The new word
 * replaces the one it was computed from with a cmpxchg and is computed
 * again if a charge came in between, so no charge is lost, and a word
 * already of @g is left alone, so none is converted twice.
 */
static inline void vmp_bucket_rescale(struct vmp_bucket *b,
				      const struct vmp_gen *g, s64 tau,
				      u64 now)
{
	s64 old = atomic64_read(&b->tat);

	do {
		if (vmp_word_is_gen(old, g->gen))
			return;
	} while (!atomic64_try_cmpxchg(&b->tat, &old,
				       vmp_word(g->gen,
						vmp_tat_convert(vmp_word_tat(old, now),
								g, tau, now))));
}

#endif /* _VMPOLICE_BUCKET_H */
