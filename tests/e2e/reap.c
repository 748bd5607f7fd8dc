/* e2e-reap: run a command (`criu restore -d ...`) as a child subreaper and log, as they
 * happen, how it and every process it leaves behind end, until none is left.
 *   e2e-reap LOG CMD [ARGS...]
 * LOG gets one line per event (appended, flushed at once, times in ms since start):
 *   start PID                    (e2e-reap's own pid)
 *   cmd-exit RC MS               CMD ended (RC = 128+N if killed by signal N)
 *   death PID signal N MS        a restored process was killed by signal N (4 = SIGILL)
 *   death PID exit N MS          a restored process exited with status N
 *   end MS                       no child left
 * It has no fixed observation window: it waits as long as
 * anything it adopted is alive, so a death at any point of the caller's checks is seen; the
 * caller ends the run by killing the restored process. Exit: 0, or 1 on usage/setup errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	long long t0 = now_ms();
	FILE *log;
	pid_t cmd;
	int st;

	if (argc < 3) {
		fprintf(stderr, "usage: e2e-reap LOG CMD [ARGS...]\n");
		return 1;
	}
	log = fopen(argv[1], "a");
	if (!log || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("e2e-reap");
		return 1;
	}
	setvbuf(log, NULL, _IOLBF, 0);
	fprintf(log, "start %d\n", (int)getpid());
	cmd = fork();
	if (cmd < 0) {
		perror("e2e-reap: fork");
		return 1;
	}
	if (cmd == 0) {
		fclose(log);
		execvp(argv[2], argv + 2);
		perror("e2e-reap: exec");
		_exit(127);
	}
	for (;;) {
		pid_t p = waitpid(-1, &st, __WALL);

		if (p < 0) {
			if (errno == EINTR)
				continue;
			break;	/* ECHILD: nothing left */
		}
		if (p == cmd)
			fprintf(log, "cmd-exit %d %lld\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
				now_ms() - t0);
		else if (WIFSIGNALED(st))
			fprintf(log, "death %d signal %d %lld\n", (int)p, WTERMSIG(st), now_ms() - t0);
		else if (WIFEXITED(st))
			fprintf(log, "death %d exit %d %lld\n", (int)p, WEXITSTATUS(st), now_ms() - t0);
	}
	fprintf(log, "end %lld\n", now_ms() - t0);
	return 0;
}
