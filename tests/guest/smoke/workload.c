/* cpuport guest smoke-test workload: loops forever doing memcpy/strlen/memset work through
 * glibc's IFUNC-selected string functions and appends one line per ~100 ms to OUTFILE:
 *   iter=<n> sum=<hex> ref=<hex> ok|BAD
 * `sum` is computed with libc calls, `ref` with plain loops; they must agree.
 * The file is reopened with O_APPEND for every line, so nothing is open at dump time.
 * Build: cc -O1 -fno-builtin -fno-tree-loop-distribute-patterns (keep the libc calls). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char src[8192], dst[8192], str[8192];

static size_t ref_strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static unsigned long mix(unsigned long h, unsigned long v) { return (h ^ v) * 0x100000001b3UL; }

int main(int argc, char **argv)
{
	unsigned long sum = 0xcbf29ce484222325UL, ref = sum, iter;
	const char *out = argc > 1 ? argv[1] : "out.txt";

	setsid();
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)(1 + (i * 131 + 7) % 251);
	for (iter = 0;; iter++) {
		size_t n = 1 + (iter * 977) % (sizeof(src) - 1);
		size_t l = 1 + (iter * 389) % (sizeof(str) - 2);
		unsigned char fill = (unsigned char)(1 + iter % 255);

		/* libc */
		memcpy(dst, src, n);
		memset(str, fill, l);
		str[l] = 0;
		sum = mix(sum, strlen(str));
		sum = mix(sum, (unsigned char)dst[n - 1] + (unsigned char)dst[n / 2]);
		/* reference */
		for (size_t i = 0; i < n; i++) if (dst[i] != src[i]) ref ^= 1;
		for (size_t i = 0; i < l; i++) if ((unsigned char)str[i] != fill) ref ^= 2;
		ref = mix(ref, ref_strlen(str) == l ? l : 0);
		ref = mix(ref, (unsigned char)src[n - 1] + (unsigned char)src[n / 2]);

		char line[128];
		int len = snprintf(line, sizeof(line), "iter=%lu sum=%016lx ref=%016lx %s\n",
				   iter, sum, ref, sum == ref ? "ok" : "BAD");
		int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			if (write(fd, line, (size_t)len) != len) { /* nothing to do */ }
			close(fd);
		}
		usleep(100000);
	}
}
