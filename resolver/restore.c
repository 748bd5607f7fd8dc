// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cpuport_restore() and cpuport_check(): find the recorded objects again,
 * check they are the same files, ask cpuport-select what this CPU picks,
 * refuse when a thread stands in code that must change and cannot run
 * here, then write every slot and cached state and read each one back.
 */
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "select.h"

struct robj {
	const Cpuport__Object *rec;
	uint64_t base;		/* load bias now */
	const struct elf_info *elf;	/* shared, from the context's cache */
	int fd;			/* the object's file, for the helper; -1 if none */
	bool sent;
};

struct write {
	uint64_t addr;
	uint8_t *data;		/* malloc()ed */
	uint32_t len;
	const char *what;	/* for messages */
};

struct restore {
	struct cpuport_ctx *ctx;
	const Cpuport__Image *img;
	pid_t pid;
	bool dry_run;		/* cpuport check: no process, files by path */
	FILE *report;
	bool json;
	struct proc proc;
	struct robj *objs;
	struct selection sel;
	int *slot_ans, *state_ans;
	struct answer_key *keys;	/* per answer number: what was asked (kind 0: not cacheable) */
	size_t n_keys;
	struct write *writes;
	size_t n_writes;
	struct cpuport_restore_stats st;
	int interp;
};

static const char *obj_name(const struct restore *r, uint32_t i)
{
	return i < r->img->n_objects ? r->img->objects[i]->path : "?";
}

static void build_id_hex(const uint8_t *b, size_t n, char *out, size_t len)
{
	size_t pos = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && pos + 3 < len; i++)
		pos += snprintf(out + pos, len - pos, "%02x", b[i]);
}

static const struct proc_map *find_mapping(const struct proc *p, const char *path)
{
	for (size_t i = 0; i < p->n_maps; i++)
		if (p->maps[i].path && p->maps[i].off == 0 && !strcmp(p->maps[i].path, path))
			return &p->maps[i];
	return NULL;
}

/* Find one recorded object again and prove it is the same file (build-id). */
static int match_object(struct restore *r, uint32_t i)
{
	struct robj *o = &r->objs[i];
	const Cpuport__Object *rec = o->rec;
	char path[4096], want[130], have[130], root[64];
	const char *open_path = path;
	const struct proc_map *m = NULL;
	int ret;

	if (!r->dry_run) {
		m = find_mapping(&r->proc, rec->path);
		if (!m) {
			log_err(r->ctx, "pid %d: %s is not mapped in the restored process\n", r->pid, rec->path);
			return -ESTALE;
		}
		proc_map_file_path(&r->proc, m, path, sizeof(path));
	} else {
		snprintf(path, sizeof(path), "%s%s", r->ctx->root, rec->path);
	}
	/* debug files from the process's root, as at dump (scan.c) */
	if (r->dry_run)
		snprintf(root, sizeof(root), "%s", r->ctx->root);
	else
		snprintf(root, sizeof(root), "/proc/%d/root", r->pid);
	o->elf = elf_cache_get(r->ctx, open_path, root, &ret);
	if (!o->elf) {
		log_err(r->ctx, "pid %d: cannot read %s: %s\n", r->pid, rec->path, strerror(-ret));
		return -ESTALE;
	}
	o->base = m ? m->start - elf_first_load_vaddr(o->elf) : rec->load_base;
	if (rec->has_build_id &&
	    (rec->build_id.len != o->elf->build_id_len || memcmp(rec->build_id.data, o->elf->build_id, o->elf->build_id_len))) {
		build_id_hex(rec->build_id.data, rec->build_id.len, want, sizeof(want));
		build_id_hex(o->elf->build_id, o->elf->build_id_len, have, sizeof(have));
		log_err(r->ctx, "pid %d: %s changed since the dump (build-id %s, now %s): restore where the same "
			"file is installed, or re-dump\n", r->pid, rec->path, want, have);
		return -ESTALE;
	}
	o->fd = open(open_path, O_RDONLY | O_CLOEXEC);
	return 0;
}

/*
 * Re-derive a slot from the destination's own file: it must be a relocation
 * of the kind recorded, and its resolver the one that file names.  A
 * tampered image cannot make us write anywhere else.
 */
static int check_slot(struct restore *r, const Cpuport__Slot *s)
{
	static const uint32_t types[] = { 0, R_X86_64_IRELATIVE, R_X86_64_JUMP_SLOT, R_X86_64_GLOB_DAT };
	const struct elf_reloc *rel = elf_reloc_at(r->objs[s->object].elf, s->offset);
	const struct elf_symbol *def;

	if (!rel || (unsigned)s->kind >= ARRAY_SIZE(types) || rel->type != types[s->kind])
		goto bad;
	if (s->kind == CPUPORT__SLOT_KIND__IRELATIVE) {
		if (s->resolver->object != s->object || (uint64_t)rel->addend != s->resolver->offset)
			goto bad;
		return 0;
	}
	def = elf_dynsym_find(r->objs[s->resolver->object].elf, s->symbol, s->version);
	if (!rel->sym || strcmp(rel->sym, s->symbol) || !def || def->type != STT_GNU_IFUNC ||
	    def->value != s->resolver->offset)
		goto bad;
	return 0;
bad:
	log_err(r->ctx, "pid %d: image names slot %#" PRIx64 " of %s, which that file does not have: the image "
		"is corrupt or was tampered with\n", r->pid, s->offset, obj_name(r, s->object));
	return -EBADMSG;
}

/*
 * Re-derive a cached state's place from the destination's own file, as the
 * scan found it: a tampered image cannot aim a state write anywhere else.
 */
