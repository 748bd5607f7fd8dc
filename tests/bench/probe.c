// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cpuport benchmark probe: what the plugin's restore hook does, outside CRIU,
 * on a process that `criu restore -s` left stopped (restored, no user
 * instruction run yet), with the time split and the peak memory of the
 * library's work and of the selection helper.
 *
 *   probe restore IMGDIR PID
 *   probe scan PID N
 *   probe init N
 *
 * Prints one JSON object:
 *   image_ns     reading and decoding cpuport-<nspid>.img
 *   total_ns, select_ns, scan_ns, patch_ns   struct cpuport_restore_stats
 *   self_rss_before_kb, self_maxrss_kb       this process around the work
 *   helper_maxrss_kb   peak RSS of cpuport-select (the only child we reap)
 * The helper comes from $CPUPORT_HELPER, the target from $CPUPORT_TARGET.
 *
 * "scan" runs cpuport_scan() (the plugin's dump work) N times on a live
 * process and prints one JSON object per run: relocs, objects, wall_ns, and
 * cpu_ns (this thread's CPU time, user + system: the same on a busy machine).
 *
 * "init" times cpuport_ctx__new() (CPU identification, what the plugin's init
 * does once per dump or restore) N times: one JSON object per run (init_ns).
 * (Loading the plugin is timed by `tcmd --dlopen`, in a process that has not
 * mapped the plugin's libraries yet.)
 *
 * Exit status 0 only if everything succeeded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cpuport.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void print_stderr(enum cpuport_log_level level, const char *msg, void *arg)
{
	(void)arg;
	if (level <= CPUPORT_LOG_WARN)
		fprintf(stderr, "probe: %s", msg);
}


static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int scan(struct cpuport_ctx *ctx, pid_t pid, int n)
{
	for (int i = 0; i < n; i++) {
		CPUPORT_OPTS(cpuport_table_stats, st);
		struct cpuport_table *t = NULL;
		uint64_t w0 = now_ns(), c0 = cpu_ns(), w, c;
		int ret = cpuport_scan(ctx, pid, &t);

		w = now_ns() - w0;
		c = cpu_ns() - c0;
		if (ret) {
			fprintf(stderr, "probe: cpuport_scan(%d): %s\n", pid, strerror(-ret));
			return 1;
		}
		cpuport_table__stats(t, &st);
		printf("{\"relocs\":%u,\"objects\":%u,\"slots\":%u,\"wall_ns\":%llu,\"cpu_ns\":%llu}\n", st.relocs,
		       st.objects, st.slots, (unsigned long long)w, (unsigned long long)c);
		cpuport_table__free(t);
	}
	return 0;
}

static int init(int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t t0 = now_ns(), t1;
		struct cpuport_ctx *ctx = cpuport_ctx__new(NULL);

		t1 = now_ns();
		if (!ctx) {
			perror("probe: cpuport_ctx__new");
			return 1;
		}
		cpuport_ctx__free(ctx);
		printf("{\"init_ns\":%llu}\n", (unsigned long long)(t1 - t0));
	}
	return 0;
}

int main(int argc, char **argv)
{
	CPUPORT_OPTS(cpuport_restore_stats, st);
	struct cpuport_table *t = NULL;
	struct rusage self, kids;
	char img[4096];
	uint64_t t0, image_ns;
	long before;
	pid_t pid;
	int fd, ret;

	if (argc == 3 && !strcmp(argv[1], "init"))
		return init(atoi(argv[2]));
	if (argc != 4 || (strcmp(argv[1], "restore") && strcmp(argv[1], "scan"))) {
		fprintf(stderr, "usage: probe restore IMGDIR PID | probe scan PID N | probe init N\n");
		return 2;
	}
	CPUPORT_OPTS(cpuport_ctx_opts, o, .print = print_stderr, .helper_path = getenv("CPUPORT_HELPER"),
		     .target = getenv("CPUPORT_TARGET"), .unmask = getenv("CPUPORT_UNMASK") != NULL);
	struct cpuport_ctx *ctx = cpuport_ctx__new(&o);

	if (!ctx) {
		perror("probe: cpuport_ctx__new");
		return 1;
	}
	if (!strcmp(argv[1], "scan"))
		return scan(ctx, atoi(argv[2]), atoi(argv[3]));
	pid = atoi(argv[3]);
	before = rss_kb();
	t0 = now_ns();
	snprintf(img, sizeof(img), "%s/cpuport-%d.img", argv[2], cpuport_image_key(pid));
	fd = open(img, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "probe: %s: %s\n", img, strerror(errno));
		return 1;
	}
	ret = cpuport_table__read_fd(ctx, fd, &t);
	close(fd);
	image_ns = now_ns() - t0;
	if (ret) {
		fprintf(stderr, "probe: %s: %s\n", img, strerror(-ret));
		return 1;
	}
	ret = cpuport_restore(ctx, pid, t, &st);
	cpuport_table__free(t);
	cpuport_ctx__free(ctx);
	if (ret) {
		fprintf(stderr, "probe: cpuport_restore(%d): %s\n", pid, strerror(-ret));
		return 1;
	}
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	printf("{\"image_ns\":%llu,\"total_ns\":%llu,\"select_ns\":%llu,\"scan_ns\":%llu,\"patch_ns\":%llu,"
	       "\"patched\":%u,\"unchanged\":%u,\"states\":%u,\"pointers\":%u,"
	       "\"self_rss_before_kb\":%ld,\"self_maxrss_kb\":%ld,\"helper_maxrss_kb\":%ld}\n",
	       (unsigned long long)image_ns, (unsigned long long)st.total_ns, (unsigned long long)st.select_ns,
	       (unsigned long long)st.scan_ns, (unsigned long long)st.patch_ns, st.patched, st.unchanged,
	       st.states, st.pointers, before, self.ru_maxrss, kids.ru_maxrss);
	return 0;
}
