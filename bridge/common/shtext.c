/* shtext.c: reference-counted text and the bin of texts released by other threads.
 *
 * The header is a union: the count while the text is alive, the bin's link once it is
 * dead, so a dead text costs the bin no allocation. The bin is a Treiber stack that other
 * threads only push to and its owner takes whole (atomic exchange), so there is no ABA. */
#include "shtext.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

union shtext_head {
	atomic_uint refs;
	union shtext_head *next; /* in a bin */
	char room[SHTEXT_ROOM];
};

_Static_assert(sizeof(union shtext_head) == SHTEXT_ROOM, "the header fills SHTEXT_ROOM");

struct shtext_bin {
	_Atomic(union shtext_head *) top;
};

static union shtext_head *s_head(char *text)
{
	return (union shtext_head *)(void *)(text - SHTEXT_ROOM);
}

static char *s_text(union shtext_head *h)
{
	return (char *)h + SHTEXT_ROOM;
}

char *shtext_new(size_t cap)
{
	return shtext_resize(NULL, cap);
}

char *shtext_resize(char *text, size_t cap)
{
	union shtext_head *h = realloc(text ? s_head(text) : NULL, SHTEXT_ROOM + cap);

	if (!h)
		return NULL;
	if (!text)
		atomic_init(&h->refs, 1);
	return s_text(h);
}

char *shtext_dup(const char *s, size_t len)
{
	char *t = shtext_new(len + 1);

	if (t) {
		memcpy(t, s, len);
		t[len] = '\0';
	}
	return t;
}

char *shtext_ref(char *text)
{
	atomic_fetch_add_explicit(&s_head(text)->refs, 1, memory_order_relaxed);
	return text;
}

/* True when this dropped the last reference: the caller then owns the block alone (the
 * acquire orders every other holder's use before what the caller does next). */
static int s_last(char *text)
{
	union shtext_head *h = s_head(text);

	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_release) != 1)
		return 0;
	atomic_thread_fence(memory_order_acquire);
	return 1;
}

void shtext_unref(char *text)
{
	if (text && s_last(text))
		free(s_head(text));
}

void shtext_unref_into(char *text, struct shtext_bin *bin)
{
	union shtext_head *h;

	if (!text || !s_last(text))
		return;
	h = s_head(text);
	h->next = atomic_load_explicit(&bin->top, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&bin->top, &h->next, h, memory_order_release,
						      memory_order_relaxed))
		;
}

struct shtext_bin *shtext_bin_new(void)
{
	struct shtext_bin *bin = malloc(sizeof(*bin));

	if (bin)
		atomic_init(&bin->top, NULL);
	return bin;
}

size_t shtext_bin_empty(struct shtext_bin *bin)
{
	union shtext_head *h = atomic_exchange_explicit(&bin->top, NULL, memory_order_acquire);
	size_t n = 0;

	while (h) {
		union shtext_head *next = h->next;

		free(h);
		h = next;
		n++;
	}
	return n;
}

void shtext_bin_destroy(struct shtext_bin **self_p)
{
	if (!self_p || !*self_p)
		return;
	shtext_bin_empty(*self_p);
	free(*self_p);
	*self_p = NULL;
}
