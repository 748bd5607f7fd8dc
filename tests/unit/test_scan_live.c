// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cpuport_scan() of live, stopped fixture processes (no criu): the lazy PIE
 * workload, workload-now, workload-nopie, and the lazy PIE started with
 * glibc's AVX paths masked.  Independent sources: what the workload itself
 * reports in OUT.bind (dlsym() and the function pointers it holds), readelf,
 * dladdr()/_dl_x86_get_cpu_features() in this process (same ld.so, same
 * CPU), and this process's own libgcc __cpu_model.
 *
 * Needs root (cpuport reads /proc/PID/map_files) and `make fixtures`.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>

#include "unit.h"
#include "internal.h"
#include "libgcc_bits.h"

#define LDSO "/lib64/ld-linux-x86-64.so.2"
#define MASK "glibc.cpu.hwcaps=-AVX2,-AVX,-AVX_Fast_Unaligned_Load,-AVX512F,-AVX512VL"

struct cpu_model {
	unsigned int vendor, type, subtype;
	unsigned int features[1];
};
extern struct cpu_model __cpu_model;
extern unsigned int __cpu_features2[];

enum { PIE, NOW, NOPIE, MASKED, N_RUNS };
static const char *const run_names[N_RUNS] = { "workload", "workload-now", "workload-nopie", "workload (masked)" };
static const char *const run_bins[N_RUNS] = { "workload", "workload-now", "workload-nopie", "workload" };

static struct cpuport_ctx *ctx;
static struct run {
	struct cpuport_table *t;
	pid_t pid;
	char bind[4096];	/* OUT.bind as it was when the process was stopped */
} runs[N_RUNS];
static char fixdir[4200];
static bool have_libc_debug;

static uint64_t bind_addr(const struct run *r, const char *kind, const char *name)
{
	char key[96];
	const char *p;

	snprintf(key, sizeof(key), "%s %s 0x", kind, name);
	p = strstr(r->bind, key);
	if (!p)
		fail_msg("no '%s %s' in the workload's OUT.bind", kind, name);
	return strtoull(p + strlen(key), NULL, 16);
}

static int start_and_scan(int i)
{
	char bin[4300], path[256];
	const char *argv[] = { bin, "@OUT", NULL };
	struct unit_child c;
	FILE *f;
	size_t n;
	int ret;

	snprintf(bin, sizeof(bin), "%s/%s", fixdir, run_bins[i]);
	ret = unit_child_start(&c, argv, i == MASKED ? MASK : NULL);
	if (ret)
		return ret;
	ret = unit_child_wait_lines(&c, c.out, 2, 10000);
	if (!ret)
		ret = unit_child_stop(&c);
	if (!ret) {
		snprintf(path, sizeof(path), "%s", c.bind);
		f = fopen(path, "r");
		n = f ? fread(runs[i].bind, 1, sizeof(runs[i].bind) - 1, f) : 0;
		runs[i].bind[n] = 0;
		if (f)
			fclose(f);
		runs[i].pid = c.pid;
		ret = cpuport_scan(ctx, c.pid, &runs[i].t);
	}
	if (ret)
		fprintf(stderr, "%s: start/stop/scan failed: %d\n", run_names[i], ret);
	unit_child_kill(&c);
	return ret;
}

static int group_setup(void **state)
{
	char id[160], dbg[512];

	(void)state;
	__builtin_cpu_init();
	ctx = cpuport_ctx__new(NULL);
	if (!ctx)
		return -1;
	for (int i = 0; i < N_RUNS; i++)
		if (start_and_scan(i))
			return -1;
	unit_readelf_build_id("/lib/x86_64-linux-gnu/libc.so.6", id, sizeof(id));
	snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
	have_libc_debug = strlen(id) > 2 && !access(dbg, R_OK);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_RUNS; i++)
		cpuport_table__free(runs[i].t);
	cpuport_ctx__free(ctx);
	return 0;
}

/* ---- lookups in a table ---- */

static int obj_by_suffix(const Cpuport__Image *img, const char *suffix)
{
	size_t n = strlen(suffix);

	for (size_t i = 0; i < img->n_objects; i++) {
		const char *p = img->objects[i]->path;
		size_t l = strlen(p);

		if (l >= n && !strcmp(p + l - n, suffix))
			return i;
	}
	return -1;
}

