/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cpuport: make process checkpoints portable between x86-64 CPUs.
 *
 * The resolver library knows nothing of CRIU.  It scans a stopped process
 * into a "resolved callsite table" (every slot or cached state that a
 * CPU-dispatching resolver decided), serialises that table, and at restore
 * re-runs the selection for the CPU it runs on and re-patches the process.
 *
 * Conventions (libbpf style): handles are opaque; functions returning int
 * return 0 or a negative errno; functions returning a pointer return NULL
 * and set errno.  The library never prints: it calls the print callback
 * from the context's options.
 */
#ifndef CPUPORT_H
#define CPUPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPUPORT_API __attribute__((visibility("default")))

struct cpuport_ctx;
struct cpuport_table;

enum cpuport_log_level {
	CPUPORT_LOG_ERROR,
	CPUPORT_LOG_WARN,
	CPUPORT_LOG_INFO,
	CPUPORT_LOG_DEBUG,
};

/* Receives one complete message, ending in '\n', already prefixed. */
typedef void (*cpuport_print_fn)(enum cpuport_log_level level, const char *msg, void *arg);

struct cpuport_ctx_opts {
	/* size of this struct, for forward/backward compatibility */
	size_t sz;
	/* where messages go; NULL: nowhere */
	cpuport_print_fn print;
	void *print_arg;
	/*
	 * Destination CPU override (CPUPORT_TARGET): "host" (default),
	 * "x86-64-v1".."x86-64-v4", a CPU model name (see cpuport_targets())
	 * or the path of a libcpuid raw CPUID dump.  Always intersected with
	 * the features of the CPU this runs on.
	 */
	const char *target;
	/* the re-selection helper (cpuport-select); NULL: the installed one */
	const char *helper_path;
	/* kill the helper after this many ms; 0: 10000 */
	unsigned int helper_timeout_ms;
	/*
	 * cpuport_check() only: the directory the checkpoint's files are under
	 * (a container's rootfs); NULL: "/".
	 */
	const char *root;
	/*
	 * Fault injection, for tests only (CPUPORT_FAULT): a comma-separated
	 * list of helper-crash, helper-hang, write, nomem; NULL: none.  Each
	 * proves a failure path fails closed.
	 */
	const char *faults;
	/*
	 * Re-select without the process's own glibc.cpu.hwcaps tunable
	 * (CPUPORT_UNMASK): a process started masked is upgraded.  Default
	 * false: its GLIBC_TUNABLES recorded at dump apply at restore.
	 */
	bool unmask;
	size_t :0;
};
#define cpuport_ctx_opts__last_field unmask

/* Declare an options struct with its size filled in. */
#define CPUPORT_OPTS(TYPE, NAME, ...) \
	struct TYPE NAME = { .sz = sizeof(struct TYPE), __VA_ARGS__ }

/**
 * cpuport_ctx__new() - create a context: logging, target CPU, helper.
 * @opts: optional (NULL for defaults); rejected with -EINVAL if it sets
 *        bytes past the fields this version knows.
 *
 * Identifies the CPU this runs on (and the target, if set) once.
 * Return: a context the caller frees with cpuport_ctx__free(), or NULL
 * with errno set (EINVAL: bad options or unknown target; ENODEV: CPUID
 * could not be decoded).
 */
CPUPORT_API struct cpuport_ctx *cpuport_ctx__new(const struct cpuport_ctx_opts *opts);

/** cpuport_ctx__free() - free a context; NULL is ignored. */
CPUPORT_API void cpuport_ctx__free(struct cpuport_ctx *ctx);

/**
 * cpuport_ctx__helper_path() - the selection helper this context runs: the
 * one its options named, else the installed one (the only place that
 * default is spelled).  Owned by @ctx.
 */
CPUPORT_API const char *cpuport_ctx__helper_path(const struct cpuport_ctx *ctx);

/*
 * Images: one per process in CRIU's images directory, named
 * cpuport-<id>.img, <id> being cpuport_image_key() of the process.
 */
#define CPUPORT_IMG_FMT "cpuport-%d.img"

/**
 * cpuport_image_name() - the file name of process @id's image, in @buf.
 * Return: 0, or -ENAMETOOLONG if @len is too small.
 */
CPUPORT_API int cpuport_image_name(pid_t id, char *buf, size_t len);

/**
 * cpuport_image_name_parse() - is @name a cpuport image's file name?
 * @id: optional; its process key.
 * Return: true or false.
 */
