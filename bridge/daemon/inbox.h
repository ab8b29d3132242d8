/* inbox.h: gap recovery through GET /pulse/inbox after every (re)connect. */
#ifndef PP_INBOX_H
#define PP_INBOX_H

#include <jansson.h>

struct bridge;
struct inbox;

struct inbox *inbox_new(struct bridge *b, char *err, size_t errlen);
void inbox_destroy(struct inbox **self_p);
/* A new upstream session began: start a recovery (restarts one in progress). */
void inbox_on_connected(struct inbox *in);
void inbox_on_disconnected(struct inbox *in);
/* Stop: cancel timers; pending requests are left to the REST client's teardown. */
void inbox_stop(struct inbox *in);
/* For the status command: {"recoveries":n,"last_result":...,"failures":n,...}. New ref. */
json_t *inbox_status_json(const struct inbox *in);

#endif
