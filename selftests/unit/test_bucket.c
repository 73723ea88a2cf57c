// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the vmpolice charging and bucket arithmetic
 * (kmod/vmpolice_bucket.h), built in userspace.  KTAP output.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmpolice_bucket.h"

static int test_no, failed;

static void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d ", ok ? "ok" : "not ok", ++test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		failed++;
}

#define ETH		14
#define IP4		20
#define IP6		40
#define TCP		32	/* with timestamps */
#define UDP		8
#define MSS4		1448

static const struct vmp_framing plain = {
	.linklayer = VMP_LINKLAYER_ETHERNET,
};

/* Exact cost in ns of @units at @rate, for comparison. */
static double exact_ns(u64 units, u64 rate)
{
	return (double)units * 1e9 / (double)rate;
}

static void test_rate_precision(void)
{
	static const u64 rates[] = { 1, 1000, 125000, 1250000, 125000000,
				     1250000000ULL, 12500000000ULL,
				     1000000000000ULL };
	double worst = 0;
	unsigned int i;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct vmp_rate r;
		double want, err;
		u64 units;

		vmp_rate_init(&r, rates[i]);
		for (units = 64; units <= 65536; units *= 4) {
			want = exact_ns(units, rates[i]);
			err = fabs((double)vmp_rate_ns(&r, units) - want);
			/* truncation of the product: below 1 ns + 2^-30 rel */
			if (err > 1.0 + want / (1 << 30))
				worst = fmax(worst, err / want);
		}
	}
	result(worst == 0, "rate_ns within 2^-30 of exact, 1 B/s .. 1 TB/s");
}

static void test_frame_len(void)
{
	struct vmp_framing f = plain;
	bool ok = true;

	ok &= vmp_frame_len(&f, 60) == 60;
	f.mpu = 64;
	ok &= vmp_frame_len(&f, 60) == 64 && vmp_frame_len(&f, 100) == 100;
	f.overhead = 24;
	ok &= vmp_frame_len(&f, 60) == 84;
	f.overhead = -20;
	ok &= vmp_frame_len(&f, 60) == 64 && vmp_frame_len(&f, 200) == 180;
	f = plain;
	f.linklayer = VMP_LINKLAYER_ATM;
	/* 100 bytes need 3 cells of 48 bytes, each 53 on the wire */
	ok &= vmp_frame_len(&f, 100) == 159 && vmp_frame_len(&f, 96) == 106;
	f.overhead = 10;
	ok &= vmp_frame_len(&f, 86) == 106 && vmp_frame_len(&f, 87) == 159;
	result(ok, "overhead, mpu and ATM cells applied per frame");
}

static void test_train_tcp4(void)
{
	u32 hdr = ETH + IP4 + TCP, payload = 45 * MSS4 - 100;
	struct vmp_train t;
	bool ok;

	ok = vmp_train_gso(&t, hdr + payload, hdr, MSS4);
	ok &= t.segs == 45 && t.seg_len == hdr + MSS4 &&
	      t.last_len == hdr + MSS4 - 100;
	/* the wire carries every segment's headers: 45 copies */
	ok &= vmp_train_bytes(&t, t.segs) == (u64)45 * hdr + payload;
	ok &= vmp_train_bytes(&t, 10) == (u64)10 * (hdr + MSS4);
	ok &= vmp_train_max_len(&t) == hdr + MSS4;
	result(ok, "IPv4 TCP GSO: 45 segments, headers charged 45 times");
}

static void test_train_ipv6_udp(void)
{
	u32 hdr = ETH + IP6 + UDP, gso = 1232;
	struct vmp_train t;
	bool ok;

	ok = vmp_train_gso(&t, hdr + 10 * gso, hdr, gso);
	ok &= t.segs == 10 && t.last_len == hdr + gso && t.seg_len == t.last_len;
	ok &= vmp_train_bytes(&t, 10) == (u64)10 * (hdr + gso);
	result(ok, "IPv6 UDP GSO: exact multiple of gso_size");
}

