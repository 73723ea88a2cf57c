// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap library: the command line and fatal errors (args.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

const char *prog = "vmtap";

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

const char *errstr(int err, char *buf, size_t len)
{
	return strerror_r(err, buf, len);
}

bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

uint64_t arg_u64(const char *opt, const char *s, uint64_t max)
{
	uint64_t v;

	if (!parse_u64(s, max, &v))
		die("--%s: '%s' is not a number in 0..%llu", opt, s,
		    (unsigned long long)max);
	return v;
}

double arg_pos_double(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v > 0) || v > 1e12)
		die("--%s: '%s' is not a positive number", opt, s);
	return v;
}

void arg_addr(bool v6, const char *s, uint8_t *out, const char *opt)
{
	if (inet_pton(v6 ? AF_INET6 : AF_INET, s, out) != 1)
		die("--%s: '%s' is not an IPv%c address%s", opt, s,
		    v6 ? '6' : '4', !v6 && strchr(s, ':') ? " (add --ipv6)" : "");
}

bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return false;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return false;
		mac[i] = b[i];
	}
	return true;
}

bool parse_list(const char *s, unsigned int max, unsigned int *out,
		unsigned int *n)
{
	char buf[1024], *tok, *save = NULL;
	unsigned int i, j;

	*n = 0;
	if (strlen(s) >= sizeof(buf) || !*s)
		return false;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t lo, hi;
		char *dash = strchr(tok, '-');

		if (dash)
			*dash = '\0';
		if (!parse_u64(tok, max, &lo))
			return false;
		hi = lo;
		if (dash && (!parse_u64(dash + 1, max, &hi) || hi < lo))
			return false;
		for (; lo <= hi; lo++) {
			if (*n >= MAX_QUEUES)
				return false;
			for (j = 0; j < *n; j++)
				if (out[j] == lo)
					return false;
			out[(*n)++] = lo;
		}
	}
	for (i = 0; i < *n; i++)
		if (out[i] > max)
			return false;
	return *n > 0;
}

uint64_t arg_u64_min1(const char *opt, const char *s, uint64_t max)
{
	uint64_t v = arg_u64(opt, s, max);

	if (!v)
		die("--%s must be at least 1", opt);
	return v;
}

enum {
	O_NETNS = 256, O_DST, O_IPV6, O_JSON, O_THREADS, O_UP, O_NO_OFFLOAD,
	O_COUNT, O_PRIME, O_RATE, O_DURATION, O_CPUS, O_DPORT, O_FLOWS,
	O_PAYLOAD, O_GSO_SIZE, O_QUEUES, O_VNET_SZ,
};

#define MAX_OPTS	64
#define OPT_VAL		384	/* ids of opt_val options: OPT_VAL + index */

/* the common options @co takes, into @tab; returns how many */
static unsigned int common_table(const struct common_opts *co,
				 struct option *tab)
{
	const struct {
		const char *name;
		int has_arg, id;
		const void *dst;
	} all[] = {
		{ "netns", 1, O_NETNS, co->netns },
		{ "dst", 1, O_DST, co->dst },
		{ "ipv6", 0, O_IPV6, co->ipv6 },
		{ "json", 0, O_JSON, co->json },
		{ "threads", 0, O_THREADS, co->threads },
		{ "up", 0, O_UP, co->up },
		{ "no-offload", 0, O_NO_OFFLOAD, co->no_offload },
		{ "count", 1, O_COUNT, co->count },
		{ "prime-bytes", 1, O_PRIME, co->prime_bytes },
		{ "rate", 1, O_RATE, co->rate },
		{ "duration", 1, O_DURATION, co->duration },
		{ "cpus", 1, O_CPUS, co->cpus },
		{ "dport", 1, O_DPORT, co->dport },
		{ "flows", 1, O_FLOWS, co->flows },
		{ "payload", 1, O_PAYLOAD, co->payload },
		{ "gso-size", 1, O_GSO_SIZE, co->gso_size },
		{ "queues", 1, O_QUEUES, co->queues },
		{ "vnet-hdr-sz", 1, O_VNET_SZ, co->vnet_sz },
		{ "verbose", 0, 'v', co->verbose },
	};
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		if (!all[i].dst)
			continue;
		tab[n].name = all[i].name;
		tab[n].has_arg = all[i].has_arg;
		tab[n].flag = NULL;
		tab[n].val = all[i].id;
		n++;
	}
	return n;
}

