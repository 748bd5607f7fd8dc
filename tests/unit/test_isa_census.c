// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * isa_census_build/judge/get against real objects:
 *  - glibc (libc, ld.so, libm) as this process maps them, judged for the host
 *    restored as x86-64-v2, with the state cpuport re-selects located here
 *    independently (_dl_x86_get_cpu_features() for ld.so's cpu_features,
 *    readelf on libc6-dbg's file for glibc's tuning variables, GOT values read
 *    from this process) and exports counted only when a loaded object imports
 *    them: never self-dispatched;
 *  - the fixture libselfdisp.so (a CPUID flag and a heap function pointer):
 *    self-dispatched, naming sum_avx2 (readelf's extent), an instruction
 *    needing AVX/AVX2 inside it, and a reference from sd_sum_flag or sd_new;
 *  - the upgrade direction (nothing missing): nothing to refuse;
 *  - the on-disk cache: an entry round-trips exactly; a corrupt entry, one
 *    for another mtime, or a directory others may write are ignored, and the
 *    outcome stays the same;
 *  - anonymous memory: this program's own AVX2 function copied into a fresh
 *    mapping needs AVX; its examples name each extension's last instruction,
 *    most used extension first (a JIT cache's start-up stubs come first);
 *  - census_proc_check_jit() over this process's own memory: an anonymous
 *    executable mapping of AVX code is refused naming JIT code, one holding an
 *    ELF image (a copy of this process's vDSO, as CRIU keeps the dumped one)
 *    is not, and nothing is refused in the upgrade direction.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <gnu/libc-version.h>
#include <immintrin.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "unit.h"
#include "elf_code.h"
#include "isa_census.h"
#include "census_check.h"
#include "unit_child.h"

struct obj {
	char path[512];
	uint64_t base;
};

static struct obj objs[64];
static size_t n_objs;
static uint64_t cf_lo, cf_hi;		/* ld.so cpu_features, absolute */
static uint64_t tun_lo[8], tun_hi[8];	/* libc tuning variables, absolute */
static size_t n_tun;

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	if (n_objs < 64 && info->dlpi_name[0]) {
		snprintf(objs[n_objs].path, sizeof(objs[0].path), "%s", info->dlpi_name);
		objs[n_objs++].base = info->dlpi_addr;
	}
	return 0;
}

static const struct obj *obj_named(const char *base)
{
	for (size_t i = 0; i < n_objs; i++) {
		const char *b = strrchr(objs[i].path, '/');

		if (!strncmp(b ? b + 1 : objs[i].path, base, strlen(base)))
			return &objs[i];
	}
	return NULL;
}

struct env_arg {
	const struct obj *o;
	const struct elf_code *c;
};

static bool in_state(uint64_t abs)
{
	if (abs >= cf_lo && abs < cf_hi)
		return true;
	for (size_t i = 0; i < n_tun; i++)
		if (abs >= tun_lo[i] && abs < tun_hi[i])
			return true;
	return false;
}

static bool live_reselected(uint64_t addr, bool via_got, int64_t disp, void *arg)
{
	struct env_arg *a = arg;
	uint64_t v;

	if (!via_got)
		return in_state(a->o->base + addr);
	memcpy(&v, (void *)(a->o->base + addr), 8);	/* the GOT as ld.so filled it */
	return in_state(v + (uint64_t)disp);
}

static bool live_imported(uint64_t addr, void *arg)
{
	struct env_arg *a = arg;
	const char *name = NULL;

	for (size_t i = 0; i < a->c->n_dynsym && !name; i++)
		if (a->c->dynsym[i].defined && a->c->dynsym[i].value == addr)
			name = a->c->dynsym[i].name;
	if (!name)
		return true;
	for (size_t k = 0; k < n_objs; k++) {
		struct elf_code o;
		bool hit = false;

		if (objs[k].base == a->o->base || elf_code_open(objs[k].path, &o))
			continue;
		for (size_t i = 0; i < o.n_rel && !hit; i++)
			hit = o.rel[i].sym && o.rel[i].sym < o.n_dynsym && o.dynsym[o.rel[i].sym].name &&
			      !o.dynsym[o.rel[i].sym].defined && !strcmp(o.dynsym[o.rel[i].sym].name, name);
		elf_code_close(&o);
		if (hit)
			return true;
	}
	return false;
}

static struct featset missing_v2;

static int group_setup(void **state)
{
	struct cpu_desc host, v2;
	void *(*getcf)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "_dl_x86_get_cpu_features");
	const struct obj *libc;
	char *out;
	int st;

	(void)state;
	dlopen("libm.so.6", RTLD_NOW);
	dl_iterate_phdr(collect_cb, NULL);
	if (cpu_desc_host(&host) || cpu_desc_target("x86-64-v2", &host, &v2))
		return -1;
	missing_v2.w[0] = host.feat.w[0] & ~v2.feat.w[0];
	missing_v2.w[1] = host.feat.w[1] & ~v2.feat.w[1];
	if (getcf) {
		cf_lo = (uint64_t)getcf();
		cf_hi = cf_lo + glibc_layout_find(gnu_get_libc_version())->cpu_features_size;
	}
	libc = obj_named("libc.so.6");
	out = libc ? unit_run(&st, "f=$(readelf -n '%s' | awk '/Build ID/{print $3}'); "
				   "d=/usr/lib/debug/.build-id/$(echo $f | cut -c1-2)/$(echo $f | cut -c3-).debug; "
				   "test -f $d && readelf -sW $d", libc->path) : NULL;
	for (char *save = NULL, *l = out ? strtok_r(out, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long v, sz;
		char name[128];

		if (sscanf(l, " %*[0-9]: %lx %lu %*s %*s %*s %*s %127s", &v, &sz, name) != 3)
			continue;
		for (const char *const *t = glibc_libc_tuning_syms; *t && n_tun < 8; t++)
			if (!strcmp(*t, name)) {
				tun_lo[n_tun] = libc->base + v;
				tun_hi[n_tun++] = libc->base + v + (sz ? sz : 1);
			}
	}
	free(out);
	return 0;
}

static void judge_live(const char *base, struct census_verdict *v, struct isa_census **cen_out)
{
	const struct obj *o = obj_named(base);
	struct elf_code c;
	struct isa_census *cen;
	struct env_arg a;
	struct census_env env = { live_reselected, live_imported, &a };

	assert_non_null(o);
	assert_int_equal(elf_code_open(o->path, &c), 0);
	assert_int_equal(isa_census_build(&c, &cen), 0);
	a = (struct env_arg){ o, &c };
	isa_census_judge(cen, &missing_v2, &env, v);
	print_message("%s: %zu needy functions, %zu re-selected, %zu guarded, %zu unreached, %zu self-dispatched\n",
		      base, cen->n_funcs, v->n_reselected, v->n_guarded, v->n_unreached, v->n_self);
	if (v->func)
		print_message("  first: %#lx-%#lx %s at %#lx, ref kind %u at %#lx\n", (long)v->func->start,
			      (long)v->func->end, v->ex ? v->ex->mnemonic : "?", v->ex ? (long)v->ex->addr : 0,
			      v->ref ? v->ref->kind : 0, v->ref ? (long)v->ref->site : 0);
	elf_code_close(&c);
	if (cen_out)
		*cen_out = cen;
	else
		isa_census_free(cen);
}

static void glibc_not_self_dispatched(void **state)
{
	struct census_verdict v;
	struct isa_census *cen;

	(void)state;
	if (!missing_v2.w[0] && !missing_v2.w[1])
		UNIT_SKIP("this host is not above x86-64-v2");
	if (!cf_lo)
		UNIT_SKIP("no _dl_x86_get_cpu_features in this glibc");
	if (!n_tun)
		UNIT_SKIP("libc6-dbg not installed (glibc's tuning variables)");
	judge_live("libc.so.6", &v, &cen);
	assert_int_not_equal(v.cls, CC_SELF_DISPATCHED);
	assert_true(v.n_reselected > 0);	/* the IFUNC variants above v2 */
	isa_census_free(cen);
	judge_live("ld-linux-x86-64.so.2", &v, NULL);
	assert_int_not_equal(v.cls, CC_SELF_DISPATCHED);
	judge_live("libm.so.6", &v, NULL);
	assert_int_not_equal(v.cls, CC_SELF_DISPATCHED);
	assert_true(v.n_reselected > 0);
}

/* Without any re-selected state, libc's variants are reached from its ifunc-impl list: not safe. */
static void glibc_without_state_fails_closed(void **state)
{
	const struct obj *o = obj_named("libc.so.6");
	struct isa_census *cen;
	struct census_verdict v;

	(void)state;
	if (!missing_v2.w[0] && !missing_v2.w[1])
		UNIT_SKIP("this host is not above x86-64-v2");
	assert_int_equal(isa_census_get(NULL, o->path, &cen), 0);
	isa_census_judge(cen, &missing_v2, NULL, &v);
	assert_int_equal(v.cls, CC_SELF_DISPATCHED);
	assert_non_null(v.func);
	assert_non_null(v.ex);
	isa_census_free(cen);
}

static void selfdisp_refused(void **state)
{
	char path[4200];
	struct isa_census *cen;
	struct census_verdict v;
	unsigned long lo, hi, f1, f2, n1, n2;
	struct featset none = { { 0, 0 } };
	int avx = feature_by_name("avx"), avx2 = feature_by_name("avx2");

	(void)state;
	snprintf(path, sizeof(path), "%s/build/fixtures/libselfdisp.so", unit_top());
	if (access(path, R_OK))
		UNIT_SKIP("make fixtures first");
	if (!featset_has(&missing_v2, avx2))
		UNIT_SKIP("this host has no AVX2");
	assert_int_equal(isa_census_get(NULL, path, &cen), 0);
	isa_census_judge(cen, &missing_v2, NULL, &v);
	assert_int_equal(v.cls, CC_SELF_DISPATCHED);
	assert_true(unit_sym_extent(path, "sum_avx2", &lo, &hi));
	assert_true(unit_sym_extent(path, "sd_sum_flag", &f1, &n1));
	assert_true(unit_sym_extent(path, "sd_new", &f2, &n2));
	assert_int_equal(v.func->start, lo);
	assert_true(v.ex && v.ex->addr >= lo && v.ex->addr < hi);
	assert_true(v.ex->feature == (uint32_t)avx || v.ex->feature == (uint32_t)avx2);
	assert_non_null(v.ref);
	assert_true((v.ref->site >= f1 && v.ref->site < n1) || (v.ref->site >= f2 && v.ref->site < n2));
	/* the upgrade direction: nothing is missing, nothing refused */
	isa_census_judge(cen, &none, NULL, &v);
	assert_int_equal(v.cls, CC_NONE);
	assert_int_equal(v.n_self, 0);
	isa_census_free(cen);
}

static void same_census(const struct isa_census *a, const struct isa_census *b)
{
	assert_int_equal(a->n_funcs, b->n_funcs);
	assert_int_equal(a->n_ex, b->n_ex);
	assert_int_equal(a->n_refs, b->n_refs);
	assert_int_equal(a->n_readers, b->n_readers);
	assert_int_equal(a->n_reads, b->n_reads);
	assert_memory_equal(a->funcs, b->funcs, a->n_funcs * sizeof(*a->funcs));
	assert_memory_equal(a->ex, b->ex, a->n_ex * sizeof(*a->ex));
	assert_memory_equal(a->refs, b->refs, a->n_refs * sizeof(*a->refs));
	assert_memory_equal(a->readers, b->readers, a->n_readers * sizeof(*a->readers));
	assert_memory_equal(a->reads, b->reads, a->n_reads * sizeof(*a->reads));
}

static struct cpuport_ctx *ctx_on(const char *cache_dir)
{
	struct cpuport_ctx *ctx;

	setenv("CPUPORT_CACHE_DIR", cache_dir, 1);
	ctx = cpuport_ctx__new(NULL);
	unsetenv("CPUPORT_CACHE_DIR");
	assert_non_null(ctx);
	return ctx;
}

/* the census through the generic disk cache (kind "census"): the same census, never another outcome */
static void cache_is_a_fact(void **state)
{
	char dir[64] = "/tmp/cpuport-census-XXXXXX", lib[4200], copy[4300], entry[4400];
	struct isa_census *fresh, *c1, *c2, *c3;
	struct census_verdict v1, v2;
	struct cpuport_ctx *ctx;
	int st, fd;
	char *out;

	(void)state;
	snprintf(lib, sizeof(lib), "%s/build/fixtures/libselfdisp.so", unit_top());
	if (access(lib, R_OK))
		UNIT_SKIP("make fixtures first");
	assert_non_null(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/lib.so", dir);
	free(unit_run(&st, "cp '%s' '%s'", lib, copy));
	assert_int_equal(st, 0);
	chmod(dir, 0755);
	strcat(dir, "/cache");
	ctx = ctx_on(dir);
	assert_int_equal(isa_census_get(NULL, copy, &fresh), 0);
	assert_false(fresh->from_cache);
	assert_int_equal(isa_census_get(ctx, copy, &c1), 0);	/* built, stored */
	assert_false(c1->from_cache);
	assert_int_equal(isa_census_get(ctx, copy, &c2), 0);	/* loaded */
	assert_true(c2->from_cache);
	same_census(fresh, c2);
	/* corrupt one byte in the middle: ignored, rebuilt, same outcome */
	out = unit_run(&st, "ls '%s/census'", dir);
	assert_non_null(out);
	out[strcspn(out, "\n")] = 0;
	snprintf(entry, sizeof(entry), "%s/census/%s", dir, out);
	free(out);
	fd = open(entry, O_RDWR);
	assert_true(fd >= 0);
	{
		struct stat sb;
		uint8_t byte;

		assert_int_equal(fstat(fd, &sb), 0);
		assert_int_equal(pread(fd, &byte, 1, sb.st_size / 2), 1);
		byte ^= 0x5a;
		assert_int_equal(pwrite(fd, &byte, 1, sb.st_size / 2), 1);
	}
	close(fd);
	assert_int_equal(isa_census_get(ctx, copy, &c3), 0);
	assert_false(c3->from_cache);
	same_census(fresh, c3);
	isa_census_judge(fresh, &missing_v2, NULL, &v1);
	isa_census_judge(c3, &missing_v2, NULL, &v2);
	assert_int_equal(v1.cls, v2.cls);
	isa_census_free(c3);
	assert_int_equal(isa_census_get(ctx, copy, &c3), 0);	/* stored again whole */
	assert_true(c3->from_cache);
	isa_census_free(c3);
	/* the file changes (mtime): the entry is not used */
	free(unit_run(&st, "touch -d '2001-01-01' '%s'", copy));
	assert_int_equal(isa_census_get(ctx, copy, &c3), 0);
	assert_false(c3->from_cache);
	same_census(fresh, c3);
	isa_census_free(c3);
	/* an entry others may write: not trusted (a new context: directories are checked once per context) */
	cpuport_ctx__free(ctx);
	ctx = ctx_on(dir);
	assert_int_equal(chmod(entry, 0666), 0);
	assert_int_equal(isa_census_get(ctx, copy, &c3), 0);
	assert_false(c3->from_cache);
	same_census(fresh, c3);
	isa_census_free(c3);
	cpuport_ctx__free(ctx);
	isa_census_free(fresh);
	isa_census_free(c1);
	isa_census_free(c2);
	*strrchr(dir, '/') = 0;
	free(unit_run(&st, "rm -rf '%s'", dir));
}

/* AVX2 code whatever the build (intrinsics, no sanitizer instrumentation in front of it) */
__attribute__((target("avx2"), noinline, no_sanitize("address", "undefined"))) static void avx2_fn(unsigned int *p)
{
	for (int i = 0; i < 64; i += 8) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(p + i));

		_mm256_storeu_si256((__m256i *)(p + i), _mm256_add_epi32(v, _mm256_srli_epi32(v, 2)));
	}
}

static void jit_memory(void **state)
{
	unsigned int buf[64] = { 0 };
	uint8_t *m;
	struct isa_census *cen;
	int avx = feature_by_name("avx");

	(void)state;
	if (__builtin_cpu_supports("avx2"))
		avx2_fn(buf);	/* runs only where it can */
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	memcpy(m, (void *)avx2_fn, 512);
	assert_int_equal(isa_census_of_memory(m, 512, (uint64_t)m, &cen), 0);
	assert_true(featset_has(&cen->need, avx));
	assert_int_equal(cen->n_funcs, 1);
	assert_true(cen->n_ex > 0 && cen->ex[0].addr >= (uint64_t)m && cen->ex[0].addr < (uint64_t)m + 512);
	isa_census_free(cen);
	munmap(m, 4096);
}

/* Hand-made "JIT code": one AVX2 instruction, then two AVX ones; the examples follow use, not address. */
static void jit_memory_examples(void **state)
{
	static const uint8_t code[] = {
		0xc5, 0xfd, 0xfe, 0xc0,	/* 0: vpaddd %ymm0,%ymm0,%ymm0 (AVX2) */
		0xc5, 0xf8, 0x77,	/* 4: vzeroupper (AVX) */
		0x90,			/* 7: nop */
		0xc5, 0xf8, 0x77,	/* 8: vzeroupper (AVX) */
		0xc3,			/* 11: ret */
	};
	const uint64_t at = 0x7f0000400000;
	struct isa_census *cen;

	(void)state;
	assert_int_equal(isa_census_of_memory(code, sizeof(code), at, &cen), 0);
	assert_int_equal(cen->n_funcs, 1);
	assert_int_equal(cen->n_ex, 2);
	assert_int_equal(cen->funcs[0].n_ex, 2);
	/* AVX: three instructions need it (vpaddd too), the last one is at 8 */
	assert_int_equal(cen->ex[0].feature, F_AVX);
	assert_true(cen->ex[0].addr == at + 8);
	assert_string_equal(cen->ex[0].mnemonic, "vzeroupper");
	/* AVX2: one instruction */
	assert_int_equal(cen->ex[1].feature, F_AVX2);
	assert_true(cen->ex[1].addr == at);
	assert_string_equal(cen->ex[1].mnemonic, "vpaddd");
	isa_census_free(cen);
}

static int self_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	(void)arg;
	memcpy(buf, (void *)addr, len);
	return 0;
}