static int check_state(struct restore *r, const Cpuport__State *st)
{
	const struct elf_info *e = r->objs[st->object].elf;
	const Cpuport__Object *o = r->img->objects[st->object];
	const struct glibc_layout *l = glibc_layout_find(o->glibc_version);
	const struct elf_symbol *sym = NULL, *ro = elf_dynsym_find(e, "_rtld_global_ro", NULL);
	uint64_t want = UINT64_MAX, size = st->size;

	switch (st->kind) {
	case CPUPORT__STATE_KIND__LAZY_TRAMPOLINE:
		want = e->pltgot ? e->pltgot + 16 : UINT64_MAX, size = 8;
		break;
	case CPUPORT__STATE_KIND__LIBGCC_CPU_MODEL:
	case CPUPORT__STATE_KIND__LIBGCC_FEATURES2:
	case CPUPORT__STATE_KIND__LIBC_TUNING:
		sym = st->name ? elf_sym_named(e, st->name) : NULL;
		want = sym ? sym->value : UINT64_MAX, size = sym ? sym->size : 0;
		break;
	default:	/* ld.so's fields inside _rtld_global_ro */
		if (!o->is_interp || !l || !ro)
			break;
		want = ro->value + (st->kind == CPUPORT__STATE_KIND__CPU_FEATURES ? l->cpu_features
				    : st->kind == CPUPORT__STATE_KIND__RTLD_HWCAP ? l->hwcap
				    : st->kind == CPUPORT__STATE_KIND__RTLD_PLATFORM ? l->platform
										      : l->minsigstacksize);
		size = st->kind == CPUPORT__STATE_KIND__CPU_FEATURES ? l->cpu_features_size : 8;
		break;
	}
	if (want == st->offset && size == st->size)
		return 0;
	log_err(r->ctx, "pid %d: image names %s at %#" PRIx64 " in %s, which that file does not have there: the "
		"image is corrupt or was tampered with\n", r->pid, st->name ?: "a cached state", st->offset, o->path);
	return -EBADMSG;
}

static const Cpuport__State *find_state(const Cpuport__Image *img, uint32_t obj, Cpuport__StateKind kind)
{
	for (size_t i = 0; i < img->n_states; i++)
		if (img->states[i]->object == obj && img->states[i]->kind == kind)
			return img->states[i];
	return NULL;
}

static void send_model(struct restore *r, uint32_t i)
{
	const Cpuport__State *m = find_state(r->img, i, CPUPORT__STATE_KIND__LIBGCC_CPU_MODEL);
	const Cpuport__State *f2 = find_state(r->img, i, CPUPORT__STATE_KIND__LIBGCC_FEATURES2);
	const struct elf_symbol *init = elf_sym_named(r->objs[i].elf, "__cpu_indicator_init");

	if (!m)
		return;
	fprintf(r->sel.req, "model %u %" PRIu64 " %u %" PRIu64 " %u %" PRIu64 "\n", i, m->offset, m->size,
		f2 ? f2->offset : 0, f2 ? f2->size : 0, init ? init->value : 0);
}

/* Tell the helper about an object once: dlopen it, or map the executable. */
static int send_object(struct restore *r, uint32_t i)
{
	struct robj *o = &r->objs[i];
	char path[32];
	int fd;

	if (o->sent || (int)i == r->interp)	/* the helper runs on the interp itself */
		return 0;
	o->sent = true;
	fd = sel_pass_fd(&r->sel, o->fd >= 0 ? dup(o->fd) : -1);
	if (fd < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!o->rec->is_exe) {
		fprintf(r->sel.req, "dso %u %s\n", i, path);
		send_model(r, i);
		return 0;
	}
	fprintf(r->sel.req, "exe %u %s\n", i, path);
	for (size_t k = 0; k < o->elf->n_segs; k++)
		fprintf(r->sel.req, "seg %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %d\n", i,
			o->elf->segs[k].offset, o->elf->segs[k].vaddr, o->elf->segs[k].filesz, o->elf->segs[k].memsz,
			o->elf->segs[k].prot);
	fprintf(r->sel.req, "map %u\n", i);
	/* unrelocated symbolic slots would jump anywhere: make them fault */
	for (size_t k = 0; k < o->elf->n_relocs; k++)
		if (o->elf->relocs[k].type != R_X86_64_IRELATIVE)
			fprintf(r->sel.req, "guard %u %" PRIu64 "\n", i, o->elf->relocs[k].offset);
	send_model(r, i);
	return 0;
}

/* The recorded object with this build-id, if exactly one. */
static int object_by_build_id(const struct restore *r, const uint8_t *bid, size_t len)
{
	int found = -1;

	for (size_t i = 0; len && i < r->img->n_objects; i++) {
		const Cpuport__Object *o = r->img->objects[i];

		if (o->has_build_id && o->build_id.len == len && !memcmp(o->build_id.data, bid, len)) {
			if (found >= 0)
				return -1;	/* the same file twice (dlmopen): no sharing */
			found = i;
		}
	}
	return found;
}

static void object_key(const struct restore *r, struct answer_key *k, enum answer_kind kind, uint32_t obj,
		       uint64_t off, uint32_t size)
{
	const Cpuport__Object *o = r->img->objects[obj];

	answer_key_init(k, kind, o->has_build_id ? o->build_id.data : NULL, o->has_build_id ? o->build_id.len : 0,
			off, size);
	if (object_by_build_id(r, k->bid, k->bid_len) != (int)obj)
		k->bid_len = 0;	/* not cacheable */
}

