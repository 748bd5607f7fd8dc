/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ISA census of an object's executable code: which functions need which ISA
 * extensions, and how each such function can be reached.  A fact about the
 * file (keyed by build-id, cacheable on disk: census_cache.c); what it means
 * for one destination CPU is decided by isa_census_judge().
 *
 * How it is built (isa_census_build):
 *  - function extents: .eh_frame FDEs, then sized function symbols, then the
 *    gaps between them (elf_code.c);
 *  - one linear capstone sweep over every executable section; per function the
 *    union of what its instructions need (isa.c) and, per feature, the first
 *    instruction needing it.  Gaps (bytes outside every FDE and symbol) count
 *    only when a direct call or jump reaches them: otherwise they are data
 *    (OpenSSL keeps constant tables in .text);
 *  - dispatch roots: the variant sets (variant_set.c) of every resolver in the
 *    object (IRELATIVE addends, IFUNC symbols in .dynsym and .symtab: glibc
 *    IFUNCs and GCC target_clones).  The dispatched set is the closure of the
 *    roots over direct calls and jumps;
 *  - references to every function that needs something: direct call/jmp/jcc
 *    and address materialisation (lea [rip+X], a load from a GOT/data slot that
 *    holds its address) from code outside the dispatched set and outside the
 *    resolvers; R_X86_64_RELATIVE/64 relocations in data that point into it
 *    (static function pointer tables); a dynamic symbol exporting it;
 *  - for each function holding such a reference, the data it reads:
 *    RIP-relative memory operands, and [reg+disp] after reg was loaded from a
 *    GOT slot (slot, disp), each with whether the function tests what it read
 *    (census_guard.c; a call to a straight-line leaf predicate reads what the
 *    leaf loads), and per reference whether a cmov on such a test chose the
 *    address taken: used to tell whether the reference is guarded by state
 *    cpuport re-selects (ld.so's cpu_features, libgcc's __cpu_model,
 *    OpenSSL's capability vector).
 * Not handled: indirect calls/jumps are not followed (code reached only through
 * them and never materialised nor exported is treated as not reached; jump
 * tables live in .rodata as relative offsets: their targets are in the same
 * function).
 */
#ifndef CPUPORT_ISA_CENSUS_H
#define CPUPORT_ISA_CENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

struct elf_code;

enum census_ref_kind {
	CREF_CALL = 1,		/* direct call / jmp / jcc from other code */
	CREF_ADDR = 2,		/* address materialised in code (lea, GOT/data load) */
	CREF_DATA = 3,		/* a relocated pointer in data (site: the slot) */
	CREF_EXPORT = 4,	/* exported by a dynamic symbol (site: the function) */
};

struct census_ref {
	uint64_t site;		/* instruction (or data slot) address */
	uint64_t take;		/* the referencing function's instruction that calls it or takes its (or its
				 * table's) address; 0 when from nowhere known */
	uint64_t table;		/* CREF_DATA: the address code takes of the table holding the pointer, or 0 */
	uint32_t from;		/* index of the referencing function in reader ranges, or UINT32_MAX */
	uint32_t kind;		/* enum census_ref_kind */
	/*
	 * 1 + the index, among the reader's reads, of the read whose test selects
	 * the taken address with a cmov (census_guard.c); 0: none.
	 */
	uint32_t sel;
	uint32_t pad;
};

struct census_example {
	uint64_t addr;
	uint32_t feature;	/* enum feature, or F_UNKNOWN_ISA */
	char mnemonic[32];	/* "vpaddd", "(undecodable)" */
};

#define CF_DISPATCHED 0x1	/* reached from a resolver's variant set */
#define CF_FDE 0x2		/* extent from .eh_frame */
#define CF_GAP 0x4		/* no FDE nor symbol: a gap reached by a direct jump */
#define CF_CPUID 0x8		/* executes cpuid itself: its checks are live, never stale */

struct census_func {
	uint64_t start, end;
	struct featset need;
	uint32_t flags;
	uint32_t ex_first, n_ex;	/* census.ex[] */
	uint32_t ref_first, n_refs;	/* census.refs[]: only from outside dispatch */
};

/* A function that references needy code, with the data it reads. */
struct census_reader {
	uint64_t start, end;
	uint32_t read_first, n_reads;	/* census.reads[] */
	uint32_t flags;			/* CF_CPUID */
	uint32_t pad;
};

struct census_read {
	uint64_t addr;		/* RIP-relative data address, or the GOT slot */
	int64_t disp;		/* via_got: displacement used with the loaded pointer */
	uint32_t via_got;
	/*
	 * 1 + the offset from the reader's start of the first instruction that
	 * tests the value read here (sets flags that a conditional jump, cmov or
	 * setcc then uses; census_guard.c); 0: never tested in this function.
	 */
	uint32_t tested;
};

struct isa_census {
	uint8_t build_id[64];
	uint32_t build_id_len;
	uint64_t file_size;
	int64_t mtime_ns;
	uint64_t n_insns, n_undecodable;
	uint32_t n_resolvers, n_resolvers_unknown;
	struct featset need;		/* union over all counted code */
	struct census_func *funcs;	/* only functions that need an extension, sorted */
	size_t n_funcs;
	struct census_example *ex;
	size_t n_ex;
	struct census_ref *refs;
	size_t n_refs;
	struct census_reader *readers;
	size_t n_readers;
	struct census_read *reads;
	size_t n_reads;
	bool from_cache;
};

/* Build the census of an opened object.  0 and *out (isa_census_free()), -ENOMEM, -ENOSYS. */
int isa_census_build(const struct elf_code *c, struct isa_census **out);
/*
 * The census of the code in [addr, addr+len) read from a process's memory
 * (anonymous or memfd executable mappings: JIT code).  One pseudo-function,
 * no dispatch.  0 and *out, -ENOMEM, -ENOSYS.
 */
int isa_census_of_memory(const uint8_t *code, size_t len, uint64_t addr, struct isa_census **out);
void isa_census_free(struct isa_census *c);

/*
 * census_cache.c: the census of @path, from the context's on-disk cache
 * (disk_cache.c, kind "census"; @ctx NULL or without a cache: none) when an
 * entry there holds for the file now, else built and then stored there
 * (failures to store are ignored).  0 and *out, or -errno.
 */
struct cpuport_ctx;
int isa_census_get(struct cpuport_ctx *ctx, const char *path, struct isa_census **out);

/* ---- judging one census for one destination ---- */

/* What the process (or the checked image) around the object says. */
struct census_env {
	/*
	 * Is the data at @addr (object-relative; or, when @via_got, at the value
	 * the object's GOT slot @addr holds plus @disp) state cpuport re-selects
	 * (ld.so's cpu_features, libgcc's model, glibc's elision switch,
	 * OpenSSL's capability vector)?  NULL: nothing is.
	 */
	bool (*reselected)(uint64_t addr, bool via_got, int64_t disp, void *arg);
	/* Does another loaded object bind to the function this object exports at @addr?  NULL: yes. */
	bool (*imported)(uint64_t addr, void *arg);
	void *arg;
};

enum census_class {
	CC_NONE = 0,		/* needs nothing the destination lacks (or nothing reaches it) */
	CC_RESELECTED,		/* only reached through dispatch cpuport re-selects */
	CC_GUARDED,		/* reached only from code that tests re-selected state or runs cpuid itself */
	CC_SELF_DISPATCHED,	/* reachable otherwise: refuse */
};

struct census_verdict {
	enum census_class cls;		/* the worst over all functions */
	size_t n_reselected, n_guarded, n_self, n_unreached;
	struct featset missing;		/* what reachable needy functions need and the destination lacks */
	/* when cls == CC_SELF_DISPATCHED: the first such function */
	const struct census_func *func;
	const struct census_example *ex;	/* an instruction needing a missing feature */
	const struct census_ref *ref;		/* the unguarded reference */
};

/*
 * Judge @cen against @missing (features the source had and the destination
 * lacks; empty: the upgrade direction, nothing to refuse).  A needy function
 * is unreached when no code, data pointer or import refers to it and no
 * dispatch selects it (an ELF function is reached only through one of these).
 * @env may be NULL (no state re-selected, every export imported).
 */
void isa_census_judge(const struct isa_census *cen, const struct featset *missing, const struct census_env *env,
		      struct census_verdict *out);
/* How each of cen->funcs is reached (whatever it needs): @cls[n_funcs]. */
void isa_census_classify(const struct isa_census *cen, const struct census_env *env, enum census_class *cls);
const char *census_class_name(enum census_class c);
/* A feature's name for messages, F_UNKNOWN_ISA included. */
const char *census_feature_name(uint32_t f);

#endif
