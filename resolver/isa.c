// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Which ISA extensions a piece of machine code needs, decoded with
 * capstone.  Used to tell whether a thread may finish inside a variant on
 * the destination, by `cpuport check` to explain each variant, and by the
 * census of all executable code (isa_census.c), one instruction at a time.
 *
 * capstone 4.0 has groups for most extensions; the rest is decided from the
 * mnemonic and the operands.  Instructions capstone 4.0 cannot decode are
 * decided from their encoding (isa_undecodable()): EVEX (0x62) needs AVX-512
 * and, conservatively, every AVX-512 extension capstone 4.0 does not know
 * (VBMI, VBMI2, IFMA, VNNI, BITALG, VPOPCNTDQ, BF16, FP16); VEX (0xc4/0xc5)
 * needs AVX and the VEX extensions it does not know (GFNI, AVX-VNNI); other
 * bytes need the "unknown" bit (F_UNKNOWN_ISA), which callers treat as missing
 * on any CPU that lacks a feature the source had.
 *
 * tzcnt (F3 0F BC) is not counted as BMI1: CPUs without BMI1 execute it as
 * bsf, and compilers emit it for baseline code where both agree.  xend and
 * xabort are not counted as RTM: they only run inside a transaction, which
 * xbegin (counted) starts on this CPU, and no transaction survives a
 * checkpoint (glibc's elided unlock calls xend only for a lock it elided).
 */
#include <capstone/capstone.h>
#include <string.h>

#include "internal.h"
#include "x86_regs.h"

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

static const struct {
	const char *mnemonic;
	enum feature f;
	bool prefix;		/* match the mnemonic's start */
} mnemonics[] = {
	{ "movbe", F_MOVBE },	    { "lzcnt", F_LZCNT },	   { "popcnt", F_POPCNT },
	{ "rdrand", F_RDRAND },	    { "rdseed", F_RDSEED },	   { "xsavec", F_XSAVEC, true },
	{ "xsaveopt", F_XSAVEOPT, true }, { "xsaves", F_XSAVE, true }, { "xsave", F_XSAVE, true },
	{ "xrstor", F_XSAVE, true }, { "xgetbv", F_OSXSAVE },	  { "xsetbv", F_XSAVE },
	{ "clflushopt", F_CLFLUSHOPT }, { "clwb", F_CLWB },	   { "rdpid", F_RDPID },
	{ "movdiri", F_MOVDIRI },   { "cmpxchg16b", F_CX16 },	   { "lahf", F_LAHF },
	{ "sahf", F_LAHF },	    { "gf2p8", F_GFNI, true },	   { "xbegin", F_RTM },
	{ "xtest", F_RTM },
	{ "rdfsbase", F_FSGSBASE }, { "rdgsbase", F_FSGSBASE },	   { "wrfsbase", F_FSGSBASE },
	{ "wrgsbase", F_FSGSBASE }, { "rdpkru", F_PKU },	   { "wrpkru", F_PKU },
};

/* xmm16..31 / ymm16..31: EVEX only */
static bool hi_vector_reg(const char *ops)
{
	for (const char *p = ops; (p = strstr(p, "mm")); p += 2)
		if (p > ops && (p[-1] == 'x' || p[-1] == 'y') && ((p[2] == '1' && p[3] >= '6' && p[3] <= '9') ||
								 ((p[2] == '2' || p[2] == '3') && p[3] >= '0' &&
								  p[3] <= '9')))
			return true;
	return false;
}

void isa_insn_needs(const cs_insn *insn, struct featset *need)
{
	const cs_detail *d = insn->detail;
	const char *ops = insn->op_str, *m = insn->mnemonic;
	bool wide = strstr(ops, "ymm") || strstr(ops, "zmm");

	if (insn->id == X86_INS_TZCNT || insn->id == X86_INS_XEND || insn->id == X86_INS_XABORT)
		return;
	for (uint8_t g = 0; d && g < d->groups_count; g++)
		for (size_t k = 0; k < ARRAY_SIZE(groups); k++)
			if (d->groups[g] == groups[k].group)
				featset_set(need, groups[k].f);
	/* zmm, mask and xmm/ymm16..31 operands imply AVX-512, ymm AVX, even when capstone gives no group */
	if (strstr(ops, "zmm") || strstr(ops, "{k") || hi_vector_reg(ops))
		featset_set(need, F_AVX512F);
	else if (strstr(ops, "ymm"))
		featset_set(need, F_AVX);
	for (size_t k = 0; k < ARRAY_SIZE(mnemonics); k++)
		if (mnemonics[k].prefix ? !strncmp(m, mnemonics[k].mnemonic, strlen(mnemonics[k].mnemonic))
					: !strcmp(m, mnemonics[k].mnemonic))
			featset_set(need, mnemonics[k].f);
	if (wide && (!strncmp(m, "vaes", 4)))
		featset_set(need, F_VAES);
	if (wide && !strcmp(m, "vpclmulqdq"))
		featset_set(need, F_VPCLMULQDQ);
}

/* Skip legacy prefixes and REX; the first opcode byte's position. */
static size_t opcode_pos(const uint8_t *code, size_t len)
{
	size_t i = 0;

	while (i < len && i < 14 &&
	       (code[i] == 0x66 || code[i] == 0x67 || code[i] == 0xf2 || code[i] == 0xf3 || code[i] == 0xf0 ||
		code[i] == 0x2e || code[i] == 0x3e || code[i] == 0x26 || code[i] == 0x36 || code[i] == 0x64 ||
		code[i] == 0x65))
		i++;
	if (i < len && (code[i] & 0xf0) == 0x40)
		i++;
	return i;
}

/* ModRM + SIB + displacement bytes starting at @p; 0 if truncated. */
static size_t modrm_len(const uint8_t *p, size_t left)
{
	uint8_t modrm, mod, rm;
	size_t n = 1;

	if (!left)
		return 0;
	modrm = p[0];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod != 3 && rm == 4) {
		if (left < 2)
			return 0;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		n += 4;
	return n <= left ? n : 0;
}

size_t isa_insn_length(const uint8_t *code, size_t len)
{
	size_t i = opcode_pos(code, len), m;
	unsigned int map;
	uint8_t op;
	bool imm8;

	if (i >= len)
		return 0;
	if (code[i] == 0x62 && i + 4 < len) {		/* EVEX: 62 P0 P1 P2 op modrm */
		map = code[i + 1] & 7;
		op = code[i + 4];
		i += 5;
	} else if (code[i] == 0xc4 && i + 3 < len) {	/* VEX3: c4 R.X.B.mmmmm W.vvvv.L.pp op modrm */
		map = code[i + 1] & 0x1f;
		op = code[i + 3];
		i += 4;
	} else if (code[i] == 0xc5 && i + 2 < len) {	/* VEX2: map 0F */
		map = 1;
		op = code[i + 2];
		i += 3;
	} else if (code[i] == 0x0f && i + 2 < len) {
		map = code[i + 1] == 0x38 ? 2 : code[i + 1] == 0x3a ? 3 : 1;
		op = map == 1 ? code[i + 1] : code[i + 2];
		i += map == 1 ? 2 : 3;
	} else {
		return 0;
	}
	if (map < 1 || map > 3)
		return 0;
	m = modrm_len(code + i, len - i);
	if (!m)
		return 0;
	imm8 = map == 3 || (map == 1 && ((op >= 0x70 && op <= 0x73) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6)));
	i += m + imm8;
	return i <= len && i <= 15 ? i : 0;
}

