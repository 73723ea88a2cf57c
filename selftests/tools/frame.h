/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmtap library: Ethernet/IPv4/IPv6/TCP/UDP frames: the builder (with
 * the checksums a guest leaves, full or partial), the parser, checksum
 * verification, and the wire-bytes model (what a frame or a GSO
 * super-packet stands for on the wire once segmented).
 */
#ifndef VMTAP_FRAME_H
#define VMTAP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vnet.h"

#define HDR_MAX			128	/* vnet header + L2..L4 headers */
#define TCP_DEFAULT_FLAGS	0x18	/* ACK | PSH */

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* ----------------------------------------------------------- checksums */

/* Sum of big-endian 16-bit words, unfolded; odd tail padded with zero. */
uint64_t csum_add(uint64_t sum, const void *buf, size_t len);
uint16_t csum_fold16(uint64_t sum);
uint64_t pseudo_sum(bool v6, const uint8_t *src, const uint8_t *dst,
		    uint8_t proto, uint32_t l4len);

/* ------------------------------------------------------------- builder */

struct frame_spec {
	uint8_t smac[6], dmac[6];
	bool dmac_set;
	bool ipv6;
	uint8_t src[16], dst[16];
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t sport, dport;
	unsigned int flows;		/* sport .. sport + flows - 1 */
	unsigned int payload;
	unsigned int gso_size;		/* MSS the builder uses, 0: none */
	bool csum_offload;
	uint8_t tcp_flags;
	uint32_t seq;
	uint8_t tos;
	/* virtio_net_hdr overrides, -1: not given */
	long gso_type;			/* may be GSO_TYPE_ECN */
	long lie_gso_size, lie_hdr_len, lie_csum_start, lie_csum_offset;
	long vnet_flags;
};

/* What the builder derived from a frame_spec, the same for every frame. */
struct layout {
	unsigned int l4off;		/* ETH_HLEN + IP header */
	unsigned int l4hlen;		/* 20 (TCP) or 8 (UDP) */
	unsigned int hdrs;		/* L2..L4 header bytes */
	unsigned int len;		/* frame length, no vnet header */
	unsigned int csum_off;		/* 16 (TCP) or 6 (UDP) */
	bool partial;			/* L4 check holds pseudo-header sum */
	struct vnet_fields vh;
	unsigned int segs;		/* per the gso_size written */
	unsigned int wire;		/* L2 bytes of those segments */
};

/* defaults: TCP 52:54:00:12:34:56 -> 02::01, ports 40000 -> 9000, 1400 */
void spec_default(struct frame_spec *fs);
/* 10.0.0.2 -> 10.0.0.1, or fd00::2 -> fd00::1 */
void spec_addrs(struct frame_spec *fs, bool v6);
/* "ack,psh,fin", "+fin" (added to ACK|PSH), "0x19" or "none". */
bool parse_tcp_flags(const char *s, uint8_t *out);

uint8_t natural_gso_type(const struct frame_spec *fs, bool gso);
unsigned int max_payload(const struct frame_spec *fs);
/* derive the layout; -1 with a message in err if fs cannot be built */
int layout_init(const struct frame_spec *fs, struct layout *lo,
		char *err, size_t errlen);
/* the payload every frame carries */
void fill_payload(uint8_t *p, unsigned int len);
/*
 * Write the vnet header and the L2..L4 headers of frame number g into out
 * (vnet_sz + lo->hdrs bytes). The payload is the constant fill_payload()
 * pattern whose unfolded sum is paysum. Frame g belongs to flow g % flows
 * (source port sport + flow) and carries that flow's next sequence number.
 */
void build_headers(const struct frame_spec *fs, const struct layout *lo,
		   uint64_t g, uint64_t paysum, uint8_t *out,
		   unsigned int vnet_sz);

/* -------------------------------------------------------------- parser */

struct pinfo {
	bool v6;
	bool frag;				/* IPv4 fragment */
	uint8_t proto;
	unsigned int l3off, l4off, hdrs;	/* 0 when unknown */
	unsigned int l3len;			/* IP header + IP payload */
	const uint8_t *src, *dst;
	uint16_t sport, dport;
};

/* Parse Ethernet [802.1Q] IPv4/IPv6 TCP/UDP; false if not IP. */
bool parse_frame(const uint8_t *f, size_t len, struct pinfo *pi);
/* a hash of the 5-tuple (a host queue for a flow) */
uint32_t flow_hash(const struct pinfo *pi);

enum csum_verdict { CSUM_OK, CSUM_BAD, CSUM_SKIP };

/* Verify the IPv4 header and the full L4 checksum of a complete frame. */
enum csum_verdict verify_csum(const uint8_t *f, size_t len);

/* ---------------------------------------------------------- wire bytes */

/* segments a frame read from a tap stands for, and whether it is GSO */
void frame_segs(const uint8_t *f, size_t len, const struct vnet_fields *vh,
		uint64_t *segs, bool *gso);
/* Ethernet, IP and UDP header bytes of one UDP datagram */
unsigned int udp_hdrs(bool v6);
/*
 * L2 bytes a UDP send of @payload bytes puts on the wire: one datagram,
 * or with @gso_size (UDP_SEGMENT) one per gso_size bytes (*segs of them).
 */
uint64_t udp_wire(bool v6, unsigned int payload, unsigned int gso_size,
		  unsigned int *segs);

#endif
