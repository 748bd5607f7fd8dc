// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Running cpuport-select for one restored process: build the request,
 * start the helper through the process's own ld.so with its own libraries
 * (opened here, as root, from /proc/PID/map_files and /proc/PID/root, and
 * handed over as file descriptors), drop to the process's uid/gid with
 * no_new_privs, enforce the time limit, and parse the answers.
 *
 * The protocol itself (words, encoder, strict decoder): selproto.h.
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

int sel_init(struct selection *s, uint32_t n_objects)
{
	memset(s, 0, sizeof(*s));
	s->n_objects = n_objects;
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
	free(s->line);
	for (size_t i = 0; i < s->n_env; i++)
		free(s->env[i]);
	free(s->transcript);
	memset(s, 0, sizeof(*s));
}

static int new_answer(struct selection *s, enum selp_word asked, uint32_t size)
{
	struct sel_answer *a = realloc(s->ans, (s->n_ans + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	s->ans = a;
	memset(&a[s->n_ans], 0, sizeof(*a));
	a[s->n_ans].status = SEL_MISSING;
	a[s->n_ans].asked = asked;
	a[s->n_ans].size = size;
	return s->n_ans++;
}

int sel_call(struct selection *s, int obj, uint64_t off)
{
	int n = new_answer(s, SELP_CALL, 0);

	if (n >= 0 && ++s->pending)
		selp_put_call(s->req, n, obj, off);
	return n;
}

int sel_read(struct selection *s, int obj, uint64_t off, uint32_t size)
{
	int n = new_answer(s, SELP_READ, size);

	if (n >= 0 && ++s->pending)
		selp_put_read(s->req, n, obj, off, size);
	return n;
}

int sel_ptr(struct selection *s, int obj, uint64_t off)
{
	int n = new_answer(s, SELP_PTR, 0);

	if (n >= 0 && ++s->pending)
		selp_put_ptr(s->req, n, obj, off);
	return n;
}

int sel_known(struct selection *s, enum sel_status status, int obj, uint64_t off, const uint8_t *bytes,
	      size_t len)
{
	int n = new_answer(s, SELP_BAD, 0);

	if (n < 0)
		return n;
	s->ans[n] = (struct sel_answer){ .status = status, .obj = obj, .off = off, .len = len };
	if (len && !(s->ans[n].bytes = malloc(len)))
		return -ENOMEM;
	if (len)
		memcpy(s->ans[n].bytes, bytes, len);
	return n;
}

void sel_forget_answers(struct selection *s)
{
	for (size_t i = 0; i < s->n_ans; i++) {
		struct sel_answer *a = &s->ans[i];

		if (a->asked == SELP_BAD)
			continue;	/* known from the cache, not the helper's */
		free(a->bytes);
		*a = (struct sel_answer){ .status = SEL_MISSING, .asked = a->asked, .size = a->size };
	}
	s->cpu_features_obj = s->tramp_obj = -1;
	s->cpu_features_off = s->tramp_off = 0;
	s->glibc[0] = 0;
	s->done = false;
	s->line_len = 0;
}

/* One more NAME=VALUE in the helper's environment (a kind's own masking knob); copied. */
int sel_setenv(struct selection *s, const char *name_value)
{
	if (s->n_env >= SEL_MAX_ENV || !strchr(name_value, '='))
		return -EINVAL;
	s->env[s->n_env] = strdup(name_value);
	if (!s->env[s->n_env])
		return -ENOMEM;
	s->n_env++;
	return 0;
}

/* Keep @fd open for the helper; returns it, -EBADF for fd < 0, or -ENOMEM. */
int sel_pass_fd(struct selection *s, int fd)
{
	int *n;

	if (fd < 0)
		return -EBADF;
	n = realloc(s->fds, (s->n_fds + 1) * sizeof(*n));
	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	s->fds = n;
	s->fds[s->n_fds++] = fd;
	return fd;
}

/* The request number an answer names: one that was asked, that kind, not answered yet. */
static struct sel_answer *asked(struct selection *s, const struct selp_msg *m, enum selp_word kind)
{
	struct sel_answer *a = m->n < s->n_ans ? &s->ans[m->n] : NULL;

	return a && a->asked == kind && a->status == SEL_MISSING && !a->answered ? a : NULL;
}

/* One answer line; -EBADMSG if malformed or about something never asked. */
static int parse_line(struct selection *s, struct cpuport_ctx *ctx, const char *line)
{
	struct selp_msg m;
	struct sel_answer *a = NULL;

	if (selp_decode_answer(line, s->n_objects, &m))
		return -EBADMSG;
	switch (m.word) {
	case SELP_RES: case SELP_RES_FAULT: case SELP_RES_OUTSIDE: case SELP_RES_UNAVAILABLE:
		a = asked(s, &m, SELP_CALL);
		break;
	case SELP_BYTES: case SELP_BYTES_UNAVAILABLE:
		a = asked(s, &m, SELP_READ);
		break;
	case SELP_PTR_ANS: case SELP_PTR_NULL: case SELP_PTR_OUTSIDE: case SELP_PTR_UNAVAILABLE:
		a = asked(s, &m, SELP_PTR);
		break;
	default:
		break;
	}
	switch (m.word) {
	case SELP_RES: case SELP_PTR_ANS:
		if (!a)
			return -EBADMSG;
		a->status = SEL_OK, a->obj = m.obj, a->off = m.arg[0];
		break;
	case SELP_RES_FAULT:
		if (!a)
			return -EBADMSG;
		a->status = SEL_FAULT, a->off = m.arg[0];
		break;
	case SELP_RES_OUTSIDE: case SELP_RES_UNAVAILABLE: case SELP_PTR_OUTSIDE: case SELP_PTR_UNAVAILABLE:
		if (!a)
			return -EBADMSG;
		a->status = SEL_OUTSIDE;
		break;
	case SELP_PTR_NULL:
		if (!a)
			return -EBADMSG;
		a->status = SEL_OK, a->obj = -1, a->off = 0;
		break;
	case SELP_BYTES_UNAVAILABLE:
		if (!a)
			return -EBADMSG;
		break;	/* stays SEL_MISSING */
	case SELP_BYTES:
		if (!a || m.text_len != 2 * (size_t)a->size)
			return -EBADMSG;
		a->bytes = malloc(a->size ? a->size : 1);
		if (!a->bytes)
			return -ENOMEM;
		if (selp_decode_hex(m.text, m.text_len, a->bytes, a->size))
			return -EBADMSG;
		a->len = a->size;
		a->status = SEL_OK;
		break;
	case SELP_CPU_FEATURES:
		s->cpu_features_obj = m.obj;
		s->cpu_features_off = m.arg[0];
		break;
	case SELP_TRAMPOLINE:
		s->tramp_obj = m.obj;
		s->tramp_off = m.arg[0];
		break;
	case SELP_IDS:
		log_debug(ctx, "pid %d: selection helper runs as uid %" PRIu64 " gid %" PRIu64 ", no_new_privs %d\n",
			  s->pid, m.arg[0], m.arg[1], (int)m.arg[2]);
		break;
	case SELP_SANDBOX:
		log_debug(ctx, "pid %d: selection helper sandbox: %.*s\n", s->pid, (int)m.text_len, m.text);
		break;
	case SELP_GLIBC:
		snprintf(s->glibc, sizeof(s->glibc), "%.*s", (int)m.text_len, m.text);
		break;
	case SELP_ERROR:
		log_warn(ctx, "pid %d: helper: %.*s\n", s->pid, (int)m.text_len, m.text);
		break;
	case SELP_DONE:
		s->done = true;
		break;
	case SELP_BASE:
		break;
	default:
		return -EBADMSG;
	}
	if (a)
		a->answered = true;
	return 0;
}

/* In the child: request on 0, stdout to /dev/null, then the sandbox (helper_sandbox.c) and exec ld.so. */
static void child_exec(const struct helper_sandbox *sb, int interp_fd, int in_fd, int ans_fd, int helper_fd,
		       char *const argv[], char *const envp[], const struct selection *s)
{
	int keep[s->n_fds + 2];

	/* library constructors that print write to /dev/null, never into the answers */
	if (dup2(in_fd, 0) < 0 || dup2(sb->null_fd, 1) < 0)
		_exit(126);
	memcpy(keep, s->fds, s->n_fds * sizeof(int));
	keep[s->n_fds] = helper_fd;
	keep[s->n_fds + 1] = ans_fd;
	helper_sandbox_exec(sb, interp_fd, argv, envp, keep, s->n_fds + 2);
}

/*
 * Answer bytes as they come: complete lines are decoded, the rest is kept.
 * -EBADMSG for a line longer than SELP_MAX_LINE or one that does not decode
 * (the caller gives up on the helper), -ENOMEM.
 */
int sel_feed(struct selection *s, struct cpuport_ctx *ctx, const char *buf, size_t len)
{
	int ret;

	if (!s->line && !(s->line = malloc(SELP_MAX_LINE + 1)))
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (s->line_len >= SELP_MAX_LINE) {
			log_err(ctx, "pid %d: selection helper sent a line longer than %d bytes\n", s->pid, SELP_MAX_LINE);
			return -EBADMSG;
		}
		s->line[s->line_len++] = buf[i];
		if (buf[i] != '\n')
			continue;
		s->line[s->line_len] = 0;
		/* an embedded NUL would hide the rest of the line from the decoder */
		ret = strlen(s->line) != s->line_len ? -EBADMSG : parse_line(s, ctx, s->line);
		s->line_len = 0;
		if (ret) {
			if (ret == -EBADMSG)
				log_err(ctx, "pid %d: selection helper sent a malformed answer: %.*s\n", s->pid,
					(int)strcspn(s->line, "\n") > 120 ? 120 : (int)strcspn(s->line, "\n"), s->line);
			return ret;
		}
	}
	return 0;
}

static int read_answers(struct selection *s, struct cpuport_ctx *ctx, int fd, pid_t child, uint64_t deadline)
{
	char buf[65536];
	int ret = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = ((int64_t)(deadline - now_ns()) + 999999) / 1000000;
		int pr = left > 0 ? poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left) : 0;
		ssize_t r;

		if (pr < 0 && errno == EINTR)
			continue;	/* never fall into a blocking read */
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
		r = read(fd, buf, sizeof(buf));	/* O_NONBLOCK */
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		if (s->keep_transcript) {
			char *t = realloc(s->transcript, s->transcript_len + r);

			if (t) {
				memcpy(t + s->transcript_len, buf, r);
				s->transcript = t;
				s->transcript_len += r;
			} else {	/* nothing to store; the answers still count */
				free(s->transcript);
				s->transcript = NULL;
				s->transcript_len = 0;
				s->keep_transcript = false;
			}
		}
		ret = sel_feed(s, ctx, buf, r);
		if (ret) {
			helper_sandbox_kill(child);
			ret = ret == -EBADMSG ? -EPROTO : ret;
			break;
		}
	}
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

