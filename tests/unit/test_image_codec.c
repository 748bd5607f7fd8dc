// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * image_codec.c: a table scanned from a real child process round-trips
 * byte for byte; images crafted with the generated protobuf-c API
 * (cpuport__image__pack) and corrupted ones (every truncation, seeded byte
 * flips, each inconsistency validate() is there for) are rejected with the
 * documented errors, and whatever is accepted is consistent.
 */
#include "unit.h"
#include "internal.h"

static struct cpuport_ctx *ctx;
static struct unit_log logbuf;

static int group_setup(void **state)
{
	CPUPORT_OPTS(cpuport_ctx_opts, o, .print = unit_log_cb, .print_arg = &logbuf);

	(void)state;
	ctx = cpuport_ctx__new(&o);
	return ctx ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	cpuport_ctx__free(ctx);
	return 0;
}

/* ---- a small image, built by hand ---- */

#define EXE_BASE 0x555555554000ULL
#define EXE_SPAN 0x3000ULL
#define LIBC_BASE 0x7f0000000000ULL
#define LIBC_SPAN 0x200000ULL

struct crafted {
	Cpuport__Image img;
	Cpuport__Process proc;
	Cpuport__Object obj[2], *objs[2];
	Cpuport__Slot slot[2], *slots[2];
	Cpuport__Location res[2], tgt, st_tgt, at;
	Cpuport__State st[2], *sts[2];
	Cpuport__Thread th, *ths[1];
	uint8_t model[16], build_id[65];
};

static void craft(struct crafted *c)
{
	memset(c, 0, sizeof(*c));
	cpuport__image__init(&c->img);
	c->img.version = CPUPORT_IMAGE_VERSION;
	cpuport__process__init(&c->proc);
	c->proc.pid = 4242;
	c->proc.has_nspid = true;
	c->proc.nspid = 7;
	c->proc.comm = "crafted";
	c->img.proc = &c->proc;

	for (int i = 0; i < 2; i++) {
		cpuport__object__init(&c->obj[i]);
		c->objs[i] = &c->obj[i];
		c->obj[i].has_start = c->obj[i].has_end = true;
	}
	c->obj[0].path = "/usr/bin/crafted";
	c->obj[0].load_base = c->obj[0].start = EXE_BASE;
	c->obj[0].end = EXE_BASE + EXE_SPAN;
	c->obj[0].has_is_exe = true;
	c->obj[0].is_exe = true;
	c->obj[1].path = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	c->obj[1].load_base = c->obj[1].start = LIBC_BASE;
	c->obj[1].end = LIBC_BASE + LIBC_SPAN;
	for (int i = 0; i < 20; i++)
		c->build_id[i] = 0x10 + i;
	c->obj[1].has_build_id = true;
	c->obj[1].build_id.data = c->build_id;
	c->obj[1].build_id.len = 20;
	c->obj[1].glibc_version = "2.36";
	c->img.objects = c->objs;
	c->img.n_objects = 2;

	for (int i = 0; i < 2; i++) {
		cpuport__slot__init(&c->slot[i]);
		cpuport__location__init(&c->res[i]);
		c->slots[i] = &c->slot[i];
		c->slot[i].resolver = &c->res[i];
	}
	cpuport__location__init(&c->tgt);
	/* IRELATIVE in libc, bound */
	c->slot[0].kind = CPUPORT__SLOT_KIND__IRELATIVE;
	c->slot[0].object = 1;
	c->slot[0].offset = 0x1000;
	c->res[0].object = 1;
	c->res[0].offset = 0x2000;
	c->res[0].symbol = "memcpy";
	c->slot[0].bound = true;
	c->slot[0].value = LIBC_BASE + 0x3000;
	c->tgt.object = 1;
	c->tgt.offset = 0x3000;
	c->tgt.symbol = "__memmove_sse2_unaligned";
	c->tgt.has_size = true;
	c->tgt.size = 0x400;
	c->slot[0].target = &c->tgt;
	/* lazy JUMP_SLOT in the exe, in its last 8 bytes */
	c->slot[1].kind = CPUPORT__SLOT_KIND__JUMP_SLOT;
	c->slot[1].object = 0;
	c->slot[1].offset = EXE_SPAN - 8;
	c->slot[1].symbol = "strlen";
	c->slot[1].version = "GLIBC_2.2.5";
	c->res[1].object = 1;
	c->res[1].offset = 0x4000;
	c->slot[1].value = EXE_BASE + 0x1030;
	c->img.slots = c->slots;
	c->img.n_slots = 2;

	for (int i = 0; i < 2; i++) {
		cpuport__state__init(&c->st[i]);
		c->sts[i] = &c->st[i];
	}
	memset(c->model, 0xa5, sizeof(c->model));
	c->st[0].kind = CPUPORT__STATE_KIND__LIBGCC_CPU_MODEL;
	c->st[0].object = 0;
	c->st[0].offset = 0x2000;
	c->st[0].size = 16;
	c->st[0].has_value = true;
	c->st[0].value.data = c->model;
	c->st[0].value.len = 16;
	c->st[0].name = "__cpu_model";
	c->st[1].kind = CPUPORT__STATE_KIND__RTLD_PLATFORM;
	c->st[1].object = 1;
	c->st[1].offset = 0x10000;
	c->st[1].size = 8;
	c->st[1].name = "_dl_platform";
	cpuport__location__init(&c->st_tgt);
	c->st_tgt.object = 1;
	c->st_tgt.offset = 0x5000;
	c->st[1].target = &c->st_tgt;
	c->img.states = c->sts;
	c->img.n_states = 2;

	cpuport__thread__init(&c->th);
	cpuport__location__init(&c->at);
	c->th.tid = 4242;
	c->th.has_pc = true;
	c->th.pc = LIBC_BASE + 0x3008;
	c->at.object = 1;
	c->at.offset = 0x3008;
	c->th.at = &c->at;
	c->ths[0] = &c->th;
	c->img.threads = c->ths;
	c->img.n_threads = 1;
	c->img.has_scan_ns = c->img.has_relocs_seen = true;
	c->img.scan_ns = 123456;
	c->img.relocs_seen = 99;
}