void isa_undecodable(const uint8_t *code, size_t len, struct featset *need)
{
	size_t i = opcode_pos(code, len);

	if (i < len && code[i] == 0x62) {	/* EVEX (BOUND is invalid in 64-bit mode) */
		static const enum feature evex[] = { F_AVX512F, F_AVX512VBMI, F_AVX512VBMI2, F_AVX512IFMA,
						     F_AVX512VNNI, F_AVX512BITALG, F_AVX512VPOPCNTDQ,
						     F_AVX512BF16, F_AVX512FP16, F_GFNI, F_VAES, F_VPCLMULQDQ };

		for (size_t k = 0; k < ARRAY_SIZE(evex); k++)
			featset_set(need, evex[k]);
	} else if (i < len && (code[i] == 0xc4 || code[i] == 0xc5)) {	/* VEX */
		featset_set(need, F_AVX);
		featset_set(need, F_GFNI);
		featset_set(need, F_AVXVNNI);
	} else if (i + 2 < len && code[i] == 0x0f && code[i + 1] == 0x01 && (code[i + 2] == 0xee || code[i + 2] == 0xef)) {
		featset_set(need, F_PKU);	/* rdpkru, wrpkru */
	} else if (i + 3 < len && code[i] == 0x0f && code[i + 1] == 0x38 && code[i + 2] == 0xcf) {
		featset_set(need, F_GFNI);	/* gf2p8mulb (SSE encoding) */
	} else {
		featset_set(need, F_UNKNOWN_ISA);
	}
}

int x86_cs_open(csh *h, cs_insn **in)
{
	*h = 0;
	*in = NULL;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, h) != CS_ERR_OK) {
		*h = 0;
		return -ENOSYS;
	}
	cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	*in = cs_malloc(*h);
	if (!*in) {
		cs_close(h);
		*h = 0;
		return -ENOMEM;
	}
	return 0;
}

void x86_cs_close(csh *h, cs_insn *in)
{
	if (in)
		cs_free(in, 1);
	if (*h)
		cs_close(h);
	*h = 0;
}

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
	for (size_t i = 0; i < n; i++)
		if (insn[i].id != X86_INS_INVALID)	/* skipped data */
			isa_insn_needs(&insn[i], need);
	if (n)
		cs_free(insn, n);
	cs_close(&h);
	return 0;
}
