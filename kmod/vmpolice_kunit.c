// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the skb-facing core: how real packets are described as
 * trains of wire frames, how a partly conforming GSO packet is cut, and
 * what vmp_police() decides and counts.  A module of its own,
 * vmpolice_kunit.ko, built only when the target kernel has CONFIG_KUNIT;
 * it uses what vmpolice.ko exports for KUnit alone (EXPORT_SYMBOL_IF_KUNIT)
 * and runs its suite when it is loaded (modprobe vmpolice_kunit, which
 * loads vmpolice.ko first).  vmpolice.ko itself carries no test.
 */

#include <kunit/test.h>
#include <linux/module.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/sctp.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <net/dsfield.h>
#include <net/inet_ecn.h>
#include <net/ip.h>
#include <net/ip6_checksum.h>
#include <net/tcp.h>

#include "vmpolice_core.h"

#define MSS		1448
#define TCP_OPT_LEN	12	/* timestamps: doff 8, 32-byte header */

struct vmp_pkt {
	bool	ipv6;
	bool	udp;
	bool	ingress;	/* MAC header pulled, as at tc ingress */
	u32	payload;
	u32	gso_size;
};

static u32 vmp_l3(const struct vmp_pkt *p)
{
	return p->ipv6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
}

static u32 vmp_l4(const struct vmp_pkt *p)
{
	return p->udp ? sizeof(struct udphdr) :
			sizeof(struct tcphdr) + TCP_OPT_LEN;
}

/* Pseudo-header sum a CHECKSUM_PARTIAL packet carries for @l4len. */
static __sum16 vmp_pseudo(struct sk_buff *skb, bool ipv6, u8 proto,
			  u32 l4len)
{
	if (ipv6)
		return ~csum_ipv6_magic(&ipv6_hdr(skb)->saddr,
					&ipv6_hdr(skb)->daddr, l4len, proto, 0);
	return ~csum_tcpudp_magic(ip_hdr(skb)->saddr, ip_hdr(skb)->daddr,
				  l4len, proto, 0);
}

/* A packet as a guest's virtio-net driver hands it over, GSO or not. */
static struct sk_buff *vmp_build(struct kunit *test, const struct vmp_pkt *p)
{
	u32 l3 = vmp_l3(p), l4 = vmp_l4(p);
	u8 proto = p->udp ? IPPROTO_UDP : IPPROTO_TCP;
	struct sk_buff *skb;
	struct ethhdr *eth;

	skb = alloc_skb(ETH_HLEN + l3 + l4 + p->payload + NET_IP_ALIGN,
			GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, skb);
	skb_reserve(skb, NET_IP_ALIGN);
	eth = skb_put_zero(skb, ETH_HLEN);
	eth->h_proto = htons(p->ipv6 ? ETH_P_IPV6 : ETH_P_IP);
	skb->protocol = eth->h_proto;
	skb_reset_mac_header(skb);
	skb_set_network_header(skb, ETH_HLEN);
	skb_put_zero(skb, l3 + l4 + p->payload);
	skb_set_transport_header(skb, ETH_HLEN + l3);

	if (p->ipv6) {
		struct ipv6hdr *ip6h = ipv6_hdr(skb);

		ip6h->version = 6;
		ip6h->payload_len = htons(l4 + p->payload);
		ip6h->nexthdr = proto;
		ip6h->hop_limit = 64;
		ip6h->saddr.s6_addr[15] = 1;
		ip6h->daddr.s6_addr[15] = 2;
	} else {
		struct iphdr *iph = ip_hdr(skb);

		iph->version = 4;
		iph->ihl = 5;
		iph->tot_len = htons(l3 + l4 + p->payload);
		iph->ttl = 64;
		iph->protocol = proto;
		iph->saddr = htonl(0x0a000001);
		iph->daddr = htonl(0x0a000002);
		ip_send_check(iph);
	}
	if (p->udp) {
		udp_hdr(skb)->len = htons(l4 + p->payload);
		udp_hdr(skb)->check = vmp_pseudo(skb, p->ipv6, proto,
						 l4 + p->payload);
		skb_partial_csum_set(skb, ETH_HLEN + l3,
				     offsetof(struct udphdr, check));
	} else {
		struct tcphdr *th = tcp_hdr(skb);

		th->doff = l4 / 4;
		th->ack = 1;
		th->psh = 1;
		th->fin = 1;
		th->check = vmp_pseudo(skb, p->ipv6, proto, l4 + p->payload);
		skb_partial_csum_set(skb, ETH_HLEN + l3,
				     offsetof(struct tcphdr, check));
	}
	if (p->gso_size) {
		skb_shinfo(skb)->gso_size = p->gso_size;
		skb_shinfo(skb)->gso_type = SKB_GSO_DODGY |
			(p->udp ? SKB_GSO_UDP_L4 :
			 p->ipv6 ? SKB_GSO_TCPV6 : SKB_GSO_TCPV4);
		skb_shinfo(skb)->gso_segs = 1;	/* the guest lies */
	}
	if (p->ingress) {
		skb_pull(skb, ETH_HLEN);
		skb->mac_len = ETH_HLEN;
	}
	return skb;
}

static void vmp_test_train_tcp4(struct kunit *test)
{
	struct vmp_pkt p = { .payload = 45 * MSS - 100, .gso_size = MSS };
	u32 hdr = ETH_HLEN + 20 + 32;
	struct vmp_train t;
	struct sk_buff *skb;

	for (p.ingress = false; ; p.ingress = true) {
		skb = vmp_build(test, &p);
		KUNIT_ASSERT_TRUE(test, vmp_skb_train(skb, &t));
		KUNIT_EXPECT_EQ(test, t.segs, 45);
		KUNIT_EXPECT_EQ(test, t.hdr_len, hdr);
		KUNIT_EXPECT_EQ(test, t.seg_len, hdr + MSS);
		KUNIT_EXPECT_EQ(test, t.last_len, hdr + MSS - 100);
		kfree_skb(skb);
		if (p.ingress)
			break;
	}
}

static void vmp_test_train_udp6(struct kunit *test)
{
	struct vmp_pkt p = { .ipv6 = true, .udp = true, .ingress = true,
			     .payload = 10 * 1232, .gso_size = 1232 };
	struct sk_buff *skb = vmp_build(test, &p);
	struct vmp_train t;

	KUNIT_ASSERT_TRUE(test, vmp_skb_train(skb, &t));
	KUNIT_EXPECT_EQ(test, t.segs, 10);
	KUNIT_EXPECT_EQ(test, t.seg_len, ETH_HLEN + 40 + 8 + 1232);
	KUNIT_EXPECT_EQ(test, vmp_train_bytes(&t, t.segs),
			10ULL * (ETH_HLEN + 40 + 8 + 1232));
	kfree_skb(skb);
}

static void vmp_test_train_single(struct kunit *test)
{
	struct vmp_pkt p = { .udp = true, .ingress = true, .payload = 1000 };
	struct sk_buff *skb = vmp_build(test, &p);
	struct vmp_train t;

	/* the MAC header pulled at ingress is still charged */
	KUNIT_ASSERT_TRUE(test, vmp_skb_train(skb, &t));
	KUNIT_EXPECT_EQ(test, t.segs, 1);
	KUNIT_EXPECT_EQ(test, t.seg_len, 1042);
	kfree_skb(skb);
}

/*
 * An SCTP GSO packet as net/sctp/output.c builds it: Ethernet, IPv4 and
 * the SCTP common header in the head, one frag_list member per segment
 * (its chunks) of the lengths in @len, @n of them.
 */
static struct sk_buff *vmp_build_sctp(struct kunit *test, const u32 *len,
				      u32 n, bool ingress)
{
	u32 hdr = ETH_HLEN + 20 + sizeof(struct sctphdr), i;
	struct sk_buff *skb, *frag, **tail;
	struct iphdr *iph;

	skb = alloc_skb(hdr + NET_IP_ALIGN, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, skb);
	skb_reserve(skb, NET_IP_ALIGN);
	skb_put_zero(skb, hdr);
	skb_reset_mac_header(skb);
	skb_set_network_header(skb, ETH_HLEN);
	skb_set_transport_header(skb, ETH_HLEN + 20);
	eth_hdr(skb)->h_proto = htons(ETH_P_IP);
	skb->protocol = htons(ETH_P_IP);
	iph = ip_hdr(skb);
	iph->version = 4;
	iph->ihl = 5;
	iph->protocol = IPPROTO_SCTP;
	tail = &skb_shinfo(skb)->frag_list;
	for (i = 0; i < n; i++) {
		frag = alloc_skb(len[i], GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, frag);
		skb_put_zero(frag, len[i]);
		*tail = frag;
		tail = &frag->next;
		skb->len += len[i];
		skb->data_len += len[i];
		skb->truesize += frag->truesize;
	}
	skb_shinfo(skb)->gso_size = GSO_BY_FRAGS;
	skb_shinfo(skb)->gso_type = SKB_GSO_SCTP;
	skb_shinfo(skb)->gso_segs = n;
	if (ingress) {
		skb_pull(skb, ETH_HLEN);
		skb->mac_len = ETH_HLEN;
	}
	return skb;
}