CPUPORT_API bool cpuport_image_name_parse(const char *name, pid_t *id);

/**
 * cpuport_scan() - build the resolved callsite table of a process.
 * @pid: a process whose threads the caller has stopped (CRIU's dump), or a
 *       live one (then threads are reported as running).  Read only: the
 *       process is never written to.
 * @out: on success, a table the caller frees with cpuport_table__free().
 *
 * Return: 0, or a negative errno (-ESRCH: no such process; -EACCES: no
 * permission to read its memory; -EIO: an object could not be read).
 */
CPUPORT_API int cpuport_scan(struct cpuport_ctx *ctx, pid_t pid, struct cpuport_table **out);

/**
 * cpuport_table__encode() - serialise a table as a cpuport image.
 * @buf, @len: on success a malloc()ed buffer the caller frees.
 * Return: 0 or -ENOMEM.
 */
CPUPORT_API int cpuport_table__encode(const struct cpuport_table *table, void **buf, size_t *len);

/**
 * cpuport_table__decode() - parse and validate a cpuport image.
 * @out: on success, a table the caller frees with cpuport_table__free().
 * Return: 0; -EBADMSG if the bytes are not a valid image (truncated,
 * corrupt, inconsistent indexes); -EPROTONOSUPPORT for a newer format.
 */
CPUPORT_API int cpuport_table__decode(struct cpuport_ctx *ctx, const void *buf, size_t len,
				      struct cpuport_table **out);

/**
 * cpuport_table__read_fd() - read a whole cpuport image from @fd and decode it.
 * Return: as cpuport_table__decode(), or -errno from read(); -EFBIG past 256 MiB.
 */
CPUPORT_API int cpuport_table__read_fd(struct cpuport_ctx *ctx, int fd, struct cpuport_table **out);

/**
 * cpuport_table__write_fd() - encode @table and write all of it to @fd.
 * Return: 0, -ENOMEM, or -errno from write().
 */
CPUPORT_API int cpuport_table__write_fd(const struct cpuport_table *table, int fd);

/** cpuport_table__free() - free a table; NULL is ignored. */
CPUPORT_API void cpuport_table__free(struct cpuport_table *table);

/** cpuport_table__pid() - the pid the table was scanned from. */
CPUPORT_API pid_t cpuport_table__pid(const struct cpuport_table *table);

/** cpuport_table__nspid() - the innermost-namespace pid (the image key). */
CPUPORT_API pid_t cpuport_table__nspid(const struct cpuport_table *table);

/* Output structs carry their size too: set sz (CPUPORT_OPTS()), the library fills that much. */
struct cpuport_table_stats {
	size_t sz;
	unsigned int objects;	/* ELF objects mapped */
	unsigned int slots;	/* slots recorded */
	unsigned int bound;	/* of those, bound to a variant */
	unsigned int states;	/* cached CPU-feature states */
	unsigned int threads;
	unsigned int relocs;	/* relocation entries examined */
	uint64_t scan_ns;	/* time the scan took */
};

/**
 * cpuport_image_key() - the key a process's image is stored under: its pid
 * in the innermost pid namespace (the same at dump and at restore, while the
 * pid CRIU's hooks see may differ).  @pid itself if that cannot be read.
 */
CPUPORT_API pid_t cpuport_image_key(pid_t pid);

/*
 * Copied-pointer sites (ptr_sites.c): at dump, the words of a stopped
 * process's private writable memory that hold a value its restore may
 * re-point, so that the restore reads those chunks only.  A hint checked
 * against the image: a sites file that does not match is refused (-EINVAL)
 * and the restore scans all memory, as without one.
 *   cpuport_sites__new(table): what to look for (needs no context)
 *   cpuport_sites__scan(s, pid): look (the process must stay stopped)
 *   cpuport_table__read_sites_fd(table, fd): attach a stored one to a table
 */
struct cpuport_sites;
CPUPORT_API int cpuport_sites__new(const struct cpuport_table *table, struct cpuport_sites **out);
CPUPORT_API int cpuport_sites__scan(struct cpuport_sites *s, pid_t pid);
CPUPORT_API int cpuport_sites__write_fd(const struct cpuport_sites *s, int fd);
CPUPORT_API void cpuport_sites__free(struct cpuport_sites *s);
CPUPORT_API int cpuport_table__read_sites_fd(struct cpuport_table *table, int fd);

