/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the cmocka unit tests (header-only, all static inline).
 * Independent sources (readelf, ld.so, the compiler, /proc) are run through
 * unit_run(); fixture processes are started and stopped with unit_child_*.
 */
#ifndef CPUPORT_UNIT_H
#define CPUPORT_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpuport.h"

/* The whole binary cannot run here: say why (run.sh shows the SKIP line) and exit 77. */
#define UNIT_SKIP_ALL(...)                 \
	do {                               \
		printf("SKIP: ");          \
		printf(__VA_ARGS__);       \
		printf("\n");              \
		fflush(stdout);            \
		exit(77);                  \
	} while (0)

/* One case cannot run here: say why, then cmocka's skip(). */
#define UNIT_SKIP(...)                          \
	do {                                    \
		print_message("skip: ");        \
		print_message(__VA_ARGS__);     \
		print_message("\n");            \
		skip();                         \
	} while (0)

/* The source tree: this binary is <top>/build/unit/<name>. */
static inline const char *unit_top(void)
{
	static char top[4096];

	if (!top[0]) {
		ssize_t n = readlink("/proc/self/exe", top, sizeof(top) - 1);

		if (n <= 0)
			return ".";
		top[n] = 0;
		for (int i = 0; i < 3; i++) {
			char *s = strrchr(top, '/');

			if (!s)
				return ".";
			*s = 0;
		}
	}
	return top;
}

/* Run a shell command; its stdout as a malloc()ed string (NULL if it could not start). */
static inline char *unit_run(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline char *unit_run(int *status, const char *fmt, ...)
{
	char cmd[8192];
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	va_list ap;
	FILE *p;
	size_t r;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (!buf)
		return NULL;
	p = popen(cmd, "r");
	if (!p) {
		free(buf);
		return NULL;
	}
	while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += r;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb) {
				free(buf);
				pclose(p);
				return NULL;
			}
			buf = nb;
		}
	}
	buf[len] = 0;
	st = pclose(p);
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf;
}

/* Is @word one of the space-separated words of @list? */
static inline bool unit_has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\t') && (!p[n] || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

/* Library log messages, kept for assertions. */
struct unit_log {
	char text[16384];
	size_t len;
	int errors;
	bool bad_line;	/* a message that did not end in '\n' */
};

static inline void unit_log_cb(enum cpuport_log_level level, const char *msg, void *arg)
{
	struct unit_log *l = arg;
	size_t n = strlen(msg);

	if (level == CPUPORT_LOG_ERROR)
		l->errors++;
	if (!n || msg[n - 1] != '\n')
		l->bad_line = true;
	if (l->len + n < sizeof(l->text)) {
		memcpy(l->text + l->len, msg, n + 1);
		l->len += n;
	}
}

/* A context for the host whose messages go to @l; NULL on failure. */
static inline struct cpuport_ctx *unit_ctx_logging(struct unit_log *l)
{
	CPUPORT_OPTS(cpuport_ctx_opts, o, .print = unit_log_cb, .print_arg = l);

	return cpuport_ctx__new(&o);
}

static inline void unit_log_reset(struct unit_log *l)
{
	l->text[0] = 0;
	l->len = 0;
	l->errors = 0;
	l->bad_line = false;
}

/* ---- fixture processes ---- */

struct unit_child {
	pid_t pid;
	char dir[64];
	char out[128];		/* the workload's OUT file */
	char bind[160];		/* OUT.bind */
};

static inline uint64_t unit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int unit_count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/*
 * Start @argv[0] with @argv; "@OUT" in argv is replaced by a fresh OUT path.
 * Environment: ours without GLIBC_TUNABLES, plus GLIBC_TUNABLES=@tunables if
 * given.  Output goes to /dev/null.  Returns 0 or -errno.
 */
static inline int unit_child_start(struct unit_child *c, const char *const argv[], const char *tunables)
{
	extern char **environ;
	char *args[16], *envp[512], tun[512];
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	snprintf(c->dir, sizeof(c->dir), "/tmp/cpuport-unit.XXXXXX");
	if (!mkdtemp(c->dir))
		return -errno;
	snprintf(c->out, sizeof(c->out), "%s/out", c->dir);
	snprintf(c->bind, sizeof(c->bind), "%s/out.bind", c->dir);
	for (size_t i = 0; argv[i] && i + 1 < sizeof(args) / sizeof(args[0]); i++)
		args[i] = strcmp(argv[i], "@OUT") ? (char *)argv[i] : c->out, args[i + 1] = NULL;
	for (char **e = environ; *e && n + 2 < sizeof(envp) / sizeof(envp[0]); e++)
		if (strncmp(*e, "GLIBC_TUNABLES=", 15))
			envp[n++] = *e;
	if (tunables) {
		snprintf(tun, sizeof(tun), "GLIBC_TUNABLES=%s", tunables);
		envp[n++] = tun;
	}
	envp[n] = NULL;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execve(args[0], args, envp);
		_exit(127);
	}
	return 0;
}

