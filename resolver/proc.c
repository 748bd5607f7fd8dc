// SPDX-License-Identifier: LGPL-2.1-or-later
/* A process seen through /proc: mappings, memory, threads, ids. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static char *read_file(const char *path, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0 || !buf)
		goto err;
	while ((r = read(fd, buf + n, cap - n - 1)) > 0) {
		n += r;
		if (cap - n < 4096) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				goto err;
			buf = nb;
			cap *= 2;
		}
	}
	if (r < 0)
		goto err;
	buf[n] = 0;
	close(fd);
	if (len)
		*len = n;
	return buf;
err:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static int parse_maps(struct proc *p)
{
	char path[64], *line, *save = NULL;
	size_t cap = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	p->maps_text = read_file(path, NULL);
	if (!p->maps_text)
		return -errno ?: -EIO;
	for (line = strtok_r(p->maps_text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct proc_map m = { 0 };
		unsigned int maj, min;
		unsigned long ino;
		int pos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %lu %n", &m.start, &m.end, m.perms,
			   &m.off, &maj, &min, &ino, &pos) < 7)
			continue;
		m.dev = (uint64_t)maj << 32 | min;
		m.ino = ino;
		m.path = pos && line[pos] ? line + pos : NULL;
		if (p->n_maps == cap) {
			struct proc_map *nm = realloc(p->maps, (cap = cap ? cap * 2 : 64) * sizeof(*nm));

			if (!nm)
				return -ENOMEM;
			p->maps = nm;
		}
		p->maps[p->n_maps++] = m;
	}
	return 0;
}

int proc_open(struct proc *p, pid_t pid, bool writable)
{
	char path[64];
	int ret;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	p->mem_fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (p->mem_fd < 0)
		return -errno;
	ret = parse_maps(p);
	if (ret)
		proc_close(p);
	return ret;
}

void proc_close(struct proc *p)
{
	if (p->mem_fd > 0)
		close(p->mem_fd);
	free(p->maps);
	free(p->maps_text);
	memset(p, 0, sizeof(*p));
	p->mem_fd = -1;
}

int proc_read(const struct proc *p, uint64_t addr, void *buf, size_t len)
{
	ssize_t r = pread(p->mem_fd, buf, len, (off_t)addr);

	if (r < 0)
		return -errno;
	return (size_t)r == len ? 0 : -EIO;
}

/* /proc/PID/mem writes go through FOLL_FORCE: they work on read-only (RELRO) pages. */
int proc_write(const struct proc *p, uint64_t addr, const void *buf, size_t len)
{
	ssize_t r = pwrite(p->mem_fd, buf, len, (off_t)addr);

	if (r < 0)
		return -errno;
	return (size_t)r == len ? 0 : -EIO;
}

void proc_map_file_path(const struct proc *p, const struct proc_map *m, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, p->pid, m->start, m->end);
}

int proc_nspid(pid_t pid, pid_t *nspid, uid_t *uid, gid_t *gid)
{
	char path[64], *buf, *line;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	buf = read_file(path, NULL);
	if (!buf)
		return -errno ?: -ESRCH;
	*nspid = pid;
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, "NSpid:", 6)) {
			/* last column: the pid in the innermost namespace */
			char *end = strchr(line, '\n'), *last = line + 6;

			for (char *q = line + 6; q < (end ? end : q + strlen(q)); q++)
				if (*q == '\t' || *q == ' ')
					last = q + 1;
			*nspid = atoi(last);
			ret = 0;
		} else if (uid && !strncmp(line, "Uid:", 4)) {
			*uid = strtoul(line + 4, NULL, 10);
		} else if (gid && !strncmp(line, "Gid:", 4)) {
			*gid = strtoul(line + 4, NULL, 10);
		}
	}
	free(buf);
	return ret;
}

/* The value of @name in the process's initial environment (/proc/PID/environ). */
int proc_env(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64], *env;
	size_t n, klen = strlen(name);
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	env = read_file(path, &n);
	if (!env)
		return -errno ?: -EIO;
	for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
		if (strncmp(env + i, name, klen) || env[i + klen] != '=')
			continue;
		if (strlen(env + i + klen + 1) >= len) {
			ret = -E2BIG;
			break;
		}
		snprintf(buf, len, "%s", env + i + klen + 1);
		ret = 0;	/* glibc reads the first one */
		break;
	}
	free(env);
	return ret;
}

int proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64], *s;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	s = read_file(path, NULL);
	if (!s)
		return -errno;
	s[strcspn(s, "\n")] = 0;
	snprintf(buf, len, "%s", s);
	free(s);
	return 0;
}

/*
 * /proc/PID/task/TID/syscall of a stopped thread: "nr args... sp pc", or
 * "-1 sp pc" when it is not in a syscall, or "running".
 */
static int thread_regs(pid_t pid, pid_t tid, bool *running, uint64_t *pc, uint64_t *sp)
{
	char path[96], *s, *tok, *save = NULL;
	uint64_t v[9];
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	s = read_file(path, NULL);
	if (!s)
		return -errno;
	*running = !strncmp(s, "running", 7);
	for (tok = strtok_r(s, " \n", &save); tok && n < 9; tok = strtok_r(NULL, " \n", &save))
		v[n++] = strtoull(tok, NULL, 0);
	free(s);
	if (*running || n < 3) {
		*running = true;
		*pc = *sp = 0;
		return 0;
	}
	*sp = v[n - 2];
	*pc = v[n - 1];
	return 0;
}

int proc_for_each_thread(pid_t pid, proc_thread_fn fn, void *arg)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while (!ret && (de = readdir(d))) {
		pid_t tid = atoi(de->d_name);
		uint64_t pc = 0, sp = 0;
		bool running = true;

		if (tid <= 0 || thread_regs(pid, tid, &running, &pc, &sp))
			continue;
		ret = fn(tid, running, pc, sp, arg);
	}
	closedir(d);
	return ret;
}
