// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The cpuport CRIU plugin: hooks only.  At dump (CHECKPOINT_DEVICES, every
 * thread stopped) it scans each process into cpuport-<id>.img; at restore
 * (RESUME_DEVICES_LATE, memory restored, no user instruction run yet) it
 * re-patches the process for this CPU, or kills it: that hook's return
 * value cannot fail a restore, so failing closed is the plugin's job.
 *
 * Hooks return -ENOTSUP after their work so plugins behind us still run.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criu-plugin.h>

#include "cpuport.h"
#include "images.h"
#include "log.h"
#include "settings.h"
#include "sites_jobs.h"

/* Exported by the criu binary, declared in CRIU's uninstalled image.h. */
extern int add_inventory_plugin(const char *name);
extern bool check_and_remove_inventory_plugin(const char *name, size_t n);

#define PLUGIN_NAME "cpuport"

/* One context per CRIU stage, freed in fini (the only mutable state). */
static struct cpuport_ctx *ctx;
static bool disabled;
static int images_expected, images_handled;	/* restore: did every process reach our hook? */
static int sites_timeout_ms;	/* how long fini(DUMP) waits for the sites workers: CPUPORT_TIMEOUT_MS */

static void print_criu(enum cpuport_log_level level, const char *msg, void *arg)
{
	(void)arg;
	switch (level) {
	case CPUPORT_LOG_ERROR: pr_err("%s", msg); break;
	case CPUPORT_LOG_WARN: pr_warn("%s", msg); break;
	case CPUPORT_LOG_INFO: pr_info("%s", msg); break;
	default: pr_debug("%s", msg); break;
	}
}

/*
 * CRIU calls a hook on each plugin in plugin-directory order (readdir) and
 * stops at the first that returns anything but -ENOTSUP.  CRIU's cuda
 * plugin returns 0 for processes without CUDA state on GPU hosts, which
 * hides our hooks when it comes first.  Name the plugins listed before us.
 */
static bool plugin_dir(char *dir)
{
	Dl_info info;

	if (!dladdr((void *)&CR_PLUGIN_DESC, &info) || !info.dli_fname || !realpath(info.dli_fname, dir))
		return false;
	*strrchr(dir, '/') = 0;
	return true;
}

/*
 * The plugins listed before us in @dir (", "-separated in @names); with
 * @restore_hook, only those CRIU loaded that define RESUME_DEVICES_LATE, the
 * hook they can hide from us.  Returns how many.
 */