static void vmp_test_train_sctp(struct kunit *test)
{
	static const u32 regular[] = { 1436, 1436, 1436, 500 };
	static const u32 mixed[] = { 1436, 800, 1436, 500 };
	u32 hdr = ETH_HLEN + 20 + sizeof(struct sctphdr);
	struct vmp_train t;
	struct sk_buff *skb;
	bool ingress;

	for (ingress = false; ; ingress = true) {
		/* one segment per member, each with the common header */
		skb = vmp_build_sctp(test, regular, ARRAY_SIZE(regular),
				     ingress);
		KUNIT_ASSERT_TRUE(test, vmp_skb_train(skb, &t));
		KUNIT_EXPECT_EQ(test, t.segs, 4);
		KUNIT_EXPECT_EQ(test, t.hdr_len, hdr);
		KUNIT_EXPECT_EQ(test, vmp_train_bytes(&t, t.segs),
				3ULL * (hdr + 1436) + hdr + 500);
		kfree_skb(skb);
		/* members of other lengths: each charged as the longest */
		skb = vmp_build_sctp(test, mixed, ARRAY_SIZE(mixed), ingress);
		KUNIT_ASSERT_TRUE(test, vmp_skb_train(skb, &t));
		KUNIT_EXPECT_EQ(test, t.segs, 4);
		KUNIT_EXPECT_EQ(test, vmp_train_bytes(&t, t.segs),
				4ULL * (hdr + 1436));
		kfree_skb(skb);
		if (ingress)
			break;
	}
}

static void vmp_test_train_malformed(struct kunit *test)
{
	struct vmp_pkt p = { .ingress = true, .payload = 4 * MSS,
			     .gso_size = MSS };
	struct vmp_train t;
	struct sk_buff *skb;

	skb = vmp_build(test, &p);
	tcp_hdr(skb)->doff = 2;		/* an 8-byte TCP header */
	KUNIT_EXPECT_FALSE(test, vmp_skb_train(skb, &t));
	kfree_skb(skb);

	skb = vmp_build(test, &p);
	skb->transport_header = (typeof(skb->transport_header))~0U;
	KUNIT_EXPECT_FALSE(test, vmp_skb_train(skb, &t));
	kfree_skb(skb);

	p.payload = 0;			/* headers and nothing else */
	skb = vmp_build(test, &p);
	KUNIT_EXPECT_FALSE(test, vmp_skb_train(skb, &t));
	kfree_skb(skb);
}

static void vmp_test_cut_tcp4(struct kunit *test)
{
	struct vmp_pkt p = { .ingress = true, .payload = 45 * MSS - 100,
			     .gso_size = MSS };
	struct sk_buff *skb = vmp_build(test, &p);
	u32 l4 = 32 + 10 * MSS;
	struct vmp_train t;
	struct tcphdr *th;

	KUNIT_ASSERT_TRUE(test, vmp_skb_train(skb, &t));
	KUNIT_ASSERT_EQ(test, vmp_skb_cut(skb, &t, 10), 0);
	KUNIT_EXPECT_EQ(test, skb->len, 20 + l4);
	KUNIT_EXPECT_EQ(test, ntohs(ip_hdr(skb)->tot_len), 20 + l4);
	KUNIT_EXPECT_EQ(test, ip_fast_csum(ip_hdr(skb), 5), 0);
	th = tcp_hdr(skb);
	KUNIT_EXPECT_EQ(test, th->check,
			vmp_pseudo(skb, false, IPPROTO_TCP, l4));
	KUNIT_EXPECT_FALSE(test, th->fin);
	KUNIT_EXPECT_FALSE(test, th->psh);
	KUNIT_EXPECT_EQ(test, skb_shinfo(skb)->gso_segs, 10);
	KUNIT_EXPECT_TRUE(test, skb_is_gso(skb));
	kfree_skb(skb);
}

static void vmp_test_cut_to_one(struct kunit *test)
{
	struct vmp_pkt p = { .ipv6 = true, .payload = 5 * MSS,
			     .gso_size = MSS };
	struct sk_buff *skb = vmp_build(test, &p);
	struct vmp_train t;

	KUNIT_ASSERT_TRUE(test, vmp_skb_train(skb, &t));
	KUNIT_ASSERT_EQ(test, vmp_skb_cut(skb, &t, 1), 0);
	/* GSO of a single segment is refused by the segmenter */
	KUNIT_EXPECT_FALSE(test, skb_is_gso(skb));
	KUNIT_EXPECT_EQ(test, ntohs(ipv6_hdr(skb)->payload_len), 32 + MSS);
	KUNIT_EXPECT_EQ(test, tcp_hdr(skb)->check,
			vmp_pseudo(skb, true, IPPROTO_TCP, 32 + MSS));
	kfree_skb(skb);
}

static void vmp_test_cut_udp6(struct kunit *test)
{
	struct vmp_pkt p = { .ipv6 = true, .udp = true, .ingress = true,
			     .payload = 10 * 1232, .gso_size = 1232 };
	struct sk_buff *skb = vmp_build(test, &p);
	u32 l4 = 8 + 3 * 1232;
	struct vmp_train t;

	KUNIT_ASSERT_TRUE(test, vmp_skb_train(skb, &t));
	KUNIT_ASSERT_EQ(test, vmp_skb_cut(skb, &t, 3), 0);
	KUNIT_EXPECT_EQ(test, ntohs(ipv6_hdr(skb)->payload_len), l4);
	KUNIT_EXPECT_EQ(test, ntohs(udp_hdr(skb)->len), l4);
	KUNIT_EXPECT_EQ(test, udp_hdr(skb)->check,
			vmp_pseudo(skb, true, IPPROTO_UDP, l4));
	kfree_skb(skb);
}

static void vmp_test_cut_refused(struct kunit *test)
{
	struct vmp_pkt p = { .ingress = true, .payload = 10 * MSS,
			     .gso_size = MSS };
	struct sk_buff *skb = vmp_build(test, &p);
	struct vmp_train t;
	u32 len = skb->len;

	KUNIT_ASSERT_TRUE(test, vmp_skb_train(skb, &t));
	skb->ip_summed = CHECKSUM_NONE;
	KUNIT_EXPECT_EQ(test, vmp_skb_cut(skb, &t, 3), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, skb->len, len);
	skb->ip_summed = CHECKSUM_PARTIAL;
	ip_hdr(skb)->tot_len = 0;	/* BIG TCP: nothing to fix up */
	KUNIT_EXPECT_EQ(test, vmp_skb_cut(skb, &t, 3), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, skb->len, len);
	kfree_skb(skb);
}

/*
 * A policer of 1000 B/s with a 16 KiB burst, built as the parser would:
 * slow enough that nothing refills while a test runs (a byte a ms).
 * @latency (ns), @ecn and @ecn_thresh are set as vmp_params_parse() sets
 * them for "latency", "ecn" and "ecn-threshold".
 */
static struct vmp_policer *vmp_test_holder(struct kunit *test, u32 mtu,
					   u64 latency, bool ecn,
					   u64 ecn_thresh)
{
	struct vmp_policer *pol = vmp_policer_alloc();
	struct vmp_params *prm;

	KUNIT_ASSERT_NOT_NULL(test, pol);
	prm = vmp_params_alloc();
	KUNIT_ASSERT_NOT_NULL(test, prm);
	vmp_rate_init(&prm->rate, 1000);
	prm->burst = 16384;
	prm->burst_ns = vmp_rate_ns(&prm->rate, prm->burst);
	prm->mtu = mtu;
	prm->framing.linklayer = VMP_LINKLAYER_ETHERNET;
	prm->conform = TC_ACT_OK;
	prm->latency_ns = latency;
	prm->ecn = ecn;
	prm->ecn_thresh_ns = ecn_thresh;
	vmp_policer_apply(pol, prm);
	return pol;
}

static struct vmp_policer *vmp_test_policer(struct kunit *test, u32 mtu)
{
	return vmp_test_holder(test, mtu, 0, false, 0);
}

/* vmp_police() on @skb with the train its callers compute for it. */
static enum vmp_verdict vmp_police_skb(struct vmp_policer *pol,
				       const struct vmp_params *prm,
				       struct sk_buff *skb, u32 queue,
				       unsigned int flags, u64 *release,
				       struct vmp_queue **qp)
{
	struct vmp_train t;

	vmp_police_train(skb, &t);
	return vmp_police(pol, prm, skb, &t, queue, flags, release, qp);
}

/* Police @skb, then free it: the verdict, *@release as vmp_police() set it. */
static enum vmp_verdict vmp_test_one(struct vmp_policer *pol,
				     struct sk_buff *skb, u32 queue,
				     unsigned int flags, u64 *release)
{
	const struct vmp_params *prm = rcu_dereference_protected(pol->params,
								 1);
	enum vmp_verdict v;
	struct vmp_queue *q;

	*release = U64_MAX;		/* must be set either way */
	v = vmp_police_skb(pol, prm, skb, queue, flags, release, &q);
	kfree_skb(skb);
	return v;
}

