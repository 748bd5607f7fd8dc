// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The restore side against a recorded process, without root or criu: a
 * fixture workload is started, stopped, and its maps, memory and threads
 * are copied into a recording; the child is then killed.  The recording is
 * a pview (the seam scan.c and the restore side use), so the real scan,
 * the real helper (cpuport-select, as whoever runs the test) and the real
 * planning, hazard checks, copied-pointer scan, answer cache and writes run
 * on it.  Expectations come from the recording itself: after a restore as
 * x86-64-v2 a fresh scan of the written recording must find every bound
 * variant runnable on x86-64-v2 (capstone), a planted copied pointer must
 * follow its slot, a thread inside a changing variant must make the restore
 * refuse without writing anything, and so on.
 */
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/stat.h>

#include <elf.h>

#include "unit.h"
#include "restore.h"

/* ---- a recorded process ---- */
struct region {
	uint64_t start, end;
	uint8_t *data;		/* NULL: not readable (e.g. [vvar]) */
};

struct recording {
	pid_t pid;
	struct proc maps;	/* the maps as proc_open() parsed them (memory fd closed) */
	struct region *regs;	/* one per map */
	struct { pid_t tid; bool running; uint64_t pc, sp; } th[64];
	size_t n_th;
	unsigned int writes;
};

static int rec_thread(pid_t tid, bool running, uint64_t pc, uint64_t sp, void *arg)
{
	struct recording *r = arg;

	if (r->n_th < ARRAY_SIZE(r->th)) {
		r->th[r->n_th].tid = tid, r->th[r->n_th].running = running;
		r->th[r->n_th].pc = pc, r->th[r->n_th].sp = sp;
		r->n_th++;
	}
	return 0;
}

static int record(struct recording *r, pid_t pid)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->pid = pid;
	ret = proc_open(&r->maps, pid, false);
	if (ret)
		return ret;
	r->regs = calloc(r->maps.n_maps, sizeof(*r->regs));
	if (!r->regs)
		return -ENOMEM;
	for (size_t i = 0; i < r->maps.n_maps; i++) {
		const struct proc_map *m = &r->maps.maps[i];
		struct region *g = &r->regs[i];

		g->start = m->start, g->end = m->end;
		if (m->perms[0] != 'r')
			continue;
		g->data = malloc(m->end - m->start);
		if (g->data && proc_read(&r->maps, m->start, g->data, m->end - m->start)) {
			free(g->data);
			g->data = NULL;
		}
	}
	ret = proc_for_each_thread(pid, rec_thread, r);
	close(r->maps.mem_fd);
	r->maps.mem_fd = -1;
	return ret;
}

static void rec_free(struct recording *r)
{
	for (size_t i = 0; r->regs && i < r->maps.n_maps; i++)
		free(r->regs[i].data);
	free(r->regs);
	proc_close(&r->maps);
	memset(r, 0, sizeof(*r));
}

/* A copy with its own memory (the maps text is shared: read only). */
static void rec_clone(struct recording *dst, const struct recording *src)
{
	*dst = *src;
	dst->maps.maps = malloc(src->maps.n_maps * sizeof(*src->maps.maps));
	dst->maps.maps_text = NULL;
	dst->regs = calloc(src->maps.n_maps, sizeof(*dst->regs));
	assert_non_null(dst->maps.maps);
	assert_non_null(dst->regs);
	memcpy(dst->maps.maps, src->maps.maps, src->maps.n_maps * sizeof(*src->maps.maps));
	for (size_t i = 0; i < src->maps.n_maps; i++) {
		dst->regs[i] = src->regs[i];
		if (src->regs[i].data) {
			size_t n = src->regs[i].end - src->regs[i].start;

			dst->regs[i].data = malloc(n);
			assert_non_null(dst->regs[i].data);
			memcpy(dst->regs[i].data, src->regs[i].data, n);
		}
	}
	dst->writes = 0;
}

static void clone_free(struct recording *r)
{
	for (size_t i = 0; i < r->maps.n_maps; i++)
		free(r->regs[i].data);
	free(r->regs);
	free(r->maps.maps);
	memset(r, 0, sizeof(*r));
}

/* Copy between the recording and @buf, across adjacent regions like /proc/PID/mem. */
static int rec_io(struct recording *r, uint64_t addr, uint8_t *buf, size_t len, bool write)
{
	while (len) {
		size_t i, n;

		for (i = 0; i < r->maps.n_maps; i++)
			if (addr >= r->regs[i].start && addr < r->regs[i].end)
				break;
		if (i == r->maps.n_maps || !r->regs[i].data)
			return -EIO;
		n = r->regs[i].end - addr < len ? r->regs[i].end - addr : len;
		if (write)
			memcpy(r->regs[i].data + (addr - r->regs[i].start), buf, n);
		else
			memcpy(buf, r->regs[i].data + (addr - r->regs[i].start), n);
		addr += n, buf += n, len -= n;
	}
	return 0;
}

static int v_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	return rec_io(arg, addr, buf, len, false);
}

static int v_write(void *arg, uint64_t addr, const void *buf, size_t len)
{
	struct recording *r = arg;

	r->writes++;
	return rec_io(r, addr, (uint8_t *)buf, len, true);
}

static void v_file_path(void *arg, const struct proc_map *m, char *buf, size_t len)
{
	(void)arg;
	snprintf(buf, len, "%s", m->path);	/* the same files are still installed */
}

static int v_ids(void *arg, pid_t *nspid, uid_t *uid, gid_t *gid)
{
	*nspid = ((struct recording *)arg)->pid;
	*uid = getuid();
	*gid = getgid();
	return 0;
}

static int v_threads(void *arg, proc_thread_fn fn, void *fn_arg)
{
	struct recording *r = arg;
	int ret = 0;

	for (size_t i = 0; i < r->n_th && !ret; i++)
		ret = fn(r->th[i].tid, r->th[i].running, r->th[i].pc, r->th[i].sp, fn_arg);
	return ret;
}

static const struct pview_ops rec_ops = {
	.read = v_read, .write = v_write, .file_path = v_file_path, .ids = v_ids, .for_each_thread = v_threads,
};

static struct pview view_of(struct recording *r)
{
	return (struct pview){ .ops = &rec_ops, .arg = r, .pid = r->pid, .maps = r->maps.maps,
			       .n_maps = r->maps.n_maps };
}

static uint64_t rec_u64(struct recording *r, uint64_t addr)
{
	uint64_t v = 0;

	assert_int_equal(rec_io(r, addr, (uint8_t *)&v, 8, false), 0);
	return v;
}

/* ---- fixtures ---- */
static struct recording orig;		/* the workload, stopped, as recorded */
static struct cpuport_table *table;	/* its scan */
static struct unit_log logbuf;
static char helper[4200];
static bool downgrade_possible;		/* this CPU has features x86-64-v2 lacks */

static struct cpuport_ctx *new_ctx(const char *target)
{
	CPUPORT_OPTS(cpuport_ctx_opts, o, .print = unit_log_cb, .print_arg = &logbuf, .target = target,
		     .helper_path = helper);
	struct cpuport_ctx *c = cpuport_ctx__new(&o);

