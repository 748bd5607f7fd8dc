// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The ISA census of one process or image, judged for one destination (see
 * census_check.h).  Decisions come from the code: which functions need what,
 * how they are reached, which state their callers test; never from names of
 * libraries.
 */
#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "census_check.h"

void census_feats_str(const struct featset *s, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = 0;
	for (uint32_t f = 0; f <= F_UNKNOWN_ISA; f++)
		if (featset_has(s, f) && pos + 2 < len)
			pos += snprintf(buf + pos, len - pos, "%s%s", pos ? "," : "",
					f == F_UNKNOWN_ISA ? "undecodable" : feature_name(f));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every name an object binds to another object for (undefined dynamic symbols used by relocations). */
static int collect_imports(struct census_proc *cp)
{
	size_t cap = 0;

	for (size_t i = 0; i < cp->n_objs; i++) {
		const struct elf_code *c = &cp->objs[i].code;

		if (!cp->objs[i].open)
			continue;
		for (size_t k = 0; k < c->n_rel; k++) {
			const struct elf_code_sym *s = c->rel[k].sym < c->n_dynsym ? &c->dynsym[c->rel[k].sym] : NULL;

			if (!c->rel[k].sym || !s || s->defined || !s->name)
				continue;
			if (cp->n_imports == cap) {
				const char **n = realloc(cp->imports, (cap = cap ? cap * 2 : 1024) * sizeof(*n));

				if (!n)
					return -ENOMEM;
				cp->imports = n;
			}
			cp->imports[cp->n_imports++] = s->name;
		}
	}
	if (cp->n_imports)
		qsort(cp->imports, cp->n_imports, sizeof(*cp->imports), cmp_str);
	return 0;
}

int census_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

struct env_arg {
	struct census_proc *cp;
	size_t obj;
};

static bool in_state(const struct census_proc *cp, uint64_t abs)
{
	for (size_t i = 0; i < cp->n_states; i++)
		if (abs >= cp->states[i].lo && abs < cp->states[i].hi)
			return true;
	return false;
}

/* Where a GOT slot points once bound: its symbol's definition, first in link order. */
static bool got_target(const struct census_proc *cp, size_t obj, uint64_t slot, uint64_t *abs)
{
	const struct elf_code *c = &cp->objs[obj].code;
	const struct elf_code_reloc *r = elf_code_reloc_at(c, slot);
	const char *name;

	if (!r)
		return false;
	if (r->type == R_X86_64_RELATIVE) {
		*abs = cp->objs[obj].base + (uint64_t)r->addend;
		return true;
	}
	if (!r->sym || r->sym >= c->n_dynsym || !(name = c->dynsym[r->sym].name))
		return false;
	for (size_t i = 0; i < cp->n_objs; i++) {
		const struct elf_code *o = &cp->objs[i].code;

		if (!cp->objs[i].open)
			continue;
		for (size_t k = 0; k < o->n_dynsym; k++)
			if (o->dynsym[k].defined && o->dynsym[k].name && !strcmp(o->dynsym[k].name, name)) {
				*abs = cp->objs[i].base + o->dynsym[k].value;
				return true;
			}
	}
	return false;
}

static bool env_reselected(uint64_t addr, bool via_got, int64_t disp, void *arg)
{
	struct env_arg *a = arg;
	uint64_t abs;

	if (!via_got)
		return in_state(a->cp, a->cp->objs[a->obj].base + addr);
	return got_target(a->cp, a->obj, addr, &abs) && in_state(a->cp, abs + (uint64_t)disp);
}

static bool env_imported(uint64_t addr, void *arg)
{
	struct env_arg *a = arg;
	const struct census_proc_obj *o = &a->cp->objs[a->obj];
	size_t lo = 0, hi = o->n_exp;

	while (lo < hi) {	/* the first export at @addr */
		size_t mid = (lo + hi) / 2;

		if (o->code.dynsym[o->exp[mid]].value < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < o->n_exp && o->code.dynsym[o->exp[lo]].value == addr; lo++) {
		const char *name = o->code.dynsym[o->exp[lo]].name;

		if (a->cp->n_imports &&
		    bsearch(&name, a->cp->imports, a->cp->n_imports, sizeof(*a->cp->imports), cmp_str))
			return true;
	}
	return false;
}

static int cmp_exp(const void *a, const void *b, void *arg)
{
	const struct elf_code *c = arg;
	uint64_t x = c->dynsym[*(const uint32_t *)a].value, y = c->dynsym[*(const uint32_t *)b].value;

	return (x > y) - (x < y);
}

/* The object's defined, named dynamic symbols by value. */
static int index_exports(struct census_proc_obj *o)
{
	o->exp = calloc(o->code.n_dynsym + 1, sizeof(*o->exp));
	if (!o->exp)
		return -ENOMEM;
	for (size_t i = 0; i < o->code.n_dynsym; i++)
		if (o->code.dynsym[i].defined && o->code.dynsym[i].name)
			o->exp[o->n_exp++] = (uint32_t)i;
	if (o->n_exp)
		qsort_r(o->exp, o->n_exp, sizeof(*o->exp), cmp_exp, &o->code);
	return 0;
}

int census_proc_init(struct census_proc *cp, struct cpuport_ctx *ctx, pid_t pid, const Cpuport__Image *img,
		     const char *const *files, const uint64_t *bases, const struct featset *missing, const char *target)
{
	uint64_t t0 = now_ns();
	struct featset all = { { ~0ULL, ~0ULL } };
	int ret = 0;

	memset(cp, 0, sizeof(*cp));
	cp->ctx = ctx, cp->pid = pid, cp->img = img, cp->missing = *missing, cp->target = target;
	cp->objs = calloc(img->n_objects + 1, sizeof(*cp->objs));
	cp->states = calloc(img->n_states + 1, sizeof(*cp->states));
	cp->written = calloc(img->n_states + img->n_slots + 1, sizeof(*cp->written));
	if (!cp->objs || !cp->states || !cp->written)
		return -ENOMEM;
	for (size_t i = 0; i < img->n_slots; i++)	/* where cpuport itself writes */
		if (img->slots[i]->object < img->n_objects)
			cp->written[cp->n_written++] = bases[img->slots[i]->object] + img->slots[i]->offset;
	for (size_t i = 0; i < img->n_states; i++) {
		const Cpuport__State *s = img->states[i];

		if (s->object >= img->n_objects)
			continue;
		if (s->size == 8)
			cp->written[cp->n_written++] = bases[s->object] + s->offset;
		cp->states[cp->n_states].lo = bases[s->object] + s->offset;
		cp->states[cp->n_states++].hi = bases[s->object] + s->offset + (s->size ? s->size : 1);
	}
	for (size_t i = 0; i < img->n_objects; i++) {
		struct census_proc_obj *o = &cp->objs[cp->n_objs++];

		o->name = img->objects[i]->path;
		o->base = bases[i];
		o->img_index = (int)i;
		ret = elf_code_open_mode(files[i], &o->code, ELF_CODE_NO_FUNCS);
		if (ret) {
			log_err(ctx, "pid %d: cannot read %s for its ISA census: %s\n", pid, o->name, strerror(-ret));
			return ret;
		}
		o->open = true;
		ret = index_exports(o);
		if (ret)
			return ret;
		if (img->objects[i]->has_build_id && (img->objects[i]->build_id.len != o->code.build_id_len ||
						      memcmp(img->objects[i]->build_id.data, o->code.build_id,
							     o->code.build_id_len))) {
			log_err(ctx, "pid %d: %s changed since the dump: restore where the same file is installed, "
				"or re-dump\n", pid, o->name);
			return -ESTALE;
		}
		ret = isa_census_get(ctx, files[i], &o->cen);
		if (ret) {
			log_err(ctx, "pid %d: ISA census of %s failed: %s\n", pid, o->name, strerror(-ret));
			return ret;
		}
	}
	ret = collect_imports(cp);
	if (cp->n_written)
		qsort(cp->written, cp->n_written, sizeof(*cp->written), census_cmp_u64);
	for (size_t i = 0; i < cp->n_objs && !ret; i++) {
		struct env_arg a = { cp, i };
		struct census_env env = { env_reselected, env_imported, &a };

		isa_census_judge(cp->objs[i].cen, &cp->missing, &env, &cp->objs[i].v);
		isa_census_judge(cp->objs[i].cen, &all, &env, &cp->objs[i].v_all);
	}
	cp->ns = now_ns() - t0;
	log_debug(ctx, "pid %d: ISA census of %zu objects in %" PRIu64 " us\n", pid, cp->n_objs, cp->ns / 1000);
	return ret;
}

const char *census_func_name(const struct census_proc_obj *o, uint64_t vaddr, char *buf, size_t len)
{
	uint64_t d = 0;
	const char *n = elf_code_sym_name(&o->code, vaddr, &d);

	if (n && !d)
		snprintf(buf, len, "%s", n);
	else if (n)
		snprintf(buf, len, "%s+%#" PRIx64, n, d);
	else
		snprintf(buf, len, "the function at %#" PRIx64, vaddr);
	return buf;
}

static void describe_ref(const struct census_proc_obj *o, const struct census_ref *r, char *buf, size_t len)
{
	char fn[160];

	if (!r) {
		snprintf(buf, len, "reached by no dispatch cpuport re-selects");
		return;
	}
	switch (r->kind) {
	case CREF_CALL:
		snprintf(buf, len, "called directly from %s, which decides without state cpuport re-selects",
			 census_func_name(o, r->site, fn, sizeof(fn)));
		break;
	case CREF_ADDR:
		snprintf(buf, len, "its address is taken in %s, which decides without state cpuport re-selects",
			 census_func_name(o, r->site, fn, sizeof(fn)));
		break;
	case CREF_DATA:
		snprintf(buf, len, "a function pointer to it is kept in the object's data at %#" PRIx64, r->site);
		break;
	default:
		snprintf(buf, len, "it is exported and another object binds to it");
		break;
	}
}

int census_proc_check_objects(struct census_proc *cp)
{
	for (size_t i = 0; i < cp->n_objs; i++) {
		const struct census_proc_obj *o = &cp->objs[i];
		const struct census_verdict *v = &o->v;
		char fn[160], how[320], need[256];
		struct featset real = v->missing;
		uint32_t f;

		if (v->cls != CC_SELF_DISPATCHED || !v->func)
			continue;
		f = v->ex ? v->ex->feature : F_UNKNOWN_ISA;
		real.w[F_UNKNOWN_ISA / 64] &= ~(1ULL << (F_UNKNOWN_ISA % 64));
		census_feats_str(&real, need, sizeof(need));
		describe_ref(o, v->ref, how, sizeof(how));
		log_err(cp->ctx, "pid %d: %s chooses its own code (self-dispatched, %zu functions): %s needs %s "
			"(instruction %s at %#" PRIx64 ") that %s lacks, and %s. Restore on a CPU with %s, start the "
			"program so that it does not use them, or re-dump on this CPU\n", cp->pid, o->name, v->n_self,
			census_func_name(o, v->func->start, fn, sizeof(fn)), census_feature_name(f),
			v->ex ? v->ex->mnemonic : "?", v->ex ? v->ex->addr : v->func->start, cp->target, how, need);
		return -EDEADLK;
	}
	return 0;
}

int census_jit_judge(struct census_proc *cp, uint64_t start, uint64_t end, const char *path,
		     const struct featset *need, uint64_t ex_addr, const char *ex_mnemonic, uint32_t ex_feature)
{
	struct featset hit = { { need->w[0] & cp->missing.w[0], need->w[1] & cp->missing.w[1] } };
	bool ex_ok = ex_feature <= F_UNKNOWN_ISA && featset_has(&hit, ex_feature) && ex_mnemonic;
	char feats[256], ex[96] = "";

	if (!hit.w[0] && !hit.w[1])
		return 0;
	census_feats_str(&hit, feats, sizeof(feats));
	/* an example only if it needs what is missing (a dump records one, for its most used extension) */
	if (ex_ok)
		snprintf(ex, sizeof(ex), " (instruction %s at %#" PRIx64 ")", ex_mnemonic, ex_addr);
	log_err(cp->ctx, "pid %d: JIT code in anonymous executable memory %#" PRIx64 "-%#" PRIx64 "%s%s uses %s%s "
		"that %s lacks: a JIT compiler chose instructions for the CPU it started on, and cpuport cannot "
		"re-select them. Restore on a CPU with %s, or start the program on this CPU and dump it again (its "
		"JIT's options, such as HotSpot's -XX:UseAVX=0, narrow what it compiles, not always all it "
		"generates at start-up)\n", cp->pid, start, end, path ? " " : "", path ? path : "",
		ex_ok ? census_feature_name(ex_feature) : feats, ex, cp->target, feats);
	return -EDEADLK;
}

bool census_is_jit_mapping(const struct proc_map *m)
{
	if (m->perms[2] != 'x')
		return false;
	if (!m->path)
		return true;
	return !strncmp(m->path, "/memfd:", 7) || !strncmp(m->path, "[anon", 5) ||
	       (m->path[0] == '/' && strstr(m->path, " (deleted)") && !m->ino);
}

/* Anonymous executable memory that cannot be judged: it may run, so the restore fails closed. */
static int jit_unjudged(const struct census_proc *cp, const struct proc_map *m, const char *why)
{
	log_err(cp->ctx, "pid %d: anonymous executable memory %#" PRIx64 "-%#" PRIx64 " (JIT code) %s, so cpuport "
		"cannot tell whether it needs what %s lacks. Restore on a CPU with every feature the source had, or "
		"re-dump on this CPU\n", cp->pid, m->start, m->end, why, cp->target);
	return -EDEADLK;
}

int census_proc_check_jit(struct census_proc *cp, const struct pview *p)
{
	struct featset miss = cp->missing;
	int ret = 0;

	if (!miss.w[0] && !miss.w[1])
		return 0;	/* upgrade direction */
	/* the image's own record (cpuport check: no memory to read) */
	for (size_t i = 0; p->as_recorded && cp->img && i < cp->img->n_jit; i++) {
		const Cpuport__JitRegion *j = cp->img->jit[i];
		struct featset need = { { j->n_need > 0 ? j->need[0] : 0, j->n_need > 1 ? j->need[1] : 0 } };

		cp->n_jit++;
		if (!j->censused) {
			log_err(cp->ctx, "pid %d: anonymous executable memory %#" PRIx64 "-%#" PRIx64 " (JIT code) was "
				"too large to judge at dump; the restore judges it from memory\n", cp->pid, j->start,
				j->end);
			return -EDEADLK;
		}
		ret = census_jit_judge(cp, j->start, j->end, j->path, &need, j->example_addr, j->example_mnemonic,
				       j->has_example_feature ? j->example_feature : F__COUNT);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < p->n_maps && !ret; i++) {
		const struct proc_map *m = &p->maps[i];
		struct isa_census *cen = NULL;
		const struct census_example *ex;
		uint8_t *buf;
		size_t len = m->end - m->start;

		if (!census_is_jit_mapping(m))
			continue;
		if (len > (1ULL << 30))
			return jit_unjudged(cp, m, "is over 1 GiB");
		buf = malloc(len);
		if (!buf)
			return -ENOMEM;
		if (pview_read(p, m->start, buf, len)) {	/* executable, so it may run: fail closed */
			free(buf);
			return jit_unjudged(cp, m, "cannot be read");
		}
		if (len >= 4 && !memcmp(buf, ELFMAG, SELFMAG)) {
			/*
			 * An ELF image, not generated code: the source kernel's vDSO, which
			 * CRIU keeps when the kernels differ and whose entry points it
			 * redirects to this kernel's vDSO.
			 */
			log_debug(cp->ctx, "pid %d: %#" PRIx64 "-%#" PRIx64 " holds an ELF image (the dumped vDSO), not "
				  "JIT code\n", cp->pid, m->start, m->end);
			free(buf);
			continue;
		}
		cp->n_jit++;
		if (isa_census_of_memory(buf, len, m->start, &cen)) {
			free(buf);
			return jit_unjudged(cp, m, "could not be disassembled");
		}
		ex = NULL;
		for (size_t k = 0; k < cen->n_ex && !ex; k++)
			if (featset_has(&miss, cen->ex[k].feature))
				ex = &cen->ex[k];
		ret = census_jit_judge(cp, m->start, m->end, m->path, &cen->need, ex ? ex->addr : 0,
				       ex ? ex->mnemonic : NULL, ex ? ex->feature : F__COUNT);
		isa_census_free(cen);
		free(buf);
	}
	return ret;
}

void census_proc_report(const struct census_proc *cp, FILE *f, bool json)
{
	bool first = true;

	if (json)
		fprintf(f, "[");
	for (size_t i = 0; i < cp->n_objs; i++) {
		const struct census_proc_obj *o = &cp->objs[i];
		const struct census_verdict *v = &o->v;
		char need[512], miss[256], fn[160];
		bool source_paths = o->v_all.n_self > 0;

		if (!o->cen || !o->cen->n_funcs)
			continue;
		census_feats_str(&o->cen->need, need, sizeof(need));
		census_feats_str(&v->missing, miss, sizeof(miss));
		if (v->func)
			census_func_name(o, v->func->start, fn, sizeof(fn));
		if (json) {
			fprintf(f, "%s{\"object\": ", first ? "" : ", ");
			print_json_str(f, o->name);
			fprintf(f, ", \"needs\": \"%s\", \"missing\": \"%s\", \"class\": \"%s\", "
				"\"reselected\": %zu, \"guarded\": %zu, \"self_dispatched\": %zu, \"unreached\": %zu, "
				"\"stays_on_source_paths\": %s",
				need, miss, census_class_name(v->cls), v->n_reselected,
				v->n_guarded, v->n_self, v->n_unreached,
				!cp->missing.w[0] && !cp->missing.w[1] && source_paths ? "true" : "false");
			if (v->func && v->ex)
			{
				fprintf(f, ", \"function\": ");
				print_json_str(f, fn);
				fprintf(f, ", \"instruction\": \"%s\", \"at\": %" PRIu64 ", \"extension\": \"%s\"",
					v->ex->mnemonic, v->ex->addr, census_feature_name(v->ex->feature));
			}
			fprintf(f, "}");
			first = false;
			continue;
		}
		fprintf(f, "  %s: needs %s; %s", o->name, need, census_class_name(v->cls));
		if (v->cls != CC_NONE)
			fprintf(f, " (missing %s: %zu re-selected, %zu guarded, %zu self-dispatched)", miss,
				v->n_reselected, v->n_guarded, v->n_self);
		if (v->func && v->ex)
			fprintf(f, "; e.g. %s: %s at %#" PRIx64 " needs %s", fn, v->ex->mnemonic, v->ex->addr,
				census_feature_name(v->ex->feature));
		if (!cp->missing.w[0] && !cp->missing.w[1] && source_paths && o->v_all.func) {
			census_func_name(o, o->v_all.func->start, fn, sizeof(fn));
			fprintf(f, "; stays on its source paths (chooses code itself, e.g. %s)", fn);
		}
		fprintf(f, "\n");
	}
	for (size_t i = 0; cp->img && i < cp->img->n_jit; i++) {
		const Cpuport__JitRegion *j = cp->img->jit[i];
		struct featset need = { { j->n_need > 0 ? j->need[0] : 0, j->n_need > 1 ? j->need[1] : 0 } };
		struct featset miss = { { need.w[0] & cp->missing.w[0], need.w[1] & cp->missing.w[1] } };
		char n[512], m[256];

		census_feats_str(&need, n, sizeof(n));
		census_feats_str(&miss, m, sizeof(m));
		if (json) {
			fprintf(f, "%s{\"jit\": \"%#" PRIx64 "-%#" PRIx64 "\", \"needs\": \"%s\", \"missing\": \"%s\", "
				"\"class\": \"%s\"}", first ? "" : ", ", j->start, j->end, j->censused ? n : "?", m,
				!j->censused ? "unknown" : miss.w[0] || miss.w[1] ? "JIT" : "runs");
			first = false;
		} else {
			fprintf(f, "  JIT code %#" PRIx64 "-%#" PRIx64 "%s%s: needs %s; %s\n", j->start, j->end,
				j->path ? " " : "", j->path ? j->path : "", j->censused ? n : "(not judged at dump)",
				miss.w[0] || miss.w[1] ? "JIT (refused)" : "runs");
		}
	}
	if (json)
		fprintf(f, "]");
}

void census_proc_free(struct census_proc *cp)
{
	for (size_t i = 0; cp->objs && i < cp->n_objs; i++) {
		if (cp->objs[i].open)
			elf_code_close(&cp->objs[i].code);
		isa_census_free(cp->objs[i].cen);
		free(cp->objs[i].exp);
	}
	free(cp->objs);
	free(cp->states);
	free(cp->imports);
	free(cp->written);
	memset(cp, 0, sizeof(*cp));
}