/*
 * write(2) to a helper that may have exited.  SIGPIPE would end the caller (criu itself, which
 * then leaves the tasks to run unpatched, or the CLI), so it is blocked for this thread around
 * the write and a SIGPIPE the write raised is consumed; the caller sees EPIPE.
 */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec now = { 0, 0 };
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t r;
	int err;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	r = write(fd, buf, len);
	err = errno;
	if (r < 0 && err == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return r;
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
		r = write_nosigpipe(fd, s->req_buf + done, s->req_len - done);
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
			return -ETIMEDOUT;	/* stuck in the kernel; it dies of SIGKILL */
		}
		usleep(1000);
	}
}

int sel_run(struct selection *s, struct cpuport_ctx *ctx, int interp_fd, const char *library_path,
	    const char *tunables, pid_t task)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status = 0, ret, helper_fd = -1, wret;
	char env_tun[TUNABLES_MAX + 32], helper_arg[32], env_ans[48];
	char *argv[] = { "cpuport-select", "--library-path", (char *)library_path, helper_arg, NULL };
	char *envp[5 + SEL_MAX_ENV] = { "PATH=/usr/bin:/bin" };
	int ne = 1;
	struct helper_sandbox sb;
	pid_t child;
	uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)ctx->helper_timeout_ms * 1000000;

	snprintf(env_tun, sizeof(env_tun), "GLIBC_TUNABLES=%s", tunables ? tunables : "");
	if (tunables && *tunables)
		envp[ne++] = env_tun;
	if (ctx->faults & (FAULT_HELPER_CRASH | FAULT_HELPER_HANG))
		envp[ne++] = ctx->faults & FAULT_HELPER_CRASH ? "CPUPORT_SELECT_FAULT=crash" : "CPUPORT_SELECT_FAULT=hang";
	for (size_t i = 0; i < s->n_env; i++)
		envp[ne++] = s->env[i];
	selp_put_go(s->req);
	fflush(s->req);
	ret = helper_sandbox_prepare(ctx, &sb, task);
	if (ret)
		return ret;
	/* opened here, before the helper enters the task's mount namespace */
	helper_fd = open(ctx->helper_path, O_RDONLY | O_CLOEXEC);
	if (helper_fd < 0) {
		log_err(ctx, "pid %d: cannot open the selection helper %s: %s\n", s->pid, ctx->helper_path,
			strerror(errno));
		ret = -ECHILD;	/* as if it could not run */
		goto out;
	}
	snprintf(helper_arg, sizeof(helper_arg), "/proc/self/fd/%d", helper_fd);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		goto err_errno;
	/* answers on their own pipe, not on stdout (constructors may print) */
	snprintf(env_ans, sizeof(env_ans), "CPUPORT_SELECT_ANSWER_FD=%d", out[1]);
	envp[ne++] = env_ans;
	sb.report_fd = out[1];
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