static void test_train_lies(void)
{
	u32 hdr = ETH + IP4 + TCP;
	struct vmp_train t;
	bool ok = true;

	ok &= !vmp_train_gso(&t, 1000, hdr, 0);		/* no gso_size */
	ok &= !vmp_train_gso(&t, hdr, hdr, MSS4);	/* no payload */
	ok &= !vmp_train_gso(&t, hdr - 1, hdr, MSS4);	/* header > packet */
	/* gso_size above the payload: one frame, the packet itself */
	ok &= vmp_train_gso(&t, hdr + 500, hdr, 60000) && t.segs == 1 &&
	      t.seg_len == hdr + 500 && t.last_len == hdr + 500;
	/* gso_size 1: every payload byte is a frame with full headers */
	ok &= vmp_train_gso(&t, hdr + 1000, hdr, 1) && t.segs == 1000 &&
	      vmp_train_bytes(&t, t.segs) == (u64)1000 * (hdr + 1);
	result(ok, "impossible GSO metadata refused, lying gso_size charged as sent");
}

static void test_train_tunnel(void)
{
	/* VXLAN over IPv4: outer 14+20+8+8, inner 14+20+32 repeated */
	u32 hdr = ETH + IP4 + UDP + 8 + ETH + IP4 + TCP, payload = 20 * 1398;
	struct vmp_train t;
	bool ok;

	ok = vmp_train_gso(&t, hdr + payload, hdr, 1398);
	ok &= t.segs == 20 && vmp_train_bytes(&t, 20) == (u64)20 * (hdr + 1398);
	result(ok, "tunnel GSO: outer and inner headers in every frame");
}

static void test_cost_fit(void)
{
	u32 hdr = ETH + IP4 + TCP;
	struct vmp_train t;
	struct vmp_cost c;
	struct vmp_rate r;
	bool ok = true;

	vmp_train_gso(&t, hdr + 9 * MSS4 + 700, hdr, MSS4);	/* 10 frames */
	vmp_rate_init(&r, NSEC_PER_SEC);			/* 1 ns/byte */
	vmp_cost_bytes(&c, &r, &plain, &t);
	ok &= c.seg == hdr + MSS4 && c.last == hdr + 700;
	ok &= vmp_cost_fit(&c, vmp_cost_of(&c, 10), 10) == 10;
	ok &= vmp_cost_fit(&c, vmp_cost_of(&c, 10) - 1, 10) == 9;
	ok &= vmp_cost_fit(&c, 3 * c.seg + c.seg - 1, 10) == 3;
	ok &= vmp_cost_fit(&c, 0, 10) == 0 && vmp_cost_fit(&c, -5, 10) == 0;
	/* a limit from an earlier bucket caps the count */
	ok &= vmp_cost_fit(&c, vmp_cost_of(&c, 10), 4) == 4;
	/* one short frame: all or nothing */
	vmp_train_single(&t, 100);
	vmp_cost_bytes(&c, &r, &plain, &t);
	ok &= vmp_cost_fit(&c, 99, 1) == 0 && vmp_cost_fit(&c, 100, 1) == 1;
	result(ok, "partial admission: exactly the leading frames that fit");
}

/* Send full frames back to back at time @now; return frames admitted. */
static u64 drain(struct vmp_bucket *b, s64 tau, const struct vmp_cost *c,
		 u64 now)
{
	u64 n = 0, base;

	while (vmp_bucket_take(b, tau, 0, c, 1, now, &base))
		n++;
	return n;
}

static void test_bucket_burst_and_rate(void)
{
	struct vmp_bucket b;
	struct vmp_train t;
	struct vmp_cost c;
	struct vmp_rate r;
	u64 now = 5 * NSEC_PER_SEC, sent = 0, step;
	s64 tau;
	bool ok = true;
	int i;

	vmp_rate_init(&r, 1250000);		/* 10 Mbit/s */
	tau = vmp_rate_ns(&r, 15140);		/* burst: 10 frames */
	vmp_train_single(&t, 1514);
	vmp_cost_bytes(&c, &r, &plain, &t);
	vmp_bucket_reset(&b, now);

	ok &= drain(&b, tau, &c, now) == 10;	/* the burst, no more */
	/* 10 s of greedy sending, every 100 us */
	step = 100000;
	for (i = 0; i < 100000; i++) {
		now += step;
		sent += drain(&b, tau, &c, now);
	}
	/* 10 s at 1.25 MB/s = 12.5 MB = 8256.9 frames of 1514 bytes */
	ok &= sent >= 8256 && sent <= 8257;
	result(ok, "greedy sender gets burst then exactly the rate (%llu frames)",
	       (unsigned long long)sent);
}

