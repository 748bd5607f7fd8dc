// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What a CPU can run: the host (CPUID + XCR0), a named model or x86-64
 * level, or a libcpuid raw dump.  libcpuid identifies vendor, family and
 * model; the feature bits are decoded here from the raw leaves, because
 * libcpuid does not report some that dispatchers key on (XSAVEC, ERMS,
 * FSRM, VAES ...) and because the same decoder must work on dumps.
 */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include <libcpuid/libcpuid.h>

#include "internal.h"

/* libcpuid_constants.h defines EAX..EDX = 0..3, the register order used below */
typedef int reg_t;

/* XCR0 bits the OS must enable before the feature is usable */
#define XCR0_AVX 0x6ULL	   /* SSE + YMM */
#define XCR0_AVX512 0xe6ULL /* + opmask, ZMM_Hi256, Hi16_ZMM */

static const struct feature_def {
	const char *name;
	uint32_t leaf, subleaf;
	reg_t reg;
	unsigned int bit;
	uint64_t xcr0;
	const char *glibc;	/* glibc.cpu.hwcaps name, if glibc can mask it */
} features[F__COUNT] = {
	[F_CMOV] = { "cmov", 1, 0, EDX, 15, 0, "CMOV" },
	[F_CX8] = { "cx8", 1, 0, EDX, 8, 0, "CX8" },
	[F_FPU] = { "fpu", 1, 0, EDX, 0, 0, NULL },
	[F_FXSR] = { "fxsr", 1, 0, EDX, 24, 0, NULL },
	[F_MMX] = { "mmx", 1, 0, EDX, 23, 0, NULL },
	[F_SSE] = { "sse", 1, 0, EDX, 25, 0, NULL },
	[F_SSE2] = { "sse2", 1, 0, EDX, 26, 0, NULL },
	[F_CX16] = { "cx16", 1, 0, ECX, 13, 0, NULL },
	[F_LAHF] = { "lahf_lm", 0x80000001, 0, ECX, 0, 0, NULL },
	[F_POPCNT] = { "popcnt", 1, 0, ECX, 23, 0, "POPCNT" },
	[F_SSE3] = { "sse3", 1, 0, ECX, 0, 0, NULL },
	[F_SSE4_1] = { "sse4_1", 1, 0, ECX, 19, 0, "SSE4_1" },
	[F_SSE4_2] = { "sse4_2", 1, 0, ECX, 20, 0, "SSE4_2" },
	[F_SSSE3] = { "ssse3", 1, 0, ECX, 9, 0, "SSSE3" },
	[F_AVX] = { "avx", 1, 0, ECX, 28, XCR0_AVX, "AVX" },
	[F_AVX2] = { "avx2", 7, 0, EBX, 5, XCR0_AVX, "AVX2" },
	[F_BMI1] = { "bmi1", 7, 0, EBX, 3, 0, "BMI1" },
	[F_BMI2] = { "bmi2", 7, 0, EBX, 8, 0, "BMI2" },
	[F_F16C] = { "f16c", 1, 0, ECX, 29, XCR0_AVX, NULL },
	[F_FMA] = { "fma", 1, 0, ECX, 12, XCR0_AVX, "FMA" },
	[F_LZCNT] = { "lzcnt", 0x80000001, 0, ECX, 5, 0, "LZCNT" },
	[F_MOVBE] = { "movbe", 1, 0, ECX, 22, 0, "MOVBE" },
	[F_OSXSAVE] = { "osxsave", 1, 0, ECX, 27, 0, NULL },
	[F_AVX512F] = { "avx512f", 7, 0, EBX, 16, XCR0_AVX512, "AVX512F" },
	[F_AVX512BW] = { "avx512bw", 7, 0, EBX, 30, XCR0_AVX512, "AVX512BW" },
	[F_AVX512CD] = { "avx512cd", 7, 0, EBX, 28, XCR0_AVX512, "AVX512CD" },
	[F_AVX512DQ] = { "avx512dq", 7, 0, EBX, 17, XCR0_AVX512, "AVX512DQ" },
	[F_AVX512VL] = { "avx512vl", 7, 0, EBX, 31, XCR0_AVX512, "AVX512VL" },
	[F_AVX512VBMI] = { "avx512vbmi", 7, 0, ECX, 1, XCR0_AVX512, NULL },
	[F_AVX512VBMI2] = { "avx512vbmi2", 7, 0, ECX, 6, XCR0_AVX512, NULL },
	[F_AVX512IFMA] = { "avx512ifma", 7, 0, EBX, 21, XCR0_AVX512, NULL },
	[F_AVX512VNNI] = { "avx512vnni", 7, 0, ECX, 11, XCR0_AVX512, NULL },
	[F_AVX512BITALG] = { "avx512bitalg", 7, 0, ECX, 12, XCR0_AVX512, NULL },
	[F_AVX512VPOPCNTDQ] = { "avx512vpopcntdq", 7, 0, ECX, 14, XCR0_AVX512, NULL },
	[F_AVX512BF16] = { "avx512bf16", 7, 1, EAX, 5, XCR0_AVX512, NULL },
	[F_AVX512FP16] = { "avx512fp16", 7, 0, EDX, 23, XCR0_AVX512, NULL },
	[F_AES] = { "aes", 1, 0, ECX, 25, 0, NULL },
	[F_PCLMUL] = { "pclmulqdq", 1, 0, ECX, 1, 0, NULL },
	[F_VAES] = { "vaes", 7, 0, ECX, 9, XCR0_AVX, NULL },
	[F_VPCLMULQDQ] = { "vpclmulqdq", 7, 0, ECX, 10, XCR0_AVX, NULL },
	[F_GFNI] = { "gfni", 7, 0, ECX, 8, 0, NULL },
	[F_SHA] = { "sha_ni", 7, 0, EBX, 29, 0, NULL },
	[F_ADX] = { "adx", 7, 0, EBX, 19, 0, NULL },
	[F_RDRAND] = { "rdrand", 1, 0, ECX, 30, 0, NULL },
	[F_RDSEED] = { "rdseed", 7, 0, EBX, 18, 0, NULL },
	[F_ERMS] = { "erms", 7, 0, EBX, 9, 0, "ERMS" },
	[F_FSRM] = { "fsrm", 7, 0, EDX, 4, 0, NULL },	/* glibc 2.36 has no FSRM tunable */
	[F_RTM] = { "rtm", 7, 0, EBX, 11, 0, "RTM" },
	[F_XSAVE] = { "xsave", 1, 0, ECX, 26, 0, NULL },
	[F_XSAVEC] = { "xsavec", 0xd, 1, EAX, 1, 0, "XSAVEC" },
	[F_XSAVEOPT] = { "xsaveopt", 0xd, 1, EAX, 0, 0, NULL },
	[F_CLFLUSHOPT] = { "clflushopt", 7, 0, EBX, 23, 0, NULL },
	[F_CLWB] = { "clwb", 7, 0, EBX, 24, 0, NULL },
	[F_FSGSBASE] = { "fsgsbase", 7, 0, EBX, 0, 0, NULL },
	[F_SSE4A] = { "sse4a", 0x80000001, 0, ECX, 6, 0, NULL },
	[F_FMA4] = { "fma4", 0x80000001, 0, ECX, 16, XCR0_AVX, "FMA4" },
	[F_XOP] = { "xop", 0x80000001, 0, ECX, 11, XCR0_AVX, NULL },
	[F_AVXVNNI] = { "avx_vnni", 7, 1, EAX, 4, XCR0_AVX, NULL },
	[F_PKU] = { "pku", 7, 0, ECX, 3, 0, NULL },
	[F_RDPID] = { "rdpid", 7, 0, ECX, 22, 0, NULL },
	[F_MOVDIRI] = { "movdiri", 7, 0, ECX, 27, 0, NULL },
};

