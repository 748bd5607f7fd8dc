// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What counts as a guard in the ISA census (census_guard.c, census_judge.c),
 * on real ELF files:
 *  - the fixture libguard.so (make fixtures), with libgcc's __cpu_model as the
 *    re-selected state (its extent from readelf): AVX2 code whose table
 *    address is chosen by a cmov on a test of __cpu_model, and AVX2 code
 *    called after a leaf predicate that loads __cpu_model, are guarded; AVX2
 *    code whose table address is taken whatever the (loaded, stored, never
 *    tested) __cpu_model says is self-dispatched; with no re-selected state,
 *    all three are self-dispatched (fail closed);
 *  - Debian's libcrypto.so.3 as this process maps it, with OPENSSL_ia32cap_P
 *    (openssl_cap_locate) as the re-selected state: restored for a CPU that
 *    has AES-NI, PCLMUL and AVX2 but lacks this host's AVX-512/VAES/SHA-NI
 *    (libcpuid's Haswell dump), nothing is self-dispatched and code is
 *    guarded by the vector; without the vector it is refused; for Nehalem it
 *    is refused naming an AES-NI or PCLMUL instruction (code OpenSSL 3.0
 *    reaches without testing the vector: the composite AES-CBC-HMAC-SHA
 *    ciphers' tables);
 *  - a live AES-NI context (EVP_EncryptInit_ex in a child) is refused by the
 *    function-pointer hazard scan for Nehalem; a freed one is not.
 */
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <sys/wait.h>

#include "unit.h"
#include "elf_code.h"
#include "isa_census.h"
#include "census_check.h"
#include "unit_child.h"
#include "openssl_cap.h"

#define HASWELL_DUMP "/usr/local/src/cpuport/libcpuid/tests/intel/x86-64/haswell/haswell-core-i7.test"

static struct cpu_desc host;

static uint64_t st_lo, st_hi;	/* the re-selected state, object-relative */

static bool reselected(uint64_t addr, bool via_got, int64_t disp, void *arg)
{
	(void)disp, (void)arg;
	return !via_got && addr >= st_lo && addr < st_hi;
}

static enum census_class class_of(const struct isa_census *cen, const enum census_class *cls, unsigned long start)
{
	for (size_t i = 0; i < cen->n_funcs; i++)
		if (cen->funcs[i].start == start)
			return cls[i];
	fail_msg("no census function at %#lx", start);
	return CC_NONE;
}

static void missing_for(const char *target, struct featset *miss)
{
	struct cpu_desc t;

	assert_int_equal(cpu_desc_target(target, &host, &t), 0);
	miss->w[0] = host.feat.w[0] & ~t.feat.w[0];
	miss->w[1] = host.feat.w[1] & ~t.feat.w[1];
}

static void fixture_shapes(void **state)
{
	char path[4200];
	struct elf_code c;
	struct isa_census *cen;
	struct census_env env = { reselected, NULL, NULL };
	enum census_class *cls;
	unsigned long g1, u1, g3, end;

	(void)state;
	snprintf(path, sizeof(path), "%s/build/fixtures/libguard.so", unit_top());
	if (access(path, R_OK))
		UNIT_SKIP("make fixtures first");
	assert_true(unit_sym_extent(path, "__cpu_model", &st_lo, &st_hi));
	assert_true(unit_sym_extent(path, "gf_sum_avx2", &g1, &end));
	assert_true(unit_sym_extent(path, "gf_sum2_avx2", &u1, &end));
	assert_true(unit_sym_extent(path, "gf_sum3_avx2", &g3, &end));
	assert_int_equal(elf_code_open(path, &c), 0);
	assert_int_equal(isa_census_build(&c, &cen), 0);
	cls = calloc(cen->n_funcs + 1, sizeof(*cls));
	assert_non_null(cls);
	isa_census_classify(cen, &env, cls);
	assert_int_equal(class_of(cen, cls, g1), CC_GUARDED);		/* cmov on the test chose the table */
	assert_int_equal(class_of(cen, cls, g3), CC_GUARDED);		/* called after the leaf predicate said yes */
	assert_int_equal(class_of(cen, cls, u1), CC_SELF_DISPATCHED);	/* taken whatever the state says */
	isa_census_classify(cen, NULL, cls);	/* nothing re-selected: fail closed */
	assert_int_equal(class_of(cen, cls, g1), CC_SELF_DISPATCHED);
	assert_int_equal(class_of(cen, cls, g3), CC_SELF_DISPATCHED);
	assert_int_equal(class_of(cen, cls, u1), CC_SELF_DISPATCHED);
	free(cls);
	isa_census_free(cen);
	elf_code_close(&c);
}

static char libcrypto[512];
static uint64_t libcrypto_base;

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	if (strstr(info->dlpi_name, "libcrypto.so")) {
		snprintf(libcrypto, sizeof(libcrypto), "%s", info->dlpi_name);
		libcrypto_base = info->dlpi_addr;
	}
	return 0;
}

/* libcrypto.so.3 loaded here, its vector located: 0, or skip */
static int crypto_setup(void **state)
{
	struct elf_code c;
	uint64_t off;
	uint32_t size;

	(void)state;
	if (!dlopen("libcrypto.so.3", RTLD_NOW | RTLD_GLOBAL))
		return 0;
	dl_iterate_phdr(find_cb, NULL);
	if (!libcrypto[0] || elf_code_open(libcrypto, &c))
		return 0;
	if (!openssl_cap_locate(&c, &off, &size)) {
		st_lo = off;
		st_hi = off + size;
	} else {
		libcrypto[0] = 0;
	}
	elf_code_close(&c);
	return 0;
}

static void libcrypto_by_vector(void **state)
{
	struct census_env env = { reselected, NULL, NULL };
	struct isa_census *cen;
	struct census_verdict v;
	struct featset miss;
	int aes = feature_by_name("aes"), pclmul = feature_by_name("pclmulqdq");

	(void)state;
	if (crypto_setup(NULL), !libcrypto[0])
		UNIT_SKIP("no libcrypto.so.3 with a locatable OPENSSL_ia32cap_P");
	if (!featset_has(&host.feat, feature_by_name("avx512f")) || !featset_has(&host.feat, aes))
		UNIT_SKIP("this host has no AVX-512 or no AES-NI");
	if (access(HASWELL_DUMP, R_OK))
		UNIT_SKIP("libcpuid's test dumps are not in /usr/local/src/cpuport (scripts/setup.sh)");
	assert_int_equal(isa_census_get(NULL, libcrypto, &cen), 0);
	/* AVX2 + AES-NI + PCLMUL, no AVX-512: everything needy is reached only after a test of the vector */
	missing_for(HASWELL_DUMP, &miss);
	isa_census_judge(cen, &miss, &env, &v);
	print_message("haswell: %zu guarded, %zu self-dispatched, %zu unreached\n", v.n_guarded, v.n_self,
		      v.n_unreached);
	assert_int_not_equal(v.cls, CC_SELF_DISPATCHED);
	assert_true(v.n_guarded > 0);
	isa_census_judge(cen, &miss, NULL, &v);	/* the same code without the vector: refused */
	assert_int_equal(v.cls, CC_SELF_DISPATCHED);
	/* Nehalem: no AES-NI, and OpenSSL 3.0 reaches some AES-NI/PCLMUL code without testing the vector */
	missing_for("nehalem", &miss);
	isa_census_judge(cen, &miss, &env, &v);
	assert_int_equal(v.cls, CC_SELF_DISPATCHED);
	assert_non_null(v.ex);
	print_message("nehalem: %zu self-dispatched, e.g. %s at %#lx\n", v.n_self, v.ex->mnemonic, (long)v.ex->addr);
	assert_true(v.ex->feature == (uint32_t)aes || v.ex->feature == (uint32_t)pclmul);
	isa_census_free(cen);
}

typedef void *(*ctx_new_fn)(void);
typedef int (*init_fn)(void *, const void *, void *, const unsigned char *, const unsigned char *);
typedef const void *(*cipher_fn)(void);
typedef void (*ctx_free_fn)(void *);

/* In a child: make (and with *@free_it free) an AES-128-CBC encryption context. */
static bool aes_context(void *free_it)
{
	void *h = dlopen("libcrypto.so.3", RTLD_NOW);
	ctx_new_fn ctx_new = (ctx_new_fn)dlsym(h, "EVP_CIPHER_CTX_new");
	init_fn init = (init_fn)dlsym(h, "EVP_EncryptInit_ex");
	cipher_fn cbc = (cipher_fn)dlsym(h, "EVP_aes_128_cbc");
	ctx_free_fn ctx_free = (ctx_free_fn)dlsym(h, "EVP_CIPHER_CTX_free");
	unsigned char key[16] = "0123456789abcde", iv[16] = { 0 };
	void *ctx;

	if (!ctx_new || !init || !cbc || !ctx_free || !(ctx = ctx_new()) || init(ctx, cbc(), NULL, key, iv) != 1)
		return false;
	if (*(bool *)free_it)
		ctx_free(ctx);
	return true;
}

static pid_t aes_child(bool free_it)
{
	return unit_child_ready(aes_context, &free_it);
}

static void live_aesni_context(void **state)
{
	struct unit_log log = { .len = 0 };
	struct census_proc cp;
	struct census_proc_obj obj;
	uint64_t none = 0;
	pid_t pid;

	(void)state;
#ifdef __SANITIZE_ADDRESS__
	UNIT_SKIP("ASan's shadow memory is terabytes of writable mappings: the scan is for real processes");
#endif
	if (crypto_setup(NULL), !libcrypto[0])
		UNIT_SKIP("no libcrypto.so.3 with a locatable OPENSSL_ia32cap_P");
	if (!featset_has(&host.feat, feature_by_name("aes")))
		UNIT_SKIP("this host has no AES-NI");
	memset(&cp, 0, sizeof(cp));
	memset(&obj, 0, sizeof(obj));
	cp.ctx = unit_ctx_logging(&log);
	assert_non_null(cp.ctx);
	obj.name = libcrypto;
	obj.base = libcrypto_base;
	assert_int_equal(isa_census_get(NULL, libcrypto, &obj.cen), 0);
	assert_int_equal(elf_code_open_mode(libcrypto, &obj.code, ELF_CODE_NO_FUNCS), 0);
	obj.open = true;
	cp.pid = getpid(), cp.target = "nehalem";
	missing_for("nehalem", &cp.missing);
	cp.objs = &obj, cp.n_objs = 1;
	cp.written = &none;
	/* made and freed: OpenSSL clears the provider context, nothing is left to point to AES-NI code */
	pid = aes_child(true);
	assert_true(pid > 0);
	if (unit_census_scan_child(pid, &cp))
		print_message("freed context: %s", log.text);
	assert_int_equal(log.errors, 0);
	/* live: the context points to the AES-NI key schedule's code (or its table) */
	pid = aes_child(false);
	assert_true(pid > 0);
	assert_int_equal(unit_census_scan_child(pid, &cp), -EDEADLK);
	print_message("%s", log.text);
	assert_non_null(strstr(log.text, "pointer at"));
	assert_non_null(strstr(log.text, "libcrypto.so"));
	assert_non_null(strstr(log.text, "aes"));
	assert_false(log.bad_line);
	elf_code_close(&obj.code);
	isa_census_free(obj.cen);
	cpuport_ctx__free(cp.ctx);
}

static int group_setup(void **state)
{
	(void)state;
	return cpu_desc_host(&host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fixture_shapes),
		cmocka_unit_test(libcrypto_by_vector),
		cmocka_unit_test(live_aesni_context),
	};

	return cmocka_run_group_tests_name("census_guard", tests, group_setup, NULL);
}