static int exe_obj(const Cpuport__Image *img)
{
	int found = -1;

	for (size_t i = 0; i < img->n_objects; i++)
		if (img->objects[i]->is_exe) {
			assert_int_equal(found, -1);
			found = i;
		}
	assert_true(found >= 0);
	return found;
}

static int interp_obj(const Cpuport__Image *img)
{
	int found = -1;

	for (size_t i = 0; i < img->n_objects; i++)
		if (img->objects[i]->is_interp) {
			assert_int_equal(found, -1);
			found = i;
		}
	assert_true(found >= 0);
	return found;
}

static const Cpuport__Slot *slot_named(const Cpuport__Image *img, int obj, int kind, const char *sym)
{
	for (size_t i = 0; i < img->n_slots; i++) {
		const Cpuport__Slot *s = img->slots[i];

		if ((int)s->object == obj && (!kind || (int)s->kind == kind) && s->symbol && !strcmp(s->symbol, sym))
			return s;
	}
	return NULL;
}

static const Cpuport__State *state_of(const Cpuport__Image *img, int obj, Cpuport__StateKind kind)
{
	for (size_t i = 0; i < img->n_states; i++)
		if ((obj < 0 || (int)img->states[i]->object == obj) && img->states[i]->kind == kind)
			return img->states[i];
	return NULL;
}

static uint64_t loc_addr(const Cpuport__Image *img, const Cpuport__Location *l)
{
	assert_non_null(l);
	assert_true(l->object < img->n_objects);
	return img->objects[l->object]->load_base + l->offset;
}

/* ---- the process ---- */

static long readelf_rela_total(const char *path)
{
	char *out = unit_run(NULL, "readelf -rW '%s' 2>/dev/null", path), *p;
	long total = 0;

	assert_non_null(out);
	for (p = out; (p = strstr(p, "Relocation section '.rela")); p++) {
		unsigned int n;

		if (sscanf(strstr(p, "contains"), "contains %u", &n) == 1)
			total += n;
	}
	free(out);
	return total;
}

static void table_basics(void **state)
{
	(void)state;
	for (int i = 0; i < N_RUNS; i++) {
		const Cpuport__Image *img = runs[i].t->img;
		CPUPORT_OPTS(cpuport_table_stats, st);
		char ldso[4096];
		long relocs = 0;
		int interp = interp_obj(img);

		assert_int_equal(cpuport_table__pid(runs[i].t), runs[i].pid);
		assert_int_equal(cpuport_table__nspid(runs[i].t), runs[i].pid);	/* same pid namespace */
		assert_non_null(img->proc->comm);
		assert_int_equal(strncmp(img->proc->comm, run_bins[i], 15), 0);
		assert_int_equal(exe_obj(img), 0);	/* link order: the executable first */
		assert_true(obj_by_suffix(img, "/libclones.so") > 0);
		assert_true(obj_by_suffix(img, "/libc.so.6") > 0);
		assert_true(obj_by_suffix(img, "/libm.so.6") > 0);
		assert_non_null(realpath(LDSO, ldso));
		assert_string_equal(img->objects[interp]->path, ldso);
		assert_non_null(img->objects[interp]->glibc_version);
		/* one thread, stopped, with its registers */
		assert_int_equal(img->n_threads, 1);
		assert_int_equal(img->threads[0]->tid, runs[i].pid);
		assert_true(img->threads[0]->has_running && !img->threads[0]->running);
		assert_true(img->threads[0]->has_pc && img->threads[0]->pc);
		/* the CPU it ran on */
		assert_non_null(img->source_cpu);
		assert_int_equal(img->source_cpu->level, ctx->host.level);
		/* every RELA entry of every object was examined */
		for (size_t o = 0; o < img->n_objects; o++)
			relocs += readelf_rela_total(img->objects[o]->path);
		assert_int_equal(img->relocs_seen, relocs);
		cpuport_table__stats(runs[i].t, &st);
		assert_int_equal(st.objects, img->n_objects);
		assert_int_equal(st.slots, img->n_slots);
		assert_int_equal(st.relocs, relocs);
		assert_int_equal(st.threads, 1);
	}
}

