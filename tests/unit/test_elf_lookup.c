// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * elf_sym_named() answers through a name index built on first use (the dump
 * asks every object for a dozen names; libc's debug table has thousands):
 * for every name of a real table (libc's own, or its debug file's when
 * installed), the answer is the symbol a linear search finds first, also for
 * names that repeat; a name not in the table is not found; and a table
 * replaced after the index was built (debug names arrive after the file's
 * own) is answered from the new table.  elf_dynsym_maybe_ifunc(), the
 * relocation filter of the dump, never rules out a name that is an IFUNC.
 */
#include <gelf.h>
#include <link.h>

#include "unit.h"
#include "internal.h"

static char libc_path[512];

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (strstr(info->dlpi_name, "libc.so.6"))
		snprintf(libc_path, sizeof(libc_path), "%s", info->dlpi_name);
	return 0;
}

static const struct elf_symbol *linear(const struct elf_info *e, const char *name)
{
	for (size_t i = 0; i < e->n_syms; i++)
		if (!strcmp(e->syms[i].name, name))
			return &e->syms[i];
	return NULL;
}

static void all_names(const struct elf_info *e)
{
	size_t repeated = 0;

	assert_true(e->n_syms > 100);
	for (size_t i = 0; i < e->n_syms; i++) {
		const struct elf_symbol *want = linear(e, e->syms[i].name);

		assert_ptr_equal(elf_sym_named(e, e->syms[i].name), want);
		repeated += want != &e->syms[i];
	}
	assert_null(elf_sym_named(e, "cpuport_no_such_symbol_here"));
	assert_null(elf_sym_named(e, ""));
	print_message("# %zu names, %zu repeated\n", e->n_syms, repeated);
}

static void index_equals_linear_search(void **state)
{
	struct elf_info e;
	const struct elf_symbol *own;

	(void)state;
	assert_int_equal(elf_info_load(NULL, libc_path, &e), 0);
	all_names(&e);		/* the file's own table (or its dynamic symbols) */
	own = e.syms;
	elf_info_debug_from(NULL, &e, "");
	if (e.syms == own)
		UNIT_SKIP("no debug file for %s (libc6-dbg not installed)", libc_path);
	all_names(&e);		/* the debug file's, replacing it: a new index */
	elf_info_free(&e);
}

/* every IFUNC definition passes the filter; most other names do not; an object without IFUNCs passes none */
static void ifunc_filter_never_misses(void **state)
{
	struct elf_info e;
	size_t ifuncs = 0, ruled_out = 0;

	(void)state;
	assert_int_equal(elf_info_load(NULL, libc_path, &e), 0);
	for (size_t i = 0; i < e.n_dynsyms; i++) {
		const struct elf_symbol *d = &e.dynsyms[i];
		const struct elf_symbol *found = elf_dynsym_find(&e, d->name, d->version);
		bool maybe = elf_dynsym_maybe_ifunc(&e, d->name);

		if (found && found->type == STT_GNU_IFUNC)
			assert_true(maybe);
		found = elf_dynsym_find(&e, d->name, NULL);	/* an unversioned reference */
		if (found && found->type == STT_GNU_IFUNC)
			assert_true(maybe);
		ifuncs += d->type == STT_GNU_IFUNC;
		ruled_out += !maybe;
	}
	assert_true(ifuncs > 10);
	assert_true(ruled_out > e.n_dynsyms / 2);
	assert_false(elf_dynsym_maybe_ifunc(&e, "cpuport_no_such_symbol_here"));
	elf_info_free(&e);
	assert_int_equal(elf_info_load(NULL, "/proc/self/exe", &e), 0);	/* this test defines none */
	for (size_t i = 0; i < e.n_dynsyms; i++)
		assert_false(elf_dynsym_maybe_ifunc(&e, e.dynsyms[i].name));
	assert_false(elf_dynsym_maybe_ifunc(&e, "memcpy"));
	elf_info_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(index_equals_linear_search),
		cmocka_unit_test(ifunc_filter_never_misses),
	};

	dl_iterate_phdr(find_cb, NULL);
	if (!libc_path[0])
		UNIT_SKIP_ALL("no libc.so.6 mapped in this process");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