	assert_non_null(c);
	return c;
}

static int group_setup(void **state)
{
	char bin[4200];
	const char *argv[] = { bin, "@OUT", NULL };
	struct cpuport_ctx *ctx;
	struct unit_child c;
	struct pview v;
	int ret;

	/* SIGPIPE at its default, as in criu: a helper that dies before reading its request
	 * must not end the caller (a failed helper start below does exactly that) */
	signal(SIGPIPE, SIG_DFL);

	(void)state;
	snprintf(bin, sizeof(bin), "%s/build/fixtures/workload", unit_top());
	snprintf(helper, sizeof(helper), "%s/build/bin/cpuport-select", unit_top());
	if (access(bin, X_OK) || access(helper, X_OK))
		UNIT_SKIP_ALL("%s or %s not built: make all fixtures", bin, helper);
	ret = unit_child_start(&c, argv, NULL);
	ret = ret ?: unit_child_wait_lines(&c, c.out, 2, 10000);
	ret = ret ?: unit_child_stop(&c);
	ret = ret ?: record(&orig, c.pid);
	unit_child_kill(&c);
	if (ret) {
		print_error("cannot record the workload: %s\n", strerror(-ret));
		return -1;
	}
	ctx = new_ctx(NULL);
	v = view_of(&orig);
	ret = scan_through(ctx, &v, &table);
	downgrade_possible = ctx->host.level > 2;
	cpuport_ctx__free(ctx);
	if (ret || !table->img->n_slots || !table->img->n_states) {
		print_error("scan of the recording failed (%d) or found nothing\n", ret);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	cpuport_table__free(table);
	rec_free(&orig);
	return 0;
}

static uint64_t slot_addr(const Cpuport__Image *img, const Cpuport__Slot *s)
{
	return img->objects[s->object]->load_base + s->offset;
}

/* Same CPU, same files: every slot keeps its value; ld.so and libgcc state are rewritten. */
static void restore_on_host_changes_no_slot(void **state)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_ctx *ctx = new_ctx(NULL);
	CPUPORT_OPTS(cpuport_restore_stats, st);
	struct recording r;
	struct pview v;

	(void)state;
	rec_clone(&r, &orig);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, img, r.pid, &v, &st), 0);
	assert_int_equal(logbuf.errors, 0);
	assert_int_equal(st.patched, 0);
	assert_int_equal(st.unchanged + st.unbound, img->n_slots);
	assert_true(st.states > 0);
	assert_true(r.writes >= st.states);
	for (size_t i = 0; i < img->n_slots; i++)
		assert_true(rec_u64(&r, slot_addr(img, img->slots[i])) == rec_u64(&orig, slot_addr(img, img->slots[i])));
	clone_free(&r);
	cpuport_ctx__free(ctx);
}

/* Does the code at @addr (size @len, or 4 KiB) in @r run with @have? */
static bool runs_with(struct recording *r, uint64_t addr, uint64_t len, const struct featset *have)
{
	struct featset need = { 0 };	/* isa_required() adds to it */
	uint8_t *code;
	bool ok;

	len = len && len <= (1 << 20) ? len : 4096;
	code = malloc(len);
	assert_non_null(code);
	assert_int_equal(rec_io(r, addr, code, len, false), 0);
	assert_int_equal(isa_required(code, len, addr, &need), 0);
	free(code);
	ok = !(need.w[0] & ~have->w[0]) && !(need.w[1] & ~have->w[1]);
	return ok;
}

/* A writable private word no slot or stack uses: where the test plants a copied pointer. */
/*
 * JIT code (an anonymous executable mapping of AVX code) in a restore as x86-64-v2: refused,
 * naming the mapping, the instruction and its extension and what to do, before the objects'
 * census (which a runtime's large objects make the costly part of a first restore) and before
 * anything is written.  Without the code, the same mapping restores.
 */
static void jit_refused_before_object_census(void **state)
{
	static const uint8_t code[] = { 0xc5, 0xfd, 0xfe, 0xc0, 0xc5, 0xf8, 0x77, 0xc3 };	/* vpaddd ymm; vzeroupper; ret */
	struct cpuport_ctx *ctx;
	struct recording r;
	struct pview v;
	char want[128];
	size_t jit = SIZE_MAX;

	(void)state;
	if (!downgrade_possible)
		UNIT_SKIP("this CPU has nothing x86-64-v2 lacks");
	ctx = new_ctx("x86-64-v2");
	rec_clone(&r, &orig);
	for (size_t i = 0; i < r.maps.n_maps && jit == SIZE_MAX; i++) {	/* an anonymous mapping, no stack */
		const struct proc_map *m = &r.maps.maps[i];
		bool stack = false;

		for (size_t t = 0; t < r.n_th; t++)
			stack |= r.th[t].sp >= m->start && r.th[t].sp < m->end;
		if (!m->path && r.regs[i].data && m->perms[1] == 'w' && !stack)
			jit = i;
	}
	assert_true(jit != SIZE_MAX);
	r.maps.maps[jit].perms[2] = 'x';
	memcpy(r.regs[jit].data, code, sizeof(code));
	v = view_of(&r);
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, table->img, r.pid, &v, NULL), -EDEADLK);
	assert_int_equal(r.writes, 0);
	snprintf(want, sizeof(want), "JIT code in anonymous executable memory %#" PRIx64 "-%#" PRIx64 " uses avx "
		 "(instruction vzeroupper at %#" PRIx64 ")", r.maps.maps[jit].start, r.maps.maps[jit].end,
		 r.maps.maps[jit].start + 4);
	assert_non_null(strstr(logbuf.text, want));
	assert_non_null(strstr(logbuf.text, "start the program on this CPU and dump it again"));
	assert_null(strstr(logbuf.text, "ISA census of"));	/* the objects' census never ran */
	/* the same mapping without code: the restore goes through */
	memset(r.regs[jit].data, 0, sizeof(code));
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, table->img, r.pid, &v, NULL), 0);
	assert_non_null(strstr(logbuf.text, "ISA census of"));
	clone_free(&r);
	cpuport_ctx__free(ctx);
}

/* The index of @r's mapping that holds @addr, or SIZE_MAX. */
static size_t map_holding(const struct recording *r, uint64_t addr)
{
	for (size_t m = 0; m < r->maps.n_maps; m++)
		if (addr >= r->maps.maps[m].start && addr < r->maps.maps[m].end)
			return m;
	return SIZE_MAX;
}

static uint64_t spare_word(const struct recording *r)
{
	for (size_t i = 0; i < r->maps.n_maps; i++) {
		const struct proc_map *m = &r->maps.maps[i];

		if (m->perms[1] == 'w' && m->perms[3] == 'p' && r->regs[i].data && m->path && !strcmp(m->path, "[heap]"))
			return m->end - 64;
	}
	for (size_t i = 0; i < r->maps.n_maps; i++) {	/* no heap: an anonymous writable mapping */
		const struct proc_map *m = &r->maps.maps[i];
		bool stack = false;

		for (size_t t = 0; t < r->n_th; t++)
			stack |= r->th[t].sp >= m->start && r->th[t].sp < m->end;
		if (m->perms[1] == 'w' && m->perms[3] == 'p' && r->regs[i].data && !m->path && !stack)
			return m->end - 64;
	}
	return 0;
}

