// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libgcc's cached CPU model (__cpu_model, __cpu_features2): which words to
 * AND into a fresh copy so that __builtin_cpu_supports() and target_clones
 * resolvers answer as on the target CPU.  The bit numbers come from
 * libgcc_bits.h, generated at build time from the compiler itself.
 */
#include <string.h>

#include "internal.h"
#include "libgcc_bits.h"

/* words[0] masks __cpu_model.__cpu_features[0]; words[1..] __cpu_features2[] */
int libgcc_mask_words(const struct featset *target, uint32_t *words, size_t n_words)
{
	int level = featset_level(target);

	if (n_words < 1 + LIBGCC_FEATURES2_WORDS)
		return -EINVAL;
	for (size_t i = 0; i < n_words; i++)
		words[i] = ~0u;
	for (size_t i = 0; i < ARRAY_SIZE(libgcc_feature_bits); i++) {
		int bit = libgcc_feature_bits[i].bit;

		if (featset_has(target, libgcc_feature_bits[i].feature))
			continue;
		words[bit / 32] &= ~(1u << bit % 32);
	}
	/* Level bits are derived by libgcc; clearing avx512f alone still picks arch=x86-64-v4. */
	for (size_t i = 0; i < ARRAY_SIZE(libgcc_level_bits); i++) {
		int bit = libgcc_level_bits[i].bit;

		if (level < libgcc_level_bits[i].level)
			words[bit / 32] &= ~(1u << bit % 32);
	}
	return 0;
}

void libgcc_model_mask(const struct featset *target, uint8_t *model, size_t model_size, uint8_t *features2,
		       size_t features2_size)
{
	uint32_t words[1 + LIBGCC_FEATURES2_WORDS], w;

	libgcc_mask_words(target, words, ARRAY_SIZE(words));
	/* struct __processor_model: vendor, type, subtype, features[1] */
	if (model && model_size >= 16) {
		memcpy(&w, model + 12, 4);
		w &= words[0];
		memcpy(model + 12, &w, 4);
	}
	for (size_t i = 0; features2 && i < LIBGCC_FEATURES2_WORDS && (i + 1) * 4 <= features2_size; i++) {
		memcpy(&w, features2 + i * 4, 4);
		w &= words[1 + i];
		memcpy(features2 + i * 4, &w, 4);
	}
}