/* Pack into a buffer of exactly the packed size (so overreads are real overreads). */
static uint8_t *pack(const Cpuport__Image *img, size_t *len)
{
	uint8_t *b;

	*len = cpuport__image__get_packed_size(img);
	b = malloc(*len ? *len : 1);
	assert_non_null(b);
	assert_int_equal(cpuport__image__pack(img, b), *len);
	return b;
}

/* Decode @len bytes copied into an exact-size buffer; errno must match the result. */
static int decode(const uint8_t *buf, size_t len, struct cpuport_table **t)
{
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	unit_log_reset(&logbuf);
	errno = 0;
	ret = cpuport_table__decode(ctx, copy, len, t);
	free(copy);
	if (ret) {
		assert_int_equal(errno, -ret);
		assert_null(*t);
		assert_int_equal(logbuf.errors, 1);
		assert_false(logbuf.bad_line);
	} else {
		assert_non_null(*t);
	}
	return ret;
}

/* Decode a crafted image; on rejection the log must give @why. */
static int decode_crafted(const struct crafted *c, const char *why)
{
	struct cpuport_table *t = NULL;
	size_t len;
	uint8_t *b = pack(&c->img, &len);
	int ret = decode(b, len, &t);

	free(b);
	cpuport_table__free(t);
	if (ret && why && !strstr(logbuf.text, why))
		fail_msg("rejected, but the log does not say '%s': %s", why, logbuf.text);
	return ret;
}

/*
 * What the header and the schema promise about an accepted table, checked
 * from the decoded message itself.
 */