static void vmp_test_police(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_policer(test, VMPOLICE_MAX_MTU);
	struct vmp_pkt p = { .ingress = true, .payload = 45 * MSS,
			     .gso_size = MSS };
	const struct vmp_params *prm;
	struct tc_vmpolice_stats st;
	struct sk_buff *skb;
	u64 release;
	struct vmp_queue *q;

	prm = rcu_dereference_protected(pol->params, 1);
	skb = vmp_build(test, &p);
	skb_record_rx_queue(skb, 3);
	/* 16384 / 1514: the first 10 segments pass, the packet is cut */
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 3, VMP_MAY_CUT,
					     &release, &q), VMP_PARTIAL);
	KUNIT_EXPECT_EQ(test, release, 0);
	KUNIT_EXPECT_EQ(test, skb->len, 20 + 32 + 10 * MSS);
	KUNIT_EXPECT_PTR_EQ(test, q, vmp_policer_queue(pol, 3));
	kfree_skb(skb);

	/* nothing left: the next one exceeds whole and is not cut */
	skb = vmp_build(test, &p);
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 3, VMP_MAY_CUT,
					     &release, &q), VMP_EXCEED);
	KUNIT_EXPECT_EQ(test, release, 0);
	KUNIT_EXPECT_EQ(test, skb->len, 20 + 32 + 45 * MSS);
	kfree_skb(skb);

	vmp_queue_read(vmp_policer_queue(pol, 3), &st);
	KUNIT_EXPECT_EQ(test, st.packets, 2);
	KUNIT_EXPECT_EQ(test, st.segments, 90);
	KUNIT_EXPECT_EQ(test, st.conformed, 10);
	KUNIT_EXPECT_EQ(test, st.conformed_bytes, 10 * 1514);
	KUNIT_EXPECT_EQ(test, st.exceeded, 80);
	KUNIT_EXPECT_EQ(test, st.partial, 1);
	vmp_policer_totals(pol, &st);
	KUNIT_EXPECT_EQ(test, st.packets, 2);
	vmp_policer_put(pol);
}

static void vmp_test_police_no_cut(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_policer(test, VMPOLICE_MAX_MTU);
	struct vmp_pkt p = { .ingress = true, .payload = 45 * MSS,
			     .gso_size = MSS };
	struct vmp_pkt small = { .ingress = true, .udp = true,
				 .payload = 14000 };
	const struct vmp_params *prm;
	struct sk_buff *skb;
	u64 release;
	struct vmp_queue *q;

	prm = rcu_dereference_protected(pol->params, 1);
	/* exceed verdict is not drop: the packet exceeds whole ... */
	skb = vmp_build(test, &p);
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 0, 0, &release, &q),
			VMP_EXCEED);
	KUNIT_EXPECT_EQ(test, skb->len, 20 + 32 + 45 * MSS);
	kfree_skb(skb);
	/* ... and refunds what it took: 14 KB still fit the burst */
	skb = vmp_build(test, &small);
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 0, 0, &release, &q),
			VMP_CONFORM);
	KUNIT_EXPECT_EQ(test, release, 0);
	kfree_skb(skb);
	vmp_policer_put(pol);
}

static void vmp_test_police_ceiling_and_malformed(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_policer(test, 1042);
	struct vmp_pkt p = { .udp = true, .ingress = true, .payload = 1001 };
	struct tc_vmpolice_stats st;
	u64 release;

	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_build(test, &p), 0,
					   VMP_MAY_CUT, &release), VMP_EXCEED);
	p.payload = 1000;
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_build(test, &p), 0,
					   VMP_MAY_CUT, &release),
			VMP_CONFORM);

	p = (struct vmp_pkt){ .ingress = true, .payload = 0, .gso_size = MSS };
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_build(test, &p), 0,
					   VMP_MAY_CUT, &release),
			VMP_MALFORMED);
	KUNIT_EXPECT_EQ(test, release, 0);
	vmp_queue_read(vmp_policer_queue(pol, 0), &st);
	KUNIT_EXPECT_EQ(test, st.malformed, 1);
	KUNIT_EXPECT_EQ(test, st.conformed, 1);
	KUNIT_EXPECT_EQ(test, st.exceeded, 2);
	vmp_policer_put(pol);
}

#define VMP_TEST_LATENCY	(5 * NSEC_PER_SEC)	/* 5000 bytes */

/* A UDP packet of @wire bytes on the wire (MAC header pulled, ingress). */
static struct sk_buff *vmp_udp(struct kunit *test, u32 wire)
{
	struct vmp_pkt p = { .udp = true, .ingress = true,
			     .payload = wire - ETH_HLEN - 20 - 8 };

	return vmp_build(test, &p);
}

/* Nanoseconds @bytes cost at the test policer's rate. */
static u64 vmp_test_ns(struct vmp_policer *pol, u32 bytes)
{
	const struct vmp_params *prm = rcu_dereference_protected(pol->params,
								 1);

	return vmp_rate_ns(&prm->rate, bytes);
}

/*
 * vmp_police() charges and counts the train its caller passes (computed
 * once per packet, vmp_police_train()), never a train of its own from
 * the skb: a 1000-byte frame described as 3 and then 9 frames of up to
 * 1514 bytes is charged as those frames, and a train of 0 frames is
 * malformed whatever the skb.
 */
static void vmp_test_police_train_passed(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_policer(test, VMPOLICE_MAX_MTU);
	struct vmp_train three = { .segs = 3, .seg_len = 1514,
				   .last_len = 1000, .hdr_len = 54,
				   .gso_size = 1460 };
	struct vmp_train nine = { .segs = 9, .seg_len = 1514,
				  .last_len = 1514, .hdr_len = 54,
				  .gso_size = 1460 };
	struct vmp_train none = { .segs = 0 };
	const struct vmp_params *prm;
	struct tc_vmpolice_stats st;
	struct sk_buff *skb;
	struct vmp_queue *q;
	u64 release;

	prm = rcu_dereference_protected(pol->params, 1);
	skb = vmp_udp(test, 1000);
	KUNIT_EXPECT_EQ(test, vmp_police(pol, prm, skb, &three, 0, 0,
					 &release, &q), VMP_CONFORM);
	vmp_queue_read(q, &st);
	KUNIT_EXPECT_EQ(test, st.packets, 1);
	KUNIT_EXPECT_EQ(test, st.conformed, 3);
	KUNIT_EXPECT_EQ(test, st.conformed_bytes, 2 * 1514 + 1000);

	/* 16384 - 4028 left: 9 x 1514 do not fit, the 1000 bytes would */
	KUNIT_EXPECT_EQ(test, vmp_police(pol, prm, skb, &nine, 0, 0,
					 &release, &q), VMP_EXCEED);
	vmp_queue_read(q, &st);
	KUNIT_EXPECT_EQ(test, st.packets, 2);
	KUNIT_EXPECT_EQ(test, st.conformed, 3);
	KUNIT_EXPECT_EQ(test, st.exceeded, 9);
	KUNIT_EXPECT_EQ(test, st.exceeded_bytes, 9 * 1514);

	KUNIT_EXPECT_EQ(test, vmp_police(pol, prm, skb, &none, 0, 0,
					 &release, &q), VMP_MALFORMED);
	vmp_queue_read(q, &st);
	KUNIT_EXPECT_EQ(test, st.malformed, 1);
	KUNIT_EXPECT_EQ(test, st.exceeded, 10);
	kfree_skb(skb);
	vmp_policer_put(pol);
}

/* No latency: holding allowed or not, nothing is held or counted so. */
static void vmp_test_hold_latency0(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_policer(test, VMPOLICE_MAX_MTU);
	struct vmp_pkt p = { .ingress = true, .payload = 45 * MSS,
			     .gso_size = MSS };
	unsigned int all = VMP_MAY_CUT | VMP_MAY_HOLD;
	struct tc_vmpolice_stats st;
	u64 release;

	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_build(test, &p), 1, all,
					   &release), VMP_PARTIAL);
	KUNIT_EXPECT_EQ(test, release, 0);
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_build(test, &p), 1, all,
					   &release), VMP_EXCEED);
	KUNIT_EXPECT_EQ(test, release, 0);
	/* 16384 - 10 x 1514 = 1244 bytes are left: 1300 exceed */
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 1300), 1, all,
					   &release), VMP_EXCEED);
	KUNIT_EXPECT_EQ(test, release, 0);
	vmp_queue_read(vmp_policer_queue(pol, 1), &st);
	KUNIT_EXPECT_EQ(test, st.conformed, 10);
	KUNIT_EXPECT_EQ(test, st.exceeded, 35 + 45 + 1);
	KUNIT_EXPECT_EQ(test, st.partial, 1);
	KUNIT_EXPECT_EQ(test, st.held, 0);
	KUNIT_EXPECT_EQ(test, st.held_bytes, 0);
	KUNIT_EXPECT_EQ(test, st.overlimit, 0);
	KUNIT_EXPECT_EQ(test, st.max_hold_ns, 0);
	vmp_policer_put(pol);
}

/*
 * Latency 5 s: 14042 bytes go at once, 2342 are left of the burst; a
 * packet of 4042 then conforms 1.7 s later and is held until then; one
 * of 8042 more would conform only after 5 s and exceeds.
 */
