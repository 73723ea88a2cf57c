/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel primitives kmod/vmpolice_bucket.h uses, for building it
 * unchanged in userspace.  Atomics map to the compiler's __atomic builtins
 * with the kernel's full-barrier semantics.
 *
 * With KSHIM_BENCH defined (bench/bucket/), the test hooks that cost
 * time are left out: no yield hook in atomic64_read(), and lost
 * cmpxchg races are counted per thread instead of in one shared word,
 * so that the primitives cost what the kernel's do.
 */
#ifndef _VMPOLICE_KSHIM_H
#define _VMPOLICE_KSHIM_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;

#define U32_MAX		((u32)~0U)
#define U64_MAX		((u64)~0ULL)
#define S64_MAX		((s64)(U64_MAX >> 1))
#define NSEC_PER_SEC	1000000000ULL
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define min(a, b)	((a) < (b) ? (a) : (b))
#define max(a, b)	((a) > (b) ? (a) : (b))
#define min_t(t, a, b)	((t)(a) < (t)(b) ? (t)(a) : (t)(b))

static inline u64 div64_u64(u64 a, u64 b)
{
	return a / b;
}

/*
 * Quotients that do not fit 64 bits: the generic kernel code returns ~0,
 * but x86-64 computes this with mulq/divq and traps (#DE, an oops).  The
 * shim returns ~0 and counts them, so that a test can tell that the
 * module would have crashed there.
 */
static unsigned long kshim_div_overflows;

static inline u64 mul_u64_u64_div_u64(u64 a, u64 b, u64 c)
{
	unsigned __int128 q = (unsigned __int128)a * b / c;

	if (q > U64_MAX) {
		__atomic_fetch_add(&kshim_div_overflows, 1, __ATOMIC_RELAXED);
		return U64_MAX;
	}
	return (u64)q;
}

/*
 * (a * mul) >> shift in 128 bits, as the kernel's; a result beyond 64
 * bits is truncated there without a word, so the shim counts those.
 */
static unsigned long kshim_mul_overflows;

static inline u64 mul_u64_u32_shr(u64 a, u32 mul, unsigned int shift)
{
	unsigned __int128 r = ((unsigned __int128)a * mul) >> shift;

	if (r > U64_MAX)
		__atomic_fetch_add(&kshim_mul_overflows, 1, __ATOMIC_RELAXED);
	return (u64)r;
}

#define READ_ONCE(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define smp_rmb()	__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define __rcu
#define rcu_access_pointer(p)	READ_ONCE(p)

typedef struct {
	s64 counter;
} atomic64_t;

#ifdef KSHIM_BENCH
static inline s64 atomic64_read(const atomic64_t *v)
{
	return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);
}
#else
/*
 * A test may set kshim_read_hook in one thread: it is called after each
 * atomic64_read() of that thread, with the word read, so that the test
 * can run another thread's step right between the read and the cmpxchg
 * that follows it (interleavings the kernel cannot be made to take).
 */
static __thread void (*kshim_read_hook)(const atomic64_t *v);

/*
 * With kshim_read_yield set to N, every Nth atomic64_read() of a thread
 * yields the CPU right after reading: as an interrupt or preemption
 * between the read and the cmpxchg would, so that concurrent updates
 * really race even when the threads share one CPU.
 */
static unsigned int kshim_read_yield;

static inline s64 atomic64_read(const atomic64_t *v)
{
	static __thread unsigned int reads;
	s64 val = __atomic_load_n(&v->counter, __ATOMIC_RELAXED);
	unsigned int every = __atomic_load_n(&kshim_read_yield,
					     __ATOMIC_RELAXED);

	if (every && !(++reads % every))
		sched_yield();
	if (kshim_read_hook)
		kshim_read_hook(v);
	return val;
}
#endif

static inline void atomic64_set(atomic64_t *v, s64 i)
{
	__atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);
}

static inline void atomic64_sub(s64 i, atomic64_t *v)
{
	__atomic_fetch_sub(&v->counter, i, __ATOMIC_RELAXED);
}

/* Lost races are counted: tests of concurrency check they had some. */
#ifdef KSHIM_BENCH
static __thread unsigned long kshim_cmpxchg_fails;
#else
static unsigned long kshim_cmpxchg_fails;
#endif

static inline bool atomic64_try_cmpxchg(atomic64_t *v, s64 *old, s64 new)
{
	if (__atomic_compare_exchange_n(&v->counter, old, new, false,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return true;
#ifdef KSHIM_BENCH
	kshim_cmpxchg_fails++;
#else
	__atomic_fetch_add(&kshim_cmpxchg_fails, 1, __ATOMIC_RELAXED);
#endif
	return false;
}

#endif
