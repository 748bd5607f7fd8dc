// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Regression, issue 13 (defect 11): the helper ran without the process's own
 * GLIBC_TUNABLES, so a process started masked (or with custom thresholds)
 * re-selected as if started without them.  tunables_for_helper() keeps them,
 * drops only glibc.cpu.hwcaps when asked (CPUPORT_UNMASK), merges the target's
 * mask into one glibc.cpu.hwcaps item (glibc reads the last value of a
 * tunable), and refuses values glibc would not have read.
 * The merged string is checked against glibc itself: under it, ld.so --help
 * reports neither x86-64-v2 (the process's mask) nor v3 (the target's).
 */
#include "unit.h"
#include "internal.h"

static void expect(const char *process, bool unmask, const char *mask, const char *want)
{
	char out[TUNABLES_MAX];

	assert_int_equal(tunables_for_helper(process, unmask, mask, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void kept_merged_dropped(void **state)
{
	(void)state;
	expect(NULL, false, "", "");
	expect(NULL, false, "glibc.cpu.hwcaps=-AVX2", "glibc.cpu.hwcaps=-AVX2");
	expect("glibc.cpu.x86_rep_movsb_threshold=4096", false, "",
	       "glibc.cpu.x86_rep_movsb_threshold=4096");
	expect("glibc.cpu.hwcaps=-AVX512F:glibc.malloc.check=1", false, "",
	       "glibc.malloc.check=1:glibc.cpu.hwcaps=-AVX512F");
	expect("glibc.cpu.hwcaps=-AVX512F:glibc.malloc.check=1", false, "glibc.cpu.hwcaps=-AVX2,-AVX",
	       "glibc.malloc.check=1:glibc.cpu.hwcaps=-AVX512F,-AVX2,-AVX");
	/* unmask: the hwcaps go, the thresholds stay */
	expect("glibc.cpu.hwcaps=-AVX512F:glibc.cpu.x86_non_temporal_threshold=1048576", true, "",
	       "glibc.cpu.x86_non_temporal_threshold=1048576");
	expect("glibc.cpu.hwcaps=-AVX512F", true, "glibc.cpu.hwcaps=-AVX2", "glibc.cpu.hwcaps=-AVX2");
	expect("::glibc.cpu.hwcaps=:", false, "", "");
}

static void refused(void **state)
{
	char out[64], big[TUNABLES_MAX + 10];

	(void)state;
	assert_int_equal(tunables_for_helper("glibc.cpu.hwcaps=-AVX2\nLD_PRELOAD=/x", false, "", out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(tunables_for_helper("a=b c", false, "", out, sizeof(out)), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(tunables_for_helper(big, false, "", out, sizeof(out)), -EINVAL);
	assert_int_equal(tunables_for_helper("glibc.cpu.x86_rep_movsb_threshold=40960000000000000000", false,
					     "glibc.cpu.hwcaps=-AVX2", out, 16), -ENOSPC);
	assert_string_equal(out, "");
}

/* glibc agrees: two glibc.cpu.hwcaps items would leave only the last; the merged one masks both */
static void glibc_reads_the_merged_value(void **state)
{
	char out[TUNABLES_MAX], *v2;

	(void)state;
	v2 = unit_run(NULL, "/lib64/ld-linux-x86-64.so.2 --help 2>/dev/null | grep -c 'x86-64-v3 (supported'");
	if (!v2 || atoi(v2) != 1) {
		free(v2);
		UNIT_SKIP("this CPU (or ld.so) does not support x86-64-v3: nothing to mask");
	}
	free(v2);
	assert_int_equal(tunables_for_helper("glibc.cpu.hwcaps=-SSE4_2", false, "glibc.cpu.hwcaps=-AVX2", out,
					     sizeof(out)), 0);
	v2 = unit_run(NULL, "env GLIBC_TUNABLES='%s' /lib64/ld-linux-x86-64.so.2 --help 2>/dev/null | "
			"grep -c 'x86-64-v[23] (supported'", out);
	assert_non_null(v2);
	assert_int_equal(atoi(v2), 0);	/* no SSE4.2 (the process's), no AVX2 (the target's) */
	free(v2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kept_merged_dropped),
		cmocka_unit_test(refused),
		cmocka_unit_test(glibc_reads_the_merged_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
