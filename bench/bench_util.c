/*
 * bench_util.c: the helpers of bench_util.h.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include "bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t bench_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void bench_sleep_until(int64_t at_ns)
{
	struct timespec t = {.tv_sec = at_ns / 1000000000LL, .tv_nsec = at_ns % 1000000000LL};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

int bench_sent_at(const char *text, int64_t *out)
{
	static const char key[] = "\"sent_at_ns\":";
	const char *p = strstr(text, key);
	char *end;
	long long v;

	if (!p)
		return 0;
	p += sizeof(key) - 1;
	while (*p == ' ')
		p++;
	v = strtoll(p, &end, 10);
	if (end == p)
		return 0;
	*out = v;
	return 1;
}

void bench_lat_add(struct bench_lat *l, int64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		int64_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return; /* a lost sample; the count of events is kept elsewhere */
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ns;
}

int bench_lat_write(const struct bench_lat *l, const char *path)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (!f)
		return -1;
	if (l->n && fwrite(l->v, sizeof(*l->v), l->n, f) != l->n)
		rc = -1;
	if (fclose(f))
		rc = -1;
	return rc;
}

void bench_lat_free(struct bench_lat *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

long long bench_cpu_us(int thread)
{
	struct rusage ru;

	if (getrusage(thread ? RUSAGE_THREAD : RUSAGE_SELF, &ru) != 0)
		return -1;
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

int bench_parse_args(int argc, char **argv, struct bench_args *a)
{
	a->count = 0;
	a->idle_ms = 2000;
	a->timeout_ms = 600000;
	a->out = NULL;
	memset(a->values, 0, sizeof(a->values));
	for (int i = 1; i < argc; i += 2) {
		const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t k = 0;

		if (!v)
			return -1;
		if (!strcmp(opt, "--count"))
			a->count = strtoull(v, NULL, 10);
		else if (!strcmp(opt, "--idle-ms"))
			a->idle_ms = strtoll(v, NULL, 10);
		else if (!strcmp(opt, "--timeout-ms"))
			a->timeout_ms = strtoll(v, NULL, 10);
		else if (!strcmp(opt, "--out"))
			a->out = v;
		else {
			while (a->names[k] && strcmp(opt, a->names[k]))
				k++;
			if (!a->names[k] || k >= sizeof(a->values) / sizeof(a->values[0]))
				return -1;
			a->values[k] = v;
		}
	}
	return 0;
}

long bench_proc_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t klen = strlen(key);
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen)) {
			kb = strtol(line + klen, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}
