/* zwait.c: deadlines and the blocking primitives of libplurum-pulse.
 *
 * Owns the library's only blocking call (zmq_poll on one socket) and the reading of whole
 * multipart messages. Why poll and not ZMQ_RCVTIMEO: a deadline spans several reads (a
 * skipped malformed message or a stale reply must not restart the caller's timeout), and
 * zmq_poll reports a signal as EINTR, which the tools use to stop on Ctrl-C. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "plurum_pulse.h"

int64_t ppc__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ppc__deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	return ppc__now_ms() + timeout_ms;
}

/* The zmq_poll timeout left until deadline: -1 (none), else >= 0 ms. */
static long s_remaining(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - ppc__now_ms();
	return left > 0 ? (long)left : 0;
}

int ppc__wait(void *sock, short events, int64_t deadline)
{
	for (;;) {
		zmq_pollitem_t item = {.socket = sock, .events = events};
		long left = s_remaining(deadline);
		int n = zmq_poll(&item, 1, left);
		if (n < 0)
			return errno == EINTR ? PPULSE_EINTR : PPULSE_EIO;
		if (n > 0 && (item.revents & events))
			return PPULSE_OK;
		if (left == 0)
			return PPULSE_ETIMEOUT;
		/* zmq_poll may return early without the event (rounding): go round again. */
	}
}

void ppc__close_frames(zmq_msg_t *frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		zmq_msg_close(&frames[i]);
}

/* The error code for a failed zmq_msg_recv/zmq_msg_init. */
static int s_recv_rc(void)
{
	if (errno == EAGAIN)
		return PPULSE_ETIMEOUT;
	return errno == EINTR ? PPULSE_EINTR : PPULSE_EIO;
}

int ppc__recv_frames(void *sock, zmq_msg_t *frames, size_t max, size_t *count)
{
	size_t n = 0;
	int more = 1;
	*count = 0;
	while (more) {
		zmq_msg_t spare, *m = n < max ? &frames[n] : &spare;
		zmq_msg_init(m);
		/* The first part decides whether a message is there; the others of an atomic
		 * multipart message are then already queued, so DONTWAIT never splits one. */
		if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
			int rc = s_recv_rc();
			zmq_msg_close(m);
			ppc__close_frames(frames, n < max ? n : max);
			return rc;
		}
		more = zmq_msg_more(m);
		if (m == &spare)
			zmq_msg_close(m);
		n++;
	}
	*count = n;
	return PPULSE_OK;
}

char *ppc__frame_strdup(zmq_msg_t *frame)
{
	size_t n = zmq_msg_size(frame);
	char *s = malloc(n + 1);
	if (s == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, zmq_msg_data(frame), n);
	s[n] = '\0';
	return s;
}