/*
 * Restore @r as x86-64-v2 with a copy of slot @i's value planted in spare
 * memory.  -EDEADLK when that value is ambiguous (two slots bound to it move
 * apart): the test then tries another slot.
 */
static int restore_with_copy(struct cpuport_ctx *ctx, struct recording *r, const Cpuport__Slot *s,
			     struct cpuport_restore_stats *st, uint64_t *spare)
{
	struct pview v = view_of(r);

	*spare = spare_word(r);
	assert_true(*spare != 0);
	assert_int_equal(rec_io(r, *spare, (uint8_t *)&s->value, 8, true), 0);
	unit_log_reset(&logbuf);
	return restore_through(ctx, table->img, r->pid, &v, st);
}

/* As x86-64-v2: slots move to variants that run there, and copied pointers follow. */
static void restore_as_v2_rebinds_and_repoints(void **state)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_ctx *ctx;
	CPUPORT_OPTS(cpuport_restore_stats, st);
	struct cpuport_table *after = NULL;
	const Cpuport__Slot *moved = NULL;
	struct recording r = { 0 };
	struct pview v;
	uint64_t spare = 0;
	int ret = -EDEADLK;

	(void)state;
	if (!downgrade_possible)
		UNIT_SKIP("this CPU is x86-64-v2 or less: nothing to downgrade");
	ctx = new_ctx("x86-64-v2");
	for (size_t i = 0; i < img->n_slots && ret == -EDEADLK; i++) {
		const Cpuport__Slot *s = img->slots[i];

		if (!s->bound || !s->target || !s->target->has_size ||
		    runs_with(&orig, s->value, s->target->size, &ctx->target.feat))
			continue;	/* a variant x86-64-v2 cannot run: it must move */
		if (moved)
			clone_free(&r);
		moved = s;
		rec_clone(&r, &orig);
		ret = restore_with_copy(ctx, &r, s, &st, &spare);
		if (ret == -EDEADLK)
			assert_non_null(strstr(logbuf.text, "could mean several functions"));
	}
	assert_non_null(moved);
	assert_int_equal(ret, 0);
	assert_int_equal(logbuf.errors, 0);
	assert_true(st.patched > 0);
	assert_true(st.pointers > 0);
	/* the planted copy now holds what its slot holds */
	assert_true(rec_u64(&r, spare) == rec_u64(&r, slot_addr(img, moved)));
	assert_true(rec_u64(&r, spare) != moved->value);

	/* a fresh scan of what was written: every bound variant runs on x86-64-v2 */
	v = view_of(&r);
	assert_int_equal(scan_through(ctx, &v, &after), 0);
	for (size_t i = 0; i < after->img->n_slots; i++) {
		const Cpuport__Slot *s = after->img->slots[i];

		if (!s->bound || !s->target || !s->target->has_size)
			continue;
		if (!runs_with(&r, s->value, s->target->size, &ctx->target.feat))
			fail_msg("slot %s still bound to %s (%s+%#lx), which x86-64-v2 cannot run", s->symbol ?: "(IRELATIVE)",
				 s->target->symbol ?: "?", after->img->objects[s->target->object]->path,
				 (unsigned long)s->target->offset);
	}
	cpuport_table__free(after);
	clone_free(&r);
	cpuport_ctx__free(ctx);
}

/* The image's first stopped thread, placed at @pc (and a stack word at its sp). */
static void put_thread(const Cpuport__Image *img, uint64_t pc, uint64_t *saved_pc)
{
	for (size_t t = 0; t < img->n_threads; t++)
		if (img->threads[t]->has_pc && img->threads[t]->has_sp) {
			*saved_pc = img->threads[t]->pc;
			img->threads[t]->pc = pc;
			return;
		}
	fail_msg("no stopped thread with pc and sp in the image");
}

static const Cpuport__Slot *changing_unrunnable(struct recording *r, const struct featset *have)
{
	const Cpuport__Image *img = table->img;

	for (size_t i = 0; i < img->n_slots; i++) {
		const Cpuport__Slot *s = img->slots[i];

		if (s->bound && s->target && s->target->has_size && s->target->size > 16 &&
		    !runs_with(r, s->value, s->target->size, have))
			return s;
	}
	return NULL;
}

/* A thread stopped inside (or returning into) a variant that must change and cannot run: refuse, write nothing. */
static void thread_in_changing_variant_refused(void **state)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_ctx *ctx;
	const Cpuport__Slot *s;
	struct recording r;
	struct pview v;
	uint64_t saved = 0, sp = 0, ret_addr;

	(void)state;
	if (!downgrade_possible)
		UNIT_SKIP("this CPU is x86-64-v2 or less: nothing to downgrade");
	ctx = new_ctx("x86-64-v2");
	rec_clone(&r, &orig);
	s = changing_unrunnable(&r, &ctx->target.feat);
	assert_non_null(s);

	/* 1. the pc inside it */
	put_thread(img, s->value + 4, &saved);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, img, r.pid, &v, NULL), -EDEADLK);
	assert_int_equal(r.writes, 0);
	assert_non_null(strstr(logbuf.text, "stopped inside"));
	put_thread(img, saved, &saved);

	/*
	 * 2. a return address into it just above the stack pointer, once where the
	 * thread stopped and once with the thread 512 bytes below the top of its
	 * stack (fewer bytes there than the hazard check looks at)
	 */
	for (int near_top = 0; near_top < 2; near_top++) {
		Cpuport__Thread *th = NULL;
		const struct proc_map *m = NULL;

		for (size_t t = 0; t < img->n_threads && !th; t++)
			if (img->threads[t]->has_pc && img->threads[t]->has_sp)
				th = img->threads[t];
		assert_non_null(th);
		for (size_t i = 0; i < r.maps.n_maps; i++)
			if (th->sp >= r.maps.maps[i].start && th->sp < r.maps.maps[i].end)
				m = &r.maps.maps[i];
		assert_non_null(m);
		saved = th->sp;
		sp = near_top ? m->end - 512 : th->sp;
		th->sp = sp;
		ret_addr = s->value + 8;
		assert_int_equal(rec_io(&r, sp + 64, (uint8_t *)&ret_addr, 8, true), 0);
		r.writes = 0;
		unit_log_reset(&logbuf);
		print_message("return address at sp+64, %s\n", near_top ? "512 bytes below the stack's top" : "sp as stopped");
		assert_int_equal(restore_through(ctx, img, r.pid, &v, NULL), -EDEADLK);
		assert_int_equal(r.writes, 0);
		assert_non_null(strstr(logbuf.text, "with a return into"));
		th->sp = saved;
	}
	clone_free(&r);
	cpuport_ctx__free(ctx);
}