/* What the lazy PIE's GOT holds is what the workload itself sees. */
static void exe_slots_match_bind_file(void **state)
{
	static const char *const jump[] = { "strchr", "memset", "memmove" };
	const struct run *r = &runs[PIE];
	const Cpuport__Image *img = r->t->img;
	int exe = exe_obj(img), libc = obj_by_suffix(img, "/libc.so.6"), lib = obj_by_suffix(img, "/libclones.so");
	const Cpuport__Slot *s;

	(void)state;
	/* strlen's address is taken: one GOT entry (GLOB_DAT) serves calls and the pointer */
	s = slot_named(img, exe, 0, "strlen");
	assert_non_null(s);
	assert_true(s->bound);
	assert_int_equal(s->value, bind_addr(r, "fp", "strlen"));
	assert_int_equal(s->value, bind_addr(r, "dlsym", "strlen"));
	assert_int_equal(s->target->object, libc);
	assert_int_equal(loc_addr(img, s->target), s->value);
	s = slot_named(img, exe, CPUPORT__SLOT_KIND__GLOB_DAT, "memcpy");
	assert_non_null(s);
	assert_int_equal(s->value, bind_addr(r, "fp", "memcpy"));
	for (size_t i = 0; i < ARRAY_SIZE(jump); i++) {
		s = slot_named(img, exe, CPUPORT__SLOT_KIND__JUMP_SLOT, jump[i]);
		if (!s)
			fail_msg("no JUMP_SLOT for %s in the executable", jump[i]);
		assert_true(s->bound);
		assert_int_equal(s->value, bind_addr(r, "dlsym", jump[i]));
		assert_int_equal(s->target->object, libc);
		assert_int_equal(s->resolver->object, libc);
	}
	s = slot_named(img, exe, CPUPORT__SLOT_KIND__JUMP_SLOT, "lib_kernel");
	assert_non_null(s);
	assert_int_equal(s->value, bind_addr(r, "dlsym", "lib_kernel"));
	assert_int_equal(s->target->object, lib);
	assert_int_equal(s->resolver->object, lib);
}

/* strcmp is never called by the workload: its lazy slot still points at the PLT. */
static void lazy_slot_unbound(void **state)
{
	const Cpuport__Image *img = runs[PIE].t->img, *now = runs[NOW].t->img;
	int libc = obj_by_suffix(img, "/libc.so.6");
	const Cpuport__Slot *s = slot_named(img, 0, CPUPORT__SLOT_KIND__JUMP_SLOT, "strcmp");
	char *out;
	char *p;

	(void)state;
	assert_non_null(s);
	assert_false(s->bound);
	assert_null(s->target);
	assert_true(s->value >= img->objects[0]->start && s->value < img->objects[0]->end);
	/* the resolver it will run: libc's strcmp IFUNC, as readelf names it */
	assert_int_equal(s->resolver->object, libc);
	out = unit_run(NULL, "readelf --dyn-syms -W '%s' | grep -E ' IFUNC .* strcmp@@'", img->objects[libc]->path);
	assert_non_null(out);
	p = strchr(out, ':');
	assert_non_null(p);
	assert_int_equal(s->resolver->offset, strtoull(p + 1, NULL, 16));
	free(out);
	/* -z now: bound before main */
	s = slot_named(now, 0, CPUPORT__SLOT_KIND__JUMP_SLOT, "strcmp");
	assert_non_null(s);
	assert_true(s->bound);
	assert_int_equal(s->target->object, obj_by_suffix(now, "/libc.so.6"));
}

static void libc_irelative_count(void **state)
{
	(void)state;
	for (int i = 0; i < N_RUNS; i++) {
		const Cpuport__Image *img = runs[i].t->img;
		int libc = obj_by_suffix(img, "/libc.so.6");
		long want = unit_readelf_reloc_count(img->objects[libc]->path, "R_X86_64_IRELATIVE"), n = 0;

		for (size_t k = 0; k < img->n_slots; k++) {
			const Cpuport__Slot *s = img->slots[k];

			if ((int)s->object != libc || s->kind != CPUPORT__SLOT_KIND__IRELATIVE)
				continue;
			n++;
			assert_int_equal(s->resolver->object, libc);
			assert_true(s->bound);
		}
		if (n != want)
			fail_msg("%s: %ld IRELATIVE slots in libc, readelf counts %ld", run_names[i], n, want);
	}
}

