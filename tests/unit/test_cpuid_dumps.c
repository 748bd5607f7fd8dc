// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libcpuid raw CPUID dumps as targets (cpu_desc_target() with a path).
 * The dumps are libcpuid's own test files: a raw dump, a line of 80 dashes,
 * then the output libcpuid's tools expect (architecture, feature-level, ...,
 * codename, flags; see run_tests.py in the same directory).  The decoded
 * features are checked against that flags line; the x86-64 level is checked
 * against the psABI applied to those flags, and for the named files also
 * against a level written here by hand.
 *
 * libcpuid 0.7.1's own "feature-level" field is not used: it disagrees with
 * its own flags line in dozens of files (e.g. Sandy Bridge listed as
 * x86-64-v3 without avx2, Core 2 as x86-64-v2 without sse4_1).
 */
#include <libcpuid.h>

#include "internal.h"
#include "unit.h"

#define DUMPS "/usr/local/src/cpuport/libcpuid/tests"
#define DASHES "--------------------------------------------------------------------------------"

static struct cpu_desc host, all;

/* libcpuid flag name -> cpuport feature name */
static const struct {
	const char *libcpuid, *cpuport;
} fmap[] = {
	{ "fpu", "fpu" }, { "cx8", "cx8" }, { "cmov", "cmov" }, { "mmx", "mmx" }, { "fxsr", "fxsr" }, { "sse", "sse" },
	{ "sse2", "sse2" }, { "pni", "sse3" }, { "ssse3", "ssse3" }, { "sse4_1", "sse4_1" }, { "sse4_2", "sse4_2" },
	{ "popcnt", "popcnt" }, { "cx16", "cx16" }, { "lahf_lm", "lahf_lm" }, { "avx", "avx" }, { "avx2", "avx2" },
	{ "fma3", "fma" }, { "bmi1", "bmi1" }, { "bmi2", "bmi2" }, { "abm", "lzcnt" }, { "movbe", "movbe" },
	{ "f16c", "f16c" }, { "osxsave", "osxsave" }, { "xsave", "xsave" }, { "aes", "aes" },
	{ "pclmul", "pclmulqdq" }, { "rdrand", "rdrand" }, { "rdseed", "rdseed" }, { "adx", "adx" },
	{ "sha_ni", "sha_ni" }, { "rtm", "rtm" }, { "avx512f", "avx512f" }, { "avx512dq", "avx512dq" },
	{ "avx512cd", "avx512cd" }, { "avx512bw", "avx512bw" }, { "avx512vl", "avx512vl" },
	{ "avx512vnni", "avx512vnni" }, { "avx512vbmi", "avx512vbmi" }, { "avx512vbmi2", "avx512vbmi2" },
	{ "sse4a", "sse4a" }, { "fma4", "fma4" }, { "xop", "xop" },
};
static bool known[ARRAY_SIZE(fmap)];	/* names this libcpuid reports at all */

/* The psABI levels in libcpuid's flag names. */
static const char *const psabi[5][10] = {
	{ NULL },
	{ "cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2", NULL },
	{ "cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3", NULL },
	{ "avx", "avx2", "bmi1", "bmi2", "f16c", "fma3", "abm", "movbe", "osxsave", NULL },
	{ "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", NULL },
};

struct expected {
	char arch[16];
	unsigned int extfamily, extmodel;
	char codename[128];
	char flags[4096];
	int level;	/* psABI level of the flags */
};

/* Fields of the first record after the dashes (run_tests.py: fields_x86). */
static int read_expected(const char *path, struct expected *e)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = -1;

	memset(e, 0, sizeof(*e));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && n < 33) {
		line[strcspn(line, "\n")] = 0;
		if (n < 0) {
			if (!strcmp(line, DASHES))
				n = 0;
			continue;
		}
		if (n == 0)
			snprintf(e->arch, sizeof(e->arch), "%.15s", line);
		else if (n == 6)
			e->extfamily = atoi(line);
		else if (n == 7)
			e->extmodel = atoi(line);
		else if (n == 31)
			snprintf(e->codename, sizeof(e->codename), "%.127s", line);
		else if (n == 32)
			snprintf(e->flags, sizeof(e->flags), "%s", line);
		n++;
	}
	fclose(f);
	if (n < 33)
		return -EINVAL;
	for (int l = 1; l <= 4; l++) {
		for (const char *const *p = psabi[l]; *p; p++)
			if (!unit_has_word(e->flags, *p))
				return 0;
		e->level = l;
	}
	return 0;
}

