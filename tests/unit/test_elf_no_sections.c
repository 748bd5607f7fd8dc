// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Regression, issue 13 (defect 13): an object whose section headers are
 * stripped was silently not recorded (no .rela.dyn/.dynsym sections found),
 * so its IFUNC slots kept their variants at restore.  Such objects are read
 * from the dynamic segment, as ld.so reads them.
 * Checked against the same file with its section headers: the recorded
 * relocations and the defined dynamic symbols (names, versions, values,
 * types) are the same.  Files: the test fixtures (a library with
 * target_clones, the workload executable), libc.so.6 and ld.so; each copied
 * with the section header fields zeroed (e_shoff, e_shnum, e_shstrndx), and,
 * where llvm-objcopy is installed, through llvm-objcopy --strip-sections.
 */
#include <elf.h>
#include <sys/mman.h>

#include "unit.h"
#include "internal.h"

static const char *const files[] = {
	"build/fixtures/libclones.so", "build/fixtures/workload", "build/fixtures/workload-nopie",
	"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2",
};

static void strip_section_headers(uint8_t *p, size_t size, void *arg)
{
	(void)size, (void)arg;
	((Elf64_Ehdr *)p)->e_shoff = 0;
	((Elf64_Ehdr *)p)->e_shnum = 0;
	((Elf64_Ehdr *)p)->e_shstrndx = 0;
}

/* A memfd copy of @path without section headers; its /proc/self/fd path in @out. */
static int zeroed_copy(const char *path, char *out, size_t len)
{
	return unit_edited_copy(path, strip_section_headers, NULL, out, len);
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void compare(const char *what, const struct elf_info *a, const struct elf_info *b)
{
	print_message("%s: %zu relocations, %zu dynamic symbols (without section headers: %zu, %zu)\n", what,
		      a->n_relocs, a->n_dynsyms, b->n_relocs, b->n_dynsyms);
	assert_int_equal(a->n_relocs, b->n_relocs);
	for (size_t i = 0; i < a->n_relocs; i++) {
		assert_int_equal(a->relocs[i].offset, b->relocs[i].offset);
		assert_int_equal(a->relocs[i].type, b->relocs[i].type);
		assert_int_equal(a->relocs[i].addend, b->relocs[i].addend);
		assert_true(same_str(a->relocs[i].sym, b->relocs[i].sym));
		assert_true(same_str(a->relocs[i].version, b->relocs[i].version));
	}
	assert_int_equal(a->n_dynsyms, b->n_dynsyms);
	for (size_t i = 0; i < a->n_dynsyms; i++) {
		const struct elf_symbol *s = &a->dynsyms[i];
		const struct elf_symbol *t = elf_dynsym_find(b, s->name, s->version);

		assert_non_null(t);
		assert_int_equal(s->value, t->value);
		assert_int_equal(s->type, t->type);
		assert_true(same_str(s->version, t->version));
	}
	assert_int_equal(a->pltgot, b->pltgot);
	assert_int_equal(a->bind_now, b->bind_now);
	assert_int_equal(a->is_pie, b->is_pie);
	assert_int_equal(a->build_id_len, b->build_id_len);
}

static void same_as_with_section_headers(void **state)
{
	(void)state;
	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		struct elf_info with, without;
		char path[64];
		int fd;

		if (access(files[f], R_OK))
			continue;
		assert_int_equal(elf_info_load(NULL, files[f], &with), 0);
		fd = zeroed_copy(files[f], path, sizeof(path));
		assert_int_equal(elf_info_load(NULL, path, &without), 0);
		compare(files[f], &with, &without);
		if (strstr(files[f], "libclones") || strstr(files[f], "libc.so"))
			assert_true(with.n_relocs > 0);	/* there is something to compare */
		elf_info_free(&with);
		elf_info_free(&without);
		close(fd);
	}
}

static void llvm_strip_sections(void **state)
{
	char dir[] = "/tmp/cpuport-nosh.XXXXXX", out[600], *o;
	int st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		struct elf_info with, without;

		snprintf(out, sizeof(out), "%s/copy", dir);
		o = unit_run(&st, "llvm-objcopy --strip-sections %s %s 2>&1", files[f], out);
		free(o);
		if (st == 127 || (st && f == 0)) {
			o = unit_run(NULL, "rm -rf %s", dir);
			free(o);
			UNIT_SKIP("llvm-objcopy not installed");
		}
		if (st)
			continue;
		assert_int_equal(elf_info_load(NULL, files[f], &with), 0);
		assert_int_equal(elf_info_load(NULL, out, &without), 0);
		compare(files[f], &with, &without);
		elf_info_free(&with);
		elf_info_free(&without);
	}
	o = unit_run(NULL, "rm -rf %s", dir);
	free(o);
}

/* A fuzzer's input: .dynsym at an odd offset; read without misaligned access (the ASan/UBSan build checks). */
static void unaligned_tables(void **state)
{
	struct elf_info e;
	int ret;

	(void)state;
	ret = elf_info_load(NULL, "tests/fixtures/fuzz-elf-unaligned-dynsym.bin", &e);
	if (!ret)
		elf_info_free(&e);
	assert_true(ret == 0 || ret == -ENOEXEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_as_with_section_headers),
		cmocka_unit_test(llvm_strip_sections),
		cmocka_unit_test(unaligned_tables),
	};

	if (chdir(unit_top()))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
