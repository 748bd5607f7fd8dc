// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A bump allocator: a table (scanned or decoded) lives in one arena and is
 * freed with it, so protobuf-c messages built by hand and messages unpacked
 * by protobuf-c share one free path.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

#define CHUNK_MIN (64 * 1024)

void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_chunk *c = a->head;
	size_t need = (size + 15) & ~(size_t)15;

	if (!c || c->size - c->used < need) {
		size_t sz = need > CHUNK_MIN ? need : CHUNK_MIN;

		if (need < size || (a->limit && (sz > a->limit || a->total > a->limit - sz)))
			return NULL;	/* overflow, or over the limit (a decoded image) */
		c = malloc(sizeof(*c) + sz);
		if (!c)
			return NULL;
		c->size = sz;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		a->total += sz;
	}
	void *p = (char *)c->data + c->used;
	c->used += need;
	memset(p, 0, size);
	return p;
}

void *arena_memdup(struct arena *a, const void *p, size_t size)
{
	void *q = arena_alloc(a, size ? size : 1);

	if (q && size)
		memcpy(q, p, size);
	return q;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return s ? arena_memdup(a, s, strlen(s) + 1) : NULL;
}

void **arena_vec_push(struct arena *a, void ***vec, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void **nv = arena_alloc(a, ncap * sizeof(void *));

		if (!nv)
			return NULL;
		if (*n)
			memcpy(nv, *vec, *n * sizeof(void *));
		*vec = nv;
		*cap = ncap;
	}
	return &(*vec)[(*n)++];
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->total = 0;
}

static void *pb_alloc(void *data, size_t size)
{
	return arena_alloc(data, size);
}

/* Memory goes back with the arena. */
static void pb_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

ProtobufCAllocator *arena_pb_allocator(struct arena *a, ProtobufCAllocator *out)
{
	out->alloc = pb_alloc;
	out->free = pb_free;
	out->allocator_data = a;
	return out;
}