static void vmp_test_hold(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_holder(test, VMPOLICE_MAX_MTU,
						  VMP_TEST_LATENCY, false, 0);
	unsigned int flags = VMP_MAY_CUT | VMP_MAY_HOLD;
	struct tc_vmpolice_stats st;
	u64 t0, t1, t2, release, want;

	t0 = ktime_get_ns();
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 14042), 2,
					   flags, &release), VMP_CONFORM);
	KUNIT_EXPECT_EQ(test, release, 0);
	t1 = ktime_get_ns();
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 4042), 2,
					   flags, &release), VMP_CONFORM);
	t2 = ktime_get_ns();
	/* the bucket's time base is when the first packet came, in [t0, t1] */
	want = vmp_test_ns(pol, 14042) + vmp_test_ns(pol, 4042) -
	       vmp_test_ns(pol, 16384);
	KUNIT_EXPECT_GT(test, release, t2);
	KUNIT_EXPECT_LE(test, release - t2, VMP_TEST_LATENCY);
	KUNIT_EXPECT_GE(test, release, t0 + want);
	KUNIT_EXPECT_LE(test, release, t1 + want);
	vmp_queue_read(vmp_policer_queue(pol, 2), &st);
	KUNIT_EXPECT_EQ(test, st.conformed, 2);
	KUNIT_EXPECT_EQ(test, st.overlimit, 0);
	/* the delay given: release - now of the call, in [t1, t2] */
	KUNIT_EXPECT_LE(test, st.max_hold_ns, release - t1);
	KUNIT_EXPECT_GE(test, st.max_hold_ns, release - t2);
	/* held is counted by the caller once it really keeps the packet */
	KUNIT_EXPECT_EQ(test, st.held, 0);
	vmp_count_held(vmp_policer_queue(pol, 2), 4042);
	vmp_queue_read(vmp_policer_queue(pol, 2), &st);
	KUNIT_EXPECT_EQ(test, st.held, 1);
	KUNIT_EXPECT_EQ(test, st.held_bytes, 4042);

	/* 1.7 s + 8.042 s: beyond the budget, exceeds and is counted so */
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 8042), 2,
					   flags, &release), VMP_EXCEED);
	KUNIT_EXPECT_EQ(test, release, 0);
	vmp_queue_read(vmp_policer_queue(pol, 2), &st);
	KUNIT_EXPECT_EQ(test, st.held, 1);	/* the caller's count only */
	KUNIT_EXPECT_EQ(test, st.overlimit, 1);
	KUNIT_EXPECT_EQ(test, st.exceeded, 1);
	KUNIT_EXPECT_EQ(test, st.exceeded_bytes, 8042);
	/* and took nothing: 3 s of the budget are still there */
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 2000), 2,
					   flags, &release), VMP_CONFORM);
	KUNIT_EXPECT_GT(test, release, ktime_get_ns());
	vmp_policer_put(pol);
}

/* The same packets without VMP_MAY_HOLD: a policer, as before. */
static void vmp_test_hold_not_allowed(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_holder(test, VMPOLICE_MAX_MTU,
						  VMP_TEST_LATENCY, false, 0);
	struct tc_vmpolice_stats st;
	u64 release;

	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 14042), 2,
					   VMP_MAY_CUT, &release),
			VMP_CONFORM);
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 4042), 2,
					   VMP_MAY_CUT, &release), VMP_EXCEED);
	KUNIT_EXPECT_EQ(test, release, 0);
	/* what is left of the burst still passes at once */
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 2342), 2, 0,
					   &release), VMP_CONFORM);
	KUNIT_EXPECT_EQ(test, release, 0);
	vmp_queue_read(vmp_policer_queue(pol, 2), &st);
	KUNIT_EXPECT_EQ(test, st.held, 0);
	KUNIT_EXPECT_EQ(test, st.held_bytes, 0);
	KUNIT_EXPECT_EQ(test, st.overlimit, 0);
	KUNIT_EXPECT_EQ(test, st.max_hold_ns, 0);
	KUNIT_EXPECT_EQ(test, st.exceeded, 1);
	vmp_policer_put(pol);
}

/* An IPv4 TCP packet of @wire bytes with ECN field @ecn (INET_ECN_*). */
static struct sk_buff *vmp_tcp_ecn(struct kunit *test, u32 wire, u8 ecn)
{
	struct vmp_pkt p = { .ingress = true,
			     .payload = wire - ETH_HLEN - 20 - 32 };
	struct sk_buff *skb = vmp_build(test, &p);

	ip_hdr(skb)->tos = 0x20 | ecn;		/* some DSCP besides */
	ip_send_check(ip_hdr(skb));
	return skb;
}

/*
 * ecn, threshold 1 s: held 0.5 s, an ECT(0) packet is left alone; held
 * longer, ECT(0) and ECT(1) packets are marked CE with a valid checksum
 * and the DSCP kept; a not-ECT packet is held but never marked.
 */
static void vmp_test_hold_ecn(struct kunit *test)
{
	static const struct {
		u32 wire;
		u8 ecn, after;		/* ECN field before and after */
	} pk[] = {
		{ 2842, INET_ECN_ECT_0, INET_ECN_ECT_0 },	/* 0.5 s */
		{ 1066, INET_ECN_ECT_0, INET_ECN_CE },		/* 1.566 s */
		{ 1066, INET_ECN_NOT_ECT, INET_ECN_NOT_ECT },	/* 2.632 s */
		{ 1066, INET_ECN_ECT_1, INET_ECN_CE },		/* 3.698 s */
	};
	struct vmp_policer *pol = vmp_test_holder(test, VMPOLICE_MAX_MTU,
						  VMP_TEST_LATENCY, true,
						  NSEC_PER_SEC);
	unsigned int flags = VMP_MAY_CUT | VMP_MAY_HOLD, i;
	const struct vmp_params *prm;
	struct tc_vmpolice_stats st;
	struct sk_buff *skb;
	struct iphdr *iph;
	u64 release;
	struct vmp_queue *q;

	prm = rcu_dereference_protected(pol->params, 1);
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 14042), 0,
					   flags, &release), VMP_CONFORM);
	for (i = 0; i < ARRAY_SIZE(pk); i++) {
		skb = vmp_tcp_ecn(test, pk[i].wire, pk[i].ecn);
		KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 0, flags,
						     &release, &q), VMP_CONFORM);
		KUNIT_EXPECT_GT(test, release, ktime_get_ns());
		iph = ip_hdr(skb);
		KUNIT_EXPECT_EQ_MSG(test, iph->tos & INET_ECN_MASK, pk[i].after,
				    "packet %u", i);
		KUNIT_EXPECT_EQ(test, iph->tos & ~INET_ECN_MASK, 0x20);
		KUNIT_EXPECT_EQ_MSG(test, ip_fast_csum(iph, iph->ihl), 0,
				    "packet %u", i);
		kfree_skb(skb);
	}
	vmp_queue_read(vmp_policer_queue(pol, 0), &st);
	KUNIT_EXPECT_EQ(test, st.ce_marked, 2);
	vmp_policer_put(pol);
}

/*
 * A packet held 3 s that this policer must leave as it is: @ecn off, or
 * a packet that comes CE already (congestion upstream).  ce_marked counts
 * the ECT packets this policer marked, so it stays 0.
 */
static void vmp_test_hold_unmarked(struct kunit *test, bool ecn, u8 tos)
{
	struct vmp_policer *pol = vmp_test_holder(test, VMPOLICE_MAX_MTU,
						  VMP_TEST_LATENCY, ecn,
						  NSEC_PER_SEC);
	unsigned int flags = VMP_MAY_CUT | VMP_MAY_HOLD;
	const struct vmp_params *prm;
	struct tc_vmpolice_stats st;
	struct sk_buff *skb;
	u64 release;
	struct vmp_queue *q;

	prm = rcu_dereference_protected(pol->params, 1);
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 16384), 0,
					   flags, &release), VMP_CONFORM);
	skb = vmp_tcp_ecn(test, 3000, tos);	/* held 3 s */
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 0, flags, &release,
					     &q), VMP_CONFORM);
	KUNIT_EXPECT_GT(test, release, ktime_get_ns());
	KUNIT_EXPECT_EQ(test, ip_hdr(skb)->tos, 0x20 | tos);
	KUNIT_EXPECT_EQ(test, ip_fast_csum(ip_hdr(skb), 5), 0);
	kfree_skb(skb);
	vmp_queue_read(vmp_policer_queue(pol, 0), &st);
	KUNIT_EXPECT_EQ_MSG(test, st.ce_marked, 0,
			    "counted as marked (ecn %d, tos %#x)", ecn, tos);
	vmp_policer_put(pol);
}

static void vmp_test_hold_ecn_ce_already(struct kunit *test)
{
	vmp_test_hold_unmarked(test, true, INET_ECN_CE);
}

/* ecn off: an ECT(0) packet held long is not marked. */
static void vmp_test_hold_ecn_off(struct kunit *test)
{
	vmp_test_hold_unmarked(test, false, INET_ECN_ECT_0);
}

/*
 * ecn judges the queue ahead of a packet, not its own length: a GSO
 * packet of 14 frames (21196 wire bytes) into a full 16 KiB bucket waits
 * 4.8 s for its last frame, but its first frame conforms at once, so it
 * is held and not marked, even with a 1 ms threshold.  A packet behind it
 * (held 5.9 s, all of it queue ahead) is marked.
 */
