// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libgcc_model.c against the real compiler: this program carries its own
 * static copy of libgcc's __cpu_model / __cpu_features2 (pulled in by
 * __builtin_cpu_supports()).  A test masks that live copy for a target and
 * asks __builtin_cpu_supports() - the code GCC emits for target_clones
 * resolvers - what it now answers.  Every test restores the snapshot.
 */
#include "unit.h"
#include "internal.h"
#include "libgcc_bits.h"

struct cpu_model {
	unsigned int vendor, type, subtype;
	unsigned int features[1];
};
extern struct cpu_model __cpu_model;
extern unsigned int __cpu_features2[];

static struct cpu_model saved_model;
static unsigned int saved_f2[LIBGCC_FEATURES2_WORDS];
static struct cpu_desc host;

static void snapshot_restore(void)
{
	__cpu_model = saved_model;
	memcpy(__cpu_features2, saved_f2, sizeof(saved_f2));
}

static int group_setup(void **state)
{
	(void)state;
	__builtin_cpu_init();
	saved_model = __cpu_model;
	memcpy(saved_f2, __cpu_features2, sizeof(saved_f2));
	return cpu_desc_host(&host);
}

static int restore_model(void **state)
{
	(void)state;
	snapshot_restore();
	return 0;
}

static void mask_live_model(const struct featset *target)
{
	libgcc_model_mask(target, (uint8_t *)&__cpu_model, sizeof(__cpu_model), (uint8_t *)__cpu_features2,
			  sizeof(saved_f2));
}

/*
 * __builtin_cpu_supports() needs a string literal: one probe per name,
 * with the cpuport feature it stands for (-1: an x86-64 level).
 */
#define PROBE(name, feat) { name, feat, #feat }
static const struct probe {
	const char *name;
	int feature;
	const char *feature_name;
} probes[] = {
	PROBE("cmov", F_CMOV), PROBE("mmx", F_MMX), PROBE("popcnt", F_POPCNT), PROBE("sse", F_SSE),
	PROBE("sse2", F_SSE2), PROBE("sse3", F_SSE3), PROBE("ssse3", F_SSSE3), PROBE("sse4.1", F_SSE4_1),
	PROBE("sse4.2", F_SSE4_2), PROBE("avx", F_AVX), PROBE("avx2", F_AVX2), PROBE("sse4a", F_SSE4A),
	PROBE("fma4", F_FMA4), PROBE("xop", F_XOP), PROBE("fma", F_FMA), PROBE("avx512f", F_AVX512F),
	PROBE("bmi", F_BMI1), PROBE("bmi2", F_BMI2), PROBE("aes", F_AES), PROBE("pclmul", F_PCLMUL),
	PROBE("avx512vl", F_AVX512VL), PROBE("avx512bw", F_AVX512BW), PROBE("avx512dq", F_AVX512DQ),
	PROBE("avx512cd", F_AVX512CD), PROBE("avx512vbmi", F_AVX512VBMI), PROBE("avx512ifma", F_AVX512IFMA),
	PROBE("avx512vpopcntdq", F_AVX512VPOPCNTDQ), PROBE("avx512vbmi2", F_AVX512VBMI2), PROBE("gfni", F_GFNI),
	PROBE("vpclmulqdq", F_VPCLMULQDQ), PROBE("avx512vnni", F_AVX512VNNI), PROBE("avx512bitalg", F_AVX512BITALG),
	PROBE("avx512bf16", F_AVX512BF16), PROBE("adx", F_ADX), PROBE("abm", F_LZCNT), PROBE("cmpxchg16b", F_CX16),
	PROBE("f16c", F_F16C), PROBE("fsgsbase", F_FSGSBASE), PROBE("lahf_lm", F_LAHF), PROBE("movbe", F_MOVBE),
	PROBE("rdrnd", F_RDRAND), PROBE("rdseed", F_RDSEED), PROBE("sha", F_SHA), PROBE("vaes", F_VAES),
	PROBE("xsave", F_XSAVE), PROBE("xsavec", F_XSAVEC), PROBE("xsaveopt", F_XSAVEOPT),
	PROBE("clflushopt", F_CLFLUSHOPT), PROBE("clwb", F_CLWB), PROBE("pku", F_PKU), PROBE("rdpid", F_RDPID),
	PROBE("movdiri", F_MOVDIRI), PROBE("avxvnni", F_AVXVNNI), PROBE("avx512fp16", F_AVX512FP16),
	PROBE("x86-64-v2", -2), PROBE("x86-64-v3", -3), PROBE("x86-64-v4", -4),
};

