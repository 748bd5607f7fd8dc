// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Copied-pointer sites (ptr_sites.c, wordscan.c) on a real stopped child:
 * the child plants copies of a few "variant addresses" (values bound to
 * recorded slots) across its heap, on both sides of 64 KiB chunk
 * boundaries, and among words in the same 2 MiB granules.  The sites found
 * must be exactly the words holding a candidate (found here by reading the
 * child word by word), every chunk the restore may skip must hold none, and
 * a sites file that is stale (made for other candidates), corrupt (a
 * flipped byte, truncated, longer) or forged (checksummed, but out of order,
 * misaligned, or outside what was read) must be refused, so the restore
 * scans all memory as without it.  The worker process (sites_worker.c)
 * stores the same file, is never our child, and one that dies or hangs
 * stores nothing.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "unit.h"
#include "internal.h"

#define HEAP (8u << 20)
#define CHUNK 65536u

static pid_t child = -1;
static uint64_t *heap;		/* the same address in the child */
static uint64_t cand[3];
static char dir[64];

static const size_t planted[] = { 0, 1, CHUNK / 8 - 1, CHUNK / 8, 3 * CHUNK / 8 + 5, HEAP / 8 - 1, 777777 };

static struct cpuport_table *table_with(const uint64_t *vals, size_t n)
{
	struct cpuport_table *t = table_new();
	Cpuport__Location *loc;

	assert_non_null(t);
	t->img->slots = arena_alloc(&t->arena, (n + 1) * sizeof(*t->img->slots));
	loc = arena_alloc(&t->arena, sizeof(*loc));
	cpuport__location__init(loc);
	for (size_t i = 0; i < n; i++) {
		Cpuport__Slot *s = arena_alloc(&t->arena, sizeof(*s));

		cpuport__slot__init(s);
		s->bound = true;
		s->value = vals[i];
		s->target = loc;
		t->img->slots[t->img->n_slots++] = s;
	}
	/* one slot without a target, one not bound: never candidates */
	for (int k = 0; k < 2; k++) {
		Cpuport__Slot *s = arena_alloc(&t->arena, sizeof(*s));

		cpuport__slot__init(s);
		s->bound = k;
		s->value = heap[planted[k]] ^ 0x10;
		s->target = k ? NULL : loc;
		t->img->slots = (Cpuport__Slot **)arena_memdup(&t->arena, t->img->slots,
								(t->img->n_slots + 2) * sizeof(*t->img->slots));
		t->img->slots[t->img->n_slots++] = s;
	}
	return t;
}