static void check_invariants(const struct cpuport_table *t)
{
	const Cpuport__Image *img = t->img;
	CPUPORT_OPTS(cpuport_table_stats, st);
	FILE *null = fopen("/dev/null", "w");
	unsigned int bound = 0;

#define IN_OBJ(o, off, size) \
	((o) < img->n_objects && img->objects[o]->load_base + (off) >= img->objects[o]->start && \
	 (size) <= img->objects[o]->end - img->objects[o]->start && \
	 img->objects[o]->load_base + (off) <= img->objects[o]->end - (size))
#define LOC_OK(l) (!(l) || IN_OBJ((l)->object, (l)->offset, 1))

	assert_true(img->version <= CPUPORT_IMAGE_VERSION);
	for (size_t i = 0; i < img->n_objects; i++) {
		const Cpuport__Object *o = img->objects[i];

		assert_non_null(o->path);
		assert_true(o->path[0]);
		assert_true(o->has_start && o->has_end && o->start < o->end);
		assert_true(!o->has_build_id || o->build_id.len <= 64);
	}
	for (size_t i = 0; i < img->n_slots; i++) {
		const Cpuport__Slot *s = img->slots[i];

		assert_true(IN_OBJ(s->object, s->offset, 8));
		assert_non_null(s->resolver);
		assert_true(LOC_OK(s->resolver));
		assert_true(LOC_OK(s->target));
		assert_true(s->kind == CPUPORT__SLOT_KIND__IRELATIVE || s->symbol);
		bound += s->bound;
	}
	for (size_t i = 0; i < img->n_states; i++) {
		const Cpuport__State *s = img->states[i];

		assert_true(s->size > 0 && s->size <= 4096);
		assert_true(IN_OBJ(s->object, s->offset, s->size));
		assert_true(!s->has_value || s->value.len == s->size);
		assert_true(LOC_OK(s->target));
	}
	for (size_t i = 0; i < img->n_threads; i++)
		assert_true(LOC_OK(img->threads[i]->at));
#undef IN_OBJ
#undef LOC_OK
	cpuport_table__stats(t, &st);
	assert_int_equal(st.objects, img->n_objects);
	assert_int_equal(st.slots, img->n_slots);
	assert_int_equal(st.bound, bound);
	assert_int_equal(st.states, img->n_states);
	assert_int_equal(st.threads, img->n_threads);
	/* every consumer of a decoded table may rely on the above: printing must work */
	assert_non_null(null);
	assert_int_equal(cpuport_table__print(t, null, false), 0);
	assert_int_equal(cpuport_table__print(t, null, true), 0);
	fclose(null);
}

/* encode(decode(b)) == b */
static void assert_reencodes(const struct cpuport_table *t, const uint8_t *b, size_t len)
{
	void *again = NULL;
	size_t alen = 0;

	assert_int_equal(cpuport_table__encode(t, &again, &alen), 0);
	assert_int_equal(alen, len);
	assert_memory_equal(again, b, len);
	free(again);
}

static void crafted_image_decodes(void **state)
{
	struct crafted c;
	struct cpuport_table *t = NULL;
	size_t len;
	uint8_t *b;

	(void)state;
	craft(&c);
	b = pack(&c.img, &len);
	assert_int_equal(decode(b, len, &t), 0);
	check_invariants(t);
	assert_reencodes(t, b, len);
	assert_int_equal(cpuport_table__pid(t), 4242);
	assert_int_equal(cpuport_table__nspid(t), 7);
	assert_int_equal(t->img->n_slots, 2);
	assert_string_equal(t->img->slots[1]->symbol, "strlen");
	assert_string_equal(t->img->slots[1]->version, "GLIBC_2.2.5");
	assert_memory_equal(t->img->objects[1]->build_id.data, c.build_id, 20);
	assert_memory_equal(t->img->states[0]->value.data, c.model, 16);
	cpuport_table__free(t);
	free(b);
}

/* ---- a real process ---- */

