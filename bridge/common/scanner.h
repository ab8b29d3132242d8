/* scanner.h: the content-safety scanner (pure): finds what must never be posted. */
#ifndef PP_SCANNER_H
#define PP_SCANNER_H

#include <jansson.h>
#include <stddef.h>

/* Kinds reported (static strings): "api_key" (sk-, sk-ant-, ghp_, gho_, plrm_live_,
 * AKIA...), "bearer_token", "password", "private_key", "connection_string" (postgresql://,
 * mongodb://, redis://, mysql://, amqp://, ...), "private_address" (RFC 1918, loopback,
 * link-local, fc00::/7, fe80::/10, internal host names such as *.internal, *.local,
 * *.lan, *.corp, localhost). Patterns need word boundaries and minimum lengths so prose
 * ("task-based", "ask-me") does not trip them. */

/* Scan one string; returns the kind of the first hit, or NULL when clean. */
const char *scan_string(const char *s, size_t len);

/* Scan every string value and every object key in v, depth first.
 * Returns the kind of the first hit (and its JSON path, e.g. "content.steps[2].text",
 * rooted at root_name, in path) or NULL when clean. */
const char *scan_json(json_t *v, const char *root_name, char *path, size_t pathlen);

#endif
