// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cpu_features.c: the host decode, named targets, x86-64 levels and the
 * GLIBC_TUNABLES mask, each checked against an independent source on this
 * machine: the kernel (/proc/cpuinfo), ld.so (--help, --list-diagnostics)
 * and the compiler's own -march definitions (cc -dM -E).
 */
#include <libcpuid/libcpuid.h>

#include "internal.h"
#include "unit.h"

#define LDSO "/lib64/ld-linux-x86-64.so.2"

static struct cpu_desc host;
static struct cpu_desc all;	/* a host with every feature: targets come back unclipped */

static int group_setup(void **state)
{
	(void)state;
	return unit_cpus(&host, &all);
}

static bool has(const struct cpu_desc *d, const char *name)
{
	int f = feature_by_name(name);

	assert_true(f >= 0);
	return featset_has(&d->feat, f);
}

static bool subset(const struct featset *a, const struct featset *b)
{
	return !(a->w[0] & ~b->w[0]) && !(a->w[1] & ~b->w[1]);
}

/* ---- the host, seen by the kernel and by ld.so ---- */

/* kernel /proc/cpuinfo flag -> cpuport feature name */
static const struct {
	const char *kernel, *cpuport;
} kflags[] = {
	{ "fpu", "fpu" }, { "cx8", "cx8" }, { "cmov", "cmov" }, { "mmx", "mmx" }, { "fxsr", "fxsr" },
	{ "sse", "sse" }, { "sse2", "sse2" }, { "pni", "sse3" }, { "ssse3", "ssse3" }, { "cx16", "cx16" },
	{ "sse4_1", "sse4_1" }, { "sse4_2", "sse4_2" }, { "popcnt", "popcnt" }, { "lahf_lm", "lahf_lm" },
	{ "avx", "avx" }, { "avx2", "avx2" }, { "bmi1", "bmi1" }, { "bmi2", "bmi2" }, { "fma", "fma" },
	{ "f16c", "f16c" }, { "abm", "lzcnt" }, { "movbe", "movbe" }, { "avx512f", "avx512f" },
	{ "avx512vl", "avx512vl" }, { "avx512bw", "avx512bw" }, { "avx512cd", "avx512cd" },
	{ "avx512dq", "avx512dq" }, { "avx512vbmi", "avx512vbmi" }, { "avx512_vbmi2", "avx512vbmi2" },
	{ "avx512ifma", "avx512ifma" }, { "avx512_vnni", "avx512vnni" }, { "avx512_bitalg", "avx512bitalg" },
	{ "avx512_vpopcntdq", "avx512vpopcntdq" }, { "avx512_bf16", "avx512bf16" },
	{ "avx512_fp16", "avx512fp16" }, { "avx_vnni", "avx_vnni" }, { "aes", "aes" },
	{ "pclmulqdq", "pclmulqdq" }, { "vaes", "vaes" }, { "vpclmulqdq", "vpclmulqdq" }, { "gfni", "gfni" },
	{ "sha_ni", "sha_ni" }, { "adx", "adx" }, { "rdrand", "rdrand" }, { "rdseed", "rdseed" },
	{ "erms", "erms" }, { "fsrm", "fsrm" }, { "xsave", "xsave" }, { "xsavec", "xsavec" },
	{ "xsaveopt", "xsaveopt" }, { "clflushopt", "clflushopt" }, { "clwb", "clwb" }, { "sse4a", "sse4a" },
	{ "fma4", "fma4" }, { "xop", "xop" }, { "rdpid", "rdpid" }, { "movdiri", "movdiri" },
};

/*
 * The rule (resolver/cpu_kernel.c): cpuport follows CPUID; a flag the kernel clears
 * while CPUID reports it is "hidden", never a reason to disagree the other way.
 * On this machine: every kernel flag is decoded; every difference is kernel 0 /
 * cpuport 1, reported as hidden by the library, and confirmed by libcpuid's own
 * decode of the CPUID instruction (an independent reader).
 */
