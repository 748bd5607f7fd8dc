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
#include <sys/mman.h>
#include <sys/stat.h>

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
	struct cpuport_ctx *ctx;
	struct recording r;
	struct pview v;
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
		fprintf(f, "#include <stdio.h>\nint main(void){char l[9000];while(fgets(l,sizeof l,stdin));"
			   "puts(\"glibc 2.36\\n%s\\ndone\");return 0;}\n", answers[i]);
		fclose(f);
		out = unit_run(&st, "cc -o %s %s 2>&1", bin, src);
		free(out);
		if (st)
			UNIT_SKIP("no C compiler to build a fake helper");
		ctx = new_ctx(NULL);
		free(ctx->helper_path);
		ctx->helper_path = strdup(bin);
		rec_clone(&r, &orig);
		v = view_of(&r);
		unit_log_reset(&logbuf);
		print_message("helper answers: %s\n", answers[i]);
		assert_true(restore_through(ctx, table->img, r.pid, &v, NULL) < 0);
		assert_int_equal(r.writes, 0);
		assert_non_null(strstr(logbuf.text, "malformed answer"));
		clone_free(&r);
		cpuport_ctx__free(ctx);
		unlink(bin);
		unlink(src);
	}
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
		cmocka_unit_test(malformed_helper_fails_closed),
		cmocka_unit_test(check_report_is_json),
		cmocka_unit_test(json_strings_escaped),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
