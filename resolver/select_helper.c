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
 * Protocol: request lines on stdin, answers on stdout; see select.c.
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

#define MAX_OBJS 1024
#define PAGE 4096ULL

struct obj {
	bool used, is_exe, mapped;
	uint64_t base, start, end;
	char path[256];
	struct { uint64_t off, vaddr, filesz, memsz; int prot; } segs[16];
	int n_segs;
	bool has_model;
	uint64_t model_off, model_size, f2_off, f2_size, init_off;
	bool model_inited;
};

static struct obj objs[MAX_OBJS];
static uint32_t mask[8];
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

	for (int i = 0; i < MAX_OBJS; i++)
		if (objs[i].used && objs[i].is_exe && addr >= objs[i].start && addr < objs[i].end) {
			*off = addr - objs[i].base;
			return i;
		}
	if (!dladdr1((void *)addr, &info, &extra, RTLD_DL_LINKMAP) || !extra)
		return -1;
	lm = extra;
	for (int i = 0; i < MAX_OBJS; i++)
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
		printf("error dlopen %s: %s\n", o->path, dlerror());
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
		printf("error cannot find the dynamic linker's own map\n");
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
		printf("error map %s: %s\n", o->path, strerror(errno));
		return -1;
	}
	o->base = (uint64_t)area - lo;
	fd = open(o->path, O_RDONLY);
	if (fd < 0) {
		printf("error open %s: %s\n", o->path, strerror(errno));
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
			printf("error map %s: %s\n", o->path, strerror(errno));
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

static void hexdump(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void report_rtld(int interp)
{
	void *(*get)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "_dl_x86_get_cpu_features");
	uint64_t off, got2, *got;
	int oi;

	__asm__("lea _GLOBAL_OFFSET_TABLE_(%%rip), %0" : "=r"(got));

	if (get && (oi = obj_at((uint64_t)get(), &off)) == interp)
		printf("cpu_features %d %" PRIu64 "\n", oi, off);
	/* our own GOT[2]: the trampoline this ld.so picks on this CPU */
	if ((got2 = got[2]) &&
	    (oi = obj_at(got2, &off)) >= 0)
		printf("trampoline %d %" PRIu64 "\n", oi, off);
}

/*
 * What this process runs with, as the kernel says (capabilities, no_new_privs,
 * seccomp, ids, namespaces): debug lines for the log and the tests.
 */
static void report_sandbox(void)
{
	static const char *const keys[] = { "Uid", "Gid", "Groups", "NSpid", "CapInh", "CapPrm", "CapEff", "CapBnd",
					    "CapAmb", "NoNewPrivs", "Seccomp" };
	static const char *const ns[] = { "user", "mnt", "pid", "net", "ipc", "uts", "cgroup" };
	char line[512], link[64], target[64];
	FILE *f = fopen("/proc/self/status", "r");

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
			printf("sandbox %s %s", keys[k], v);
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/cgroup", "r");
	while (f && fgets(line, sizeof(line), f))
		printf("sandbox cgroup %s", line);
	if (f)
		fclose(f);
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/ns/%s", ns[k]);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			printf("sandbox ns %s\n", target);
		}
	}
}