/* The x86-64 psABI micro-architecture levels, cumulative. */
static const enum feature level_feats[][12] = {
	{ F_CMOV, F_CX8, F_FPU, F_FXSR, F_MMX, F_SSE, F_SSE2, F__COUNT },
	{ F_CX16, F_LAHF, F_POPCNT, F_SSE3, F_SSE4_1, F_SSE4_2, F_SSSE3, F__COUNT },
	{ F_AVX, F_AVX2, F_BMI1, F_BMI2, F_F16C, F_FMA, F_LZCNT, F_MOVBE, F_OSXSAVE, F__COUNT },
	{ F_AVX512F, F_AVX512BW, F_AVX512CD, F_AVX512DQ, F_AVX512VL, F__COUNT },
};

/* Named models: a base level plus what the model adds (gcc -march names). */
static const struct model_def {
	const char *name;
	const char *base;	/* another model or NULL */
	int level;
	enum feature add[24];
} models[] = {
	{ "x86-64-v1", NULL, 1, { F__COUNT } },
	{ "x86-64-v2", NULL, 2, { F__COUNT } },
	{ "x86-64-v3", NULL, 3, { F_XSAVE, F__COUNT } },
	{ "x86-64-v4", NULL, 4, { F_XSAVE, F__COUNT } },
	{ "nehalem", NULL, 2, { F__COUNT } },
	{ "westmere", "nehalem", 2, { F_PCLMUL, F__COUNT } },	/* as gcc -march: no AES */
	{ "sandybridge", "westmere", 2, { F_AVX, F_XSAVE, F_OSXSAVE, F_XSAVEOPT, F__COUNT } },
	{ "ivybridge", "sandybridge", 2, { F_F16C, F_RDRAND, F_FSGSBASE, F_ERMS, F__COUNT } },
	{ "haswell", "ivybridge", 3, { F__COUNT } },	/* gcc -march=haswell has no RTM */
	{ "broadwell", "haswell", 3, { F_ADX, F_RDSEED, F__COUNT } },
	{ "skylake", "broadwell", 3, { F_XSAVEC, F_CLFLUSHOPT, F_AES, F__COUNT } },
	{ "skylake-avx512", "skylake", 4, { F_CLWB, F_PKU, F__COUNT } },
	{ "icelake-server", "skylake-avx512", 4,
	  { F_AVX512VBMI, F_AVX512IFMA, F_AVX512VBMI2, F_AVX512VNNI, F_AVX512BITALG, F_AVX512VPOPCNTDQ,
	    F_VAES, F_VPCLMULQDQ, F_GFNI, F_SHA, F_FSRM, F_RDPID, F__COUNT } },
	{ "sapphirerapids", "icelake-server", 4, { F_AVX512BF16, F_AVX512FP16, F_AVXVNNI, F_MOVDIRI, F__COUNT } },
	{ "znver1", NULL, 3,
	  { F_XSAVE, F_XSAVEOPT, F_XSAVEC, F_AES, F_PCLMUL, F_ADX, F_RDRAND, F_RDSEED, F_SHA, F_CLFLUSHOPT,
	    F_SSE4A, F_FSGSBASE, F_ERMS, F__COUNT } },
	{ "znver2", "znver1", 3, { F_CLWB, F_RDPID, F__COUNT } },
	{ "znver3", "znver2", 3, { F_VAES, F_VPCLMULQDQ, F_FSRM, F_PKU, F__COUNT } },
	{ "znver4", "znver3", 4,
	  { F_AVX512VBMI, F_AVX512IFMA, F_AVX512VBMI2, F_AVX512VNNI, F_AVX512BITALG, F_AVX512VPOPCNTDQ,
	    F_AVX512BF16, F_GFNI, F_AVXVNNI, F__COUNT } },
};