/* Wait until @path has at least @lines lines (and the child is alive). */
static inline int unit_child_wait_lines(struct unit_child *c, const char *path, int lines, int timeout_ms)
{
	uint64_t end = unit_now_ms() + timeout_ms;

	while (unit_now_ms() < end) {
		int st;

		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = -1;
			return -ECHILD;
		}
		if (unit_count_lines(path) >= lines)
			return 0;
		usleep(20000);
	}
	return -ETIMEDOUT;
}

/* SIGSTOP the child and wait until it is stopped. */
static inline int unit_child_stop(struct unit_child *c)
{
	int st;

	if (kill(c->pid, SIGSTOP))
		return -errno;
	if (waitpid(c->pid, &st, WUNTRACED) != c->pid)
		return -errno;
	return WIFSTOPPED(st) ? 0 : -ECHILD;
}

static inline void unit_child_kill(struct unit_child *c)
{
	DIR *d;
	struct dirent *de;

	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = -1;
	}
	if (!c->dir[0])
		return;
	d = opendir(c->dir);
	while (d && (de = readdir(d))) {
		char p[512];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", c->dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(c->dir);
	c->dir[0] = 0;
}

/* "KIND NAME 0xADDR" in a workload OUT.bind file. */
static inline int unit_bind_addr(const char *path, const char *kind, const char *name, uint64_t *addr)
{
	FILE *f = fopen(path, "r");
	char line[256], k[64], n[64];
	unsigned long long v;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %63s %llx", k, n, &v) == 3 && !strcmp(k, kind) && !strcmp(n, name)) {
			*addr = v;
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

/* How many relocations of @type (e.g. "R_X86_64_IRELATIVE") `readelf -rW` lists for @path. */
static inline long unit_readelf_reloc_count(const char *path, const char *type)
{
	char *out = unit_run(NULL, "readelf -rW '%s' 2>/dev/null", path), *line, *save = NULL;
	long n = 0;

	if (!out)
		return -1;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char off[32], info[32], t[64];

		if (sscanf(line, "%31s %31s %63s", off, info, t) == 3 && !strcmp(t, type))
			n++;
	}
	free(out);
	return n;
}

/* The build-id `readelf -n` prints for @path, lowercase hex ("" if none). */
static inline void unit_readelf_build_id(const char *path, char *hex, size_t len)
{
	char *out = unit_run(NULL, "readelf -n '%s' 2>/dev/null", path), *p;
	size_t n = 0;

	hex[0] = 0;
	if (out && (p = strstr(out, "Build ID: ")))
		for (p += 10; n + 1 < len && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')); p++)
			hex[n++] = *p;
	hex[n] = 0;
	free(out);
}

static inline void unit_hex(const uint8_t *b, size_t n, char *out, size_t len)
{
	out[0] = 0;
	for (size_t i = 0; i < n && 2 * i + 2 < len; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/*
 * A memfd copy of the file @path, changed in memory by @edit(bytes, size, @arg) before it is
 * written; the copy's /proc/self/fd path in @out.  Returns the memfd (the caller closes it).
 */
static inline int unit_edited_copy(const char *path, void (*edit)(uint8_t *p, size_t size, void *arg),
				   void *arg, char *out, size_t len)
{
	int in = open(path, O_RDONLY), fd = memfd_create("edited", 0);
	struct stat st;
	uint8_t *p;

	assert_true(in >= 0);
	assert_true(fd >= 0);
	assert_int_equal(fstat(in, &st), 0);
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, in, 0);
	assert_true(p != MAP_FAILED);
	edit(p, st.st_size, arg);
	assert_int_equal(write(fd, p, st.st_size), st.st_size);
	munmap(p, st.st_size);
	close(in);
	snprintf(out, len, "/proc/self/fd/%d", fd);
	return fd;
}

#ifdef CPUPORT_INTERNAL_H
/* This CPU, and a CPU with every feature (targets come back unclipped from it). */
static inline int unit_cpus(struct cpu_desc *host, struct cpu_desc *all)
{
	if (cpu_desc_host(host))
		return -1;
	cpu_desc_names(host);	/* the names too (read lazily by the library) */
	memset(all, 0, sizeof(*all));
	for (int f = 0; f < F__COUNT; f++)
		featset_set(&all->feat, f);
	all->level = featset_level(&all->feat);
	return 0;
}
#endif

/* [*@lo, *@hi): the extent of symbol @name in @path's .symtab or .dynsym, as readelf gives it */
static inline bool unit_sym_extent(const char *path, const char *name, unsigned long *lo, unsigned long *hi)
{
	int st;
	char *out = unit_run(&st, "readelf -sW '%s' | awk '$8 == \"%s\" {print $2, $3; exit}'", path, name);
	bool ok = out && sscanf(out, "%lx %lu", lo, hi) == 2;

	if (ok)
		*hi += *lo;
	free(out);
	return ok;
}

#endif
