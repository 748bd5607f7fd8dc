// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * variant_set_compute() against what ld.so really bound:
 *  - every IRELATIVE slot of libc.so.6 and libm.so.6 in this process (the
 *    address ld.so wrote there), every IFUNC symbol's dlsym() answer (asked
 *    of that library's own handle: a sanitizer's interceptors would answer
 *    for RTLD_DEFAULT);
 *  - the same in child processes started with GLIBC_TUNABLES masks that make
 *    glibc pick other variants (each must be in the set too);
 *  - GCC target_clones in the fixture library (build/fixtures/libclones.so)
 *    and the PIE workload: the set equals the clone symbols readelf lists
 *    for that function (NAME.avx2.0, ...), and contains dlsym()'s answer.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include "unit.h"
#include "elf_code.h"
#include "variant_set.h"

struct loaded {
	const char *want;	/* basename prefix */
	char path[512];
	uint64_t base;
};

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct loaded *l = arg;
	const char *b = strrchr(info->dlpi_name, '/');

	(void)size;
	b = b ? b + 1 : info->dlpi_name;
	if (!l->path[0] && !strncmp(b, l->want, strlen(l->want))) {
		snprintf(l->path, sizeof(l->path), "%s", info->dlpi_name);
		l->base = info->dlpi_addr;
	}
	return 0;
}

static bool find_loaded(const char *want, struct loaded *l)
{
	memset(l, 0, sizeof(*l));
	l->want = want;
	dl_iterate_phdr(find_cb, l);
	return l->path[0];
}

/* Every IRELATIVE slot and IFUNC symbol of a loaded object: the bound address is in its resolver's set. */
static void check_bound(const char *want, void *handle, size_t *n_checked, size_t *n_multi)
{
	struct loaded l;
	struct elf_code c;

	assert_true(find_loaded(want, &l));
	assert_int_equal(elf_code_open(l.path, &c), 0);
	for (size_t i = 0; i < c.n_rel; i++) {
		struct variant_set s;
		uint64_t bound;

		if (c.rel[i].type != R_X86_64_IRELATIVE)
			continue;
		memcpy(&bound, (void *)(l.base + c.rel[i].off), 8);
		assert_int_equal(variant_set_compute(&c, (uint64_t)c.rel[i].addend, &s), 0);
		if (!s.known)
			print_message("%s resolver %#lx: %s\n", l.path, (long)c.rel[i].addend, s.why);
		assert_true(s.known);
		if (!bound) {
			assert_true(s.may_be_null);
			variant_set_free(&s);
			continue;
		}
		if (!variant_set_has(&s, bound - l.base))
			print_message("%s slot %#lx bound %#lx not in the set of %#lx (%zu)\n", l.path,
				      (long)c.rel[i].off, (long)(bound - l.base), (long)c.rel[i].addend, s.n);
		assert_true(variant_set_has(&s, bound - l.base));
		*n_multi += s.n > 1;
		(*n_checked)++;
		variant_set_free(&s);
	}
	for (size_t i = 0; i < c.n_dynsym; i++) {
		const struct elf_code_sym *sym = &c.dynsym[i];
		struct variant_set s;
		void *p;

		if (sym->type != STT_GNU_IFUNC || !sym->defined || !sym->name)
			continue;
		p = dlsym(handle, sym->name);
		if (!p)
			continue;	/* a version this process cannot name */
		assert_int_equal(variant_set_compute(&c, sym->value, &s), 0);
		if (!s.known) {
			/* only where the answer lies outside the object (the vDSO: gettimeofday, time) */
			print_message("%s %s: unknown (%s), bound outside: %d\n", l.path, sym->name, s.why,
				      !elf_code_is_text(&c, (uint64_t)p - l.base));
			assert_false(elf_code_is_text(&c, (uint64_t)p - l.base));
			variant_set_free(&s);
			continue;
		}
		if (!variant_set_has(&s, (uint64_t)p - l.base))
			print_message("%s %s bound %#lx not in its set (%zu)\n", l.path, sym->name,
				      (long)((uint64_t)p - l.base), s.n);
		assert_true(variant_set_has(&s, (uint64_t)p - l.base));
		*n_multi += s.n > 1;
		(*n_checked)++;
		variant_set_free(&s);
	}
	elf_code_close(&c);
}

