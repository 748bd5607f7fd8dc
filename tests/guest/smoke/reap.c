/* cpuport-reap: run a command (e.g. `criu restore -d ...`) as a child subreaper, then report
 * how the processes it left behind end.
 *   cpuport-reap WAIT_MS CMD [ARGS...]
 * Prints lines "cpuport-reap: pid P killed by signal N (NAME)" / "... exited N" and finally
 * one of "REAP-RESULT restore-failed RC", "REAP-RESULT signal N", "REAP-RESULT exit N",
 * "REAP-RESULT running" (nothing died within WAIT_MS; the processes are left running).
 * Exit code: 0 running, 128+N first death by signal N, 64 exited, 2 CMD failed, 1 usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	if (argc < 3) { fprintf(stderr, "usage: cpuport-reap WAIT_MS CMD [ARGS...]\n"); return 1; }
	long wait_ms = atol(argv[1]);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) { perror("cpuport-reap: PR_SET_CHILD_SUBREAPER"); return 1; }
	long long t0 = now_ms();
	pid_t cmd = fork();
	if (cmd < 0) { perror("cpuport-reap: fork"); return 1; }
	if (cmd == 0) { execvp(argv[2], argv + 2); perror("cpuport-reap: exec"); _exit(127); }

	int result = -1, st;
	char buf[160] = "";
	long long deadline = -1;
	for (;;) {
		pid_t p = waitpid(-1, &st, deadline < 0 ? 0 : WNOHANG);
		if (p < 0) {
			if (errno == EINTR) continue;
			break; /* ECHILD: everything is gone */
		}
		if (p == 0) {
			if (now_ms() >= deadline) break;
			usleep(20000);
			continue;
		}
		if (p == cmd) {
			int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			printf("cpuport-reap: %s exited %d after %lld ms\n", argv[2], rc, now_ms() - t0);
			if (rc != 0) { printf("REAP-RESULT restore-failed %d\n", rc); fflush(stdout); return 2; }
			deadline = now_ms() + wait_ms;
			continue;
		}
		if (WIFSIGNALED(st)) {
			printf("cpuport-reap: pid %d killed by signal %d (%s)\n", p, WTERMSIG(st), strsignal(WTERMSIG(st)));
			if (result < 0) { result = 128 + WTERMSIG(st); snprintf(buf, sizeof(buf), "signal %d", WTERMSIG(st)); }
		} else if (WIFEXITED(st)) {
			printf("cpuport-reap: pid %d exited %d\n", p, WEXITSTATUS(st));
			if (result < 0) { result = 64; snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(st)); }
		}
		if (deadline < 0) deadline = now_ms() + wait_ms; /* a child died before CMD finished */
	}
	if (result < 0) { printf("REAP-RESULT running\n"); fflush(stdout); return 0; }
	printf("REAP-RESULT %s\n", buf);
	fflush(stdout);
	return result;
}