/* A second process of the same restore asks nothing: the helper is not even there, same result. */
static void answer_cache_serves_second_process(void **state)
{
	struct cpuport_ctx *ctx = new_ctx(downgrade_possible ? "x86-64-v2" : NULL), *fresh;
	struct recording a, b;
	struct pview va, vb;

	(void)state;
	rec_clone(&a, &orig);
	rec_clone(&b, &orig);
	va = view_of(&a);
	vb = view_of(&b);
	assert_int_equal(restore_through(ctx, table->img, a.pid, &va, NULL), 0);
	free(ctx->helper_path);
	ctx->helper_path = strdup("/nonexistent/cpuport-select");
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, table->img, b.pid, &vb, NULL), 0);
	assert_int_equal(logbuf.errors, 0);
	for (size_t i = 0; i < a.maps.n_maps; i++)
		if (a.regs[i].data)
			assert_memory_equal(a.regs[i].data, b.regs[i].data, a.regs[i].end - a.regs[i].start);
	/* without the cache, that helper path fails the restore closed */
	fresh = new_ctx(NULL);
	free(fresh->helper_path);
	fresh->helper_path = strdup("/nonexistent/cpuport-select");
	clone_free(&b);
	rec_clone(&b, &orig);
	vb = view_of(&b);
	assert_int_equal(restore_through(fresh, table->img, b.pid, &vb, NULL), -ECHILD);
	assert_int_equal(b.writes, 0);
	cpuport_ctx__free(fresh);
	clone_free(&a);
	clone_free(&b);
	cpuport_ctx__free(ctx);
}

/* ---- defect 4: copied-pointer writes never put back the old bytes of a planned write ---- */
static bool recorded_at(const Cpuport__Image *img, uint64_t addr)
{
	for (size_t i = 0; i < img->n_slots; i++)
		if (slot_addr(img, img->slots[i]) < addr + 8 && slot_addr(img, img->slots[i]) + 8 > addr)
			return true;
	for (size_t i = 0; i < img->n_states; i++) {
		uint64_t a = img->objects[img->states[i]->object]->load_base + img->states[i]->offset;

		if (a < addr + 8 && a + img->states[i]->size > addr)
			return true;
	}
	return false;
}

/*
 * A slot that moves, in writable memory, with copies of its old value planted
 * on both sides of it in the same chunk: the copies are re-pointed by the
 * pointer scan, and the slot keeps its new value (one write spanning both
 * copies used to carry the slot's old bytes back over it, and both
 * read-backs passed).
 */
static void pointer_writes_keep_planned_slots(void **state)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_ctx *ctx;
	bool done = false;

	(void)state;
	if (!downgrade_possible)
		UNIT_SKIP("this CPU is x86-64-v2 or less: nothing to downgrade");
	ctx = new_ctx("x86-64-v2");
	for (size_t i = 0; i < img->n_slots && !done; i++) {
		const Cpuport__Slot *s = img->slots[i];
		uint64_t S = slot_addr(img, s), p1 = 0, p2 = 0, cs = 0, ce = 0;
		struct recording r;
		struct pview v;
		int ret;

		if (!s->bound || !s->target || !s->target->has_size ||
		    runs_with(&orig, s->value, s->target->size, &ctx->target.feat))
			continue;
		for (size_t m = 0; m < orig.maps.n_maps; m++) {
			const struct proc_map *mp = &orig.maps.maps[m];

			if (S >= mp->start && S < mp->end && mp->perms[1] == 'w' && mp->perms[3] == 'p') {
				cs = mp->start + (S - mp->start) / WRITE_MAX * WRITE_MAX;
				ce = cs + WRITE_MAX < mp->end ? cs + WRITE_MAX : mp->end;
			}
		}
		if (!cs)
			continue;	/* read-only after RELRO: not scanned */
		for (uint64_t a = S - 8; a >= cs && a < S && !p1; a -= 8)
			p1 = recorded_at(img, a) ? 0 : a;
		for (uint64_t a = S + 8; a + 8 <= ce && !p2; a += 8)
			p2 = recorded_at(img, a) ? 0 : a;
		if (!p1 || !p2)
			continue;
		rec_clone(&r, &orig);
		assert_int_equal(rec_io(&r, p1, (uint8_t *)&s->value, 8, true), 0);
		assert_int_equal(rec_io(&r, p2, (uint8_t *)&s->value, 8, true), 0);
		v = view_of(&r);
		unit_log_reset(&logbuf);
		ret = restore_through(ctx, img, r.pid, &v, NULL);
		if (ret == -EDEADLK) {	/* that value is ambiguous: try another slot */
			clone_free(&r);
			continue;
		}
		assert_int_equal(ret, 0);
		print_message("slot %s at %#lx between copies at %#lx and %#lx: %#lx -> %#lx\n",
			      s->symbol ?: "(IRELATIVE)", (unsigned long)S, (unsigned long)p1, (unsigned long)p2,
			      (unsigned long)s->value, (unsigned long)rec_u64(&r, S));
		assert_true(rec_u64(&r, S) != s->value);	/* the slot moved, and stayed moved */
		assert_true(rec_u64(&r, p1) == rec_u64(&r, S));
		assert_true(rec_u64(&r, p2) == rec_u64(&r, S));
		clone_free(&r);
		done = true;
	}
	if (!done)
		UNIT_SKIP("no changing slot in writable memory with room for copies around it");
	cpuport_ctx__free(ctx);
}

/* ---- defect 8: the hazard check without the variants' symbol sizes ---- */
/*
 * As without debug symbols (the image knows no variant sizes): a thread
 * stopped inside a changing variant, 64 bytes after its entry, is still
 * refused; its extent comes from the object's .eh_frame.  And every sized
 * function of the fixture library has the FDE extent its symbol says.
 */
static void thread_hazard_without_sizes(void **state)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_ctx *ctx;
	const Cpuport__Slot *s;
	Cpuport__Location *t;
	struct recording r;
	struct pview v;
	uint64_t saved = 0, size;
	bool had;

	(void)state;
	if (!downgrade_possible)
		UNIT_SKIP("this CPU is x86-64-v2 or less: nothing to downgrade");
	ctx = new_ctx("x86-64-v2");
	rec_clone(&r, &orig);
	s = changing_unrunnable(&r, &ctx->target.feat);
	assert_non_null(s);
	t = s->target;
	had = t->has_size;
	size = t->size;
	/* every slot bound to that variant forgets its size, as a dump without debug symbols records */
	for (size_t i = 0; i < img->n_slots; i++)
		if (img->slots[i]->target && img->slots[i]->value == s->value)
			img->slots[i]->target->has_size = false, img->slots[i]->target->size = 0;
	put_thread(img, s->value + (size > 64 ? 64 : size / 2), &saved);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, img, r.pid, &v, NULL), -EDEADLK);
	assert_non_null(strstr(logbuf.text, "stopped inside"));
	assert_int_equal(r.writes, 0);
	put_thread(img, saved, &saved);
	for (size_t i = 0; i < img->n_slots; i++)
		if (img->slots[i]->target && img->slots[i]->value == s->value)
			img->slots[i]->target->has_size = had, img->slots[i]->target->size = size;
	clone_free(&r);
	cpuport_ctx__free(ctx);
}

