/*
 * emit.c: the /_dev/emit event generator (see emit.h).
 *
 * Why it writes pre-framed bytes: a server-to-client WebSocket frame is unmasked, so many
 * small frames can be laid out back to back in one buffer and handed to lws in one write
 * (lws passes LWS_WRITE_HTTP payloads through untouched on a ws connection; no extension is
 * negotiated on this vhost). One syscall then carries ~100 events instead of one.
 */
#include "emit.h"

#include "devserver.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EMIT_BATCH_BYTES 65536
#define EMIT_MAX_BATCHES 64
#define EMIT_MAX_SIZE	 1000000
#define PREFIX_LEN	 24 /* "xxxxxxxx-xxxx-4xxx-8xxx-": a UUID minus its last 12 digits */

struct emit_job {
	int refs;
	enum emit_type type;
	char p_contrib[PREFIX_LEN + 1], p_inbox[PREFIX_LEN + 1], p_session[PREFIX_LEN + 1];
	char session_id[DS_ID_LEN + 1], other_agent[DS_ID_LEN + 1];
	char *filler; /* owned */
	size_t filler_len;
	uint64_t count, sent;
	double rate;
	int64_t start_ns;
	struct conn *conn; /* weak: NULL once the connection is gone */
	struct agent *agent;
	bool active;
	/* Pacing: a timerfd in the lws loop. Why not an lws_sul: lws 4.1 turns a sul's
	 * microseconds into a whole-millisecond poll timeout, so a wait under 1 ms (every wait
	 * at 10,000 events/s) becomes poll(0) in a loop: one core spinning, stealing the CPU
	 * that the client under test needs. The sul stays as the fallback. */
	struct lws *timer_wsi;
	lws_sorted_usec_list_t sul;
	/* created_at cache: gmtime once per second */
	int64_t iso_sec;
	char iso[32];
};

static void s_prefix(char *out)
{
	char id[DS_ID_LEN + 1];

	ds_uuid(id);
	memcpy(out, id, PREFIX_LEN);
	out[PREFIX_LEN] = '\0';
}

void emit_job_inbox_id(const struct emit_job *job, uint64_t seq, char *out)
{
	snprintf(out, DS_ID_LEN + 1, "%s%012" PRIx64, job->p_inbox, seq & (uint64_t)0xffffffffffff);
}

static const char *s_type_name(enum emit_type t)
{
	return t == EMIT_OPENED	  ? "session_opened"
	       : t == EMIT_CLOSED ? "session_closed"
				  : "contribution_received";
}

/* The event's data object as text into out; returns its length (or >= outlen: truncated). */
static int s_data_text(struct emit_job *job, uint64_t seq, int64_t ns, char *out, size_t outlen)
{
	uint64_t s48 = seq & (uint64_t)0xffffffffffff;
	int64_t sec = ns / 1000000000LL;

	if (sec != job->iso_sec) {
		ds_iso8601(ns, job->iso, sizeof(job->iso));
		job->iso_sec = sec;
	} else {
		/* only the milliseconds change within one second */
		snprintf(job->iso + 20, sizeof(job->iso) - 20, "%03dZ",
			 (int)((ns / 1000000LL) % 1000));
	}
	switch (job->type) {
	case EMIT_OPENED:
		return snprintf(out, outlen,
				"{\"session_id\":\"%s%012" PRIx64 "\",\"short_id\":\"%08" PRIx64
				"\",\"agent_id\":\"%s\",\"topic\":\"%s\",\"domain\":\"emit\","
				"\"tools_used\":[],\"sent_at_ns\":%" PRId64 ",\"seq\":%" PRIu64 "}",
				job->p_session, s48, s48 & (uint64_t)0xffffffff, job->other_agent,
				job->filler, ns, seq);
	case EMIT_CLOSED:
		return snprintf(out, outlen,
				"{\"session_id\":\"%s%012" PRIx64 "\",\"short_id\":\"%08" PRIx64
				"\",\"agent_id\":\"%s\",\"topic\":\"%s\",\"outcome\":\"success\","
				"\"sent_at_ns\":%" PRId64 ",\"seq\":%" PRIu64 "}",
				job->p_session, s48, s48 & (uint64_t)0xffffffff, job->other_agent,
				job->filler, ns, seq);
	default:
		return snprintf(out, outlen,
				"{\"id\":\"%s%012" PRIx64 "\",\"session_id\":\"%s\","
				"\"contributor_agent_id\":\"%s\",\"content\":{\"text\":\"%s\"},"
				"\"contribution_type\":\"suggestion\",\"created_at\":\"%s\","
				"\"sent_at_ns\":%" PRId64 ",\"seq\":%" PRIu64 "}",
				job->p_contrib, s48, job->session_id, job->other_agent, job->filler,
				job->iso, ns, seq);
	}
}

