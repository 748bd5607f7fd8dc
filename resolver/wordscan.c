// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Looking for a few values among many words (copied function pointers in
 * gigabytes of heap): a word is compared exactly (bsearch) only if its
 * 2 MiB granule is one a value lives in, a test the compiler vectorises
 * (target_clones: AVX-512, AVX2, baseline), so other words cost a compare
 * each and the scan runs at memory speed.  Exact: a word it skips cannot
 * equal any of the values.
 */
#include <string.h>

#include "internal.h"

#define GRANULE_SHIFT 21

void wordscan_init(struct wordscan *f, const uint64_t *sorted, size_t n)
{
	memset(f, 0, sizeof(*f));
	if (!n)
		return;
	f->lo = sorted[0];
	f->span = sorted[n - 1] - sorted[0];
	for (size_t i = 0; i < n; i++) {
		uint64_t g = sorted[i] >> GRANULE_SHIFT;
		size_t k = 0;

		while (k < f->n && f->g[k] != g)
			k++;
		if (k < f->n)
			continue;
		if (f->n == WORDSCAN_GRANULES) {	/* too many: the range [lo, lo + span] instead */
			f->n = 0;
			return;
		}
		f->g[f->n++] = g;
	}
	for (size_t k = f->n; k < WORDSCAN_GRANULES; k++)	/* pad with a granule already in the set */
		f->g[k] = f->g[0];
}

/* blocks of 8 words; K granules compared (a constant, so the compiler vectorises each case) */
#define BLOCKS(K)                                                                          \
	for (; i + 8 <= n; i += 8) {                                                       \
		uint64_t hit = 0;                                                          \
		for (size_t k = 0; k < (K); k++)                                           \
			for (size_t j = 0; j < 8; j++)                                     \
				hit |= (w[i + j] >> GRANULE_SHIFT) == f->g[k];             \
		if (hit)                                                                   \
			return i;                                                          \
	}                                                                                  \
	return i

/* GCC: one clone per vector width, picked at load (IFUNC); clang (the fuzz build) vectorises by itself */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("tree-vectorize")))
#endif
size_t wordscan_next(const uint64_t *w, size_t n, const struct wordscan *f)
{
	size_t i = 0;

	switch (f->n) {
	case 1: BLOCKS(1);
	case 2: BLOCKS(2);
	case 3: case 4: BLOCKS(4);	/* padded with g[0]: extra compares are harmless */
	case 0:
		for (; i + 8 <= n; i += 8) {
			uint64_t hit = 0;

			for (size_t j = 0; j < 8; j++)
				hit |= w[i + j] - f->lo <= f->span;
			if (hit)
				return i;
		}
		return i;
	default: BLOCKS(WORDSCAN_GRANULES);
	}
}