/* Compare a decoded dump with libcpuid's expected output; describe differences in @msg. */
static void compare(const char *path, const struct cpu_desc *d, const struct expected *e, char *msg, size_t len)
{
	size_t n = strlen(msg);

	if (d->level != e->level)
		n += snprintf(msg + n, len - n, " level v%d (flags say v%d);", d->level, e->level);
	for (size_t i = 0; i < ARRAY_SIZE(fmap) && n < len; i++) {
		bool want = unit_has_word(e->flags, fmap[i].libcpuid);
		bool got = featset_has(&d->feat, feature_by_name(fmap[i].cpuport));

		if (known[i] && want != got)
			n += snprintf(msg + n, len - n, " %s %s;", fmap[i].cpuport, got ? "extra" : "missing");
	}
	if (n < len && (d->family != e->extfamily || d->model != e->extmodel))
		n += snprintf(msg + n, len - n, " family/model %u/%u (want %u/%u);", d->family, d->model, e->extfamily,
			      e->extmodel);
	if (n < len && strcmp(d->codename, e->codename))
		n += snprintf(msg + n, len - n, " codename '%s' (want '%s');", d->codename, e->codename);
	(void)path;
}

static int group_setup(void **state)
{
	(void)state;
	if (unit_cpus(&host, &all))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(fmap); i++)
		for (int k = 0; k < NUM_CPU_FEATURES; k++)
			if (cpu_feature_str(k) && !strcmp(cpu_feature_str(k), fmap[i].libcpuid))
				known[i] = true;
	return 0;
}

struct named_dump {
	const char *file;
	int level;	/* by hand, from the CPU's documented ISA */
};

static const struct named_dump named[] = {
	{ "intel/qemu/qemu-cpu64-rhel6.test", 1 },	/* QEMU cpu64-rhel6: SSE3, no SSSE3; max basic leaf 4 */
	{ "intel/x86-64/core/merom-core-2-duo-2m.test", 1 },
	{ "intel/x86-64/nehalem/bloomfield-core-i7.test", 2 },
	{ "intel/x86-64/sandy-bridge/sandy-bridge-core-i7.test", 2 },	/* AVX, no AVX2 */
	{ "amd/bulldozer/vishera-x4.test", 2 },	/* FMA3/FMA4/XOP, no AVX2 */
	{ "intel/x86-64/haswell/haswell-core-i7.test", 3 },
	{ "amd/zen3/epyc-milan.test", 3 },
	{ "intel/x86-64/skylake/skylake-x-core-i7.test", 4 },
	{ "amd/zen4/epyc-genoa.test", 4 },
	{ "intel/x86-64/golden-cove/sapphire-rapids-ws-xeon-w7.test", 4 },
};

static void one_dump(void **state)
{
	const struct named_dump *nd = *state;
	char path[512], msg[2048] = "";
	struct expected e;
	struct cpu_desc d, t;

	snprintf(path, sizeof(path), "%s/%s", DUMPS, nd->file);
	if (access(path, R_OK))
		UNIT_SKIP("%s is missing", path);
	assert_int_equal(read_expected(path, &e), 0);
	/* the hand-written level and libcpuid's flags agree: the oracle is sound */
	assert_int_equal(e.level, nd->level);
	assert_int_equal(cpu_desc_target(path, &all, &d), 0);
	assert_int_equal(strncmp(d.name, path, sizeof(d.name) - 1), 0);	/* kept as given (truncated to fit) */
	compare(path, &d, &e, msg, sizeof(msg));
	if (msg[0])
		fail_msg("%s:%s", nd->file, msg);
	/* as a target here: never more than this CPU */
	assert_int_equal(cpu_desc_target(path, &host, &t), 0);
	assert_true(!(t.feat.w[0] & ~host.feat.w[0]) && !(t.feat.w[1] & ~host.feat.w[1]));
	assert_true(!(t.feat.w[0] & ~d.feat.w[0]) && !(t.feat.w[1] & ~d.feat.w[1]));
	assert_int_equal(t.level, featset_level(&t.feat));
	assert_true(t.level <= (d.level < host.level ? d.level : host.level));
	assert_string_equal(t.vendor, d.vendor);
}

