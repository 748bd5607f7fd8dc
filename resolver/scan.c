// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cpuport_scan(): read a stopped process (maps, ELF files, memory) into the
 * resolved callsite table.  Never writes to the process.
 */
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kinds.h"

struct scan_obj {
	const struct elf_info *elf;	/* shared, from the context's cache */
	uint64_t base, start, end, dev, ino;
	char *path;
	char *file;		/* where to open it (map_files, or under the root) */
	int link_order;		/* position in ld.so's link map; INT_MAX if unknown */
	bool is_interp;
};

struct scan {
	struct cpuport_ctx *ctx;
	struct pview *v;	/* the process (its root: its own file view) */
	struct cpuport_table *t;
	struct scan_obj *objs;
	size_t n_objs;
	const char *debug_root;	/* where debug files are looked for first: the process's root, "" if it is ours */
	size_t slots_cap, states_cap, threads_cap, objects_cap;
};

#define PUSH(s, field)                                                                                   \
	((typeof(*(s)->t->img->field) *)arena_vec_push(&(s)->t->arena, (void ***)&(s)->t->img->field,      \
						       &(s)->t->img->n_##field, &(s)->field##_cap))

static int obj_index_at(const struct scan *s, uint64_t addr)
{
	for (size_t i = 0; i < s->n_objs; i++)
		if (addr >= s->objs[i].start && addr < s->objs[i].end)
			return i;
	return -1;
}

/* A location record for an address: object + offset + symbol when known. */
static Cpuport__Location *location(struct scan *s, uint64_t addr)
{
	int oi = obj_index_at(s, addr);
	Cpuport__Location *l;
	const struct elf_symbol *sym;
	char name[256];

	if (oi < 0)
		return NULL;
	l = arena_alloc(&s->t->arena, sizeof(*l));
	if (!l)
		return NULL;
	cpuport__location__init(l);
	l->object = oi;
	l->offset = addr - s->objs[oi].base;
	sym = elf_sym_at(s->objs[oi].elf, l->offset);
	if (sym) {
		if (sym->value == l->offset)
			snprintf(name, sizeof(name), "%s", sym->name);
		else
			snprintf(name, sizeof(name), "%s+%#" PRIx64, sym->name, l->offset - sym->value);
		l->symbol = arena_strdup(&s->t->arena, name);
		if (sym->size) {
			l->has_size = true;
			l->size = sym->size - (l->offset - sym->value);
		}
	}
	return l;
}

/* Is there a mapping of this file at @addr with file offset @off? */
static bool mapped_at(const struct pview *p, const struct proc_map *f, uint64_t addr, uint64_t off)
{
	for (size_t i = 0; i < p->n_maps; i++) {
		const struct proc_map *m = &p->maps[i];

		if (m->path && m->dev == f->dev && m->ino == f->ino && addr >= m->start && addr < m->end &&
		    m->off + (addr - m->start) == off)
			return true;
	}
	return false;
}

/*
 * A loaded object: every PT_LOAD segment with file contents is mapped at
 * base + vaddr from its file offset.  Rules out the same file mapped as data
 * (a crash reporter reading its libraries) and tells dlmopen copies apart.
 */
static bool loaded_at(const struct pview *p, const struct proc_map *m, const struct elf_info *e, uint64_t base)
{
	for (size_t i = 0; i < e->n_segs; i++) {
		uint64_t pad = e->segs[i].vaddr & 0xfff;

		if (e->segs[i].filesz &&
		    !mapped_at(p, m, base + e->segs[i].vaddr - pad, e->segs[i].offset - pad))
			return false;
	}
	return true;
}

static bool known_object(const struct scan *s, const struct proc_map *m, uint64_t base)
{
	for (size_t i = 0; i < s->n_objs; i++)
		if (s->objs[i].dev == m->dev && s->objs[i].ino == m->ino && s->objs[i].base == base)
			return true;
	return false;
}

/* The object whose first mapping is @m, if @m starts a loaded ELF object. */
static int add_object(struct scan *s, const struct proc_map *m)
{
	struct scan_obj *o, *n;
	char open_path[4096];
	uint64_t base;
	int ret;

	for (size_t i = 0; i < s->n_objs; i++)	/* same file, later mapping of a known object */
		if (s->objs[i].dev == m->dev && s->objs[i].ino == m->ino && m->start >= s->objs[i].start &&
		    m->start < s->objs[i].end)
			return 0;
	n = realloc(s->objs, (s->n_objs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->objs = n;
	o = &s->objs[s->n_objs];
	memset(o, 0, sizeof(*o));
	s->v->ops->file_path(s->v->arg, m, open_path, sizeof(open_path));
	o->elf = elf_cache_get(s->ctx, open_path, s->debug_root, &ret);
	if (!o->elf)
		return ret == -ENOMEM ? ret : 0;	/* not an ELF object (locale archive, data file) */
	elf_cache_want_filter(s->ctx, o->elf);	/* for scan_find_definer() */
	base = m->start - elf_first_load_vaddr(o->elf);
	if (!loaded_at(s->v, m, o->elf, base) || known_object(s, m, base))
		return 0;	/* mapped as data, not loaded */
	o->path = strdup(m->path);
	o->file = strdup(open_path);
	if (!o->path || !o->file) {
		free(o->path);
		free(o->file);
		return -ENOMEM;
	}
	o->dev = m->dev;
	o->ino = m->ino;
	o->base = base;
	o->link_order = INT32_MAX;
	o->is_interp = elf_dynsym_find(o->elf, "_dl_x86_get_cpu_features", NULL) != NULL;
	/* the span the segments cover, .bss (an anonymous mapping) included */
	o->start = UINT64_MAX;
	for (size_t i = 0; i < o->elf->n_segs; i++) {
		uint64_t lo = (base + o->elf->segs[i].vaddr) & ~0xfffULL;
		uint64_t hi = (base + o->elf->segs[i].vaddr + o->elf->segs[i].memsz + 0xfff) & ~0xfffULL;

		o->start = lo < o->start ? lo : o->start;
		o->end = hi > o->end ? hi : o->end;
	}
	s->n_objs++;
	return 0;
}

static int read_u64(const struct scan *s, uint64_t addr, uint64_t *v)
{
	return pview_read(s->v, addr, v, sizeof(*v));
}

/*
 * The dynamic linker's search order: walk its link map from ld.so's own
 * _r_debug (also right when the program was started as "ld.so PROGRAM"),
 * else from the executable's DT_DEBUG.  Objects not found keep INT32_MAX.
 */
static uint64_t find_r_debug(const struct scan *s)
{
	uint64_t dyn[2];

	for (size_t i = 0; i < s->n_objs; i++) {
		const struct scan_obj *o = &s->objs[i];
		const struct elf_symbol *sym = o->is_interp ? elf_dynsym_find(o->elf, "_r_debug", NULL) : NULL;

		if (sym)
			return o->base + sym->value;
	}
	for (size_t i = 0; i < s->n_objs; i++) {
		const struct scan_obj *o = &s->objs[i];

		if (!(o->elf->is_exec || o->elf->is_pie) || !o->elf->dynamic)
			continue;
		for (uint64_t a = o->base + o->elf->dynamic;; a += sizeof(dyn)) {
			if (pview_read(s->v, a, dyn, sizeof(dyn)) || dyn[0] == DT_NULL)
				break;
			if (dyn[0] == DT_DEBUG)
				return dyn[1];
		}
	}
	return 0;
}

static void read_link_order(struct scan *s)
{
	uint64_t r_debug = find_r_debug(s), lm;
	int order = 0;

	/* struct r_debug { int r_version; struct link_map *r_map; ... } */
	if (!r_debug || read_u64(s, r_debug + 8, &lm))
		return;
	for (int guard = 0; lm && guard < 65536; guard++) {
		/* struct link_map { l_addr, l_name, l_ld, l_next, l_prev } */
		uint64_t l[4];

		if (pview_read(s->v, lm, l, sizeof(l)))
			break;
		for (size_t i = 0; i < s->n_objs; i++)
			if (s->objs[i].elf->dynamic && s->objs[i].base + s->objs[i].elf->dynamic == l[2])
				s->objs[i].link_order = order;
		order++;
		lm = l[3];
	}
}

static int cmp_link_order(const void *a, const void *b)
{
	const struct scan_obj *x = a, *y = b;

	return (x->link_order > y->link_order) - (x->link_order < y->link_order);
}

/* The object that defines @sym first in link order, as the dynamic linker finds it; -1 if none. */
int scan_find_definer(const struct scan *s, const char *sym, const char *ver, const struct elf_symbol **def)
{
	uint64_t h = elf_name_hash(sym);

	*def = NULL;
	for (size_t i = 0; i < s->n_objs; i++) {
		if (!elf_dynsym_maybe(s->objs[i].elf, h))	/* certainly not here */
			continue;
		*def = elf_dynsym_find(s->objs[i].elf, sym, ver);
		if (*def)
			return i;
	}
	return -1;
}

int scan_add_slot(struct scan *s, int oi, const struct elf_reloc *r, uint64_t value, uint64_t resolver, bool bound)
{
	Cpuport__Slot **pp = PUSH(s, slots), *sl;

	if (!pp || !(sl = *pp = arena_alloc(&s->t->arena, sizeof(*sl))))
		return -ENOMEM;
	cpuport__slot__init(sl);
	sl->kind = r->type == R_X86_64_IRELATIVE ? CPUPORT__SLOT_KIND__IRELATIVE
		   : r->type == R_X86_64_JUMP_SLOT ? CPUPORT__SLOT_KIND__JUMP_SLOT
		   : r->type == R_X86_64_64	   ? CPUPORT__SLOT_KIND__ABS64
						    : CPUPORT__SLOT_KIND__GLOB_DAT;
	sl->object = oi;
	sl->offset = r->offset;
	sl->symbol = arena_strdup(&s->t->arena, r->sym);
	sl->version = arena_strdup(&s->t->arena, r->version);
	sl->resolver = location(s, resolver);
	sl->bound = bound;
	sl->value = value;
	if (bound)
		sl->target = location(s, value);
	return sl->resolver ? 0 : -ENOMEM;
}

const struct elf_info *scan_elf(const struct scan *s, int oi)
{
	return s->objs[oi].elf;
}

bool scan_is_interp(const struct scan *s, int oi)
{
	return s->objs[oi].is_interp;
}

int scan_object_at(const struct scan *s, uint64_t addr)
{
	return obj_index_at(s, addr);
}

uint64_t scan_base(const struct scan *s, int oi)
{
	return s->objs[oi].base;
}

int scan_read_u64(const struct scan *s, uint64_t addr, uint64_t *v)
{
	return read_u64(s, addr, v);
}

const char *scan_path(const struct scan *s, int oi)
{
	return s->objs[oi].path;
}

const char *scan_file(const struct scan *s, int oi)
{
	return s->objs[oi].file;
}

const struct pview *scan_view(const struct scan *s)
{
	return s->v;
}

pid_t scan_pid(const struct scan *s)
{
	return s->v->pid;
}

struct cpuport_ctx *scan_ctx(const struct scan *s)
{
	return s->ctx;
}

struct cpuport_table *scan_table(struct scan *s)
{
	return s->t;
}

/*
 * All of an object's slots in one read when they sit close together (the
 * GOT, .data.rel.ro): one pread instead of one per relocation.  NULL: read
 * them one by one.
 */
#define MAX_SLOT_SPAN (4u << 20)

static uint8_t *read_slot_span(const struct scan *s, const struct scan_obj *o, uint64_t *lo)
{
	uint64_t hi = 0;
	uint8_t *buf;

	*lo = UINT64_MAX;
	for (size_t i = 0; i < o->elf->n_relocs; i++) {
		*lo = o->elf->relocs[i].offset < *lo ? o->elf->relocs[i].offset : *lo;
		hi = o->elf->relocs[i].offset + 8 > hi ? o->elf->relocs[i].offset + 8 : hi;
	}
	if (!o->elf->n_relocs || hi - *lo > MAX_SLOT_SPAN)
		return NULL;
	buf = malloc(hi - *lo);
	if (buf && pview_read(s->v, o->base + *lo, buf, hi - *lo)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int scan_relocs(struct scan *s, int oi)
{
	const struct scan_obj *o = &s->objs[oi];
	uint64_t lo;
	uint8_t *span = read_slot_span(s, o, &lo);
	int ret = 0;

	for (size_t i = 0; i < o->elf->n_relocs && !ret; i++) {
		const struct elf_reloc *r = &o->elf->relocs[i];
		uint64_t value;

		if (span)
			memcpy(&value, span + (r->offset - lo), 8);
		else if (read_u64(s, o->base + r->offset, &value)) {
			log_warn(s->ctx, "pid %d: cannot read slot %#" PRIx64 " in %s\n", s->v->pid,
				 o->base + r->offset, o->path);
			continue;
		}
		for (const struct cpuport_kind *const *k = cpuport_kinds; *k && !ret; k++)
			if ((*k)->record_reloc)
				ret = (*k)->record_reloc(s, oi, r, value);
	}
	free(span);
	return ret;
}

int scan_add_state(struct scan *s, int oi, Cpuport__StateKind kind, const char *name, uint64_t offset,
		   uint32_t size, bool pointer)
{
	const struct scan_obj *o = &s->objs[oi];
	Cpuport__State **pp, *st;
	uint8_t buf[1024];

	if (size > sizeof(buf) || pview_read(s->v, o->base + offset, buf, size))
		return 0;	/* not readable: nothing cached there to carry */
	pp = PUSH(s, states);
	if (!pp || !(st = *pp = arena_alloc(&s->t->arena, sizeof(*st))))
		return -ENOMEM;
	cpuport__state__init(st);
	st->kind = kind;
	st->object = oi;
	st->offset = offset;
	st->size = size;
	st->name = arena_strdup(&s->t->arena, name);
	st->has_value = true;
	st->value.len = size;
	st->value.data = arena_memdup(&s->t->arena, buf, size);
	if (pointer && size == 8) {
		uint64_t v;

		memcpy(&v, buf, 8);
		st->target = location(s, v);
	}
	return st->value.data ? 0 : -ENOMEM;
}

/* Every kind's per-object records (cached CPU state), in the registry's order. */
static int scan_states(struct scan *s, int oi)
{
	int ret = 0;

	for (const struct cpuport_kind *const *k = cpuport_kinds; *k && !ret; k++)
		if ((*k)->record)
			ret = (*k)->record(s, oi);
	return ret;
}

static int add_objects_to_image(struct scan *s)
{
	for (size_t i = 0; i < s->n_objs; i++) {
		const struct scan_obj *o = &s->objs[i];
		Cpuport__Object **pp = PUSH(s, objects), *ob;

		if (!pp || !(ob = *pp = arena_alloc(&s->t->arena, sizeof(*ob))))
			return -ENOMEM;
		cpuport__object__init(ob);
		ob->path = arena_strdup(&s->t->arena, o->path);
		ob->has_build_id = o->elf->build_id_len > 0;
		ob->build_id.len = o->elf->build_id_len;
		ob->build_id.data = arena_memdup(&s->t->arena, o->elf->build_id, o->elf->build_id_len);
		ob->load_base = o->base;
		ob->has_start = ob->has_end = true;
		ob->start = o->start;
		ob->end = o->end;
		ob->has_is_exe = ob->has_is_interp = true;
		ob->is_exe = o->elf->is_exec || o->elf->is_pie;	/* cannot be dlopen()ed */
		ob->is_interp = o->is_interp;
		if (o->elf->glibc_version[0])
			ob->glibc_version = arena_strdup(&s->t->arena, o->elf->glibc_version);
	}
	return 0;
}

/* Is @pc inside a variant some slot is bound to? */
static Cpuport__Location *variant_at(struct scan *s, uint64_t pc)
{
	const Cpuport__Image *img = s->t->img;

	for (size_t i = 0; i < img->n_slots; i++) {
		const Cpuport__Location *t = img->slots[i]->target;
		uint64_t start;

		if (!t || !t->has_size)
			continue;
		start = s->objs[t->object].base + t->offset;
		if (pc >= start && pc < start + t->size)
			return location(s, pc);
	}
	return NULL;
}

static int add_thread(pid_t tid, bool running, uint64_t pc, uint64_t sp, void *arg)
{
	struct scan *s = arg;
	Cpuport__Thread **pp = PUSH(s, threads), *th;

	if (!pp || !(th = *pp = arena_alloc(&s->t->arena, sizeof(*th))))
		return -ENOMEM;
	cpuport__thread__init(th);
	th->tid = tid;
	th->has_running = true;
	th->running = running;
	if (!running) {
		th->has_pc = th->has_sp = true;
		th->pc = pc;
		th->sp = sp;
		th->at = variant_at(s, pc);
	}
	return 0;
}

static int add_process(struct scan *s)
{
	Cpuport__Process *p = arena_alloc(&s->t->arena, sizeof(*p));
	char comm[64] = "";
	pid_t nspid;
	uid_t uid = 0;
	gid_t gid = 0;

	if (!p)
		return -ENOMEM;
	cpuport__process__init(p);
	p->pid = s->v->pid;
	if (!s->v->ops->ids(s->v->arg, &nspid, &uid, &gid)) {
		p->has_nspid = p->has_uid = p->has_gid = true;
		p->nspid = nspid;
		p->uid = uid;
		p->gid = gid;
	}
	if (s->v->ops->comm)
		s->v->ops->comm(s->v->arg, comm, sizeof(comm));
	p->comm = arena_strdup(&s->t->arena, comm);
	{
		char tun[TUNABLES_MAX];
		/* what glibc read at the process's start: its initial environment */
		int ret = s->v->as_recorded ? -ENOENT : proc_env(s->v->pid, "GLIBC_TUNABLES", tun, sizeof(tun));

		if (!ret && !(p->glibc_tunables = arena_strdup(&s->t->arena, tun)))
			return -ENOMEM;
		if (ret && ret != -ENOENT)
			log_warn(s->ctx, "pid %d: cannot read its GLIBC_TUNABLES (%s): restore re-selects without them\n",
				 s->v->pid, strerror(-ret));
	}
	s->t->img->proc = p;
	return 0;
}

static void scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n_objs; i++) {
		free(s->objs[i].path);
		free(s->objs[i].file);
	}
	free(s->objs);
}

static bool same_file(const char *x, const char *y)
{
	struct stat a, b;

	return !stat(x, &a) && !stat(y, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * Debug files are looked for in the process's root, then in ours: one look
 * when the two are the same directory seen through the same mounts (most
 * processes), not two per object.
 */
static const char *debug_root(const struct pview *v)
{
	char ns[64];

	if (!v->root[0] || v->as_recorded || v->pid <= 0 || !same_file(v->root, "/"))
		return v->root;
	snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", v->pid);
	return same_file(ns, "/proc/self/ns/mnt") ? "" : v->root;
}

int scan_through(struct cpuport_ctx *ctx, struct pview *v, struct cpuport_table **out)
{
	struct scan s = { .ctx = ctx, .v = v, .debug_root = debug_root(v) };
	uint64_t t0 = now_ns();
	int ret = 0;

	*out = NULL;
	s.t = table_new();
	if (!s.t) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < v->n_maps && !ret; i++) {
		const struct proc_map *m = &v->maps[i];

		if (m->path && m->path[0] == '/' && m->off == 0 && m->ino)
			ret = add_object(&s, m);
		if (m->perms[1] == 'w' && m->perms[3] == 'p')	/* for ptr_sites.c: worth looking? */
			s.t->writable_bytes += m->end - m->start;
	}
	if (ret)
		goto out;
	read_link_order(&s);
	qsort(s.objs, s.n_objs, sizeof(*s.objs), cmp_link_order);
	ret = add_objects_to_image(&s);
	for (size_t i = 0; i < s.n_objs && !ret; i++) {
		ret = scan_relocs(&s, i);
		ret = ret ?: scan_states(&s, i);
		s.t->img->relocs_seen += s.objs[i].elf->relocs_seen;
	}
	for (const struct cpuport_kind *const *k = cpuport_kinds; *k && !ret; k++)
		if ((*k)->record_process)
			ret = (*k)->record_process(&s);
	ret = ret ?: add_process(&s);
	ret = ret ?: v->ops->for_each_thread(v->arg, add_thread, &s);
	/* named once per context, not per process: libcpuid's identification runs CPUID dozens of times (a VM traps each) */
	cpu_desc_names(&ctx->host);
	ret = ret ?: cpu_desc_to_image(&s.t->arena, &ctx->host, &s.t->img->source_cpu);
	if (ret)
		goto out;
	s.t->img->has_scan_ns = s.t->img->has_relocs_seen = true;
	s.t->img->scan_ns = now_ns() - t0;
	*out = s.t;
	s.t = NULL;
out:
	cpuport_table__free(s.t);
	scan_free(&s);
	return ret;
}

int cpuport_scan(struct cpuport_ctx *ctx, pid_t pid, struct cpuport_table **out)
{
	struct pview v;
	int ret;

	*out = NULL;
	ret = pview_proc_open(&v, pid, false);
	if (ret) {
		log_err(ctx, "pid %d: cannot open its memory: %s\n", pid, strerror(-ret));
		return set_errno(ret == -ENOENT ? -ESRCH : ret);
	}
	ret = scan_through(ctx, &v, out);
	pview_close(&v);
	return set_errno(ret);
}
