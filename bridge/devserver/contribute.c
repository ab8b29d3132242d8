/*
 * contribute.c: the contribution rules WS, REST and /_dev/ share: which session accepts a
 * contribution from whom, and the contribution object built for it.
 */
#include "devserver.h"

#include <string.h>

static bool s_type_valid(const char *t)
{
	return !strcmp(t, "suggestion") || !strcmp(t, "warning") || !strcmp(t, "reference");
}

enum contrib_err contribute_build(struct ds_server *ds, const char *session_id,
				  const char *contributor, json_t *content, const char *ctype,
				  bool enforce_rules, json_t **out)
{
	struct session *s;

	*out = NULL;
	if (!session_id || !content || !json_is_object(content))
		return CE_MISSING;
	if (!s_type_valid(ctype))
		return CE_TYPE;
	s = state_session_by_id(&ds->st, session_id);
	if (!s)
		return CE_NOT_FOUND;
	if (enforce_rules && s->is_private)
		return CE_PRIVATE;
	if (enforce_rules && !strcmp(s->owner, contributor))
		return CE_OWN;
	if (enforce_rules && s->closed)
		return CE_CLOSED;
	*out = state_contribution_new(s->id, contributor, content, ctype);
	return *out ? CE_OK : CE_MISSING;
}
