/* commands.h: the ROUTER command socket: one reply for every request, whatever happens. */
#ifndef PP_COMMANDS_H
#define PP_COMMANDS_H

#include "normalize.h"

struct bridge;
struct commands;

/* Bind the ROUTER on b->cfg.commands and watch it in b's loop. NULL with err. */
struct commands *commands_new(struct bridge *b, char *err, size_t errlen);
/* Answer what is still pending with shutting_down, close the socket, free, NULL it. */
void commands_destroy(struct commands **self_p);
/* SIGINT/SIGTERM: answer every pending command (its real outcome when known, else
 * shutting_down) and answer new ones with shutting_down. */
void commands_shutdown(struct commands *c);

/* Hooks from the upstream connection, for the WebSocket contribute path. */
void commands_on_upstream_state(struct commands *c);
void commands_on_connected(struct commands *c);
void commands_on_ws_reply(struct commands *c, struct norm_event *ev);
void commands_on_ws_sent(struct commands *c, void *tag);
void commands_on_ws_unsent(struct commands *c, void *tag);
void commands_on_ws_disconnected(struct commands *c);

#endif