/* Ask about an object: from the cache when another process asked the same, else the helper. */
static int ask(struct restore *r, enum answer_kind kind, uint32_t obj, uint64_t off, uint32_t size)
{
	struct answer_key k;
	const struct answer *a;
	int n, ans_obj = -1, ret;

	object_key(r, &k, kind, obj, off, size);
	a = answer_cache_get(r->ctx, &k);
	if (a && (!a->bid_len || (ans_obj = object_by_build_id(r, a->bid, a->bid_len)) >= 0))
		n = sel_known(&r->sel, a->status, ans_obj, a->off, a->bytes, a->len);
	else if ((ret = send_object(r, obj)))
		return ret;
	else
		n = kind == ANS_CALL ? sel_call(&r->sel, obj, off)
		    : kind == ANS_PTR ? sel_ptr(&r->sel, obj, off) : sel_read(&r->sel, obj, off, size);
	if (n < 0)
		return n;
	if ((size_t)n >= r->n_keys) {
		struct answer_key *nk = realloc(r->keys, (n + 64) * sizeof(*nk));

		if (!nk)
			return -ENOMEM;
		memset(nk + r->n_keys, 0, (n + 64 - r->n_keys) * sizeof(*nk));
		r->keys = nk;
		r->n_keys = n + 64;
	}
	r->keys[n] = k;
	if (a)
		r->keys[n].kind = 0;	/* known already */
	return n;
}

static int build_request(struct restore *r)
{
	const Cpuport__Image *img = r->img;
	int ret = 0;

	if (r->interp >= 0)
		fprintf(r->sel.req, "interp %d\n", r->interp);
	if (!r->ctx->target_is_host) {
		uint32_t w[8];
		int n = 0;

		if (!libgcc_mask_words(&r->ctx->target.feat, w, 4))
			n = 4;
		fprintf(r->sel.req, "mask");
		for (int k = 0; k < n; k++)
			fprintf(r->sel.req, " %x", w[k]);
		fprintf(r->sel.req, "\n");
	}
	for (size_t i = 0; i < img->n_slots && ret >= 0; i++) {
		const Cpuport__Slot *s = img->slots[i];

		r->slot_ans[i] = -1;
		if (s->bound && s->target)
			ret = r->slot_ans[i] = ask(r, ANS_CALL, s->resolver->object, s->resolver->offset, 0);
	}
	for (size_t i = 0; i < img->n_states && ret >= 0; i++) {
		const Cpuport__State *s = img->states[i];

		r->state_ans[i] = -1;
		if (s->kind == CPUPORT__STATE_KIND__LAZY_TRAMPOLINE)
			continue;	/* answered by "trampoline" */
		ret = r->state_ans[i] = ask(r, s->kind == CPUPORT__STATE_KIND__RTLD_PLATFORM ? ANS_PTR : ANS_READ,
					    s->object, s->offset, s->size);
	}
	return ret < 0 ? ret : 0;
}

/* ld.so's own answers (cpu_features, trampoline), cached per ld.so build-id. */
static bool rtld_known(struct restore *r)
{
	struct answer_key k;
	const struct answer *a;

	if (r->interp < 0)
		return true;
	object_key(r, &k, ANS_RTLD, r->interp, 0, 0);
	a = answer_cache_get(r->ctx, &k);
	if (!a)
		return false;
	r->sel.cpu_features_obj = r->sel.tramp_obj = r->interp;
	r->sel.cpu_features_off = a->off;
	r->sel.tramp_off = a->off2;
	return true;
}

/* Remember what the helper said, for the next process of this restore. */
static int remember_answers(struct restore *r)
{
	struct answer_key k;
	int ret = 0;

	for (size_t n = 0; n < r->sel.n_ans && n < r->n_keys && !ret; n++) {
		const struct sel_answer *sa = &r->sel.ans[n];
		struct answer a = { .status = sa->status, .off = sa->off, .bytes = sa->bytes, .len = sa->len };

		if (!r->keys[n].kind || sa->status == SEL_MISSING)
			continue;
		if (sa->status == SEL_OK && sa->obj >= 0 && r->keys[n].kind != ANS_READ) {
			const Cpuport__Object *o = r->img->objects[sa->obj];

			if (!o->has_build_id || object_by_build_id(r, o->build_id.data, o->build_id.len) != sa->obj)
				continue;
			a.bid_len = o->build_id.len;
			memcpy(a.bid, o->build_id.data, o->build_id.len);
		}
		ret = answer_cache_put(r->ctx, &r->keys[n], &a);
	}
	if (!ret && r->interp >= 0 && r->sel.cpu_features_obj == r->interp && r->sel.tramp_obj == r->interp) {
		struct answer a = { .status = SEL_OK, .off = r->sel.cpu_features_off, .off2 = r->sel.tramp_off };

		object_key(r, &k, ANS_RTLD, r->interp, 0, 0);
		ret = answer_cache_put(r->ctx, &k, &a);
	}
	return ret;
}

