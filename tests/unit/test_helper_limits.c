// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Regression, issue 13 (defect 13): cpuport-select answered "unavailable"
 * for any object index from 1024 on (a fixed table), so a process with more
 * objects could not be re-selected.  The real helper, given libclones.so as
 * object 5000, runs its lib_kernel resolver and names a clone in it.
 * (Run directly: request on stdin, answers on stdout.)
 */
#include <elf.h>

#include "unit.h"
#include "internal.h"

static void object_index_past_1024(void **state)
{
	char helper[4200], lib[4200], req[9000], *out;
	const struct elf_symbol *s;
	struct elf_info e;
	int st;

	(void)state;
	snprintf(helper, sizeof(helper), "%s/build/bin/cpuport-select", unit_top());
	snprintf(lib, sizeof(lib), "%s/build/fixtures/libclones.so", unit_top());
	if (access(helper, X_OK) || access(lib, R_OK))
		UNIT_SKIP("%s or %s not built", helper, lib);
	assert_int_equal(elf_info_load(NULL, lib, &e), 0);
	s = elf_dynsym_find(&e, "lib_kernel", NULL);
	assert_non_null(s);
	assert_int_equal(s->type, STT_GNU_IFUNC);
	snprintf(req, sizeof(req), "dso 5000 %s\\ncall 0 5000 %llu\\ngo\\n", lib, (unsigned long long)s->value);
	out = unit_run(&st, "printf '%s' | env -u CPUPORT_SELECT_ANSWER_FD %s", req, helper);
	elf_info_free(&e);
	assert_non_null(out);
	print_message("%s", out);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "res 0 5000 "));	/* a clone inside object 5000 */
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(object_index_past_1024),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