static void vmp_test_hold_ecn_own_length(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_holder(test, VMPOLICE_MAX_MTU,
						  VMP_TEST_LATENCY * 2, true,
						  NSEC_PER_MSEC);
	struct vmp_pkt p = { .ingress = true, .payload = 14 * MSS,
			     .gso_size = MSS };
	unsigned int flags = VMP_MAY_CUT | VMP_MAY_HOLD;
	const struct vmp_params *prm;
	struct tc_vmpolice_stats st;
	struct sk_buff *skb;
	u64 release;
	struct vmp_queue *q;

	prm = rcu_dereference_protected(pol->params, 1);
	skb = vmp_build(test, &p);
	ipv4_change_dsfield(ip_hdr(skb), (u8)~INET_ECN_MASK, INET_ECN_ECT_0);
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 0, flags, &release,
					     &q), VMP_CONFORM);
	KUNIT_EXPECT_GT(test, release, ktime_get_ns());
	KUNIT_EXPECT_EQ_MSG(test, ip_hdr(skb)->tos & INET_ECN_MASK,
			    INET_ECN_ECT_0, "marked for its own length");
	kfree_skb(skb);

	skb = vmp_tcp_ecn(test, 1066, INET_ECN_ECT_0);
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 0, flags, &release,
					     &q), VMP_CONFORM);
	KUNIT_EXPECT_EQ_MSG(test, ip_hdr(skb)->tos & INET_ECN_MASK,
			    INET_ECN_CE, "not marked behind a queue");
	kfree_skb(skb);

	vmp_queue_read(vmp_policer_queue(pol, 0), &st);
	KUNIT_EXPECT_EQ(test, st.ce_marked, 1);
	vmp_policer_put(pol);
}

/*
 * A full bucket, latency 5 s: of a 45-segment GSO packet the frames
 * within 16384 + 5000 bytes (14 of 1514) are kept, cut and held until
 * the 14th conforms (4.812 s); the tail is dropped and counted.
 */
static void vmp_test_hold_gso_partial(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_holder(test, VMPOLICE_MAX_MTU,
						  VMP_TEST_LATENCY, false, 0);
	struct vmp_pkt p = { .ingress = true, .payload = 45 * MSS,
			     .gso_size = MSS };
	unsigned int flags = VMP_MAY_CUT | VMP_MAY_HOLD;
	const struct vmp_params *prm;
	struct tc_vmpolice_stats st;
	struct sk_buff *skb;
	u64 t0, t1, release, want;
	struct vmp_queue *q;

	prm = rcu_dereference_protected(pol->params, 1);
	skb = vmp_build(test, &p);
	t0 = ktime_get_ns();
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 4, flags, &release,
					     &q), VMP_PARTIAL);
	t1 = ktime_get_ns();
	KUNIT_EXPECT_EQ(test, skb->len, 20 + 32 + 14 * MSS);
	KUNIT_EXPECT_EQ(test, skb_shinfo(skb)->gso_segs, 14);
	KUNIT_EXPECT_EQ(test, ntohs(ip_hdr(skb)->tot_len), 20 + 32 + 14 * MSS);
	kfree_skb(skb);
	want = 14 * vmp_test_ns(pol, 1514) - vmp_test_ns(pol, 16384);
	KUNIT_EXPECT_GE(test, release, t0 + want);
	KUNIT_EXPECT_LE(test, release, t1 + want);
	KUNIT_EXPECT_LE(test, release - t1, VMP_TEST_LATENCY);
	vmp_queue_read(vmp_policer_queue(pol, 4), &st);
	KUNIT_EXPECT_EQ(test, st.partial, 1);
	KUNIT_EXPECT_EQ(test, st.conformed, 14);
	KUNIT_EXPECT_EQ(test, st.conformed_bytes, 14 * 1514);
	KUNIT_EXPECT_EQ(test, st.exceeded, 31);
	KUNIT_EXPECT_EQ(test, st.overlimit, 1);
	KUNIT_EXPECT_GE(test, st.max_hold_ns, release - t1);
	KUNIT_EXPECT_LE(test, st.max_hold_ns, release - t0);

	/* the budget is spent: the next one exceeds whole, nothing held */
	skb = vmp_build(test, &p);
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb, 4, VMP_MAY_HOLD,
					     &release, &q), VMP_EXCEED);
	KUNIT_EXPECT_EQ(test, release, 0);
	KUNIT_EXPECT_EQ(test, skb->len, 20 + 32 + 45 * MSS);
	kfree_skb(skb);
	vmp_queue_read(vmp_policer_queue(pol, 4), &st);
	KUNIT_EXPECT_EQ(test, st.overlimit, 2);
	KUNIT_EXPECT_EQ(test, st.exceeded, 31 + 45);
	vmp_policer_put(pol);
}

/* One attribute of @len bytes, as the netlink parser would point to. */
/* Byte-rate parameters of @rate B/s and @burst bytes, as parsed. */
static struct vmp_params *vmp_test_params(struct kunit *test, u64 rate,
					  u64 burst)
{
	struct vmp_params *prm = vmp_params_alloc();

	KUNIT_ASSERT_NOT_NULL(test, prm);
	vmp_rate_init(&prm->rate, rate);
	prm->burst = burst;
	prm->burst_ns = vmp_rate_ns(&prm->rate, burst);
	prm->mtu = VMPOLICE_MAX_MTU;
	prm->framing.linklayer = VMP_LINKLAYER_ETHERNET;
	prm->conform = TC_ACT_OK;
	return prm;
}

/*
 * A packet that read the parameters just before a change and charges
 * after it (the race of a change, made here in one thread): 1000 B/s to
 * 100 kB/s, burst 1 MB before and after, a full bucket.  Charged in the
 * old rate's ns, its 1000 bytes would cost a second, 100 kB at the new
 * rate; the packet must start over with the new parameters instead and
 * cost its own length.
 */
static void vmp_test_change_stale(struct kunit *test)
{
	struct vmp_policer *pol = vmp_policer_alloc();
	const struct vmp_params *old, *prm;
	struct vmp_params *next;
	enum vmp_verdict v;
	u32 wire = 1000;
	u64 t0, t1, tok, release;
	struct sk_buff *skb;
	struct vmp_queue *q;

	KUNIT_ASSERT_NOT_NULL(test, pol);
	vmp_policer_apply(pol, vmp_test_params(test, 1000, 1000000));
	skb = vmp_udp(test, wire);
	next = vmp_test_params(test, 100000, 1000000);	/* may sleep */
	rcu_read_lock();
	old = rcu_dereference(pol->params);
	t0 = ktime_get_ns();
	vmp_policer_apply(pol, next);
	v = vmp_police_skb(pol, old, skb, 0, VMP_MAY_CUT, &release, &q);
	KUNIT_EXPECT_EQ(test, v, VMP_RETRY);
	prm = rcu_dereference(pol->params);
	if (v == VMP_RETRY)
		v = vmp_police_skb(pol, prm, skb, 0, VMP_MAY_CUT, &release, &q);
	KUNIT_EXPECT_EQ(test, v, VMP_CONFORM);
	t1 = ktime_get_ns();
	tok = vmp_bucket_tokens(&pol->rate, prm->burst_ns, &prm->rate, t1);
	rcu_read_unlock();
	kfree_skb(skb);
	/* 1 MB less the packet, plus what 100 kB/s refilled meanwhile */
	KUNIT_EXPECT_GE(test, tok, 1000000 - wire);
	KUNIT_EXPECT_LE(test, tok, 1000000 - wire + (t1 - t0) / 10000 + 1);
	vmp_policer_put(pol);
}

static struct nlattr *vmp_test_attr(struct kunit *test, int type,
				    const void *data, int len)
{
	struct nlattr *nla = kunit_kzalloc(test, nla_total_size(len),
					   GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, nla);
	nla->nla_type = type;
	nla->nla_len = nla_attr_size(len);
	memcpy(nla_data(nla), data, len);
	return nla;
}

static struct nlattr *vmp_test_u64(struct kunit *test, int type, u64 v)
{
	return vmp_test_attr(test, type, &v, sizeof(v));
}

static struct nlattr *vmp_test_u32(struct kunit *test, int type, u32 v)
{
	return vmp_test_attr(test, type, &v, sizeof(v));
}

/* Parse @tb as an action; on success the dump is parsed back into @out. */
static int vmp_test_parse_dump(struct kunit *test, struct nlattr **tb,
			       struct nlattr **out, struct vmp_params **prm,
			       const char **msg)
{
	struct netlink_ext_ack extack = {};
	struct sk_buff *skb;
	void *data;
	int err, len;

	*msg = NULL;
	err = vmp_params_parse(tb, true, prm, &extack);
	*msg = extack._msg;
	if (err)
		return err;
	skb = alloc_skb(1024, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, skb);
	err = vmp_params_dump(skb, *prm);
	len = skb->len;
	data = kunit_kmalloc(test, len, GFP_KERNEL);
	if (data)
		memcpy(data, skb->data, len);
	kfree_skb(skb);
	KUNIT_ASSERT_EQ(test, err, 0);
	KUNIT_ASSERT_NOT_NULL(test, data);
	KUNIT_ASSERT_EQ(test, nla_parse(out, TCA_VMPOLICE_MAX, data, len,
					vmp_policy, NULL), 0);
	return 0;
}

/*
 * 64-bit bursts: BURST64 wins over BURST; the dump has BURST (at most
 * U32_MAX) always and BURST64 only beyond 32 bits, as police dumps its
 * 64-bit rates; more than 1 TiB, or more than 73 years at the rate, is
 * refused with a message.
 */