static void test_bucket_gso_partial(void)
{
	u32 hdr = ETH + IP4 + TCP;
	struct vmp_bucket b;
	struct vmp_train t;
	struct vmp_cost c;
	struct vmp_rate r;
	u64 now = NSEC_PER_SEC, base;
	s64 tau;
	u32 k;
	bool ok = true;

	vmp_rate_init(&r, 1000000);
	vmp_train_gso(&t, hdr + 45 * MSS4, hdr, MSS4);
	vmp_cost_bytes(&c, &r, &plain, &t);
	tau = vmp_rate_ns(&r, 16 * 1024);	/* 16 KiB burst */
	vmp_bucket_reset(&b, now);
	k = vmp_bucket_take(&b, tau, 0, &c, t.segs, now, &base);
	/* 16384 / 1514 = 10.8: 10 leading frames pass */
	ok &= k == 10;
	ok &= vmp_bucket_take(&b, tau, 0, &c, t.segs, now, &base) == 0;
	/* one frame's worth of time later, one more frame */
	ok &= vmp_bucket_take(&b, tau, 0, &c, t.segs, now + c.seg, &base) == 1;
	result(ok, "64 KiB GSO under a 16 KiB burst: 10 segments pass, not 0");
}

static void test_bucket_pps(void)
{
	struct vmp_bucket b;
	struct vmp_train t;
	struct vmp_cost c;
	struct vmp_rate r;
	u64 now = NSEC_PER_SEC, base;
	bool ok = true;
	s64 tau;

	vmp_rate_init(&r, 2000);		/* 2000 frames/s */
	tau = vmp_rate_ns(&r, 400);		/* burst 400 frames */
	vmp_train_gso(&t, 66 + 45 * MSS4, 66, MSS4);
	vmp_cost_frames(&c, &r, &t);
	vmp_bucket_reset(&b, now);
	/* 8 trains of 45 = 360, the 9th gets the remaining 40 */
	ok &= vmp_bucket_take(&b, tau, 0, &c, 45, now, &base) == 45;
	now += 0;
	for (int i = 0; i < 7; i++)
		ok &= vmp_bucket_take(&b, tau, 0, &c, 45, now, &base) == 45;
	ok &= vmp_bucket_take(&b, tau, 0, &c, 45, now, &base) == 40;
	ok &= vmp_bucket_take(&b, tau, 0, &c, 45, now + NSEC_PER_SEC / 2,
			      &base) == 45;
	result(ok, "pkts_rate counts segments, not packets");
}

static void test_bucket_refund(void)
{
	struct vmp_bucket b;
	struct vmp_train t;
	struct vmp_cost c;
	struct vmp_rate r;
	u64 now = NSEC_PER_SEC, base;
	bool ok = true;
	s64 tau;

	vmp_rate_init(&r, 1000000);
	tau = vmp_rate_ns(&r, 100000);
	vmp_train_gso(&t, 66 + 40 * MSS4, 66, MSS4);
	vmp_cost_bytes(&c, &r, &plain, &t);
	vmp_bucket_reset(&b, now);
	ok &= vmp_bucket_take(&b, tau, 0, &c, 40, now, &base) == 40;
	/* a later bucket allowed only 25: give back 15 frames */
	vmp_bucket_refund(&b, &c, 40, 25);
	ok &= atomic64_read(&b.tat) == (s64)(now + vmp_cost_of(&c, 25));
	vmp_bucket_refund(&b, &c, 25, 0);
	ok &= atomic64_read(&b.tat) == (s64)now;
	result(ok, "refund returns exactly the frames another bucket refused");
}

static void test_bucket_wrap_and_idle(void)
{
	struct vmp_bucket b1, b2;
	struct vmp_train t;
	struct vmp_cost c;
	struct vmp_rate r;
	u64 base = (u64)-3 * NSEC_PER_SEC, n1 = 0, n2 = 0;
	bool ok = true;
	s64 tau;
	int i;

	vmp_rate_init(&r, 1250000);
	tau = vmp_rate_ns(&r, 30000);
	vmp_train_single(&t, 1000);
	vmp_cost_bytes(&c, &r, &plain, &t);
	/* the same 6 s of traffic, across the 2^64 ns wrap and far from it */
	vmp_bucket_reset(&b1, base);
	vmp_bucket_reset(&b2, 7 * NSEC_PER_SEC);
	for (i = 0; i < 6000; i++) {
		n1 += drain(&b1, tau, &c, base + (u64)i * 1000000);
		n2 += drain(&b2, tau, &c, 7 * NSEC_PER_SEC + (u64)i * 1000000);
	}
	ok &= n1 == n2 && n1 > 7000;
	/* 1000 s idle: the bucket refills to the burst, not beyond */
	ok &= drain(&b1, tau, &c, base + 1000 * NSEC_PER_SEC) == 30;
	ok &= vmp_bucket_tokens(&b1, tau, &r, base + 1000 * NSEC_PER_SEC) < 1000;
	result(ok, "clock wrap changes nothing; long idle refills to burst only");
}