/* ld.so and the directories of the process's libraries, seen from its root. */
static int run_helper(struct restore *r)
{
	char lib_path[4096] = "", dir[512], root[512];
	size_t pos = 0;
	int interp_fd;

	if (r->interp < 0) {
		log_err(r->ctx, "pid %d: no dynamic linker mapped: cannot re-run selection\n", r->pid);
		return -ENOEXEC;
	}
	if (r->dry_run)
		snprintf(root, sizeof(root), "%s", r->ctx->root);
	else
		snprintf(root, sizeof(root), "/proc/%d/root", r->pid);
	for (size_t i = 0; i < r->img->n_objects; i++) {
		char *copy = strdup(r->img->objects[i]->path), full[1100];
		int fd;

		if (!copy)
			return -ENOMEM;
		snprintf(dir, sizeof(dir), "%s", dirname(copy));
		free(copy);
		snprintf(full, sizeof(full), "%s%s", root, dir);
		fd = sel_pass_fd(&r->sel, open(full, O_PATH | O_DIRECTORY | O_CLOEXEC));
		if (fd >= 0 && pos + 32 < sizeof(lib_path))
			pos += snprintf(lib_path + pos, sizeof(lib_path) - pos, "%s/proc/self/fd/%d", pos ? ":" : "", fd);
	}
	interp_fd = r->objs[r->interp].fd;
	r->sel.pid = r->pid;
	{
		char mask[512] = "", tun[TUNABLES_MAX];
		const char *own = r->img->proc ? r->img->proc->glibc_tunables : NULL;
		int ret;

		if (!r->ctx->target_is_host)
			cpu_glibc_tunables(&r->ctx->host, &r->ctx->target, mask, sizeof(mask));
		/* the process's own GLIBC_TUNABLES (recorded at dump) apply to its re-selection too */
		ret = tunables_for_helper(own, r->ctx->unmask, mask, tun, sizeof(tun));
		if (ret) {
			log_err(r->ctx, "pid %d: the image's GLIBC_TUNABLES are not a value glibc reads (%s): the image "
				"is corrupt or was tampered with\n", r->pid, strerror(-ret));
			return -EBADMSG;
		}
		if (own && *own)
			log_debug(r->ctx, "pid %d: its own GLIBC_TUNABLES=%s%s; the helper runs with GLIBC_TUNABLES=%s\n",
				  r->pid, own, r->ctx->unmask ? " (hwcaps dropped: unmask)" : "", tun);
		return sel_run(&r->sel, r->ctx, interp_fd, lib_path, tun, r->dry_run ? 0 : r->pid);
	}
}

static int add_write(struct restore *r, uint64_t addr, const void *data, uint32_t len, const char *what)
{
	struct write *w;
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	w = realloc(r->writes, (r->n_writes + 1) * sizeof(*w));
	if (!w) {
		free(copy);
		return -ENOMEM;
	}
	r->writes = w;
	memcpy(copy, data, len);
	r->writes[r->n_writes++] = (struct write){ addr, copy, len, what };
	return 0;
}

/* Which ISA extensions the code at [addr, addr+len) needs (process memory, or the file for check). */
static int code_needs(struct restore *r, uint64_t addr, uint64_t len, struct featset *need)
{
	uint8_t *code;
	int ret = 0;

	memset(need, 0, sizeof(*need));
	if (!len || len > (1 << 20))
		len = 4096;
	code = malloc(len);
	if (!code)
		return -ENOMEM;
	if (r->dry_run) {
		int oi = table_object_at(r->img, addr);
		int64_t off = oi >= 0 ? elf_vaddr_to_offset(r->objs[oi].elf, addr - r->img->objects[oi]->load_base, len)
				      : -1;

		if (off < 0 || r->objs[oi].fd < 0 || pread(r->objs[oi].fd, code, len, off) != (ssize_t)len)
			ret = -EIO;
	} else {
		ret = proc_read(&r->proc, addr, code, len);
	}
	if (!ret)
		ret = isa_required(code, len, addr, need);
	free(code);
	return ret;
}

/* Can that code run on the target?  Unreadable code counts as "no". */
static bool runs_on_target(struct restore *r, uint64_t addr, uint64_t len, struct featset *missing)
{
	struct featset need;

	if (code_needs(r, addr, len, &need)) {
		memset(missing, 0, sizeof(*missing));
		return false;
	}
	missing->w[0] = need.w[0] & ~r->ctx->target.feat.w[0];
	missing->w[1] = need.w[1] & ~r->ctx->target.feat.w[1];
	return !missing->w[0] && !missing->w[1];
}

/* How messages name the CPU re-selection is for. */
static const char *target_label(const struct restore *r)
{
	const struct cpu_desc *t = &r->ctx->target;

	if (!r->ctx->target_is_host)
		return t->name;
	return t->codename[0] ? t->codename : t->brand[0] ? t->brand : "this host";
}

static void featset_str(const struct featset *s, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = 0;
	for (int f = 0; f < F__COUNT; f++)
		if (featset_has(s, f) && pos + 2 < len)
			pos += snprintf(buf + pos, len - pos, "%s%s", pos ? "," : "", feature_name(f));
}

static uint64_t new_addr(const struct restore *r, uint32_t obj, uint64_t off)
{
	return r->objs[obj].base + off;
}

/* Is object-relative @off inside an executable segment of recorded object @obj? */
static bool in_code(const struct restore *r, int obj, uint64_t off)
{
	const struct elf_info *e;

	if (obj < 0 || (size_t)obj >= r->img->n_objects)
		return false;
	e = r->objs[obj].elf;
	for (size_t i = 0; i < e->n_segs; i++)
		if ((e->segs[i].prot & PROT_EXEC) && off >= e->segs[i].vaddr && off < e->segs[i].vaddr + e->segs[i].memsz)
			return true;
	return false;
}