/* libgcc's model in the exe and in libclones.so: the same bytes as this process's (same CPU, same libgcc). */
static void libgcc_model_states(void **state)
{
	(void)state;
	for (int i = 0; i < N_RUNS; i++) {
		const Cpuport__Image *img = runs[i].t->img;
		int objs[2] = { exe_obj(img), obj_by_suffix(img, "/libclones.so") };

		for (int k = 0; k < 2; k++) {
			const Cpuport__State *m = state_of(img, objs[k], CPUPORT__STATE_KIND__LIBGCC_CPU_MODEL);
			const Cpuport__State *f2 = state_of(img, objs[k], CPUPORT__STATE_KIND__LIBGCC_FEATURES2);

			if (!m || !f2)
				fail_msg("%s: no libgcc model state for %s", run_names[i], img->objects[objs[k]]->path);
			assert_int_equal(m->size, sizeof(__cpu_model));
			assert_memory_equal(m->value.data, &__cpu_model, sizeof(__cpu_model));
			assert_int_equal(f2->size, 4 * LIBGCC_FEATURES2_WORDS);
			assert_memory_equal(f2->value.data, __cpu_features2, f2->size);
		}
	}
}

static void lazy_trampoline_states(void **state)
{
	(void)state;
	for (int i = 0; i < N_RUNS; i++) {
		const Cpuport__Image *img = runs[i].t->img;
		const Cpuport__State *s = state_of(img, exe_obj(img), CPUPORT__STATE_KIND__LAZY_TRAMPOLINE);
		uint64_t v;

		if (i == NOW) {
			assert_null(s);	/* -z now: nothing binds lazily */
			continue;
		}
		if (!s)
			fail_msg("%s: no LAZY_TRAMPOLINE state for the lazy executable", run_names[i]);
		assert_int_equal(s->size, 8);
		assert_non_null(s->target);
		assert_int_equal(s->target->object, interp_obj(img));
		memcpy(&v, s->value.data, 8);
		assert_int_equal(v, loc_addr(img, s->target));
		if (s->target->symbol)
			assert_int_equal(strncmp(s->target->symbol, "_dl_runtime_resolve", 19), 0);
	}
}

/*
 * ld.so's cpu_features: where _dl_x86_get_cpu_features() says it is in this
 * process (same ld.so), 480 bytes, and the same bytes as ours unless glibc
 * was told to mask features.
 */
static void cpu_features_state(void **state)
{
	const void *(*get)(void) = (const void *(*)(void))dlsym(RTLD_DEFAULT, "_dl_x86_get_cpu_features");
	const uint8_t *ours;
	uint8_t theirs[480], mine[480];
	Dl_info di;

	(void)state;
	if (!get)
		UNIT_SKIP("this ld.so exports no _dl_x86_get_cpu_features");
	ours = get();
	assert_true(dladdr(ours, &di) && di.dli_fbase);
	for (int i = 0; i < N_RUNS; i++) {
		const Cpuport__Image *img = runs[i].t->img;
		const Cpuport__State *s = state_of(img, -1, CPUPORT__STATE_KIND__CPU_FEATURES);
		size_t n = 0;

		for (size_t k = 0; k < img->n_states; k++)
			n += img->states[k]->kind == CPUPORT__STATE_KIND__CPU_FEATURES;
		assert_int_equal(n, 1);
		assert_int_equal(s->object, interp_obj(img));
		assert_int_equal(s->size, 480);
		assert_int_equal(s->offset, (uint64_t)(ours - (const uint8_t *)di.dli_fbase));
		assert_true(s->has_value && s->value.len == 480);
		/*
		 * Byte 27 is CPUID.1:EBX[31:24], the initial APIC ID of the core
		 * that ld.so happened to run on (struct cpu_features: 20 bytes of
		 * basic info, then leaf 1's eax, ebx...): not comparable.
		 */
		memcpy(theirs, s->value.data, 480);
		memcpy(mine, ours, 480);
		theirs[27] = mine[27] = 0;
		if (i == MASKED)
			assert_int_not_equal(memcmp(theirs, mine, 480), 0);
		else if (!getenv("GLIBC_TUNABLES"))
			assert_memory_equal(theirs, mine, 480);
	}
}