int main(void)
{
	char line[1024], word[16];
	struct sigaction sa = { .sa_handler = on_fault, .sa_flags = SA_NODEFER };
	int interp = -1, ret;
	void *guard;

	/* before anything from the process's files is loaded */
	ret = helper_seccomp_install();
	if (ret) {
		printf("error seccomp: %s\n", strerror(-ret));
		return 126;
	}
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	guard = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	printf("glibc %s\n", gnu_get_libc_version());
	printf("ids %u %u %d\n", (unsigned)getuid(), (unsigned)getgid(), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	report_sandbox();
	while (fgets(line, sizeof(line), stdin)) {
		uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, res, off;
		unsigned idx = 0, n = 0;
		int oi, sig;
		char path[256];

		if (sscanf(line, "%15s", word) != 1)
			continue;
		if (!strcmp(word, "dso") && sscanf(line, "dso %u %255s", &idx, path) == 2 && idx < MAX_OBJS) {
			snprintf(objs[idx].path, sizeof(objs[idx].path), "%s", path);
			objs[idx].used = true;
			if (load_dso(&objs[idx]))
				objs[idx].used = false;
			else
				printf("base %u %#" PRIx64 "\n", idx, objs[idx].base);
		} else if (!strcmp(word, "interp") && sscanf(line, "interp %u", &idx) == 1 && idx < MAX_OBJS) {
			/* we run on that very ld.so; dlopen() would map a second copy */
			interp = idx;
			if (find_rtld(&objs[idx]) == 0)
				printf("base %u %#" PRIx64 "\n", idx, objs[idx].base);
		} else if (!strcmp(word, "exe") && sscanf(line, "exe %u %255s", &idx, path) == 2 && idx < MAX_OBJS) {
			snprintf(objs[idx].path, sizeof(objs[idx].path), "%s", path);
			objs[idx].used = objs[idx].is_exe = true;
		} else if (!strcmp(word, "seg") &&
			   sscanf(line, "seg %u %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &idx, &a, &b,
				  &c, &d, &e) == 6 && idx < MAX_OBJS && objs[idx].n_segs < 16) {
			struct obj *o = &objs[idx];

			o->segs[o->n_segs].off = a, o->segs[o->n_segs].vaddr = b, o->segs[o->n_segs].filesz = c;
			o->segs[o->n_segs].memsz = d, o->segs[o->n_segs].prot = (int)e;
			o->n_segs++;
		} else if (!strcmp(word, "map") && sscanf(line, "map %u", &idx) == 1 && idx < MAX_OBJS) {
			if (objs[idx].used && map_exe(&objs[idx]))
				objs[idx].used = false;
			else if (objs[idx].used)
				printf("base %u %#" PRIx64 "\n", idx, objs[idx].base);
		} else if (!strcmp(word, "guard") && sscanf(line, "guard %u %" SCNu64, &idx, &a) == 2 &&
			   idx < MAX_OBJS && objs[idx].mapped && objs[idx].is_exe) {
			*(uint64_t *)(objs[idx].base + a) = (uint64_t)guard;
		} else if (!strcmp(word, "mask")) {
			n_mask = sscanf(line, "mask %x %x %x %x %x %x %x %x", &mask[0], &mask[1], &mask[2], &mask[3],
					&mask[4], &mask[5], &mask[6], &mask[7]);
		} else if (!strcmp(word, "model") &&
			   sscanf(line, "model %u %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &idx, &a, &b,
				  &c, &d, &e) >= 5 && idx < MAX_OBJS) {
			struct obj *o = &objs[idx];

			o->has_model = true;
			o->model_off = a, o->model_size = b, o->f2_off = c, o->f2_size = d, o->init_off = e;
		} else if (!strcmp(word, "call") && sscanf(line, "call %u %u %" SCNu64, &n, &idx, &a) == 3) {
			if (idx >= MAX_OBJS || !objs[idx].used || !objs[idx].mapped) {
				printf("res %u unavailable\n", n);
				continue;
			}
			init_model(&objs[idx], a);
			sig = call_resolver(objs[idx].base + a, &res);
			if (sig)
				printf("res %u fault %d\n", n, sig);
			else if ((oi = obj_at(res, &off)) < 0)
				printf("res %u outside %#" PRIx64 "\n", n, res);
			else
				printf("res %u %d %" PRIu64 "\n", n, oi, off);
		} else if (!strcmp(word, "read") &&
			   sscanf(line, "read %u %u %" SCNu64 " %" SCNu64, &n, &idx, &a, &b) == 4) {
			if (idx >= MAX_OBJS || !objs[idx].used || !objs[idx].mapped || b > 4096) {
				printf("bytes %u unavailable\n", n);
				continue;
			}
			if (objs[idx].has_model)
				init_model(&objs[idx], 0);
			printf("bytes %u ", n);
			hexdump((const uint8_t *)(objs[idx].base + a), b);
			printf("\n");
		} else if (!strcmp(word, "ptr") && sscanf(line, "ptr %u %u %" SCNu64, &n, &idx, &a) == 3) {
			if (idx >= MAX_OBJS || !objs[idx].used || !objs[idx].mapped) {
				printf("ptr %u unavailable\n", n);
				continue;
			}
			res = *(uint64_t *)(objs[idx].base + a);
			if (!res)
				printf("ptr %u null\n", n);
			else if ((oi = obj_at(res, &off)) < 0)
				printf("ptr %u outside %#" PRIx64 "\n", n, res);
			else
				printf("ptr %u %d %" PRIu64 "\n", n, oi, off);
		} else if (!strcmp(word, "go")) {
			const char *fault = getenv("CPUPORT_SELECT_FAULT");	/* tests only */

			fflush(stdout);
			if (fault && !strcmp(fault, "crash"))
				abort();
			while (fault && !strcmp(fault, "hang"))
				pause();
			if (interp >= 0)
				report_rtld(interp);
			break;
		}
	}
	printf("done\n");
	fflush(stdout);
	return 0;
}
