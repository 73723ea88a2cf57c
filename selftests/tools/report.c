// SPDX-License-Identifier: GPL-2.0
/*
 * vmtap library: sender counters, send window and reports (report.h).
 */
#include "args.h"
#include "pace.h"
#include "report.h"

FILE *report;

/*
 * When the last frame of any worker went.  A pause of the sender longer
 * than a policer's bucket holds loses tokens: the window then measures
 * the sender, not the policer.  The gap before a frame is taken from the
 * frame before it in any thread (the policer sees their union), so one
 * worker's stall while another sends is no gap.
 */
static uint64_t any_last_ns;

void qstat_sent(struct qstat *st, uint64_t bytes, uint64_t segs,
		uint64_t wire)
{
	uint64_t t = now_ns();
	uint64_t prev = __atomic_exchange_n(&any_last_ns, t, __ATOMIC_RELAXED);

	if (prev && t > prev && t - prev > st->max_gap_ns)
		st->max_gap_ns = t - prev;
	if (!st->sent)
		st->first_ns = t;
	st->last_ns = t;
	st->sent++;
	st->bytes += bytes;
	st->segs += segs;
	st->wire += wire;
}

void qstat_add(struct qstat *t, const struct qstat *s)
{
	t->sent += s->sent;
	t->errors += s->errors;
	t->bytes += s->bytes;
	t->segs += s->segs;
	t->wire += s->wire;
	if (s->errors)
		t->last_err = s->last_err;
}

void print_qstat(const char *what, const struct qstat *s, bool json,
		 bool comma)
{
	const char *fmt = json ?
		"%s{%s\"sent\":%llu,\"errors\":%llu,\"bytes\":%llu,"
		"\"segs\":%llu,\"wire_bytes\":%llu,\"last_errno\":%d}" :
		"%s%s: %s sent=%llu errors=%llu bytes=%llu segs=%llu "
		"wire_bytes=%llu last_errno=%d\n";

	if (json)
		fprintf(report, fmt, comma ? "," : "", what,
			(unsigned long long)s->sent,
			(unsigned long long)s->errors,
			(unsigned long long)s->bytes,
			(unsigned long long)s->segs,
			(unsigned long long)s->wire, s->last_err);
	else
		fprintf(report, fmt, "", prog, what,
			(unsigned long long)s->sent,
			(unsigned long long)s->errors,
			(unsigned long long)s->bytes,
			(unsigned long long)s->segs,
			(unsigned long long)s->wire, s->last_err);
}

void print_total(const struct qstat *tot, bool json)
{
	if (!json) {
		print_qstat("total", tot, false, false);
		return;
	}
	fprintf(report, "\"total\":");
	print_qstat("", tot, true, false);
	fprintf(report, "}\n");
}

void send_window_add(struct send_window *win, const struct qstat *st)
{
	if (!st->sent)
		return;
	if (!win->first_ns || st->first_ns < win->first_ns)
		win->first_ns = st->first_ns;
	if (st->last_ns > win->last_ns)
		win->last_ns = st->last_ns;
	if (st->max_gap_ns > win->max_gap_ns)
		win->max_gap_ns = st->max_gap_ns;
}

double send_window_s(const struct send_window *win, uint64_t t0)
{
	if (win->last_ns > win->first_ns)
		return (win->last_ns - win->first_ns) / 1e9;
	return (now_ns() - t0) / 1e9;
}
