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
	/* unprivileged (cpuport check as a user): no groups to drop, the ids are ours already */
	if ((geteuid() == 0 && setgroups(0, NULL)) || setgid(c->gid) || setuid(c->uid) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		_exit(126);
	syscall(SYS_execveat, c->interp_fd, "", c->argv, c->envp, AT_EMPTY_PATH);
	_exit(127);
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

static int read_answers(struct selection *s, struct cpuport_ctx *ctx, int fd, pid_t child)
{
	uint64_t deadline = now_ns() + (uint64_t)ctx->helper_timeout_ms * 1000000;
	char buf[65536];
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
		ret = sel_feed(s, ctx, buf, r);
		if (ret) {
			kill(child, SIGKILL);
			ret = ret == -EBADMSG ? -EPROTO : ret;
			break;
		}
	}
	return ret;
}

int sel_run(struct selection *s, struct cpuport_ctx *ctx, int interp_fd, const char *library_path,
	    const char *tunables, uid_t uid, gid_t gid)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status, ret;
	char env_tun[512];
	char *argv[] = { "cpuport-select", "--library-path", (char *)library_path, ctx->helper_path, NULL };
	char *envp[4 + SEL_MAX_ENV] = { "PATH=/usr/bin:/bin" };
	int ne = 1;
	struct child_args c;
	pid_t child;
	uint64_t t0 = now_ns();

	snprintf(env_tun, sizeof(env_tun), "GLIBC_TUNABLES=%s", tunables ? tunables : "");
	if (tunables && *tunables)
		envp[ne++] = env_tun;
	if (ctx->faults & (FAULT_HELPER_CRASH | FAULT_HELPER_HANG))
		envp[ne++] = ctx->faults & FAULT_HELPER_CRASH ? "CPUPORT_SELECT_FAULT=crash" : "CPUPORT_SELECT_FAULT=hang";
	for (size_t i = 0; i < s->n_env; i++)
		envp[ne++] = s->env[i];
	selp_put_go(s->req);
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
