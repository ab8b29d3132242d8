/*
 * wake_floor.c: what one thread hand-off between vCPUs costs on this machine, with no
 * sockets at all: the floor under every hop of the bridge's path.
 *
 * The bridge's event passes several threads (devserver, the bridge's thread, its ZeroMQ I/O
 * thread, the subscriber's I/O thread and main thread), and each hand-off wakes a thread
 * that sleeps in poll(), usually on the other vCPU. On a guest whose idle vCPUs halt at once
 * (cpuidle haltpoll with guest_halt_poll_ns 0), such a wakeup waits for the host to run the
 * halted vCPU again, and that wait, not our code, is most of the latency added per hop.
 * This program measures it alone, so each run's latency rows can be read against it.
 *
 * A waker thread pinned to the first CPU posts --count wakes, paced by absolute
 * clock_nanosleep() waits at --rate per second as the devserver paces its emit; each post
 * stores its CLOCK_MONOTONIC stamp, then adds 1 to an eventfd. A waiter thread pinned to the
 * second CPU sleeps in poll() on the eventfd and records, for every post it reads, the time
 * from the stamp to its own wakeup. The latencies (int64 ns) go to --out; one JSON line with
 * the counts goes to stdout.
 *
 * Usage: wake_floor --count N --rate R --out FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench_util.h"

struct wake_run {
	unsigned long long count;
	double rate;		   /* posts per second, 1..1e6 */
	int efd;		   /* owned */
	_Atomic int64_t *stamps;   /* owned; stamps[i]: when post i was made */
	struct bench_lat lat;	   /* the waiter's results */
	unsigned long long posted; /* by the waker */
	int cpu_waker, cpu_waiter;
};

static int s_parse(int argc, char **argv, struct wake_run *r, const char **out)
{
	*out = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		char *end = NULL;

		if (!strcmp(argv[i], "--count"))
			r->count = strtoull(argv[i + 1], &end, 10);
		else if (!strcmp(argv[i], "--rate"))
			r->rate = strtod(argv[i + 1], &end);
		else if (!strcmp(argv[i], "--out"))
			*out = argv[i + 1];
		else
			return -1;
		if (end && *end)
			return -1;
	}
	return argc % 2 == 1 && *out && r->count > 0 && r->count <= 100000000ULL && r->rate >= 1 &&
		       r->rate <= 1e6
		   ? 0
		   : -1;
}

static int s_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The first two CPUs this process may run on, or -1 when it has fewer than two. */
static int s_pick_cpus(struct wake_run *r)
{
	cpu_set_t set;
	int found = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	for (int c = 0; c < CPU_SETSIZE && found < 2; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (found++ == 0)
			r->cpu_waker = c;
		else
			r->cpu_waiter = c;
	}
	return found == 2 ? 0 : -1;
}

static void *s_waker(void *arg)
{
	struct wake_run *r = arg;
	int64_t t0;
	uint64_t one = 1;

	if (s_pin(r->cpu_waker) != 0) {
		fprintf(stderr, "wake_floor: cannot pin the waker to CPU %d\n", r->cpu_waker);
		return NULL;
	}
	t0 = bench_mono_ns();
	for (unsigned long long i = 0; i < r->count; i++) {
		bench_sleep_until(t0 + (int64_t)((long double)i * 1e9L / r->rate));
		atomic_store_explicit(&r->stamps[i], bench_mono_ns(), memory_order_release);
		if (write(r->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			break;
		r->posted = i + 1;
	}
	return NULL;
}

/* Reads every post the waker made until count posts are seen or the waker stopped early
 * (then no wake comes for two seconds, longer than any gap at 1 post a second or more). */
static void s_wait_all(struct wake_run *r)
{
	struct pollfd p = {.fd = r->efd, .events = POLLIN};
	unsigned long long seen = 0;

	while (seen < r->count) {
		uint64_t n;
		int64_t now;

		if (poll(&p, 1, 2000) <= 0)
			break;
		now = bench_mono_ns();
		if (read(r->efd, &n, sizeof(n)) != (ssize_t)sizeof(n))
			break;
		for (; n > 0 && seen < r->count; n--, seen++) {
			int64_t at = atomic_load_explicit(&r->stamps[seen], memory_order_acquire);

			bench_lat_add(&r->lat, now - at);
		}
	}
}

int main(int argc, char **argv)
{
	struct wake_run r = {0};
	const char *out;
	pthread_t waker;
	int rc = 1;

	r.efd = -1;
	if (s_parse(argc, argv, &r, &out) != 0) {
		fprintf(stderr, "usage: wake_floor --count N (1..100000000) --rate R (1..1000000) "
				"--out FILE\n");
		return 2;
	}
	if (s_pick_cpus(&r) != 0) {
		fprintf(stderr, "wake_floor: needs two CPUs to run on\n");
		return 2;
	}
	r.stamps = calloc(r.count, sizeof(*r.stamps));
	r.efd = eventfd(0, EFD_CLOEXEC);
	if (!r.stamps || r.efd < 0 || s_pin(r.cpu_waiter) != 0) {
		fprintf(stderr, "wake_floor: set-up failed: %s\n", strerror(errno));
		goto out;
	}
	if (pthread_create(&waker, NULL, s_waker, &r) != 0) {
		fprintf(stderr, "wake_floor: pthread_create failed\n");
		goto out;
	}
	s_wait_all(&r);
	pthread_join(waker, NULL);
	if (bench_lat_write(&r.lat, out) != 0) {
		fprintf(stderr, "wake_floor: cannot write %s\n", out);
		goto out;
	}
	printf("{\"count\":%llu,\"posted\":%llu,\"received\":%zu,\"cpus\":[%d,%d]}\n", r.count,
	       r.posted, r.lat.n, r.cpu_waker, r.cpu_waiter);
	rc = r.lat.n == r.count ? 0 : 1;
out:
	if (r.efd >= 0)
		close(r.efd);
	free(r.stamps);
	bench_lat_free(&r.lat);
	return rc;
}