static const char *const model_names[] = {
	"host", "x86-64-v1", "x86-64-v2", "x86-64-v3", "x86-64-v4", "nehalem", "westmere", "sandybridge",
	"ivybridge", "haswell", "broadwell", "skylake", "skylake-avx512", "icelake-server", "sapphirerapids",
	"znver1", "znver2", "znver3", "znver4", NULL,
};

const char *const *cpuport_targets(void)
{
	return model_names;
}

const char *feature_name(enum feature f)
{
	return f < F__COUNT ? features[f].name : "?";
}

int feature_cpuid_bit(enum feature f, uint32_t *leaf, uint32_t *subleaf, int *reg, unsigned int *bit)
{
	if (f >= F__COUNT || !features[f].name)
		return -EINVAL;
	*leaf = features[f].leaf;
	*subleaf = features[f].subleaf;
	*reg = features[f].reg;
	*bit = features[f].bit;
	return 0;
}

int feature_by_name(const char *name)
{
	for (int f = 0; f < F__COUNT; f++)
		if (!strcmp(features[f].name, name))
			return f;
	return -1;
}

static const struct cpuid_regs *raw_leaf(const struct cpu_desc *d, uint32_t leaf, uint32_t subleaf)
{
	for (size_t i = 0; i < d->n_raw; i++)
		if (d->raw[i].leaf == leaf && d->raw[i].subleaf == subleaf)
			return &d->raw[i];
	return NULL;
}

static void add_raw(struct cpu_desc *d, uint32_t leaf, uint32_t subleaf, uint32_t a, uint32_t b, uint32_t c,
		    uint32_t dx)
{
	if (d->n_raw < CPU_MAX_LEAVES && !raw_leaf(d, leaf, subleaf))
		d->raw[d->n_raw++] = (struct cpuid_regs){ leaf, subleaf, a, b, c, dx };
}

int featset_level(const struct featset *s)
{
	int level = 0;

	for (size_t l = 0; l < ARRAY_SIZE(level_feats); l++) {
		for (const enum feature *f = level_feats[l]; *f != F__COUNT; f++)
			if (!featset_has(s, *f))
				return level;
		level = l + 1;
	}
	return level;
}

