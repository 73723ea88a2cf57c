// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap library: command-line values and fatal errors (args.h).
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
