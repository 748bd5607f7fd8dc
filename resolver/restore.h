/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The restore side's shared state and the dispatcher-kind interface.
 * Not installed.  Files (one concern each):
 *   restore.c     cpuport_restore() / cpuport_check(): the order of the steps
 *   verify.c      the image against the destination's files (objects, records)
 *   ask.c         questions to cpuport-select, the answer cache, running it
 *   codecheck.c   which ISA extensions code needs, and whether it runs here
 *   writes.c      planned writes; applying them with read-back
 *   hazards.c     threads inside (or returning into) variants that change
 *   pointers.c    copied function pointers in writable memory
 *   policy.c      refusals that no single record decides
 *   report.c      the `cpuport check` report
 *   kinds.h       the dispatcher-kind interface; kinds.c its registry;
 *   kind_*.c      one dispatcher kind each; kind_common.c what kinds share
 */
#ifndef CPUPORT_RESTORE_H
#define CPUPORT_RESTORE_H

#include <stdio.h>

#include "select.h"

#include "kinds.h"

/* ---- one restore (or check) of one process ---- */
struct robj {
	const Cpuport__Object *rec;
	uint64_t base;		/* load bias now */
	const struct elf_info *elf;	/* shared, from the context's cache */
	int fd;			/* the object's file, for the helper; -1 if none */
	bool sent;
	uint64_t dev, ino;	/* the file of its mappings (live process) */
};

#define WRITE_MAX 65536	/* largest single write; the pointer scan reads this much at once */

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
	struct pview *tgt;
	struct robj *objs;
	struct selection sel;
	int *slot_ans, *state_ans;	/* answer number per record, -1: none */
	struct answer_key *keys;	/* per answer number: what was asked (kind 0: not cacheable) */
	size_t n_keys;
	struct write *writes;
	size_t n_writes;
	struct cpuport_restore_stats st;
	int interp;
	const struct cpuport_sites *sites;	/* the dump's copied-pointer sites (ptr_sites.c), or NULL */
	uint32_t cache_context;	/* answer cache: this process's privilege context and helper input; 0: none */
	struct census_proc *census;	/* kind_census.c: the ISA census judged for the target */
	struct answer_store {	/* answer_store.c: this helper run's entry on disk */
		char *key;	/* the helper's whole input; NULL: not stored */
		size_t key_len;
		struct file_id id;	/* the entry's name: a digest of the key */
		bool hit;	/* the answers came from the store */
		bool off;	/* do not load from the store (its answers did not hold); still save */
	} store;
};

/* Old variant entry -> new one, for slots that change; ambiguous if two disagree. */
struct repoint {
	uint64_t old, new_;
	uint64_t len;		/* old variant size, for hazard checks */
	const char *name;
	bool ambiguous;
};

/*
 * answer_store.c: the helper's answers across restores.  _key: build this
 * run's key (after the request is complete); -ENOENT when the store may not
 * be used.  _load: 0 when the stored answers were fed to r->sel (the helper
 * need not run), -ENOENT on a miss.  _save: store a fresh run's answers
 * (after its plan held).  _drop: remove our entry (its answers did not hold).
 */
int answer_store_key(struct restore *r, const char *lib_path, int interp_fd, pid_t task);
int answer_store_load(struct restore *r);
int answer_store_save(struct restore *r);
void answer_store_drop(struct restore *r);
void answer_store_free(struct restore *r);

/* restore.c: as restore_through, with the dump's copied-pointer sites (checked against @img) */
int restore_with_sites(struct cpuport_ctx *ctx, const Cpuport__Image *img, const struct cpuport_sites *sites,
		       pid_t pid, struct pview *t, struct cpuport_restore_stats *stats);
/* restore.c: plan (and, with @stats, apply) through @t; for tests and the public entry points */
int restore_through(struct cpuport_ctx *ctx, const Cpuport__Image *img, pid_t pid, struct pview *t,
		    struct cpuport_restore_stats *stats);
int check_through(struct cpuport_ctx *ctx, const Cpuport__Image *img, pid_t pid, struct pview *t, FILE *f,
		  bool json);
const char *obj_name(const struct restore *r, uint32_t i);
uint64_t new_addr(const struct restore *r, uint32_t obj, uint64_t off);
const Cpuport__State *find_state(const Cpuport__Image *img, uint32_t obj, Cpuport__StateKind kind);
const struct sel_answer *slot_answer(const struct restore *r, size_t i);
const struct sel_answer *state_answer(const struct restore *r, size_t i);

/* verify.c */
int verify_image(struct restore *r);

/* ask.c */
int ask(struct restore *r, enum answer_kind kind, uint32_t obj, uint64_t off, uint32_t size);
int ask_all(struct restore *r);		/* every kind's questions; runs the helper if needed */
int ask_remember(struct restore *r);	/* the helper's answers, for the next process of this restore */

/* codecheck.c */
int code_needs(struct restore *r, uint64_t addr, uint64_t len, struct featset *need);
bool runs_on_target(struct restore *r, uint64_t addr, uint64_t len, struct featset *missing);
const char *target_label(const struct restore *r);
void featset_str(const struct featset *s, char *buf, size_t len);
bool in_code(const struct restore *r, int obj, uint64_t off);

/* answer_check.c: 0 in the resolver's variant set, 1 only if unchanged (*why), -EPROTO never, -ENOMEM */
int answer_in_variant_set(struct restore *r, size_t i, int obj, uint64_t off, const char **why);
void vset_cache_free(struct cpuport_ctx *ctx);

/* writes.c */
int add_write(struct restore *r, uint64_t addr, const void *data, uint32_t len, const char *what);
void sort_writes(struct restore *r);
bool is_planned(const struct write *w, size_t n, uint64_t addr);	/* @w sorted */
bool overlaps_planned(const struct write *w, size_t n, uint64_t addr, uint64_t len);	/* @w sorted */
int apply_writes(struct restore *r);
void free_writes(struct restore *r);

/* hazards.c */
int collect_repoints(struct restore *r, struct repoint **out, size_t *n);
int check_threads(struct restore *r, const struct repoint *v, size_t n);

/* pointers.c */
int scan_pointers(struct restore *r, struct repoint *v, size_t n);

/* policy.c */
int check_policies(struct restore *r);

/* kind_census.c */
struct census_proc;
int census_scan_pointers(struct restore *r, const struct repoint *v, size_t n);
void census_free(struct restore *r);

/* report.c */
void report_check(struct restore *r, FILE *f, bool json, int verdict);

#endif
