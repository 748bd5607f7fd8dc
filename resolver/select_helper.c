// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cpuport-select: re-runs CPU selection on this CPU for the objects of a
 * restored process, and reports object-relative answers.
 *
 * It is started by the resolver (select.c) through the restored process's
 * own dynamic linker, so it runs on the same ld.so and libc build as that
 * process, with privileges dropped to the process's uid/gid and under a
 * time limit.  It depends on libc only, on purpose.
 *
 * Shared objects are dlopen()ed, so their resolvers run relocated, on the
 * cpu_features of this ld.so (masked by GLIBC_TUNABLES for a target).  The
 * executable cannot be dlopen()ed: its PT_LOAD segments are mapped and its
 * resolvers (GCC target_clones, which need only RIP-relative data and a
 * zeroed .bss) are called with every symbolic GOT slot pointing at a guard
 * page, under a SIGSEGV handler.  libgcc models are masked for a target.
 *
 * Protocol: request lines on stdin, answers on ans; see selproto.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <stdbool.h>
#include <inttypes.h>
#include <link.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "helper_seccomp.h"
#include "selproto.h"

#define MAX_OBJS SELP_MAX_OBJS
#define PAGE 4096ULL

/* The answer stream: the fd named by CPUPORT_SELECT_ANSWER_FD; stdout (/dev/null) stays for constructors. */
static FILE *ans;

struct obj {
	bool used, is_exe, mapped;
	uint64_t base, start, end;
	char path[256];
	struct { uint64_t off, vaddr, filesz, memsz; int prot; } segs[SELP_MAX_SEGS];
	int n_segs;
	bool has_model;
	uint64_t model_off, model_size, f2_off, f2_size, init_off;
	bool model_inited;
};

/* grown on demand: a process may map many objects (index < MAX_OBJS) */
static struct obj *objs;
static uint32_t n_objs;

static struct obj *obj_get(uint32_t idx)
{
	if (idx >= MAX_OBJS)
		return NULL;
	if (idx >= n_objs) {
		uint32_t n = idx + 64 < MAX_OBJS ? idx + 64 : MAX_OBJS;
		struct obj *o = realloc(objs, n * sizeof(*o));

		if (!o)
			return NULL;
		memset(o + n_objs, 0, (n - n_objs) * sizeof(*o));
		objs = o;
		n_objs = n;
	}
	return &objs[idx];
}
static uint32_t mask[SELP_MAX_MASK];
static int n_mask;
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_call;

static void on_fault(int sig)
{
	if (in_call)
		siglongjmp(fault_jmp, sig);
	_exit(3);
}

static int obj_at(uint64_t addr, uint64_t *off)
{
	struct link_map *lm;
	Dl_info info;
	void *extra;

	for (uint32_t i = 0; i < n_objs; i++)
		if (objs[i].used && objs[i].is_exe && addr >= objs[i].start && addr < objs[i].end) {
			*off = addr - objs[i].base;
			return i;
		}
	if (!dladdr1((void *)addr, &info, &extra, RTLD_DL_LINKMAP) || !extra)
		return -1;
	lm = extra;
	for (uint32_t i = 0; i < n_objs; i++)
		if (objs[i].used && !objs[i].is_exe && objs[i].mapped && objs[i].base == lm->l_addr) {
			*off = addr - objs[i].base;
			return i;
		}
	return -1;
}

static int load_dso(struct obj *o)
{
	struct link_map *lm;
	void *h = dlopen(o->path, RTLD_NOW | RTLD_LOCAL);

	if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm)) {
		selp_put_error(ans, "dlopen %s: %s", o->path, dlerror());
		return -1;
	}
	o->base = lm->l_addr;
	o->mapped = true;
	return 0;
}

