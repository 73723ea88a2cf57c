// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap library: frames, checksums and wire bytes (frame.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <linux/if_ether.h>

#include "args.h"
#include "frame.h"

static const struct {
	const char *name;
	uint8_t bit;
} tcp_flag_names[] = {
	{ "fin", 0x01 }, { "syn", 0x02 }, { "rst", 0x04 }, { "psh", 0x08 },
	{ "ack", 0x10 }, { "urg", 0x20 }, { "ece", 0x40 }, { "cwr", 0x80 },
};

bool parse_tcp_flags(const char *s, uint8_t *out)
{
	char buf[128], *tok, *save = NULL;
	uint8_t v = 0;
	uint64_t n;
	size_t i;

	if (*s == '+') {
		v = TCP_DEFAULT_FLAGS;
		s++;
	}
	if (parse_u64(s, 0xff, &n)) {
		*out = v | n;
		return true;
	}
	if (!strcmp(s, "none")) {
		*out = v;
		return true;
	}
	if (strlen(s) >= sizeof(buf) || !*s)
		return false;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",|+", &save); tok;
	     tok = strtok_r(NULL, ",|+", &save)) {
		for (i = 0; i < ARRAY_SIZE(tcp_flag_names); i++)
			if (!strcasecmp(tok, tcp_flag_names[i].name))
				break;
		if (i == ARRAY_SIZE(tcp_flag_names))
			return false;
		v |= tcp_flag_names[i].bit;
	}
	*out = v;
	return true;
}

/* ----------------------------------------------------------- checksums */

uint64_t csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t csum_fold16(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint64_t pseudo_sum(bool v6, const uint8_t *src, const uint8_t *dst,
		    uint8_t proto, uint32_t l4len)
{
	size_t alen = v6 ? 16 : 4;
	uint64_t sum = 0;

	sum = csum_add(sum, src, alen);
	sum = csum_add(sum, dst, alen);
	return sum + proto + (l4len >> 16) + (l4len & 0xffff);
}

/* ------------------------------------------------------------- builder */

void spec_default(struct frame_spec *fs)
{
	static const uint8_t smac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	memset(fs, 0, sizeof(*fs));
	memcpy(fs->smac, smac, 6);
	memcpy(fs->dmac, dmac, 6);
	fs->proto = IPPROTO_TCP;
	fs->sport = 40000;
	fs->dport = 9000;
	fs->flows = 1;
	fs->payload = 1400;
	fs->tcp_flags = TCP_DEFAULT_FLAGS;
	fs->seq = 1;
	fs->gso_type = -1;
	fs->lie_gso_size = fs->lie_hdr_len = -1;
	fs->lie_csum_start = fs->lie_csum_offset = fs->vnet_flags = -1;
}

void spec_addrs(struct frame_spec *fs, bool v6)
{
	fs->ipv6 = v6;
	inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "fd00::2" : "10.0.0.2",
		  fs->src);
	inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "fd00::1" : "10.0.0.1",
		  fs->dst);
}

uint8_t natural_gso_type(const struct frame_spec *fs, bool gso)
{
	if (!gso)
		return VIRTIO_NET_HDR_GSO_NONE;
	if (fs->proto == IPPROTO_UDP)
		return VIRTIO_NET_HDR_GSO_UDP_L4;
	return fs->ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
}

unsigned int max_payload(const struct frame_spec *fs)
{
	unsigned int l4h = fs->proto == IPPROTO_TCP ? 20 : 8;

	/* IPv4 total length, IPv6 payload length (and UDP length): 16 bits */
	return fs->ipv6 ? 65535 - l4h : 65535 - 20 - l4h;
}

