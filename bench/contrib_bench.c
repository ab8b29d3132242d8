/*
 * contrib_bench.c: contribute round trips through the public client API
 * (libplurum-pulse: ppulse_ctl_contribute), timed from the call to its return.
 *
 * Two shapes:
 *   paced: --count N requests, one every --interval-ms (absolute schedule, one client);
 *   burst: --count N requests spread over --concurrency C threads (each with its own
 *          ppulse_ctl_t, as the API is one object per thread), back to back.
 * Prints one JSON line: {"ok":n,"failed":n,"errors":[first few],"rtt_us":[...]}.
 *
 * Usage: contrib_bench --commands E --session S --count N [--interval-ms I]
 *                      [--concurrency C] [--timeout-ms T]
 */
#include <plurum_pulse.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_THREADS 64

struct job {
	const char *endpoint, *session;
	long interval_ms;
	unsigned timeout_ms;
	int count, tid;
	/* results, owned by the job */
	int64_t *rtt_ns;
	int n, ok, failed;
	char first_error[300];
};

/* Keeps the first failure's text (shortened) for the report. */
static void s_note_error(struct job *j, int rc, const char *reply)
{
	j->failed++;
	if (!j->first_error[0])
		snprintf(j->first_error, sizeof(j->first_error), "%s",
			 reply ? reply : ppulse_strerror(rc));
}

static void *s_run(void *arg)
{
	struct job *j = arg;
	char err[256], content[96];
	ppulse_ctl_t *ctl = ppulse_ctl_new(j->endpoint, err, sizeof(err));
	int64_t start = bench_mono_ns();

	if (!ctl) {
		snprintf(j->first_error, sizeof(j->first_error), "ppulse_ctl_new: %s", err);
		j->failed = j->count;
		return NULL;
	}
	for (int i = 0; i < j->count; i++) {
		char *reply = NULL;
		int64_t t0;
		int rc;

		if (j->interval_ms > 0)
			bench_sleep_until(start + (int64_t)i * j->interval_ms * 1000000LL);
		snprintf(content, sizeof(content), "{\"text\":\"bench contribution %d.%d\"}",
			 j->tid, i);
		t0 = bench_now_ns();
		rc = ppulse_ctl_contribute(ctl, j->session, content, "suggestion", NULL,
					   j->timeout_ms, &reply, (int)j->timeout_ms + 2000);
		if (rc == PPULSE_OK && reply && strstr(reply, "\"ok\":true")) {
			j->rtt_ns[j->n++] = bench_now_ns() - t0;
			j->ok++;
		} else {
			s_note_error(j, rc, reply);
		}
		free(reply);
	}
	ppulse_ctl_destroy(&ctl);
	return NULL;
}

static void s_usage(void)
{
	fprintf(stderr, "usage: contrib_bench --commands E --session S --count N [--interval-ms I] "
			"[--concurrency C] [--timeout-ms T]\n");
	exit(2);
}

/* Prints the JSON summary of all jobs. */
static void s_report(struct job *jobs, int nj, int64_t wall_ns)
{
	int ok = 0, failed = 0, first = 1;
	const char *err = "";

	for (int t = 0; t < nj; t++) {
		ok += jobs[t].ok;
		failed += jobs[t].failed;
		if (!err[0] && jobs[t].first_error[0])
			err = jobs[t].first_error;
	}
	printf("{\"ok\":%d,\"failed\":%d,\"wall_ms\":%.1f,\"first_error\":\"", ok, failed,
	       (double)wall_ns / 1e6);
	for (const char *p = err; *p; p++) { /* JSON-escape enough for a reply text */
		if (*p == '"' || *p == '\\')
			putchar('\\');
		putchar((unsigned char)*p < 0x20 ? '?' : *p);
	}
	printf("\",\"rtt_us\":[");
	for (int t = 0; t < nj; t++)
		for (int i = 0; i < jobs[t].n; i++) {
			printf("%s%.1f", first ? "" : ",", (double)jobs[t].rtt_ns[i] / 1e3);
			first = 0;
		}
	printf("]}\n");
}

int main(int argc, char **argv)
{
	struct job jobs[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	const char *endpoint = NULL, *session = NULL;
	long interval_ms = 0, timeout_ms = 10000;
	int count = 0, conc = 1;
	int64_t t0;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			s_usage();
		if (!strcmp(argv[i], "--commands"))
			endpoint = v;
		else if (!strcmp(argv[i], "--session"))
			session = v;
		else if (!strcmp(argv[i], "--count"))
			count = atoi(v);
		else if (!strcmp(argv[i], "--interval-ms"))
			interval_ms = atol(v);
		else if (!strcmp(argv[i], "--concurrency"))
			conc = atoi(v);
		else if (!strcmp(argv[i], "--timeout-ms"))
			timeout_ms = atol(v);
		else
			s_usage();
		i++;
	}
	if (!endpoint || !session || count <= 0 || conc < 1 || conc > MAX_THREADS ||
	    timeout_ms <= 0)
		s_usage();
	if (conc > count)
		conc = count;
	memset(jobs, 0, sizeof(jobs));
	for (int t = 0; t < conc; t++) {
		jobs[t] = (struct job){.endpoint = endpoint,
				       .session = session,
				       .interval_ms = interval_ms,
				       .timeout_ms = (unsigned)timeout_ms,
				       .count = count / conc + (t < count % conc),
				       .tid = t};
		jobs[t].rtt_ns = calloc((size_t)jobs[t].count, sizeof(int64_t));
		if (!jobs[t].rtt_ns) {
			fprintf(stderr, "contrib_bench: out of memory\n");
			return 1;
		}
	}
	t0 = bench_now_ns();
	for (int t = 0; t < conc; t++)
		if (pthread_create(&th[t], NULL, s_run, &jobs[t])) {
			fprintf(stderr, "contrib_bench: pthread_create failed\n");
			return 1;
		}
	for (int t = 0; t < conc; t++)
		pthread_join(th[t], NULL);
	s_report(jobs, conc, bench_now_ns() - t0);
	for (int t = 0; t < conc; t++)
		free(jobs[t].rtt_ns);
	return 0;
}