/* The whole frame payload {"type":T,"data":{...}}; returns its length or -1. */
static int s_frame_text(struct emit_job *job, uint64_t seq, int64_t ns, char *out, size_t outlen)
{
	int head = snprintf(out, outlen, "{\"type\":\"%s\",\"data\":", s_type_name(job->type));
	int n;

	if (head < 0 || (size_t)head >= outlen)
		return -1;
	n = s_data_text(job, seq, ns, out + head, outlen - (size_t)head);
	if (n < 0 || (size_t)(head + n + 1) >= outlen)
		return -1;
	out[head + n] = '}';
	return head + n + 1;
}

json_t *emit_job_event_data(const struct emit_job *job, uint64_t seq, int64_t created_ns)
{
	struct emit_job *j = (struct emit_job *)job; /* only the created_at cache changes */
	size_t cap = job->filler_len + 1024;
	char *buf = malloc(cap);
	json_t *data = NULL;
	int n;

	if (!buf)
		return json_null();
	j->iso_sec = 0;
	n = s_data_text(j, seq, created_ns, buf, cap);
	if (n > 0 && (size_t)n < cap)
		data = json_loadb(buf, (size_t)n, 0, NULL);
	free(buf);
	return data ? data : json_null();
}

void emit_job_unref(struct emit_job *job)
{
	if (!job || --job->refs > 0)
		return;
	free(job->filler);
	free(job);
}

bool emit_active(const struct conn *c)
{
	return c->emit && c->emit->active;
}

static void s_pace_due(struct emit_job *job)
{
	if (job->conn)
		lws_callback_on_writable(job->conn->wsi);
}

int emit_timer_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct emit_job *job = lws_get_opaque_user_data(wsi);
	uint64_t expirations;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (read(lws_get_socket_fd(wsi), &expirations, sizeof(expirations)) < 0)
			break; /* EAGAIN: a stale wakeup */
		if (job)
			s_pace_due(job);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (job)
			job->timer_wsi = NULL;
		break;
	default:
		break;
	}
	return 0;
}

/* A timerfd adopted into conn's loop, or NULL: pacing then falls back to the sul. */
static struct lws *s_timer_open(struct emit_job *job, struct conn *c)
{
	lws_sock_file_fd_type u;
	struct lws *wsi;

	u.filefd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (u.filefd < 0)
		return NULL;
	wsi = lws_adopt_descriptor_vhost(lws_get_vhost(c->wsi), LWS_ADOPT_RAW_FILE_DESC, u,
					 EMIT_TIMER_PROTOCOL, NULL);
	if (wsi)
		lws_set_opaque_user_data(wsi, job);
	return wsi; /* on failure lws has closed the fd */
}

