/*
 * cpuport benchmark timer: run a command, then write to FILE one line
 *   wall_us user_us sys_us maxrss_kb
 * wall time (CLOCK_MONOTONIC), CPU time and peak RSS of the command and of
 * the children it reaped (wait4: e.g. criu's cpuport-select helper; not
 * the processes criu restores and leaves running).  /usr/bin/time prints
 * CPU times in 10 ms steps, too coarse for a 100 ms criu run.
 *
 *   tcmd FILE CMD [ARGS...]      exit status: CMD's (128+N if killed by N)
 *   tcmd --subreaper CMD [ARGS...]
 *   tcmd --dlopen LIB
 *
 * --subreaper makes CMD (exec'ed in place) the reaper of its orphaned
 * descendants, such as the processes `criu restore -d` leaves behind: then a
 * killed one is gone at once, not whenever init gets round to it.
 *
 * --dlopen prints how long dlopen(LIB, RTLD_LAZY) takes, in ns, in this
 * process, which maps nothing but libc: what criu pays to load a plugin
 * (unresolved functions, such as criu's own, stay unbound).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long us(struct timeval tv)
{
	return tv.tv_sec * 1000000LL + tv.tv_usec;
}

int main(int argc, char **argv)
{
	struct timespec a, b;
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: tcmd FILE CMD [ARGS...] | tcmd --subreaper CMD [ARGS...] | tcmd --dlopen LIB\n");
		return 2;
	}
	if (!strcmp(argv[1], "--dlopen")) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (!dlopen(argv[2], RTLD_LAZY | RTLD_LOCAL)) {
			fprintf(stderr, "tcmd: %s\n", dlerror());
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("%lld\n", (b.tv_sec - a.tv_sec) * 1000000000LL + b.tv_nsec - a.tv_nsec);
		return 0;
	}
	if (!strcmp(argv[1], "--subreaper")) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1))
			perror("tcmd: PR_SET_CHILD_SUBREAPER");
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		return 127;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return 127;
	clock_gettime(CLOCK_MONOTONIC, &b);
	f = fopen(argv[1], "w");
	if (!f)
		return 127;
	fprintf(f, "%lld %lld %lld %ld\n", ((b.tv_sec - a.tv_sec) * 1000000000LL + b.tv_nsec - a.tv_nsec) / 1000,
		us(ru.ru_utime), us(ru.ru_stime), ru.ru_maxrss);
	fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
