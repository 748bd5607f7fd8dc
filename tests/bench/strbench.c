/*
 * cpuport benchmark load: a memcpy/strlen/strchr loop whose speed depends on
 * which glibc variant (SSE2, AVX2, EVEX) its GOT slots are bound to.
 *
 *   strbench OUT [WINDOW_MS]
 *
 * Every WINDOW_MS (default 100) of its own CPU time it appends one line to
 * OUT, reopened each time so that no file is open across a checkpoint:
 *   w=N iters=I ns=D wall=W
 * I iterations in D ns of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * W ns of CLOCK_MONOTONIC.  CPU time, because on a shared machine the wall
 * time mostly measures the neighbours.  A restored thread's CPU clock starts
 * again from zero: the window that spans a dump and restore has a nonsense
 * D, and the reader drops it (and the next ones).
 * Built with -fno-builtin so that every call goes through the PLT.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF 8192

static unsigned long now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000UL + ts.tv_nsec;
}

static char src[BUF] __attribute__((aligned(64)));
static char dst[BUF + 64] __attribute__((aligned(64)));
static char str[4][BUF];
static volatile unsigned long sink;

/* One iteration: copies of 256 B .. 4 KiB, strlen and strchr of 1 .. 4 KiB strings. */
static unsigned long one(unsigned long it)
{
	static const size_t sizes[] = { 256, 512, 1024, 1536, 2048, 3072, 4096 };
	unsigned long acc = 0;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		/* a few misalignments, as real callers have */
		memcpy(dst + (it + k) % 8, src + k % 4, sizes[k]);
		acc += (unsigned char)dst[sizes[k] / 2];
	}
	for (int s = 0; s < 4; s++) {
		acc += strlen(str[s]);
		acc += (unsigned long)strchr(str[s], '#') & 0xff;
	}
	return acc;
}

int main(int argc, char **argv)
{
	const char *out;
	unsigned long window, w = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: strbench OUT [WINDOW_MS]\n");
		return 2;
	}
	out = argv[1];
	window = (argc > 2 ? strtoul(argv[2], NULL, 10) : 100) * 1000000UL;
	for (int i = 0; i < BUF; i++)
		src[i] = 'a' + i % 26;
	for (int s = 0; s < 4; s++) {
		size_t len = 1024 * (s + 1) - 1 - s * 37;	/* 1 .. 4 KiB */

		memset(str[s], 'a' + s, len);
		str[s][len - 1] = '#';
		str[s][len] = 0;
	}
	for (;;) {
		unsigned long t0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC), t, iters = 0;
		FILE *f;

		/* read the clock (a system call) every 64 iterations, ~50 us */
		do {
			for (int k = 0; k < 64; k++)
				sink += one(iters++);
			t = now_ns(CLOCK_THREAD_CPUTIME_ID);
		} while (t - t0 < window);
		f = fopen(out, "a");
		if (!f)
			return 1;
		fprintf(f, "w=%lu iters=%lu ns=%lu wall=%lu\n", w++, iters, t - t0, now_ns(CLOCK_MONOTONIC) - w0);
		fclose(f);
	}
}