/* libcpuid's decode of a feature: 1/0, or -1 where this table has no libcpuid name for it */
static int libcpuid_says(const struct cpu_id_t *id, const char *name)
{
	static const struct {
		const char *name;
		cpu_feature_t f;
	} m[] = {
		{ "rdseed", CPU_FEATURE_RDSEED }, { "rdrand", CPU_FEATURE_RDRAND }, { "avx2", CPU_FEATURE_AVX2 },
		{ "avx512f", CPU_FEATURE_AVX512F }, { "sha_ni", CPU_FEATURE_SHA_NI }, { "adx", CPU_FEATURE_ADX },
		{ "aes", CPU_FEATURE_AES }, { "bmi2", CPU_FEATURE_BMI2 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(m); i++)
		if (!strcmp(m[i].name, name))
			return id->flags[m[i].f] ? 1 : 0;
	return -1;
}

static void host_matches_proc_cpuinfo(void **state)
{
	char *out = unit_run(NULL, "grep -m1 '^flags' /proc/cpuinfo"), msg[2048] = "";
	struct featset hidden, unexplained;
	struct cpu_raw_data_t raw;
	struct cpu_id_t id;
	int bad = 0;

	(void)state;
	assert_non_null(out);
	if (!strchr(out, ':'))
		UNIT_SKIP("/proc/cpuinfo has no flags line");
	assert_int_equal(cpuid_get_raw_data(&raw), 0);
	assert_int_equal(cpu_identify(&raw, &id), 0);
	assert_int_equal(cpu_kernel_compare(&host, strchr(out, ':') + 1, &hidden, &unexplained), 0);
	for (size_t i = 0; i < ARRAY_SIZE(kflags); i++) {
		bool k = unit_has_word(strchr(out, ':') + 1, kflags[i].kernel);
		int f = feature_by_name(kflags[i].cpuport);

		if (k == has(&host, kflags[i].cpuport))
			continue;
		if (!k && featset_has(&hidden, f) && libcpuid_says(&id, kflags[i].cpuport) != 0) {
			print_message("kernel hides %s; CPUID reports it (libcpuid agrees)\n", kflags[i].kernel);
			continue;
		}
		bad++;
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s(kernel %d, cpuport %d)",
			 kflags[i].kernel, k, !k);
	}
	free(out);
	if (bad)
		fail_msg("host decode disagrees with /proc/cpuinfo on:%s", msg);
	assert_true(featset_is_empty(&unexplained));
	assert_true(host.n_raw > 0);
	assert_true(host.vendor[0]);
}

/* The rule on made-up kernels: a CPU with every feature, a kernel that shows a subset. */
static void kernel_cpuid_rule(void **state)
{
	struct featset hidden, unexplained;
	struct cpu_desc v3;
	char flags[4096] = "";

	(void)state;
	/* a kernel that shows everything but rdseed and avx512f: both hidden, CPUID wins */
	for (int f = 0; f < F__COUNT; f++) {
		const char *k = cpu_kernel_flag_name(f);

		if (k && f != F_RDSEED && f != F_AVX512F)
			snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags), " %s", k);
	}
	assert_int_equal(cpu_kernel_compare(&all, flags, &hidden, &unexplained), 0);
	assert_true(featset_has(&hidden, F_RDSEED));
	assert_true(featset_has(&hidden, F_AVX512F));
	featset_clear(&hidden, F_RDSEED);
	featset_clear(&hidden, F_AVX512F);
	assert_true(featset_is_empty(&hidden));
	assert_true(featset_is_empty(&unexplained));
	assert_true(featset_has(&all.feat, F_RDSEED));	/* the decision set keeps it */

	/* a kernel that shows avx512f on an x86-64-v3 decode: a decode error, never hidden */
	assert_int_equal(cpu_desc_target("x86-64-v3", &all, &v3), 0);
	assert_int_equal(cpu_kernel_compare(&v3, " fpu sse2 avx2 avx512f pni abm\n", &hidden, &unexplained), 0);
	assert_true(featset_has(&unexplained, F_AVX512F));
	assert_false(featset_has(&unexplained, F_SSE3));	/* "pni" is sse3 */
	assert_false(featset_has(&unexplained, F_LZCNT));	/* "abm" is lzcnt */
	assert_true(featset_has(&hidden, F_BMI2));
	assert_false(featset_has(&hidden, F_AVX512F));
	/* words, not substrings: the kernel's "avx512_fp16" does not show avx512f */
	assert_int_equal(cpu_kernel_compare(&all, " avx512_fp16\n", &hidden, &unexplained), 0);
	assert_true(featset_has(&hidden, F_AVX512F));
	assert_false(featset_has(&hidden, F_AVX512FP16));
	assert_int_equal(cpu_kernel_compare(&all, NULL, &hidden, &unexplained), -EINVAL);
}