static const struct pview_ops self_ops = { .read = self_read };

static int fail_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	(void)arg, (void)addr, (void)buf, (void)len;
	return -EIO;
}

static const struct pview_ops fail_ops = { .read = fail_read };

static void jit_check(void **state)
{
	struct unit_log log = { .len = 0 };
	unsigned int buf[64] = { 0 };
	uint64_t vdso = getauxval(AT_SYSINFO_EHDR);
	uint8_t *code, *elf;
	struct proc_map maps[2];
	struct pview v = { .ops = &self_ops, .maps = maps, .n_maps = 2 };
	struct census_proc cp;
	struct cpuport_ctx *ctx;

	(void)state;
	if (!featset_has(&missing_v2, F_AVX))
		UNIT_SKIP("this host has no AVX");
	CPUPORT_OPTS(cpuport_ctx_opts, o, .print = unit_log_cb, .print_arg = &log);
	ctx = cpuport_ctx__new(&o);
	assert_non_null(ctx);
	if (__builtin_cpu_supports("avx2"))
		avx2_fn(buf);
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	elf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(code != MAP_FAILED && elf != MAP_FAILED);
	memcpy(code, (void *)avx2_fn, 512);
	assert_true(vdso != 0);
	memcpy(elf, (void *)vdso, 4096);	/* the vDSO's first page: its ELF header */
	memcpy(elf + 4096, (void *)avx2_fn, 512);	/* code that would be refused as JIT code */
	memset(maps, 0, sizeof(maps));
	maps[0] = (struct proc_map){ .start = (uint64_t)elf, .end = (uint64_t)elf + 8192 };
	maps[1] = (struct proc_map){ .start = (uint64_t)code, .end = (uint64_t)code + 4096 };
	memcpy(maps[0].perms, "r-xp", 5);
	memcpy(maps[1].perms, "r-xp", 5);
	/* only the ELF image: not JIT code */
	memset(&cp, 0, sizeof(cp));
	cp.ctx = ctx, cp.pid = getpid(), cp.missing = missing_v2, cp.target = "x86-64-v2";
	v.n_maps = 1;
	assert_int_equal(census_proc_check_jit(&cp, &v), 0);
	assert_int_equal(cp.n_jit, 0);
	/* with generated AVX code */
	v.n_maps = 2;
	assert_int_equal(census_proc_check_jit(&cp, &v), -EDEADLK);
	assert_non_null(strstr(log.text, "JIT code in anonymous executable memory"));
	assert_int_equal(cp.n_jit, 1);
	assert_false(log.bad_line);
	/* a recorded example (cpuport check) is named only when it needs what is missing */
	{
		struct featset need = { { 0, 0 } }, miss = cp.missing;

		featset_set(&need, F_AVX);
		featset_set(&need, F_AVX512F);
		memset(&cp.missing, 0, sizeof(cp.missing));
		featset_set(&cp.missing, F_AVX512F);
		unit_log_reset(&log);
		assert_int_equal(census_jit_judge(&cp, 0x1000, 0x2000, NULL, &need, 0x1800, "vzeroupper", F_AVX),
				 -EDEADLK);
		assert_non_null(strstr(log.text, "0x1000-0x2000 uses avx512f that x86-64-v2 lacks"));
		assert_null(strstr(log.text, "vzeroupper"));
		featset_set(&cp.missing, F_AVX);
		unit_log_reset(&log);
		assert_int_equal(census_jit_judge(&cp, 0x1000, 0x2000, NULL, &need, 0x1800, "vzeroupper", F_AVX),
				 -EDEADLK);
		assert_non_null(strstr(log.text, "uses avx (instruction vzeroupper at 0x1800) that x86-64-v2 lacks"));
		assert_false(log.bad_line);
		cp.missing = miss;
	}
	/* JIT code that cannot be read cannot be judged: it may still run, so refused */
	{
		struct pview unreadable = { .ops = &fail_ops, .maps = &maps[1], .n_maps = 1 };

		unit_log_reset(&log);
		assert_int_equal(census_proc_check_jit(&cp, &unreadable), -EDEADLK);
		assert_non_null(strstr(log.text, "(JIT code) cannot be read"));
		assert_false(log.bad_line);
	}
	/* the upgrade direction: nothing missing, nothing refused */
	memset(&cp.missing, 0, sizeof(cp.missing));
	assert_int_equal(census_proc_check_jit(&cp, &v), 0);
	munmap(code, 4096);
	munmap(elf, 8192);
	cpuport_ctx__free(ctx);
}

