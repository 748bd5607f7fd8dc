// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Running cpuport-select for one restored process: build the request,
 * start the helper through the process's own ld.so with its own libraries
 * (opened here, as root, from /proc/PID/map_files and /proc/PID/root, and
 * handed over as file descriptors), in the process's sandbox
 * (helper_sandbox.c: its namespaces, cgroup, ids, no capabilities), enforce
 * the time limit on every step, and parse the answers.
 *
 * Request lines (one per line, on the helper's stdin):
 *   interp I | dso I PATH | exe I PATH | seg I OFF VADDR FILESZ MEMSZ PROT
 *   map I | guard I OFF | mask W0 W1 .. | model I OFF SIZE F2OFF F2SIZE [INITOFF]
 *   call N I OFF | read N I OFF SIZE | ptr N I OFF | go
 * Answers: base I ADDR | res N I OFF | res N fault SIG | res N outside A |
 *   bytes N HEX | ptr N I OFF | cpu_features I OFF | trampoline I OFF |
 *   glibc VER | error TEXT | done
 */
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_sandbox.h"
#include "select.h"

int sel_init(struct selection *s)
{
	memset(s, 0, sizeof(*s));
	s->req = open_memstream(&s->req_buf, &s->req_len);
	s->cpu_features_obj = s->tramp_obj = -1;
	return s->req ? 0 : -ENOMEM;
}

void sel_free(struct selection *s)
{
	if (s->req)
		fclose(s->req);
	free(s->req_buf);
	for (size_t i = 0; i < s->n_ans; i++)
		free(s->ans[i].bytes);
	free(s->ans);
	for (size_t i = 0; i < s->n_fds; i++)
		close(s->fds[i]);
	free(s->fds);
	memset(s, 0, sizeof(*s));
}

static int new_answer(struct selection *s)
{
	struct sel_answer *a = realloc(s->ans, (s->n_ans + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	s->ans = a;
	memset(&a[s->n_ans], 0, sizeof(*a));
	a[s->n_ans].status = SEL_MISSING;
	return s->n_ans++;
}

int sel_call(struct selection *s, int obj, uint64_t off)
{
	int n = new_answer(s);

	if (n >= 0 && ++s->pending)
		fprintf(s->req, "call %d %d %" PRIu64 "\n", n, obj, off);
	return n;
}

int sel_read(struct selection *s, int obj, uint64_t off, uint32_t size)
{
	int n = new_answer(s);

	if (n >= 0 && ++s->pending)
		fprintf(s->req, "read %d %d %" PRIu64 " %u\n", n, obj, off, size);
	return n;
}

int sel_ptr(struct selection *s, int obj, uint64_t off)
{
	int n = new_answer(s);

	if (n >= 0 && ++s->pending)
		fprintf(s->req, "ptr %d %d %" PRIu64 "\n", n, obj, off);
	return n;
}

int sel_known(struct selection *s, enum sel_status status, int obj, uint64_t off, const uint8_t *bytes,
	      size_t len)
{
	int n = new_answer(s);

	if (n < 0)
		return n;
	s->ans[n] = (struct sel_answer){ .status = status, .obj = obj, .off = off, .len = len };
	if (len && !(s->ans[n].bytes = malloc(len)))
		return -ENOMEM;
	if (len)
		memcpy(s->ans[n].bytes, bytes, len);
	return n;
}

/* Keep @fd open for the helper; returns it, or -1. */
int sel_pass_fd(struct selection *s, int fd)
{
	int *n = realloc(s->fds, (s->n_fds + 1) * sizeof(*n));

	if (fd < 0 || !n) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	s->fds = n;
	s->fds[s->n_fds++] = fd;
	return fd;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void parse_line(struct selection *s, struct cpuport_ctx *ctx, char *line)
{
	unsigned int n, obj;
	uint64_t off;
	char word[16], rest[64];
	int sig;

	if (sscanf(line, "res %u %u %" SCNu64, &n, &obj, &off) == 3 && n < s->n_ans) {
		s->ans[n] = (struct sel_answer){ .status = SEL_OK, .obj = obj, .off = off };
	} else if (sscanf(line, "res %u fault %d", &n, &sig) == 2 && n < s->n_ans) {
		s->ans[n].status = SEL_FAULT;
		s->ans[n].off = sig;
	} else if (sscanf(line, "res %u %15s", &n, word) == 2 && n < s->n_ans) {
		s->ans[n].status = SEL_OUTSIDE;
	} else if (sscanf(line, "ptr %u %u %" SCNu64, &n, &obj, &off) == 3 && n < s->n_ans) {
		s->ans[n] = (struct sel_answer){ .status = SEL_OK, .obj = obj, .off = off };
	} else if (sscanf(line, "ptr %u %15s", &n, word) == 2 && n < s->n_ans) {
		if (!strcmp(word, "null"))
			s->ans[n] = (struct sel_answer){ .status = SEL_OK, .obj = -1 };
		else
			s->ans[n].status = SEL_OUTSIDE;
	} else if (sscanf(line, "bytes %u %63s", &n, rest) == 2 && n < s->n_ans && strcmp(rest, "unavailable")) {
		const char *hex = strchr(strchr(line, ' ') + 1, ' ') + 1;
		size_t len = strcspn(hex, "\n") / 2;
		uint8_t *b = malloc(len ? len : 1);

		if (!b)
			return;
		for (size_t i = 0; i < len; i++)
			b[i] = hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]);
		free(s->ans[n].bytes);
		s->ans[n] = (struct sel_answer){ .status = SEL_OK, .bytes = b, .len = len };
	} else if (sscanf(line, "cpu_features %u %" SCNu64, &obj, &off) == 2) {
		s->cpu_features_obj = obj;
		s->cpu_features_off = off;
	} else if (sscanf(line, "trampoline %u %" SCNu64, &obj, &off) == 2) {
		s->tramp_obj = obj;
		s->tramp_off = off;
	} else if (sscanf(line, "ids %u %u %d", &n, &obj, &sig) == 3) {
		log_debug(ctx, "pid %d: selection helper runs as uid %u gid %u, no_new_privs %d\n", s->pid, n, obj, sig);
	} else if (!strncmp(line, "sandbox ", 8)) {
		log_debug(ctx, "pid %d: selection helper sandbox: %s", s->pid, line + 8);
	} else if (sscanf(line, "glibc %15s", s->glibc) == 1) {
	} else if (!strncmp(line, "error ", 6)) {
		log_warn(ctx, "pid %d: helper: %s", s->pid, line + 6);
	} else if (!strncmp(line, "done", 4)) {
		s->done = true;
	}
}

/* In the child: the pipes on 0 and 1, then the sandbox (helper_sandbox.c) and exec ld.so. */
static void child_exec(const struct helper_sandbox *sb, int interp_fd, int in_fd, int out_fd, int helper_fd,
		       char *const argv[], char *const envp[], const struct selection *s)
{
	int keep[s->n_fds + 1];

	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0)
		_exit(126);
	memcpy(keep, s->fds, s->n_fds * sizeof(int));
	keep[s->n_fds] = helper_fd;
	helper_sandbox_exec(sb, interp_fd, argv, envp, keep, s->n_fds + 1);
}

static int read_answers(struct selection *s, struct cpuport_ctx *ctx, int fd, pid_t child, uint64_t deadline)
{
	char buf[65536], *line = NULL;
	size_t have = 0, cap = 0;
	int ret = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (int64_t)(deadline - now_ns()) / 1000000;
		ssize_t r;

		int pr = left > 0 ? poll(&p, 1, left) : 0;

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			ret = -errno;
			helper_sandbox_kill(child);
			break;
		}
		if (pr == 0) {
			log_err(ctx, "pid %d: selection helper timed out after %u ms\n", s->pid, ctx->helper_timeout_ms);
			helper_sandbox_kill(child);
			ret = -ETIMEDOUT;
			break;
		}
		r = read(fd, buf, sizeof(buf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (have + 2 > cap) {
				char *nl = realloc(line, cap = cap ? cap * 2 : 4096);

				if (!nl) {
					free(line);
					helper_sandbox_kill(child);
					return -ENOMEM;
				}
				line = nl;
			}
			line[have++] = buf[i];
			if (buf[i] == '\n') {
				line[have] = 0;
				parse_line(s, ctx, line);
				have = 0;
			}
		}
	}
	free(line);
	return ret;
}

