// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Regression (found by tests/fuzz/fuzz_elf): a section header claiming a
 * huge .dynsym/.rela size made the ELF reader allocate sh_size/sh_entsize
 * entries (14 GB).  Sizes must come from the data libelf actually read.
 */
#include <elf.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "unit.h"

#define LIB "build/fixtures/libclones.so"

/* every SHT_DYNSYM/SHT_RELA sh_size set to 2^40; the real dynsym count in *(size_t *)@arg */
static void inflate(uint8_t *p, size_t size, void *arg)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)p;
	Elf64_Shdr *sh = (Elf64_Shdr *)(p + eh->e_shoff);

	(void)size;
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_DYNSYM)
			*(size_t *)arg = sh[i].sh_size / sizeof(Elf64_Sym);
		if (sh[i].sh_type == SHT_DYNSYM || sh[i].sh_type == SHT_RELA)
			sh[i].sh_size = 1ULL << 40;
	}
}

/* A copy of LIB in a memfd with every SHT_DYNSYM/SHT_RELA sh_size set to 2^40. */
static int inflated_copy(char *path, size_t len, size_t *real_dynsyms)
{
	return unit_edited_copy(LIB, inflate, real_dynsyms, path, len);
}

static void huge_section_sizes_are_not_trusted(void **state)
{
	struct elf_info info;
	char path[64];
	size_t real = 0;
	int fd, ret;

	(void)state;
	fd = inflated_copy(path, sizeof(path), &real);
	ret = elf_info_load(NULL, path, &info);
	/* libelf may reject the file; if it reads it, no more symbols than really exist */
	if (ret == 0) {
		assert_true(info.n_dynsyms <= real);
		assert_true(info.n_relocs < 1000);
		elf_info_free(&info);
	}
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(huge_section_sizes_are_not_trusted),
	};

	if (access(LIB, R_OK)) {
		printf("SKIP: %s not built (make fixtures)\n", LIB);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
