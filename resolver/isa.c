// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Which ISA extensions a piece of machine code needs, decoded with
 * capstone.  Used to tell whether a thread may finish inside a variant on
 * the destination, and by `cpuport check` to explain each variant.
 */
#include <capstone/capstone.h>
#include <string.h>

#include "internal.h"

static const struct {
	int group;
	enum feature f;
} groups[] = {
	{ X86_GRP_SSE3, F_SSE3 },	{ X86_GRP_SSSE3, F_SSSE3 },   { X86_GRP_SSE41, F_SSE4_1 },
	{ X86_GRP_SSE42, F_SSE4_2 },	{ X86_GRP_SSE4A, F_SSE4A },   { X86_GRP_AVX, F_AVX },
	{ X86_GRP_AVX2, F_AVX2 },	{ X86_GRP_AVX512, F_AVX512F }, { X86_GRP_BWI, F_AVX512BW },
	{ X86_GRP_VLX, F_AVX512VL },	{ X86_GRP_DQI, F_AVX512DQ },  { X86_GRP_CDI, F_AVX512CD },
	{ X86_GRP_BMI, F_BMI1 },	{ X86_GRP_BMI2, F_BMI2 },     { X86_GRP_FMA, F_FMA },
	{ X86_GRP_FMA4, F_FMA4 },	{ X86_GRP_XOP, F_XOP },	      { X86_GRP_F16C, F_F16C },
	{ X86_GRP_AES, F_AES },		{ X86_GRP_PCLMUL, F_PCLMUL }, { X86_GRP_SHA, F_SHA },
	{ X86_GRP_ADX, F_ADX },		{ X86_GRP_RTM, F_RTM },	      { X86_GRP_FSGSBASE, F_FSGSBASE },
};

int isa_required(const uint8_t *code, size_t len, uint64_t addr, struct featset *need)
{
	csh h;
	cs_insn *insn;
	size_t n;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -ENOSYS;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	cs_option(h, CS_OPT_SKIPDATA, CS_OPT_ON);	/* glibc pads between blocks */
	n = cs_disasm(h, code, len, addr, 0, &insn);
	for (size_t i = 0; i < n; i++) {
		const cs_detail *d = insn[i].detail;

		for (uint8_t g = 0; d && g < d->groups_count; g++)
			for (size_t k = 0; k < ARRAY_SIZE(groups); k++)
				if (d->groups[g] == groups[k].group)
					featset_set(need, groups[k].f);
		/* ymm/zmm operands imply AVX / AVX-512 even when capstone gives no group */
		if (insn[i].op_str[0] == 'z' || strstr(insn[i].op_str, "zmm") || strstr(insn[i].op_str, "{k"))
			featset_set(need, F_AVX512F);
		else if (strstr(insn[i].op_str, "ymm"))
			featset_set(need, F_AVX);
		if (!strcmp(insn[i].mnemonic, "movbe"))
			featset_set(need, F_MOVBE);
		else if (!strcmp(insn[i].mnemonic, "lzcnt"))
			featset_set(need, F_LZCNT);
		else if (!strcmp(insn[i].mnemonic, "popcnt"))
			featset_set(need, F_POPCNT);
	}
	if (n)
		cs_free(insn, n);
	cs_close(&h);
	return 0;
}
