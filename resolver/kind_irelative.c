// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dispatcher kind "irelative": R_X86_64_IRELATIVE slots, whose resolver is
 * the relocation's addend in the same object.  This is how GCC target_clones
 * functions are called (in executables and libraries alike) and how glibc
 * calls its own IFUNCs internally.  Executables' resolvers run in the helper
 * with the executable mapped at its link address (ask.c: "exe"/"seg"/"map").
 */
#include <gelf.h>

#include "restore.h"

static int record_reloc(struct scan *s, int oi, const struct elf_reloc *r, uint64_t value)
{
	if (r->type != R_X86_64_IRELATIVE)
		return 0;
	return scan_add_slot(s, oi, r, value, scan_base(s, oi) + r->addend, true);
}

/* The destination's file must have this relocation with this resolver as its addend. */
static int verify(struct restore *r, size_t i)
{
	const Cpuport__Slot *s = r->img->slots[i];
	const struct elf_reloc *rel = elf_reloc_at(r->objs[s->object].elf, s->offset);

	if (!rel || rel->type != R_X86_64_IRELATIVE || s->resolver->object != s->object ||
	    (uint64_t)rel->addend != s->resolver->offset)
		return slot_bad(r, s);
	return 0;
}

const struct cpuport_kind kind_irelative = {
	.name = "irelative",
	.table = KIND_SLOTS,
	.slot_kinds = 1u << CPUPORT__SLOT_KIND__IRELATIVE,
	.record_reloc = record_reloc,
	.verify = verify,
	.ask = slot_ask,
	.plan = slot_plan,
	.explain = slot_explain,
};
