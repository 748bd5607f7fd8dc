// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The copied-pointer sites scan (ptr_sites.c) in a worker process, so that
 * it reads the frozen process's memory while CRIU dumps its pages, on
 * another CPU, instead of before.
 *
 * A process, not a thread: CRIU later setns()es into the tree's mount
 * namespace, which the kernel refuses to a multi-threaded caller.  Not a
 * child of the caller either: while CRIU's parasite runs, its SIGCHLD
 * handler exit()s CRIU on any child's death and compel's wait4(-1, __WALL)
 * would reap ours.  So the worker is forked twice; the middle process exits
 * at once and is reaped here, before CRIU installs those handlers, and the
 * worker is reparented to the nearest subreaper or init.  It is held by a
 * pidfd (opened while a pipe proves it alive), never by a bare pid.
 *
 * The maps are read here, before the fork (the worker sees the process as
 * it was frozen, not CRIU's parasite mappings).  The worker keeps only the
 * descriptors it uses, writes the sites file to a memfd, then its status to
 * a pipe; it stops when that pipe loses its reader (CRIU gone).  The caller
 * gets a whole file or an error, never a part: a worker that died (no
 * status) is -ECHILD, one still running at the deadline is killed
 * (-ETIMEDOUT), and nothing is stored for either.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

struct cpuport_sites_job {
	pid_t pid;		/* the worker, for messages */
	int pidfd;		/* -1 once it is known to be gone */
	int status_fd;		/* the read end: its pid, then its status */
	int out_fd;		/* the memfd the worker wrote the sites file into */
	int status;		/* 1: not known yet; else 0 or -errno */
};

static int pidfd_open_(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_kill(int pidfd)
{
	return syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

/* Close every descriptor but the (up to 3) kept ones. */
static void keep_only(int a, int b, int c)
{
	int keep[3] = { a, b, c }, lo = 0;

	for (int i = 0; i < 3; i++)	/* sort */
		for (int j = i + 1; j < 3; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];

				keep[i] = keep[j], keep[j] = t;
			}
	for (int i = 0; i < 3; i++) {
		if (keep[i] > lo)
			syscall(SYS_close_range, lo, keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

static void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			_exit(1);
		p = (const char *)p + w, n -= w;
	}
}

/* The worker: never returns. */
static void work(struct cpuport_sites *s, struct pview *v, int status_fd, int out_fd, unsigned int faults)
{
	pid_t self = getpid();
	int ret;

	keep_only(((struct proc *)v->arg)->mem_fd, status_fd, out_fd);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_NAME, "cpuport-sites");
	write_all(status_fd, &self, sizeof(self));
	if (faults & FAULT_SITES_CRASH)
		raise(SIGKILL);
	while (faults & FAULT_SITES_HANG)
		pause();
	sites_watch(s, status_fd);
	ret = sites_scan(s, v);
	ret = ret ?: cpuport_sites__write_fd(s, out_fd);
	write_all(status_fd, &ret, sizeof(ret));
	_exit(0);
}

/* read exactly @n bytes within @timeout_ms (-1: none): 0, -ECHILD (EOF: the writer is gone), -ETIMEDOUT */
static int read_within(int fd, void *buf, size_t n, int timeout_ms)
{
	struct timespec t0, t;
	size_t got = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = timeout_ms;
		ssize_t r;

		if (timeout_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			left = timeout_ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
			if (left < 0)
				left = 0;
		}
		r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			return -ETIMEDOUT;
		r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			return -ECHILD;
		got += r;
	}
	return 0;
}

void cpuport_sites_job__free(struct cpuport_sites_job *job)
{
	if (!job)
		return;
	if (job->pidfd >= 0) {
		if (job->status == 1)
			pidfd_kill(job->pidfd);
		close(job->pidfd);
	}
	close(job->status_fd);
	close(job->out_fd);
	free(job);
}

static int start(struct cpuport_ctx *ctx, struct cpuport_sites *s, struct pview *v, struct cpuport_sites_job *job)
{
	unsigned int faults = ctx ? ctx->faults : 0;
	int st[2], wst;
	pid_t mid, got;

	if (pipe2(st, O_CLOEXEC))
		return -errno;
	mid = fork();
	if (mid < 0) {
		close(st[0]);
		close(st[1]);
		return -errno;
	}
	if (!mid) {
		pid_t w = fork();

		if (!w)
			work(s, v, st[1], job->out_fd, faults);
		_exit(w < 0);
	}
	close(st[1]);
	job->status_fd = st[0];
	do
		got = waitpid(mid, &wst, 0);
	while (got < 0 && errno == EINTR);
	/* ECHILD: a SIGCHLD handler of the caller's reaped it; the pipe tells what matters */
	if (got == mid && (!WIFEXITED(wst) || WEXITSTATUS(wst)))
		return -ECHILD;	/* the second fork failed */
	return read_within(job->status_fd, &job->pid, sizeof(job->pid), 10000);
}

int cpuport_sites__start(struct cpuport_ctx *ctx, struct cpuport_sites *s, pid_t pid, struct cpuport_sites_job **out)
{
	struct cpuport_sites_job *job;
	struct pollfd p;
	struct pview v;
	int ret;

	*out = NULL;
	ret = sites_worth_hint(s);
	if (ret)
		return ret;
	ret = pview_proc_open(&v, pid, false);
	if (ret)
		return ret;
	ret = sites_worth(s, &v);
	job = ret ? NULL : calloc(1, sizeof(*job));
	if (!ret && !job)
		ret = -ENOMEM;
	if (ret) {
		pview_close(&v);
		return ret;
	}
	*job = (struct cpuport_sites_job){ .pidfd = -1, .status_fd = -1, .status = 1 };
	job->out_fd = memfd_create("cpuport-sites", MFD_CLOEXEC);
	ret = job->out_fd < 0 ? -errno : start(ctx, s, &v, job);
	pview_close(&v);
	if (!ret) {
		/* alive after pidfd_open() (its end of the pipe still open): the pidfd is the worker's */
		job->pidfd = pidfd_open_(job->pid);
		p = (struct pollfd){ .fd = job->status_fd, .events = POLLIN };
		if (job->pidfd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLHUP)) {
			close(job->pidfd);	/* gone already (done, or dead): the status tells */
			job->pidfd = -1;
		}
	}
	if (ret) {
		cpuport_sites_job__free(job);
		return ret;
	}
	*out = job;
	return 0;
}

int cpuport_sites_job__wait(struct cpuport_sites_job *job, int timeout_ms)
{
	int ret;

	if (job->status != 1)
		return job->status;
	ret = read_within(job->status_fd, &job->status, sizeof(job->status), timeout_ms);
	if (ret == -ETIMEDOUT && job->pidfd >= 0)
		pidfd_kill(job->pidfd);
	if (ret)
		job->status = ret;
	return job->status;
}

pid_t cpuport_sites_job__pid(const struct cpuport_sites_job *job)
{
	return job->pid;
}

int cpuport_sites_job__write_fd(const struct cpuport_sites_job *job, int fd)
{
	off_t off = 0, size;

	if (job->status)
		return job->status == 1 ? -EBUSY : job->status;
	size = lseek(job->out_fd, 0, SEEK_END);
	if (size < 0)
		return -errno;
	while (off < size) {
		char buf[65536];
		ssize_t r = pread(job->out_fd, buf, size - off < (off_t)sizeof(buf) ? size - off : (off_t)sizeof(buf), off);

		if (r <= 0)
			return -EIO;
		for (ssize_t w, done = 0; done < r; done += w) {
			w = write(fd, buf + done, r - done);
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
		}
		off += r;
	}
	return 0;
}