static void real_process_roundtrip(void **state)
{
	static const char *const workload[] = { "build/fixtures/workload", "@OUT", NULL };
	static const char *const sleeper[] = { "/bin/sleep", "1000", NULL };
	char bin[8192], tmp[] = "/tmp/cpuport-unit-img.XXXXXX";
	const char *argv[4];
	struct unit_child c;
	struct cpuport_table *t = NULL, *u = NULL, *w = NULL;
	char *p1 = NULL, *p2 = NULL;
	size_t l1 = 0, l2 = 0, len = 0, len2 = 0;
	void *buf = NULL, *buf2 = NULL;
	FILE *f1, *f2;
	int ret, fd;

	(void)state;
	if (geteuid())
		UNIT_SKIP("scanning a process needs root (/proc/PID/map_files)");
	snprintf(bin, sizeof(bin), "%s/%s", unit_top(), workload[0]);
	if (!access(bin, X_OK)) {
		argv[0] = bin, argv[1] = "@OUT", argv[2] = NULL;
	} else {
		print_message("%s not built: scanning /bin/sleep instead\n", bin);
		memcpy(argv, sleeper, sizeof(sleeper));
	}
	assert_int_equal(unit_child_start(&c, argv, NULL), 0);
	if (argv[0] == bin)
		ret = unit_child_wait_lines(&c, c.out, 2, 10000);
	else
		ret = (usleep(200000), 0);
	if (ret || unit_child_stop(&c)) {
		unit_child_kill(&c);
		fail_msg("%s did not start", argv[0]);
	}
	ret = cpuport_scan(ctx, c.pid, &t);
	unit_child_kill(&c);
	assert_int_equal(ret, 0);
	assert_true(t->img->n_objects >= 3);
	assert_true(t->img->n_slots > 10);
	check_invariants(t);

	assert_int_equal(cpuport_table__encode(t, &buf, &len), 0);
	assert_int_equal(decode(buf, len, &u), 0);
	check_invariants(u);
	assert_reencodes(u, buf, len);
	/* the same table, the same report */
	f1 = open_memstream(&p1, &l1);
	f2 = open_memstream(&p2, &l2);
	assert_int_equal(cpuport_table__print(t, f1, true), 0);
	assert_int_equal(cpuport_table__print(u, f2, true), 0);
	fclose(f1);
	fclose(f2);
	assert_int_equal(l1, l2);
	assert_memory_equal(p1, p2, l1);
	free(p1);
	free(p2);

	/* through a file: write_fd, read_fd */
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	unlink(tmp);
	assert_int_equal(cpuport_table__write_fd(u, fd), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(cpuport_table__read_fd(ctx, fd, &w), 0);
	close(fd);
	assert_int_equal(cpuport_table__encode(w, &buf2, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);

	free(buf2);
	free(buf);
	cpuport_table__free(w);
	cpuport_table__free(u);
	cpuport_table__free(t);
}

/* ---- truncations ---- */

/*
 * Every prefix: rejected with -EBADMSG, except exactly at the top-level
 * field boundaries, where the prefix is itself a complete, smaller image
 * (protobuf has no end marker) that must re-encode to those bytes.
 */
static void every_truncation(void **state)
{
	struct crafted c, part;
	size_t len, bounds[16], nb = 0, accepted = 0;
	uint8_t *b;

	(void)state;
	craft(&c);
	b = pack(&c.img, &len);
	/* boundaries: pack the image field by field, in field-number order */
	memset(&part, 0, sizeof(part));
	part = c;
	part.img.proc = NULL, part.img.source_cpu = NULL, part.img.n_objects = part.img.n_slots = 0;
	part.img.n_states = part.img.n_threads = 0, part.img.has_scan_ns = part.img.has_relocs_seen = false;
	{
		size_t steps = 0, l;
		uint8_t *pb;

#define STEP(change)                                                          \
	do {                                                                  \
		change;                                                       \
		pb = pack(&part.img, &l);                                     \
		assert_true(l <= len);                                        \
		assert_memory_equal(pb, b, l); /* a prefix of the full image */ \
		free(pb);                                                     \
		bounds[nb++] = l;                                             \
		steps++;                                                      \
	} while (0)
		STEP((void)0);
		STEP(part.img.proc = c.img.proc);
		STEP(part.img.n_objects = 1);
		STEP(part.img.n_objects = 2);
		STEP(part.img.n_slots = 1);
		STEP(part.img.n_slots = 2);
		STEP(part.img.n_states = 1);
		STEP(part.img.n_states = 2);
		STEP(part.img.n_threads = 1);
		STEP(part.img.has_scan_ns = true);
		STEP(part.img.has_relocs_seen = true);
#undef STEP
		assert_int_equal(bounds[nb - 1], len);
		(void)steps;
	}
	for (size_t l = 0; l < len; l++) {
		struct cpuport_table *t = NULL;
		bool boundary = false;
		int ret;

		for (size_t i = 0; i < nb; i++)
			boundary |= bounds[i] == l;
		ret = decode(b, l, &t);
		if (boundary) {
			if (ret)
				fail_msg("prefix of %zu bytes (a field boundary) rejected: %d", l, ret);
			check_invariants(t);
			assert_reencodes(t, b, l);
			accepted++;
		} else if (ret != -EBADMSG) {
			fail_msg("prefix of %zu of %zu bytes: %d, expected -EBADMSG", l, len, ret);
		}
		cpuport_table__free(t);
	}
	assert_int_equal(accepted, nb - 1);	/* the full length is not a prefix */
	free(b);
}

/* ---- byte flips ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void flip_corpus(const uint8_t *b, size_t len, int rounds, int *acc, int *rej)
{
	uint8_t *m = malloc(len);

	assert_non_null(m);
	for (int r = 0; r < rounds; r++) {
		struct cpuport_table *t = NULL;
		int flips = 1 + next_rand() % 3, ret;

		memcpy(m, b, len);
		for (int k = 0; k < flips; k++)
			m[next_rand() % len] ^= 1 + next_rand() % 255;
		ret = decode(m, len, &t);
		if (ret == 0) {
			void *again = NULL;
			size_t alen;
			struct cpuport_table *t2 = NULL;

			check_invariants(t);
			/* what was accepted survives its own round trip */
			assert_int_equal(cpuport_table__encode(t, &again, &alen), 0);
			assert_int_equal(decode(again, alen, &t2), 0);
			cpuport_table__free(t2);
			free(again);
			(*acc)++;
		} else if (ret == -EBADMSG || ret == -EPROTONOSUPPORT) {
			(*rej)++;
		} else {
			fail_msg("round %d: decode returned %d", r, ret);
		}
		cpuport_table__free(t);
	}
	free(m);
}