static void glibc_bound_in_set(void **state)
{
	size_t n = 0, multi = 0;
	void *libm = dlopen("libm.so.6", RTLD_NOW);

	(void)state;
	assert_non_null(libm);
	check_bound("libc.so.6", dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD), &n, &multi);
	check_bound("libm.so.6", libm, &n, &multi);
	print_message("%zu glibc resolvers checked, %zu with several variants\n", n, multi);
	assert_true(n > 100);
	assert_true(multi * 2 > n);	/* most glibc resolvers choose among several variants */
	dlclose(libm);
}

/* The child mode: print "name offset" of each libc/libm IFUNC as this process bound it. */
static int child_print(void)
{
	struct loaded l;
	struct elf_code c;
	void *libm = dlopen("libm.so.6", RTLD_NOW), *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	const char *libs[] = { "libc.so.6", "libm.so.6" };

	for (int k = 0; k < 2; k++) {
		if (!find_loaded(libs[k], &l) || elf_code_open(l.path, &c))
			return 1;
		for (size_t i = 0; i < c.n_dynsym; i++) {
			void *p;

			if (c.dynsym[i].type != STT_GNU_IFUNC || !c.dynsym[i].defined)
				continue;
			p = dlsym(k ? libm : libc, c.dynsym[i].name);
			if (p)
				printf("%s %lx %lx\n", l.path, (long)c.dynsym[i].value, (long)((uint64_t)p - l.base));
		}
		elf_code_close(&c);
	}
	return 0;
}

/* Under masks glibc picks other variants: each must be in the set. */
static void masked_children_in_set(void **state)
{
	static const char *const masks[] = {
		"glibc.cpu.hwcaps=-AVX512F,-AVX512VL",
		"glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX2,-AVX,-AVX_Fast_Unaligned_Load",
		"glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX2,-AVX,-AVX_Fast_Unaligned_Load,-ERMS,-SSSE3,-SSE4_1,"
		"-SSE4_2,-BMI1,-BMI2,-FMA,-FMA4,-POPCNT,-LZCNT,-MOVBE",
	};
	size_t checked = 0;

	(void)state;
	for (size_t m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
		int st;
		char *out = unit_run(&st, "GLIBC_TUNABLES=%s UNIT_VARIANT_CHILD=1 /proc/%d/exe", masks[m], getpid());
		char *save = NULL;
		struct elf_code c[2];
		char paths[2][512] = { "", "" };

		assert_non_null(out);
		assert_int_equal(st, 0);
		for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char path[512];
			unsigned long res, got;
			struct variant_set s;
			int k;

			assert_int_equal(sscanf(line, "%511s %lx %lx", path, &res, &got), 3);
			for (k = 0; k < 2 && paths[k][0] && strcmp(paths[k], path); k++)
				;
			assert_true(k < 2);
			if (!paths[k][0]) {
				snprintf(paths[k], sizeof(paths[k]), "%s", path);
				assert_int_equal(elf_code_open(path, &c[k]), 0);
			}
			assert_int_equal(variant_set_compute(&c[k], res, &s), 0);
			if (!s.known) {
				assert_false(elf_code_is_text(&c[k], got));	/* the vDSO */
				variant_set_free(&s);
				continue;
			}
			if (!variant_set_has(&s, got))
				print_message("%s: resolver %#lx picked %#lx, not in the set\n", masks[m], res, got);
			assert_true(variant_set_has(&s, got));
			variant_set_free(&s);
			checked++;
		}
		for (int k = 0; k < 2; k++)
			if (paths[k][0])
				elf_code_close(&c[k]);
		free(out);
	}
	assert_true(checked > 100);
}