/*
 * An object that holds records but whose image entry has no build-id cannot be proven to be the
 * file of the dump: the restore is refused before anything is written (defect 5).
 */
static void object_without_build_id_refused(void **state)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_ctx *ctx = new_ctx(NULL);
	Cpuport__Object *ob = NULL;
	struct recording r;
	struct pview v;
	protobuf_c_boolean had;

	(void)state;
	for (size_t i = 0; i < img->n_slots && !ob; i++)	/* an object that holds slots */
		if (img->objects[img->slots[i]->object]->has_build_id)
			ob = img->objects[img->slots[i]->object];
	assert_non_null(ob);
	had = ob->has_build_id;
	ob->has_build_id = false;
	rec_clone(&r, &orig);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, img, r.pid, &v, NULL), -ESTALE);
	assert_int_equal(r.writes, 0);
	assert_non_null(strstr(logbuf.text, "has no build-id"));
	assert_non_null(strstr(logbuf.text, ob->path));
	ob->has_build_id = had;
	/* the same image with the build-id restores */
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, img, r.pid, &v, NULL), 0);
	clone_free(&r);
	cpuport_ctx__free(ctx);
}

/*
 * A variant that must change, cannot run on the target, and whose extent is unknown (no symbol
 * size in the image, no unwind information in its object): cpuport cannot tell whether a thread
 * is inside it, so the restore is refused, nothing written (defect 8).  The workload runs with a
 * libclones.so built without unwind tables (build/fixtures/nounwind); with the sizes the dump
 * recorded, the same restore goes through.
 */
static void unknown_extent_unrunnable_refused(void **state)
{
	char bin[4200], dir[4200];
	const char *argv[] = { bin, "@OUT", NULL };
	struct cpuport_table *t = NULL;
	struct cpuport_ctx *ctx;
	const Cpuport__Slot *s = NULL;
	struct recording rec, r;
	struct unit_child c;
	struct pview v;
	int ret;

	(void)state;
	if (!downgrade_possible)
		UNIT_SKIP("this CPU is x86-64-v2 or less: nothing to downgrade");
	snprintf(bin, sizeof(bin), "%s/build/fixtures/workload", unit_top());
	snprintf(dir, sizeof(dir), "%s/build/fixtures/nounwind", unit_top());
	assert_int_equal(access(dir, R_OK), 0);
	setenv("LD_LIBRARY_PATH", dir, 1);	/* before the RUNPATH to build/fixtures */
	ret = unit_child_start(&c, argv, NULL);
	unsetenv("LD_LIBRARY_PATH");
	ret = ret ?: unit_child_wait_lines(&c, c.out, 2, 10000);
	ret = ret ?: unit_child_stop(&c);
	ret = ret ?: record(&rec, c.pid);
	unit_child_kill(&c);
	assert_int_equal(ret, 0);
	ctx = new_ctx("x86-64-v2");
	v = view_of(&rec);
	assert_int_equal(scan_through(ctx, &v, &t), 0);
	for (size_t i = 0; i < t->img->n_slots && !s; i++) {	/* a variant of the library without unwind info */
		const Cpuport__Slot *x = t->img->slots[i];

		if (x->bound && x->target && x->target->has_size && strstr(t->img->objects[x->target->object]->path,
									     "/nounwind/") &&
		    !runs_with(&rec, x->value, x->target->size, &ctx->target.feat))
			s = x;
	}
	assert_non_null(s);
	print_message("variant %s at %#lx of %s\n", s->target->symbol ?: "?", (unsigned long)s->value,
		      t->img->objects[s->target->object]->path);

	/* with the sizes the dump recorded: restored */
	rec_clone(&r, &rec);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, t->img, r.pid, &v, NULL), 0);
	assert_true(r.writes > 0);
	clone_free(&r);

	/* without them, as a dump without debug symbols records: refused, nothing written */
	for (size_t i = 0; i < t->img->n_slots; i++)
		if (t->img->slots[i]->target && t->img->slots[i]->value == s->value)
			t->img->slots[i]->target->has_size = false, t->img->slots[i]->target->size = 0;
	rec_clone(&r, &rec);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, t->img, r.pid, &v, NULL), -EDEADLK);
	assert_int_equal(r.writes, 0);
	assert_non_null(strstr(logbuf.text, "cannot tell where"));
	clone_free(&r);
	cpuport_table__free(t);
	rec_free(&rec);
	cpuport_ctx__free(ctx);
}

/* A return address into a changing variant 8 KiB above the stack pointer (past the 4 KiB once read). */
static void deep_return_address_refused(void **state)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_ctx *ctx;
	const Cpuport__Slot *s;
	Cpuport__Thread *th = NULL;
	struct recording r;
	struct pview v;
	uint64_t ret_addr, at = 0;

	(void)state;
	if (!downgrade_possible)
		UNIT_SKIP("this CPU is x86-64-v2 or less: nothing to downgrade");
	ctx = new_ctx("x86-64-v2");
	rec_clone(&r, &orig);
	s = changing_unrunnable(&r, &ctx->target.feat);
	assert_non_null(s);
	for (size_t t = 0; t < img->n_threads && !th; t++)
		if (img->threads[t]->has_pc && img->threads[t]->has_sp)
			th = img->threads[t];
	assert_non_null(th);
	/* the thread as if stopped 8 KiB deeper (its stack mapping has room below) */
	for (size_t i = 0; i < r.maps.n_maps; i++)
		if (th->sp >= r.maps.maps[i].start && th->sp < r.maps.maps[i].end &&
		    th->sp - r.maps.maps[i].start > 16384 && r.regs[i].data)
			at = th->sp & ~7ULL;
	if (!at) {
		clone_free(&r);
		cpuport_ctx__free(ctx);
		UNIT_SKIP("the thread's stack mapping has no room below its sp");
	}
	th->sp -= 8192;
	ret_addr = s->value + 4;
	assert_int_equal(rec_io(&r, at, (uint8_t *)&ret_addr, 8, true), 0);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, img, r.pid, &v, NULL), -EDEADLK);
	th->sp += 8192;
	assert_non_null(strstr(logbuf.text, "with a return into"));
	assert_int_equal(r.writes, 0);
	clone_free(&r);
	cpuport_ctx__free(ctx);
}

static void eh_frame_extents_match_symbols(void **state)
{
	char lib[4200];
	struct elf_info e;
	size_t checked = 0;
	int fd;

	(void)state;
	snprintf(lib, sizeof(lib), "%s/build/fixtures/libclones.so", unit_top());
	assert_int_equal(elf_info_load(NULL, lib, &e), 0);
	fd = open(lib, O_RDONLY);
	assert_true(fd >= 0);
	for (size_t i = 0; i < e.n_syms; i++) {
		uint64_t start, len;

		if (e.syms[i].type != STT_FUNC || !e.syms[i].size)
			continue;
		assert_int_equal(eh_frame_extent(fd, &e, e.syms[i].value + e.syms[i].size / 2, &start, &len), 0);
		assert_int_equal(start, e.syms[i].value);
		assert_int_equal(len, e.syms[i].size);
		checked++;
	}
	print_message("%zu functions: FDE extent = symbol extent\n", checked);
	assert_true(checked >= 4);	/* lib_kernel's clones and lib_has_avx2 */
	close(fd);
	elf_info_free(&e);
}

