/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* capstone x86 register helpers shared by variant_set.c and isa_census.c.  Not installed. */
#ifndef CPUPORT_X86_REGS_H
#define CPUPORT_X86_REGS_H

#include <capstone/capstone.h>

/* isa.c: an x86-64 capstone handle with instruction details and one instruction buffer for
 * cs_disasm_iter(); 0, or -ENOSYS / -ENOMEM with *h = 0 and *in = NULL.  Close with x86_cs_close()
 * (either may be unset). */
int x86_cs_open(csh *h, cs_insn **in);
void x86_cs_close(csh *h, cs_insn *in);

/* 0..15 for rax..r15 and their sub-registers, -1 for anything else (rip, rsp too: index 4 is rsp). */
static inline int x86_gpr(x86_reg r)
{
	switch (r) {
	case X86_REG_RAX: case X86_REG_EAX: case X86_REG_AX: case X86_REG_AL: case X86_REG_AH: return 0;
	case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CL: case X86_REG_CH: return 1;
	case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL: case X86_REG_DH: return 2;
	case X86_REG_RBX: case X86_REG_EBX: case X86_REG_BX: case X86_REG_BL: case X86_REG_BH: return 3;
	case X86_REG_RSP: case X86_REG_ESP: case X86_REG_SP: case X86_REG_SPL: return 4;
	case X86_REG_RBP: case X86_REG_EBP: case X86_REG_BP: case X86_REG_BPL: return 5;
	case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL: return 6;
	case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL: return 7;
	case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B: return 8;
	case X86_REG_R9: case X86_REG_R9D: case X86_REG_R9W: case X86_REG_R9B: return 9;
	case X86_REG_R10: case X86_REG_R10D: case X86_REG_R10W: case X86_REG_R10B: return 10;
	case X86_REG_R11: case X86_REG_R11D: case X86_REG_R11W: case X86_REG_R11B: return 11;
	case X86_REG_R12: case X86_REG_R12D: case X86_REG_R12W: case X86_REG_R12B: return 12;
	case X86_REG_R13: case X86_REG_R13D: case X86_REG_R13W: case X86_REG_R13B: return 13;
	case X86_REG_R14: case X86_REG_R14D: case X86_REG_R14W: case X86_REG_R14B: return 14;
	case X86_REG_R15: case X86_REG_R15D: case X86_REG_R15W: case X86_REG_R15B: return 15;
	default: return -1;
	}
}

static inline bool x86_is_gpr64(x86_reg r)
{
	return r == X86_REG_RAX || r == X86_REG_RCX || r == X86_REG_RDX || r == X86_REG_RBX || r == X86_REG_RSP ||
	       r == X86_REG_RBP || r == X86_REG_RSI || r == X86_REG_RDI || (r >= X86_REG_R8 && r <= X86_REG_R15);
}

static inline bool x86_is_gpr32(x86_reg r)
{
	return r == X86_REG_EAX || r == X86_REG_ECX || r == X86_REG_EDX || r == X86_REG_EBX || r == X86_REG_ESP ||
	       r == X86_REG_EBP || r == X86_REG_ESI || r == X86_REG_EDI || (r >= X86_REG_R8D && r <= X86_REG_R15D);
}

/* A [rip+disp] memory operand's absolute address. */
static inline bool x86_rip_mem(const cs_insn *insn, const cs_x86_op *op, uint64_t *addr)
{
	if (op->type != X86_OP_MEM || op->mem.base != X86_REG_RIP || op->mem.index != X86_REG_INVALID)
		return false;
	*addr = insn->address + insn->size + (uint64_t)op->mem.disp;
	return true;
}

static inline bool x86_in_group(const cs_insn *insn, uint8_t g)
{
	for (uint8_t i = 0; insn->detail && i < insn->detail->groups_count; i++)
		if (insn->detail->groups[i] == g)
			return true;
	return false;
}

#endif
