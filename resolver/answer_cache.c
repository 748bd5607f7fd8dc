// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The selection helper's answers, remembered for the context's lifetime (one
 * CRIU restore): processes of a tree map the same files, and an answer about
 * a file (by build-id) is the same for all of them on this CPU and target,
 * when their helpers would run alike: same privilege (uid, gid, groups,
 * namespaces, root) and the same helper input (GLIBC_TUNABLES, environment).
 * So the helper runs once per distinct set of questions and context.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BUCKETS 1024

struct answer_entry {
	struct answer_entry *next;
	struct answer_key key;
	struct answer ans;
};

struct answer_cache {
	struct answer_entry *bucket[BUCKETS];
	char **contexts;	/* answer_context(): id - 1 -> description */
	size_t n_contexts;
};

static struct answer_cache *cache_of(struct cpuport_ctx *ctx)
{
	if (!ctx->answers)
		ctx->answers = calloc(1, sizeof(*ctx->answers));
	return ctx->answers;
}

uint32_t answer_context(struct cpuport_ctx *ctx, const char *desc)
{
	struct answer_cache *c = cache_of(ctx);
	char **n;

	if (!c || !desc)
		return 0;
	for (size_t i = 0; i < c->n_contexts; i++)
		if (!strcmp(c->contexts[i], desc))
			return i + 1;
	if (c->n_contexts >= UINT32_MAX - 1 || !(n = realloc(c->contexts, (c->n_contexts + 1) * sizeof(*n))))
		return 0;
	c->contexts = n;
	if (!(c->contexts[c->n_contexts] = strdup(desc)))
		return 0;
	return ++c->n_contexts;
}

const char *answer_context_desc(const struct cpuport_ctx *ctx, uint32_t id)
{
	return ctx->answers && id && id <= ctx->answers->n_contexts ? ctx->answers->contexts[id - 1] : NULL;
}

static unsigned int hash(const struct answer_key *k)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const uint8_t *p = (const uint8_t *)k;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h % BUCKETS;
}

void answer_key_init(struct answer_key *k, enum answer_kind kind, const uint8_t *bid, size_t bid_len, uint64_t off,
		     uint32_t size)
{
	memset(k, 0, sizeof(*k));	/* padding too: keys are compared as bytes */
	k->kind = kind;
	k->bid_len = bid_len <= sizeof(k->bid) ? bid_len : 0;
	memcpy(k->bid, bid, k->bid_len);
	k->off = off;
	k->size = size;
}

const struct answer *answer_cache_get(struct cpuport_ctx *ctx, const struct answer_key *k)
{
	struct answer_entry *e;

	if (!ctx->answers || !k->bid_len || !k->context)
		return NULL;
	for (e = ctx->answers->bucket[hash(k)]; e; e = e->next)
		if (!memcmp(&e->key, k, sizeof(*k)))
			return &e->ans;
	return NULL;
}

int answer_cache_put(struct cpuport_ctx *ctx, const struct answer_key *k, const struct answer *a)
{
	struct answer_entry *e;
	unsigned int b;

	if (!k->bid_len || !k->context || answer_cache_get(ctx, k))
		return 0;
	if (!cache_of(ctx))
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = *k;
	e->ans = *a;
	e->ans.bytes = NULL;
	if (a->len && !(e->ans.bytes = malloc(a->len))) {
		free(e);
		return -ENOMEM;
	}
	if (a->len)
		memcpy(e->ans.bytes, a->bytes, a->len);
	b = hash(k);
	e->next = ctx->answers->bucket[b];
	ctx->answers->bucket[b] = e;
	return 0;
}

void answer_cache_free(struct cpuport_ctx *ctx)
{
	if (!ctx->answers)
		return;
	for (unsigned int b = 0; b < BUCKETS; b++) {
		struct answer_entry *e = ctx->answers->bucket[b], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->ans.bytes);
			free(e);
		}
	}
	for (size_t i = 0; i < ctx->answers->n_contexts; i++)
		free(ctx->answers->contexts[i]);
	free(ctx->answers->contexts);
	free(ctx->answers);
	ctx->answers = NULL;
}