int layout_init(const struct frame_spec *fs, struct layout *lo,
		char *err, size_t errlen)
{
	struct vnet_fields *vh = &lo->vh;
	bool gso;

	memset(lo, 0, sizeof(*lo));
	lo->l4off = ETH_HLEN + (fs->ipv6 ? 40 : 20);
	lo->l4hlen = fs->proto == IPPROTO_TCP ? 20 : 8;
	lo->csum_off = fs->proto == IPPROTO_TCP ? 16 : 6;
	lo->hdrs = lo->l4off + lo->l4hlen;
	if (fs->payload > max_payload(fs)) {
		snprintf(err, errlen, "payload %u too large, max %u for %s/%s",
			 fs->payload, max_payload(fs),
			 fs->ipv6 ? "ipv6" : "ipv4",
			 fs->proto == IPPROTO_TCP ? "tcp" : "udp");
		return -1;
	}
	lo->len = lo->hdrs + fs->payload;

	if (fs->gso_type == GSO_TYPE_ECN)
		vh->gso_type = (fs->ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
					   VIRTIO_NET_HDR_GSO_TCPV4) |
			       VIRTIO_NET_HDR_GSO_ECN;
	else if (fs->gso_type >= 0)
		vh->gso_type = fs->gso_type;
	else
		vh->gso_type = natural_gso_type(fs, fs->gso_size > 0);
	gso = vnet_gso(vh->gso_type);

	lo->partial = fs->gso_size > 0 || fs->csum_offload || gso;
	vh->gso_size = fs->lie_gso_size >= 0 ? fs->lie_gso_size :
		       gso ? fs->gso_size : 0;
	vh->hdr_len = fs->lie_hdr_len >= 0 ? fs->lie_hdr_len :
		      gso ? lo->hdrs : 0;
	vh->flags = fs->vnet_flags >= 0 ? fs->vnet_flags :
		    lo->partial ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
	vh->csum_start = fs->lie_csum_start >= 0 ? fs->lie_csum_start :
			 lo->partial ? lo->l4off : 0;
	vh->csum_offset = fs->lie_csum_offset >= 0 ? fs->lie_csum_offset :
			  lo->partial ? lo->csum_off : 0;

	/* what the frame stands for once segmented per its gso_size field */
	if (gso && vh->gso_size && fs->payload > vh->gso_size) {
		lo->segs = (fs->payload + vh->gso_size - 1) / vh->gso_size;
		lo->wire = lo->segs * lo->hdrs + fs->payload;
	} else {
		lo->segs = 1;
		lo->wire = lo->len;
	}
	return 0;
}

void fill_payload(uint8_t *p, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 1);
}

void build_headers(const struct frame_spec *fs, const struct layout *lo,
		   uint64_t g, uint64_t paysum, uint8_t *out,
		   unsigned int vnet_sz)
{
	unsigned int l4len = lo->len - lo->l4off;
	uint8_t *f = out + vnet_sz, *ip = f + ETH_HLEN, *t = f + lo->l4off;
	uint16_t sport = fs->sport + g % fs->flows;
	uint32_t seq = fs->seq + (uint32_t)(g / fs->flows) * fs->payload;
	uint64_t sum;
	uint16_t c;

	vnet_encode(out, vnet_sz, &lo->vh);
	memset(f, 0, lo->hdrs);
	memcpy(f, fs->dmac, 6);
	memcpy(f + 6, fs->smac, 6);
	put16(f + 12, fs->ipv6 ? ETH_P_IPV6 : ETH_P_IP);

	if (fs->ipv6) {
		put32(ip, 0x60000000u | (uint32_t)fs->tos << 20);
		put16(ip + 4, l4len);
		ip[6] = fs->proto;
		ip[7] = 64;
		memcpy(ip + 8, fs->src, 16);
		memcpy(ip + 24, fs->dst, 16);
	} else {
		ip[0] = 0x45;
		ip[1] = fs->tos;
		put16(ip + 2, lo->len - ETH_HLEN);
		put16(ip + 4, (uint16_t)g);
		put16(ip + 6, 0x4000);		/* DF */
		ip[8] = 64;
		ip[9] = fs->proto;
		memcpy(ip + 12, fs->src, 4);
		memcpy(ip + 16, fs->dst, 4);
		put16(ip + 10, (uint16_t)~csum_fold16(csum_add(0, ip, 20)));
	}

	put16(t, sport);
	put16(t + 2, fs->dport);
	if (fs->proto == IPPROTO_TCP) {
		put32(t + 4, seq);
		put32(t + 8, 1);		/* ack_seq */
		t[12] = 5 << 4;			/* doff */
		t[13] = fs->tcp_flags;
		put16(t + 14, 65535);		/* window */
	} else {
		put16(t + 4, l4len);
	}

	/*
	 * Checksum offload (and every GSO frame): the check field holds the
	 * folded, uncomplemented pseudo-header sum over the whole L4 length,
	 * as Linux's virtio-net driver leaves it (~csum_tcpudp_magic()); the
	 * device or the host's segmentation finishes it from csum_start.
	 */
	sum = pseudo_sum(fs->ipv6, fs->src, fs->dst, fs->proto, l4len);
	if (lo->partial) {
		c = csum_fold16(sum);
	} else {
		sum = csum_add(sum, t, lo->l4hlen) + paysum;
		c = ~csum_fold16(sum);
		if (fs->proto == IPPROTO_UDP && !c)
			c = 0xffff;
	}
	put16(t + lo->csum_off, c);
}

/* -------------------------------------------------------------- parser */

