// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The registry of dispatcher kinds.  scan.c records, verify.c/ask.c/
 * restore.c plan and report.c explains by walking this list, in this order
 * (the order records appear in an image).  A new kind: its kind_*.c file,
 * its proto enum value(s), and one line in each list below.
 */
#include "restore.h"

extern const struct cpuport_kind kind_ifunc, kind_irelative, kind_trampoline, kind_libgcc, kind_cpu_features,
	kind_glibc_tuning, kind_openssl, kind_census;

const struct cpuport_kind *const cpuport_kinds[] = {
	&kind_irelative,	/* slots first, by relocation */
	&kind_ifunc,
	&kind_trampoline,	/* then each object's states */
	&kind_libgcc,
	&kind_cpu_features,
	&kind_glibc_tuning,
	&kind_openssl,
	&kind_census,		/* whole-process: the ISA census of all code */
	NULL,
};

_Static_assert(CPUPORT__SLOT_KIND__ABS64 < 32 && CPUPORT__STATE_KIND__OPENSSL_IA32CAP < 32,
	       "kinds are bits of a uint32_t");

const struct cpuport_kind *kind_of_slot(uint32_t slot_kind)
{
	for (const struct cpuport_kind *const *k = cpuport_kinds; *k && slot_kind < 32; k++)
		if ((*k)->table == KIND_SLOTS && (*k)->slot_kinds >> slot_kind & 1)
			return *k;
	return NULL;
}

const struct cpuport_kind *kind_of_state(uint32_t state_kind)
{
	for (const struct cpuport_kind *const *k = cpuport_kinds; *k && state_kind < 32; k++)
		if ((*k)->table == KIND_STATES && (*k)->state_kinds >> state_kind & 1)
			return *k;
	return NULL;
}