/* Wait until @fd is ready for @events, or the deadline; 1, 0 (deadline) or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = ((int64_t)(deadline - now_ns()) + 999999) / 1000000;
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* The whole request, or the deadline (a helper that does not read cannot hold us). */
static int write_request(struct selection *s, int fd, uint64_t deadline)
{
	size_t done = 0;

	while (done < s->req_len) {
		int w = wait_fd(fd, POLLOUT, deadline);
		ssize_t r;

		if (w <= 0)
			return w ? w : -ETIMEDOUT;
		r = write(fd, s->req_buf + done, s->req_len - done);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return errno == EPIPE ? 0 : -errno;	/* it exited: its status says why */
		done += r;
	}
	return 0;
}

/* Reap the helper: killed (with its process group) at the deadline, never an unbounded wait. */
static int reap(pid_t child, int *status, uint64_t deadline)
{
	bool killed = false;

	for (;;) {
		pid_t r = waitpid(child, status, WNOHANG);

		if (r == child)
			return killed ? -ETIMEDOUT : 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (!killed && now_ns() >= deadline) {
			helper_sandbox_kill(child);
			killed = true;
			deadline = now_ns() + 2000000000ULL;	/* SIGKILL: gone within moments */
		} else if (killed && now_ns() >= deadline) {
			return -ETIMEDOUT;	/* stuck in the kernel; it dies with SIGKILL, reaped by criu */
		}
		usleep(1000);
	}
}

