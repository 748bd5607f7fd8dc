// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dispatcher kind "libgcc": libgcc's __cpu_model and __cpu_features2, the
 * CPU model GCC target_clones resolvers and __builtin_cpu_supports() read,
 * in libgcc_s or statically linked into any object.  The helper initialises
 * each copy, masks it for a target ("mask", "model") and reads it back.
 */
#include <gelf.h>

#include "restore.h"

static int record(struct scan *s, int oi)
{
	const struct elf_info *e = scan_elf(s, oi);
	const struct elf_symbol *sym;
	int ret = 0;

	if ((sym = elf_sym_named(e, "__cpu_model")) && sym->type == STT_OBJECT)
		ret = scan_add_state(s, oi, CPUPORT__STATE_KIND__LIBGCC_CPU_MODEL, sym->name, sym->value, sym->size,
				     false);
	if (!ret && (sym = elf_sym_named(e, "__cpu_features2")) && sym->type == STT_OBJECT)
		ret = scan_add_state(s, oi, CPUPORT__STATE_KIND__LIBGCC_FEATURES2, sym->name, sym->value, sym->size,
				     false);
	return ret;
}

/* For a target: which of libgcc's feature bits to keep. */
static int prepare(struct restore *r)
{
	uint32_t w[4];
	int ret;

	if (r->ctx->target_is_host)
		return 0;
	ret = libgcc_mask_words(&r->ctx->target.feat, w, ARRAY_SIZE(w));
	if (ret)
		return ret;
	selp_put_mask(r->sel.req, w, ARRAY_SIZE(w));
	return 0;
}

static void object_sent(struct restore *r, uint32_t obj)
{
	const Cpuport__State *m = find_state(r->img, obj, CPUPORT__STATE_KIND__LIBGCC_CPU_MODEL);
	const Cpuport__State *f2 = find_state(r->img, obj, CPUPORT__STATE_KIND__LIBGCC_FEATURES2);
	const struct elf_symbol *init = elf_sym_named(r->objs[obj].elf, "__cpu_indicator_init");

	if (m)
		selp_put_model(r->sel.req, obj, m->offset, m->size, f2 ? f2->offset : 0, f2 ? f2->size : 0,
			       init ? init->value : 0);
}

const struct cpuport_kind kind_libgcc = {
	.name = "libgcc",
	.table = KIND_STATES,
	.state_kinds = 1u << CPUPORT__STATE_KIND__LIBGCC_CPU_MODEL | 1u << CPUPORT__STATE_KIND__LIBGCC_FEATURES2,
	.max_size = 1024,
	.record = record,
	.verify = state_verify_symbol,
	.prepare = prepare,
	.object_sent = object_sent,
	.ask = state_ask_read,
	.plan = state_plan_bytes,
};
