/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dispatcher kinds: one module (kind_*.c) per kind of CPU-dispatched
 * binding, behind one interface, listed in one registry (kinds.c) that the
 * scan (dump), the restore and `cpuport check` walk, and from which the
 * image codec takes its limits.  Not installed.
 */
#ifndef CPUPORT_KINDS_H
#define CPUPORT_KINDS_H

#include <stdio.h>

#include "internal.h"

struct restore;
struct scan;

/* ---- the dispatcher-kind interface (kinds.c holds the registry) ---- */
enum kind_table {
	KIND_SLOTS,	/* its records are image.slots of its slot_kinds */
	KIND_STATES,	/* image.states of its state_kinds */
	KIND_OWN,	/* its own repeated field of the image: it validates and walks it itself */
};

/*
 * One kind of CPU-dispatched binding.  It owns records of the image: slots
 * of the relocation kinds in slot_kinds, or states of the kinds in
 * state_kinds (bit 1 << Cpuport__SlotKind / Cpuport__StateKind), or a
 * field of its own (KIND_OWN).  Per-record hooks (@i: index into slots or
 * states) are called for the records it owns, in the image's order; the
 * whole-image hooks (validate, policy, prepare) once.  Every hook may be NULL.  Hooks return 0 or -errno; a refusal logs why (naming the
 * process, object, function and what the user can do) and returns -EDEADLK,
 * -ESTALE, -EBADMSG or -EPROTO.
 */
struct cpuport_kind {
	const char *name;
	enum kind_table table;
	uint32_t slot_kinds, state_kinds;
	uint32_t max_size;	/* largest state it records: the codec's limit (<= SELP_MAX_READ) */

	/* dump: add this object's records (states); or one slot for relocation @rel */
	int (*record)(struct scan *s, int oi);
	int (*record_reloc)(struct scan *s, int oi, const struct elf_reloc *rel, uint64_t value);
	/* dump: once per process, after every object's records */
	int (*record_process)(struct scan *s);
	/* decode: structural check of its own records (KIND_OWN); NULL if fine, else why not */
	const char *(*validate)(const Cpuport__Image *img);
	/* restore: re-derive record @i from the destination's own file, or -EBADMSG */
	int (*verify)(struct restore *r, size_t i);
	/* restore: refuse (or not) for the whole process, after verify, before the helper runs */
	int (*policy)(struct restore *r);
	/* restore: once, before the questions (request lines every object needs) */
	int (*prepare)(struct restore *r);
	/* restore: the helper learns of object @obj (request lines about it) */
	void (*object_sent)(struct restore *r, uint32_t obj);
	/* restore: queue the question for record @i; its answer number, -1 if none, or -errno */
	int (*ask)(struct restore *r, size_t i);
	/* restore: the writes for record @i (add_write()), or a refusal */
	int (*plan)(struct restore *r, size_t i);
	/* restore: once, after every record's plan: whole-process writes or a refusal (KIND_OWN) */
	int (*plan_all)(struct restore *r);
	/* check: one report row for record @i */
	void (*explain)(struct restore *r, size_t i, FILE *f, bool json, bool first);
	/* check: the kind's own section (KIND_OWN): text lines, or one JSON value under "name" */
	void (*report)(struct restore *r, FILE *f, bool json);
};

extern const struct cpuport_kind *const cpuport_kinds[];	/* NULL-terminated */
const struct cpuport_kind *kind_of_slot(uint32_t slot_kind);	/* NULL if none */
const struct cpuport_kind *kind_of_state(uint32_t state_kind);

/* kind_common.c: slots (ifunc, irelative) and byte states */
int slot_ask(struct restore *r, size_t i);
int slot_plan(struct restore *r, size_t i);
void slot_explain(struct restore *r, size_t i, FILE *f, bool json, bool first);
int slot_bad(struct restore *r, const Cpuport__Slot *s);
/* states: ask for the bytes, write them */
int state_ask_read(struct restore *r, size_t i);
int state_plan_bytes(struct restore *r, size_t i);
int state_bad(struct restore *r, const Cpuport__State *st);
int state_verify_symbol(struct restore *r, size_t i);

/* scan.c: the table of the process @v shows (cpuport_scan() on a live one; tests on a recording) */
int scan_through(struct cpuport_ctx *ctx, struct pview *v, struct cpuport_table **out);
/* scan.c: what record hooks see of the process being dumped */
int scan_add_state(struct scan *s, int oi, Cpuport__StateKind kind, const char *name, uint64_t offset,
		   uint32_t size, bool pointer);
const struct elf_info *scan_elf(const struct scan *s, int oi);
bool scan_is_interp(const struct scan *s, int oi);
int scan_object_at(const struct scan *s, uint64_t addr);
uint64_t scan_base(const struct scan *s, int oi);
int scan_read_u64(const struct scan *s, uint64_t addr, uint64_t *v);
const char *scan_path(const struct scan *s, int oi);
/* where the scan opened the object's file (for a fresh look at its code) */
const char *scan_file(const struct scan *s, int oi);
/* the process being dumped (its mappings, its memory) */
const struct pview *scan_view(const struct scan *s);
pid_t scan_pid(const struct scan *s);
struct cpuport_ctx *scan_ctx(const struct scan *s);
struct cpuport_table *scan_table(struct scan *s);	/* KIND_OWN records: its arena and image */
int scan_find_definer(const struct scan *s, const char *sym, const char *ver, const struct elf_symbol **def);
int scan_add_slot(struct scan *s, int oi, const struct elf_reloc *r, uint64_t value, uint64_t resolver,
		  bool bound);

#endif