static const char *target_name(const Cpuport__Slot *s)
{
	return s && s->target && s->target->symbol ? s->target->symbol : "";
}

static bool sse_variant(const char *name)
{
	return (strstr(name, "sse2") || strstr(name, "ssse3")) && !strstr(name, "avx") && !strstr(name, "evex");
}

/* Started with glibc's AVX paths masked: the SSE2/SSSE3 variants are bound, as the workload sees. */
static void masked_start_variants(void **state)
{
	const struct run *m = &runs[MASKED], *u = &runs[PIE];
	const Cpuport__Image *mi = m->t->img, *ui = u->t->img;
	int mlibc = obj_by_suffix(mi, "/libc.so.6"), ulibc = obj_by_suffix(ui, "/libc.so.6");
	const Cpuport__Slot *ms = slot_named(mi, 0, 0, "strlen"), *us = slot_named(ui, 0, 0, "strlen");
	const Cpuport__Slot *mm = slot_named(mi, 0, 0, "memcpy");

	(void)state;
	assert_non_null(ms);
	assert_non_null(us);
	assert_non_null(mm);
	assert_int_equal(ms->value, bind_addr(m, "dlsym", "strlen"));
	assert_int_equal(mm->value, bind_addr(m, "fp", "memcpy"));
	assert_int_equal(ms->target->object, mlibc);
	if (featset_has(&ctx->host.feat, F_AVX2))	/* otherwise the mask changes nothing */
		assert_int_not_equal(ms->target->offset, us->target->offset);
	(void)ulibc;
	if (!have_libc_debug)
		UNIT_SKIP("no libc6-dbg: variant names not checked (offsets were)");
	print_message("masked: strlen -> %s, memcpy -> %s; unmasked: strlen -> %s\n", target_name(ms), target_name(mm),
		      target_name(us));
	if (!sse_variant(target_name(ms)) || !sse_variant(target_name(mm)))
		fail_msg("masked start bound strlen to %s and memcpy to %s", target_name(ms), target_name(mm));
	/* libc's own IRELATIVE slots for them agree */
	for (size_t k = 0; k < mi->n_slots; k++) {
		const Cpuport__Slot *s = mi->slots[k];
		const char *r = s->resolver->symbol ?: "";

		if ((int)s->object != mlibc || s->kind != CPUPORT__SLOT_KIND__IRELATIVE)
			continue;
		if (!strcmp(r, "strlen") || !strncmp(r, "memcpy@", 7) || !strcmp(r, "memmove"))
			if (!sse_variant(target_name(s)))
				fail_msg("masked libc IRELATIVE %s bound to %s", r, target_name(s));
	}
}

/* The non-PIE: base 0, strlen through a real JUMP_SLOT, clones picked in GCC's priority order. */
static void nopie_slots(void **state)
{
	const Cpuport__Image *img = runs[NOPIE].t->img, *pie = runs[PIE].t->img;
	const Cpuport__Slot *s = slot_named(img, 0, CPUPORT__SLOT_KIND__JUMP_SLOT, "strlen");
	const Cpuport__Slot *ps = slot_named(pie, 0, 0, "strlen");
	const char *want = __builtin_cpu_supports("avx512f") ? "exe_kernel.avx512f"
			   : __builtin_cpu_supports("avx2") ? "exe_kernel.avx2"
			   : __builtin_cpu_supports("sse4.2") ? "exe_kernel.sse4_2"
							      : "exe_kernel.default";
	uint64_t fp = bind_addr(&runs[NOPIE], "fp", "strlen");
	bool clone_seen = false;

	(void)state;
	assert_int_equal(img->objects[0]->load_base, 0);
	assert_non_null(s);
	assert_true(s->bound);
	assert_int_equal(s->target->object, obj_by_suffix(img, "/libc.so.6"));
	/* the same variant as in the PIE (same CPU, same libc) */
	assert_int_equal(s->target->offset, ps->target->offset);
	/* the pointer the program holds is its canonical PLT entry, not the variant */
	assert_true(fp >= img->objects[0]->start && fp < img->objects[0]->end);
	assert_int_not_equal(fp, s->value);
	for (size_t k = 0; k < img->n_slots; k++) {
		const Cpuport__Slot *x = img->slots[k];

		if (x->object || x->kind != CPUPORT__SLOT_KIND__IRELATIVE || !x->resolver->symbol ||
		    strcmp(x->resolver->symbol, "exe_kernel.resolver"))
			continue;
		clone_seen = true;
		assert_true(x->bound);
		assert_string_equal(target_name(x), want);
	}
	assert_true(clone_seen);
}