/* Plan one slot's write; a resolver that could not run keeps a variant that runs here. */
static int plan_slot(struct restore *r, size_t i)
{
	const Cpuport__Slot *s = r->img->slots[i];
	const struct sel_answer *a = r->slot_ans[i] >= 0 ? &r->sel.ans[r->slot_ans[i]] : NULL;
	uint64_t slot = new_addr(r, s->object, s->offset), old = s->value, nv;
	struct featset missing;
	char miss[256];

	if (!s->bound) {
		r->st.unbound++;
		return 0;
	}
	if (!s->target) {	/* not a code pointer (glibc's __x86_cacheinfo): leave it */
		r->st.unchanged++;
		return 0;
	}
	if (!r->dry_run && proc_read(&r->proc, slot, &old, 8))
		return -EIO;
	if (!a || a->status != SEL_OK) {
		uint64_t len = s->target && s->target->has_size ? s->target->size : 0;

		if (s->target && runs_on_target(r, old, len, &missing)) {
			log_warn(r->ctx, "pid %d: resolver of %s in %s could not run here; keeping %s, which runs on "
				 "this CPU\n", r->pid, s->symbol ?: "(IRELATIVE)", obj_name(r, s->object),
				 s->target->symbol ?: "its variant");
			r->st.unchanged++;
			return 0;
		}
		featset_str(&missing, miss, sizeof(miss));
		log_err(r->ctx, "pid %d: resolver of %s in %s could not run here (%s) and the bound variant %s "
			"needs %s: refusing\n", r->pid, s->symbol ?: "(IRELATIVE)", obj_name(r, s->object),
			!a ? "no answer" : a->status == SEL_FAULT ? "it faulted" : "answer outside any object",
			s->target && s->target->symbol ? s->target->symbol : "?", miss[0] ? miss : "unknown features");
		return -EDEADLK;
	}
	if (!in_code(r, a->obj, a->off)) {
		log_err(r->ctx, "pid %d: new target of %s in %s is not code of %s: refusing\n", r->pid,
			s->symbol ?: s->resolver->symbol ?: "(IRELATIVE)", obj_name(r, s->object), obj_name(r, a->obj));
		return -EPROTO;
	}
	nv = new_addr(r, a->obj, a->off);
	if (nv == old) {
		r->st.unchanged++;
		return 0;
	}
	r->st.patched++;
	return add_write(r, slot, &nv, 8, s->symbol ?: s->resolver->symbol ?: "IRELATIVE slot");
}

static int plan_state(struct restore *r, size_t i)
{
	const Cpuport__State *s = r->img->states[i];
	const struct sel_answer *a = r->state_ans[i] >= 0 ? &r->sel.ans[r->state_ans[i]] : NULL;
	uint64_t addr = new_addr(r, s->object, s->offset), v;

	if (s->kind == CPUPORT__STATE_KIND__LAZY_TRAMPOLINE) {
		if (r->sel.tramp_obj != r->interp) {
			log_err(r->ctx, "pid %d: helper did not report ld.so's lazy-binding trampoline\n", r->pid);
			return -ECHILD;
		}
		v = new_addr(r, r->interp, r->sel.tramp_off);
		r->st.states++;
		return add_write(r, addr, &v, 8, "GOT[2]");
	}
	if (s->kind == CPUPORT__STATE_KIND__CPU_FEATURES &&
	    (r->sel.cpu_features_obj != (int)s->object || r->sel.cpu_features_off != s->offset)) {
		log_err(r->ctx, "pid %d: ld.so's cpu_features is not where glibc %s keeps it: unsupported glibc build\n",
			r->pid, r->sel.glibc);
		return -EPROTO;
	}
	if (a && a->status == SEL_OUTSIDE && s->kind == CPUPORT__STATE_KIND__RTLD_PLATFORM) {
		/* AT_PLATFORM on the stack, not one of ld.so's names: the process's own is as good */
		log_debug(r->ctx, "pid %d: _dl_platform comes from AT_PLATFORM here: left as restored\n", r->pid);
		return 0;
	}
	if (!a || a->status != SEL_OK) {
		log_err(r->ctx, "pid %d: helper could not read %s in %s\n", r->pid, s->name ?: "state",
			obj_name(r, s->object));
		return -ECHILD;
	}
	r->st.states++;
	if (s->kind == CPUPORT__STATE_KIND__RTLD_PLATFORM) {
		v = a->obj < 0 ? 0 : new_addr(r, a->obj, a->off);
		return add_write(r, addr, &v, 8, s->name);
	}
	if (a->len != s->size)
		return -EPROTO;
	return add_write(r, addr, a->bytes, a->len, s->name);
}

/* Old variant entry -> new one, for slots that change; ambiguous if two disagree. */
struct repoint {
	uint64_t old, new_;
	uint64_t len;		/* old variant size, for hazard checks */
	const char *name;
	bool ambiguous;
};

static int collect_repoints(struct restore *r, struct repoint **out, size_t *n)
{
	struct repoint *v = NULL;
	size_t k = 0;

	for (size_t i = 0; i < r->img->n_slots; i++) {
		const Cpuport__Slot *s = r->img->slots[i];
		const struct sel_answer *a = r->slot_ans[i] >= 0 ? &r->sel.ans[r->slot_ans[i]] : NULL;
		uint64_t nv;
		size_t j;

		if (!s->bound || !a || a->status != SEL_OK || !s->target)
			continue;
		nv = new_addr(r, a->obj, a->off);
		if (nv == s->value)
			continue;
		for (j = 0; j < k && v[j].old != s->value; j++)
			;
		if (j < k) {
			v[j].ambiguous |= v[j].new_ != nv;
			continue;
		}
		struct repoint *nvv = realloc(v, (k + 1) * sizeof(*v));

		if (!nvv) {
			free(v);
			return -ENOMEM;
		}
		v = nvv;
		v[k++] = (struct repoint){ s->value, nv, s->target->has_size ? s->target->size : 0,
					   s->target->symbol ?: "variant", false };
	}
	*out = v;
	*n = k;
	return 0;
}