static void vmp_test_burst64(struct kunit *test)
{
	struct nlattr *tb[TCA_VMPOLICE_MAX + 1] = {};
	struct nlattr *out[TCA_VMPOLICE_MAX + 1];
	struct vmp_params *prm;
	const char *msg;

	tb[TCA_VMPOLICE_RATE64] = vmp_test_u64(test, TCA_VMPOLICE_RATE64,
					       1000000000);
	tb[TCA_VMPOLICE_BURST] = vmp_test_u32(test, TCA_VMPOLICE_BURST, 1000);
	tb[TCA_VMPOLICE_BURST64] = vmp_test_u64(test, TCA_VMPOLICE_BURST64,
						5ULL << 30);
	tb[TCA_VMPOLICE_QRATE64] = vmp_test_u64(test, TCA_VMPOLICE_QRATE64,
						100000000);
	KUNIT_ASSERT_EQ(test, vmp_test_parse_dump(test, tb, out, &prm, &msg),
			0);
	KUNIT_EXPECT_EQ(test, prm->burst, 5ULL << 30);
	KUNIT_EXPECT_EQ(test, prm->burst_ns, 5368709120LL);
	KUNIT_EXPECT_EQ(test, prm->queue_burst, 5ULL << 30);
	KUNIT_EXPECT_EQ(test, prm->queue_burst_ns, 53687091200LL);
	KUNIT_ASSERT_NOT_NULL(test, out[TCA_VMPOLICE_BURST]);
	KUNIT_ASSERT_NOT_NULL(test, out[TCA_VMPOLICE_BURST64]);
	KUNIT_ASSERT_NOT_NULL(test, out[TCA_VMPOLICE_QBURST]);
	KUNIT_ASSERT_NOT_NULL(test, out[TCA_VMPOLICE_QBURST64]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(out[TCA_VMPOLICE_BURST]), U32_MAX);
	KUNIT_EXPECT_EQ(test, nla_get_u64(out[TCA_VMPOLICE_BURST64]),
			5ULL << 30);
	KUNIT_EXPECT_EQ(test, nla_get_u32(out[TCA_VMPOLICE_QBURST]), U32_MAX);
	KUNIT_EXPECT_EQ(test, nla_get_u64(out[TCA_VMPOLICE_QBURST64]),
			5ULL << 30);
	vmp_params_free(prm);

	/* 32 bits: BURST alone, both ways */
	tb[TCA_VMPOLICE_BURST64] = NULL;
	tb[TCA_VMPOLICE_QBURST64] = vmp_test_u64(test, TCA_VMPOLICE_QBURST64,
						 U32_MAX);
	KUNIT_ASSERT_EQ(test, vmp_test_parse_dump(test, tb, out, &prm, &msg),
			0);
	KUNIT_EXPECT_EQ(test, prm->burst, 1000);
	KUNIT_EXPECT_EQ(test, nla_get_u32(out[TCA_VMPOLICE_BURST]), 1000);
	KUNIT_EXPECT_NULL(test, out[TCA_VMPOLICE_BURST64]);
	KUNIT_EXPECT_EQ(test, nla_get_u32(out[TCA_VMPOLICE_QBURST]), U32_MAX);
	KUNIT_EXPECT_NULL(test, out[TCA_VMPOLICE_QBURST64]);
	vmp_params_free(prm);

	/* 1 TiB is the limit */
	tb[TCA_VMPOLICE_BURST64] = vmp_test_u64(test, TCA_VMPOLICE_BURST64,
						VMPOLICE_MAX_BURST);
	tb[TCA_VMPOLICE_QBURST64] = NULL;
	KUNIT_ASSERT_EQ(test, vmp_test_parse_dump(test, tb, out, &prm, &msg),
			0);
	KUNIT_EXPECT_EQ(test, nla_get_u64(out[TCA_VMPOLICE_BURST64]),
			VMPOLICE_MAX_BURST);
	vmp_params_free(prm);
	tb[TCA_VMPOLICE_BURST64] = vmp_test_u64(test, TCA_VMPOLICE_BURST64,
						VMPOLICE_MAX_BURST + 1);
	KUNIT_EXPECT_EQ(test, vmp_test_parse_dump(test, tb, out, &prm, &msg),
			-EINVAL);
	KUNIT_EXPECT_STREQ(test, msg,
			   "burst must not exceed 1 TiB (1099511627776 bytes)");
	tb[TCA_VMPOLICE_BURST64] = NULL;
	tb[TCA_VMPOLICE_QBURST64] = vmp_test_u64(test, TCA_VMPOLICE_QBURST64,
						 U64_MAX);
	KUNIT_EXPECT_EQ(test, vmp_test_parse_dump(test, tb, out, &prm, &msg),
			-EINVAL);
	KUNIT_EXPECT_STREQ(test, msg,
			   "queue-burst must not exceed 1 TiB (1099511627776 bytes)");

	/* 1 TiB at 1 B/s: 2^40 s, beyond 64 bits of ns */
	tb[TCA_VMPOLICE_QRATE64] = NULL;
	tb[TCA_VMPOLICE_QBURST64] = NULL;
	tb[TCA_VMPOLICE_RATE64] = vmp_test_u64(test, TCA_VMPOLICE_RATE64, 1);
	tb[TCA_VMPOLICE_BURST64] = vmp_test_u64(test, TCA_VMPOLICE_BURST64,
						VMPOLICE_MAX_BURST);
	KUNIT_EXPECT_EQ(test, vmp_test_parse_dump(test, tb, out, &prm, &msg),
			-EINVAL);
	KUNIT_EXPECT_STREQ(test, msg, "burst lasts too long at this rate");
}

/* Police one small packet on @queue: it makes the queue's chunk. */
static void vmp_test_touch(struct kunit *test, struct vmp_policer *pol,
			   u32 queue)
{
	u64 release;

	vmp_test_one(pol, vmp_udp(test, 64), queue, 0, &release);
}

/*
 * Per-queue state costs what the queues used: nothing before a packet,
 * one chunk for one queue (within the 2 KiB budget of a one-queue
 * policer), two for eight, every chunk for 256, and queue N + 256 is
 * queue N.  The numbers go to the log for the docs.
 */
static void vmp_test_memory(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_policer(test, VMPOLICE_MAX_MTU);
	const struct vmp_params *prm;
	size_t base, chunk, one, eight, all;
	u32 queue;

	prm = rcu_dereference_protected(pol->params, 1);
	base = vmp_policer_memory(pol);
	KUNIT_EXPECT_EQ(test, base, ksize(pol) + ksize(prm));
	KUNIT_EXPECT_NULL(test, vmp_policer_queue(pol, 0));

	vmp_test_touch(test, pol, 0);
	KUNIT_ASSERT_NOT_NULL(test, vmp_policer_queue(pol, 0));
	one = vmp_policer_memory(pol);
	chunk = one - base;
	KUNIT_EXPECT_GE(test, chunk,
			VMP_CHUNK_QUEUES * sizeof(struct vmp_queue));
	/* issue 13: a one-queue policer costs at most 2 KiB */
	KUNIT_EXPECT_LE(test, one, 2048);

	for (queue = 1; queue < 8; queue++)
		vmp_test_touch(test, pol, queue);
	eight = vmp_policer_memory(pol);
	KUNIT_EXPECT_EQ(test, eight, base + 8 / VMP_CHUNK_QUEUES * chunk);
	KUNIT_EXPECT_NULL(test, vmp_policer_queue(pol, 8));

	for (queue = 8; queue < VMPOLICE_MAX_QUEUES; queue++)
		vmp_test_touch(test, pol, queue);
	all = vmp_policer_memory(pol);
	KUNIT_EXPECT_EQ(test, all, base + VMP_CHUNKS * chunk);
	vmp_test_touch(test, pol, VMPOLICE_MAX_QUEUES + 3);
	KUNIT_EXPECT_EQ(test, vmp_policer_memory(pol), all);

	kunit_info(test,
		   "sizeof: policer %zu params %zu queue %zu chunk %zu; ksize: policer %zu params %zu chunk %zu; bytes: 0 queues %zu, 1 %zu, 8 %zu, 256 %zu\n",
		   sizeof(*pol), sizeof(*prm), sizeof(struct vmp_queue),
		   sizeof(struct vmp_chunk), ksize(pol), ksize(prm), chunk,
		   base, one, eight, all);
	vmp_policer_put(pol);
}

/* A policer with only a queue-rate: 1000 bytes/s, 3000-byte bursts. */
static struct vmp_policer *vmp_test_queue_rate(struct kunit *test, u64 rate)
{
	struct vmp_policer *pol = vmp_policer_alloc();
	struct vmp_params *prm;

	KUNIT_ASSERT_NOT_NULL(test, pol);
	prm = vmp_params_alloc();
	KUNIT_ASSERT_NOT_NULL(test, prm);
	vmp_rate_init(&prm->queue_rate, rate);
	prm->queue_burst = 3000;
	prm->queue_burst_ns = vmp_rate_ns(&prm->queue_rate, prm->queue_burst);
	prm->mtu = VMPOLICE_MAX_MTU;
	prm->framing.linklayer = VMP_LINKLAYER_ETHERNET;
	prm->conform = TC_ACT_OK;
	vmp_policer_apply(pol, prm);
	return pol;
}

/*
 * A refusal by a later bucket refunds the earlier ones even when the one
 * that refused took nothing (vmp_refund() skips only when no bucket took
 * more than is kept).  Queue-rate 64 KiB, rate 16 KiB, both 1000 B/s:
 * 14042 bytes conform; 4042 more fit the queue bucket, which takes them,
 * but not the rate bucket, which takes nothing; the queue bucket must get
 * them back.  Then a packet the queue bucket itself refuses (nothing
 * taken anywhere) changes nothing.
 */