/* target_clones: the set is exactly NAME's clone symbols (readelf's view of the fixture's .symtab). */
static void check_clones_file(const char *path, size_t *n_funcs)
{
	struct elf_code c;
	int st;
	char *syms = unit_run(&st, "readelf -sW '%s'", path);
	char *save = NULL;

	assert_non_null(syms);
	assert_int_equal(elf_code_open(path, &c), 0);
	for (char *line = strtok_r(syms, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char type[32], name[256], *save2 = NULL, *clones, *l2;
		unsigned long value, v2;
		struct variant_set s;
		size_t expect = 0;

		if (sscanf(line, " %*[0-9]: %lx %*s %31s %*s %*s %*s %255s", &value, type, name) != 3 ||
		    strcmp(type, "IFUNC") || strchr(name, '@'))
			continue;
		assert_int_equal(variant_set_compute(&c, value, &s), 0);
		if (!s.known)
			print_message("%s %s: %s\n", path, name, s.why);
		assert_true(s.known);
		clones = unit_run(&st, "readelf -sW '%s'", path);
		assert_non_null(clones);
		for (l2 = strtok_r(clones, "\n", &save2); l2; l2 = strtok_r(NULL, "\n", &save2)) {
			char t2[32], n2[256];
			size_t len = strlen(name);

			if (sscanf(l2, " %*[0-9]: %lx %*s %31s %*s %*s %*s %255s", &v2, t2, n2) != 3 ||
			    strcmp(t2, "FUNC") || strncmp(n2, name, len) || n2[len] != '.' || strstr(n2, ".resolver"))
				continue;
			assert_true(variant_set_has(&s, v2));
			expect++;
		}
		free(clones);
		print_message("%s %s: %zu clones, set of %zu\n", path, name, expect, s.n);
		assert_true(expect >= 2);
		assert_int_equal(s.n, expect);
		variant_set_free(&s);
		(*n_funcs)++;
	}
	free(syms);
	elf_code_close(&c);
}

static void target_clones_sets(void **state)
{
	char lib[4200], exe[4200];
	size_t n = 0, multi = 0;
	void *h;

	(void)state;
	snprintf(lib, sizeof(lib), "%s/build/fixtures/libclones.so", unit_top());
	snprintf(exe, sizeof(exe), "%s/build/fixtures/workload", unit_top());
	if (access(lib, R_OK) || access(exe, R_OK))
		UNIT_SKIP("make fixtures first");
	check_clones_file(lib, &n);
	check_clones_file(exe, &n);
	assert_true(n >= 3);
	h = dlopen(lib, RTLD_NOW);
	assert_non_null(h);
	n = 0;
	check_bound("libclones.so", h, &n, &multi);	/* dlsym's clone is in the set */
	assert_true(n >= 1 && multi >= 1);
	dlclose(h);
}

/* A function that is not a resolver (returns a data value): unknown, never a guess. */
static void non_resolver_unknown(void **state)
{
	struct loaded l;
	struct elf_code c;
	struct variant_set s;
	void *p = dlsym(RTLD_DEFAULT, "getpid");

	(void)state;
	assert_true(find_loaded("libc.so.6", &l));
	assert_non_null(p);
	assert_int_equal(elf_code_open(l.path, &c), 0);
	assert_int_equal(variant_set_compute(&c, (uint64_t)p - l.base, &s), 0);
	assert_false(s.known);
	assert_true(s.why[0]);
	variant_set_free(&s);
	elf_code_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(glibc_bound_in_set),
		cmocka_unit_test(masked_children_in_set),
		cmocka_unit_test(target_clones_sets),
		cmocka_unit_test(non_resolver_unknown),
	};

	if (getenv("UNIT_VARIANT_CHILD"))
		return child_print();
	return cmocka_run_group_tests_name("variant_set", tests, NULL, NULL);
}
