// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: reading a parsed ELF file back from the on-disk cache
 * (elf_blob.c) when an entry's checksum holds but its insides do not.  The
 * input is either a blob of its own (first byte even) or, to reach the
 * deep checks, patches to a real one (libm's parse): 5-byte records of a
 * 32-bit offset and a byte to XOR there.  Whatever it is, elf_info_from_blob
 * must refuse it or give an elf_info whose lookups stay in bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint8_t *real;
static size_t real_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cpuport_ctx *ctx = cpuport_ctx__new(NULL);
	struct elf_info info;
	void *blob;

	(void)argc;
	(void)argv;
	if (ctx && !elf_info_parse(ctx, "/lib/x86_64-linux-gnu/libm.so.6", &info)) {
		if (!elf_info_to_blob(&info, &blob, &real_len))
			real = blob;
		elf_info_free(&info);
	}
	cpuport_ctx__free(ctx);
	return 0;
}

static void use(const uint8_t *blob, size_t len)
{
	struct elf_info info;

	if (elf_info_from_blob(blob, len, &info))
		return;
	elf_dynsym_find(&info, "memcpy", "GLIBC_2.14");
	elf_dynsym_find(&info, "sin", NULL);
	for (size_t i = 0; i < info.n_relocs; i++)
		if (info.relocs[i].sym)
			elf_dynsym_find(&info, info.relocs[i].sym, info.relocs[i].version);
	if (!info.syms && info.dynsyms_by_value) {	/* what elf_info_finish() takes without a debug file */
		info.syms = info.dynsyms_by_value;
		info.n_syms = info.n_dynsyms_by_value;
	}
	for (size_t i = 0; i < info.n_syms; i++)
		elf_sym_at(&info, info.syms[i].value + 1);
	elf_sym_named(&info, "__cpu_model");
	elf_reloc_at(&info, 0x1000);
	elf_vaddr_to_offset(&info, info.dynamic, 16);
	elf_info_free(&info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b;

	if (!size)
		return 0;
	if (!(data[0] & 1) || !real) {
		use(data + 1, size - 1);
		return 0;
	}
	b = malloc(real_len);
	if (!b)
		return 0;
	memcpy(b, real, real_len);
	for (size_t i = 1; i + 5 <= size; i += 5) {
		uint32_t off;

		memcpy(&off, data + i, 4);
		b[off % real_len] ^= data[i + 4];
	}
	use(b, real_len);
	free(b);
	return 0;
}