static void vmp_test_refund_earlier_bucket(struct kunit *test)
{
	struct vmp_policer *pol = vmp_policer_alloc();
	const struct vmp_params *cur;
	struct vmp_params *prm;
	struct vmp_queue *q;
	u64 release, tok;

	KUNIT_ASSERT_NOT_NULL(test, pol);
	prm = vmp_test_params(test, 1000, 16384);
	vmp_rate_init(&prm->queue_rate, 1000);
	prm->queue_burst = 65536;
	prm->queue_burst_ns = vmp_rate_ns(&prm->queue_rate, prm->queue_burst);
	vmp_policer_apply(pol, prm);
	cur = rcu_dereference_protected(pol->params, 1);

	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 14042), 0, 0,
					   &release), VMP_CONFORM);
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 4042), 0, 0,
					   &release), VMP_EXCEED);
	q = vmp_policer_queue(pol, 0);
	KUNIT_ASSERT_NOT_NULL(test, q);
	tok = vmp_bucket_tokens(&q->bucket, cur->queue_burst_ns,
				&cur->queue_rate, ktime_get_ns());
	/* a byte a ms refills: allow a second of test time */
	KUNIT_EXPECT_GE(test, tok, 65536 - 14042);
	KUNIT_EXPECT_LE(test, tok, 65536 - 14042 + 1000);

	/* 60000 bytes: the queue bucket refuses them, nothing to refund */
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 60000), 0, 0,
					   &release), VMP_EXCEED);
	tok = vmp_bucket_tokens(&q->bucket, cur->queue_burst_ns,
				&cur->queue_rate, ktime_get_ns());
	KUNIT_EXPECT_GE(test, tok, 65536 - 14042);
	KUNIT_EXPECT_LE(test, tok, 65536 - 14042 + 1000);
	vmp_policer_put(pol);
}

/*
 * A queue whose chunk cannot be allocated is charged to the fallback,
 * whose queue-rate bucket all such queues share: never less than their
 * own buckets would have charged.  Once memory is back the queue gets its
 * chunk, whose buckets start full, also after a change.
 */
static void vmp_test_queue_fallback(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_queue_rate(test, 1000);
	struct tc_vmpolice_stats st;
	size_t mem = vmp_policer_memory(pol);
	struct vmp_params *prm;
	u64 release;
	u32 i;

	WRITE_ONCE(vmp_test_chunk_nomem, true);
	/* 3 x 1000 bytes fill the shared burst; queue 9's own would not be */
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 1000),
						   i ? 9 : 5, 0, &release),
				VMP_CONFORM);
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 1000), 9, 0,
					   &release), VMP_EXCEED);
	WRITE_ONCE(vmp_test_chunk_nomem, false);
	KUNIT_EXPECT_NULL(test, vmp_policer_queue(pol, 5));
	KUNIT_EXPECT_NULL(test, vmp_policer_queue(pol, 9));
	KUNIT_EXPECT_EQ(test, vmp_policer_memory(pol), mem);
	vmp_queue_read(&pol->fallback, &st);
	KUNIT_EXPECT_EQ(test, st.packets, 4);
	KUNIT_EXPECT_EQ(test, st.conformed, 3);
	KUNIT_EXPECT_EQ(test, st.exceeded, 1);
	vmp_policer_totals(pol, &st);
	KUNIT_EXPECT_EQ(test, st.packets, 4);

	/* memory again: queue 9 gets a chunk, full */
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 1000), 9, 0,
					   &release), VMP_CONFORM);
	KUNIT_ASSERT_NOT_NULL(test, vmp_policer_queue(pol, 9));
	vmp_queue_read(vmp_policer_queue(pol, 9), &st);
	KUNIT_EXPECT_EQ(test, st.packets, 1);

	/* a change rescales the fallback: still empty at half the rate */
	prm = vmp_params_alloc();
	KUNIT_ASSERT_NOT_NULL(test, prm);
	*prm = *rcu_dereference_protected(pol->params, 1);
	vmp_rate_init(&prm->queue_rate, 500);
	prm->queue_burst_ns = vmp_rate_ns(&prm->queue_rate, prm->queue_burst);
	vmp_policer_apply(pol, prm);
	WRITE_ONCE(vmp_test_chunk_nomem, true);
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 1000), 13, 0,
					   &release), VMP_EXCEED);
	WRITE_ONCE(vmp_test_chunk_nomem, false);
	/* and a chunk made after the change starts full */
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 1000), 13, 0,
					   &release), VMP_CONFORM);
	KUNIT_EXPECT_EQ(test, vmp_test_one(pol, vmp_udp(test, 1000), 13, 0,
					   &release), VMP_CONFORM);
	vmp_policer_totals(pol, &st);
	KUNIT_EXPECT_EQ(test, st.packets, 8);
	vmp_policer_put(pol);
}

/*
 * What follows vmp_police() on a packet lands on the queue it was charged
 * on.  Two packets of queue 9 are charged to the fallback (no memory for
 * queue 9's chunk); the chunk is made before the caller holds one and
 * refuses the other (another CPU's packet, or memory back meanwhile).
 * The held packet must be held and counted held on the fallback, the
 * refused one moved from conformed to exceeded there; queue 9's new chunk
 * counts nothing (a count moved off it would wrap below zero).
 */
static void vmp_test_queue_pinned(struct kunit *test)
{
	struct vmp_policer *pol = vmp_test_holder(test, VMPOLICE_MAX_MTU,
						  VMP_TEST_LATENCY, false, 0);
	unsigned int flags = VMP_MAY_CUT | VMP_MAY_HOLD;
	struct vmp_queue *q1 = NULL, *q2 = NULL, *own;
	const struct vmp_params *prm;
	struct tc_vmpolice_stats st;
	struct sk_buff *skb1, *skb2;
	u64 release;

	prm = rcu_dereference_protected(pol->params, 1);
	vmp_hold_register(pol);
	skb1 = vmp_udp(test, 14042);
	skb2 = vmp_udp(test, 4042);
	skb_record_rx_queue(skb1, 9);
	skb_record_rx_queue(skb2, 9);

	WRITE_ONCE(vmp_test_chunk_nomem, true);
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb1, 9, flags, &release,
					     &q1), VMP_CONFORM);
	KUNIT_EXPECT_EQ(test, release, 0);
	KUNIT_EXPECT_EQ(test, vmp_police_skb(pol, prm, skb2, 9, flags, &release,
					     &q2), VMP_CONFORM);
	KUNIT_EXPECT_GT(test, release, ktime_get_ns());
	WRITE_ONCE(vmp_test_chunk_nomem, false);
	KUNIT_EXPECT_PTR_EQ(test, q1, &pol->fallback);
	KUNIT_EXPECT_PTR_EQ(test, q2, &pol->fallback);

	/* queue 9's chunk comes between the charge and the rest */
	own = vmp_policer_queue_get(pol, 9, prm->gen, ktime_get_ns());
	KUNIT_ASSERT_PTR_NE(test, own, &pol->fallback);

	/* as tc calls it: with bottom halves off (the hold timer's lock) */
	local_bh_disable();
	KUNIT_EXPECT_EQ(test, vmp_hold_skb(pol, prm, q2, skb2, release), 0);
	local_bh_enable();
	vmp_count_refused(q1, skb1);
	kfree_skb(skb1);

	vmp_queue_read(&pol->fallback, &st);
	KUNIT_EXPECT_EQ(test, st.packets, 2);
	KUNIT_EXPECT_EQ(test, st.conformed, 1);
	KUNIT_EXPECT_EQ(test, st.conformed_bytes, 4042);
	KUNIT_EXPECT_EQ(test, st.exceeded, 1);
	KUNIT_EXPECT_EQ(test, st.exceeded_bytes, 14042);
	KUNIT_EXPECT_EQ(test, st.held, 1);
	KUNIT_EXPECT_EQ(test, st.held_bytes, 4042);
	KUNIT_EXPECT_EQ(test, st.backlog, 1);
	vmp_queue_read(own, &st);
	KUNIT_EXPECT_EQ(test, st.conformed, 0);
	KUNIT_EXPECT_EQ(test, st.conformed_bytes, 0);
	KUNIT_EXPECT_EQ(test, st.exceeded, 0);
	KUNIT_EXPECT_EQ(test, st.held, 0);
	KUNIT_EXPECT_EQ(test, st.backlog, 0);
	vmp_policer_totals(pol, &st);
	KUNIT_EXPECT_EQ(test, st.conformed, 1);
	KUNIT_EXPECT_EQ(test, st.exceeded, 1);

	/* the held packet goes with the policer, flushed where it was held */
	vmp_hold_unregister(pol);
	vmp_queue_read(&pol->fallback, &st);
	KUNIT_EXPECT_EQ(test, st.flushed, 1);
	KUNIT_EXPECT_EQ(test, st.backlog, 0);
	vmp_policer_put(pol);
}

