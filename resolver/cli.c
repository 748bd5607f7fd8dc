// SPDX-License-Identifier: LGPL-2.1-or-later
/* cpuport: the command-line tool, a thin adapter over the resolver library. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpuport.h"

#ifndef CPUPORT_VERSION
#define CPUPORT_VERSION "0.1"
#endif

/* What the command line asked for: no mutable globals. */
struct cli {
	bool json;
	bool verbose;
	const char *output;	/* scan -o FILE */
	char helper[4096];	/* the helper next to us, when run from the build tree */
};

static const char usage[] =
	"Usage: cpuport [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Make process checkpoints portable between x86-64 CPUs (CRIU plugin companion).\n"
	"\n"
	"Commands:\n"
	"  cpu                 describe this CPU (and --target): vendor, model, x86-64 level, features\n"
	"  scan PID            print the resolved callsite table of a running process (read-only)\n"
	"  show DIR|FILE       decode the cpuport images of a CRIU checkpoint directory\n"
	"  check DIR|FILE      predict, slot by slot, whether the checkpoint can run on the target CPU\n"
	"  repatch PID FILE    re-select and re-patch a stopped process from its image (for criu restore -s\n"
	"                      or action scripts): the process must be stopped and is left stopped\n"
	"  targets             list named CPU models accepted by --target\n"
	"\n"
	"Options:\n"
	"  -t, --target T      destination CPU: host (default), x86-64-v1..v4, a model name, or a\n"
	"                      libcpuid raw CPUID dump file (default: $CPUPORT_TARGET)\n"
	"  -j, --json          JSON instead of tables\n"
	"  -o, --output FILE   scan: also write the table as a cpuport image to FILE\n"
	"  -r, --root DIR      check: the checkpoint's files are under DIR (a container's rootfs)\n"
	"  -v, --verbose       print debug messages\n"
	"      --helper PATH   the cpuport-select helper (default: the installed one)\n"
	"  -h, --help          this text\n"
	"  -V, --version       print the version\n"
	"\n"
	"Exit status: 0 success; 1 error; 2 usage; 3 check: the restore would be refused.\n";

static void print_stderr(enum cpuport_log_level level, const char *msg, void *arg)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	const struct cli *cli = arg;

	if (level == CPUPORT_LOG_DEBUG && !cli->verbose)
		return;
	fprintf(stderr, "cpuport: %s: %s", names[level], msg);
}

/* Run from the build tree, the helper sits next to us; installed, the library knows where. */
static const char *sibling_helper(char *path, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", path, len - 32);
	char *slash;

	if (n <= 0)
		return NULL;
	path[n] = 0;
	slash = strrchr(path, '/');
	if (!slash)
		return NULL;
	strcpy(slash + 1, "cpuport-select");
	return access(path, X_OK) ? NULL : path;
}

static int load_file(struct cpuport_ctx *ctx, const char *path, struct cpuport_table **t)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "cpuport: %s: %s\n", path, strerror(-ret));
		return ret;
	}
	ret = cpuport_table__read_fd(ctx, fd, t);
	close(fd);
	if (ret)
		fprintf(stderr, "cpuport: %s: not a valid cpuport image: %s\n", path, strerror(-ret));
	return ret;
}

typedef int (*image_fn)(struct cpuport_ctx *ctx, struct cpuport_table *t, const char *path, bool json);

/* Run @fn on FILE, or on every cpuport-*.img in DIR. */
static int for_each_image(struct cpuport_ctx *ctx, const char *arg, bool json, image_fn fn)
{
	struct dirent **names;
	struct stat st;
	int n, ret = 0, found = 0;

	if (stat(arg, &st)) {
		ret = -errno;
		fprintf(stderr, "cpuport: %s: %s\n", arg, strerror(-ret));
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		struct cpuport_table *t;

		ret = load_file(ctx, arg, &t);
		if (!ret)
			ret = fn(ctx, t, arg, json);
		cpuport_table__free(t);
		return ret;
	}
	n = scandir(arg, &names, NULL, versionsort);
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct cpuport_table *t = NULL;
		int r;

		if (cpuport_image_name_parse(names[i]->d_name, NULL)) {
			snprintf(path, sizeof(path), "%s/%s", arg, names[i]->d_name);
			r = load_file(ctx, path, &t);
			if (json && found++)
				printf(",");
			else if (!json && found++)
				printf("\n");
			if (!r)
				r = fn(ctx, t, path, json);
			ret = ret ?: r;
			cpuport_table__free(t);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	if (!found) {
		fprintf(stderr, "cpuport: %s holds no cpuport images: was it dumped with the cpuport plugin?\n", arg);
		return -ENOENT;
	}
	return ret;
}

static int show_one(struct cpuport_ctx *ctx, struct cpuport_table *t, const char *path, bool json)
{
	(void)ctx;
	if (!json)
		printf("== %s\n", path);
	return cpuport_table__print(t, stdout, json);
}

static int check_one(struct cpuport_ctx *ctx, struct cpuport_table *t, const char *path, bool json)
{
	if (!json)
		printf("== %s\n", path);
	return cpuport_check(ctx, t, stdout, json);
}

static pid_t parse_pid(const char *cmd, const char *s)
{
	char *end;
	long pid = strtol(s, &end, 10);

	if (*end || pid <= 0 || pid > 0x7fffffff) {
		fprintf(stderr, "cpuport: %s: '%s' is not a pid\n", cmd, s);
		return -1;
	}
	return pid;
}

static int save(const struct cpuport_table *t, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), ret;

	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "cpuport: %s: %s\n", path, strerror(-ret));
		return ret;
	}
	ret = cpuport_table__write_fd(t, fd);
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		fprintf(stderr, "cpuport: %s: %s\n", path, strerror(-ret));
	return ret;
}

