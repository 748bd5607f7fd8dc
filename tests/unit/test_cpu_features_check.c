// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Issue 13: ld.so state bytes returned by the helper must decode as that
 * glibc's structure and agree with this CPU (cpu_features_check.c).  The
 * reference is this test process's own ld.so: its cpu_features bytes pass,
 * and the decoded fields equal what `ld.so --list-diagnostics` prints (so the
 * layout offsets are checked against glibc itself, on this machine).  A
 * changed CPUID word, a usable bit the CPU lacks, an absurd xsave size, an
 * unknown CPU kind, a foreign _dl_hwcap or _dl_minsigstacksize: refused.
 */
#include <dlfcn.h>
#include <gnu/libc-version.h>

#include "unit.h"
#include "internal.h"

#define LDSO "/lib64/ld-linux-x86-64.so.2"

static const struct glibc_layout *layout;
static uint8_t own[4096];
static const uint8_t *rtld_ro;

static int setup(void **state)
{
	const void *(*get)(unsigned int) = (const void *(*)(unsigned int))dlsym(RTLD_DEFAULT, "_dl_x86_get_cpu_features");

	(void)state;
	layout = glibc_layout_find(gnu_get_libc_version());
	rtld_ro = dlsym(RTLD_DEFAULT, "_rtld_global_ro");
	if (!layout || !get || !rtld_ro || layout->cpu_features_size > sizeof(own))
		return 0;
	memcpy(own, get(0), layout->cpu_features_size);
	assert_ptr_equal(get(0), rtld_ro + layout->cpu_features);
	return 0;
}

static uint64_t diag(const char *key)
{
	char *out = unit_run(NULL, "env -u GLIBC_TUNABLES %s --list-diagnostics 2>/dev/null | sed -n 's/^%s=//p'", LDSO,
			     key);
	uint64_t v;

	assert_non_null(out);
	if (!out[0])
		fail_msg("ld.so --list-diagnostics does not print %s", key);
	v = strtoull(out, NULL, 0);
	free(out);
	return v;
}

static uint32_t u32(const uint8_t *b, size_t off)
{
	uint32_t v;

	memcpy(&v, b + off, 4);
	return v;
}

static void own_state_passes_and_matches_glibc(void **state)
{
	char why[256] = "", key[96];
	uint32_t mask;
	uint64_t v;

	(void)state;
	if (!layout)
		UNIT_SKIP("glibc %s has no known layout", gnu_get_libc_version());
	if (cpu_features_consistent(layout, own, layout->cpu_features_size, why, sizeof(why)))
		fail_msg("this process's own cpu_features refused: %s", why);
	assert_int_equal(u32(own, 0), diag("x86.cpu_features.basic.kind"));
	assert_int_equal(u32(own, 4), diag("x86.cpu_features.basic.max_cpuid"));
	assert_int_equal(u32(own, 8), diag("x86.cpu_features.basic.family"));
	assert_int_equal(u32(own, 12), diag("x86.cpu_features.basic.model"));
	for (uint32_t i = 0; i < layout->n_cpuid; i++)
		for (int j = 0; j < 4; j++) {
			snprintf(key, sizeof(key), "x86.cpu_features.features\\[0x%x\\].cpuid\\[0x%x\\]", i, j);
			/* CPUID 1 ebx[31:24]: the APIC id of whichever CPU each process ran on */
			mask = i == 0 && j == 1 ? 0x00ffffff : 0xffffffff;
			assert_int_equal(u32(own, 20 + 32 * i + 4 * j) & mask, diag(key) & mask);
		}
	if (layout->isa_1)
		assert_int_equal(u32(own, layout->isa_1), diag("x86.cpu_features.isa_1"));
	if (layout->xsave_state_size) {
		memcpy(&v, own + layout->xsave_state_size, 8);
		assert_int_equal(v, diag("x86.cpu_features.xsave_state_size"));
		assert_int_equal(u32(own, layout->xsave_state_full_size), diag("x86.cpu_features.xsave_state_full_size"));
	}
	memcpy(&v, rtld_ro + layout->hwcap, 8);
	assert_int_equal(v, diag("dl_hwcap"));
	assert_int_equal(rtld_word_consistent(true, v, why, sizeof(why)), 0);
	memcpy(&v, rtld_ro + layout->minsigstacksize, 8);
	if (rtld_word_consistent(false, v, why, sizeof(why)))
		fail_msg("own _dl_minsigstacksize refused: %s", why);
}

static void refuse(const uint8_t *b, const char *what)
{
	char why[256] = "";

	assert_int_equal(cpu_features_consistent(layout, b, layout->cpu_features_size, why, sizeof(why)), -EPROTO);
	print_message("%s: %s\n", what, why);
}

static void malformed_states_refused(void **state)
{
	uint8_t b[sizeof(own)];
	char why[256];
	uint64_t v;
	bool planted = false;

	(void)state;
	if (!layout)
		UNIT_SKIP("glibc %s has no known layout", gnu_get_libc_version());
	memcpy(b, own, sizeof(b));
	b[20 + 32 * 1 + 4] ^= 0x20;	/* CPUID 7 ebx bit 5: AVX2 */
	refuse(b, "CPUID word changed");
	memcpy(b, own, sizeof(b));
	b[0] = 9;
	refuse(b, "CPU kind 9");
	memcpy(b, own, sizeof(b));
	b[4] ^= 1;
	refuse(b, "max_cpuid changed");
	/* a usable bit whose CPUID bit this CPU lacks */
	for (uint32_t i = 0; i < layout->n_cpuid && !planted; i++)
		for (int j = 0; j < 4 && !planted; j++) {
			uint32_t c = u32(own, 20 + 32 * i + 4 * j), a = u32(own, 20 + 32 * i + 16 + 4 * j);

			for (int bit = 0; bit < 32 && !planted; bit++)
				if (!(c & 1u << bit) && !(a & 1u << bit) && c) {
					memcpy(b, own, sizeof(b));
					a |= 1u << bit;
					memcpy(b + 20 + 32 * i + 16 + 4 * j, &a, 4);
					planted = true;
				}
		}
	assert_true(planted);
	refuse(b, "usable bit without CPUID bit");
	if (layout->xsave_state_size) {
		memcpy(b, own, sizeof(b));
		v = 1ull << 30;
		memcpy(b + layout->xsave_state_size, &v, 8);
		refuse(b, "xsave_state_size 1 GiB");
	}
	assert_int_equal(cpu_features_consistent(layout, own, layout->cpu_features_size - 8, why, sizeof(why)), -EPROTO);
	assert_int_equal(rtld_word_consistent(true, 0x100, why, sizeof(why)), -EPROTO);
	assert_int_equal(rtld_word_consistent(false, 1ull << 30, why, sizeof(why)), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(own_state_passes_and_matches_glibc),
		cmocka_unit_test(malformed_states_refused),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
