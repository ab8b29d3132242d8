/*
 * bench_util.h: small helpers shared by the benchmark's C programs (raw_client, sub_meter,
 * contrib_bench, zmq_floor, wake_floor): the clocks and paced sleeps, the cheap sent_at_ns
 * scan, a growable latency array, /proc/self/status reading and the meters' common options.
 * Not part of the product.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_REALTIME in ns (the devserver stamps data.sent_at_ns with the same clock). */
int64_t bench_now_ns(void);

/* CLOCK_MONOTONIC in ns: for pacing and for intervals within one process. */
int64_t bench_mono_ns(void);

/* Sleeps until CLOCK_MONOTONIC reaches at_ns (from bench_mono_ns()); returns at once when it
 * has. Pacing by absolute times does not drift with the time each step takes. For pacing a
 * rate, never for synchronisation. */
void bench_sleep_until(int64_t at_ns);

/* Finds "sent_at_ns":<digits> in a NUL-terminated text with strstr; returns 1 and sets *out,
 * or 0 when absent. No JSON parsing on purpose: the meter must cost next to nothing. */
int bench_sent_at(const char *text, int64_t *out);

/* A growable array of latencies in ns. Zero-initialize; bench_lat_free releases it. */
struct bench_lat {
	int64_t *v; /* owned */
	size_t n, cap;
};

/* Appends one value; on out-of-memory the value is dropped (the caller counts events). */
void bench_lat_add(struct bench_lat *l, int64_t ns);
/* Writes the values as native int64 to path; returns 0 or -1. */
int bench_lat_write(const struct bench_lat *l, const char *path);
void bench_lat_free(struct bench_lat *l);

/* A "Name:   N kB" line of /proc/self/status (key with its colon), or -1. */
long bench_proc_kb(const char *key);

/* CPU time (user + system) in us of the calling thread (thread != 0) or of the whole
 * process, all threads. */
long long bench_cpu_us(int thread);

/* The options raw_client and sub_meter share (--count N --idle-ms MS --timeout-ms MS
 * --out FILE), and the string options of each program: names[] lists them (NULL-ended),
 * values[] gets their values (NULL when absent). */
struct bench_args {
	unsigned long long count;
	long long idle_ms, timeout_ms; /* defaults 2000 and 600000 */
	const char *out;
	const char *const *names;
	const char *values[4];
};

/* Fills a from argv; returns 0, or -1 on an unknown option or one without its value. */
int bench_parse_args(int argc, char **argv, struct bench_args *a);

#endif