static int cmd_scan(struct cpuport_ctx *ctx, const char *pid_s, const struct cli *cli)
{
	struct cpuport_table *t;
	pid_t pid = parse_pid("scan", pid_s);
	int ret;

	if (pid < 0)
		return -EINVAL;
	ret = cpuport_scan(ctx, pid, &t);
	if (ret)
		return ret;
	ret = cli->output ? save(t, cli->output) : 0;
	ret = ret ?: cpuport_table__print(t, stdout, cli->json);
	cpuport_table__free(t);
	return ret;
}

/* A stopped process: 'T' (stopped) or 't' (tracing stop) in /proc/PID/stat. */
static bool is_stopped(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (f && fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = 0;
	if (f)
		fclose(f);
	return state == 'T' || state == 't';
}

static int cmd_repatch(struct cpuport_ctx *ctx, const char *pid_s, const char *file)
{
	CPUPORT_OPTS(cpuport_restore_stats, st);
	struct cpuport_table *t = NULL;
	pid_t pid = parse_pid("repatch", pid_s);
	int ret;

	if (pid < 0)
		return -EINVAL;
	if (!is_stopped(pid)) {
		fprintf(stderr, "cpuport: repatch: process %d is not stopped (use criu restore -s, or SIGSTOP)\n", pid);
		return -EBUSY;
	}
	ret = load_file(ctx, file, &t);
	ret = ret ?: cpuport_restore(ctx, pid, t, &st);
	cpuport_table__free(t);
	if (ret) {
		fprintf(stderr, "cpuport: repatch of %d failed; the process is left stopped: do not resume it\n", pid);
		return ret;
	}
	printf("pid %d: re-patched %u slots (%u unchanged, %u lazy), %u cached states, %u copied pointers in %.2f ms\n",
	       pid, st.patched, st.unchanged, st.unbound, st.states, st.pointers, st.total_ns / 1e6);
	return 0;
}

static int run(struct cpuport_ctx *ctx, const char *cmd, char **args, int nargs, const struct cli *cli)
{
	bool json = cli->json;

	if (!strcmp(cmd, "cpu"))
		return cpuport_cpu_print(ctx, stdout, json);
	if (!strcmp(cmd, "scan") && nargs == 1)
		return cmd_scan(ctx, args[0], cli);
	if (!strcmp(cmd, "show") && nargs == 1) {
		int ret;

		if (json)
			printf("[");
		ret = for_each_image(ctx, args[0], json, show_one);
		if (json)
			printf("]\n");
		return ret;
	}
	if (!strcmp(cmd, "repatch") && nargs == 2)
		return cmd_repatch(ctx, args[0], args[1]);
	if (!strcmp(cmd, "check") && nargs == 1)
		return for_each_image(ctx, args[0], json, check_one);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' }, { "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' }, { "root", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },	    { "helper", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },	    { "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *target = getenv("CPUPORT_TARGET"), *helper = getenv("CPUPORT_HELPER"), *root = NULL;
	struct cpuport_ctx *ctx;
	struct cli cli = { 0 };
	int c, ret;

	while ((c = getopt_long(argc, argv, "t:jo:r:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 't': target = optarg; break;
		case 'j': cli.json = true; break;
		case 'o': cli.output = optarg; break;
		case 'r': root = optarg; break;
		case 'v': cli.verbose = true; break;
		case 'H': helper = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': printf("cpuport %s\n", CPUPORT_VERSION); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (!helper)
		helper = sibling_helper(cli.helper, sizeof(cli.helper));
	if (!strcmp(argv[optind], "targets")) {
		for (const char *const *t = cpuport_targets(); *t; t++)
			printf("%s\n", *t);
		return 0;
	}
	const char *unmask = getenv("CPUPORT_UNMASK");

	CPUPORT_OPTS(cpuport_ctx_opts, o, .print = print_stderr, .print_arg = &cli, .target = target,
		     .helper_path = helper, .root = root, .faults = getenv("CPUPORT_FAULT"),
		     .unmask = unmask && (!strcmp(unmask, "1") || !strcasecmp(unmask, "yes")));
	ctx = cpuport_ctx__new(&o);
	if (!ctx) {
		fprintf(stderr, "cpuport: %s\n", strerror(errno));
		return 1;
	}
	ret = run(ctx, argv[optind], argv + optind + 1, argc - optind - 1, &cli);
	cpuport_ctx__free(ctx);
	if (ret == -EINVAL && strcmp(argv[optind], "scan") && strcmp(argv[optind], "repatch")) {
		fputs(usage, stderr);
		return 2;
	}
	return ret == -EDEADLK ? 3 : ret ? 1 : 0;
}
