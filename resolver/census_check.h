/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ISA census applied to one process (restore) or one image (check):
 * every mapped object's census judged for the destination, with the state
 * cpuport re-selects taken from the image and imports from the objects'
 * own relocations; JIT code in anonymous executable mappings; and the
 * function-pointer hazard scan.  Each refusal names the process, the object
 * (or mapping), one function, one instruction with its ISA extension and
 * what the user can do.
 */
#ifndef CPUPORT_CENSUS_CHECK_H
#define CPUPORT_CENSUS_CHECK_H

#include <stdio.h>

#include "elf_code.h"
#include "internal.h"
#include "isa_census.h"

struct census_proc_obj {
	const char *name;		/* the path the process maps (messages) */
	uint64_t base;			/* load bias */
	int img_index;			/* index in the image's objects */
	bool open;
	struct elf_code code;
	struct isa_census *cen;
	uint32_t *exp;			/* defined dynamic symbols (indexes), by value */
	size_t n_exp;
	struct census_verdict v;	/* for the destination */
	struct census_verdict v_all;	/* were every extension missing: stays on its source paths? */
};

struct census_proc {
	struct cpuport_ctx *ctx;
	pid_t pid;
	const Cpuport__Image *img;
	struct census_proc_obj *objs;
	size_t n_objs;
	struct census_range {
		uint64_t lo, hi;
	} *states;			/* absolute, state cpuport re-selects */
	size_t n_states;
	uint64_t *written;		/* slots and pointer states cpuport rewrites, sorted */
	size_t n_written;
	const char **imports;		/* names other objects bind to, sorted */
	size_t n_imports;
	struct featset missing;		/* source features the destination lacks */
	const char *target;		/* how messages name the destination */
	size_t n_jit;			/* anonymous executable mappings examined */
	uint64_t ns;
};

/*
 * Open and take the census of each image object.  @files[i] is the file to
 * read for image object i (map_files path, or root + path for check);
 * @bases[i] its load bias.  0, or -errno after a message.
 */
int census_proc_init(struct census_proc *cp, struct cpuport_ctx *ctx, pid_t pid, const Cpuport__Image *img,
		     const char *const *files, const uint64_t *bases, const struct featset *missing,
		     const char *target);
/* Refuse (-EDEADLK, after a message) if any object holds self-dispatched code the destination cannot run. */
int census_proc_check_objects(struct census_proc *cp);
/*
 * Refuse (-EDEADLK) if anonymous/memfd executable memory of @p holds instructions the destination
 * lacks (read from memory; for a pview_image, the image's dump-time record).
 */
int census_proc_check_jit(struct census_proc *cp, const struct pview *p);
/*
 * census_pointers.c: refuse (-EDEADLK) if a pointer-aligned word in writable
 * memory of @p equals the entry of a function that needs a missing extension,
 * unless cpuport re-points it (@repointed: sorted old values it rewrites), or
 * the address code takes of a read-only table holding a pointer to such a
 * function (a context built before the dump: ctx->hw = &aesni_table).
 */
int census_proc_check_pointers(struct census_proc *cp, const struct pview *p, const uint64_t *repointed,
			       size_t n_repointed);
/* One JIT region: -EDEADLK after a message naming it if @need has a feature the destination lacks. */
int census_jit_judge(struct census_proc *cp, uint64_t start, uint64_t end, const char *path,
		     const struct featset *need, uint64_t ex_addr, const char *ex_mnemonic, uint32_t ex_feature);
/* Anonymous or memfd executable memory: where JIT compilers put their code. */
bool census_is_jit_mapping(const struct proc_map *m);
/* `cpuport check`: one line per object with needy code (or JSON objects when @json). */
void census_proc_report(const struct census_proc *cp, FILE *f, bool json);
void census_proc_free(struct census_proc *cp);
/* Helpers shared by census_check.c and census_pointers.c. */
void census_feats_str(const struct featset *s, char *buf, size_t len);
int census_cmp_u64(const void *a, const void *b);
/* "name", "name+0x..", or "the function at 0x..": for messages. */
const char *census_func_name(const struct census_proc_obj *o, uint64_t vaddr, char *buf, size_t len);

#endif
