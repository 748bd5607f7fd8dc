// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The selection helper never holds more privilege than the restored task
 * (see helper_sandbox.h).  Order in the child matters:
 *  1. own process group (a timeout kills everything the helper started);
 *  2. the task's cgroup (written as root, before anything is dropped);
 *  3. its groups, gid and uid, with SECBIT_NO_SETUID_FIXUP so that the
 *     capabilities needed to join namespaces survive the uid change (they are
 *     dropped below);
 *  4. its user namespace, then mount (and its root), pid, net, ipc, uts,
 *     cgroup namespaces;
 *  5. locked securebits, empty bounding/ambient/permitted/effective/
 *     inheritable sets, no_new_privs, PDEATHSIG (after the uid change, which
 *     clears it), rlimits;
 *  6. a second fork, so that the helper itself is in the task's pid namespace;
 *  7. every fd closed but the pipes and the object fds; exec via fd.
 * Everything the child needs is prepared before fork: it allocates nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_sandbox.h"

const char *const helper_sandbox_ns_names[SANDBOX_N_NS] = { "user", "mnt", "pid", "net", "ipc", "uts", "cgroup" };
static const int ns_types[SANDBOX_N_NS] = { CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET,
					    CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP };

#define MAX_GROUPS 65536

static char *slurp(const char *path)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r = 0;

	if (!buf || fd < 0)
		goto err;
	while ((r = read(fd, buf + n, cap - n - 1)) > 0) {
		n += r;
		if (cap - n < 1024) {
			char *nb = cap >= (16 << 20) ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				errno = EFBIG;
				goto err;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (r < 0)
		goto err;
	buf[n] = 0;
	close(fd);
	return buf;
err:
	r = errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	errno = r ?: EIO;
	return NULL;
}

/* The value after "Key:" in /proc/PID/status, or NULL. */
static const char *status_field(const char *status, const char *key)
{
	size_t klen = strlen(key);

	for (const char *l = status; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, klen) && l[klen] == ':')
			return l + klen + 1;
	return NULL;
}

/* Second column of "Uid:"/"Gid:" (effective id); -1 if missing or malformed. */
static int64_t effective_id(const char *status, const char *key)
{
	const char *v = status_field(status, key);
	char *end;
	unsigned long long real, eff;

	if (!v)
		return -1;
	errno = 0;
	real = strtoull(v, &end, 10);
	if (end == v || errno)
		return -1;
	v = end;
	eff = strtoull(v, &end, 10);
	if (end == v || errno || real > UINT32_MAX - 1 || eff > UINT32_MAX - 1)
		return -1;
	return (int64_t)eff;
}

static int parse_groups(struct helper_sandbox *sb, const char *status)
{
	const char *v = status_field(status, "Groups");
	char *end;

	if (!v)
		return -EIO;
	for (;;) {
		unsigned long long g;

		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '\n' || !*v)
			return 0;
		errno = 0;
		g = strtoull(v, &end, 10);
		if (end == v || errno || g > UINT32_MAX - 1 || sb->n_groups >= MAX_GROUPS)
			return -EIO;
		if (!(sb->n_groups & 63)) {
			gid_t *n = realloc(sb->groups, (sb->n_groups + 64) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			sb->groups = n;
		}
		sb->groups[sb->n_groups++] = (gid_t)g;
		v = end;
	}
}

