// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel's view of the CPU (/proc/cpuinfo "flags") against cpuport's
 * (CPUID + XCR0).
 *
 * The rule when they disagree: cpuport takes CPUID (with XCR0 gating the
 * AVX and AVX-512 state).  CPUID is what every resolver reads (glibc's
 * cpu_features, libgcc's __cpu_indicator_init, OpenSSL's ia32cap), so it is
 * what a fresh process on this CPU binds to; and the kernel cannot make an
 * instruction that CPUID reports fault, so such code runs.  A flag the kernel
 * clears while CPUID reports it (RDSEED on AMD Zen 5, cleared for an erratum;
 * features turned off on the kernel command line) is reported as "hidden by
 * the kernel" and changes no decision.  A flag the kernel reports while the
 * decode lacks it has no such explanation: that is a decode error, and
 * cpu_kernel_compare() says so in @unexplained.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* cpuport feature -> the kernel's flag name where the two differ */
static const struct {
	enum feature f;
	const char *kernel;
} renamed[] = {
	{ F_SSE3, "pni" }, { F_LZCNT, "abm" }, { F_PCLMUL, "pclmulqdq" },
	{ F_AVX512VBMI2, "avx512_vbmi2" }, { F_AVX512VNNI, "avx512_vnni" },
	{ F_AVX512BITALG, "avx512_bitalg" }, { F_AVX512VPOPCNTDQ, "avx512_vpopcntdq" },
	{ F_AVX512BF16, "avx512_bf16" }, { F_AVX512FP16, "avx512_fp16" },
};

/* Flags the kernel shows for reasons other than the CPUID bit cpuport decodes. */
static const enum feature not_compared[] = {
	F_OSXSAVE,	/* mirrors CR4.OSXSAVE, which the kernel sets after boot-time probing */
	F_RTM,		/* cleared by the kernel for TSX mitigations while CPUID may keep it */
	F_PKU,		/* "pku" is the CPU's, "ospke" the kernel's; CPUID reports OSPKE */
	F_FSGSBASE,	/* shown only when the kernel enables it (CR4.FSGSBASE) */
};

const char *cpu_kernel_flag_name(enum feature f)
{
	for (size_t i = 0; i < ARRAY_SIZE(renamed); i++)
		if (renamed[i].f == f)
			return renamed[i].kernel;
	for (size_t i = 0; i < ARRAY_SIZE(not_compared); i++)
		if (not_compared[i] == f)
			return NULL;
	return feature_name(f);
}

static bool has_word(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\t') && (!p[n] || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

int cpu_kernel_compare(const struct cpu_desc *d, const char *flags, struct featset *hidden,
		       struct featset *unexplained)
{
	if (!d || !flags)
		return -EINVAL;
	memset(hidden, 0, sizeof(*hidden));
	memset(unexplained, 0, sizeof(*unexplained));
	for (int f = 0; f < F__COUNT; f++) {
		const char *k = cpu_kernel_flag_name(f);
		bool kern, ours = featset_has(&d->feat, f);

		if (!k)
			continue;
		kern = has_word(flags, k);
		if (ours && !kern)
			featset_set(hidden, f);
		else if (kern && !ours)
			featset_set(unexplained, f);
	}
	return 0;
}

int cpu_kernel_flags(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "flags", 5) || !colon)
			continue;
		if (strlen(colon + 1) >= len) {
			ret = -ENOSPC;
			break;
		}
		strcpy(buf, colon + 1);
		ret = 0;
		break;
	}
	free(line);
	fclose(f);
	return ret;
}
