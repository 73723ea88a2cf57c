// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap library: the virtio-net header (vnet.h).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "vnet.h"

void vnet_encode(uint8_t *out, unsigned int vnet_sz,
		 const struct vnet_fields *f)
{
	struct vnet_wire w = {
		.flags = f->flags,
		.gso_type = f->gso_type,
		.hdr_len = htole16(f->hdr_len),
		.gso_size = htole16(f->gso_size),
		.csum_start = htole16(f->csum_start),
		.csum_offset = htole16(f->csum_offset),
		.num_buffers = 0,
	};

	memset(out, 0, vnet_sz);
	memcpy(out, &w, vnet_sz < sizeof(w) ? vnet_sz : sizeof(w));
}

void vnet_decode(const uint8_t *in, struct vnet_fields *f)
{
	struct vnet_wire w;

	memcpy(&w, in, sizeof(struct virtio_net_hdr));
	f->flags = w.flags;
	f->gso_type = w.gso_type;
	f->hdr_len = le16toh(w.hdr_len);
	f->gso_size = le16toh(w.gso_size);
	f->csum_start = le16toh(w.csum_start);
	f->csum_offset = le16toh(w.csum_offset);
}

void print_vnet(FILE *out, const struct vnet_fields *v)
{
	fprintf(out, "flags=0x%x gso_type=0x%x hdr_len=%u gso_size=%u "
		"csum_start=%u csum_offset=%u", v->flags, v->gso_type,
		v->hdr_len, v->gso_size, v->csum_start, v->csum_offset);
}

bool parse_gso_type(const char *s, long *out)
{
	static const struct {
		const char *name;
		long val;
	} names[] = {
		{ "none", VIRTIO_NET_HDR_GSO_NONE },
		{ "tcpv4", VIRTIO_NET_HDR_GSO_TCPV4 },
		{ "tcpv6", VIRTIO_NET_HDR_GSO_TCPV6 },
		{ "udp", VIRTIO_NET_HDR_GSO_UDP },
		{ "udp_l4", VIRTIO_NET_HDR_GSO_UDP_L4 },
		{ "uso", VIRTIO_NET_HDR_GSO_UDP_L4 },
		{ "tcpv4_ecn",
		  VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN },
		{ "tcpv6_ecn",
		  VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN },
		{ "ecn", GSO_TYPE_ECN },
	};
	uint64_t n;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].val;
			return true;
		}
	}
	if (!parse_u64(s, 0xff, &n))
		return false;
	*out = n;
	return true;
}