/*
 * The same scan in a worker process (sites_worker.c), beside CRIU's own
 * page dump; the process must stay stopped until the job is waited for.
 *   cpuport_sites__start(ctx, s, pid, &job): the maps read now, the memory by
 *     the worker; -ENODATA: too little memory for sites to be worth it
 *   cpuport_sites_job__wait(job, timeout_ms): 0 once a whole sites file is
 *     ready; -ECHILD: the worker died; -ETIMEDOUT: still running, killed;
 *     another -errno: the scan's own failure (-E2BIG: too many sites)
 *   cpuport_sites_job__write_fd(job, fd): that file (only after a 0 wait)
 *   cpuport_sites_job__free(job): kills a worker not waited for
 */
struct cpuport_sites_job;
CPUPORT_API int cpuport_sites__start(struct cpuport_ctx *ctx, struct cpuport_sites *s, pid_t pid,
				     struct cpuport_sites_job **job);
CPUPORT_API int cpuport_sites_job__wait(struct cpuport_sites_job *job, int timeout_ms);
CPUPORT_API pid_t cpuport_sites_job__pid(const struct cpuport_sites_job *job);
CPUPORT_API int cpuport_sites_job__write_fd(const struct cpuport_sites_job *job, int fd);
CPUPORT_API void cpuport_sites_job__free(struct cpuport_sites_job *job);

/**
 * cpuport_table__stats() - counts for summary lines.
 * @stats: its sz set (CPUPORT_OPTS(cpuport_table_stats, st)); filled up to sz.
 * Return: 0, or -EINVAL if @stats->sz is not set.
 */
CPUPORT_API int cpuport_table__stats(const struct cpuport_table *table, struct cpuport_table_stats *stats);

/**
 * cpuport_table__print() - print a table for humans, or as JSON.
 * Return: 0 or a negative errno from writing @f.
 */
CPUPORT_API int cpuport_table__print(const struct cpuport_table *table, FILE *f, bool json);

struct cpuport_restore_stats {
	size_t sz;
	unsigned int patched;	/* slots whose value changed */
	unsigned int unchanged;	/* slots already right for this CPU */
	unsigned int unbound;	/* lazy slots left to bind themselves */
	unsigned int states;	/* cached states refreshed */
	unsigned int pointers;	/* copied function pointers re-pointed */
	unsigned int pointers_ambiguous;
	uint64_t select_ns;	/* running the helper */
	uint64_t patch_ns;	/* writing and verifying */
	uint64_t scan_ns;	/* looking for copied pointers */
	uint64_t total_ns;
	unsigned int answers_stored;	/* 1: the helper did not run, its answers came from the on-disk store */
};

/**
 * cpuport_restore() - re-select and re-patch a restored, stopped process.
 * @pid: the restored process; all its threads stopped, no user instruction
 *       run since the restore (CRIU's RESUME_DEVICES_LATE).
 * @table: its table from the dump.
 * @stats: optional, its sz set (CPUPORT_OPTS(cpuport_restore_stats, st));
 *         filled on success, up to sz.
 *
 * Verifies every recorded object against the process's own files, runs the
 * selection helper for this CPU (or the context's target), refuses when a
 * thread stands in a variant that must change, writes every slot and state
 * through /proc/PID/mem and reads it back.  It never kills the process:
 * the caller must not let it run on after a failure.
 *
 * Return: 0; -ESTALE: an object changed since the dump; -EDEADLK: a thread
 * stands in a variant this CPU cannot keep; -ECHILD: the helper failed;
 * -EIO: a write or its verification failed (the process may be
 * half-patched); -EINVAL: @stats without sz; other negative errno values.
 */
CPUPORT_API int cpuport_restore(struct cpuport_ctx *ctx, pid_t pid, const struct cpuport_table *table,
				struct cpuport_restore_stats *stats);

/**
 * cpuport_check() - predict, without touching any process, what a restore
 * on the context's target CPU would do with @table; prints a report.
 * Return: 0 if the restore would succeed, -EDEADLK if it would refuse,
 * other negative errno on errors.
 */
CPUPORT_API int cpuport_check(struct cpuport_ctx *ctx, const struct cpuport_table *table, FILE *f, bool json);

/**
 * cpuport_cpu_print() - describe the context's host CPU and target.
 * Return: 0 or a negative errno.
 */
CPUPORT_API int cpuport_cpu_print(struct cpuport_ctx *ctx, FILE *f, bool json);

/** cpuport_targets() - NULL-terminated list of named CPU models. */
CPUPORT_API const char *const *cpuport_targets(void);

#ifdef __cplusplus
}
#endif
#endif /* CPUPORT_H */
