// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the ELF reader (libelf + cpuport's relocation, symbol,
 * version and note handling) on malformed ELF files.  The input is put in a
 * memfd and read through its /proc/self/fd path, as the scanner reads
 * /proc/PID/map_files.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_code.h"
#include "internal.h"
#include "isa_census.h"
#include "openssl_cap.h"
#include "variant_set.h"

static struct cpuport_ctx *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ctx = cpuport_ctx__new(NULL);
	return ctx ? 0 : -1;
}

/* The ISA census's own reader, .eh_frame parser, resolver walk and OpenSSL locator on the same bytes. */
static void fuzz_census(const char *path)
{
	struct elf_code c;
	struct isa_census *cen = NULL;
	uint64_t off;
	uint32_t size;

	if (elf_code_open(path, &c))
		return;
	for (size_t i = 0; i < c.n_rel && i < 8; i++) {
		struct variant_set s;

		if (!variant_set_compute(&c, (uint64_t)c.rel[i].addend, &s))
			variant_set_free(&s);
	}
	openssl_cap_locate(&c, &off, &size);
	if (c.file_size < (1u << 20) && !isa_census_build(&c, &cen))
		isa_census_free(cen);
	elf_code_close(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_info info;
	char path[64];
	int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (!elf_info_load(ctx, path, &info)) {
			/* exercise the lookups the scanner uses */
			elf_dynsym_find(&info, "memcpy", "GLIBC_2.14");
			elf_dynsym_find(&info, "memcpy", NULL);
			for (size_t i = 0; i < info.n_relocs; i++)
				elf_sym_at(&info, info.relocs[i].offset);
			elf_sym_named(&info, "__cpu_model");
			elf_vaddr_to_offset(&info, info.dynamic, 16);
			elf_info_free(&info);
		}
		fuzz_census(path);
	}
	close(fd);
	return 0;
}
