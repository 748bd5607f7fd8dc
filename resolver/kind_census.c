// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Code that chooses its own instructions, judged from the code (the ISA
 * census, isa_census.c), never from library names: for every mapped object,
 * functions needing a feature the destination lacks must be reached only
 * through dispatch cpuport re-selects (IFUNC variants, target_clones clones,
 * ld.so trampolines) or from code that tests state cpuport re-selects;
 * JIT code in anonymous executable memory must not need a missing feature;
 * no function pointer in writable memory may lead to such code.  The
 * upgrade direction (nothing missing) is never refused.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "census_check.h"
#include "restore.h"

/* Features the source had that the destination lacks (all it lacks, if the source is unknown). */
static void missing_features(const struct restore *r, struct featset *m)
{
	struct cpu_desc src;

	if (r->img->source_cpu && !cpu_desc_from_image(r->img->source_cpu, &src)) {
		m->w[0] = src.feat.w[0] & ~r->ctx->target.feat.w[0];
		m->w[1] = src.feat.w[1] & ~r->ctx->target.feat.w[1];
	} else {
		m->w[0] = ~r->ctx->target.feat.w[0];
		m->w[1] = ~r->ctx->target.feat.w[1];
	}
	m->w[F__COUNT / 64] &= (1ULL << (F__COUNT % 64)) - 1;	/* only real features */
}

static int census_policy(struct restore *r)
{
	const Cpuport__Image *img = r->img;
	struct featset missing;
	char (*files)[64] = NULL;
	const char **fp = NULL;
	uint64_t *bases = NULL;
	int ret = -ENOMEM;

	missing_features(r, &missing);
	if (!missing.w[0] && !missing.w[1] && !r->tgt->as_recorded)
		return 0;	/* same or better CPU: nothing to refuse, nothing to report */
	if (!r->tgt->as_recorded && r->tgt->n_maps) {
		/*
		 * A restore: JIT code the destination cannot run is refused before the
		 * objects' census, which a runtime's large objects (HotSpot's libjvm.so:
		 * 23 MB) make the costly part of a first restore (0.5 s here, 50 s in an
		 * emulated CPU) and which could not change the outcome.
		 */
		struct census_proc jit = { .ctx = r->ctx, .pid = r->pid, .img = img, .missing = missing,
					   .target = target_label(r) };

		ret = census_proc_check_jit(&jit, r->tgt);
		if (ret)
			return ret;
	}
	files = calloc(img->n_objects + 1, sizeof(*files));
	fp = calloc(img->n_objects + 1, sizeof(*fp));
	bases = calloc(img->n_objects + 1, sizeof(*bases));
	r->census = calloc(1, sizeof(*r->census));
	if (!files || !fp || !bases || !r->census)
		goto out;
	for (size_t i = 0; i < img->n_objects; i++) {
		if (r->objs[i].fd < 0) {
			log_err(r->ctx, "pid %d: %s cannot be opened for its ISA census\n", r->pid, obj_name(r, i));
			ret = -ESTALE;
			goto out;
		}
		snprintf(files[i], sizeof(files[i]), "/proc/self/fd/%d", r->objs[i].fd);
		fp[i] = files[i];
		bases[i] = r->objs[i].base;
	}
	ret = census_proc_init(r->census, r->ctx, r->pid, img, fp, bases, &missing, target_label(r));
	if (!ret && r->tgt->as_recorded)
		ret = census_proc_check_jit(r->census, r->tgt);	/* the more specific reason first */
	ret = ret ?: census_proc_check_objects(r->census);
out:
	free(files);
	free(fp);
	free(bases);
	return ret;
}

/* After the kinds planned their re-pointing: pointers to needy code cpuport does not re-point. */
int census_scan_pointers(struct restore *r, const struct repoint *v, size_t n)
{
	uint64_t *old;
	int ret;

	if (!r->census || !r->tgt->n_maps)
		return 0;
	old = calloc(n + 1, sizeof(*old));
	if (!old)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		old[i] = v[i].old;
	for (size_t i = 1; i < n; i++)	/* insertion sort: few */
		for (size_t k = i; k > 0 && old[k - 1] > old[k]; k--) {
			uint64_t t = old[k];

			old[k] = old[k - 1];
			old[k - 1] = t;
		}
	ret = census_proc_check_pointers(r->census, r->tgt, old, n);
	free(old);
	return ret;
}

