// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * selproto.c and sel_feed(): every request and answer the encoders write
 * decodes to the same values; malformed lines (unknown words, missing or
 * extra arguments, bad numbers, object indexes out of range, over-long
 * lines, embedded NULs, answers to requests never asked or asked twice,
 * byte answers of the wrong length) are rejected, so the restore fails
 * closed.  The real cpuport-select refuses a malformed request too.
 */
#include "unit.h"
#include "select.h"

static struct cpuport_ctx *ctx;
static struct unit_log logbuf;

/* One context for the group, its messages kept in logbuf. */
static int group_setup(void **state)
{
	(void)state;
	ctx = unit_ctx_logging(&logbuf);
	return ctx ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	cpuport_ctx__free(ctx);
	return 0;
}

/* Encode with @put into a string, return the one line. */
#define ENCODE(buf, ...)                                         \
	do {                                                     \
		FILE *f_ = fmemopen(buf, sizeof(buf), "w");      \
		assert_non_null(f_);                             \
		__VA_ARGS__;                                     \
		fclose(f_);                                      \
	} while (0)

static void requests_roundtrip(void **state)
{
	char line[256];
	uint32_t w[3] = { 0xffffffff, 0x1234, 0 };
	struct selp_msg m;

	(void)state;
	ENCODE(line, selp_put_call(f_, 7, 3, 0x1234));
	assert_int_equal(selp_decode_request(line, 4, &m), 0);
	assert_int_equal(m.word, SELP_CALL);
	assert_int_equal(m.n, 7);
	assert_int_equal(m.obj, 3);
	assert_int_equal(m.arg[0], 0x1234);

	ENCODE(line, selp_put_read(f_, 1, 0, UINT64_MAX, 4096));
	assert_int_equal(selp_decode_request(line, 1, &m), 0);
	assert_int_equal(m.word, SELP_READ);
	assert_true(m.arg[0] == UINT64_MAX && m.arg[1] == 4096);

	ENCODE(line, selp_put_seg(f_, 2, 0, 0x400000, 0x1000, 0x2000, 5));
	assert_int_equal(selp_decode_request(line, 3, &m), 0);
	assert_int_equal(m.word, SELP_SEG);
	assert_int_equal(m.n_arg, 5);
	assert_int_equal(m.arg[4], 5);

	ENCODE(line, selp_put_mask(f_, w, 3));
	assert_int_equal(selp_decode_request(line, 1, &m), 0);
	assert_int_equal(m.word, SELP_MASK);
	assert_int_equal(m.n_arg, 3);
	assert_true(m.arg[0] == 0xffffffff && m.arg[1] == 0x1234 && m.arg[2] == 0);

	ENCODE(line, selp_put_model(f_, 0, 16, 16, 32, 4, 0));
	assert_int_equal(selp_decode_request(line, 1, &m), 0);
	assert_int_equal(m.n_arg, 5);
	assert_int_equal(selp_decode_request("model 0 1 2 3 4\n", 1, &m), 0);	/* INITOFF optional */
	assert_int_equal(m.n_arg, 4);

	ENCODE(line, selp_put_dso(f_, 5, "/proc/self/fd/9"));
	assert_int_equal(selp_decode_request(line, 6, &m), 0);
	assert_int_equal(m.word, SELP_DSO);
	assert_int_equal(m.text_len, strlen("/proc/self/fd/9"));
	assert_memory_equal(m.text, "/proc/self/fd/9", m.text_len);

	ENCODE(line, selp_put_go(f_));
	assert_int_equal(selp_decode_request(line, 0, &m), 0);
	assert_int_equal(m.word, SELP_GO);
}