static void s_timer_close(struct emit_job *job)
{
	if (!job->timer_wsi)
		return;
	lws_set_opaque_user_data(job->timer_wsi, NULL);
	lws_set_timeout(job->timer_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	job->timer_wsi = NULL;
}

void emit_detach(struct conn *c)
{
	struct emit_job *job = c->emit;

	if (!job)
		return;
	lws_sul_cancel(&job->sul);
	s_timer_close(job);
	job->active = false;
	job->conn = NULL;
	c->emit = NULL;
	emit_job_unref(job);
}

static void s_sul_pace(lws_sorted_usec_list_t *sul)
{
	s_pace_due(lws_container_of(sul, struct emit_job, sul));
}

/* Asks for a writable callback in wait_ns (at least 1 us). */
static void s_pace_in(struct ds_server *ds, struct emit_job *job, int64_t wait_ns)
{
	if (wait_ns < 1000)
		wait_ns = 1000;
	if (job->timer_wsi) {
		struct itimerspec its = {.it_value = {.tv_sec = wait_ns / 1000000000LL,
						      .tv_nsec = wait_ns % 1000000000LL}};

		if (timerfd_settime(lws_get_socket_fd(job->timer_wsi), 0, &its, NULL) == 0)
			return;
	}
	lws_sul_schedule(ds->ctx, 0, &job->sul, s_sul_pace, (lws_usec_t)(wait_ns / 1000));
}

/* Sets the filler so a frame is about `size` bytes. Returns 0 or -1. */
static int s_size_filler(struct emit_job *job, size_t size)
{
	char probe[1024];
	int base;

	job->filler = strdup("");
	if (!job->filler)
		return -1;
	base = s_frame_text(job, 0, ds_now_ns(), probe, sizeof(probe));
	free(job->filler);
	job->filler_len = base > 0 && (size_t)base < size ? size - (size_t)base : 0;
	job->filler = malloc(job->filler_len + 1);
	if (!job->filler)
		return -1;
	memset(job->filler, 'x', job->filler_len);
	job->filler[job->filler_len] = '\0';
	return 0;
}

int emit_start(struct ds_server *ds, struct conn *c, enum emit_type type, uint64_t count,
	       double rate, size_t size, char *err, size_t errlen)
{
	struct emit_job *job;
	size_t need;

	if (size > EMIT_MAX_SIZE) {
		snprintf(err, errlen, "size must be at most %d", EMIT_MAX_SIZE);
		return -1;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	job->refs = 1; /* the connection's */
	job->type = type;
	s_prefix(job->p_contrib);
	s_prefix(job->p_inbox);
	s_prefix(job->p_session);
	ds_uuid(job->session_id);
	ds_uuid(job->other_agent);
	if (s_size_filler(job, size)) {
		emit_job_unref(job);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	need = LWS_PRE + EMIT_BATCH_BYTES + job->filler_len + 1024;
	if (c->wbuf_cap < need) {
		unsigned char *n = realloc(c->wbuf, need);

		if (!n) {
			emit_job_unref(job);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		c->wbuf = n;
		c->wbuf_cap = need;
	}
	emit_detach(c);
	if (rate > 0)
		job->timer_wsi = s_timer_open(job, c);
	job->count = count;
	job->rate = rate;
	job->start_ns = ds_now_ns();
	job->conn = c;
	job->agent = c->agent;
	job->active = count > 0;
	c->emit = job;
	(void)ds;
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* Appends one framed event at buf[pos]; returns the new pos, or 0 on failure. */
static size_t s_append_frame(struct ds_server *ds, struct emit_job *job, unsigned char *buf,
			     size_t pos, size_t cap)
{
	int64_t ns = ds_now_ns();
	size_t hdr = job->filler_len + 600 < 65536 ? 4 : 10;
	int n = s_frame_text(job, job->sent, ns, (char *)buf + pos + hdr, cap - pos - hdr);
	size_t want;

	if (n < 0)
		return 0;
	want = n < 126 ? 2 : n < 65536 ? 4 : 10;
	if (want != hdr)
		memmove(buf + pos + want, buf + pos + hdr, (size_t)n);
	buf[pos] = 0x81; /* FIN + text */
	if (want == 2) {
		buf[pos + 1] = (unsigned char)n;
	} else if (want == 4) {
		buf[pos + 1] = 126;
		buf[pos + 2] = (unsigned char)(n >> 8);
		buf[pos + 3] = (unsigned char)n;
	} else {
		buf[pos + 1] = 127;
		for (int i = 0; i < 8; i++)
			buf[pos + 2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	}
	if (job->agent) {
		job->refs++; /* the inbox entry's reference */
		state_inbox_add_emit(&ds->st, job->agent,
				     job->type == EMIT_OPENED	? INBOX_EMIT_OPENED
				     : job->type == EMIT_CLOSED ? INBOX_EMIT_CLOSED
								: INBOX_EMIT_CONTRIB,
				     job, job->sent, ns);
	}
	job->sent++;
	ds->st.emitted++;
	return pos + want + (size_t)n;
}

/* How many events should have gone by now. */
static uint64_t s_due(const struct emit_job *job)
{
	double elapsed;
	uint64_t due;

	if (job->rate <= 0)
		return job->count;
	elapsed = (double)(ds_now_ns() - job->start_ns) / 1e9;
	due = (uint64_t)(elapsed * job->rate) + 1;
	return due < job->count ? due : job->count;
}

int emit_write(struct ds_server *ds, struct conn *c)
{
	struct emit_job *job = c->emit;
	unsigned char *buf = c->wbuf + LWS_PRE;
	size_t cap = c->wbuf_cap - LWS_PRE;
	uint64_t due;
	int batches = 0;

	if (!job || !job->active)
		return 0;
	due = s_due(job);
	while (job->sent < due && batches < EMIT_MAX_BATCHES) {
		size_t pos = 0;

		if (lws_send_pipe_choked(c->wsi)) {
			lws_callback_on_writable(c->wsi);
			return 0;
		}
		while (job->sent < due && pos < EMIT_BATCH_BYTES) {
			size_t np = s_append_frame(ds, job, buf, pos, cap);

			if (!np)
				return -1;
			pos = np;
		}
		if (lws_write(c->wsi, buf, pos, LWS_WRITE_HTTP) < (int)pos)
			return -1;
		batches++;
	}
	if (job->sent >= job->count) {
		job->active = false;
		return 0;
	}
	if (job->sent < due) {
		lws_callback_on_writable(c->wsi);
	} else {
		double next_s = (double)job->sent / job->rate;
		int64_t at = job->start_ns + (int64_t)(next_s * 1e9);

		s_pace_in(ds, job, at - ds_now_ns());
	}
	return 0;
}
