/*
 * cpuport benchmark load: a tree of N processes (the root and N-1 forked
 * children), each doing a little libc work and appending "iter=K ok" to its
 * own file OUT.I (I = 0 for the root), reopened every time, every 50 ms.
 *
 *   tree OUT N
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void loop(const char *out, int idx)
{
	char path[4096], a[2048], b[2048];
	const struct timespec ts = { 0, 50 * 1000000 };

	snprintf(path, sizeof(path), "%s.%d", out, idx);
	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = 0;
	for (unsigned long it = 1;; it++) {
		FILE *f;

		memcpy(b, a, sizeof(a));
		f = fopen(path, "a");
		if (!f)
			exit(1);
		fprintf(f, "iter=%lu %s\n", it, strlen(b) == sizeof(a) - 1 ? "ok" : "BAD");
		fclose(f);
		nanosleep(&ts, NULL);
	}
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 20;

	if (argc < 2 || n < 1) {
		fprintf(stderr, "usage: tree OUT N\n");
		return 2;
	}
	for (int i = 1; i < n; i++) {
		pid_t c = fork();

		if (c < 0)
			return 1;
		if (c == 0)
			loop(argv[1], i);
	}
	loop(argv[1], 0);
}