/* A thread whose pc (or a return address near its sp) is inside a variant that changes. */
static int check_threads(struct restore *r, const struct repoint *v, size_t n)
{
	for (size_t t = 0; t < r->img->n_threads; t++) {
		const Cpuport__Thread *th = r->img->threads[t];
		uint64_t stack[512] = { 0 };
		size_t nstack = 0;

		if (!th->has_pc)
			continue;
		if (!r->dry_run && th->has_sp && !proc_read(&r->proc, th->sp, stack, sizeof(stack)))
			nstack = ARRAY_SIZE(stack);
		for (size_t i = 0; i < n; i++) {
			struct featset missing;
			char miss[256];
			bool in_pc = v[i].len && th->pc >= v[i].old && th->pc < v[i].old + v[i].len;
			bool in_stack = false;

			for (size_t w = 0; w < nstack && !in_pc && !in_stack; w++)
				in_stack = v[i].len && stack[w] > v[i].old && stack[w] < v[i].old + v[i].len;
			if (!in_pc && !in_stack)
				continue;
			if (runs_on_target(r, v[i].old, v[i].len, &missing)) {
				log_warn(r->ctx, "pid %d: thread %u is inside %s, which still runs on this CPU: it finishes "
					 "there, later calls use the new variant\n", r->pid, th->tid, v[i].name);
				continue;
			}
			featset_str(&missing, miss, sizeof(miss));
			log_err(r->ctx, "pid %d: thread %u stopped %s %s, which needs %s that this CPU (%s) lacks: "
				"cannot make the process safe; re-dump it when the thread is elsewhere (e.g. idle "
				"in a system call)\n", r->pid, th->tid, in_pc ? "inside" : "with a return into", v[i].name,
				miss[0] ? miss : "instructions", target_label(r));
			return -EDEADLK;
		}
	}
	return 0;
}