int sel_run(struct selection *s, struct cpuport_ctx *ctx, int interp_fd, const char *library_path,
	    const char *tunables, pid_t task)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status = 0, ret, helper_fd = -1, wret;
	char env_tun[TUNABLES_MAX + 32], helper_arg[32];
	char *argv[] = { "cpuport-select", "--library-path", (char *)library_path, helper_arg, NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL, NULL, NULL };
	int ne = 1;
	struct helper_sandbox sb;
	pid_t child;
	uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)ctx->helper_timeout_ms * 1000000;

	snprintf(env_tun, sizeof(env_tun), "GLIBC_TUNABLES=%s", tunables ? tunables : "");
	if (tunables && *tunables)
		envp[ne++] = env_tun;
	if (ctx->faults & (FAULT_HELPER_CRASH | FAULT_HELPER_HANG))
		envp[ne++] = ctx->faults & FAULT_HELPER_CRASH ? "CPUPORT_SELECT_FAULT=crash" : "CPUPORT_SELECT_FAULT=hang";
	fputs("go\n", s->req);
	fflush(s->req);
	ret = helper_sandbox_prepare(ctx, &sb, task);
	if (ret)
		return ret;
	/* opened here, before the helper enters the task's mount namespace */
	helper_fd = open(ctx->helper_path, O_RDONLY | O_CLOEXEC);
	if (helper_fd < 0) {
		ret = -errno;
		log_err(ctx, "pid %d: cannot open the selection helper %s: %s\n", s->pid, ctx->helper_path,
			strerror(-ret));
		goto out;
	}
	snprintf(helper_arg, sizeof(helper_arg), "/proc/self/fd/%d", helper_fd);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		goto err_errno;
	/* big enough that neither side blocks while the other writes */
	fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(out[1], F_SETPIPE_SZ, 1 << 20);
	child = fork();
	if (child < 0)
		goto err_errno;
	if (child == 0)
		child_exec(&sb, interp_fd, in[0], out[1], helper_fd, argv, envp, s);
	setpgid(child, child);	/* also done by the child: no window without its own group */
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	ret = write_request(s, in[1], deadline);
	if (ret == -ETIMEDOUT)
		log_err(ctx, "pid %d: selection helper timed out after %u ms (it did not read its request)\n", s->pid,
			ctx->helper_timeout_ms);
	close(in[1]);
	in[1] = -1;
	if (ret)
		helper_sandbox_kill(child);
	else
		ret = read_answers(s, ctx, out[0], child, deadline);
	close(out[0]);
	out[0] = -1;
	wret = reap(child, &status, deadline);
	if (!ret && wret) {
		log_err(ctx, "pid %d: selection helper did not exit within %u ms\n", s->pid, ctx->helper_timeout_ms);
		ret = wret;
	}
	s->ns = now_ns() - t0;
	if (!ret && (!WIFEXITED(status) || WEXITSTATUS(status) || !s->done)) {
		if (WIFSIGNALED(status))
			log_err(ctx, "pid %d: selection helper killed by signal %d\n", s->pid, WTERMSIG(status));
		else
			log_err(ctx, "pid %d: selection helper failed (exit %d): is %s installed and runnable?\n",
				s->pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1, ctx->helper_path);
		ret = -ECHILD;
	}
	goto out;
err_errno:
	ret = -errno;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	if (helper_fd >= 0)
		close(helper_fd);
	helper_sandbox_close(&sb);
	return ret;
}