/* Decode feature bits from the raw leaves; @xcr0 gates AVX/AVX-512 state. */
static void decode_features(struct cpu_desc *d, bool check_xcr0)
{
	memset(&d->feat, 0, sizeof(d->feat));
	for (int f = 0; f < F__COUNT; f++) {
		const struct feature_def *fd = &features[f];
		const struct cpuid_regs *r = raw_leaf(d, fd->leaf, fd->subleaf);
		uint32_t regs[4];

		if (!r)
			continue;
		regs[EAX] = r->eax, regs[EBX] = r->ebx, regs[ECX] = r->ecx, regs[EDX] = r->edx;
		if (!(regs[fd->reg] >> fd->bit & 1))
			continue;
		if (check_xcr0 && fd->xcr0 && (d->xcr0 & fd->xcr0) != fd->xcr0)
			continue;
		featset_set(&d->feat, f);
	}
	d->level = featset_level(&d->feat);
}

static void identify(struct cpu_desc *d, struct cpu_raw_data_t *raw)
{
	struct cpu_id_t id;

	if (cpu_identify(raw, &id) != 0)
		return;
	snprintf(d->vendor, sizeof(d->vendor), "%s", id.vendor_str);
	snprintf(d->brand, sizeof(d->brand), "%s", id.brand_str);
	snprintf(d->codename, sizeof(d->codename), "%s", id.cpu_codename);
	d->family = id.x86.ext_family;
	d->model = id.x86.ext_model;
	d->stepping = id.x86.stepping;
}

int cpu_desc_host(struct cpu_desc *d)
{
	static const uint32_t subleaves[][2] = { { 7, 0 }, { 7, 1 }, { 0xd, 0 }, { 0xd, 1 } };
	uint32_t a, b, c, dx, max, maxext;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "host");
	if (!__get_cpuid(0, &max, &b, &c, &dx))
		return -ENODEV;
	for (uint32_t leaf = 0; leaf <= max && leaf < 0x20; leaf++) {
		if (leaf == 7 || leaf == 0xd || leaf == 4 || leaf == 0xb)
			continue;	/* subleaf leaves: below */
		__cpuid_count(leaf, 0, a, b, c, dx);
		add_raw(d, leaf, 0, a, b, c, dx);
	}
	for (size_t i = 0; i < ARRAY_SIZE(subleaves); i++) {
		if (subleaves[i][0] > max)
			continue;
		__cpuid_count(subleaves[i][0], subleaves[i][1], a, b, c, dx);
		add_raw(d, subleaves[i][0], subleaves[i][1], a, b, c, dx);
	}
	maxext = __get_cpuid_max(0x80000000, NULL);
	for (uint32_t leaf = 0x80000000; leaf <= maxext && leaf < 0x80000009; leaf++) {
		__cpuid_count(leaf, 0, a, b, c, dx);
		add_raw(d, leaf, 0, a, b, c, dx);
	}
	__cpuid(1, a, b, c, dx);
	if (c >> 27 & 1) {	/* OSXSAVE: XGETBV is allowed */
		uint32_t lo, hi;

		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		d->xcr0 = (uint64_t)hi << 32 | lo;
	}
	decode_features(d, true);
	d->names_pending = true;	/* libcpuid's names: cpu_desc_names(), when a message or image needs them */
	return 0;
}

/*
 * Vendor, brand, codename, family/model/stepping of the host from libcpuid:
 * about 0.5 ms of CPUID exits in a VM, and needed only for the dump's image
 * and for messages, so not at every restore.  Nothing is decided by them.
 */
void cpu_desc_names(struct cpu_desc *d)
{
	struct cpu_raw_data_t raw;

	if (!d->names_pending)
		return;
	d->names_pending = false;
	if (cpuid_get_raw_data(&raw) == 0)
		identify(d, &raw);
}

static int desc_from_model(const char *name, struct cpu_desc *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(models); i++) {
		const struct model_def *m = &models[i];

		if (strcmp(m->name, name))
			continue;
		if (m->base && desc_from_model(m->base, out))
			return -EINVAL;
		for (int l = 0; l < m->level; l++)
			for (const enum feature *f = level_feats[l]; *f != F__COUNT; f++)
				featset_set(&out->feat, *f);
		for (const enum feature *f = m->add; *f != F__COUNT; f++)
			featset_set(&out->feat, *f);
		return 0;
	}
	return -EINVAL;
}

static void quiet(const char *msg)
{
	(void)msg;
}

