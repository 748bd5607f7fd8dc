// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * openssl_cap_locate() / openssl_cap_mask() against OpenSSL itself: a child
 * process dlopen()s libcrypto (its .init runs OPENSSL_cpuid_setup) with an
 * OPENSSL_ia32cap value and prints the bytes at the located address.  Oracles:
 * OPENSSL_ia32cap(3) (an explicit "A:B" value is stored as is, with bit 10 of
 * the first word forced on; "~A:~B" clears bits from what the library derived
 * from CPUID), and the unmasked vector of the same host.  The scan records
 * the same vector through the on-disk cache as without it.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <link.h>
#include <signal.h>
#include <sys/wait.h>

#include "unit.h"
#include "internal.h"
#include "openssl_cap.h"

static char libcrypto[512];

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	if (strstr(info->dlpi_name, "libcrypto.so"))
		*(uint64_t *)arg = info->dlpi_addr;
	return 0;
}

/* child: dlopen libcrypto, print the located bytes as 4 words */
static int child(void)
{
	uint64_t base = 0, off = strtoull(getenv("UNIT_OC_OFF"), NULL, 16);
	unsigned int *p;

	if (!dlopen(getenv("UNIT_OC_LIB"), RTLD_NOW))
		return 1;
	dl_iterate_phdr(find_cb, &base);
	p = (unsigned int *)(base + off);
	printf("%08x %08x %08x %08x\n", p[0], p[1], p[2], p[3]);
	return 0;
}

static void read_vec(const char *env, uint64_t off, unsigned int v[4])
{
	int st;
	char *out = unit_run(&st, "%s%s UNIT_OC_LIB='%s' UNIT_OC_OFF=%" PRIx64 " /proc/%d/exe",
			     env ? "OPENSSL_ia32cap=" : "env -u OPENSSL_ia32cap", env ? env : "", libcrypto, off,
			     getpid());

	assert_non_null(out);
	assert_int_equal(st, 0);
	assert_int_equal(sscanf(out, "%x %x %x %x", &v[0], &v[1], &v[2], &v[3]), 4);
	free(out);
}

static void locate_and_mask(void **state)
{
	struct elf_code c;
	uint64_t off;
	uint32_t size;
	unsigned int v[4], fresh[4], masked[4];
	struct cpu_desc host, v2;
	char mask[64];
	unsigned long long a, b;

	(void)state;
	if (!libcrypto[0])
		UNIT_SKIP("no libcrypto.so.3 here");
	assert_int_equal(elf_code_open_lite(libcrypto, &c, true), 0);
	assert_int_equal(openssl_cap_locate(&c, &off, &size), 0);
	elf_code_close(&c);
	assert_true(size >= 16);
	/* an explicit value is stored as given (bit 10 forced on) */
	read_vec("0x5a5a5a5a5a5a5a5a:0x0123456789abcdef", off, v);
	assert_int_equal(v[0], 0x5a5a5a5a | 1u << 10);
	assert_int_equal(v[1], 0x5a5a5a5a);
	assert_int_equal(v[2], 0x89abcdef);
	assert_int_equal(v[3], 0x01234567);
	/* the mask for x86-64-v2 clears exactly its bits from what this host derives */
	assert_int_equal(cpu_desc_host(&host), 0);
	assert_int_equal(cpu_desc_target("x86-64-v2", &host, &v2), 0);
	assert_int_equal(openssl_cap_mask(&host.feat, &v2.feat, mask, sizeof(mask)), 0);
	read_vec(NULL, off, fresh);
	if (!mask[0])
		UNIT_SKIP("this host is x86-64-v2");
	assert_int_equal(sscanf(mask, "~0x%llx:~0x%llx", &a, &b), 2);
	read_vec(mask, off, masked);
	assert_int_equal(masked[0], fresh[0] & ~(unsigned int)a);
	assert_int_equal(masked[1], fresh[1] & ~(unsigned int)(a >> 32));
	assert_int_equal(masked[2], fresh[2] & ~(unsigned int)b);
	assert_int_equal(masked[3], fresh[3] & ~(unsigned int)(b >> 32));
	if (featset_has(&host.feat, F_AVX2))
		assert_false(masked[2] & (1u << 5));	/* AVX2 gone */
	if (featset_has(&host.feat, F_AVX))
		assert_false(masked[1] & (1u << 28));	/* AVX gone */
	/* nothing to mask for the host itself */
	assert_int_equal(openssl_cap_mask(&host.feat, &host.feat, mask, sizeof(mask)), 0);
	assert_string_equal(mask, "");
}

