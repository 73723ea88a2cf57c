/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmtap library: command-line values (numbers, lists, MAC and IP
 * addresses) and the fatal error every program stops with.
 */
#ifndef VMTAP_ARGS_H
#define VMTAP_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
double arg_pos_double(const char *opt, const char *s);
/* --OPT's IPv4 (v6 false: 4 bytes) or IPv6 (16 bytes) address, or die */
void arg_addr(bool v6, const char *s, uint8_t *out, const char *opt);

bool parse_mac(const char *s, uint8_t mac[6]);
/* "0,2,5-7" -> list; false on syntax error, duplicates or overflow. */
bool parse_list(const char *s, unsigned int max, unsigned int *out,
		unsigned int *n);

#endif