/* A libcpuid raw dump (cpuid_tool --save, or one of libcpuid's tests/ files). */
static int desc_from_dump(const char *path, struct cpu_desc *out)
{
	struct cpu_raw_data_t raw;

	libcpuid_warn_fn_t old = cpuid_set_warn_function(quiet);	/* no prints from a library */
	int bad = cpuid_deserialize_raw_data(&raw, path);

	cpuid_set_warn_function(old);
	if (bad)
		return -EINVAL;
	/* libcpuid accepts any text; a real dump has leaf 0 (max leaf, vendor) */
	if (!raw.basic_cpuid[0][0] || !raw.basic_cpuid[0][1])
		return -EINVAL;
	/* leaves above the maximum ones hold whatever the dump tool saw: ignore them */
	for (uint32_t i = 0; i < MAX_CPUID_LEVEL && i < 0x20 && i <= raw.basic_cpuid[0][0]; i++)
		add_raw(out, i, 0, raw.basic_cpuid[i][0], raw.basic_cpuid[i][1], raw.basic_cpuid[i][2],
			raw.basic_cpuid[i][3]);
	for (uint32_t i = 0; i < MAX_EXT_CPUID_LEVEL && i < 9 && 0x80000000 + i <= raw.ext_cpuid[0][0]; i++)
		add_raw(out, 0x80000000 + i, 0, raw.ext_cpuid[i][0], raw.ext_cpuid[i][1], raw.ext_cpuid[i][2],
			raw.ext_cpuid[i][3]);
	/* Dumps keep subleaf 0 only: XSAVEC & co. stay unknown, hence absent (safe). */
	out->xcr0 = ~0ULL;
	decode_features(out, false);
	identify(out, &raw);
	return 0;
}

int cpu_desc_target(const char *spec, const struct cpu_desc *host, struct cpu_desc *out)
{
	int ret = 0;

	if (!strcmp(spec, "host")) {
		*out = *host;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	if (strchr(spec, '/'))
		ret = desc_from_dump(spec, out);
	else
		ret = desc_from_model(spec, out);
	if (ret)
		return ret;
	snprintf(out->name, sizeof(out->name), "%s", spec);
	/* A target can only take features away from the CPU we run on. */
	out->feat.w[0] &= host->feat.w[0];
	out->feat.w[1] &= host->feat.w[1];
	out->level = featset_level(&out->feat);
	if (!out->vendor[0])
		memcpy(out->vendor, host->vendor, sizeof(out->vendor));
	return 0;
}

int cpu_desc_from_image(const Cpuport__Cpu *c, struct cpu_desc *out)
{
	memset(out, 0, sizeof(*out));
	if (!c)
		return -EINVAL;
	snprintf(out->vendor, sizeof(out->vendor), "%s", c->vendor ?: "");
	snprintf(out->brand, sizeof(out->brand), "%s", c->brand ?: "");
	snprintf(out->codename, sizeof(out->codename), "%s", c->codename ?: "");
	out->family = c->family, out->model = c->model, out->stepping = c->stepping;
	out->xcr0 = c->xcr0;
	for (size_t i = 0; i < c->n_leaves; i++) {
		const Cpuport__CpuidLeaf *l = c->leaves[i];

		add_raw(out, l->leaf, l->subleaf, l->eax, l->ebx, l->ecx, l->edx);
	}
	decode_features(out, c->has_xcr0);
	return 0;
}

static int append(char *buf, size_t len, size_t *pos, const char *s)
{
	int n = snprintf(buf + *pos, len - *pos, "%s%s", *pos ? "," : "glibc.cpu.hwcaps=", s);

	if (n < 0 || (size_t)n >= len - *pos)
		return -ENOSPC;
	*pos += n;
	return 0;
}

int cpu_glibc_tunables(const struct cpu_desc *host, const struct cpu_desc *target, char *buf, size_t len)
{
	size_t pos = 0;
	int ret = 0;
	char item[48];

	buf[0] = 0;
	for (int f = 0; f < F__COUNT && !ret; f++) {
		if (!features[f].glibc || !featset_has(&host->feat, f) || featset_has(&target->feat, f))
			continue;
		snprintf(item, sizeof(item), "-%s", features[f].glibc);
		ret = append(buf, len, &pos, item);
	}
	/*
	 * Preference bits glibc derives from features but does not recompute
	 * when a tunable masks them: memmove keys on AVX_Fast_Unaligned_Load,
	 * which init_cpu_features sets from AVX2.
	 */
	if (!ret && featset_has(&host->feat, F_AVX2) && !featset_has(&target->feat, F_AVX2))
		ret = append(buf, len, &pos, "-AVX_Fast_Unaligned_Load");
	return ret;
}
