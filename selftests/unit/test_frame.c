// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the vmtap library's frame code (selftests/tools: frame.c,
 * vnet.c, args.c): checksums, the frame builder's headers and virtio-net
 * metadata, kernel-style segmentation of its GSO frames, the wire-bytes
 * model, the parser, and the command-line value parsers.  Built from the
 * same sources the vmtap programs link.  KTAP output.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_ether.h>

#include "args.h"
#include "frame.h"
#include "vnet.h"

static unsigned int kt_n, kt_fail;

static void kt_result(bool ok, const char *fmt, ...)
{
	va_list ap;

	kt_n++;
	if (!ok)
		kt_fail++;
	printf("%sok %u ", ok ? "" : "not ", kt_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Build frame g of spec into buf (vnet header + frame); returns layout. */
static bool st_build(const struct frame_spec *fs, uint64_t g, uint8_t *buf,
		     struct layout *lo)
{
	uint8_t *pay;
	char err[128];

	if (layout_init(fs, lo, err, sizeof(err)))
		return false;
	pay = buf + 12 + lo->hdrs;
	fill_payload(pay, fs->payload);
	build_headers(fs, lo, g, csum_add(0, pay, fs->payload), buf, 12);
	return true;
}

/* Finish a partial checksum as a device would (from csum_start). */
static void complete_csum(uint8_t *f, size_t len, unsigned int start,
			  unsigned int off)
{
	uint16_t c = ~csum_fold16(csum_add(0, f + start, len - start));

	put16(f + start + off, c);
}

/* one's complement 16-bit add, and "replace old by new" in a check */
static uint16_t oc_add(uint16_t a, uint16_t b)
{
	return csum_fold16((uint32_t)a + b);
}

/*
 * Segment a GSO frame the way net/ipv4/tcp_offload.c and udp_offload.c
 * do: per segment, adjust the pseudo-header check from the super-packet's
 * L4 length to the segment's, fix IP length/id and TCP seq/flags, finish
 * the checksum from csum_start, and verify the result.
 */
static bool st_segment_ok(const struct frame_spec *fs, const uint8_t *frm,
			  const struct layout *lo, unsigned int *nsegs)
{
	unsigned int mss = lo->vh.gso_size, done = 0, k = 0;
	uint16_t oldl4 = lo->len - lo->l4off;
	static uint8_t seg[HDR_MAX + 65536];

	while (done < fs->payload) {
		unsigned int n = fs->payload - done < mss ?
				 fs->payload - done : mss;
		unsigned int l4len = lo->l4hlen + n, slen = lo->hdrs + n;
		uint8_t *ip = seg + ETH_HLEN, *t = seg + lo->l4off;
		bool last = done + n == fs->payload;
		uint16_t c;

		memcpy(seg, frm, lo->hdrs);
		memcpy(seg + lo->hdrs, frm + lo->hdrs + done, n);
		if (fs->ipv6) {
			put16(ip + 4, l4len);
		} else {
			put16(ip + 2, slen - ETH_HLEN);
			put16(ip + 4, get16(ip + 4) + k);
			put16(ip + 10, 0);
			put16(ip + 10,
			      (uint16_t)~csum_fold16(csum_add(0, ip, 20)));
		}
		if (fs->proto == IPPROTO_TCP) {
			put32(t + 4, get32(t + 4) + done);
			if (!last)
				t[13] &= ~0x09;		/* FIN, PSH */
			if (k)
				t[13] &= ~0x80;		/* CWR */
		} else {
			put16(t + 4, l4len);
		}
		c = get16(t + lo->csum_off);
		c = oc_add(oc_add(c, ~oldl4), l4len);
		put16(t + lo->csum_off, c);
		complete_csum(seg, slen, lo->vh.csum_start,
			      lo->vh.csum_offset);
		if (verify_csum(seg, slen) != CSUM_OK)
			return false;
		done += n;
		k++;
	}
	*nsegs = k;
	return true;
}

int main(void)
{
	static uint8_t buf[HDR_MAX + 65536];
	/* RFC 1071-style example header (checksum 0xb861) */
	static const uint8_t iph[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};
	struct frame_spec fs;
	struct layout lo;
	struct vnet_fields v;
	unsigned int i, segs, list[MAX_QUEUES], nl;
	uint8_t *f = buf + 12, mac[6], fl;
	long gt;
	bool ok;

	printf("TAP version 13\n1..35\n");
	segs = (uint16_t)~csum_fold16(csum_add(0, iph, 20));
	kt_result(segs == 0xb861, "csum: known IPv4 header checksum 0xb861");

	/*
	 * Known answers for the L4 checksum over an odd length: the
	 * builder, the verifier and the segmentation below share
	 * csum_add() and pseudo_sum(), so they agree with each other
	 * whatever those compute.  The values were computed apart (RFC 1071
	 * in Python over these frames' bytes: pseudo-header with the
	 * protocol and the L4 length, payload (i * 7 + 1) & 0xff).
	 */
	for (i = 0; i < 2; i++) {
		bool v6 = i;

		spec_default(&fs);
		spec_addrs(&fs, v6);
		fs.proto = v6 ? IPPROTO_TCP : IPPROTO_UDP;
		fs.payload = 1001;
		ok = st_build(&fs, 3, buf, &lo);
		kt_result(ok && get16(f + lo.l4off + lo.csum_off) ==
			  (v6 ? 0x5edc : 0x9cc3),
			  "csum: known %s checksum of frame 3, 1001 bytes",
			  v6 ? "ipv6/tcp" : "ipv4/udp");
	}

	for (i = 0; i < 4; i++) {
		bool v6 = i & 1, udp = i & 2;
		const char *name = v6 ? (udp ? "ipv6/udp" : "ipv6/tcp") :
				   (udp ? "ipv4/udp" : "ipv4/tcp");

		spec_default(&fs);
		spec_addrs(&fs, v6);
		fs.proto = udp ? IPPROTO_UDP : IPPROTO_TCP;
		fs.payload = 1001;		/* odd length */
		ok = st_build(&fs, 3, buf, &lo);
		vnet_decode(buf, &v);
		kt_result(ok && verify_csum(f, lo.len) == CSUM_OK &&
			  !v.flags && !v.gso_type && !v.csum_start,
			  "build: %s non-GSO full checksums verify", name);
		kt_result(get16(f + ETH_HLEN + (v6 ? 4 : 2)) ==
			  lo.len - ETH_HLEN - (v6 ? 40 : 0) &&
			  (!udp || get16(f + lo.l4off + 4) ==
			   lo.len - lo.l4off),
			  "build: %s IP/UDP length fields", name);

		fs.gso_size = udp ? 1200 : 1448;
		fs.payload = udp ? 60000 : 64000;
		ok = st_build(&fs, 0, buf, &lo);
		vnet_decode(buf, &v);
		kt_result(ok && v.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
			  v.gso_type == natural_gso_type(&fs, true) &&
			  v.gso_size == fs.gso_size &&
			  v.hdr_len == lo.hdrs && v.hdr_len ==
			  (unsigned int)(ETH_HLEN + (v6 ? 40 : 20) +
					 (udp ? 8 : 20)) &&
			  v.csum_start == lo.l4off &&
			  v.csum_offset == (udp ? 6 : 16),
			  "gso: %s virtio_net_hdr fields", name);
		kt_result(get16(f + lo.l4off + lo.csum_off) ==
			  csum_fold16(pseudo_sum(v6, fs.src, fs.dst, fs.proto,
						 lo.len - lo.l4off)),
			  "gso: %s check holds pseudo-header sum", name);
		ok = st_segment_ok(&fs, f, &lo, &segs);
		kt_result(ok && segs == lo.segs &&
			  segs == (fs.payload + fs.gso_size - 1) /
				  fs.gso_size &&
			  lo.wire == segs * lo.hdrs + fs.payload,
			  "gso: %s segments (%u) verify after kernel-style "
			  "segmentation", name, segs);
	}

	spec_default(&fs);
	spec_addrs(&fs, false);
	fs.csum_offload = true;
	fs.payload = 777;
	ok = st_build(&fs, 0, buf, &lo);
	vnet_decode(buf, &v);
	complete_csum(f, lo.len, v.csum_start, v.csum_offset);
	kt_result(ok && v.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
		  !v.gso_type && verify_csum(f, lo.len) == CSUM_OK,
		  "offload: ipv4/tcp NEEDS_CSUM frame completes to valid");

	fs.payload = max_payload(&fs);
	ok = st_build(&fs, 0, buf, &lo);
	fs.payload++;
	kt_result(ok && get16(f + ETH_HLEN + 2) == 65535 &&
		  layout_init(&fs, &lo, (char *)mac, 0) < 0,
		  "limits: ipv4/tcp payload 65495 max, 65496 refused");

	spec_default(&fs);
	spec_addrs(&fs, true);
	fs.gso_size = 1000;
	fs.payload = 5000;
	fs.lie_gso_size = 100;
	fs.lie_hdr_len = 9;
	fs.lie_csum_start = 3;
	fs.lie_csum_offset = 77;
	ok = st_build(&fs, 0, buf, &lo);
	vnet_decode(buf, &v);
	{
		static uint8_t ref[HDR_MAX + 65536];
		struct frame_spec t = fs;
		struct layout lt;

		t.lie_gso_size = t.lie_hdr_len = -1;
		t.lie_csum_start = t.lie_csum_offset = -1;
		ok = ok && st_build(&t, 0, ref, &lt) &&
		     !memcmp(ref + 12, f, lo.len);
	}
	kt_result(ok && v.gso_size == 100 && v.hdr_len == 9 &&
		  v.csum_start == 3 && v.csum_offset == 77 && lo.segs == 50,
		  "lies: only the header changes, segs follow gso_size");

	spec_default(&fs);
	spec_addrs(&fs, false);
	fs.gso_type = GSO_TYPE_ECN;
	ok = st_build(&fs, 0, buf, &lo);
	vnet_decode(buf, &v);
	kt_result(ok && v.gso_type == (VIRTIO_NET_HDR_GSO_TCPV4 |
				       VIRTIO_NET_HDR_GSO_ECN) &&
		  !v.gso_size && v.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
		  lo.segs == 1,
		  "lies: --gso-type ecn without --gso-size gives size 0");

	fs.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	fs.gso_size = 100;
	ok = st_build(&fs, 0, buf, &lo);
	vnet_decode(buf, &v);
	kt_result(ok && !v.gso_type && !v.gso_size && lo.segs == 1 &&
		  v.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM,
		  "lies: --gso-type none keeps the partial checksum");

	spec_default(&fs);
	spec_addrs(&fs, false);
	fs.flows = 4;
	fs.payload = 100;
	st_build(&fs, 6, buf, &lo);
	kt_result(get16(f + lo.l4off) == 40002 &&
		  get32(f + lo.l4off + 4) == 1 + 100 &&
		  get16(f + ETH_HLEN + 4) == 6,
		  "build: frame 6 of 4 flows: sport, seq and IP id");

	{
		struct pinfo pi;

		ok = parse_frame(f, lo.len, &pi) && !pi.v6 &&
		     pi.proto == IPPROTO_TCP && pi.sport == 40002 &&
		     pi.dport == 9000 && pi.hdrs == 54 &&
		     pi.l3len == lo.len - ETH_HLEN;
		kt_result(ok, "parse: 5-tuple and header length of a frame");
	}

	{
		unsigned int n4, n6, n1;

		ok = udp_wire(false, 14000, 1400, &n4) == 14000 + 10 * 42 &&
		     n4 == 10 &&
		     udp_wire(true, 14001, 1400, &n6) == 14001 + 11 * 62 &&
		     n6 == 11 &&
		     udp_wire(false, 1400, 0, &n1) == 1442 && n1 == 1 &&
		     udp_hdrs(false) == 42 && udp_hdrs(true) == 62;
		kt_result(ok, "wire: UDP sends, with and without UDP_SEGMENT");
	}

	ok = parse_mac("52:54:00:ab:CD:ef", mac) && mac[3] == 0xab &&
	     mac[5] == 0xef && !parse_mac("52:54:00:ab:cd", mac) &&
	     !parse_mac("52:54:00:ab:cd:ef:00", mac) &&
	     !parse_mac("52:54:00:ab:cd:1ff", mac);
	kt_result(ok, "args: MAC addresses");
	ok = parse_list("0,2,4-6", 255, list, &nl) && nl == 5 &&
	     list[4] == 6 && !parse_list("1,1", 255, list, &nl) &&
	     !parse_list("3-1", 255, list, &nl) &&
	     !parse_list("256", 255, list, &nl) &&
	     !parse_list("", 255, list, &nl);
	kt_result(ok, "args: queue lists");
	ok = parse_tcp_flags("+fin", &fl) && fl == 0x19 &&
	     parse_tcp_flags("syn,ack", &fl) && fl == 0x12 &&
	     parse_tcp_flags("0x04", &fl) && fl == 4 &&
	     !parse_tcp_flags("ack,bogus", &fl);
	kt_result(ok, "args: TCP flags");
	ok = parse_gso_type("udp_l4", &gt) && gt == 5 &&
	     parse_gso_type("tcpv6", &gt) && gt == 4 &&
	     parse_gso_type("0x81", &gt) && gt == 0x81 &&
	     !parse_gso_type("tso", &gt);
	kt_result(ok, "args: GSO types");

	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n",
	       kt_n - kt_fail, kt_fail);
	return kt_fail ? 1 : 0;
}