bool parse_frame(const uint8_t *f, size_t len, struct pinfo *pi)
{
	unsigned int off = ETH_HLEN;
	uint16_t type;

	memset(pi, 0, sizeof(*pi));
	if (len < ETH_HLEN)
		return false;
	type = get16(f + 12);
	if ((type == ETH_P_8021Q || type == ETH_P_8021AD) && len >= 18) {
		type = get16(f + 16);
		off = 18;
	}
	pi->l3off = off;
	if (type == ETH_P_IP) {
		unsigned int ihl;

		if (len < off + 20 || (f[off] >> 4) != 4)
			return false;
		ihl = (f[off] & 0xf) * 4;
		if (ihl < 20 || len < off + ihl)
			return false;
		pi->proto = f[off + 9];
		pi->l3len = get16(f + off + 2);
		pi->src = f + off + 12;
		pi->dst = f + off + 16;
		pi->frag = get16(f + off + 6) & 0x3fff;	/* MF | offset */
		if (get16(f + off + 6) & 0x1fff)	/* not a first frag */
			return true;
		pi->l4off = off + ihl;
	} else if (type == ETH_P_IPV6) {
		if (len < off + 40 || (f[off] >> 4) != 6)
			return false;
		pi->v6 = true;
		pi->proto = f[off + 6];
		pi->l3len = 40 + get16(f + off + 4);
		pi->src = f + off + 8;
		pi->dst = f + off + 24;
		pi->l4off = off + 40;
	} else {
		return false;
	}
	if (pi->proto == IPPROTO_TCP && len >= pi->l4off + 20) {
		pi->hdrs = pi->l4off + (f[pi->l4off + 12] >> 4) * 4;
	} else if (pi->proto == IPPROTO_UDP && len >= pi->l4off + 8) {
		pi->hdrs = pi->l4off + 8;
	} else {
		pi->l4off = 0;
		return true;
	}
	pi->sport = get16(f + pi->l4off);
	pi->dport = get16(f + pi->l4off + 2);
	return true;
}

uint32_t flow_hash(const struct pinfo *pi)
{
	size_t alen = pi->v6 ? 16 : 4, i;
	uint32_t h = 2166136261u;

#define FNV(b) (h = (h ^ (uint8_t)(b)) * 16777619u)
	for (i = 0; i < alen; i++) {
		FNV(pi->src[i]);
		FNV(pi->dst[i]);
	}
	FNV(pi->proto);
	FNV(pi->sport >> 8);
	FNV(pi->sport);
	FNV(pi->dport >> 8);
	FNV(pi->dport);
#undef FNV
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	return h ^ (h >> 16);
}

enum csum_verdict verify_csum(const uint8_t *f, size_t len)
{
	struct pinfo pi;
	unsigned int l4len;
	uint64_t sum;

	if (!parse_frame(f, len, &pi) || pi.l3off + pi.l3len > len)
		return CSUM_SKIP;
	if (!pi.v6 &&
	    csum_fold16(csum_add(0, f + pi.l3off, (f[pi.l3off] & 0xf) * 4)) !=
	    0xffff)
		return CSUM_BAD;
	if (!pi.l4off || pi.frag)	/* L4 sum covers the whole datagram */
		return pi.v6 ? CSUM_SKIP : CSUM_OK;
	l4len = pi.l3len - (pi.l4off - pi.l3off);
	if (pi.proto == IPPROTO_UDP && !pi.v6 && !get16(f + pi.l4off + 6))
		return CSUM_OK;			/* no UDP checksum */
	sum = pseudo_sum(pi.v6, pi.src, pi.dst, pi.proto, l4len);
	sum = csum_add(sum, f + pi.l4off, l4len);
	return csum_fold16(sum) == 0xffff ? CSUM_OK : CSUM_BAD;
}

/* ---------------------------------------------------------- wire bytes */

void frame_segs(const uint8_t *f, size_t len, const struct vnet_fields *vh,
		uint64_t *segs, bool *gso)
{
	struct pinfo pi;

	*gso = vnet_gso(vh->gso_type);
	*segs = 1;
	if (!*gso || !vh->gso_size)
		return;
	if (parse_frame(f, len, &pi) && pi.hdrs && len > pi.hdrs)
		*segs = (len - pi.hdrs + vh->gso_size - 1) / vh->gso_size;
}

unsigned int udp_hdrs(bool v6)
{
	return ETH_HLEN + (v6 ? 40 : 20) + 8;
}

uint64_t udp_wire(bool v6, unsigned int payload, unsigned int gso_size,
		  unsigned int *segs)
{
	unsigned int n = gso_size ? (payload + gso_size - 1) / gso_size : 1;

	if (segs)
		*segs = n;
	return (uint64_t)n * udp_hdrs(v6) + payload;
}