/* In a child: sd_new(), which keeps &sum_avx2 in a heap context. */
static bool make_sd_ctx(void *sd_new)
{
	return ((void *(*)(void))sd_new)() != NULL;
}

static bool nothing(void *arg)
{
	(void)arg;
	return true;
}

/* A child of this process (same mappings) that calls sd_new() or not, then waits to be scanned. */
static pid_t selfdisp_child(void *(*sd_new)(void), bool make_ctx)
{
	return make_ctx ? unit_child_ready(make_sd_ctx, (void *)sd_new) : unit_child_ready(nothing, NULL);
}

/*
 * The function-pointer hazard scan over a real process (a child with
 * libselfdisp.so loaded): nothing refused until sd_new() keeps a pointer to
 * sum_avx2 in a heap context; then refused, naming the pointer and sum_avx2.
 */
static void pointer_hazard(void **state)
{
	char path[4200];
	struct unit_log log = { .len = 0 };
	struct census_proc cp;
	struct census_proc_obj obj;
	struct cpuport_ctx *ctx;
	void *h, *(*sd_new)(void);
	const struct obj *o;
	uint64_t none = 0;
	pid_t pid;

	(void)state;
#ifdef __SANITIZE_ADDRESS__
	UNIT_SKIP("ASan's shadow memory is terabytes of writable mappings: the scan is for real processes");
#endif
	snprintf(path, sizeof(path), "%s/build/fixtures/libselfdisp.so", unit_top());
	if (access(path, R_OK))
		UNIT_SKIP("make fixtures first");
	if (!featset_has(&missing_v2, F_AVX2))
		UNIT_SKIP("this host has no AVX2");
	h = dlopen(path, RTLD_NOW);
	assert_non_null(h);
	sd_new = (void *(*)(void))dlsym(h, "sd_new");
	assert_non_null(sd_new);
	n_objs = 0;
	dl_iterate_phdr(collect_cb, NULL);
	o = obj_named("libselfdisp.so");
	assert_non_null(o);
	CPUPORT_OPTS(cpuport_ctx_opts, opts, .print = unit_log_cb, .print_arg = &log);
	ctx = cpuport_ctx__new(&opts);
	assert_non_null(ctx);
	memset(&cp, 0, sizeof(cp));
	memset(&obj, 0, sizeof(obj));
	obj.name = path;
	obj.base = o->base;
	assert_int_equal(isa_census_get(NULL, path, &obj.cen), 0);
	assert_int_equal(elf_code_open_mode(path, &obj.code, ELF_CODE_NO_FUNCS), 0);	/* names */
	obj.open = true;
	cp.ctx = ctx, cp.pid = getpid(), cp.missing = missing_v2, cp.target = "x86-64-v2";
	cp.objs = &obj, cp.n_objs = 1;
	cp.written = &none;
	pid = selfdisp_child(sd_new, false);
	assert_true(pid > 0);
	if (unit_census_scan_child(pid, &cp))
		print_message("without a context: %s", log.text);
	assert_int_equal(log.errors, 0);
	pid = selfdisp_child(sd_new, true);
	assert_true(pid > 0);
	assert_int_equal(unit_census_scan_child(pid, &cp), -EDEADLK);
	assert_non_null(strstr(log.text, "a function pointer at"));
	assert_non_null(strstr(log.text, "sum_avx2"));
	assert_false(log.bad_line);
	elf_code_close(&obj.code);
	isa_census_free(obj.cen);
	cpuport_ctx__free(ctx);
	dlclose(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(glibc_not_self_dispatched),
		cmocka_unit_test(glibc_without_state_fails_closed),
		cmocka_unit_test(selfdisp_refused),
		cmocka_unit_test(cache_is_a_fact),
		cmocka_unit_test(jit_memory),
		cmocka_unit_test(jit_memory_examples),
		cmocka_unit_test(jit_check),
		cmocka_unit_test(pointer_hazard),
	};

	return cmocka_run_group_tests_name("isa_census", tests, group_setup, NULL);
}
