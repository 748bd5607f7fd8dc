// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The dump's copied-pointer sites (resolver/ptr_sites.c), looked for on one
 * worker thread while criu dumps the pages: CHECKPOINT_DEVICES queues each
 * process after its image is written, fini waits for the worker (criu
 * calls it before it resumes or kills the frozen tree, with the images
 * directory still open) and stores what was found.  Reading a process's
 * memory is all the worker does: no criu function, no logging, no signals.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "images.h"
#include "log.h"

struct job {
	struct job *next;
	pid_t pid, id;
	struct cpuport_sites *s;
	int ret;
	uint64_t ns;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct job *queue, **queue_tail = &queue, *done;
static pthread_t worker;
static bool running, closing;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void *work(void *arg)
{
	(void)arg;
	for (;;) {
		struct job *j;
		uint64_t t0;

		pthread_mutex_lock(&mu);
		while (!queue && !closing)
			pthread_cond_wait(&cv, &mu);
		j = queue;
		if (j && !(queue = j->next))
			queue_tail = &queue;
		pthread_mutex_unlock(&mu);
		if (!j)
			return NULL;
		t0 = mono_ns();
		j->ret = cpuport_sites__scan(j->s, j->pid);
		j->ns = mono_ns() - t0;
		pthread_mutex_lock(&mu);
		j->next = done;
		done = j;
		pthread_mutex_unlock(&mu);
	}
}

int sites_queue(const struct cpuport_table *t, pid_t pid, pid_t id)
{
	struct job *j = calloc(1, sizeof(*j));
	int ret;

	if (!j)
		return -ENOMEM;
	ret = cpuport_sites__new(t, &j->s);
	if (ret) {
		free(j);
		return ret;
	}
	j->pid = pid, j->id = id;
	if (!running) {
		sigset_t all, old;

		sigfillset(&all);	/* criu's signals stay with criu's own thread */
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ret = pthread_create(&worker, NULL, work, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (ret) {
			cpuport_sites__free(j->s);
			free(j);
			return -ret;
		}
		running = true;
	}
	pthread_mutex_lock(&mu);
	*queue_tail = j;
	queue_tail = &j->next;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

void sites_finish(bool write)
{
	struct job *j, *next;

	if (!running)
		return;
	pthread_mutex_lock(&mu);
	closing = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(worker, NULL);
	for (j = done; j; j = next) {
		int ret = j->ret;

		next = j->next;
		if (write && !ret)
			ret = image_write_sites(j->s, j->id);
		if (ret == -ENODATA)	/* little memory: the restore's own scan is cheap */
			;
		else if (write && ret)	/* the restore then scans all of that process's memory */
			pr_warn("pid %d: no copied-pointer sites stored (%s): its restore reads all its memory\n", j->pid,
				strerror(-ret));
		else if (write)
			pr_info("pid %d: copied-pointer sites found in %.2f ms on a worker thread\n", j->pid, j->ns / 1e6);
		cpuport_sites__free(j->s);
		free(j);
	}
	done = NULL;
	running = closing = false;
}
