// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Running cpuport-select for one restored process: build the request,
 * start the helper through the process's own ld.so with its own libraries
 * (opened here, as root, from /proc/PID/map_files and /proc/PID/root, and
 * handed over as file descriptors), drop to the process's uid/gid with
 * no_new_privs, enforce the time limit, and parse the answers.
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
	} else if (sscanf(line, "glibc %15s", s->glibc) == 1) {
	} else if (!strncmp(line, "error ", 6)) {
		log_warn(ctx, "pid %d: helper: %s", s->pid, line + 6);
	} else if (!strncmp(line, "done", 4)) {
		s->done = true;
	}
}

struct child_args {
	int interp_fd, in_fd, out_fd;
	uid_t uid;
	gid_t gid;
	char *const *argv, *const *envp;
};

/* In the child: drop privileges, keep only what the helper needs, exec ld.so. */
static void child_exec(const struct child_args *c, const struct selection *s)
{
	if (dup2(c->in_fd, 0) < 0 || dup2(c->out_fd, 1) < 0)
		_exit(126);
	for (size_t i = 0; i < s->n_fds; i++)
		fcntl(s->fds[i], F_SETFD, 0);
	fcntl(c->interp_fd, F_SETFD, FD_CLOEXEC);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* resolvers come from the checkpointed program's files: never as root */
	if (setgroups(0, NULL) || setgid(c->gid) || setuid(c->uid) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		_exit(126);
	syscall(SYS_execveat, c->interp_fd, "", c->argv, c->envp, AT_EMPTY_PATH);
	_exit(127);
}

static int read_answers(struct selection *s, struct cpuport_ctx *ctx, int fd, pid_t child)
{
	uint64_t deadline = now_ns() + (uint64_t)ctx->helper_timeout_ms * 1000000;
	char buf[65536], *line = NULL;
	size_t have = 0, cap = 0;
	int ret = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (int64_t)(deadline - now_ns()) / 1000000;
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) == 0) {
			log_err(ctx, "pid %d: selection helper timed out after %u ms\n", s->pid, ctx->helper_timeout_ms);
			kill(child, SIGKILL);
			ret = -ETIMEDOUT;
			break;
		}
		r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (have + 2 > cap) {
				char *nl = realloc(line, cap = cap ? cap * 2 : 4096);

				if (!nl) {
					free(line);
					kill(child, SIGKILL);
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

int sel_run(struct selection *s, struct cpuport_ctx *ctx, int interp_fd, const char *library_path,
	    const char *tunables, uid_t uid, gid_t gid)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status, ret;
	char env_tun[512];
	char *argv[] = { "cpuport-select", "--library-path", (char *)library_path, ctx->helper_path, NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL, NULL, NULL };
	int ne = 1;
	struct child_args c;
	pid_t child;
	uint64_t t0 = now_ns();

	snprintf(env_tun, sizeof(env_tun), "GLIBC_TUNABLES=%s", tunables ? tunables : "");
	if (tunables && *tunables)
		envp[ne++] = env_tun;
	if (ctx->faults & (FAULT_HELPER_CRASH | FAULT_HELPER_HANG))
		envp[ne++] = ctx->faults & FAULT_HELPER_CRASH ? "CPUPORT_SELECT_FAULT=crash" : "CPUPORT_SELECT_FAULT=hang";
	fputs("go\n", s->req);
	fflush(s->req);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		goto err_errno;
	/* big enough that neither side blocks while the other writes */
	fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(out[1], F_SETPIPE_SZ, 1 << 20);
	c = (struct child_args){ interp_fd, in[0], out[1], uid, gid, argv, envp };
	child = fork();
	if (child < 0)
		goto err_errno;
	if (child == 0)
		child_exec(&c, s);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	/* the request is small (a few KiB): the pipe buffer holds it */
	if (write(in[1], s->req_buf, s->req_len) != (ssize_t)s->req_len)
		log_warn(ctx, "pid %d: short write to the selection helper\n", s->pid);
	close(in[1]);
	in[1] = -1;
	ret = read_answers(s, ctx, out[0], child);
	close(out[0]);
	waitpid(child, &status, 0);
	s->ns = now_ns() - t0;
	if (!ret && (!WIFEXITED(status) || WEXITSTATUS(status) || !s->done)) {
		if (WIFSIGNALED(status))
			log_err(ctx, "pid %d: selection helper killed by signal %d\n", s->pid, WTERMSIG(status));
		else
			log_err(ctx, "pid %d: selection helper failed (exit %d): is %s installed and runnable?\n",
				s->pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1, ctx->helper_path);
		ret = -ECHILD;
	}
	return ret;
err_errno:
	ret = -errno;
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return ret;
}