static void answers_roundtrip(void **state)
{
	static const uint8_t bytes[] = { 0x00, 0xff, 0x10, 0xab };
	char line[256];
	uint8_t back[4];
	struct selp_msg m;

	(void)state;
	ENCODE(line, selp_put_answer(f_, "res", 4, 2, 0x99));
	assert_int_equal(selp_decode_answer(line, 3, &m), 0);
	assert_true(m.word == SELP_RES && m.n == 4 && m.obj == 2 && m.arg[0] == 0x99);
	ENCODE(line, selp_put_fault(f_, 4, 11));
	assert_int_equal(selp_decode_answer(line, 3, &m), 0);
	assert_true(m.word == SELP_RES_FAULT && m.arg[0] == 11);
	ENCODE(line, selp_put_outside(f_, "ptr", 4, 0x7fff00001000));
	assert_int_equal(selp_decode_answer(line, 3, &m), 0);
	assert_true(m.word == SELP_PTR_OUTSIDE && m.arg[0] == 0x7fff00001000);
	ENCODE(line, selp_put_outside(f_, "res", 4, 0));
	assert_int_equal(selp_decode_answer(line, 3, &m), 0);
	assert_int_equal(m.word, SELP_RES_OUTSIDE);
	ENCODE(line, selp_put_unavailable(f_, "bytes", 1));
	assert_int_equal(selp_decode_answer(line, 3, &m), 0);
	assert_int_equal(m.word, SELP_BYTES_UNAVAILABLE);
	ENCODE(line, selp_put_null(f_, 1));
	assert_int_equal(selp_decode_answer(line, 3, &m), 0);
	assert_int_equal(m.word, SELP_PTR_NULL);
	ENCODE(line, selp_put_bytes(f_, 1, bytes, sizeof(bytes)));
	assert_int_equal(selp_decode_answer(line, 3, &m), 0);
	assert_int_equal(m.word, SELP_BYTES);
	assert_int_equal(selp_decode_hex(m.text, m.text_len, back, sizeof(back)), 0);
	assert_memory_equal(back, bytes, sizeof(bytes));
	ENCODE(line, selp_put_base(f_, 0, 0x555555554000));
	assert_int_equal(selp_decode_answer(line, 1, &m), 0);
	assert_true(m.word == SELP_BASE && m.arg[0] == 0x555555554000);
	ENCODE(line, selp_put_error(f_, "dlopen %s: %s", "x", "two\nlines"));
	assert_int_equal(selp_decode_answer(line, 1, &m), 0);
	assert_int_equal(m.word, SELP_ERROR);
	ENCODE(line, selp_put_ids(f_, 65534, 65534, 1));
	assert_int_equal(selp_decode_answer(line, 1, &m), 0);
	assert_true(m.word == SELP_IDS && m.arg[0] == 65534 && m.arg[2] == 1);
	ENCODE(line, selp_put_rtld(f_, "trampoline", 0, 0x1c0));
	assert_int_equal(selp_decode_answer(line, 1, &m), 0);
	assert_true(m.word == SELP_TRAMPOLINE && m.arg[0] == 0x1c0);
}

static void malformed_rejected(void **state)
{
	static const char *const bad_answers[] = {
		"res 1 2 3 4\n",		/* extra argument */
		"res 1 2\n",			/* missing one */
		"res 1 9 16\n",			/* object 9 of 3 */
		"ptr 1 3 16\n",			/* object 3 of 3 */
		"cpu_features 7 16\n",
		"trampoline 4294967295 0\n",
		"base 3 0x1000\n",
		"res 1 2 0x10\n",		/* hex where decimal is due */
		"res 1 2 18446744073709551616\n",	/* 2^64 */
		"res -1 2 16\n",
		"res 1 fault x\n",
		"bytes 1 abc\n",		/* odd length */
		"bytes 1 ABCD\n",		/* upper case */
		"bytes 1 zz\n",
		"frobnicate 1\n",		/* unknown word */
		"res  1 2 16\n",		/* two spaces */
		" done\n",
		"done \n",
		"",
		"\n",
		"res 1 2 16\nres 2 2 16\n",	/* two lines in one */
	};
	struct selp_msg m;
	char *longline;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_answers); i++) {
		print_message("answer %zu: %s", i, bad_answers[i]);
		assert_int_equal(selp_decode_answer(bad_answers[i], 3, &m), -EBADMSG);
		assert_int_equal(m.word, SELP_BAD);
	}
	assert_int_equal(selp_decode_request("call 1 2\n", 3, &m), -EBADMSG);
	assert_int_equal(selp_decode_request("done\n", 3, &m), -EBADMSG);	/* an answer, not a request */
	assert_int_equal(selp_decode_request("mask 1 2 3 4 5 6 7 8 9\n", 3, &m), -EBADMSG);

	longline = malloc(SELP_MAX_LINE + 16);
	assert_non_null(longline);
	strcpy(longline, "error ");
	memset(longline + 6, 'x', SELP_MAX_LINE);
	longline[SELP_MAX_LINE + 6] = 0;
	assert_int_equal(selp_decode_answer(longline, 3, &m), -EBADMSG);
	longline[SELP_MAX_LINE - 1] = 0;		/* just fits */
	assert_int_equal(selp_decode_answer(longline, 3, &m), 0);
	free(longline);
}