/* Our options in a filter-sized message: their length, the queue count. */
static unsigned int vmp_test_options(struct kunit *test, struct vmp_policer *p,
				     u32 *count)
{
	struct nlattr *out[TCA_VMPOLICE_MAX + 1];
	struct sk_buff *skb;
	unsigned int len;

	skb = alloc_skb(NLMSG_GOODSIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, skb);
	KUNIT_EXPECT_EQ(test, vmp_stats_dump(skb, p, NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, nla_parse(out, TCA_VMPOLICE_MAX,
					(struct nlattr *)skb->data, skb->len,
					NULL, NULL), 0);
	KUNIT_EXPECT_NOT_NULL(test, out[TCA_VMPOLICE_STATS]);
	/* the per-queue counters are in the genl dump, never here */
	KUNIT_EXPECT_NULL(test, out[TCA_VMPOLICE_QUEUES]);
	*count = out[TCA_VMPOLICE_QUEUES_OMITTED] ?
		 nla_get_u32(out[TCA_VMPOLICE_QUEUES_OMITTED]) : 0;
	len = skb->len;
	kfree_skb(skb);
	return len;
}

/*
 * Per-queue counters at scale, the options' part: the totals and the
 * count of queues that have seen traffic, one size whatever the traffic
 * (so several policers in one message fit as they do idle), within
 * vmp_dump_size(); QUEUES_OMITTED is refused on input.
 */
static void vmp_test_queue_list(struct kunit *test)
{
	struct vmp_policer *p = vmp_policer_alloc();
	struct nlattr *tb[TCA_VMPOLICE_MAX + 1];
	unsigned int idle, busy;
	struct nlattr *in;
	u32 i, count;

	KUNIT_ASSERT_NOT_NULL(test, p);
	idle = vmp_test_options(test, p, &count);
	KUNIT_EXPECT_EQ(test, count, 0);
	for (i = 0; i < VMPOLICE_MAX_QUEUES; i += 2)
		atomic64_set(&vmp_policer_queue_get(p, i, 0, 0)->packets, i + 1);
	busy = vmp_test_options(test, p, &count);
	KUNIT_EXPECT_EQ(test, count, VMPOLICE_MAX_QUEUES / 2);
	KUNIT_EXPECT_EQ(test, busy, idle + nla_total_size(sizeof(u32)));
	vmp_policer_put(p);

	in = vmp_test_u32(test, TCA_VMPOLICE_QUEUES_OMITTED, 1);
	KUNIT_EXPECT_EQ(test, nla_parse(tb, TCA_VMPOLICE_MAX, in,
					nla_total_size(sizeof(u32)),
					vmp_policy, NULL), -EINVAL);
}

/*
 * vmp_dump_size() bounds our whole dump: every option given, bursts past
 * 32 bits, the action's conform verdict, the qdisc's ifindex and handle,
 * and the totals with a queue count.
 */
static void vmp_test_dump_size(struct kunit *test)
{
	struct vmp_policer *p = vmp_policer_alloc();
	struct vmp_params *prm = vmp_params_alloc();
	struct sk_buff *skb;

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, prm);
	vmp_rate_init(&prm->rate, 1000000);
	prm->burst = 5ULL << 30;
	vmp_rate_init(&prm->peak, 2000000);
	vmp_rate_init(&prm->pkt_rate, 1000);
	prm->pkt_burst = 100;
	vmp_rate_init(&prm->queue_rate, 500000);
	prm->queue_burst = 6ULL << 30;
	prm->mtu = 9000;
	prm->framing.overhead = -4;
	prm->framing.mpu = 64;
	prm->framing.linklayer = VMP_LINKLAYER_ATM;
	prm->latency_ns = 5000000;
	prm->ecn = 1;
	prm->ecn_thresh_ns = 1000000;
	atomic64_set(&vmp_policer_queue_get(p, 3, 0, 0)->packets, 1);

	skb = alloc_skb(NLMSG_GOODSIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, skb);
	KUNIT_EXPECT_EQ(test, vmp_params_dump(skb, prm), 0);
	KUNIT_EXPECT_EQ(test, nla_put_u32(skb, TCA_VMPOLICE_CONFORM, TC_ACT_OK),
			0);
	KUNIT_EXPECT_EQ(test, nla_put_u32(skb, TCA_VMPOLICE_IFINDEX, 1), 0);
	KUNIT_EXPECT_EQ(test, nla_put_u32(skb, TCA_VMPOLICE_HANDLE, 1 << 16),
			0);
	KUNIT_EXPECT_EQ(test, vmp_stats_dump(skb, p, NULL, NULL), 0);
	kunit_info(test, "full dump %u bytes, vmp_dump_size() %zu\n",
		   skb->len, vmp_dump_size());
	KUNIT_EXPECT_LE(test, skb->len, vmp_dump_size());
	/* and not a loose bound: at most one attribute's worth over */
	KUNIT_EXPECT_GE(test, skb->len + nla_total_size_64bit(sizeof(u64)),
			vmp_dump_size());
	kfree_skb(skb);
	vmp_params_free(prm);
	vmp_policer_put(p);
}

/*
 * The generic netlink dump's pages (vmp_queues_put_from() into messages
 * with room for a few entries each): every queue that has seen traffic,
 * in order, once, with its own counters, over several pages; none idle.
 */
static void vmp_test_queue_pages(struct kunit *test)
{
	struct nlattr *tb[TCA_VMPOLICE_QUEUE_MAX + 1];
	const struct tc_vmpolice_stats *st;
	struct vmp_policer *p = vmp_policer_alloc();
	u32 i, next = 0, want = 1, pages = 0;
	struct sk_buff *skb;
	struct nlattr *a;
	int err, rem;

	KUNIT_ASSERT_NOT_NULL(test, p);
	for (i = 1; i < VMPOLICE_MAX_QUEUES; i += 3)
		atomic64_set(&vmp_policer_queue_get(p, i, 0, 0)->packets, i + 1);
	do {
		skb = alloc_skb(4 * vmp_queue_entry_size(), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, skb);
		err = vmp_queues_put_from(skb, p, NULL, NULL, &next);
		KUNIT_EXPECT_GT(test, skb->len, 0);
		nla_for_each_attr(a, (struct nlattr *)skb->data, skb->len,
				  rem) {
			/* entries are nests without NLA_F_NESTED, as tc's */
			if (nla_parse_nested_deprecated(tb,
							TCA_VMPOLICE_QUEUE_MAX,
							a, NULL, NULL) ||
			    !tb[TCA_VMPOLICE_QUEUE_ID] ||
			    !tb[TCA_VMPOLICE_QUEUE_STATS]) {
				KUNIT_FAIL(test, "entry after queue %u malformed",
					   want - 3);
				break;
			}
			KUNIT_EXPECT_EQ(test,
					nla_get_u32(tb[TCA_VMPOLICE_QUEUE_ID]),
					want);
			st = nla_data(tb[TCA_VMPOLICE_QUEUE_STATS]);
			KUNIT_EXPECT_EQ(test, st->packets, want + 1);
			want += 3;
		}
		kfree_skb(skb);
		pages++;
	} while (err == -EMSGSIZE && pages < VMPOLICE_MAX_QUEUES);
	KUNIT_EXPECT_EQ(test, err, 0);
	KUNIT_EXPECT_EQ(test, want, VMPOLICE_MAX_QUEUES);
	KUNIT_EXPECT_GT(test, pages, 1);
	vmp_policer_put(p);
}

static struct kunit_case vmpolice_test_cases[] = {
	KUNIT_CASE(vmp_test_train_tcp4),
	KUNIT_CASE(vmp_test_train_udp6),
	KUNIT_CASE(vmp_test_train_single),
	KUNIT_CASE(vmp_test_train_sctp),
	KUNIT_CASE(vmp_test_train_malformed),
	KUNIT_CASE(vmp_test_cut_tcp4),
	KUNIT_CASE(vmp_test_cut_to_one),
	KUNIT_CASE(vmp_test_cut_udp6),
	KUNIT_CASE(vmp_test_cut_refused),
	KUNIT_CASE(vmp_test_police),
	KUNIT_CASE(vmp_test_police_train_passed),
	KUNIT_CASE(vmp_test_police_no_cut),
	KUNIT_CASE(vmp_test_police_ceiling_and_malformed),
	KUNIT_CASE(vmp_test_hold_latency0),
	KUNIT_CASE(vmp_test_hold),
	KUNIT_CASE(vmp_test_hold_not_allowed),
	KUNIT_CASE(vmp_test_hold_ecn),
	KUNIT_CASE(vmp_test_hold_ecn_off),
	KUNIT_CASE(vmp_test_hold_ecn_ce_already),
	KUNIT_CASE(vmp_test_hold_gso_partial),
	KUNIT_CASE(vmp_test_hold_ecn_own_length),
	KUNIT_CASE(vmp_test_burst64),
	KUNIT_CASE(vmp_test_memory),
	KUNIT_CASE(vmp_test_refund_earlier_bucket),
	KUNIT_CASE(vmp_test_queue_fallback),
	KUNIT_CASE(vmp_test_queue_pinned),
	KUNIT_CASE(vmp_test_queue_list),
	KUNIT_CASE(vmp_test_queue_pages),
	KUNIT_CASE(vmp_test_dump_size),
	KUNIT_CASE(vmp_test_change_stale),
	{}
};

static struct kunit_suite vmpolice_test_suite = {
	.name = "vmpolice",
	.test_cases = vmpolice_test_cases,
};

kunit_test_suite(vmpolice_test_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests of the vmpolice action and qdisc core");
MODULE_AUTHOR("The vmpolice developers");
VMP_MODULE_IMPORT_KUNIT_NS();