static int supports(size_t i)
{
	switch (i) {
#define CASE(n, s) \
	case n:    \
		return !!__builtin_cpu_supports(s);
		CASE(0, "cmov") CASE(1, "mmx") CASE(2, "popcnt") CASE(3, "sse") CASE(4, "sse2") CASE(5, "sse3")
		CASE(6, "ssse3") CASE(7, "sse4.1") CASE(8, "sse4.2") CASE(9, "avx") CASE(10, "avx2")
		CASE(11, "sse4a") CASE(12, "fma4") CASE(13, "xop") CASE(14, "fma") CASE(15, "avx512f")
		CASE(16, "bmi") CASE(17, "bmi2") CASE(18, "aes") CASE(19, "pclmul") CASE(20, "avx512vl")
		CASE(21, "avx512bw") CASE(22, "avx512dq") CASE(23, "avx512cd") CASE(24, "avx512vbmi")
		CASE(25, "avx512ifma") CASE(26, "avx512vpopcntdq") CASE(27, "avx512vbmi2") CASE(28, "gfni")
		CASE(29, "vpclmulqdq") CASE(30, "avx512vnni") CASE(31, "avx512bitalg") CASE(32, "avx512bf16")
		CASE(33, "adx") CASE(34, "abm") CASE(35, "cmpxchg16b") CASE(36, "f16c") CASE(37, "fsgsbase")
		CASE(38, "lahf_lm") CASE(39, "movbe") CASE(40, "rdrnd") CASE(41, "rdseed") CASE(42, "sha")
		CASE(43, "vaes") CASE(44, "xsave") CASE(45, "xsavec") CASE(46, "xsaveopt") CASE(47, "clflushopt")
		CASE(48, "clwb") CASE(49, "pku") CASE(50, "rdpid") CASE(51, "movdiri") CASE(52, "avxvnni")
		CASE(53, "avx512fp16") CASE(54, "x86-64-v2") CASE(55, "x86-64-v3") CASE(56, "x86-64-v4")
#undef CASE
	}
	fail_msg("no probe %zu", i);
	return -1;
}

/* The probe table and the switch above name the same things, in the same order. */
static void probes_consistent(void **state)
{
	(void)state;
	assert_int_equal(ARRAY_SIZE(probes), 57);
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++)
		assert_true(supports(i) == 0 || supports(i) == 1);
	assert_int_equal(supports(10), !!__builtin_cpu_supports("avx2"));
	assert_int_equal(supports(56), !!__builtin_cpu_supports("x86-64-v4"));
}

/* The brief's check: mask for x86-64-v2, the compiler's own test code answers as on v2. */
static void mask_x86_64_v2(void **state)
{
	int sse42 = !!__builtin_cpu_supports("sse4.2"), v2 = !!__builtin_cpu_supports("x86-64-v2");
	struct cpu_desc t;

	(void)state;
	assert_int_equal(cpu_desc_target("x86-64-v2", &host, &t), 0);
	mask_live_model(&t.feat);
	assert_false(__builtin_cpu_supports("avx2"));
	assert_false(__builtin_cpu_supports("avx"));
	assert_false(__builtin_cpu_supports("x86-64-v3"));
	assert_false(__builtin_cpu_supports("x86-64-v4"));
	assert_false(__builtin_cpu_supports("fma"));
	assert_false(__builtin_cpu_supports("bmi2"));
	assert_int_equal(!!__builtin_cpu_supports("sse4.2"), sse42);
	assert_int_equal(!!__builtin_cpu_supports("x86-64-v2"), v2);
	snapshot_restore();
	assert_int_equal(!!__builtin_cpu_supports("avx2"), featset_has(&host.feat, F_AVX2));
}

/* For every named target: answer = host's answer AND the target has it. */
static void mask_every_target(void **state)
{
	char msg[2048] = "";

	(void)state;
	for (const char *const *n = cpuport_targets(); *n; n++) {
		struct cpu_desc t;
		int before[ARRAY_SIZE(probes)];

		assert_int_equal(cpu_desc_target(*n, &host, &t), 0);
		for (size_t i = 0; i < ARRAY_SIZE(probes); i++)
			before[i] = supports(i);
		mask_live_model(&t.feat);
		for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
			int f = probes[i].feature;
			int want = before[i] && (f >= 0 ? featset_has(&t.feat, f) : t.level >= -f);

			if (supports(i) != want)
				snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s:%s(%d, want %d)", *n,
					 probes[i].name, supports(i), want);
		}
		snapshot_restore();
	}
	if (msg[0])
		fail_msg("__builtin_cpu_supports() after masking:%s", msg);
}

/*
 * Masking with the host's own features must change nothing: a feature libgcc
 * sees here but cpuport's host decode misses would be cleared on restore.
 */
