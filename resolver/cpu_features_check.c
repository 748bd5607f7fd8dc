// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ld.so's CPU state as the helper reports it must decode as that glibc's
 * structures and agree with this CPU (the destination: the library runs on
 * it), or nothing is written (issue 13: "state bytes must decode as that
 * layout's structure").  struct cpu_features (glibc sysdeps/x86/include/
 * cpu-features.h):
 *   basic        kind (1..4), max_cpuid, family, model, stepping: from CPUID 0 and 1
 *   features[i]  { cpuid[4], active[4] }: cpuid = CPUID of that index's leaf here,
 *                active (usable) a subset of cpuid, except the bits this very glibc
 *                sets without a CPUID bit on this CPU (read from our own ld.so)
 *   isa_1        x86-64 levels, GNU_PROPERTY_X86_ISA_1_{BASELINE,V2,V3,V4}
 *   xsave sizes  full = ALIGN_UP(CPUID(0xd,0).ebx + STATE_SAVE_OFFSET, 64); 0 < size <= full
 * _dl_hwcap holds HWCAP_X86_{SSE2,64,AVX512_1} only; _dl_minsigstacksize is
 * the kernel's AT_MINSIGSTKSZ where it gives one.
 */
#include <cpuid.h>
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include "internal.h"

#define BASIC_SIZE 20		/* struct cpu_features_basic */
#define FEATURE_SIZE 32		/* struct cpuid_feature_internal: cpuid[4], active[4] */
#define STATE_SAVE_OFFSET 64	/* sysdeps/x86/sysdep.h: 8 * 7 + 8 */

/* enum cpuid_index (append-only): the leaf and subleaf each index holds */
static const uint32_t index_leaf[][2] = {
	{ 1, 0 }, { 7, 0 }, { 0x80000001, 0 }, { 0xd, 1 }, { 0x80000007, 0 },
	{ 0x80000008, 0 }, { 7, 1 }, { 0x19, 0 }, { 0x14, 0 },
};

static uint32_t u32_at(const uint8_t *b, size_t off)
{
	uint32_t v;

	memcpy(&v, b + off, 4);
	return v;
}

static uint64_t u64_at(const uint8_t *b, size_t off)
{
	uint64_t v;

	memcpy(&v, b + off, 8);
	return v;
}

/* Bits our own ld.so (the same glibc release) marks usable without their CPUID bit here. */
static void own_extra_bits(const struct glibc_layout *l, uint32_t extra[][4])
{
	const void *(*get)(unsigned int) = (const void *(*)(unsigned int))dlsym(RTLD_DEFAULT, "_dl_x86_get_cpu_features");
	const uint8_t *own;

	memset(extra, 0, sizeof(uint32_t[4]) * l->n_cpuid);
	if (!get || strcmp(gnu_get_libc_version(), l->version) || !(own = get(0)))
		return;
	for (uint32_t i = 0; i < l->n_cpuid; i++)
		for (int j = 0; j < 4; j++)
			extra[i][j] = u32_at(own, BASIC_SIZE + i * FEATURE_SIZE + 16 + 4 * j) &
				      ~u32_at(own, BASIC_SIZE + i * FEATURE_SIZE + 4 * j);
}

