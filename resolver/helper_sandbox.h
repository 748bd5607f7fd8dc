/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The selection helper's sandbox: it runs with no more privilege than the
 * restored task.  helper_sandbox_prepare() (parent, as root) gathers what
 * the child needs while it can still see the host: the task's namespaces,
 * root, cgroup, uid/gid/groups.  helper_sandbox_exec() (child, between fork
 * and exec) joins them and drops everything else, then executes the helper
 * through a file descriptor opened before it entered the task's mount
 * namespace.  Any step that fails ends the child (exit 126) with an
 * "error sandbox: ..." line on fd 1: the restore then fails closed.
 */
#ifndef CPUPORT_HELPER_SANDBOX_H
#define CPUPORT_HELPER_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

#define SANDBOX_N_NS 7
#define SANDBOX_MAX_CGROUPS 32	/* user first: it decides who may join the rest */

struct helper_sandbox {
	pid_t pid;		/* the task whose privilege the helper gets; 0: none (cpuport check) */
	int ns_fd[SANDBOX_N_NS];	/* the task's namespaces that differ from ours, else -1 */
	int root_fd;		/* the task's root directory (O_PATH), -1 without a task */
	int cgroup_fd[SANDBOX_MAX_CGROUPS];	/* its cgroup.procs in each hierarchy, open for writing */
	size_t n_cgroups;
	int null_fd;		/* /dev/null, the helper's stdout and stderr */
	int report_fd;		/* where the child writes "error sandbox: ..." (the answer pipe); -1 */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	uint64_t as_bytes;	/* RLIMIT_AS */
	uint64_t cpu_s;		/* RLIMIT_CPU */
	pid_t parent;		/* getpid() of the preparing process, for PDEATHSIG races */
};

/*
 * Gather the sandbox for the helper of task @pid (host pid; 0 for none: the
 * caller's own uid/gid/groups and namespaces).  Returns 0 or -errno; on
 * failure the helper must not run (never fall back to root).  Logs why.
 */
int helper_sandbox_prepare(struct cpuport_ctx *ctx, struct helper_sandbox *sb, pid_t pid);
void helper_sandbox_close(struct helper_sandbox *sb);

/*
 * In the forked child: fds 0 and 1 are already the request and answer pipes.
 * Joins the task's cgroup and namespaces, takes its ids, drops every
 * capability, locks securebits, sets no_new_privs, PDEATHSIG, rlimits, its own
 * process group, closes every fd but 0, 1, 2 (/dev/null) and @keep, and
 * executes @exec_fd (AT_EMPTY_PATH).  Never returns.
 */
void helper_sandbox_exec(const struct helper_sandbox *sb, int exec_fd, char *const argv[], char *const envp[],
			 const int *keep, size_t n_keep) __attribute__((noreturn));

/* Kill the helper and everything it started (its process group). */
void helper_sandbox_kill(pid_t child);

/* The namespace names, in join order (for messages and tests). */
extern const char *const helper_sandbox_ns_names[SANDBOX_N_NS];

#endif