/* Every 64-bit x86 dump libcpuid ships (flags include "lm"). */
static void all_x86_64_dumps(void **state)
{
	char *list = unit_run(NULL, "find %s -name '*.test' | sort", DUMPS), *line, *save = NULL;
	static char msg[16384];
	int checked = 0, bad = 0, saved, devnull = open("/dev/null", O_WRONLY);

	(void)state;
	assert_non_null(list);
	msg[0] = 0;
	fflush(stderr);
	saved = dup(2);	/* libcpuid warns on stderr about some dump formats: see decoding_prints_nothing */
	dup2(devnull, 2);
	for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct expected e;
		struct cpu_desc d;
		char one[1024] = "";

		if (read_expected(line, &e) || strcmp(e.arch, "x86") || !unit_has_word(e.flags, "lm"))
			continue;
		checked++;
		assert_int_equal(cpu_desc_target(line, &all, &d), 0);
		compare(line, &d, &e, one, sizeof(one));
		if (one[0]) {
			bad++;
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "\n  %s:%s", line + strlen(DUMPS) + 1, one);
		}
	}
	dup2(saved, 2);
	close(saved);
	close(devnull);
	free(list);
	print_message("%d x86-64 dumps checked\n", checked);
	assert_true(checked > 100);
	if (bad)
		fail_msg("%d of %d dumps decode differently from libcpuid's expected output:%s", bad, checked, msg);
}

/*
 * The library never prints (cpuport.h): decoding a dump must not write to
 * stderr, whatever the file holds.  libcpuid warns there by default
 * ("... not understood!") unless told otherwise.
 */
static void decoding_prints_nothing(void **state)
{
	static const char *const files[] = {
		DUMPS "/amd/zen2/ryzen5-matisse.test",	/* "Logical CPU #n" banner lines */
		DUMPS "/intel/x86-64/lion-cove/arrow-lake-s-core-ultra-5.test",
		"/etc/os-release",	/* not a dump at all */
	};
	char path[] = "/tmp/cpuport-unit-stderr.XXXXXX", text[512] = "";
	int fd = mkstemp(path), saved;
	struct cpu_desc d;
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (!access(files[i], R_OK))
			cpu_desc_target(files[i], &host, &d);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	if (n > 0) {
		text[n] = 0;
		fail_msg("cpu_desc_target() wrote to stderr: %s", text);
	}
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(named) + 2];
	char names[ARRAY_SIZE(named)][96];
	DIR *d = opendir(DUMPS);

	if (!d)
		UNIT_SKIP_ALL("libcpuid's test dumps are not in %s (scripts/setup.sh unpacks libcpuid 0.7.1 there)",
			      DUMPS);
	closedir(d);
	for (size_t i = 0; i < ARRAY_SIZE(named); i++) {
		snprintf(names[i], sizeof(names[i]), "dump %s", named[i].file);
		tests[i] = (struct CMUnitTest){ names[i], one_dump, NULL, NULL, (void *)&named[i] };
	}
	tests[ARRAY_SIZE(named)] = (struct CMUnitTest)cmocka_unit_test(all_x86_64_dumps);
	tests[ARRAY_SIZE(named) + 1] = (struct CMUnitTest)cmocka_unit_test(decoding_prints_nothing);
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("cpuid_dumps", tests, group_setup, NULL);
}
