// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * OpenSSL's capability vector, located from libcrypto's own code (see
 * openssl_cap.h), and the mask for its OPENSSL_ia32cap variable
 * (OPENSSL_ia32cap(3): "~A:~B" clears A from the CPUID.1 EDX:ECX pair and B
 * from the CPUID.7.0 EBX:ECX pair).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "openssl_cap.h"
#include "x86_regs.h"

#define WINDOW 512	/* instructions looked at in the setup function */

static bool writable(const struct elf_code *c, uint64_t vaddr)
{
	for (size_t i = 0; i < c->n_segs; i++)
		if (c->segs[i].w && vaddr >= c->segs[i].vaddr && vaddr - c->segs[i].vaddr < c->segs[i].memsz)
			return true;
	return false;
}

/* The last direct call target in .init, or 0. */
static uint64_t init_call(const struct elf_code *c, csh h, cs_insn *in)
{
	uint64_t addr = c->init.start, target = 0;
	const uint8_t *code = elf_code_bytes(c, addr, c->init.end - c->init.start);
	size_t size = c->init.end - c->init.start;

	if (!code || !size)
		return 0;
	while (cs_disasm_iter(h, &code, &size, &addr, in))
		if (in->id == X86_INS_CALL && in->detail->x86.op_count == 1 &&
		    in->detail->x86.operands[0].type == X86_OP_IMM)
			target = (uint64_t)in->detail->x86.operands[0].imm;
	return elf_code_is_text(c, target) ? target : 0;
}

static int locate_in(const struct elf_code *c, csh h, cs_insn *in, uint64_t fn, uint64_t *off, uint32_t *size)
{
	uint64_t regval[16] = { 0 }, found = 0, addr = fn;
	int64_t extent = 0;
	const uint8_t *code = elf_code_bytes(c, fn, 1);
	size_t left = 0;

	while (elf_code_bytes(c, fn, left + 1) && elf_code_is_text(c, fn + left) && left < WINDOW * 15)
		left++;
	for (int n = 0; n < WINDOW && code && cs_disasm_iter(h, &code, &left, &addr, in); n++) {
		const cs_x86 *x = &in->detail->x86;
		uint64_t a;
		int g;

		if (in->id == X86_INS_CALL) {
			if (regval[7] && !found)
				found = regval[7];	/* the vector passed in rdi */
			memset(regval, 0, sizeof(regval));	/* caller-saved or not: keep it simple */
			continue;
		}
		for (uint8_t i = 0; i < x->op_count; i++)	/* accesses through a register holding it */
			if (x->operands[i].type == X86_OP_MEM && (g = x86_gpr(x->operands[i].mem.base)) >= 0 &&
			    regval[g] && x->operands[i].mem.index == X86_REG_INVALID && in->id != X86_INS_LEA &&
			    (!found || regval[g] == found) && x->operands[i].mem.disp >= 0 &&
			    x->operands[i].mem.disp + x->operands[i].size > extent)
				extent = x->operands[i].mem.disp + x->operands[i].size;
		if (x->op_count != 2 || x->operands[0].type != X86_OP_REG || (g = x86_gpr(x->operands[0].reg)) < 0)
			continue;
		if (in->id == X86_INS_LEA && x86_is_gpr64(x->operands[0].reg) && x86_rip_mem(in, &x->operands[1], &a) &&
		    writable(c, a))
			regval[g] = a;
		else if (in->id == X86_INS_MOV && x->operands[1].type == X86_OP_REG && x86_is_gpr64(x->operands[0].reg) &&
			 x86_gpr(x->operands[1].reg) >= 0)
			regval[g] = regval[x86_gpr(x->operands[1].reg)];
		else if (x->operands[0].access & CS_AC_WRITE)
			regval[g] = 0;
	}
	if (!found)
		return -ENOENT;
	*off = found;
	*size = extent >= 8 && extent <= 64 ? (uint32_t)extent : 16;
	return 0;
}

int openssl_cap_locate(const struct elf_code *c, uint64_t *off, uint32_t *size)
{
	cs_insn *in = NULL;
	uint64_t fn;
	csh h;
	int ret = -ENOENT;

	if (c->init.end <= c->init.start)
		return -ENOENT;
	ret = x86_cs_open(&h, &in);
	if (ret)
		return ret;
	ret = -ENOENT;
	if ((fn = init_call(c, h, in)))
		ret = locate_in(c, h, in, fn, off, size);
	x86_cs_close(&h, in);
	return ret;
}

int openssl_cap_mask(const struct featset *host, const struct featset *target, char *buf, size_t len)
{
	uint64_t m[2] = { 0, 0 };
	int n;

	for (int f = 0; f < F__COUNT; f++) {
		uint32_t leaf, sub;
		int reg;
		unsigned int bit;

		if (!featset_has(host, f) || featset_has(target, f) || feature_cpuid_bit(f, &leaf, &sub, &reg, &bit))
			continue;
		if (leaf == 1 && reg == 3)		/* EDX: low half of the first pair */
			m[0] |= 1ULL << bit;
		else if (leaf == 1 && reg == 2)		/* ECX: high half */
			m[0] |= 1ULL << (32 + bit);
		else if (leaf == 7 && sub == 0 && reg == 1)	/* EBX */
			m[1] |= 1ULL << bit;
		else if (leaf == 7 && sub == 0 && reg == 2)	/* ECX */
			m[1] |= 1ULL << (32 + bit);
	}
	if (!m[0] && !m[1]) {
		buf[0] = 0;
		return len ? 0 : -ENOSPC;
	}
	n = snprintf(buf, len, "~0x%" PRIx64 ":~0x%" PRIx64, m[0], m[1]);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}