static int setup(void **state)
{
	int p[2];
	char c;

	(void)state;
	heap = mmap(NULL, HEAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (heap == MAP_FAILED)
		return -1;
	/* three code-like addresses: two in one 2 MiB granule, one far away */
	cand[0] = (uint64_t)(uintptr_t)&setup;
	cand[1] = cand[0] + 0x40;
	cand[2] = (uint64_t)(uintptr_t)&printf;
	for (size_t i = 0; i < HEAP / 8; i++)	/* neighbours: same granules, never equal */
		heap[i] = (i % 3 ? cand[0] + 8 + (i % 4096) * 16 + 1 : 0x1122334455667788ULL * i);
	for (size_t k = 0; k < ARRAY_SIZE(planted); k++)
		heap[planted[k]] = cand[k % 3];
	snprintf(dir, sizeof(dir), "/tmp/cpuport-unit-sites.XXXXXX");
	if (!mkdtemp(dir) || pipe(p))
		return -1;
	child = fork();
	if (child == 0) {
		close(p[0]);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		return -1;
	close(p[0]);
	return kill(child, SIGSTOP);
}

static int teardown(void **state)
{
	int st;

	(void)state;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	free(unit_run(&st, "rm -rf '%s'", dir));
	return 0;
}

static bool is_cand(uint64_t w)
{
	return w == cand[0] || w == cand[1] || w == cand[2];
}

/* the child's words, read here one by one */
static uint64_t child_word(uint64_t addr)
{
	uint64_t w = 0;
	struct iovec l = { &w, 8 }, r = { (void *)(uintptr_t)addr, 8 };

	assert_int_equal(process_vm_readv(child, &l, 1, &r, 1, 0), 8);
	return w;
}

static struct cpuport_sites *scan_child(struct cpuport_table *t)
{
	struct cpuport_sites *s;

	assert_int_equal(cpuport_sites__new(t, &s), 0);
	sites_set_min(s, UINT64_MAX);	/* less memory than that: not worth it */
	assert_int_equal(cpuport_sites__scan(s, child), -ENODATA);
	sites_set_min(s, 0);
	assert_int_equal(cpuport_sites__scan(s, child), 0);
	return s;
}

/* write @s, read it back into a table made for @vals: the return value */
static int round_trip(const struct cpuport_sites *s, const uint64_t *vals, size_t n, void (*mangle)(const char *))
{
	char path[128];
	struct cpuport_table *t = table_with(vals, n);
	int fd, ret;

	snprintf(path, sizeof(path), "%s/sites.img", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(cpuport_sites__write_fd(s, fd), 0);
	close(fd);
	if (mangle)
		mangle(path);
	fd = open(path, O_RDONLY);
	ret = cpuport_table__read_sites_fd(t, fd);
	close(fd);
	assert_true(ret ? !t->sites : t->sites != NULL);
	cpuport_table__free(t);
	return ret;
}

static void sites_are_exactly_the_candidates(void **state)
{
	struct cpuport_table *t = table_with(cand, 3);
	struct cpuport_sites *s = scan_child(t);
	char path[128];
	int fd;

	(void)state;
	/* inside the planted mapping: a site for every planted word and nothing else */
	for (uint64_t a = (uintptr_t)heap; a < (uintptr_t)heap + HEAP; a += CHUNK) {
		bool any = false;

		for (uint64_t w = a; w < a + CHUNK; w += 8)
			any |= is_cand(child_word(w));
		assert_int_equal(sites_skippable(s, a, CHUNK), !any);
	}
	for (size_t k = 0; k < ARRAY_SIZE(planted); k++) {
		uint64_t a = (uintptr_t)&heap[planted[k]];

		assert_false(sites_skippable(s, a & ~7ULL, 8));
	}
	/* what it stored reads back and says the same */
	snprintf(path, sizeof(path), "%s/sites.img", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(cpuport_sites__write_fd(s, fd), 0);
	close(fd);
	fd = open(path, O_RDONLY);
	assert_int_equal(cpuport_table__read_sites_fd(t, fd), 0);
	close(fd);
	for (uint64_t a = (uintptr_t)heap; a < (uintptr_t)heap + HEAP; a += CHUNK)
		assert_int_equal(sites_skippable(t->sites, a, CHUNK), sites_skippable(s, a, CHUNK));
	/* outside anything read at dump: never skippable */
	assert_false(sites_skippable(t->sites, 0x1000, CHUNK));
	cpuport_sites__free(s);
	cpuport_table__free(t);
}

static void flip(const char *path)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	off_t at = lseek(fd, 0, SEEK_END) / 2;

	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 1;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

static void cut(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 8), 0);
}

static void grow(const char *path)
{
	int st;

	free(unit_run(&st, "printf 'xxxxxxxx' >> '%s'", path));
}

static void stale_or_corrupt_sites_refused(void **state)
{
	struct cpuport_table *t = table_with(cand, 3);
	struct cpuport_sites *s = scan_child(t);
	uint64_t other[3] = { cand[0], cand[1], cand[2] + 16 };

	(void)state;
	assert_int_equal(round_trip(s, cand, 3, NULL), 0);
	assert_int_equal(round_trip(s, other, 3, NULL), -EINVAL);	/* made for other candidates */
	assert_int_equal(round_trip(s, cand, 2, NULL), -EINVAL);
	assert_int_equal(round_trip(s, cand, 3, flip), -EINVAL);
	assert_int_equal(round_trip(s, cand, 3, cut), -EINVAL);
	assert_int_equal(round_trip(s, cand, 3, grow), -EINVAL);
	cpuport_sites__free(s);
	cpuport_table__free(t);
}

/* checksummed and for the right candidates, but not what a scan can produce */
static void forged_sites_refused(void **state)
{
	struct cpuport_table *t = table_with(cand, 3);
	struct cpuport_sites *s = scan_child(t);
	const size_t word = sizeof(uint64_t);
	char path[128];
	uint64_t *body;
	size_t n;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/sites.img", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(cpuport_sites__write_fd(s, fd), 0);
	close(fd);
	{
		int st;
		char *txt = unit_run(&st, "stat -c %%s '%s'", path);

		n = (atol(txt) - 40) / word;	/* header: magic + 4 words */
		free(txt);
	}
	body = malloc(n * word);
	for (int how = 0; how < 3; how++) {
		uint64_t hdr[5], sum, *sites;
		size_t n_ranges, n_sites;

		fd = open(path, O_RDONLY);
		assert_int_equal(read(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
		assert_int_equal(read(fd, body, n * word), (ssize_t)(n * word));
		close(fd);
		n_ranges = hdr[2], n_sites = hdr[3];
		assert_true(n_sites >= 2);
		sites = body + 2 * n_ranges;
		if (how == 0) {		/* out of order */
			uint64_t x = sites[0];

			sites[0] = sites[1], sites[1] = x;
		} else if (how == 1) {	/* misaligned */
			sites[0] += 1;
		} else {		/* a site outside every range read */
			sites[0] = 8;
		}
		sum = disk_cache_sum(body, 2 * n_ranges * word) ^ disk_cache_sum(sites, n_sites * word);
		hdr[4] = sum;
		fd = open(path, O_WRONLY | O_TRUNC);
		assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
		assert_int_equal(write(fd, body, n * word), (ssize_t)(n * word));
		close(fd);
		fd = open(path, O_RDONLY);
		assert_int_equal(cpuport_table__read_sites_fd(t, fd), -EINVAL);
		close(fd);
		assert_null(t->sites);
		fd = open(path, O_WRONLY | O_TRUNC);
		assert_int_equal(cpuport_sites__write_fd(s, fd), 0);	/* the genuine one again */
		close(fd);
	}
	free(body);
	cpuport_sites__free(s);
	cpuport_table__free(t);
}

/* the sites file a job's worker wrote, or its wait's error */
static int job_file(struct cpuport_ctx *ctx, const char *path, int timeout_ms, pid_t *worker)
{
	struct cpuport_table *t = table_with(cand, ARRAY_SIZE(cand));
	struct cpuport_sites *s;
	struct cpuport_sites_job *job;
	int fd, ret;

	assert_int_equal(cpuport_sites__new(t, &s), 0);
	sites_set_min(s, UINT64_MAX);	/* less memory than that: no worker */
	assert_int_equal(cpuport_sites__start(ctx, s, child, &job), -ENODATA);
	assert_null(job);
	sites_set_min(s, 0);
	assert_int_equal(cpuport_sites__start(ctx, s, child, &job), 0);
	cpuport_sites__free(s);	/* the worker has its own copy */
	*worker = cpuport_sites_job__pid(job);
	assert_true(*worker > 0);
	ret = cpuport_sites_job__wait(job, timeout_ms);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(cpuport_sites_job__write_fd(job, fd), ret);	/* nothing but after a 0 wait */
	close(fd);
	cpuport_sites_job__free(job);
	/* never our child: CRIU's SIGCHLD handler and wait4(-1) must not see it */
	assert_int_equal(waitpid(*worker, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	cpuport_table__free(t);
	return ret;
}

static int yama_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int v = 0;

	if (f && fscanf(f, "%d", &v) != 1)
		v = 0;
	if (f)
		fclose(f);
	return v;
}

static bool gone_within(pid_t pid, int ms)
{
	char path[64], st[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (int i = 0; i < ms / 10; i++) {
		FILE *f = fopen(path, "re");
		bool dead = !f || !fgets(st, sizeof(st), f) || strstr(st, ") Z ") || strstr(st, ") X ");

		if (f)
			fclose(f);
		if (dead)
			return true;
		usleep(10000);
	}
	return false;
}

/* The worker process (sites_worker.c) stores the very file the scan in this thread does. */
static void worker_writes_the_same_file(void **state)
{
	struct cpuport_table *t = table_with(cand, ARRAY_SIZE(cand));
	struct cpuport_sites *s = scan_child(t);
	char a[128], b[128];
	pid_t w;
	int fd, st;
	char *diff;

	(void)state;
	if (geteuid() && yama_scope() > 0)
		UNIT_SKIP("Yama ptrace_scope > 0: the worker (not the child's parent) may not read the child's memory");
	snprintf(a, sizeof(a), "%s/inline.sites", dir);
	snprintf(b, sizeof(b), "%s/worker.sites", dir);
	fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(cpuport_sites__write_fd(s, fd), 0);
	close(fd);
	assert_int_equal(job_file(NULL, b, 10000, &w), 0);
	diff = unit_run(&st, "cmp '%s' '%s'", a, b);
	assert_int_equal(st, 0);
	free(diff);
	assert_true(gone_within(w, 2000));
	cpuport_sites__free(s);
	cpuport_table__free(t);
}

/* A worker that dies or hangs: an error, never a file (a hang is killed at the deadline). */
static void failed_worker_stores_nothing(void **state)
{
	static const char *const faults[] = { "sites-crash", "sites-hang" };
	char path[128];
	struct stat sb;
	pid_t w;

	(void)state;
	snprintf(path, sizeof(path), "%s/failed.sites", dir);
	for (size_t k = 0; k < ARRAY_SIZE(faults); k++) {
		CPUPORT_OPTS(cpuport_ctx_opts, o, .faults = faults[k]);
		struct cpuport_ctx *ctx = cpuport_ctx__new(&o);
		struct timespec t0, t1;
		int ret;

		assert_non_null(ctx);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = job_file(ctx, path, 300, &w);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_int_equal(ret, k ? -ETIMEDOUT : -ECHILD);
		assert_true(t1.tv_sec - t0.tv_sec < 5);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_size, 0);	/* nothing written */
		assert_true(gone_within(w, 2000));
		cpuport_ctx__free(ctx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sites_are_exactly_the_candidates),
		cmocka_unit_test(stale_or_corrupt_sites_refused),
		cmocka_unit_test(forged_sites_refused),
		cmocka_unit_test(worker_writes_the_same_file),
		cmocka_unit_test(failed_worker_stores_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
