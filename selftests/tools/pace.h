/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmtap library: time and pacing: the monotonic clock, the stop flag
 * SIGINT/SIGTERM set, CPU pinning, and the pacer that spaces frames at a
 * rate after a primed burst.
 */
#ifndef VMTAP_PACE_H
#define VMTAP_PACE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* set by SIGINT/SIGTERM (install_signals()) and by a failing worker */
extern volatile sig_atomic_t stop_flag;

void install_signals(void);
uint64_t now_ns(void);
/* sleep until CLOCK_MONOTONIC t, or stop_flag */
void sleep_until(uint64_t t);
/* pin the calling thread to cpu (< 0: no pinning) */
void pin_cpu(int cpu);

/*
 * Pacing at an interval (ns) per frame, frame @k due at start + k x
 * interval.  A sender late by more than 50 ms does not catch up in a
 * burst.  The first @prime wire bytes go back to back: a policer's
 * bucket starts full, and the rate tests subtract the burst from what it
 * admitted, which holds once the sender has taken the burst.  Back to
 * back that takes milliseconds; paced at twice the rate it takes as long
 * as the burst lasts (250 ms and more), and a pause of the sender then (a
 * TCG guest's vCPU scheduled out, page faults at start) overflows the
 * full bucket: its tokens are lost and the policer looks slow.
 */
struct pacer {
	uint64_t interval, start, prime, primed;
};

/* rate: frames per second, 0: flat out */
void pacer_init(struct pacer *p, double rate, uint64_t prime);
/* Wait until frame @k is due. */
void pacer_wait(struct pacer *p, uint64_t k);
/* frame sent: @wire bytes towards the prime */
void pacer_sent(struct pacer *p, uint64_t wire);

/*
 * Worker @i's share of a sender's job split over @n workers: of @count
 * frames (the first count % n workers one more), of the @rate and of the
 * @prime bytes, and its CPU, the (i mod ncpus)-th of @cpus (-1: none).
 */
struct pace_share {
	uint64_t count, prime;
	double rate;
	int cpu;
};

void pace_share(struct pace_share *s, unsigned int i, unsigned int n,
		uint64_t count, double rate, uint64_t prime,
		const unsigned int *cpus, unsigned int ncpus);
/*
 * Run @fn on each of the @n workers at @ws, @size bytes apart: in this
 * thread if there is one, else a thread each; returns when all are done.
 */
void run_workers(void *(*fn)(void *), void *ws, size_t size,
		 unsigned int n);

#endif
