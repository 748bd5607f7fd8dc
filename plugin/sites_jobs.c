// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The dump's copied-pointer sites (ptr_sites.c), found by worker processes
 * (sites_worker.c) while CRIU dumps the pages: started in CHECKPOINT_DEVICES,
 * collected in fini(DUMP), which CRIU 4.1 calls before it kills or resumes
 * the tree (cr_dump_finish: cr_plugin_fini, then pstree_switch_state), so the
 * processes stay frozen throughout.  At most one worker per spare CPU runs:
 * starting another first collects the oldest.
 *
 * A sites file is a hint (a restore without one reads all the memory, as for
 * small processes), so a worker that dies, hangs or fails leaves none: the
 * image stays whole and correct.  fini cannot fail a dump in CRIU 4.1 (it
 * returns void), so that is logged as an error naming the process, the
 * worker and the consequence.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criu-plugin.h>

#include "images.h"
#include "log.h"
#include "sites_jobs.h"

struct job {
	struct cpuport_sites_job *job;
	pid_t pid, id;		/* CRIU's pid, the image's key */
	uint64_t t0;
};

static struct job *jobs;
static size_t n_jobs, done_jobs;	/* jobs[done_jobs..n_jobs) still running */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static const char *why(int ret)
{
	switch (ret) {
	case -ECHILD: return "died";
	case -ETIMEDOUT: return "did not finish in time and was killed";
	case -E2BIG: return "found too many sites to store";
	default: return strerror(-ret);
	}
}

/* Wait for one job (up to @timeout_ms), store its sites file, say how it went. */
static void collect(struct job *j, int timeout_ms)
{
	uint64_t w0 = now_ns();
	int ret = cpuport_sites_job__wait(j->job, timeout_ms);

	ret = ret ?: image_write_sites_job(j->job, j->id);
	if (!ret)
		pr_info("pid %d: copied-pointer sites found in %.2f ms by worker %d beside CRIU's page dump (waited "
			"%.2f ms for it)\n", j->pid, (now_ns() - j->t0) / 1e6, cpuport_sites_job__pid(j->job),
			(now_ns() - w0) / 1e6);
	else if (ret == -ECHILD || ret == -ETIMEDOUT)
		pr_err("pid %d: the copied-pointer scan worker %d %s: no sites stored for it; its restore will read "
		       "all its memory instead (correct, only slower). The dump is otherwise complete\n", j->pid,
		       cpuport_sites_job__pid(j->job), why(ret));
	else
		pr_warn("pid %d: no copied-pointer sites stored (%s): its restore reads all its memory\n", j->pid,
			why(ret));
	cpuport_sites_job__free(j->job);
	j->job = NULL;
}

static int spare_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 2 ? (int)n - 1 : 1;
}

void sites_jobs_start(struct cpuport_ctx *ctx, const struct cpuport_table *t, int pid, int timeout_ms)
{
	struct cpuport_sites *s = NULL;
	struct cpuport_sites_job *job = NULL;
	struct job *nj;
	uint64_t t0 = now_ns();
	int ret;

	while (n_jobs - done_jobs >= (size_t)spare_cpus())
		collect(&jobs[done_jobs++], timeout_ms);
	ret = cpuport_sites__new(t, &s);
	ret = ret ?: cpuport_sites__start(ctx, s, pid, &job);
	cpuport_sites__free(s);	/* the worker has its own copy */
	if (ret == -ENODATA)	/* little memory: the restore's own scan is cheap */
		return;
	nj = ret ? NULL : realloc(jobs, (n_jobs + 1) * sizeof(*jobs));
	if (!nj) {
		ret = ret ?: -ENOMEM;
		pr_warn("pid %d: no copied-pointer sites stored (cannot start the worker: %s): its restore reads all "
			"its memory\n", pid, strerror(-ret));
		cpuport_sites_job__free(job);
		return;
	}
	jobs = nj;
	jobs[n_jobs++] = (struct job){ .job = job, .pid = pid, .id = cpuport_table__nspid(t), .t0 = t0 };
}

void sites_jobs_finish(bool dump_ok, int timeout_ms)
{
	uint64_t deadline = now_ns() + timeout_ms * 1000000ull;	/* one for all of them */

	for (size_t i = done_jobs; i < n_jobs; i++) {
		uint64_t now = now_ns();

		if (dump_ok)
			collect(&jobs[i], now < deadline ? (int)((deadline - now) / 1000000) : 0);
		cpuport_sites_job__free(jobs[i].job);	/* a failed dump: killed, nothing stored */
	}
	free(jobs);
	jobs = NULL;
	n_jobs = done_jobs = 0;
}