static void random_byte_flips(void **state)
{
	struct crafted c;
	size_t len;
	uint8_t *b;
	int acc = 0, rej = 0;

	(void)state;
	craft(&c);
	b = pack(&c.img, &len);
	rng = 0x9e3779b97f4a7c15ULL;	/* seeded: the same flips every run */
	flip_corpus(b, len, 3000, &acc, &rej);
	free(b);
	/* and a real table, when this host lets us scan one */
	if (!geteuid()) {
		static const char *const sleeper[] = { "/bin/sleep", "1000", NULL };
		struct cpuport_table *t = NULL;
		struct unit_child ch;
		void *rb = NULL;
		size_t rlen = 0;
		int ret;

		assert_int_equal(unit_child_start(&ch, sleeper, NULL), 0);
		usleep(100000);
		assert_int_equal(unit_child_stop(&ch), 0);
		ret = cpuport_scan(ctx, ch.pid, &t);
		unit_child_kill(&ch);
		assert_int_equal(ret, 0);
		assert_int_equal(cpuport_table__encode(t, &rb, &rlen), 0);
		cpuport_table__free(t);
		flip_corpus(rb, rlen, 2000, &acc, &rej);
		free(rb);
	}
	print_message("byte flips: %d accepted (consistent), %d rejected\n", acc, rej);
	assert_true(rej > 100);
}

/* ---- each inconsistency, crafted ---- */

static void slot_object_out_of_range(void **state)
{
	struct crafted c;

	(void)state;
	craft(&c);
	c.slot[0].object = 2;
	assert_int_equal(decode_crafted(&c, "slot outside its object"), -EBADMSG);
	craft(&c);
	c.slot[1].object = UINT32_MAX;
	assert_int_equal(decode_crafted(&c, "slot outside its object"), -EBADMSG);
}