/* ---- defect 6: which memory the copied-pointer scan covers ---- */
/* A word of a read-only private mapping of a recorded object (its RELRO part) that no record uses. */
static uint64_t relro_word(const struct recording *r, const Cpuport__Image *img)
{
	for (size_t i = 0; i < r->maps.n_maps; i++) {
		const struct proc_map *m = &r->maps.maps[i];

		if (strcmp(m->perms, "r--p") || !m->path || m->path[0] != '/' || !r->regs[i].data || m->off == 0)
			continue;
		for (size_t o = 0; o < img->n_objects; o++) {
			if (strcmp(img->objects[o]->path, m->path))
				continue;
			for (uint64_t a = m->end - 8; a >= m->start; a -= 8)
				if (!recorded_at(img, a))
					return a;
		}
	}
	return 0;
}

/*
 * A copy of a moving slot's old value in .data.rel.ro (read-only after RELRO)
 * is re-pointed; in shared memory it is refused; memory that cannot be read
 * refuses the restore instead of ending the scan silently.
 */
static void pointer_scan_covers_relro_shared_unreadable(void **state)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_ctx *ctx;
	bool done = false;

	(void)state;
	if (!downgrade_possible)
		UNIT_SKIP("this CPU is x86-64-v2 or less: nothing to downgrade");
	ctx = new_ctx("x86-64-v2");
	for (size_t i = 0; i < img->n_slots && !done; i++) {
		const Cpuport__Slot *s = img->slots[i];
		struct recording r;
		struct pview v;
		uint64_t ro, spare;
		size_t heap = SIZE_MAX;
		int ret;

		if (!s->bound || !s->target || !s->target->has_size ||
		    runs_with(&orig, s->value, s->target->size, &ctx->target.feat))
			continue;
		/* 1. RELRO */
		rec_clone(&r, &orig);
		ro = relro_word(&r, img);
		if (!ro) {
			clone_free(&r);
			UNIT_SKIP("no read-only mapping of a recorded object in the recording");
		}
		assert_int_equal(rec_io(&r, ro, (uint8_t *)&s->value, 8, true), 0);
		v = view_of(&r);
		unit_log_reset(&logbuf);
		ret = restore_through(ctx, img, r.pid, &v, NULL);
		if (ret == -EDEADLK) {	/* ambiguous value: try another slot */
			clone_free(&r);
			continue;
		}
		assert_int_equal(ret, 0);
		print_message("copy at %#lx (read-only): %#lx -> %#lx\n", (unsigned long)ro, (unsigned long)s->value,
			      (unsigned long)rec_u64(&r, ro));
		assert_true(rec_u64(&r, ro) == rec_u64(&r, slot_addr(img, s)));
		assert_true(rec_u64(&r, ro) != s->value);
		clone_free(&r);
		/* 2. the same copy in memory marked shared: refused, nothing written */
		rec_clone(&r, &orig);
		spare = spare_word(&r);
		assert_true(spare != 0);
		assert_int_equal(rec_io(&r, spare, (uint8_t *)&s->value, 8, true), 0);
		heap = map_holding(&r, spare);
		assert_true(heap != SIZE_MAX);
		r.maps.maps[heap].perms[3] = 's';
		v = view_of(&r);
		unit_log_reset(&logbuf);
		assert_int_equal(restore_through(ctx, img, r.pid, &v, NULL), -EDEADLK);
		assert_non_null(strstr(logbuf.text, "is in shared memory"));
		assert_int_equal(r.writes, 0);
		clone_free(&r);
		/* 3. a writable mapping that cannot be read: refused */
		rec_clone(&r, &orig);
		spare = spare_word(&r);
		heap = map_holding(&r, spare);
		assert_true(heap != SIZE_MAX);
		free(r.regs[heap].data);
		r.regs[heap].data = NULL;
		v = view_of(&r);
		unit_log_reset(&logbuf);
		assert_true(restore_through(ctx, img, r.pid, &v, NULL) < 0);
		assert_non_null(strstr(logbuf.text, "to check it for copied function pointers"));
		assert_int_equal(r.writes, 0);
		clone_free(&r);
		done = true;
	}
	if (!done)
		UNIT_SKIP("every changing variant is ambiguous here");
	cpuport_ctx__free(ctx);
}

/*
 * Copied function pointers inside thread stacks (a local `fp = memcpy`) and inside a mapping
 * holding some thread's stack pointer (a coroutine stack in the heap) are re-pointed like any
 * other private memory (defect 6: every mapping with a thread's sp used to be skipped).
 */
static void pointers_in_thread_stacks_repointed(void **state)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_ctx *ctx;
	bool done = false;

	(void)state;
	if (!downgrade_possible)
		UNIT_SKIP("this CPU is x86-64-v2 or less: nothing to downgrade");
	ctx = new_ctx("x86-64-v2");
	for (size_t i = 0; i < img->n_slots && !done; i++) {
		const Cpuport__Slot *s = img->slots[i];
		uint64_t planted[ARRAY_SIZE(orig.th) + 1], heap_sp, saved_sp = 0;
		Cpuport__Thread *moved_th = NULL;
		size_t n_planted = 0;
		struct recording r;
		struct pview v;
		int ret;

		if (!s->bound || !s->target || !s->target->has_size ||
		    runs_with(&orig, s->value, s->target->size, &ctx->target.feat))
			continue;	/* a variant x86-64-v2 cannot run: it must move */
		rec_clone(&r, &orig);
		/* 1. a copy just above each stopped thread's stack pointer, in its own stack */
		for (size_t t = 0; t < img->n_threads; t++) {
			const Cpuport__Thread *th = img->threads[t];

			if (!th->has_sp || rec_io(&r, th->sp + 64, (uint8_t *)&s->value, 8, true))
				continue;
			planted[n_planted++] = th->sp + 64;
		}
		assert_true(n_planted > 0);
		/* 2. a thread whose stack pointer is in the heap (a coroutine stack), a copy above it */
		heap_sp = spare_word(&r);
		assert_true(heap_sp != 0);
		heap_sp -= 192;
		for (size_t t = 0; t < img->n_threads && !moved_th; t++)
			if (img->threads[t]->has_sp && img->threads[t]->has_pc)
				moved_th = img->threads[t];
		assert_non_null(moved_th);
		saved_sp = moved_th->sp;
		moved_th->sp = heap_sp;
		assert_int_equal(rec_io(&r, heap_sp + 64, (uint8_t *)&s->value, 8, true), 0);
		planted[n_planted++] = heap_sp + 64;

		v = view_of(&r);
		unit_log_reset(&logbuf);
		ret = restore_through(ctx, img, r.pid, &v, NULL);
		moved_th->sp = saved_sp;
		if (ret == -EDEADLK && strstr(logbuf.text, "could mean several functions")) {
			clone_free(&r);	/* ambiguous value: try another slot */
			continue;
		}
		assert_int_equal(ret, 0);
		assert_true(rec_u64(&r, slot_addr(img, s)) != s->value);
		for (size_t k = 0; k < n_planted; k++) {
			print_message("copy at %#lx (%s): %#lx -> %#lx\n", (unsigned long)planted[k],
				      k + 1 < n_planted ? "thread stack" : "heap holding a thread's sp",
				      (unsigned long)s->value, (unsigned long)rec_u64(&r, planted[k]));
			assert_true(rec_u64(&r, planted[k]) == rec_u64(&r, slot_addr(img, s)));
		}
		clone_free(&r);
		done = true;
	}
	assert_true(done);
	cpuport_ctx__free(ctx);
}

