// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap library: clock, stop flag, pinning and pacing (pace.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "pace.h"

volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = t / 1000000000ull,
		.tv_nsec = t % 1000000000ull,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR && !stop_flag)
		;
}

void pin_cpu(int cpu)
{
	cpu_set_t set;
	int err;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		fprintf(stderr, "%s: pin to cpu %d: %s\n", prog, cpu,
			strerror(err));
}

void pacer_init(struct pacer *p, double rate, uint64_t prime)
{
	p->interval = rate > 0 ? 1e9 / rate : 0;
	p->start = now_ns();
	p->prime = prime;
	p->primed = 0;
}

void pacer_wait(struct pacer *p, uint64_t k)
{
	uint64_t t, now;

	if (!p->interval)
		return;
	t = p->start + k * p->interval;
	now = now_ns();
	if (p->primed < p->prime || now > t + 50000000ull)
		p->start = now - k * p->interval;	/* due now */
	else if (now < t)
		sleep_until(t);
}

void pacer_sent(struct pacer *p, uint64_t wire)
{
	p->primed += wire;
}

void pace_share(struct pace_share *s, unsigned int i, unsigned int n,
		uint64_t count, double rate, uint64_t prime,
		const unsigned int *cpus, unsigned int ncpus)
{
	s->count = count / n + (i < count % n);
	s->rate = rate / n;
	s->prime = prime / n;
	s->cpu = ncpus ? (int)cpus[i % ncpus] : -1;
}

void run_workers(void *(*fn)(void *), void *ws, size_t size,
		 unsigned int n)
{
	pthread_t *tid;
	unsigned int i;

	if (n == 1) {
		fn(ws);
		return;
	}
	tid = calloc(n, sizeof(*tid));
	if (!tid)
		die("out of memory");
	for (i = 0; i < n; i++)
		if (pthread_create(&tid[i], NULL, fn, (char *)ws + i * size))
			die("pthread_create failed");
	for (i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	free(tid);
}