/* A selection with three objects and one request of each kind. */
static void asked(struct selection *s, int *call, int *read, int *ptr)
{
	assert_int_equal(sel_init(s, 3), 0);
	*call = sel_call(s, 1, 0x100);
	*read = sel_read(s, 2, 0x200, 4);
	*ptr = sel_ptr(s, 0, 0x300);
	assert_true(*call == 0 && *read == 1 && *ptr == 2);
}

static int feed(struct selection *s, const char *text)
{
	return sel_feed(s, ctx, text, strlen(text));
}

static void feed_answers(void **state)
{
	struct selection s;
	int c, r, p;

	(void)state;
	asked(&s, &c, &r, &p);
	/* split anywhere: a partial line waits for the rest */
	assert_int_equal(feed(&s, "glibc 2.36\nids 0 0 1\nres 0 2 4"), 0);
	assert_int_equal(s.ans[c].status, SEL_MISSING);
	assert_int_equal(feed(&s, "096\nbytes 1 0a0b0c0d\nptr 2 null\ncpu_features 0 64\ntrampoline 0 128\ndone\n"), 0);
	assert_int_equal(s.ans[c].status, SEL_OK);
	assert_int_equal(s.ans[c].obj, 2);
	assert_int_equal(s.ans[c].off, 4096);
	assert_int_equal(s.ans[r].status, SEL_OK);
	assert_int_equal(s.ans[r].len, 4);
	assert_int_equal(s.ans[r].bytes[3], 0x0d);
	assert_int_equal(s.ans[p].status, SEL_OK);
	assert_int_equal(s.ans[p].obj, -1);
	assert_true(s.cpu_features_obj == 0 && s.cpu_features_off == 64 && s.tramp_off == 128);
	assert_string_equal(s.glibc, "2.36");
	assert_true(s.done);
	sel_free(&s);
}

static void feed_rejects(void **state)
{
	static const char *const bad[] = {
		"res 5 1 16\n",		/* never asked */
		"bytes 0 00112233\n",	/* answer 0 was a call */
		"res 1 1 16\n",		/* answer 1 was a read */
		"bytes 1 0011\n",	/* 2 bytes for a 4-byte read */
		"res 0 3 16\n",		/* object 3 of 3 */
		"res 0 1 16\nres 0 1 32\n",	/* answered twice */
		"hello\n",
	};
	struct selection s;
	int c, r, p;
	char *big;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		print_message("feed %zu: %s", i, bad[i]);
		asked(&s, &c, &r, &p);
		unit_log_reset(&logbuf);
		assert_int_equal(feed(&s, bad[i]), -EBADMSG);
		assert_true(logbuf.errors > 0);
		assert_non_null(strstr(logbuf.text, "malformed answer"));
		sel_free(&s);
	}
	/* an embedded NUL */
	asked(&s, &c, &r, &p);
	assert_int_equal(sel_feed(&s, ctx, "res 0 1 16\0junk\n", 16), -EBADMSG);
	sel_free(&s);
	/* a line that never ends */
	asked(&s, &c, &r, &p);
	big = malloc(3 * SELP_MAX_LINE);
	assert_non_null(big);
	memset(big, '1', 3 * SELP_MAX_LINE);
	unit_log_reset(&logbuf);
	assert_int_equal(sel_feed(&s, ctx, big, 3 * SELP_MAX_LINE), -EBADMSG);
	assert_non_null(strstr(logbuf.text, "longer than"));
	free(big);
	sel_free(&s);
}

/* The real helper: answers a well-formed request, refuses a malformed one. */
static void helper_decodes_strictly(void **state)
{
	char *out;
	int st;

	(void)state;
	out = unit_run(&st, "printf 'call 0 5000 0\\ngo\\n' | %s/build/bin/cpuport-select", unit_top());
	assert_non_null(out);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "res 0 unavailable\n"));	/* an object it was never told about */
	assert_non_null(strstr(out, "done\n"));
	free(out);
	out = unit_run(&st, "printf 'call 0 1\\ngo\\n' | %s/build/bin/cpuport-select", unit_top());
	assert_non_null(out);
	assert_int_equal(st, 2);
	assert_non_null(strstr(out, "error malformed request"));
	assert_null(strstr(out, "done\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(requests_roundtrip),
		cmocka_unit_test(answers_roundtrip),
		cmocka_unit_test(malformed_rejected),
		cmocka_unit_test(feed_answers),
		cmocka_unit_test(feed_rejects),
		cmocka_unit_test(helper_decodes_strictly),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