/* Bit N set: ld.so --help says x86-64-vN is "supported" (N = 2..4); -1 if ld.so cannot say. */
static int ldso_levels(const char *tunables)
{
	char *out = unit_run(NULL, "env -u GLIBC_TUNABLES %s%s%s %s --help 2>/dev/null", tunables ? "GLIBC_TUNABLES='" : "",
			     tunables ? tunables : "", tunables ? "'" : "", LDSO);
	int mask = 0, seen = 0;

	if (!out)
		return -1;
	for (int n = 2; n <= 4; n++) {
		char key[16], *p;

		snprintf(key, sizeof(key), "x86-64-v%d", n);
		p = strstr(out, key);
		if (!p)
			continue;
		seen++;
		if (!strncmp(p + strlen(key), " (supported", 11))
			mask |= 1 << n;
	}
	free(out);
	return seen == 3 ? mask : -1;
}

static int mask_level(int mask)
{
	int level = 1;

	while (level < 4 && mask & (1 << (level + 1)))
		level++;
	return level;
}

static void host_level_matches_ldso(void **state)
{
	int mask;

	(void)state;
	if (access(LDSO, X_OK))
		UNIT_SKIP("%s not found", LDSO);
	mask = ldso_levels(NULL);
	if (mask < 0)
		UNIT_SKIP("%s --help does not list the x86-64-v2..v4 levels", LDSO);
	for (int n = 2; n <= 4; n++)
		if (!!(mask & (1 << n)) != (host.level >= n))
			fail_msg("ld.so says x86-64-v%d is %ssupported, cpuport's host level is %d", n,
				 mask & (1 << n) ? "" : "not ", host.level);
}

/* ---- named targets and levels ---- */

static void named_targets_within_host(void **state)
{
	const char *const *names = cpuport_targets();
	int n = 0;

	(void)state;
	assert_non_null(names);
	for (; *names; names++, n++) {
		struct cpu_desc t;

		assert_int_equal(cpu_desc_target(*names, &host, &t), 0);
		if (!subset(&t.feat, &host.feat))
			fail_msg("target %s has features the host lacks", *names);
		assert_true(t.level <= host.level);
		assert_int_equal(t.level, featset_level(&t.feat));
		assert_string_equal(t.name, *names);
		assert_true(t.vendor[0]);
		if (!strcmp(*names, "host"))
			assert_memory_equal(&t.feat, &host.feat, sizeof(t.feat));
	}
	assert_true(n >= 5);
}

/* The psABI levels, written out here (not taken from the library). */
static const char *const psabi[5][10] = {
	{ NULL },
	{ "cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2", NULL },
	{ "cx16", "lahf_lm", "popcnt", "sse3", "sse4_1", "sse4_2", "ssse3", NULL },
	{ "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe", "osxsave", NULL },
	{ "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", NULL },
};

static void x86_64_levels(void **state)
{
	(void)state;
	for (int n = 1; n <= 4; n++) {
		char name[32];
		struct cpu_desc t, u;

		snprintf(name, sizeof(name), "x86-64-v%d", n);
		assert_int_equal(cpu_desc_target(name, &all, &u), 0);
		assert_int_equal(u.level, n);
		for (int l = 1; l <= 4; l++)
			for (const char *const *f = psabi[l]; *f; f++)
				if (has(&u, *f) != (l <= n))
					fail_msg("%s: %s is %s", name, *f, l <= n ? "missing" : "present");
		assert_int_equal(cpu_desc_target(name, &host, &t), 0);
		assert_int_equal(t.level, n < host.level ? n : host.level);
	}
}

