/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A child of the test (same mappings) that sets something up in its own
 * memory and waits to be scanned, and the census's function-pointer scan of
 * it: for the hazard tests that need a real process.
 */
#ifndef CPUPORT_UNIT_CHILD_H
#define CPUPORT_UNIT_CHILD_H

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "census_check.h"

/* fork; the child runs @setup(@arg) (false: it exits 1), then waits. The child's pid, or -1. */
static inline pid_t unit_child_ready(bool (*setup)(void *arg), void *arg)
{
	int fds[2];
	char c = 0;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		if (!setup(arg) || write(fds[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (pid > 0 && read(fds[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(fds[0]);
	return pid;
}

/* The census's function-pointer scan of child @pid's writable memory; the child is then killed. */
static inline int unit_census_scan_child(pid_t pid, struct census_proc *cp)
{
	struct pview v;
	uint64_t none = 0;
	int ret;

	assert_int_equal(pview_proc_open(&v, pid, false), 0);
	ret = census_proc_check_pointers(cp, &v, &none, 0);
	pview_close(&v);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return ret;
}

#endif
