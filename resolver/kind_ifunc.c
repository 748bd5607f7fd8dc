// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dispatcher kind "ifunc": R_X86_64_JUMP_SLOT and R_X86_64_GLOB_DAT slots
 * bound to an STT_GNU_IFUNC definition (glibc's memcpy, strlen, ...), and
 * R_X86_64_64 function pointers in data bound to one (sqlite's math function
 * table holds libm's log: ld.so stored the variant its resolver chose).  The
 * resolver is the definition the dynamic linker found; a lazy JUMP_SLOT
 * still at its PLT stub is recorded unbound (it binds on this CPU later).
 */
#include <gelf.h>
#include <string.h>

#include "restore.h"

static int record_reloc(struct scan *s, int oi, const struct elf_reloc *r, uint64_t value)
{
	const struct elf_info *e = scan_elf(s, oi);
	const struct elf_symbol *def;
	uint64_t off = value - scan_base(s, oi);
	bool at_stub;
	int di;

	if (r->type != R_X86_64_JUMP_SLOT && r->type != R_X86_64_GLOB_DAT && r->type != R_X86_64_64)
		return 0;
	/* bound: the value lies in the object whose IFUNC was run */
	di = scan_object_at(s, value);
	def = NULL;	/* a definition that is not an IFUNC counts as none here */
	if (di >= 0 && elf_dynsym_maybe_ifunc(scan_elf(s, di), r->sym))
		def = elf_dynsym_find(scan_elf(s, di), r->sym, r->version);
	at_stub = di == oi && off >= e->plt_start && off < e->plt_end;
	if (def && def->type == STT_GNU_IFUNC && !at_stub)
		return scan_add_slot(s, oi, r, value, scan_base(s, di) + def->value, true);
	if (r->type != R_X86_64_JUMP_SLOT || !at_stub)
		return 0;
	/* lazy slot still at its PLT stub: who will it bind to? */
	di = scan_find_definer(s, r->sym, r->version, &def);
	if (di < 0 || def->type != STT_GNU_IFUNC)
		return 0;
	return scan_add_slot(s, oi, r, value, scan_base(s, di) + def->value, false);
}

/* The destination's file must have this relocation, and the symbol must be an IFUNC there. */
static int verify(struct restore *r, size_t i)
{
	const Cpuport__Slot *s = r->img->slots[i];
	const struct elf_reloc *rel = elf_reloc_at(r->objs[s->object].elf, s->offset);
	uint32_t type = s->kind == CPUPORT__SLOT_KIND__JUMP_SLOT ? R_X86_64_JUMP_SLOT
			: s->kind == CPUPORT__SLOT_KIND__ABS64	 ? R_X86_64_64
								 : R_X86_64_GLOB_DAT;
	const struct elf_symbol *def;

	if (!rel || rel->type != type || (type == R_X86_64_64 && rel->addend))
		return slot_bad(r, s);
	def = elf_dynsym_find(r->objs[s->resolver->object].elf, s->symbol, s->version);
	if (!rel->sym || strcmp(rel->sym, s->symbol) || !def || def->type != STT_GNU_IFUNC ||
	    def->value != s->resolver->offset)
		return slot_bad(r, s);
	return 0;
}

const struct cpuport_kind kind_ifunc = {
	.name = "ifunc",
	.table = KIND_SLOTS,
	.slot_kinds = 1u << CPUPORT__SLOT_KIND__JUMP_SLOT | 1u << CPUPORT__SLOT_KIND__GLOB_DAT |
		      1u << CPUPORT__SLOT_KIND__ABS64,
	.record_reloc = record_reloc,
	.verify = verify,
	.ask = slot_ask,
	.plan = slot_plan,
	.explain = slot_explain,
};