static int plugins_before(const char *dir, bool restore_hook, char *names, size_t len)
{
	struct dirent *de;
	size_t pos = 0;
	int n = 0;
	DIR *d;

	names[0] = 0;
	d = opendir(dir);
	while (d && (de = readdir(d)) && strcmp(de->d_name, "cpuport_plugin.so")) {
		size_t l = strlen(de->d_name);

		if (l <= 3 || strcmp(de->d_name + l - 3, ".so"))
			continue;
		if (restore_hook) {
			char path[PATH_MAX + 256];
			const cr_plugin_desc_t *desc;
			void *h;

			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			h = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);	/* only one criu loaded */
			desc = h ? dlsym(h, "CR_PLUGIN_DESC") : NULL;
			if (!desc || desc->max_hooks <= CR_PLUGIN_HOOK__RESUME_DEVICES_LATE ||
			    !desc->hooks[CR_PLUGIN_HOOK__RESUME_DEVICES_LATE]) {
				if (h)
					dlclose(h);
				continue;
			}
			dlclose(h);
		}
		n++;
		if (pos + l + 3 < len)
			pos += snprintf(names + pos, len - pos, "%s%s", pos ? ", " : "", de->d_name);
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * CRIU calls a hook on each plugin in plugin-directory order (readdir) and
 * stops at the first that returns anything but -ENOTSUP.  CRIU's cuda
 * plugin returns 0 for processes without CUDA state on GPU hosts, which
 * hides our hooks when it comes first.  Name the plugins listed before us.
 */
static void warn_other_plugins(void)
{
	char dir[PATH_MAX], others[512];

	if (plugin_dir(dir) && plugins_before(dir, false, others, sizeof(others)))
		pr_warn("plugins listed before cpuport in %s (%s) are called first; one that returns 0 for every "
			"process (CRIU's cuda_plugin on GPU hosts) hides cpuport's hooks: cpuport then refuses the "
			"restore. List cpuport_plugin.so first (ls -f %s) or keep it in its own --libdir\n", dir,
			others, dir);
}

/*
 * At restore a plugin listed before us with a RESUME_DEVICES_LATE hook may
 * take that hook for every process (returning 0), and our only later chance,
 * fini, comes after the processes resumed.  Refuse now, before any process
 * is restored.
 */
static int refuse_hidden_restore_hook(void)
{
	char dir[PATH_MAX], others[512];

	if (!plugin_dir(dir) || !plugins_before(dir, true, others, sizeof(others)))
		return 0;
	pr_err("plugins listed before cpuport in %s (%s) have a restore hook that CRIU calls first: one that "
	       "returns 0 (CRIU's cuda_plugin does, for processes without CUDA) would make the processes resume "
	       "without re-selection, which cpuport could only report after they ran. Refusing the restore: list "
	       "cpuport_plugin.so first (ls -f %s) or restore with cpuport in its own --libdir\n", dir, others, dir);
	return -1;
}

static int cpuport_plugin_init(int stage)
{
	const char *helper;
	struct settings s;

	settings_load(&s);
	disabled = s.disabled || stage == CR_PLUGIN_STAGE__PRE_DUMP;
	sites_timeout_ms = s.timeout_ms ? (int)s.timeout_ms : 10000;
	/*
	 * Always claim our inventory entry at restore, also when disabled on
	 * purpose: "disable" means "restore without re-patching", not "fail".
	 * No entry means the image was not dumped with cpuport: nothing to do.
	 */
	if (stage == CR_PLUGIN_STAGE__RESTORE && s.disabled) {
		check_and_remove_inventory_plugin(PLUGIN_NAME, sizeof(PLUGIN_NAME) - 1);
		pr_warn("disabled by configuration: restoring without re-selecting CPU-specific code\n");
	} else if (stage == CR_PLUGIN_STAGE__RESTORE) {
		if (!check_and_remove_inventory_plugin(PLUGIN_NAME, sizeof(PLUGIN_NAME) - 1))
			disabled = true;
		else if ((images_expected = image_count()) < 0) {
			pr_err("cannot read the images directory: %s\n", strerror(-images_expected));
			return -1;
		} else if (!images_expected) {
			pr_err("inventory.img says this checkpoint was made with cpuport, but the images "
			       "directory holds no cpuport image: it is incomplete, or another plugin hid cpuport's "
			       "dump hook (see the dump log); re-dump. A checkpoint from CRIU < 4.0 can be restored "
			       "without cpuport with CPUPORT_DISABLE=1\n");
			return -1;
		}
	}
	if (disabled)
		return 0;
	if (stage == CR_PLUGIN_STAGE__RESTORE && refuse_hidden_restore_hook())
		return -1;
	CPUPORT_OPTS(cpuport_ctx_opts, o, .print = print_criu, .target = s.target[0] ? s.target : NULL,
		     .helper_path = s.helper[0] ? s.helper : NULL, .helper_timeout_ms = s.timeout_ms,
		     .faults = s.faults[0] ? s.faults : NULL, .unmask = s.unmask);
	ctx = cpuport_ctx__new(&o);
	if (!ctx) {
		pr_err("cannot start (target '%s'): %s\n", s.target, strerror(errno));
		return -1;
	}
	helper = cpuport_ctx__helper_path(ctx);
	if (stage == CR_PLUGIN_STAGE__RESTORE && access(helper, X_OK)) {
		/* fail before any process is restored, not one by one */
		pr_err("the selection helper %s is missing or not executable (%s): install cpuport (make install) "
		       "or set CPUPORT_HELPER\n", helper, strerror(errno));
		return -1;
	}
	if (stage != CR_PLUGIN_STAGE__PRE_DUMP)
		warn_other_plugins();
	if (stage == CR_PLUGIN_STAGE__DUMP) {
		/*
		 * Record the requirement up front, not per scanned process: if
		 * another plugin hides our CHECKPOINT_DEVICES hook for a process,
		 * its restore then fails ("no cpuport image") instead of resuming
		 * stale variants.
		 */
		if (add_inventory_plugin(PLUGIN_NAME)) {
			pr_err("cannot record cpuport in inventory.img\n");
			return -1;
		}
	}
	if (stage == CR_PLUGIN_STAGE__RESTORE && s.target[0] && strcmp(s.target, "host"))
		pr_info("re-selecting as on target CPU %s\n", s.target);
	return 0;
}

static void cpuport_plugin_fini(int stage, int ret)
{
	/* not expected any more (refuse_hidden_restore_hook): say so if it happens anyway */
	if (stage == CR_PLUGIN_STAGE__RESTORE && !disabled && !ret && images_handled < images_expected)
		pr_err("%d of %d processes with a cpuport image never reached cpuport's restore hook (another "
		       "plugin hid it) and run without re-selection\n", images_expected - images_handled,
		       images_expected);
	images_expected = images_handled = 0;
	if (stage == CR_PLUGIN_STAGE__DUMP)	/* the tree is still frozen here */
		sites_jobs_finish(!ret, sites_timeout_ms);
	cpuport_ctx__free(ctx);
	ctx = NULL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int cpuport_plugin_checkpoint_devices(int pid)
{
	struct cpuport_table *t = NULL;
	CPUPORT_OPTS(cpuport_table_stats, st);
	uint64_t t0;
	int ret;

	if (disabled)
		return -ENOTSUP;
	ret = cpuport_scan(ctx, pid, &t);
	if (ret) {
		pr_err("pid %d: cannot record its CPU-specific bindings: %s\n", pid, strerror(-ret));
		return -1;
	}
	t0 = mono_ns();
	ret = image_write(t, cpuport_table__nspid(t));
	if (!ret) {
		cpuport_table__stats(t, &st);
		pr_info("pid %d: recorded %u slots (%u bound to variants), %u cached states, %u threads from %u "
			"objects (%u relocations) in %.2f ms (scan %.2f, image %.2f ms)\n", pid, st.slots, st.bound,
			st.states, st.threads, st.objects, st.relocs, (st.scan_ns + mono_ns() - t0) / 1e6,
			st.scan_ns / 1e6, (mono_ns() - t0) / 1e6);
		/*
		 * Where copied pointers may need re-pointing (ptr_sites.c), for
		 * processes with enough memory for it to matter, read once so
		 * that a restore reads only those chunks: by a worker process,
		 * beside CRIU's page dump (sites_jobs.c).
		 */
		sites_jobs_start(ctx, t, pid, sites_timeout_ms);
	}
	cpuport_table__free(t);
	return ret ? -1 : -ENOTSUP;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__CHECKPOINT_DEVICES, cpuport_plugin_checkpoint_devices)

static const char *restore_failure(int ret)
{
	switch (ret) {
	case -EDEADLK: return "it cannot be made safe on this CPU";
	case -ESTALE: return "its files differ from the dump";
	case -EBADMSG: return "its cpuport image does not match its files";
	case -ECHILD: case -ETIMEDOUT: return "the selection helper failed";
	case -EIO: return "writing into the process failed (it may be half-patched)";
	case -ENOMEM: return "out of memory";
	case -EPROTONOSUPPORT: return "its glibc is not one cpuport can refresh";
	default: return "re-patching failed";
	}
}

/*
 * The process must not run code this CPU cannot execute: stop it for good.
 * CRIU still traces every thread here; reap the non-leader threads we kill
 * (__WALL), or a multi-threaded pid-namespace init never exits and CRIU's
 * cleanup, which waits for it without __WALL, hangs.
 */
static void fail_closed(int pid, const char *why)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int st;

	pr_err("pid %d: %s; killing the restored process instead of resuming it unsafely\n", pid, why);
	kill(pid, SIGKILL);
	/*
	 * Every thread, however many, without blocking on any one: an exiting
	 * pid-namespace init waits (zap_pid_ns_processes) until the other
	 * threads are reaped, and waiting for it first would deadlock.
	 */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	for (uint64_t deadline = mono_ns() + 10000000000ull;;) {
		int left = 0, reaped = 0;

		d = opendir(path);
		while (d && (de = readdir(d))) {
			pid_t tid = atoi(de->d_name);

			if (tid <= 0 || tid == pid)
				continue;
			left++;
			if (waitpid(tid, &st, __WALL | WNOHANG) == tid)
				reaped++;
		}
		if (d)
			closedir(d);
		if (!left || (!reaped && mono_ns() > deadline))
			break;
		if (!reaped)
			usleep(1000);
	}
}

int cpuport_plugin_resume_devices_late(int pid)
{
	struct cpuport_table *t = NULL;
	CPUPORT_OPTS(cpuport_restore_stats, st);
	uint64_t t0, image_ns;
	pid_t id;
	int ret;

	if (disabled)
		return -ENOTSUP;
	id = cpuport_image_key(pid);
	images_handled++;
	t0 = mono_ns();
	ret = image_read(ctx, id, &t);
	image_ns = mono_ns() - t0;
	if (ret == -ENOENT) {
		char why[160];

		snprintf(why, sizeof(why), "the checkpoint was made with cpuport but has no cpuport image for this "
			 "process (missing " CPUPORT_IMG_FMT "): re-dump with the plugin", id);
		fail_closed(pid, why);
		return -ENOTSUP;
	}
	if (ret) {
		fail_closed(pid, "its cpuport image is unreadable or corrupt: re-dump with the plugin");
		return -ENOTSUP;
	}
	ret = image_read_sites(t, id);
	if (ret && ret != -ENOENT)
		pr_warn("pid %d: copied-pointer sites ignored (%s): reading all its memory instead\n", pid,
			ret == -EINVAL ? "they do not match its cpuport image" : strerror(-ret));
	ret = cpuport_restore(ctx, pid, t, &st);
	cpuport_table__free(t);
	if (ret) {
		fail_closed(pid, restore_failure(ret));
		return -ENOTSUP;
	}
	pr_info("pid %d: re-patched %u slots (%u unchanged, %u lazy), %u cached states, %u copied pointers in "
		"%.2f ms (image %.2f, helper %.2f%s, pointer scan %.2f, writes %.2f ms)\n", pid, st.patched, st.unchanged,
		st.unbound, st.states, st.pointers, (st.total_ns + image_ns) / 1e6, image_ns / 1e6, st.select_ns / 1e6,
		st.answers_stored ? " stored answers" : "", st.scan_ns / 1e6, st.patch_ns / 1e6);
	return -ENOTSUP;
}
CR_PLUGIN_REGISTER_HOOK(CR_PLUGIN_HOOK__RESUME_DEVICES_LATE, cpuport_plugin_resume_devices_late)

CR_PLUGIN_REGISTER(PLUGIN_NAME, cpuport_plugin_init, cpuport_plugin_fini)
