/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmtap library: what a sender sent and its report: per-queue (or
 * per-flow) counters, the window from the first frame to the last with
 * the longest pause, and the "vmtap: ... sent= ... wire_bytes=" lines
 * (or JSON) the tests parse.
 */
#ifndef VMTAP_REPORT_H
#define VMTAP_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* where reports go: stdout (set it in main), stderr for inject --pcap - */
extern FILE *report;

struct qstat {
	uint64_t sent, errors, bytes, segs, wire;
	uint64_t first_ns, last_ns;	/* when the first and last frame went */
	uint64_t max_gap_ns;	/* longest pause before one of ours */
	int last_err;
};

/* a frame of @bytes went, standing for @segs segments and @wire bytes */
void qstat_sent(struct qstat *st, uint64_t bytes, uint64_t segs,
		uint64_t wire);
/* add s into the total t (last_err: s's, if it has errors) */
void qstat_add(struct qstat *t, const struct qstat *s);
/*
 * "vmtap: WHAT sent= errors= bytes= segs= wire_bytes= last_errno=", or
 * with json {WHAT"sent":...} (preceded by a comma if comma)
 */
void print_qstat(const char *what, const struct qstat *s, bool json,
		 bool comma);
/*
 * The total at the end of a report: "vmtap: total sent= ...", or with
 * json "\"total\":{...}}\n", closing the object the report opened.
 */
void print_total(const struct qstat *tot, bool json);

/*
 * The time the frames were sent over, from the first to the last: what a
 * policer saw traffic for.  Thread start-up and the last pacing sleep
 * are not part of it; a policer measured against them looks slow.
 */
struct send_window {
	uint64_t first_ns, last_ns, max_gap_ns;
};

void send_window_add(struct send_window *win, const struct qstat *st);
/* seconds of the window; from T0 to now when it is empty or one instant */
double send_window_s(const struct send_window *win, uint64_t t0);

#endif