static void test_rescale(void)
{
	struct vmp_rate r1, r2, none = { 0 };
	u64 now = 10 * NSEC_PER_SEC, tok;
	struct vmp_bucket b;
	s64 tau1, tau2;
	bool ok = true;

	vmp_rate_init(&r1, 1000000);
	vmp_rate_init(&r2, 4000000);
	tau1 = vmp_rate_ns(&r1, 100000);
	tau2 = vmp_rate_ns(&r2, 100000);
	/* 40000 bytes of tokens left */
	atomic64_set(&b.tat, (s64)(now + vmp_rate_ns(&r1, 60000)));
	tok = vmp_bucket_tokens(&b, tau1, &r1, now);
	ok &= tok == 40000;
	vmp_bucket_rescale(&b, &r1, tau1, &r2, tau2, now);
	tok = vmp_bucket_tokens(&b, tau2, &r2, now);
	ok &= tok >= 39999 && tok <= 40000;
	/* a smaller burst caps the tokens */
	tau1 = vmp_rate_ns(&r2, 10000);
	vmp_bucket_rescale(&b, &r2, tau2, &r2, tau1, now);
	ok &= vmp_bucket_tokens(&b, tau1, &r2, now) == 10000;
	/* a bucket that did not exist starts full */
	atomic64_set(&b.tat, 12345);
	vmp_bucket_rescale(&b, &none, 0, &r2, tau2, now);
	ok &= vmp_bucket_tokens(&b, tau2, &r2, now) == 100000;
	result(ok, "change of rate and burst keeps the tokens (capped by burst)");
}

struct racer {
	struct vmp_bucket *b;
	const struct vmp_cost *c;
	s64 tau;
	u64 taken, wins;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	u64 base;
	u32 k;
	int i;

	for (i = 0; i < 20000; i++) {
		k = vmp_bucket_take(r->b, r->tau, 0, r->c, 3, NSEC_PER_SEC,
				    &base);
		r->taken += k;
		r->wins += !!k;
	}
	return NULL;
}

static void test_bucket_concurrent(void)
{
	struct racer rs[4];
	pthread_t th[4];
	struct vmp_bucket b;
	struct vmp_train t;
	struct vmp_cost c;
	struct vmp_rate r;
	u64 total = 0;
	int i, busy = 0;

	vmp_rate_init(&r, NSEC_PER_SEC);	/* 1 ns per byte */
	vmp_train_gso(&t, 10 + 3 * 990, 10, 990);	/* 3 frames of 1000 */
	vmp_cost_bytes(&c, &r, &plain, &t);
	vmp_bucket_reset(&b, NSEC_PER_SEC);
	for (i = 0; i < 4; i++) {
		/* 1000 frames of room, hammered at one instant */
		rs[i] = (struct racer){ &b, &c, 1000000, 0, 0 };
		pthread_create(&th[i], NULL, race, &rs[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += rs[i].taken;
		busy += rs[i].wins > 0;
	}
	/* a lost update would hand out more than the room */
	result(total == 1000, "4 threads on one bucket, cmpxchg only: %llu frames of 1000 room (%d threads won)",
	       (unsigned long long)total, busy);
}

int main(void)
{
	printf("TAP version 13\n1..14\n");
	test_rate_precision();
	test_frame_len();
	test_train_tcp4();
	test_train_ipv6_udp();
	test_train_lies();
	test_train_tunnel();
	test_cost_fit();
	test_bucket_burst_and_rate();
	test_bucket_gso_partial();
	test_bucket_pps();
	test_bucket_refund();
	test_bucket_wrap_and_idle();
	test_rescale();
	test_bucket_concurrent();
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n",
	       test_no - failed, failed);
	return failed ? 1 : 0;
}