static void not_openssl(void **state)
{
	struct elf_code c;
	uint64_t off;
	uint32_t size;
	int st;
	char *libc = unit_run(&st, "ldd /bin/true | awk '/libc.so.6/ {print $3}'");

	(void)state;
	assert_non_null(libc);
	libc[strcspn(libc, "\n")] = 0;
	assert_int_equal(elf_code_open_lite(libc, &c, true), 0);
	assert_int_equal(openssl_cap_locate(&c, &off, &size), -ENOENT);
	elf_code_close(&c);
	free(libc);
}

/* the OPENSSL_ia32cap_P state cpuport_scan() records for @pid, with the on-disk cache at @cache ("off": none) */
static void scanned_vector(pid_t pid, const char *cache, uint64_t *off, uint32_t *size)
{
	struct cpuport_table *t = NULL;
	struct cpuport_ctx *ctx;
	int n = 0;

	setenv("CPUPORT_CACHE_DIR", cache, 1);
	ctx = cpuport_ctx__new(NULL);
	assert_non_null(ctx);
	assert_int_equal(cpuport_scan(ctx, pid, &t), 0);
	for (size_t i = 0; i < t->img->n_states; i++)
		if (t->img->states[i]->kind == CPUPORT__STATE_KIND__OPENSSL_IA32CAP) {
			*off = t->img->states[i]->offset;
			*size = t->img->states[i]->size;
			n++;
		}
	assert_int_equal(n, 1);
	cpuport_table__free(t);
	cpuport_ctx__free(ctx);
	unsetenv("CPUPORT_CACHE_DIR");
}

/*
 * Where the vector is, is a fact about libcrypto's file, kept by build-id
 * (elf_fact_get): the scan records the same state without a cache, with a
 * cold one, a warm one, and a damaged entry (ignored, recomputed).
 */
static void cached_as_uncached(void **state)
{
	char dir[] = "/tmp/cpuport-unit-oc.XXXXXX", cache[64], c;
	uint64_t off0 = 0, off;
	uint32_t size0 = 0, size;
	int p[2], st;
	pid_t pid;
	char *out;

	(void)state;
	if (!libcrypto[0])
		UNIT_SKIP("no libcrypto.so.3 here");
	assert_non_null(mkdtemp(dir));
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (!pid) {
		if (!dlopen(libcrypto, RTLD_NOW) || write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	kill(pid, SIGSTOP);
	scanned_vector(pid, "off", &off0, &size0);
	for (int round = 0; round < 3; round++) {	/* cold, warm, damaged */
		if (round == 2) {
			out = unit_run(&st, "for f in %s/openssl/*; do printf '\\377' | "
				       "dd of=$f bs=1 seek=$(($(stat -c %%s $f) - 1)) conv=notrunc 2>/dev/null; done", cache);
			assert_int_equal(st, 0);
			free(out);
		}
		scanned_vector(pid, cache, &off, &size);
		assert_int_equal(off, off0);
		assert_int_equal(size, size0);
		out = unit_run(&st, "ls %s/openssl | wc -l", cache);
		assert_true(atoi(out) > 0);	/* stored, one entry per object */
		free(out);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(unit_run(&st, "rm -rf '%s'", dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(locate_and_mask),
		cmocka_unit_test(not_openssl),
		cmocka_unit_test(cached_as_uncached),
	};
	int st;
	char *p;

	if (getenv("UNIT_OC_LIB"))
		return child();
	p = unit_run(&st, "ldconfig -p | awk '/libcrypto.so.3 .*x86-64/ {print $NF; exit}'");
	if (p) {
		p[strcspn(p, "\n")] = 0;
		snprintf(libcrypto, sizeof(libcrypto), "%s", p);
		free(p);
	}
	return cmocka_run_group_tests_name("openssl_cap", tests, NULL, NULL);
}