/* gcc's predefined macro -> cpuport feature */
static const struct {
	const char *macro, *feature;
} gcc_macros[] = {
	{ "__MMX__", "mmx" }, { "__SSE__", "sse" }, { "__SSE2__", "sse2" }, { "__FXSR__", "fxsr" },
	{ "__SSE3__", "sse3" }, { "__SSSE3__", "ssse3" }, { "__SSE4_1__", "sse4_1" }, { "__SSE4_2__", "sse4_2" },
	{ "__POPCNT__", "popcnt" }, { "__LAHF_SAHF__", "lahf_lm" }, { "__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16", "cx16" },
	{ "__AVX__", "avx" }, { "__AVX2__", "avx2" }, { "__BMI__", "bmi1" }, { "__BMI2__", "bmi2" },
	{ "__F16C__", "f16c" }, { "__FMA__", "fma" }, { "__LZCNT__", "lzcnt" }, { "__MOVBE__", "movbe" },
	{ "__XSAVE__", "xsave" }, { "__XSAVEOPT__", "xsaveopt" }, { "__XSAVEC__", "xsavec" },
	{ "__AVX512F__", "avx512f" }, { "__AVX512BW__", "avx512bw" }, { "__AVX512CD__", "avx512cd" },
	{ "__AVX512DQ__", "avx512dq" }, { "__AVX512VL__", "avx512vl" }, { "__AVX512VBMI__", "avx512vbmi" },
	{ "__AVX512VBMI2__", "avx512vbmi2" }, { "__AVX512IFMA__", "avx512ifma" }, { "__AVX512VNNI__", "avx512vnni" },
	{ "__AVX512BITALG__", "avx512bitalg" }, { "__AVX512VPOPCNTDQ__", "avx512vpopcntdq" },
	{ "__AVX512BF16__", "avx512bf16" }, { "__AVX512FP16__", "avx512fp16" }, { "__AES__", "aes" },
	{ "__PCLMUL__", "pclmulqdq" }, { "__VAES__", "vaes" }, { "__VPCLMULQDQ__", "vpclmulqdq" },
	{ "__GFNI__", "gfni" }, { "__SHA__", "sha_ni" }, { "__ADX__", "adx" }, { "__RDRND__", "rdrand" },
	{ "__RDSEED__", "rdseed" }, { "__RTM__", "rtm" }, { "__CLFLUSHOPT__", "clflushopt" }, { "__CLWB__", "clwb" },
	{ "__FSGSBASE__", "fsgsbase" }, { "__SSE4A__", "sse4a" }, { "__FMA4__", "fma4" }, { "__XOP__", "xop" },
	{ "__AVXVNNI__", "avx_vnni" }, { "__PKU__", "pku" }, { "__RDPID__", "rdpid" }, { "__MOVDIRI__", "movdiri" },
};

static bool defines(const char *out, const char *macro)
{
	char key[96];

	snprintf(key, sizeof(key), "#define %s ", macro);
	return strstr(out, key) != NULL;
}

/*
 * cpu_features.c says its models are "gcc -march names": every feature gcc
 * announces with a predefined macro must agree with the model, unclipped.
 */
static void models_match_gcc_march(void **state)
{
	char msg[4096] = "";
	int compared = 0, st;

	(void)state;
	for (const char *const *n = cpuport_targets(); *n; n++) {
		const char *march = !strcmp(*n, "x86-64-v1") ? "x86-64" : *n;
		struct cpu_desc m;
		char *out;

		if (!strcmp(*n, "host"))
			continue;
		out = unit_run(&st, "cc -march=%s -dM -E -x c /dev/null 2>/dev/null", march);
		if (!out || st) {
			print_message("cc does not know -march=%s: not compared\n", march);
			free(out);
			continue;
		}
		compared++;
		assert_int_equal(cpu_desc_target(*n, &all, &m), 0);
		for (size_t i = 0; i < ARRAY_SIZE(gcc_macros); i++) {
			bool g = defines(out, gcc_macros[i].macro), c = has(&m, gcc_macros[i].feature);

			if (g != c)
				snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s:%s(gcc %d, cpuport %d)", *n,
					 gcc_macros[i].feature, g, c);
		}
		free(out);
	}
	if (!compared)
		UNIT_SKIP("no cc to compare -march definitions with");
	if (msg[0])
		fail_msg("named models disagree with gcc -march:%s", msg);
}

static void unknown_target_rejected(void **state)
{
	struct cpu_desc t;

	(void)state;
	assert_int_equal(cpu_desc_target("pentium-9000", &host, &t), -EINVAL);
	assert_int_equal(cpu_desc_target("Haswell", &host, &t), -EINVAL);
	assert_int_equal(cpu_desc_target("", &host, &t), -EINVAL);
	assert_int_equal(cpu_desc_target("x86-64-v5", &host, &t), -EINVAL);
	assert_int_equal(cpu_desc_target("/nonexistent/cpuid.dump", &host, &t), -EINVAL);
}

/*
 * A readable file that is not a CPUID dump is an unknown target too: it must
 * not turn into a CPU with no features (cpuport.h: EINVAL for an unknown target).
 */
static void non_dump_file_rejected(void **state)
{
	char path[] = "/tmp/cpuport-unit-notadump.XXXXXX";
	int fd = mkstemp(path);
	struct cpu_desc t;
	int r1, r2;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not a cpuid dump\n", 25), 25);
	close(fd);
	r1 = cpu_desc_target(path, &host, &t);
	r2 = cpu_desc_target("/dev/null", &host, &t);
	unlink(path);
	assert_int_equal(r1, -EINVAL);
	assert_int_equal(r2, -EINVAL);
}