static void slot_offset_outside_object(void **state)
{
	struct crafted c;

	(void)state;
	craft(&c);
	c.slot[1].offset = EXE_SPAN - 8;	/* the last 8 bytes: fine */
	assert_int_equal(decode_crafted(&c, NULL), 0);
	c.slot[1].offset = EXE_SPAN - 7;	/* one byte past the end */
	assert_int_equal(decode_crafted(&c, "slot outside its object"), -EBADMSG);
	c.slot[1].offset = EXE_SPAN;
	assert_int_equal(decode_crafted(&c, "slot outside its object"), -EBADMSG);
	c.slot[1].offset = UINT64_MAX - 3;	/* wraps below the start */
	assert_int_equal(decode_crafted(&c, "slot outside its object"), -EBADMSG);
	craft(&c);
	c.obj[0].load_base = EXE_BASE + 0x1000;	/* offset 0 then lies... inside; offset -0x2000 below start */
	c.slot[1].offset = (uint64_t)-0x1001;
	assert_int_equal(decode_crafted(&c, "slot outside its object"), -EBADMSG);
}

static void slot_locations_outside(void **state)
{
	struct crafted c;

	(void)state;
	craft(&c);
	c.res[0].object = 7;
	assert_int_equal(decode_crafted(&c, "resolver or target outside"), -EBADMSG);
	craft(&c);
	c.res[1].offset = LIBC_SPAN;
	assert_int_equal(decode_crafted(&c, "resolver or target outside"), -EBADMSG);
	craft(&c);
	c.tgt.object = 2;
	assert_int_equal(decode_crafted(&c, "resolver or target outside"), -EBADMSG);
	craft(&c);
	c.slot[1].symbol = NULL;	/* JUMP_SLOT without a symbol */
	assert_int_equal(decode_crafted(&c, "without a symbol"), -EBADMSG);
	craft(&c);
	c.slot[0].symbol = NULL;	/* IRELATIVE needs none */
	assert_int_equal(decode_crafted(&c, NULL), 0);
}

static void state_sizes(void **state)
{
	struct crafted c;

	(void)state;
	craft(&c);
	c.st[1].size = 4096;
	assert_int_equal(decode_crafted(&c, NULL), 0);
	c.st[1].size = 4097;
	assert_int_equal(decode_crafted(&c, "state outside its object"), -EBADMSG);
	c.st[1].size = UINT32_MAX;
	assert_int_equal(decode_crafted(&c, "state outside its object"), -EBADMSG);
	c.st[1].size = 0;
	assert_int_equal(decode_crafted(&c, "state outside its object"), -EBADMSG);
	craft(&c);
	c.st[0].offset = EXE_SPAN - 15;	/* 16 bytes from here run one past the end */
	assert_int_equal(decode_crafted(&c, "state outside its object"), -EBADMSG);
	craft(&c);
	c.st[0].object = 2;
	assert_int_equal(decode_crafted(&c, "state outside its object"), -EBADMSG);
	craft(&c);
	c.st[0].value.len = 15;
	assert_int_equal(decode_crafted(&c, "wrong size"), -EBADMSG);
	craft(&c);
	c.st_tgt.object = 9;
	assert_int_equal(decode_crafted(&c, "state target outside"), -EBADMSG);
}

static void objects_and_threads(void **state)
{
	struct crafted c;

	(void)state;
	craft(&c);
	c.obj[0].has_start = false;
	assert_int_equal(decode_crafted(&c, "object without a mapping"), -EBADMSG);
	craft(&c);
	c.obj[1].end = c.obj[1].start;
	assert_int_equal(decode_crafted(&c, "object without a mapping"), -EBADMSG);
	craft(&c);
	c.obj[0].path = "";
	assert_int_equal(decode_crafted(&c, "object without a mapping"), -EBADMSG);
	craft(&c);
	c.obj[1].build_id.len = 64;
	assert_int_equal(decode_crafted(&c, NULL), 0);
	c.obj[1].build_id.len = 65;
	assert_int_equal(decode_crafted(&c, "build-id too long"), -EBADMSG);
	craft(&c);
	c.at.object = 2;
	assert_int_equal(decode_crafted(&c, "thread location outside"), -EBADMSG);
	craft(&c);
	c.at.offset = LIBC_SPAN + 1;
	assert_int_equal(decode_crafted(&c, "thread location outside"), -EBADMSG);
}