/* common option @c (--@name) with value @arg; false: not one */
static bool common_opt(const struct common_opts *co, int c,
		       const char *name, const char *arg)
{
	uint64_t v;

	switch (c) {
	case O_NETNS:
		*co->netns = arg;
		break;
	case O_DST:
		*co->dst = arg;
		break;
	case O_IPV6:
		*co->ipv6 = true;
		break;
	case O_JSON:
		*co->json = true;
		break;
	case O_THREADS:
		*co->threads = true;
		break;
	case O_UP:
		*co->up = true;
		break;
	case O_NO_OFFLOAD:
		*co->no_offload = true;
		break;
	case 'v':
		*co->verbose = true;
		break;
	case O_COUNT:
		*co->count = arg_u64(name, arg, UINT64_MAX);
		if (co->count_set)
			*co->count_set = true;
		break;
	case O_PRIME:
		*co->prime_bytes = arg_u64(name, arg, UINT64_MAX);
		break;
	case O_RATE:
		*co->rate = arg_pos_double(name, arg);
		break;
	case O_DURATION:
		*co->duration = arg_pos_double(name, arg);
		break;
	case O_CPUS:
		if (!parse_list(arg, 4095, co->cpus, co->ncpus))
			die("--cpus: bad list '%s'", arg);
		break;
	case O_DPORT:
		*co->dport = arg_u64(name, arg, 65535);
		break;
	case O_FLOWS:
		*co->flows = arg_u64_min1(name, arg, 65536);
		break;
	case O_PAYLOAD:
		*co->payload = arg_u64(name, arg, 65535);
		break;
	case O_GSO_SIZE:
		*co->gso_size = arg_u64(name, arg, 65535);
		break;
	case O_QUEUES:
		*co->queues = arg_u64_min1(name, arg, MAX_QUEUES);
		break;
	case O_VNET_SZ:
		v = arg_u64(name, arg, 12);
		if (v != 10 && v != 12)
			die("--vnet-hdr-sz: 10 or 12");
		*co->vnet_sz = v;
		break;
	default:
		return false;
	}
	return true;
}

/* @v, in range of the integer of @size bytes at @dst, into it */
static void store_uint(void *dst, size_t size, uint64_t v)
{
	uint8_t u8 = v;
	uint16_t u16 = v;
	uint32_t u32 = v;

	switch (size) {
	case 1:
		memcpy(dst, &u8, 1);
		break;
	case 2:
		memcpy(dst, &u16, 2);
		break;
	case 4:
		memcpy(dst, &u32, 4);
		break;
	default:
		memcpy(dst, &v, sizeof(v));
		break;
	}
}

/* own value option @c (--@name) with value @arg; false: not one */
static bool val_opt(const struct opt_val *vals, int c, const char *name,
		    const char *arg)
{
	const struct opt_val *ov;
	uint64_t v;

	if (!vals || c < OPT_VAL || c >= OPT_OWN)
		return false;
	ov = &vals[c - OPT_VAL];
	switch (ov->kind) {
	case OPT_STR:
		*(const char **)ov->dst = arg;
		return true;
	case OPT_FLAG:
		*(bool *)ov->dst = true;
		return true;
	case OPT_NUM:
		v = arg_u64(name, arg, ov->max);
		break;
	case OPT_NUM1:
		v = arg_u64_min1(name, arg, ov->max);
		break;
	default:
		return false;
	}
	store_uint(ov->dst, ov->size, v);
	return true;
}

void parse_opts(const struct prog_opts *po, int argc, char **argv)
{
	static const struct option help = { "help", 0, NULL, 'h' };
	struct option tab[MAX_OPTS];
	const struct opt_val *ov;
	const struct option *own;
	unsigned int n;
	int c, idx;

	n = common_table(&po->common, tab);
	for (ov = po->vals; ov && ov->name; ov++) {
		if (n >= MAX_OPTS - 2)
			die("too many options");
		tab[n].name = ov->name;
		tab[n].has_arg = ov->kind != OPT_FLAG;
		tab[n].flag = NULL;
		tab[n].val = OPT_VAL + (ov - po->vals);
		n++;
	}
	for (own = po->own; own && own->name; own++) {
		if (n >= MAX_OPTS - 2)
			die("too many options");
		tab[n++] = *own;
	}
	tab[n++] = help;
	memset(&tab[n], 0, sizeof(tab[n]));

	while ((c = getopt_long(argc, argv, po->common.verbose ? "vh" : "h",
				tab, &idx)) != -1) {
		const char *name = c >= 256 ? tab[idx].name : NULL;

		if (c == 'h') {
			po->usage(stdout);
			exit(0);
		}
		if (c == '?' || (!common_opt(&po->common, c, name, optarg) &&
				 !val_opt(po->vals, c, name, optarg) &&
				 (!po->parse ||
				  !po->parse(po->ctx, c, name, optarg)))) {
			po->usage(stderr);
			exit(1);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
	setvbuf(stdout, NULL, _IOLBF, 0);
}