static void ctx_options(void **state)
{
	struct unit_log log = { .len = 0 };
	struct cpuport_ctx *ctx;
	struct {
		struct cpuport_ctx_opts o;
		char tail[16];
	} big;

	(void)state;
	ctx = cpuport_ctx__new(NULL);
	assert_non_null(ctx);
	assert_true(ctx->target_is_host);
	assert_memory_equal(&ctx->target.feat, &host.feat, sizeof(host.feat));
	cpuport_ctx__free(ctx);

	CPUPORT_OPTS(cpuport_ctx_opts, v2, .target = "x86-64-v2");
	ctx = cpuport_ctx__new(&v2);
	assert_non_null(ctx);
	assert_false(ctx->target_is_host);
	assert_int_equal(ctx->target.level, host.level < 2 ? host.level : 2);
	cpuport_ctx__free(ctx);

	CPUPORT_OPTS(cpuport_ctx_opts, bad, .target = "nosuch-cpu", .print = unit_log_cb, .print_arg = &log);
	errno = 0;
	assert_null(cpuport_ctx__new(&bad));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(log.errors, 1);
	assert_non_null(strstr(log.text, "nosuch-cpu"));
	assert_false(log.bad_line);

	/* options from a newer caller: unknown tail must be zero */
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	ctx = cpuport_ctx__new(&big.o);
	assert_non_null(ctx);
	cpuport_ctx__free(ctx);
	big.tail[3] = 1;
	errno = 0;
	assert_null(cpuport_ctx__new(&big.o));
	assert_int_equal(errno, EINVAL);
	cpuport_ctx__free(NULL);
}

static void feature_names_roundtrip(void **state)
{
	(void)state;
	for (int f = 0; f < F__COUNT; f++) {
		assert_int_equal(feature_by_name(feature_name(f)), f);
		for (int g = 0; g < f; g++)
			assert_string_not_equal(feature_name(f), feature_name(g));
	}
	assert_int_equal(feature_by_name("no-such-feature"), -1);
	assert_string_equal(feature_name(F__COUNT), "?");
}

static void cpu_image_roundtrip(void **state)
{
	struct arena a = { 0 };
	Cpuport__Cpu *c = NULL;
	struct cpu_desc d;
	size_t nfeat = 0;

	(void)state;
	assert_int_equal(cpu_desc_to_image(&a, &host, &c), 0);
	for (int f = 0; f < F__COUNT; f++)
		nfeat += featset_has(&host.feat, f);
	assert_int_equal(c->n_features, nfeat);
	assert_int_equal(c->level, host.level);
	assert_int_equal(cpu_desc_from_image(c, &d), 0);
	assert_memory_equal(&d.feat, &host.feat, sizeof(d.feat));
	assert_int_equal(d.level, host.level);
	assert_int_equal(d.n_raw, host.n_raw);
	assert_memory_equal(d.raw, host.raw, host.n_raw * sizeof(host.raw[0]));
	assert_string_equal(d.vendor, host.vendor);
	assert_int_equal(d.family, host.family);
	assert_int_equal(d.model, host.model);
	assert_int_equal(cpu_desc_from_image(NULL, &d), -EINVAL);
	arena_free(&a);
}

/* ---- GLIBC_TUNABLES that make glibc here behave as on the target ---- */

