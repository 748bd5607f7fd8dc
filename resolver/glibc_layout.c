// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Where a glibc build keeps its CPU-derived state.  struct rtld_global_ro
 * is private to glibc and changes between releases, so each supported
 * release is listed with the offsets read from its debug info
 * (gdb -batch -ex 'ptype/o struct rtld_global_ro' ld.so, with libc6-dbg).
 * The restore helper cross-checks cpu_features against
 * _dl_x86_get_cpu_features() before anything is written.
 */
#include <string.h>

#include "internal.h"

static const struct glibc_layout layouts[] = {
	/* Debian 12 (bookworm), x86-64 */
	{ .version = "2.36", .cpu_features = 112, .cpu_features_size = 480,
	  .platform = 8, .platformlen = 16, .minsigstacksize = 32, .hwcap = 96,
	  .n_cpuid = 9, .isa_1 = 312, .xsave_state_size = 320, .xsave_state_full_size = 328 },
	/* Debian 13 (trixie), x86-64: CPUID indexes are appended, so the first 9 are as in 2.36;
	 * the offsets after them are not checked (not verified on a 2.41 system) */
	{ .version = "2.41", .cpu_features = 112, .cpu_features_size = 528,
	  .platform = 8, .platformlen = 16, .minsigstacksize = 32, .hwcap = 96, .n_cpuid = 9 },
};

const struct glibc_layout *glibc_layout_find(const char *version)
{
	for (size_t i = 0; version && i < ARRAY_SIZE(layouts); i++)
		if (!strcmp(layouts[i].version, version))
			return &layouts[i];
	return NULL;
}

/*
 * libc's variables set from cpu_features at start-up (sysdeps/x86/
 * cacheinfo.h, elision-conf.c): plain integers, copied from the helper.
 * Found by name in libc's symbol table (libc6-dbg), skipped when absent.
 */
const char *const glibc_libc_tuning_syms[] = {
	"__x86_data_cache_size",
	"__x86_data_cache_size_half",
	"__x86_shared_cache_size",
	"__x86_shared_cache_size_half",
	"__x86_shared_non_temporal_threshold",
	"__x86_memset_non_temporal_threshold",	/* 2.40+ */
	"__x86_rep_movsb_threshold",
	"__x86_rep_stosb_threshold",
	"__x86_rep_movsb_stop_threshold",
	"__x86_string_control",
	"__pthread_force_elision",
	NULL,
};