/* Does mountinfo's super-options field @opts name every controller of @ctrls ("cpu,cpuacct", "name=x")? */
static bool has_controllers(const char *opts, const char *ctrls)
{
	char want[256], *tok, *save = NULL;

	snprintf(want, sizeof(want), "%s", ctrls);
	for (tok = strtok_r(want, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(tok);
		const char *p = opts;
		bool found = false;

		while (p && !found) {
			found = !strncmp(p, tok, n) && (p[n] == ',' || p[n] == 0 || p[n] == '\n' || p[n] == ' ');
			p = strchr(p, ',');
			p = p ? p + 1 : NULL;
		}
		if (!found)
			return false;
	}
	return true;
}

/* Where the hierarchy of one /proc/PID/cgroup line is mounted (its root), or "". */
static void hierarchy_mount(char *mountinfo, const char *ctrls, char *mnt, size_t len)
{
	mnt[0] = 0;
	for (char *line = mountinfo; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char root[1024], point[1024], type[16], opts[512];
		const char *sep = strstr(line, " - ");

		if (!sep || sep > strchr(line, '\n') ||
		    sscanf(line, "%*u %*u %*u:%*u %1023s %1023s", root, point) != 2 ||
		    sscanf(sep, " - %15s %*s %511s", type, opts) != 2 || strcmp(root, "/"))
			continue;
		if (*ctrls ? !strcmp(type, "cgroup") && has_controllers(opts, ctrls) : !strcmp(type, "cgroup2")) {
			snprintf(mnt, len, "%s", point);
			return;
		}
	}
}

/* The task's cgroup in every hierarchy mounted here (v2, and v1 controllers), for writing our pid. */
static int open_cgroups(struct cpuport_ctx *ctx, struct helper_sandbox *sb, pid_t pid)
{
	char path[64], *cg = NULL, *mi = NULL, *line, *save = NULL, mnt[1024], full[4200];
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	cg = slurp(path);
	mi = slurp("/proc/self/mountinfo");
	if (!cg || !mi) {
		ret = -errno;
		log_err(ctx, "pid %d: cannot read its cgroups (%s): the selection helper cannot join them\n", pid,
			strerror(-ret));
		goto out;
	}
	for (line = strtok_r(cg, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
		char *ctrls = strchr(line, ':'), *rel = ctrls ? strchr(ctrls + 1, ':') : NULL;

		if (!rel)
			continue;
		*rel++ = 0;
		ctrls++;
		hierarchy_mount(mi, ctrls, mnt, sizeof(mnt));
		if (!mnt[0]) {
			log_debug(ctx, "pid %d: cgroup hierarchy '%s' not mounted here: the selection helper stays in "
				  "cpuport's cgroup there\n", pid, ctrls);
			continue;
		}
		if (*rel != '/' || strstr(rel, "/..") || strchr(rel, '\\') || sb->n_cgroups >= SANDBOX_MAX_CGROUPS) {
			ret = -EINVAL;	/* /proc escapes odd names: refuse, never guess */
			log_err(ctx, "pid %d: unusual cgroup %s:%s: the selection helper cannot join it\n", pid, ctrls, rel);
			break;
		}
		snprintf(full, sizeof(full), "%s%s%scgroup.procs", mnt, rel, rel[strlen(rel) - 1] == '/' ? "" : "/");
		sb->cgroup_fd[sb->n_cgroups] = open(full, O_WRONLY | O_CLOEXEC);
		if (sb->cgroup_fd[sb->n_cgroups] < 0) {
			ret = -errno;
			log_err(ctx, "pid %d: cannot open %s (%s): the selection helper cannot join its cgroup\n", pid,
				full, strerror(-ret));
			break;
		}
		sb->n_cgroups++;
	}
out:
	free(cg);
	free(mi);
	return ret;
}

static int open_namespaces(struct cpuport_ctx *ctx, struct helper_sandbox *sb, pid_t pid)
{
	for (int i = 0; i < SANDBOX_N_NS; i++) {
		char theirs[64], ours[64];
		struct stat a, b;

		snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", pid, helper_sandbox_ns_names[i]);
		snprintf(ours, sizeof(ours), "/proc/self/ns/%s", helper_sandbox_ns_names[i]);
		if (stat(ours, &b) && errno == ENOENT && stat(theirs, &a) && errno == ENOENT)
			continue;	/* this kernel has no such namespace */
		if (stat(theirs, &a) || stat(ours, &b)) {
			int ret = -errno;

			log_err(ctx, "pid %d: cannot see its %s namespace (%s): the selection helper cannot join it\n",
				pid, helper_sandbox_ns_names[i], strerror(-ret));
			return ret;
		}
		if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			continue;
		sb->ns_fd[i] = open(theirs, O_RDONLY | O_CLOEXEC);
		if (sb->ns_fd[i] < 0) {
			int ret = -errno;

			log_err(ctx, "pid %d: cannot open its %s namespace (%s)\n", pid, helper_sandbox_ns_names[i],
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int helper_sandbox_prepare(struct cpuport_ctx *ctx, struct helper_sandbox *sb, pid_t pid)
{
	char path[64], *status = NULL;
	int64_t uid, gid;
	int ret;

	memset(sb, 0, sizeof(*sb));
	for (int i = 0; i < SANDBOX_N_NS; i++)
		sb->ns_fd[i] = -1;
	sb->root_fd = sb->null_fd = sb->report_fd = -1;
	sb->pid = pid;
	sb->parent = getpid();
	sb->as_bytes = 8ULL << 30;
	sb->cpu_s = ctx->helper_timeout_ms / 1000 + 2;
	sb->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (sb->null_fd < 0) {
		ret = -errno;
		log_err(ctx, "cannot open /dev/null for the selection helper: %s\n", strerror(-ret));
		goto err;
	}
	snprintf(path, sizeof(path), pid ? "/proc/%d/status" : "/proc/self/status", pid);
	status = slurp(path);
	if (!status) {
		ret = -errno;
		log_err(ctx, "pid %d: cannot read %s (%s): not running the selection helper as root instead\n", pid,
			path, strerror(-ret));
		goto err;
	}
	uid = effective_id(status, "Uid");
	gid = effective_id(status, "Gid");
	ret = uid < 0 || gid < 0 ? -EIO : parse_groups(sb, status);
	if (ret) {
		log_err(ctx, "pid %d: cannot read its uid, gid or groups from %s: not running the selection helper "
			"as root instead\n", pid, path);
		goto err;
	}
	sb->uid = (uid_t)uid;
	sb->gid = (gid_t)gid;
	/*
	 * Without privilege (cpuport as a user) the helper runs as ourselves:
	 * joining the task's namespaces and cgroups needs privilege we do not
	 * have, and the child checks the task's ids are ours.
	 */
	if (pid && geteuid() == 0) {
		ret = open_namespaces(ctx, sb, pid);
		ret = ret ?: open_cgroups(ctx, sb, pid);
		if (ret)
			goto err;
		snprintf(path, sizeof(path), "/proc/%d/root", pid);
		sb->root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (sb->root_fd < 0) {
			ret = -errno;
			log_err(ctx, "pid %d: cannot open its root directory: %s\n", pid, strerror(-ret));
			goto err;
		}
	}
	free(status);
	return 0;
err:
	free(status);
	helper_sandbox_close(sb);
	return ret;
}

void helper_sandbox_close(struct helper_sandbox *sb)
{
	for (int i = 0; i < SANDBOX_N_NS; i++)
		if (sb->ns_fd[i] >= 0)
			close(sb->ns_fd[i]);
	if (sb->root_fd >= 0)
		close(sb->root_fd);
	for (size_t i = 0; i < sb->n_cgroups; i++)
		close(sb->cgroup_fd[i]);
	if (sb->null_fd >= 0)
		close(sb->null_fd);
	free(sb->groups);
	memset(sb, 0, sizeof(*sb));
	for (int i = 0; i < SANDBOX_N_NS; i++)
		sb->ns_fd[i] = -1;
	sb->root_fd = sb->null_fd = sb->report_fd = -1;
}

/* ---- child side: async-signal-safe only (no malloc, no stdio) ---- */

static void put(int fd, const char *s)
{
	ssize_t r = write(fd, s, strlen(s));

	(void)r;
}

/* @fd: the answer pipe (-1: nowhere), for an "error sandbox: STEP: REASON" line */
static __attribute__((noreturn)) void fail(int fd, const char *step, int err)
{
	if (fd >= 0) {
		put(fd, "error sandbox: ");
		put(fd, step);
		put(fd, ": ");
		put(fd, strerrordesc_np(err) ?: "unknown error");
		put(fd, "\n");
	}
	_exit(126);
}

static void set_limit(int rfd, int res, uint64_t v, const char *what)
{
	struct rlimit rl = { v, v };

	if (setrlimit(res, &rl))
		fail(rfd, what, errno);
}

/* Every capability set empty, and no way back: checked, not assumed. */
static void drop_capabilities(int rfd)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };
	int cap;

	if (syscall(SYS_capget, &h, d))
		fail(rfd, "capget", errno);
	if (!(d[0].effective & (1U << CAP_SETPCAP))) {
		/* a user without capabilities (cpuport check): no_new_privs keeps it so */
		memset(d, 0, sizeof(d));
		if (syscall(SYS_capset, &h, d))
			fail(rfd, "capset", errno);
		return;
	}
	memset(d, 0, sizeof(d));
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
		  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
		  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0))
		fail(rfd, "securebits", errno);
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			fail(rfd, "bounding set", errno);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		fail(rfd, "ambient set", errno);
	if (syscall(SYS_capset, &h, d))
		fail(rfd, "capset", errno);
	if (syscall(SYS_capget, &h, d))
		fail(rfd, "capget", errno);
	if (d[0].effective | d[0].permitted | d[0].inheritable | d[1].effective | d[1].permitted | d[1].inheritable)
		fail(rfd, "capabilities left", EPERM);
	for (cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0)
			fail(rfd, "bounding set left", EPERM);
}

static void take_ids(const struct helper_sandbox *sb)
{
	int rfd = sb->report_fd;

	uid_t r, e, s;

	if (geteuid() != 0) {	/* cpuport check as a user: nothing to take, only verify */
		if (getuid() != sb->uid || getgid() != sb->gid || getegid() != sb->gid)
			fail(rfd, "uid", EPERM);
		return;
	}
	if (setgroups(sb->n_groups, sb->groups))
		fail(rfd, "setgroups", errno);
	if (setresgid(sb->gid, sb->gid, sb->gid))
		fail(rfd, "setresgid", errno);
	/* keep the capabilities needed to join the namespaces; dropped right after */
	if (geteuid() == 0 && prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0))
		fail(rfd, "securebits", errno);
	if (setresuid(sb->uid, sb->uid, sb->uid))
		fail(rfd, "setresuid", errno);
	if (getresuid(&r, &e, &s) || r != sb->uid || e != sb->uid || s != sb->uid)
		fail(rfd, "uid", EPERM);
}

static void join_namespaces(const struct helper_sandbox *sb)
{
	int rfd = sb->report_fd;

	for (int i = 0; i < SANDBOX_N_NS; i++) {
		if (sb->ns_fd[i] < 0)
			continue;
		if (setns(sb->ns_fd[i], ns_types[i]))
			fail(rfd, helper_sandbox_ns_names[i], errno);
	}
	/* the task's root, even within our own mount namespace (a chroot) */
	if (sb->root_fd >= 0 && (fchdir(sb->root_fd) || chroot(".")))
		fail(rfd, "root", errno);
	if (chdir("/"))
		fail(rfd, "chdir", errno);
}

static int cmp_int(const void *a, const void *b)
{
	return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Close everything but 0, 1, 2 and @keep (sorted here: the child's own copy). */
static void close_others(int rfd, int *keep, size_t n)
{
	unsigned int from = 3;

	qsort(keep, n, sizeof(*keep), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 3 || (unsigned int)keep[i] < from)
			continue;
		if ((unsigned int)keep[i] > from && syscall(SYS_close_range, from, keep[i] - 1, 0))
			fail(rfd, "close_range", errno);
		if (fcntl(keep[i], F_SETFD, 0))
			fail(rfd, "kept fd", errno);
		from = keep[i] + 1;
	}
	if (syscall(SYS_close_range, from, ~0U, 0))
		fail(rfd, "close_range", errno);
}

static __attribute__((noreturn)) void mirror_exit(pid_t child)
{
	int status;

	if (syscall(SYS_close_range, 0, ~0U, 0))
		_exit(126);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(126);
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		kill(getpid(), WTERMSIG(status));
		kill(getpid(), SIGKILL);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 126);
}

void helper_sandbox_exec(const struct helper_sandbox *sb, int exec_fd, char *const argv[], char *const envp[],
			 const int *keep, size_t n_keep)
{
	int kept[n_keep + 1];
	int max_fd = 2, rfd = sb->report_fd;
	pid_t child;

	for (size_t i = 0; i < n_keep; i++) {
		kept[i] = keep[i];
		max_fd = keep[i] > max_fd ? keep[i] : max_fd;
	}
	kept[n_keep] = exec_fd;
	max_fd = exec_fd > max_fd ? exec_fd : max_fd;
	if (setpgid(0, 0))
		fail(rfd, "setpgid", errno);
	if (dup2(sb->null_fd, 2) < 0)
		fail(rfd, "stderr", errno);
	for (size_t i = 0; i < sb->n_cgroups; i++)
		if (write(sb->cgroup_fd[i], "0\n", 2) != 2)
			fail(rfd, "cgroup", errno);
	take_ids(sb);
	join_namespaces(sb);
	drop_capabilities(rfd);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		fail(rfd, "no_new_privs", errno);
	/* the uid change cleared it; and the parent may be gone already */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		fail(rfd, "pdeathsig", errno);
	if (getppid() != sb->parent)
		_exit(126);
	set_limit(rfd, RLIMIT_AS, sb->as_bytes, "RLIMIT_AS");
	set_limit(rfd, RLIMIT_CPU, sb->cpu_s, "RLIMIT_CPU");
	set_limit(rfd, RLIMIT_CORE, 0, "RLIMIT_CORE");
	set_limit(rfd, RLIMIT_NOFILE, (uint64_t)max_fd + 64, "RLIMIT_NOFILE");
	if (sb->ns_fd[2] >= 0) {
		/* setns(CLONE_NEWPID) moves our children only */
		child = fork();
		if (child < 0)
			fail(rfd, "fork into the pid namespace", errno);
		if (child > 0)
			mirror_exit(child);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
			fail(rfd, "pdeathsig", errno);
	}
	/* no fork, no thread for a uid that is not root here (root: seccomp in the helper) */
	set_limit(rfd, RLIMIT_NPROC, 0, "RLIMIT_NPROC");
	close_others(rfd, kept, n_keep + 1);
	syscall(SYS_execveat, exec_fd, "", argv, envp, AT_EMPTY_PATH);
	fail(rfd, "exec", errno);
}

void helper_sandbox_kill(pid_t child)
{
	if (child <= 0)
		return;
	kill(-child, SIGKILL);	/* its process group: the helper and whatever it started */
	kill(child, SIGKILL);
}