static void newer_format_version(void **state)
{
	struct crafted c;

	(void)state;
	craft(&c);
	c.img.version = CPUPORT_IMAGE_VERSION + 1;
	assert_int_equal(decode_crafted(&c, "newer"), -EPROTONOSUPPORT);
	c.img.version = UINT32_MAX;
	assert_int_equal(decode_crafted(&c, "upgrade cpuport"), -EPROTONOSUPPORT);
	c.img.version = CPUPORT_IMAGE_VERSION;
	assert_int_equal(decode_crafted(&c, NULL), 0);
}

/*
 * Kinds outside the schema's enums: protobuf-c does not check enum values
 * on unpack, so the decoder must (cpuport.h: -EBADMSG for an image that is
 * not valid).  Printing one as "GLOB_DAT" and restoring an unknown state
 * kind as a plain copy both start from this.
 */
static void unknown_kinds_rejected(void **state)
{
	struct crafted c;

	(void)state;
	craft(&c);
	c.slot[1].kind = (Cpuport__SlotKind)9;
	assert_int_equal(decode_crafted(&c, NULL), -EBADMSG);
	craft(&c);
	c.slot[1].kind = (Cpuport__SlotKind)0;
	assert_int_equal(decode_crafted(&c, NULL), -EBADMSG);
	craft(&c);
	c.st[0].kind = (Cpuport__StateKind)42;
	assert_int_equal(decode_crafted(&c, NULL), -EBADMSG);
}

static void garbage_and_empty(void **state)
{
	static const uint8_t junk[] = "this is not a protobuf image at all";
	struct cpuport_table *t = NULL;

	(void)state;
	assert_int_equal(decode((const uint8_t *)"", 0, &t), -EBADMSG);
	assert_int_equal(decode(junk, sizeof(junk), &t), -EBADMSG);
	assert_non_null(strstr(logbuf.text, "corrupt or truncated"));
}

/* ---- read_fd / write_fd ---- */

static void fd_errors(void **state)
{
	struct cpuport_table *t = NULL;
	struct crafted c;
	int p[2], zero;
	size_t len;
	uint8_t *b;

	(void)state;
	/* an image through a pipe, written in small pieces */
	craft(&c);
	b = pack(&c.img, &len);
	assert_int_equal(pipe(p), 0);
	for (size_t off = 0; off < len; off += 7)
		assert_int_equal(write(p[1], b + off, len - off < 7 ? len - off : 7), len - off < 7 ? len - off : 7);
	close(p[1]);
	assert_int_equal(cpuport_table__read_fd(ctx, p[0], &t), 0);
	close(p[0]);
	assert_reencodes(t, b, len);
	assert_int_equal(cpuport_table__write_fd(t, -1), -EBADF);
	cpuport_table__free(t);
	free(b);

	t = (void *)1;
	assert_int_equal(cpuport_table__read_fd(ctx, -1, &t), -EBADF);
	assert_null(t);
	/* empty input is no image */
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	assert_int_equal(cpuport_table__read_fd(ctx, p[0], &t), -EBADMSG);
	close(p[0]);
	/* endless input stops at 256 MiB */
	zero = open("/dev/zero", O_RDONLY);
	assert_true(zero >= 0);
	errno = 0;
	assert_int_equal(cpuport_table__read_fd(ctx, zero, &t), -EFBIG);
	assert_int_equal(errno, EFBIG);
	close(zero);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crafted_image_decodes),
		cmocka_unit_test(real_process_roundtrip),
		cmocka_unit_test(every_truncation),
		cmocka_unit_test(random_byte_flips),
		cmocka_unit_test(slot_object_out_of_range),
		cmocka_unit_test(slot_offset_outside_object),
		cmocka_unit_test(slot_locations_outside),
		cmocka_unit_test(state_sizes),
		cmocka_unit_test(objects_and_threads),
		cmocka_unit_test(newer_format_version),
		cmocka_unit_test(unknown_kinds_rejected),
		cmocka_unit_test(garbage_and_empty),
		cmocka_unit_test(fd_errors),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("image_codec", tests, group_setup, group_teardown);
}
