// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dispatcher kind "glibc_tuning": libc's CPU-derived thresholds (non-temporal
 * and rep-movsb thresholds, ...), variables that memcpy & co. read on every
 * call.  The helper reads its own libc's values, computed for this CPU.
 */
#include <gelf.h>

#include "restore.h"

static int record(struct scan *s, int oi)
{
	const struct elf_info *e = scan_elf(s, oi);
	int ret = 0;

	if (!e->glibc_version[0] || scan_is_interp(s, oi))
		return 0;
	for (const char *const *n = glibc_libc_tuning_syms; !ret && *n; n++) {
		const struct elf_symbol *sym = elf_sym_named(e, *n);

		if (sym && sym->type == STT_OBJECT && sym->size && sym->size <= 8)
			ret = scan_add_state(s, oi, CPUPORT__STATE_KIND__LIBC_TUNING, *n, sym->value, sym->size, false);
	}
	return ret;
}

const struct cpuport_kind kind_glibc_tuning = {
	.name = "glibc_tuning",
	.table = KIND_STATES,
	.state_kinds = 1u << CPUPORT__STATE_KIND__LIBC_TUNING,
	.max_size = 8,
	.record = record,
	.verify = state_verify_symbol,
	.ask = state_ask_read,
	.plan = state_plan_bytes,
};
