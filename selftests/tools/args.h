/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmtap library: the command line (the options several programs share,
 * the parse loop, values: numbers, lists, MAC and IP addresses) and the
 * fatal error every program stops with.
 */
#ifndef VMTAP_ARGS_H
#define VMTAP_ARGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_QUEUES	256	/* MAX_TAP_QUEUES in drivers/net/tun.c */

/*
 * "vmtap": the prefix of every report and error line of every vmtap
 * program (the tests match "vmtap: total ..." and "vmtap: elapsed=").
 */
extern const char *prog;

void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...);
const char *errstr(int err, char *buf, size_t len);

bool parse_u64(const char *s, uint64_t max, uint64_t *out);
/* the value of --OPT, or die */
uint64_t arg_u64(const char *opt, const char *s, uint64_t max);
/* the same, at least 1: "--OPT must be at least 1" */
uint64_t arg_u64_min1(const char *opt, const char *s, uint64_t max);
double arg_pos_double(const char *opt, const char *s);
/* --OPT's IPv4 (v6 false: 4 bytes) or IPv6 (16 bytes) address, or die */
void arg_addr(bool v6, const char *s, uint8_t *out, const char *opt);

bool parse_mac(const char *s, uint8_t mac[6]);
/* "0,2,5-7" -> list; false on syntax error, duplicates or overflow. */
bool parse_list(const char *s, unsigned int max, unsigned int *out,
		unsigned int *n);

/*
 * The options more than one program takes, each with one spelling, one
 * check and one error message.  A program points those it takes at its
 * own fields; a NULL one it does not take.  --cpus fills cpus
 * (MAX_QUEUES of them) and ncpus; --count sets *count_set as well (if
 * given); --verbose is -v too.
 */
struct common_opts {
	const char **netns, **dst;
	bool *ipv6, *json, *threads, *up, *no_offload, *verbose;
	uint64_t *count, *prime_bytes;
	bool *count_set;
	double *rate, *duration;
	unsigned int *cpus, *ncpus;
	uint16_t *dport;
	unsigned int *flows, *payload, *gso_size, *queues, *vnet_sz;
};

/*
 * A program's own option that only stores its value: a string, true, or
 * a number in 0..max (OPT_NUM1: in 1..max) into an integer of any size.
 */
struct opt_val {
	const char *name;
	enum { OPT_STR, OPT_FLAG, OPT_NUM, OPT_NUM1 } kind;
	void *dst;
	size_t size;
	uint64_t max;
};

#define OPT_VAL_STR(name, p)	{ name, OPT_STR, p, 0, 0 }
#define OPT_VAL_FLAG(name, p)	{ name, OPT_FLAG, p, 0, 0 }
#define OPT_VAL_NUM(name, p, max) { name, OPT_NUM, p, sizeof(*(p)), max }
#define OPT_VAL_NUM1(name, p, max) { name, OPT_NUM1, p, sizeof(*(p)), max }

/* a program's other own options have ids from OPT_OWN up */
#define OPT_OWN		512

struct prog_opts {
	struct common_opts common;
	const struct opt_val *vals;	/* ends with a NULL name; may be NULL */
	const struct option *own;	/* ends with a NULL name; may be NULL */
	/*
	 * Its own option @c (--@name) with value @arg (NULL: none); returns
	 * false for one it does not know.
	 */
	bool (*parse)(void *ctx, int c, const char *name, const char *arg);
	void *ctx;
	void (*usage)(FILE *out);	/* -h/--help: to stdout, exit 0 */
};

/*
 * Parse the command line; an unknown option prints the usage to stderr
 * and exits 1, a stray argument dies.  Then stdout is line-buffered.
 */
void parse_opts(const struct prog_opts *po, int argc, char **argv);

#endif