static int find_rtld(struct obj *o)
{
	void *sym = dlsym(RTLD_DEFAULT, "_dl_x86_get_cpu_features");
	struct link_map *lm = NULL;
	Dl_info info;

	if (!sym || !dladdr1(sym, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm) {
		selp_put_error(ans, "cannot find the dynamic linker's own map");
		return -1;
	}
	o->base = lm->l_addr;
	o->used = o->mapped = true;
	return 0;
}

static int map_exe(struct obj *o)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	char *area;
	int fd = -1;

	for (int i = 0; i < o->n_segs; i++) {
		lo = o->segs[i].vaddr < lo ? o->segs[i].vaddr : lo;
		hi = o->segs[i].vaddr + o->segs[i].memsz > hi ? o->segs[i].vaddr + o->segs[i].memsz : hi;
	}
	lo &= ~(PAGE - 1);
	hi = (hi + PAGE - 1) & ~(PAGE - 1);
	/* ET_EXEC must sit at its link address (lo != 0); PIE anywhere */
	area = mmap(lo ? (void *)lo : NULL, hi - lo, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		    (lo ? MAP_FIXED_NOREPLACE : 0), -1, 0);
	if (area == MAP_FAILED) {
		selp_put_error(ans, "map %s: %s", o->path, strerror(errno));
		return -1;
	}
	o->base = (uint64_t)area - lo;
	fd = open(o->path, O_RDONLY);
	if (fd < 0) {
		selp_put_error(ans, "open %s: %s", o->path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < o->n_segs; i++) {
		uint64_t pad = o->segs[i].vaddr & (PAGE - 1), start = o->base + o->segs[i].vaddr - pad;
		uint64_t file_end = o->base + o->segs[i].vaddr + o->segs[i].filesz;
		uint64_t mem_end = (o->base + o->segs[i].vaddr + o->segs[i].memsz + PAGE - 1) & ~(PAGE - 1);
		/* writable: guards and model masks go in; exec where the file says */
		int prot = PROT_READ | PROT_WRITE | (o->segs[i].prot & PROT_EXEC);

		if (o->segs[i].filesz &&
		    mmap((void *)start, o->segs[i].filesz + pad, prot, MAP_PRIVATE | MAP_FIXED, fd,
			 o->segs[i].off - pad) == MAP_FAILED) {
			selp_put_error(ans, "map %s: %s", o->path, strerror(errno));
			close(fd);
			return -1;
		}
		if (o->segs[i].memsz > o->segs[i].filesz) {
			uint64_t zpage = (file_end + PAGE - 1) & ~(PAGE - 1);

			if (o->segs[i].filesz)
				memset((void *)file_end, 0, zpage - file_end);
			else
				zpage = start;
			if (mem_end > zpage && mmap((void *)zpage, mem_end - zpage, prot,
						    MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
				close(fd);
				return -1;
			}
		}
	}
	close(fd);
	o->start = o->base + lo;
	o->end = o->base + hi;
	o->mapped = true;
	return 0;
}

/* Call a resolver; 0 and *res on success, the signal number if it faulted. */
static int call_resolver(uint64_t fn, uint64_t *res)
{
	int sig = sigsetjmp(fault_jmp, 1);

	if (sig) {
		in_call = 0;
		return sig;
	}
	in_call = 1;
	*res = ((uint64_t(*)(void))fn)();
	in_call = 0;
	return 0;
}

static void apply_mask(struct obj *o)
{
	uint32_t *feat = (uint32_t *)(o->base + o->model_off + 12);
	uint32_t *f2 = (uint32_t *)(o->base + o->f2_off);

	if (!n_mask)
		return;
	if (o->model_size >= 16)
		feat[0] &= mask[0];
	for (uint64_t i = 0; o->f2_size && i < o->f2_size / 4 && (int)i + 1 < n_mask; i++)
		f2[i] &= mask[i + 1];
}

/* libgcc initialises its model once (vendor != 0); do that before masking it. */
static void init_model(struct obj *o, uint64_t first_resolver)
{
	uint64_t res;

	if (o->model_inited || !o->has_model)
		return;
	o->model_inited = true;
	if (o->init_off)
		call_resolver(o->base + o->init_off, &res);
	else if (first_resolver)
		call_resolver(o->base + first_resolver, &res);
	apply_mask(o);
}

static void report_rtld(int interp)
{
	void *(*get)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "_dl_x86_get_cpu_features");
	uint64_t off, got2, *got;
	int oi;

	__asm__("lea _GLOBAL_OFFSET_TABLE_(%%rip), %0" : "=r"(got));

	if (get && (oi = obj_at((uint64_t)get(), &off)) == interp)
		selp_put_rtld(ans, "cpu_features", oi, off);
	/* our own GOT[2]: the trampoline this ld.so picks on this CPU */
	if ((got2 = got[2]) &&
	    (oi = obj_at(got2, &off)) >= 0)
		selp_put_rtld(ans, "trampoline", oi, off);
}

static bool usable(uint32_t idx)
{
	return idx < n_objs && objs[idx].used && objs[idx].mapped;
}

static void answer_call(const struct selp_msg *m)
{
	uint64_t res, off;
	int oi, sig;

	if (!usable(m->obj)) {
		selp_put_unavailable(ans, "res", m->n);
		return;
	}
	init_model(&objs[m->obj], m->arg[0]);
	sig = call_resolver(objs[m->obj].base + m->arg[0], &res);
	if (sig)
		selp_put_fault(ans, m->n, sig);
	else if ((oi = obj_at(res, &off)) < 0)
		selp_put_outside(ans, "res", m->n, res);
	else
		selp_put_answer(ans, "res", m->n, oi, off);
}

static void answer_read(const struct selp_msg *m)
{
	if (!usable(m->obj) || m->arg[1] > SELP_MAX_READ) {
		selp_put_unavailable(ans, "bytes", m->n);
		return;
	}
	if (objs[m->obj].has_model)
		init_model(&objs[m->obj], 0);
	selp_put_bytes(ans, m->n, (const uint8_t *)(objs[m->obj].base + m->arg[0]), m->arg[1]);
}

static void answer_ptr(const struct selp_msg *m)
{
	uint64_t res, off;
	int oi;

	if (!usable(m->obj)) {
		selp_put_unavailable(ans, "ptr", m->n);
		return;
	}
	res = *(uint64_t *)(objs[m->obj].base + m->arg[0]);
	if (!res)
		selp_put_null(ans, m->n);
	else if ((oi = obj_at(res, &off)) < 0)
		selp_put_outside(ans, "ptr", m->n, res);
	else
		selp_put_answer(ans, "ptr", m->n, oi, off);
}

static void set_path(struct obj *o, const struct selp_msg *m)
{
	snprintf(o->path, sizeof(o->path), "%.*s", (int)m->text_len, m->text);
}

/* One request; 1 after "go". */
static int handle(const struct selp_msg *m, int *interp, void *guard)
{
	bool about_obj = m->word != SELP_CALL && m->word != SELP_READ && m->word != SELP_PTR &&
			 m->word != SELP_GO && m->word != SELP_MASK;
	struct obj *o = about_obj ? obj_get(m->obj) : NULL;

	/* objects past the table: no answer for them ("unavailable") */
	if (about_obj && !o)
		return 0;
	switch (m->word) {
	case SELP_DSO:
		set_path(o, m);
		o->used = true;
		if (load_dso(o))
			o->used = false;
		else
			selp_put_base(ans, m->obj, o->base);
		break;
	case SELP_INTERP:
		/* we run on that very ld.so; dlopen() would map a second copy */
		*interp = m->obj;
		if (find_rtld(o) == 0)
			selp_put_base(ans, m->obj, o->base);
		break;
	case SELP_EXE:
		set_path(o, m);
		o->used = o->is_exe = true;
		break;
	case SELP_SEG:
		if (o->n_segs >= SELP_MAX_SEGS)
			break;
		o->segs[o->n_segs].off = m->arg[0], o->segs[o->n_segs].vaddr = m->arg[1];
		o->segs[o->n_segs].filesz = m->arg[2], o->segs[o->n_segs].memsz = m->arg[3];
		o->segs[o->n_segs].prot = (int)m->arg[4];
		o->n_segs++;
		break;
	case SELP_MAP:
		if (o->used && map_exe(o))
			o->used = false;
		else if (o->used)
			selp_put_base(ans, m->obj, o->base);
		break;
	case SELP_GUARD:
		if (o->mapped && o->is_exe)
			*(uint64_t *)(o->base + m->arg[0]) = (uint64_t)guard;
		break;
	case SELP_MASK:
		/* no words: mask every feature (the most conservative choice) */
		n_mask = m->n_arg ? (int)m->n_arg : SELP_MAX_MASK;
		for (unsigned int k = 0; k < SELP_MAX_MASK; k++)
			mask[k] = k < m->n_arg ? (uint32_t)m->arg[k] : 0;
		break;
	case SELP_MODEL:
		o->has_model = true;
		o->model_off = m->arg[0], o->model_size = m->arg[1], o->f2_off = m->arg[2], o->f2_size = m->arg[3];
		o->init_off = m->n_arg > 4 ? m->arg[4] : 0;
		break;
	case SELP_CALL:
		answer_call(m);
		break;
	case SELP_READ:
		answer_read(m);
		break;
	case SELP_PTR:
		answer_ptr(m);
		break;
	case SELP_GO: {
		const char *fault = getenv("CPUPORT_SELECT_FAULT");	/* tests only */

		fflush(ans);
		if (fault && !strcmp(fault, "crash"))
			abort();
		while (fault && !strcmp(fault, "hang"))
			pause();
		if (*interp >= 0)
			report_rtld(*interp);
		return 1;
	}
	default:
		break;
	}
	return 0;
}

/*
 * What this process runs with, as the kernel says (capabilities, no_new_privs,
 * seccomp, ids, namespaces, cgroups): debug lines for the log and the tests.
 */
static void report_sandbox(void)
{
	static const char *const keys[] = { "Uid", "Gid", "Groups", "NSpid", "CapInh", "CapPrm", "CapEff", "CapBnd",
					    "CapAmb", "NoNewPrivs", "Seccomp" };
	static const char *const ns[] = { "user", "mnt", "pid", "net", "ipc", "uts", "cgroup" };
	char line[512], link[64], target[64];
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f)) {
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t len = strlen(keys[k]);
			char *v = line + len + 1;

			if (strncmp(line, keys[k], len) || line[len] != ':')
				continue;
			v += strspn(v, " \t");
			for (char *t = v; *t; t++)
				if (*t == '\t')
					*t = ' ';
			v[strcspn(v, "\n")] = 0;
			selp_put_sandbox(ans, "%s %s", keys[k], v);
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		selp_put_sandbox(ans, "cgroup %s", line);
	}
	if (f)
		fclose(f);
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/ns/%s", ns[k]);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			selp_put_sandbox(ans, "ns %s", target);
		}
	}
}