struct bases {
	char path[32][4096];
	uint64_t base[32];
	int n;
};

static int collect_base(struct dl_phdr_info *i, size_t size, void *arg)
{
	struct bases *b = arg;

	(void)size;
	if (b->n < 32 && i->dlpi_name[0] == '/' && realpath(i->dlpi_name, b->path[b->n]))
		b->base[b->n++] = i->dlpi_addr;
	return 0;
}

/*
 * A process that also maps one of its libraries as plain data (crash
 * reporters, ELF readers, anything using libelf's READ_MMAP on its own libc):
 * the library's load base is still where ld.so loaded it.  The data mapping
 * is put below the real one, so it comes first in /proc/PID/maps.
 */
static void library_mapped_as_data(void **state)
{
	static struct bases b;
	struct cpuport_table *t = NULL;
	const Cpuport__Image *img;
	char msg[1024] = "";
	uint64_t lowest = UINT64_MAX;
	int libc = -1, st, ret;
	pid_t pid;

	(void)state;
	memset(&b, 0, sizeof(b));
	dl_iterate_phdr(collect_base, &b);
	for (int i = 0; i < b.n; i++) {
		if (strstr(b.path[i], "/libc.so.6"))
			libc = i;
		if (b.base[i] && b.base[i] < lowest)
			lowest = b.base[i];
	}
	assert_true(libc >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {	/* a copy of this process: the same load bases */
		int fd = open(b.path[libc], O_RDONLY);
		void *hint = (void *)(uintptr_t)((lowest - 0x400000) & ~0xfffULL);

		if (fd < 0 || (mmap(hint, 0x10000, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0) == MAP_FAILED &&
			       mmap(NULL, 0x10000, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED))
			_exit(2);
		raise(SIGSTOP);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
	assert_true(WIFSTOPPED(st));
	ret = cpuport_scan(ctx, pid, &t);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(ret, 0);
	img = t->img;
	for (int i = 0; i < b.n; i++)
		for (size_t o = 0; o < img->n_objects; o++)
			if (!strcmp(img->objects[o]->path, b.path[i]) && img->objects[o]->load_base != b.base[i])
				snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s at %#llx, ld.so loaded it at %#llx;",
					 b.path[i], (unsigned long long)img->objects[o]->load_base,
					 (unsigned long long)b.base[i]);
	cpuport_table__free(t);
	if (msg[0])
		fail_msg("wrong load base:%s", msg);
}

static void scan_errors(void **state)
{
	struct cpuport_table *t = (void *)1;
	pid_t gone = fork();

	(void)state;
	assert_true(gone >= 0);
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	errno = 0;
	assert_int_equal(cpuport_scan(ctx, gone, &t), -ESRCH);
	assert_int_equal(errno, ESRCH);
	assert_null(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_basics),
		cmocka_unit_test(exe_slots_match_bind_file),
		cmocka_unit_test(lazy_slot_unbound),
		cmocka_unit_test(libc_irelative_count),
		cmocka_unit_test(libgcc_model_states),
		cmocka_unit_test(lazy_trampoline_states),
		cmocka_unit_test(cpu_features_state),
		cmocka_unit_test(masked_start_variants),
		cmocka_unit_test(nopie_slots),
		cmocka_unit_test(library_mapped_as_data),
		cmocka_unit_test(scan_errors),
	};
	static const char *const need[] = { "workload", "workload-now", "workload-nopie", "libclones.so" };

	if (geteuid())
		UNIT_SKIP_ALL("scanning a process needs root (cpuport reads /proc/PID/map_files)");
	snprintf(fixdir, sizeof(fixdir), "%s/build/fixtures", unit_top());
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		char p[4400];

		snprintf(p, sizeof(p), "%s/%s", fixdir, need[i]);
		if (access(p, R_OK))
			UNIT_SKIP_ALL("fixture %s is missing: run make fixtures", p);
	}
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("scan_live", tests, group_setup, group_teardown);
}
