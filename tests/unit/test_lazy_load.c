// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What the library loads or reads only when needed, to keep every criu run
 * cheap, still gives the same answers when it is needed:
 *  - the host's names (libcpuid) are read on first use: an image made from a
 *    fresh host description names the vendor CPUID leaf 0 gives, and the
 *    same brand as libcpuid read up front; a context names the host once,
 *    for all the processes it scans;
 *  - capstone is dlopen()ed on the first cs_open() (capstone_lazy.c): the
 *    ISA of known instruction bytes is decoded as before;
 *  - the dump's "which object defines this symbol" skips objects whose name
 *    filter says no: it never says no for a name the object defines;
 *  - debug-file names are looked up when a name is first asked for: then
 *    the same names, for every lookup, as an eager load gives.
 */
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <libcpuid/libcpuid.h>

#include "unit.h"
#include "internal.h"

static void host_names_read_on_first_use(void **state)
{
	struct cpu_desc d;
	struct arena a = { 0 };
	Cpuport__Cpu *c;
	struct cpu_raw_data_t raw;
	struct cpu_id_t id;
	uint32_t max, regs[3];
	char vendor[13];

	(void)state;
	assert_int_equal(cpu_desc_host(&d), 0);
	assert_true(d.names_pending);
	assert_int_equal(d.vendor[0], 0);
	__get_cpuid(0, &max, &regs[0], &regs[2], &regs[1]);	/* ebx, edx, ecx spell the vendor */
	memcpy(vendor, regs, 12);
	vendor[12] = 0;
	assert_int_equal(cpu_desc_to_image(&a, &d, &c), 0);
	assert_string_equal(c->vendor, vendor);
	assert_int_equal(cpuid_get_raw_data(&raw), 0);
	assert_int_equal(cpu_identify(&raw, &id), 0);
	assert_string_equal(c->brand, id.brand_str);
	assert_string_equal(c->codename, id.cpu_codename);
	assert_true(d.names_pending);	/* @d itself is const there */
	cpu_desc_names(&d);
	assert_false(d.names_pending);
	assert_string_equal(d.vendor, vendor);
	arena_free(&a);
}

/* a dump of many processes names the host once (per context), and every image carries those names */
static void host_named_once_per_context(void **state)
{
	struct cpuport_table *t[2] = { NULL, NULL };
	struct cpuport_ctx *ctx;
	pid_t pid;

	(void)state;
	setenv("CPUPORT_CACHE_DIR", "off", 1);
	ctx = cpuport_ctx__new(NULL);
	assert_non_null(ctx);
	assert_true(ctx->host.names_pending);
	pid = fork();
	if (!pid)
		for (;;)
			pause();
	kill(pid, SIGSTOP);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cpuport_scan(ctx, pid, &t[i]), 0);
		assert_false(ctx->host.names_pending);	/* named by the first scan, kept */
		assert_string_equal(t[i]->img->source_cpu->vendor, ctx->host.vendor);
		assert_string_equal(t[i]->img->source_cpu->brand, ctx->host.brand);
		assert_true(t[i]->img->source_cpu->vendor[0]);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cpuport_table__free(t[0]);
	cpuport_table__free(t[1]);
	cpuport_ctx__free(ctx);
	unsetenv("CPUPORT_CACHE_DIR");
}

static void capstone_loaded_on_first_use(void **state)
{
	/* vaddps ymm0, ymm1, ymm2 ; andn eax, ebx, ecx ; ret */
	static const uint8_t code[] = { 0xc5, 0xf4, 0x58, 0xc2, 0xc4, 0xe2, 0x60, 0xf2, 0xc1, 0xc3 };
	struct featset need = { { 0 } };

	(void)state;
	assert_int_equal(isa_required(code, sizeof(code), 0x1000, &need), 0);
	assert_true(featset_has(&need, F_AVX));
	assert_true(featset_has(&need, F_BMI1));
	assert_false(featset_has(&need, F_AVX512F));
	assert_non_null(dlopen("libcapstone.so.4", RTLD_NOW | RTLD_NOLOAD));
}

static void dynsym_filter_keeps_every_name(void **state)
{
	static const char *const files[] = { "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2",
					      "/lib/x86_64-linux-gnu/libm.so.6", "/usr/bin/python3" };
	struct cpuport_ctx *ctx;
	size_t absent = 0;

	(void)state;
	setenv("CPUPORT_CACHE_DIR", "off", 1);
	ctx = cpuport_ctx__new(NULL);
	assert_non_null(ctx);
	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		int err;
		const struct elf_info *e = elf_cache_get(ctx, files[f], "", &err);
		char name[64];

		assert_non_null(e);
		assert_int_equal(e->dynsym_bloom_words, 0);	/* not for a restore */
		elf_cache_want_filter(ctx, e);	/* as the dump does */
		assert_true(e->dynsym_bloom_words > 0);
		for (size_t i = 0; i < e->n_dynsyms; i++)
			assert_true(elf_dynsym_maybe(e, elf_name_hash(e->dynsyms[i].name)));
		for (int i = 0; i < 1000; i++) {	/* names nobody defines: the filter mostly knows */
			snprintf(name, sizeof(name), "cpuport_no_such_symbol_%d", i);
			assert_null(elf_dynsym_find(e, name, NULL));
			absent += !elf_dynsym_maybe(e, elf_name_hash(name));
		}
	}
	assert_true(absent > 3 * 1000 * ARRAY_SIZE(files) / 4);
	cpuport_ctx__free(ctx);
}

/* the eager load: elf_info_load() and elf_info_debug_from() at once */
static void debug_names_read_on_first_use(void **state)
{
	static const char *const files[] = { "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6" };
	struct cpuport_ctx *ctx;

	(void)state;
	setenv("CPUPORT_CACHE_DIR", "off", 1);
	ctx = cpuport_ctx__new(NULL);
	assert_non_null(ctx);
	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		struct elf_info eager;
		const struct elf_info *lazy;
		const struct elf_symbol *a, *b;
		int err;

		assert_int_equal(elf_info_load(ctx, files[f], &eager), 0);
		elf_info_debug_from(ctx, &eager, "");
		lazy = elf_cache_get(ctx, files[f], "", &err);
		assert_non_null(lazy);
		assert_non_null(lazy->debug_pending);	/* nothing read yet */
		assert_false(lazy->syms_from_debug);
		/* the first name asked for reads them: every symbol's address names the same symbol */
		for (size_t i = 0; i < eager.n_syms; i++) {
			a = elf_sym_at(&eager, eager.syms[i].value);
			b = elf_sym_at(lazy, eager.syms[i].value);
			assert_true(a == NULL ? b == NULL : b && !strcmp(a->name, b->name));
		}
		assert_null(lazy->debug_pending);
		assert_int_equal(lazy->syms_from_debug, eager.syms_from_debug);
		assert_int_equal(lazy->n_syms, eager.n_syms);
		if (eager.n_syms)
			assert_non_null(elf_sym_named(lazy, eager.syms[eager.n_syms / 2].name));
		elf_info_free(&eager);
	}
	cpuport_ctx__free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(host_names_read_on_first_use),
		cmocka_unit_test(host_named_once_per_context),
		cmocka_unit_test(capstone_loaded_on_first_use),
		cmocka_unit_test(dynsym_filter_keeps_every_name),
		cmocka_unit_test(debug_names_read_on_first_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