/* The answer stream; NULL if the fd is not there (then nothing can be said). */
static FILE *open_answers(void)
{
	const char *v = getenv("CPUPORT_SELECT_ANSWER_FD");
	char *end;
	long fd = v ? strtol(v, &end, 10) : 1;

	if (v && (*end || end == v || fd < 0 || fd > 65535))
		return NULL;
	return fd == 1 ? stdout : fdopen((int)fd, "w");
}

int main(void)
{
	static char line[SELP_MAX_LINE + 2];
	struct sigaction sa = { .sa_handler = on_fault, .sa_flags = SA_NODEFER };
	int interp = -1, ret;
	void *guard;

	ans = open_answers();
	if (!ans)
		return 125;
	/* before anything from the process's files is loaded */
	ret = helper_seccomp_install();
	if (ret) {
		selp_put_error(ans, "seccomp: %s", strerror(-ret));
		fflush(ans);
		return 126;
	}
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	guard = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	setvbuf(ans, NULL, _IOFBF, 1 << 16);
	selp_put_glibc(ans, gnu_get_libc_version());
	selp_put_ids(ans, getuid(), getgid(), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	report_sandbox();
	while (fgets(line, sizeof(line), stdin)) {
		struct selp_msg m;

		if (selp_decode_request(line, UINT32_MAX, &m)) {
			/* the library never sends this: fail, do not guess */
			selp_put_error(ans, "malformed request: %.80s", line);
			fflush(ans);
			return 2;
		}
		if (handle(&m, &interp, guard))
			break;
	}
	selp_put_done(ans);
	fflush(ans);
	return 0;
}