/* Is "-NAME" one of the comma-separated items after "glibc.cpu.hwcaps="? */
static bool tunable_item(const char *tun, const char *item)
{
	const char *p = strchr(tun, '=');
	size_t n = strlen(item);

	for (p = p ? p + 1 : tun; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, item, n) && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

static void tunables_host_to_nehalem(void **state)
{
	struct cpu_desc neh;
	char tun[512];

	(void)state;
	if (!has(&host, "avx2"))
		UNIT_SKIP("this CPU has no AVX2: nothing for the nehalem mask to take away");
	assert_int_equal(cpu_desc_target("nehalem", &host, &neh), 0);
	assert_int_equal(cpu_glibc_tunables(&host, &neh, tun, sizeof(tun)), 0);
	print_message("host -> nehalem: %s\n", tun);
	assert_true(!strncmp(tun, "glibc.cpu.hwcaps=", 17));
	assert_true(tunable_item(tun, "-AVX2"));
	assert_true(tunable_item(tun, "-AVX"));
	assert_true(tunable_item(tun, "-AVX_Fast_Unaligned_Load"));
	/* nehalem keeps what the host has up to x86-64-v2 */
	assert_false(tunable_item(tun, "-SSE4_2"));
	assert_false(tunable_item(tun, "-SSE4_1"));
	assert_false(tunable_item(tun, "-SSSE3"));
	assert_false(tunable_item(tun, "-POPCNT"));
	assert_false(tunable_item(tun, "-CMOV"));
	/* nothing to mask host -> host; no room: -ENOSPC */
	assert_int_equal(cpu_glibc_tunables(&host, &host, tun, sizeof(tun)), 0);
	assert_string_equal(tun, "");
	assert_int_equal(cpu_glibc_tunables(&host, &neh, tun, 24), -ENOSPC);
}

/* ld.so, given the mask for x86-64-vN, must support exactly the levels up to N. */
static void tunables_steer_ldso(void **state)
{
	(void)state;
	if (access(LDSO, X_OK) || ldso_levels(NULL) < 0)
		UNIT_SKIP("%s --help does not list the x86-64 levels", LDSO);
	for (int n = 1; n <= host.level; n++) {
		char name[32], tun[512];
		struct cpu_desc t;
		int mask;

		snprintf(name, sizeof(name), "x86-64-v%d", n);
		assert_int_equal(cpu_desc_target(name, &host, &t), 0);
		assert_int_equal(cpu_glibc_tunables(&host, &t, tun, sizeof(tun)), 0);
		mask = ldso_levels(tun[0] ? tun : NULL);
		assert_true(mask >= 0);
		if (mask_level(mask) != n)
			fail_msg("with GLIBC_TUNABLES=%s ld.so supports up to x86-64-v%d, not v%d", tun, mask_level(mask),
				 n);
	}
}

/* The ld.so state that a hwcaps item can change. */
static char *ldso_diag(const char *tunables)
{
	return unit_run(NULL,
			"env -u GLIBC_TUNABLES %s%s%s %s --list-diagnostics 2>/dev/null | "
			"grep -E '^x86\\.cpu_features\\.(features\\[.*\\]\\.active|preferred|xsave_state_size)'",
			tunables ? "GLIBC_TUNABLES='" : "", tunables ? tunables : "", tunables ? "'" : "", LDSO);
}

/*
 * Every item cpu_glibc_tunables() emits must be one this glibc acts on: an
 * item glibc does not know is silently ignored, and glibc then does not
 * behave as on the target.
 */
static void tunables_items_known_to_glibc(void **state)
{
	struct cpu_desc none;
	char tun[1024], copy[1024], msg[512] = "", *base, *item, *save = NULL;
	int checked = 0;

	(void)state;
	base = ldso_diag(NULL);
	if (!base || !base[0]) {
		free(base);
		UNIT_SKIP("%s --list-diagnostics shows no x86 cpu_features (glibc < 2.33?)", LDSO);
	}
	memset(&none, 0, sizeof(none));
	assert_int_equal(cpu_glibc_tunables(&host, &none, tun, sizeof(tun)), 0);
	print_message("host -> no features: %s\n", tun);
	snprintf(copy, sizeof(copy), "%s", strchr(tun, '=') + 1);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char one[128], *d;

		snprintf(one, sizeof(one), "glibc.cpu.hwcaps=%s", item);
		d = ldso_diag(one);
		assert_non_null(d);
		if (!strcmp(d, base))
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s", item);
		free(d);
		checked++;
	}
	free(base);
	assert_true(checked > 0);
	if (msg[0])
		fail_msg("glibc ignores these GLIBC_TUNABLES items (no change in ld.so --list-diagnostics):%s", msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(host_matches_proc_cpuinfo),
		cmocka_unit_test(kernel_cpuid_rule),
		cmocka_unit_test(host_level_matches_ldso),
		cmocka_unit_test(named_targets_within_host),
		cmocka_unit_test(x86_64_levels),
		cmocka_unit_test(models_match_gcc_march),
		cmocka_unit_test(unknown_target_rejected),
		cmocka_unit_test(non_dump_file_rejected),
		cmocka_unit_test(ctx_options),
		cmocka_unit_test(feature_names_roundtrip),
		cmocka_unit_test(cpu_image_roundtrip),
		cmocka_unit_test(tunables_host_to_nehalem),
		cmocka_unit_test(tunables_steer_ldso),
		cmocka_unit_test(tunables_items_known_to_glibc),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("cpu_features", tests, group_setup, NULL);
}
