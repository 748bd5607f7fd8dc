// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Regression, issue 13 (defect 13, image caps): an image under the size cap
 * could still unpack into gigabytes (protobuf-c allocates per repeated entry;
 * an empty string entry is 2 bytes on disk, a pointer and a chunk of memory
 * once decoded).  Decoding is now bounded: such an image is refused, and the
 * process's peak memory stays far below what the unbounded decode took.
 * The image is built from the wire format itself: version 1, and a
 * source_cpu whose repeated "features" field has millions of empty entries.
 */
#include <sys/resource.h>

#include "unit.h"
#include "internal.h"

static size_t varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	return n;
}

static long peak_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void many_small_entries_are_refused(void **state)
{
	const size_t entries = 30u << 20 >> 1;	/* 30 MiB of 2-byte entries: under the 64 MiB size cap */
	size_t inner = entries * 2, len = 0;
	uint8_t *buf = malloc(inner + 32);
	struct cpuport_table *t = NULL;
	long before;
	int ret;

	(void)state;
	assert_non_null(buf);
	buf[len++] = 0x08;	/* field 1 (version), varint */
	buf[len++] = 1;
	buf[len++] = 0x1a;	/* field 3 (source_cpu), length-delimited */
	len += varint(buf + len, inner);
	for (size_t i = 0; i < entries; i++) {
		buf[len++] = 0x4a;	/* cpu field 9 (features), length 0 */
		buf[len++] = 0;
	}
	before = peak_kib();
	ret = cpuport_table__decode(NULL, buf, len, &t);
	free(buf);
	if (!ret)
		cpuport_table__free(t);
	print_message("decode: %d, peak memory grew by %ld MiB\n", ret, (peak_kib() - before) / 1024);
	assert_int_equal(ret, -EBADMSG);
	/* unbounded, this took > 700 MiB; bounded, about the 256 MiB cap */
	assert_true(peak_kib() - before < 400 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_small_entries_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