static void host_mask_is_identity(void **state)
{
	char msg[1024] = "";

	(void)state;
	mask_live_model(&host.feat);
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		int after = supports(i), was;

		snapshot_restore();
		was = supports(i);
		if (after != was)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s(%d -> %d)", probes[i].name, was, after);
		mask_live_model(&host.feat);
	}
	snapshot_restore();
	assert_memory_equal(&__cpu_model, &saved_model, sizeof(saved_model));
	if (msg[0])
		fail_msg("the host's own mask changes libgcc's answers:%s", msg);
}

/* The generated bit table, bit by bit, against the compiler running this test. */
static void bit_table_matches_compiler(void **state)
{
	int checked = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		uint32_t words[1 + LIBGCC_FEATURES2_WORDS];
		struct featset only = { { 0, 0 } };
		int f = probes[i].feature, cleared = 0;

		if (f < 0)
			continue;
		/* the bit libgcc_mask_words() clears for a target without f, and only f */
		for (int g = 0; g < F__COUNT; g++)
			if (g != f)
				featset_set(&only, g);
		assert_int_equal(libgcc_mask_words(&only, words, ARRAY_SIZE(words)), 0);
		/* set just the bits that mask clears (minus the level bits) in the live model */
		memset(&__cpu_model.features, 0, sizeof(__cpu_model.features));
		memset(__cpu_features2, 0, sizeof(saved_f2));
		__cpu_model.features[0] = ~words[0];
		for (size_t w = 0; w < LIBGCC_FEATURES2_WORDS; w++)
			__cpu_features2[w] = ~words[1 + w];
		for (size_t l = 0; l < ARRAY_SIZE(libgcc_level_bits); l++) {
			int bit = libgcc_level_bits[l].bit;

			if (bit < 32)
				__cpu_model.features[0] &= ~(1u << bit);
			else
				__cpu_features2[(bit - 32) / 32] &= ~(1u << (bit - 32) % 32);
		}
		cleared = __builtin_popcount(__cpu_model.features[0]);
		for (size_t w = 0; w < LIBGCC_FEATURES2_WORDS; w++)
			cleared += __builtin_popcount(__cpu_features2[w]);
		if (cleared != 1)
			fail_msg("a target without %s clears %d feature bits, not 1", probes[i].feature_name, cleared);
		if (!supports(i))
			fail_msg("the bit cpuport clears for %s is not the one __builtin_cpu_supports(\"%s\") tests",
				 probes[i].feature_name, probes[i].name);
		checked++;
	}
	snapshot_restore();
	assert_true(checked >= 50);
}

static void mask_words_contract(void **state)
{
	uint32_t words[1 + LIBGCC_FEATURES2_WORDS + 2];
	struct featset every = { { 0, 0 } };

	(void)state;
	assert_int_equal(libgcc_mask_words(&host.feat, words, LIBGCC_FEATURES2_WORDS), -EINVAL);
	for (int f = 0; f < F__COUNT; f++)
		featset_set(&every, f);
	memset(words, 0, sizeof(words));
	assert_int_equal(libgcc_mask_words(&every, words, ARRAY_SIZE(words)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		assert_int_equal(words[i], ~0u);
}

/* Buffers too small to hold a word are left alone; only whole words are masked. */
static void mask_respects_sizes(void **state)
{
	struct featset none = { { 0, 0 } };
	uint8_t model[16], small[15], f2[4 * LIBGCC_FEATURES2_WORDS];

	(void)state;
	memset(model, 0xff, sizeof(model));
	memset(small, 0xff, sizeof(small));
	memset(f2, 0xff, sizeof(f2));
	libgcc_model_mask(&none, small, sizeof(small), f2, 4);
	for (size_t i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], 0xff);
	for (size_t i = 4; i < sizeof(f2); i++)
		assert_int_equal(f2[i], 0xff);	/* beyond the size given */
	assert_int_not_equal(memcmp(f2, "\xff\xff\xff\xff", 4), 0);
	libgcc_model_mask(&none, model, sizeof(model), NULL, 0);
	for (size_t i = 0; i < 12; i++)
		assert_int_equal(model[i], 0xff);	/* vendor, type, subtype untouched */
	assert_int_not_equal(memcmp(model + 12, "\xff\xff\xff\xff", 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(probes_consistent, restore_model),
		cmocka_unit_test_teardown(mask_x86_64_v2, restore_model),
		cmocka_unit_test_teardown(mask_every_target, restore_model),
		cmocka_unit_test_teardown(host_mask_is_identity, restore_model),
		cmocka_unit_test_teardown(bit_table_matches_compiler, restore_model),
		cmocka_unit_test_teardown(mask_words_contract, restore_model),
		cmocka_unit_test_teardown(mask_respects_sizes, restore_model),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("libgcc_model", tests, group_setup, NULL);
}
