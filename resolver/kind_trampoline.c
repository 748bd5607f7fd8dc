// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dispatcher kind "trampoline": GOT[2] of every lazily bound object, the
 * _dl_runtime_resolve_{xsavec,xsave,fxsave} ld.so picked for the source CPU.
 * The helper reports its own GOT[2] ("trampoline"): what ld.so picks here.
 */
#include <inttypes.h>

#include <string.h>

#include "restore.h"

static int record(struct scan *s, int oi)
{
	const struct elf_info *e = scan_elf(s, oi);
	uint64_t v;
	int di;

	if (!e->pltgot || e->bind_now || scan_read_u64(s, scan_base(s, oi) + e->pltgot + 16, &v) || !v)
		return 0;
	di = scan_object_at(s, v);
	if (di < 0 || !scan_is_interp(s, di))
		return 0;
	return scan_add_state(s, oi, CPUPORT__STATE_KIND__LAZY_TRAMPOLINE, "GOT[2]", e->pltgot + 16, 8, true);
}

static int verify(struct restore *r, size_t i)
{
	const Cpuport__State *st = r->img->states[i];
	const struct elf_info *e = r->objs[st->object].elf;

	if (e->pltgot && st->offset == e->pltgot + 16 && st->size == 8)
		return 0;
	return state_bad(r, st);
}

static int plan(struct restore *r, size_t i)
{
	const Cpuport__State *s = r->img->states[i];
	uint64_t v;

	if (r->sel.tramp_obj != r->interp) {
		log_err(r->ctx, "pid %d: helper did not report ld.so's lazy-binding trampoline\n", r->pid);
		return -ECHILD;
	}
	/* ld.so's code, and where its symbols are known, the start of one of its _dl_runtime_resolve_* */
	{
		const struct elf_info *e = r->objs[r->interp].elf;
		const struct elf_symbol *sym = (elf_info_want_syms(e), e->has_symtab) || e->syms_from_debug ? elf_sym_at(e, r->sel.tramp_off) : NULL;

		if (!in_code(r, r->interp, r->sel.tramp_off) ||
		    ((e->has_symtab || e->syms_from_debug) &&
		     (!sym || sym->value != r->sel.tramp_off || strncmp(sym->name, "_dl_runtime_resolve", 19)))) {
			log_err(r->ctx, "pid %d: the helper's lazy-binding trampoline %s+%#" PRIx64 " is not one of ld.so's "
				"_dl_runtime_resolve entries: refusing\n", r->pid, obj_name(r, r->interp), r->sel.tramp_off);
			return -EPROTO;
		}
	}
	v = new_addr(r, r->interp, r->sel.tramp_off);
	r->st.states++;
	return add_write(r, new_addr(r, s->object, s->offset), &v, 8, "GOT[2]");
}

const struct cpuport_kind kind_trampoline = {
	.name = "trampoline",
	.table = KIND_STATES,
	.state_kinds = 1u << CPUPORT__STATE_KIND__LAZY_TRAMPOLINE,
	.max_size = 8,
	.record = record,
	.verify = verify,
	/* no question: the helper's "trampoline" line answers it */
	.plan = plan,
};