void census_free(struct restore *r)
{
	if (r->census) {
		census_proc_free(r->census);
		free(r->census);
		r->census = NULL;
	}
}

#define JIT_DUMP_MAX (64u << 20)	/* larger JIT regions are judged only at restore, from memory */

/* Dump: the census of every anonymous/memfd executable mapping, for `cpuport check`. */
static int record_jit(struct scan *s)
{
	const struct pview *v = scan_view(s);
	struct cpuport_table *t = scan_table(s);
	size_t n = 0, k = 0, total = 0;
	Cpuport__JitRegion **out;

	for (size_t i = 0; i < v->n_maps; i++)
		n += census_is_jit_mapping(&v->maps[i]);
	if (!n)
		return 0;
	out = arena_alloc(&t->arena, n * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_maps; i++) {
		const struct proc_map *m = &v->maps[i];
		size_t len = m->end - m->start;
		Cpuport__JitRegion *j;
		struct isa_census *cen = NULL;
		uint8_t *buf;

		if (!census_is_jit_mapping(m))
			continue;
		j = arena_alloc(&t->arena, sizeof(*j));
		if (!j)
			return -ENOMEM;
		cpuport__jit_region__init(j);
		j->start = m->start;
		j->end = m->end;
		if (m->path)
			j->path = arena_strdup(&t->arena, m->path);
		total += len;
		buf = total <= JIT_DUMP_MAX ? malloc(len) : NULL;
		if (buf && !pview_read(v, m->start, buf, len) &&
		    !(len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG)) &&
		    !isa_census_of_memory(buf, len, m->start, &cen)) {
			uint64_t *need = arena_alloc(&t->arena, 2 * sizeof(*need));

			if (!need) {
				free(buf);
				isa_census_free(cen);
				return -ENOMEM;
			}
			need[0] = cen->need.w[0], need[1] = cen->need.w[1];
			j->need = need, j->n_need = 2;
			j->has_censused = j->censused = true;
			if (cen->n_ex) {	/* the example of its most used extension */
				const struct census_example *e = &cen->ex[0];

				j->has_example_addr = j->has_example_feature = true;
				j->example_addr = e->addr;
				j->example_feature = e->feature;
				j->example_mnemonic = arena_strdup(&t->arena, e->mnemonic);
			}
		} else if (buf && len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG)) {
			free(buf);
			continue;	/* an ELF image (the vDSO CRIU keeps), not JIT code */
		}
		free(buf);
		isa_census_free(cen);
		out[k++] = j;
	}
	t->img->jit = out;
	t->img->n_jit = k;
	return 0;
}

/* Decode: a JIT record is a range with at most two feature words. */
static const char *validate(const Cpuport__Image *img)
{
	for (size_t i = 0; i < img->n_jit; i++) {
		const Cpuport__JitRegion *j = img->jit[i];

		if (!j || j->start >= j->end || j->n_need > 2 ||
		    (j->has_example_feature && j->example_feature > F_UNKNOWN_ISA))
			return "malformed JIT region record";
	}
	return NULL;
}

/* `cpuport check`: the census per object (text lines, or one JSON array under "census"). */
static void report(struct restore *r, FILE *f, bool json)
{
	if (!r->census) {
		if (json)
			fprintf(f, "[]");
		return;
	}
	if (!json)
		fprintf(f, "ISA census (code that needs more than x86-64-v1, per object):\n");
	census_proc_report(r->census, f, json);
}

const struct cpuport_kind kind_census = {
	.name = "census",
	.table = KIND_OWN,
	.record_process = record_jit,
	.validate = validate,
	.policy = census_policy,
	.report = report,
};
