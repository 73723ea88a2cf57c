/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmtap library: the virtio-net header a tap with IFF_VNET_HDR carries
 * before every frame, its fields, and the names of its GSO types.
 */
#ifndef VMTAP_VNET_H
#define VMTAP_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/virtio_net.h>

/* Newer than some linux-libc-dev versions; values are UAPI, never change. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5
#endif

#define GSO_TYPE_ECN	(-2)	/* --gso-type ecn: builder's TCP type | ECN */

/* the header size a virtio 1.0 guest uses (num_buffers included) */
#define VNET_HDR_SZ	((unsigned int)sizeof(struct virtio_net_hdr_mrg_rxbuf))

/*
 * virtio_net_hdr as written to the tap: little endian (TUNSETVNETLE), the
 * num_buffers field only exists with a 12-byte header.
 */
struct vnet_wire {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

_Static_assert(offsetof(struct vnet_wire, num_buffers) ==
	       sizeof(struct virtio_net_hdr), "virtio_net_hdr layout");
_Static_assert(sizeof(struct vnet_wire) ==
	       sizeof(struct virtio_net_hdr_mrg_rxbuf), "mrg_rxbuf layout");

/* The header fields in host order. */
struct vnet_fields {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* a GSO type other than NONE (the ECN bit alone is none) */
static inline bool vnet_gso(uint8_t gso_type)
{
	return (gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE;
}

/* vnet_sz (10 or 12) bytes at out */
void vnet_encode(uint8_t *out, unsigned int vnet_sz,
		 const struct vnet_fields *f);
void vnet_decode(const uint8_t *in, struct vnet_fields *f);
void print_vnet(FILE *out, const struct vnet_fields *v);
/* none|tcpv4|tcpv6|udp|udp_l4|uso|tcpv4_ecn|tcpv6_ecn|ecn|NUMBER */
bool parse_gso_type(const char *s, long *out);

#endif