/* ---- defect 2: answers are shared only within one privilege context and helper input ---- */
static pid_t other_task;	/* a process of another uid (root only) */

static pid_t v_other_task(void *arg)
{
	(void)arg;
	return other_task;
}

/*
 * Process A's answers must not serve process B when B's helper would run
 * otherwise: other GLIBC_TUNABLES, or another uid.  With the helper gone, B
 * then fails closed (-ECHILD) instead of taking A's answers.
 */
static void answer_cache_keyed_by_context(void **state)
{
	struct cpuport_ctx *ctx = new_ctx(NULL);
	Cpuport__Image img = *table->img;
	Cpuport__Process proc = CPUPORT__PROCESS__INIT;
	struct pview_ops other_ops = rec_ops;
	struct recording a, b;
	struct pview va, vb;

	(void)state;
	if (table->img->proc)
		proc = *table->img->proc;
	rec_clone(&a, &orig);
	va = view_of(&a);
	assert_int_equal(restore_through(ctx, table->img, a.pid, &va, NULL), 0);
	free(ctx->helper_path);
	ctx->helper_path = strdup("/nonexistent/cpuport-select");
	/* the same image again: served from the cache (the helper is not there) */
	rec_clone(&b, &orig);
	vb = view_of(&b);
	assert_int_equal(restore_through(ctx, table->img, b.pid, &vb, NULL), 0);
	clone_free(&b);
	/* other GLIBC_TUNABLES: not the same helper input */
	proc.glibc_tunables = "glibc.cpu.x86_rep_movsb_threshold=4096";
	img.proc = &proc;
	rec_clone(&b, &orig);
	vb = view_of(&b);
	unit_log_reset(&logbuf);
	assert_int_equal(restore_through(ctx, &img, b.pid, &vb, NULL), -ECHILD);
	assert_int_equal(b.writes, 0);
	clone_free(&b);
	/* another uid (a live process running as nobody): not the same privilege */
	if (geteuid() == 0) {
		pid_t c = fork();

		if (c == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(1);
			pause();
			_exit(0);
		}
		assert_true(c > 0);
		for (int i = 0; i < 200; i++) {	/* until it runs as nobody */
			char p[64], *st;

			snprintf(p, sizeof(p), "/proc/%d/status", c);
			st = unit_run(NULL, "grep '^Uid:' %s", p);
			if (st && strstr(st, "65534")) {
				free(st);
				break;
			}
			free(st);
			usleep(10000);
		}
		other_task = c;
		other_ops.task = v_other_task;
		rec_clone(&b, &orig);
		vb = view_of(&b);
		vb.ops = &other_ops;
		assert_int_equal(restore_through(ctx, table->img, b.pid, &vb, NULL), -ECHILD);
		assert_int_equal(b.writes, 0);
		clone_free(&b);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
	}
	clone_free(&a);
	cpuport_ctx__free(ctx);
}

/*
 * Defect 1: the helper takes the live task's ids from /proc/PID/status; when
 * they cannot be read (the task is gone), the restore fails before the helper
 * runs, never with the helper as root.
 */
static void helper_ids_unreadable_fail_closed(void **state)
{
	struct cpuport_ctx *ctx = new_ctx(NULL);
	struct pview_ops gone_ops = rec_ops;
	struct recording r;
	struct pview v;
	pid_t c = fork();

	(void)state;
	if (c == 0)
		_exit(0);
	assert_true(c > 0);
	waitpid(c, NULL, 0);	/* reaped: /proc/c/status no longer exists */
	other_task = c;
	gone_ops.task = v_other_task;
	rec_clone(&r, &orig);
	v = view_of(&r);
	v.ops = &gone_ops;
	unit_log_reset(&logbuf);
	assert_true(restore_through(ctx, table->img, r.pid, &v, NULL) < 0);
	assert_non_null(strstr(logbuf.text, "not running the selection helper as root instead"));
	assert_null(strstr(logbuf.text, "selection helper runs as"));
	assert_int_equal(r.writes, 0);
	clone_free(&r);
	cpuport_ctx__free(ctx);
}

/* With @bin as the helper, the restore fails, writes nothing and logs @msg. */
static void refused_with_helper(const char *bin, const char *msg)
{
	struct cpuport_ctx *ctx = new_ctx(NULL);
	struct recording r;
	struct pview v;

	free(ctx->helper_path);
	ctx->helper_path = strdup(bin);
	rec_clone(&r, &orig);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	assert_true(restore_through(ctx, table->img, r.pid, &v, NULL) < 0);
	assert_int_equal(r.writes, 0);
	assert_non_null(strstr(logbuf.text, msg));
	clone_free(&r);
	cpuport_ctx__free(ctx);
}

/* A helper whose answers are malformed (object out of range, wrong sizes): no write at all. */
static void malformed_helper_fails_closed(void **state)
{
	static const char *const answers[] = {
		"res 0 9999 16",	/* an object the image does not have */
		"bytes 0 00",		/* the wrong kind and size for request 0 */
		"res 0 0 16 extra",
		"frobnicate",
	};
	char dir[] = "/tmp/cpuport-unit.XXXXXX", src[128], bin[128];
	char *out;
	int st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755);
	for (size_t i = 0; i < ARRAY_SIZE(answers); i++) {
		FILE *f;

		snprintf(src, sizeof(src), "%s/fake.c", dir);
		snprintf(bin, sizeof(bin), "%s/fake", dir);
		f = fopen(src, "w");
		assert_non_null(f);
		/* answers go to the fd the library names (CPUPORT_SELECT_ANSWER_FD), not stdout */
		fprintf(f, "#include <stdio.h>\n#include <stdlib.h>\nint main(void){char l[9000];"
			   "FILE *o=fdopen(atoi(getenv(\"CPUPORT_SELECT_ANSWER_FD\")),\"w\");"
			   "while(fgets(l,sizeof l,stdin));"
			   "fputs(\"glibc 2.36\\n%s\\ndone\\n\",o);return 0;}\n", answers[i]);
		fclose(f);
		out = unit_run(&st, "cc -o %s %s 2>&1", bin, src);
		free(out);
		if (st)
			UNIT_SKIP("no C compiler to build a fake helper");
		print_message("helper answers: %s\n", answers[i]);
		refused_with_helper(bin, "malformed answer");
		unlink(bin);
		unlink(src);
	}
	rmdir(dir);
}