static int cmp_write(const void *a, const void *b)
{
	const struct write *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

static int cmp_repoint(const void *a, const void *b)
{
	const struct repoint *x = a, *y = b;

	return (x->old > y->old) - (x->old < y->old);
}

/* Is @addr inside a planned slot or state write?  (writes sorted by address) */
static bool is_planned(const struct write *w, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w[mid].addr + w[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && addr >= w[lo].addr;
}

static const struct repoint *find_repoint(const struct repoint *v, size_t n, uint64_t value)
{
	struct repoint key = { .old = value };

	return bsearch(&key, v, n, sizeof(*v), cmp_repoint);
}

/* Stacks hold return addresses, checked as hazards; copied pointers live elsewhere. */
static bool is_stack(const struct restore *r, const struct proc_map *m)
{
	if (m->path && (!strcmp(m->path, "[stack]") || !strncmp(m->path, "[v", 2)))
		return true;
	for (size_t t = 0; t < r->img->n_threads; t++)
		if (r->img->threads[t]->has_sp && r->img->threads[t]->sp >= m->start && r->img->threads[t]->sp < m->end)
			return true;
	return false;
}

/* One chunk: re-point every word equal to a changed variant entry; one write per chunk. */
static int repoint_chunk(struct restore *r, uint64_t a, uint64_t *buf, size_t words, const struct repoint *v,
			 size_t n, size_t n_planned)
{
	size_t first = words, last = 0;

	for (size_t w = 0; w < words; w++) {
		const struct repoint *p = find_repoint(v, n, buf[w]);
		struct featset missing;

		if (!p || is_planned(r->writes, n_planned, a + w * 8))
			continue;
		if (p->ambiguous) {
			r->st.pointers_ambiguous++;
			if (runs_on_target(r, p->old, p->len, &missing))
				continue;
			log_err(r->ctx, "pid %d: pointer at %#" PRIx64 " to %s, which cannot run here, could mean "
				"several functions: refusing\n", r->pid, a + w * 8, p->name);
			return -EDEADLK;
		}
		buf[w] = p->new_;
		r->st.pointers++;
		first = w < first ? w : first;
		last = w;
	}
	if (first > last)
		return 0;
	return add_write(r, a + first * 8, buf + first, (last - first + 1) * 8, "copied function pointers");
}

/* Copied function pointers: exact values of changed variant entries in writable memory. */
#define CHUNK 65536

static int scan_pointers(struct restore *r, struct repoint *v, size_t n)
{
	uint64_t t0 = now_ns(), *buf;
	size_t n_planned = r->n_writes;
	int ret = 0;

	if (!n)		/* no variant changes: no copied pointer can be stale */
		return 0;
	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	if (r->n_writes)
		qsort(r->writes, r->n_writes, sizeof(*r->writes), cmp_write);
	qsort(v, n, sizeof(*v), cmp_repoint);
	for (size_t m = 0; m < r->proc.n_maps && !ret; m++) {
		const struct proc_map *mp = &r->proc.maps[m];

		if (mp->perms[1] != 'w' || mp->perms[3] != 'p' || is_stack(r, mp))
			continue;
		for (uint64_t a = mp->start; a < mp->end && !ret; a += CHUNK) {
			size_t len = mp->end - a < CHUNK ? mp->end - a : CHUNK;

			if (proc_read(&r->proc, a, buf, len))
				break;
			ret = repoint_chunk(r, a, buf, len / 8, v, n, n_planned);
		}
	}
	free(buf);
	r->st.scan_ns = now_ns() - t0;
	return ret;
}

static int apply_writes(struct restore *r)
{
	uint8_t *back = malloc(CHUNK);
	int ret = back ? 0 : -ENOMEM;

	for (size_t i = 0; i < r->n_writes && !ret; i++) {
		const struct write *w = &r->writes[i];

		ret = (r->ctx->faults & FAULT_WRITE) && i == r->n_writes / 2 ? -EIO
		      : w->len > CHUNK ? -E2BIG : proc_write(&r->proc, w->addr, w->data, w->len);
		ret = ret ?: proc_read(&r->proc, w->addr, back, w->len);
		if (!ret && memcmp(back, w->data, w->len))
			ret = -EIO;	/* read back differs */
		if (ret)
			log_err(r->ctx, "pid %d: writing %s at %#" PRIx64 " failed: %s (%zu of %zu writes done)\n", r->pid,
				w->what, w->addr, strerror(-ret), i, r->n_writes);
		else
			log_debug(r->ctx, "pid %d: wrote %s at %#" PRIx64 "\n", r->pid, w->what, w->addr);
	}
	free(back);
	return ret ? -EIO : 0;
}

static void restore_free(struct restore *r)
{
	for (size_t i = 0; r->objs && i < r->img->n_objects; i++) {
		if (r->objs[i].fd >= 0)
			close(r->objs[i].fd);
	}
	free(r->objs);
	free(r->slot_ans);
	free(r->state_ans);
	free(r->keys);
	for (size_t i = 0; i < r->n_writes; i++)
		free(r->writes[i].data);
	free(r->writes);
	sel_free(&r->sel);
	if (!r->dry_run)
		proc_close(&r->proc);
}

/*
 * Without ld.so's cpu_features (a glibc whose layout cpuport does not know),
 * later lazy binds, dlopen and the trampoline's XSAVE area would still follow
 * the source CPU: only safe when the destination has exactly its features.
 */
static int check_layout_known(struct restore *r)
{
	struct cpu_desc src;
	const Cpuport__Object *ld;

	if (r->interp < 0 || find_state(r->img, r->interp, CPUPORT__STATE_KIND__CPU_FEATURES))
		return 0;
	ld = r->img->objects[r->interp];
	if (!cpu_desc_from_image(r->img->source_cpu, &src) && !memcmp(&src.feat, &r->ctx->target.feat, sizeof(src.feat)))
		return 0;
	log_err(r->ctx, "pid %d: %s (glibc %s) keeps its CPU features where cpuport does not know: on a CPU other "
		"than the source its later lazy binds and dlopen would pick the source's variants; restore on "
		"the same CPU model, or use a glibc cpuport supports (2.36, 2.41)\n", r->pid, ld->path,
		ld->glibc_version ?: "unknown");
	return -EPROTONOSUPPORT;
}

/*
 * Libraries that pick their code from a private CPUID copy, not through
 * IFUNCs (OpenSSL's OPENSSL_ia32cap_P, libgcrypt's hwfeatures, OpenBLAS's
 * core table): cpuport cannot re-select inside them.  On a CPU without some
 * of the source's features they may run instructions it lacks: refuse.
 */
static const char *const self_dispatching[] = {
	"libcrypto.so", "libgcrypt.so", "libopenblas", "libblis.so", "libmkl_", "libx264.so", "libdav1d.so",
	NULL,
};

static int check_self_dispatching(struct restore *r)
{
	struct cpu_desc src;
	struct featset missing;
	char miss[256];

	if (cpu_desc_from_image(r->img->source_cpu, &src))
		return 0;
	missing.w[0] = src.feat.w[0] & ~r->ctx->target.feat.w[0];
	missing.w[1] = src.feat.w[1] & ~r->ctx->target.feat.w[1];
	if (!missing.w[0] && !missing.w[1])
		return 0;	/* same or better CPU: such libraries keep working (on their old paths) */
	for (size_t i = 0; i < r->img->n_objects; i++) {
		const char *base = strrchr(r->img->objects[i]->path, '/');

		base = base ? base + 1 : r->img->objects[i]->path;
		for (const char *const *lib = self_dispatching; *lib; lib++) {
			if (strncmp(base, *lib, strlen(*lib)))
				continue;
			featset_str(&missing, miss, sizeof(miss));
			log_err(r->ctx, "pid %d: %s chooses its code from its own CPUID copy, which cpuport cannot "
				"re-select, and this CPU (%s) lacks %s that the source had: it could run instructions "
				"this CPU lacks. Restore on a CPU with the source's features, or re-dump here\n", r->pid,
				r->img->objects[i]->path, target_label(r), miss);
			return -EDEADLK;
		}
	}
	return 0;
}

/* Everything up to the writes: shared by restore and check. */
static int plan(struct restore *r)
{
	const Cpuport__Image *img = r->img;
	struct repoint *v = NULL;
	size_t nv = 0;
	int ret;

	r->interp = -1;
	r->objs = calloc(img->n_objects + 1, sizeof(*r->objs));
	r->slot_ans = calloc(img->n_slots + 1, sizeof(int));
	r->state_ans = calloc(img->n_states + 1, sizeof(int));
	if (!r->objs || !r->slot_ans || !r->state_ans || sel_init(&r->sel))
		return -ENOMEM;
	for (size_t i = 0; i < img->n_objects; i++) {
		r->objs[i].rec = img->objects[i];
		r->objs[i].fd = -1;
		if (img->objects[i]->is_interp)
			r->interp = i;
	}
	for (size_t i = 0; i < img->n_objects; i++) {
		ret = match_object(r, i);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < img->n_slots; i++) {
		ret = check_slot(r, img->slots[i]);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < img->n_states; i++) {
		ret = check_state(r, img->states[i]);
		if (ret)
			return ret;
	}
	ret = check_layout_known(r);
	ret = ret ?: check_self_dispatching(r);
	if (ret)
		return ret;
	if (r->ctx->faults & FAULT_NOMEM) {
		log_err(r->ctx, "pid %d: out of memory (injected)\n", r->pid);
		return -ENOMEM;
	}
	ret = build_request(r);
	if (!ret && (r->sel.pending || !rtld_known(r))) {
		ret = run_helper(r);
		ret = ret ?: remember_answers(r);
	} else if (!ret) {
		r->sel.done = true;	/* every answer known from an earlier process */
		log_debug(r->ctx, "pid %d: every selection answer known from an earlier process\n", r->pid);
	}
	for (size_t i = 0; i < img->n_slots && !ret; i++)
		ret = plan_slot(r, i);
	for (size_t i = 0; i < img->n_states && !ret; i++)
		ret = plan_state(r, i);
	ret = ret ?: collect_repoints(r, &v, &nv);
	ret = ret ?: check_threads(r, v, nv);
	if (!ret && !r->dry_run)
		ret = scan_pointers(r, v, nv);
	free(v);
	return ret;
}

int cpuport_restore(struct cpuport_ctx *ctx, pid_t pid, const struct cpuport_table *table,
		    struct cpuport_restore_stats *stats)
{
	struct restore r = { .ctx = ctx, .img = table->img, .pid = pid };
	uint64_t t0 = now_ns(), t1;
	int ret;

	ret = proc_open(&r.proc, pid, true);
	if (ret) {
		log_err(ctx, "pid %d: cannot open its memory for writing: %s\n", pid, strerror(-ret));
		return set_errno(ret);
	}
	ret = plan(&r);
	t1 = now_ns();
	ret = ret ?: apply_writes(&r);
	r.st.select_ns = r.sel.ns;
	r.st.patch_ns = now_ns() - t1;
	r.st.total_ns = now_ns() - t0;
	if (!ret && stats)
		*stats = r.st;
	restore_free(&r);
	return set_errno(ret);
}

static void sym_name(const struct restore *r, uint32_t obj, uint64_t off, char *buf, size_t len)
{
	const struct elf_symbol *s = obj < r->img->n_objects ? elf_sym_at(r->objs[obj].elf, off) : NULL;

	if (s && s->value == off)
		snprintf(buf, len, "%s", s->name);
	else if (s)
		snprintf(buf, len, "%s+%#" PRIx64, s->name, off - s->value);
	else
		snprintf(buf, len, "%s+%#" PRIx64, obj_name(r, obj), off);
}

static void report_check(struct restore *r, FILE *f, bool json, int verdict)
{
	const Cpuport__Image *img = r->img;
	char now[256];
	bool first = true;

	if (json)
		fprintf(f, "{\"target\":\"%s\",\"level\":%d,\"ok\":%s,\"slots\":[", r->ctx->target.name,
			r->ctx->target.level, verdict ? "false" : "true");
	else
		fprintf(f, "Target %s (x86-64-v%d)\n%-24s %-34s %-22s %-34s %s\n", r->ctx->target.name,
			r->ctx->target.level, "symbol", "bound now", "its code needs", "on target", "object");
	for (size_t i = 0; i < img->n_slots; i++) {
		const Cpuport__Slot *s = img->slots[i];
		const struct sel_answer *a = r->slot_ans && r->slot_ans[i] >= 0 ? &r->sel.ans[r->slot_ans[i]] : NULL;
		const char *was = s->target && s->target->symbol ? s->target->symbol : s->bound ? "(not code)" : "(unbound)";
		const char *sym = s->symbol ?: s->resolver->symbol ?: "(IRELATIVE)";
		struct featset need = { 0 }, missing;
		char needs[128] = "";

		if (s->target && s->target->has_size &&
		    !code_needs(r, r->img->objects[s->target->object]->load_base + s->target->offset, s->target->size,
				&need)) {
			featset_str(&need, needs, sizeof(needs) - 2);
			missing.w[0] = need.w[0] & ~r->ctx->target.feat.w[0];
			missing.w[1] = need.w[1] & ~r->ctx->target.feat.w[1];
			if (missing.w[0] || missing.w[1])
				strcat(needs, " !");	/* the target lacks some of it */
		}

		if (a && a->status == SEL_OK)
			sym_name(r, a->obj, a->off, now, sizeof(now));
		else
			snprintf(now, sizeof(now), "%s", !s->bound ? "(binds lazily)" : s->target ? "(no answer)" : "(left alone)");
		if (json)
			fprintf(f, "%s{\"symbol\":\"%s\",\"object\":\"%s\",\"offset\":%" PRIu64
				",\"bound\":\"%s\",\"needs\":\"%s\",\"target\":\"%s\",\"changes\":%s}",
				first ? "" : ",", sym, obj_name(r, s->object), s->offset, was, needs, now,
				strcmp(was, now) && s->bound ? "true" : "false");
		else
			fprintf(f, "%-24s %-34s %-22s %-34s %s\n", sym, was, needs[0] ? needs : "-", now,
				obj_name(r, s->object));
		first = false;
	}
	if (json)
		fprintf(f, "],\"threads\":%zu}\n", img->n_threads);
	else
		fprintf(f, "%u slots change, %u stay, %u bind lazily; verdict: %s\n", r->st.patched, r->st.unchanged,
			r->st.unbound, verdict ? "REFUSE (see messages above)" : "restore would succeed");
}

int cpuport_check(struct cpuport_ctx *ctx, const struct cpuport_table *table, FILE *f, bool json)
{
	struct restore r = { .ctx = ctx, .img = table->img, .pid = cpuport_table__pid(table), .dry_run = true };
	int ret = plan(&r);

	if (ret != -EDEADLK && ret != 0 && !r.sel.done) {
		restore_free(&r);
		return set_errno(ret);
	}
	report_check(&r, f, json, ret);
	restore_free(&r);
	return set_errno(ret);
}