int cpu_features_consistent(const struct glibc_layout *l, const uint8_t *b, size_t len, char *why, size_t wlen)
{
	uint32_t a, bx, c, d, max, ext_max, fam, base_model, ext_model, extra[16][4];

	if (len != l->cpu_features_size || l->n_cpuid > ARRAY_SIZE(index_leaf) ||
	    BASIC_SIZE + l->n_cpuid * FEATURE_SIZE > len) {
		snprintf(why, wlen, "%zu bytes, not glibc %s's %u", len, l->version, l->cpu_features_size);
		return -EPROTO;
	}
	__cpuid(0, max, bx, c, d);
	ext_max = __get_cpuid_max(0x80000000, NULL);
	__cpuid(1, a, bx, c, d);
	fam = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf, ext_model = (a >> 12) & 0xf0;
	if (fam == 0xf)
		fam += (a >> 20) & 0xff;
	if (u32_at(b, 0) < 1 || u32_at(b, 0) > 4) {
		snprintf(why, wlen, "basic.kind %u is no CPU kind", u32_at(b, 0));
		return -EPROTO;
	}
	if (u32_at(b, 4) != max) {
		snprintf(why, wlen, "basic.max_cpuid %#x, CPUID says %#x", u32_at(b, 4), max);
		return -EPROTO;
	}
	if (u32_at(b, 0) != 4 && (u32_at(b, 8) != fam || u32_at(b, 16) != (a & 0xf) ||
				  (u32_at(b, 12) != base_model && u32_at(b, 12) != base_model + ext_model))) {
		snprintf(why, wlen, "basic family/model/stepping %#x/%#x/%#x, CPUID 1 says %#x", u32_at(b, 8),
			 u32_at(b, 12), u32_at(b, 16), a);
		return -EPROTO;
	}
	own_extra_bits(l, extra);
	for (uint32_t i = 0; i < l->n_cpuid; i++) {
		uint32_t leaf = index_leaf[i][0], want[4] = { 0 }, have[4], act[4];
		bool zero = true;

		if (leaf < 0x80000000 ? leaf <= max : leaf <= ext_max) {
			__cpuid_count(leaf, index_leaf[i][1], want[0], want[1], want[2], want[3]);
			if (leaf == 1)
				want[1] &= 0x00ffffff;	/* the initial APIC id: whichever CPU ran it */
		}
		for (int j = 0; j < 4; j++) {
			have[j] = u32_at(b, BASIC_SIZE + i * FEATURE_SIZE + 4 * j);
			act[j] = u32_at(b, BASIC_SIZE + i * FEATURE_SIZE + 16 + 4 * j);
			zero &= !have[j];
		}
		if (leaf == 1)
			have[1] &= 0x00ffffff;
		/* kind "other" fills no extended leaves */
		if (memcmp(have, want, sizeof(want)) && !(zero && u32_at(b, 0) == 4 && leaf >= 0x80000000)) {
			snprintf(why, wlen, "features[%u] (CPUID %#x.%u) %08x %08x %08x %08x, CPUID says %08x %08x %08x %08x",
				 i, leaf, index_leaf[i][1], have[0], have[1], have[2], have[3], want[0], want[1], want[2],
				 want[3]);
			return -EPROTO;
		}
		for (int j = 0; j < 4; j++)
			if (act[j] & ~have[j] & ~extra[i][j]) {
				snprintf(why, wlen, "features[%u].active[%d] %#x has bits %#x this CPU lacks", i, j, act[j],
					 act[j] & ~have[j] & ~extra[i][j]);
				return -EPROTO;
			}
	}
	if (l->isa_1 && (u32_at(b, l->isa_1) & ~0xfu)) {
		snprintf(why, wlen, "isa_1 %#x is no set of x86-64 levels", u32_at(b, l->isa_1));
		return -EPROTO;
	}
	if (l->xsave_state_size && l->xsave_state_full_size) {
		uint64_t size = u64_at(b, l->xsave_state_size), full = u32_at(b, l->xsave_state_full_size), want = 0;

		if (max >= 0xd) {
			__cpuid_count(0xd, 0, a, bx, c, d);
			want = bx ? (bx + STATE_SAVE_OFFSET + 63) & ~63ull : 0;
		}
		if (full != want || size > full || (want && !size)) {
			snprintf(why, wlen, "xsave_state_size %#" PRIx64 " / full %#" PRIx64 ", CPUID 0xd says full %#" PRIx64,
				 size, full, want);
			return -EPROTO;
		}
	}
	return 0;
}

/* _dl_hwcap (@is_hwcap) or _dl_minsigstacksize, 8 bytes. */
int rtld_word_consistent(bool is_hwcap, uint64_t v, char *why, size_t wlen)
{
	unsigned long k = getauxval(AT_MINSIGSTKSZ);

	if (is_hwcap && (v & ~7ull)) {
		snprintf(why, wlen, "_dl_hwcap %#" PRIx64 " has bits other than HWCAP_X86_{SSE2,64,AVX512_1}", v);
		return -EPROTO;
	}
	if (!is_hwcap && (k ? v != k : !v || v > (1u << 20))) {
		snprintf(why, wlen, "_dl_minsigstacksize %#" PRIx64 ", the kernel says %#lx", v, k);
		return -EPROTO;
	}
	return 0;
}