/*
 * EINTR in the helper I/O (defect 9): a SIGALRM interval timer (handler with SA_RESTART, as a
 * host program may have) fires every millisecond during the whole selection.  With the real
 * helper the restore gives the same result as without the timer; with a stand-in helper that
 * reads its request and then stays silent for 4 s holding its answer pipe, the call still ends at
 * its 300 ms deadline (plus the 2 s the reap allows after SIGKILL) as a timeout, nothing written:
 * an interrupted poll() must neither fall into a blocking read nor restart without the deadline.
 */
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* also after a failed assertion: no timer left for the next tests */
static int timer_off(void **state)
{
	const struct itimerval off = { { 0, 0 }, { 0, 0 } };

	(void)state;
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	return 0;
}

static void helper_eintr_keeps_deadline(void **state)
{
	const struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART }, old_sa;
	char dir[] = "/tmp/cpuport-unit.XXXXXX", src[128], bin[128];
	struct cpuport_ctx *ctx;
	struct recording r;
	struct pview v;
	uint64_t t0, ms;
	char *out;
	FILE *f;
	int st, ret;

	(void)state;
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(src, sizeof(src), "%s/silent.c", dir);
	snprintf(bin, sizeof(bin), "%s/silent", dir);
	f = fopen(src, "w");
	assert_non_null(f);
	/* reads the whole request, then holds its answer pipe open without a word */
	fputs("#include <stdio.h>\n#include <unistd.h>\nint main(void){char l[9000];"
	      "while(fgets(l,sizeof l,stdin));sleep(4);return 0;}\n", f);
	fclose(f);
	out = unit_run(&st, "cc -o %s %s 2>&1", bin, src);
	free(out);
	unlink(src);
	if (st) {
		rmdir(dir);
		UNIT_SKIP("no C compiler to build a stand-in helper");
	}
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &every_ms, NULL), 0);

	/* 1. the real helper under the timer: the same result as ever */
	ctx = new_ctx(NULL);
	rec_clone(&r, &orig);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	alarms = 0;
	ret = restore_through(ctx, table->img, r.pid, &v, NULL);
	print_message("real helper: %d, %d timer signals\n", ret, (int)alarms);
	assert_int_equal(ret, 0);
	assert_int_equal(logbuf.errors, 0);
	assert_true(alarms > 0);
	clone_free(&r);
	cpuport_ctx__free(ctx);

	/* 2. a silent stand-in helper: the deadline holds */
	ctx = new_ctx(NULL);
	free(ctx->helper_path);
	ctx->helper_path = strdup(bin);
	ctx->helper_timeout_ms = 300;
	rec_clone(&r, &orig);
	v = view_of(&r);
	unit_log_reset(&logbuf);
	alarms = 0;
	t0 = unit_now_ms();
	ret = restore_through(ctx, table->img, r.pid, &v, NULL);
	ms = unit_now_ms() - t0;
	print_message("silent helper: %d after %lu ms, %d timer signals\n", ret, (unsigned long)ms, (int)alarms);
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old_sa, NULL), 0);
	assert_true(ret < 0);
	assert_non_null(strstr(logbuf.text, "timed out"));
	assert_int_equal(r.writes, 0);
	assert_true(ms < 300 + 2000 + 500);	/* the deadline, the reap's grace after SIGKILL, scheduling */
	assert_true(alarms > 0);
	clone_free(&r);
	cpuport_ctx__free(ctx);
	unlink(bin);
	rmdir(dir);
}

/*
 * A helper that answers each resolver call with the resolver's own address:
 * code of the right object, but no address that resolver's code can return
 * (its variant set, from capstone and the relocations): refused, no write.
 */
static void answer_outside_variant_set_refused(void **state)
{
	char dir[] = "/tmp/cpuport-unit.XXXXXX", src[128], bin[128];
	char *out;
	int st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(src, sizeof(src), "%s/self.c", dir);
	snprintf(bin, sizeof(bin), "%s/self", dir);
	out = unit_run(&st, "sed 's/sig = call_resolver(objs\\[m->obj\\].base + m->arg\\[0\\], &res);/"
		       "sig = 0; res = objs[m->obj].base + m->arg[0];/' %s/resolver/select_helper.c >%s && "
		       "grep -q 'res = objs.m->obj..base + m->arg.0.;' %s && "
		       "cc -O1 -I%s/resolver -Wl,-z,lazy -o %s %s %s/resolver/selproto.c 2>&1",
		       unit_top(), src, src, unit_top(), bin, src, unit_top());
	if (st) {
		print_message("%s", out);
		free(out);
		UNIT_SKIP("cannot build the lying helper");
	}
	free(out);
	chmod(bin, 0755);
	refused_with_helper(bin, "is not a variant its resolver can return");
	unlink(bin);
	unlink(src);
	rmdir(dir);
}

/* cpuport check's view: the image's own values, files by path; its JSON parses. */
static void check_report_is_json(void **state)
{
	struct cpuport_ctx *ctx = new_ctx(downgrade_possible ? "x86-64-v2" : NULL);
	char path[] = "/tmp/cpuport-unit-check.XXXXXX";
	struct pview v;
	char *out;
	FILE *f;
	int fd, st, ret;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_int_equal(pview_image_open(&v, ctx, table->img), 0);
	ret = check_through(ctx, table->img, orig.pid, &v, f, true);
	pview_close(&v);
	fclose(f);
	assert_int_equal(ret, 0);
	out = unit_run(&st, "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d[\"slots\"]))' %s",
		       path);
	assert_int_equal(st, 0);
	assert_int_equal(atoi(out), table->img->n_slots);
	free(out);
	unlink(path);
	cpuport_ctx__free(ctx);
}

static void json_strings_escaped(void **state)
{
	char buf[128] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	print_json_str(f, "/a \"b\"\\c\n");
	fclose(f);
	assert_string_equal(buf, "\"/a \\\"b\\\"\\\\c\\u000a\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(restore_on_host_changes_no_slot),
		cmocka_unit_test(restore_as_v2_rebinds_and_repoints),
		cmocka_unit_test(thread_in_changing_variant_refused),
		cmocka_unit_test(answer_cache_serves_second_process),
		cmocka_unit_test(answer_cache_keyed_by_context),
		cmocka_unit_test(helper_ids_unreadable_fail_closed),
		cmocka_unit_test(pointer_writes_keep_planned_slots),
		cmocka_unit_test(pointer_scan_covers_relro_shared_unreadable),
		cmocka_unit_test(pointers_in_thread_stacks_repointed),
		cmocka_unit_test(thread_hazard_without_sizes),
		cmocka_unit_test(deep_return_address_refused),
		cmocka_unit_test(unknown_extent_unrunnable_refused),
		cmocka_unit_test(eh_frame_extents_match_symbols),
		cmocka_unit_test(object_without_build_id_refused),
		cmocka_unit_test(jit_refused_before_object_census),
		cmocka_unit_test(malformed_helper_fails_closed),
		cmocka_unit_test_teardown(helper_eintr_keeps_deadline, timer_off),
		cmocka_unit_test(answer_outside_variant_set_refused),
		cmocka_unit_test(check_report_is_json),
		cmocka_unit_test(json_strings_escaped),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
