// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Names for stripped objects from MiniDebugInfo (.gnu_debugdata: an
 * xz-compressed ELF with a .symtab), as Fedora and others ship them.  The
 * test builds such a binary with gcc, objcopy, strip and xz.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

static char dir[] = "/tmp/cpuport-mdi.XXXXXX";

static int build(void **state)
{
	char cmd[2048];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && printf 'int helper_fn(int x) { return x * 7; }\\n"
		 "int main(int c, char **v) { (void)v; return helper_fn(c); }\\n' > p.c && "
		 "cc -O1 -o p p.c && cp p plain && objcopy --only-keep-debug p p.dbg && xz -f p.dbg && strip p && "
		 "cp p stripped && objcopy --add-section .gnu_debugdata=p.dbg.xz p",
		 dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int cleanup(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void load(const char *name, struct elf_info *info)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(elf_info_load(NULL, path, info), 0);
}

static void names_from_gnu_debugdata(void **state)
{
	struct elf_info info, plain;
	const struct elf_symbol *s, *p;

	(void)state;
	load("p", &info);
	load("plain", &plain);
	assert_true(info.syms_from_debug);
	s = elf_sym_named(&info, "helper_fn");
	p = elf_sym_named(&plain, "helper_fn");
	assert_non_null(s);
	assert_non_null(p);
	assert_int_equal(s->value, p->value);	/* same address as the unstripped build */
	assert_string_equal(elf_sym_at(&info, s->value + 1)->name, "helper_fn");
	elf_info_free(&info);
	elf_info_free(&plain);
}

static void stripped_without_it_has_no_local_names(void **state)
{
	struct elf_info info;

	(void)state;
	load("stripped", &info);
	assert_false(info.syms_from_debug);
	assert_null(elf_sym_named(&info, "helper_fn"));
	elf_info_free(&info);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_from_gnu_debugdata),
		cmocka_unit_test(stripped_without_it_has_no_local_names),
	};

	if (system("command -v objcopy >/dev/null && command -v xz >/dev/null && command -v strip >/dev/null")) {
		printf("SKIP: needs objcopy, strip (binutils) and xz (xz-utils)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, build, cleanup);
}
