// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * openssl_cap_locate() / openssl_cap_mask() against OpenSSL itself: a child
 * process dlopen()s libcrypto (its .init runs OPENSSL_cpuid_setup) with an
 * OPENSSL_ia32cap value and prints the bytes at the located address.  Oracles:
 * OPENSSL_ia32cap(3) (an explicit "A:B" value is stored as is, with bit 10 of
 * the first word forced on; "~A:~B" clears bits from what the library derived
 * from CPUID), and the unmasked vector of the same host.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <link.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(locate_and_mask),
		cmocka_unit_test(not_openssl),
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
