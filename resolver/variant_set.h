/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The candidate set of a CPU-dispatching resolver (an IFUNC resolver, a GCC
 * target_clones resolver): every code address its own code can return,
 * found by following its instructions (capstone), never by names.
 *
 * Handled (a forward data-flow over the resolver's basic blocks, each of
 * the 16 general registers holding a small set of constants or "unknown"):
 *  - direct jmp / jcc (both ways), also to code outside the resolver's
 *    function (tail calls into shared selection code are followed);
 *  - lea reg, [rip+X];
 *  - mov reg64, [rip+X] from a slot whose relocation says what it holds:
 *    R_X86_64_RELATIVE (addend) or a GLOB_DAT/JUMP_SLOT/R_X86_64_64 against a
 *    function this object defines; in an ET_EXEC without relocation, the
 *    file's bytes;
 *  - mov reg, imm32/imm64 (non-PIE code addresses); mov reg, reg (64-bit;
 *    32-bit when the values fit); xor r32, r32 (zero);
 *  - cmovCC reg, reg / cmovCC reg, [rip+X] (union of both values);
 *  - direct and indirect calls: the call's own result and every
 *    caller-saved register become unknown, callee-saved ones keep their values
 *    (System V ABI);
 *  - any other instruction makes every general register it writes unknown
 *    (capstone's register access lists);
 *  - ret: rax must hold only addresses inside this object's executable
 *    sections, or 0 (may_be_null: glibc's x86 cacheinfo IRELATIVE returns 0
 *    after setting its variables; a slot may then legitimately hold 0);
 *  - int3, ud2, hlt end a path.
 * Anything else ends in "unknown" with the reason: rax unknown or not code at a
 * ret, an indirect jmp, undecodable bytes, a path leaving the object's
 * executable sections, more than 4096 instructions or 512 block visits, or
 * more than 64 distinct values in one register.  Callers fail closed on
 * unknown.  Memory other than RIP-relative constant slots is not tracked (a
 * value spilled to the stack and reloaded is unknown).
 *
 * All addresses are the object's link-time addresses (for a shared object:
 * offsets from its load base).
 */
#ifndef CPUPORT_VARIANT_SET_H
#define CPUPORT_VARIANT_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_code;

struct variant_set {
	bool known;		/* false: the set is incomplete, fail closed */
	uint64_t *addrs;	/* sorted, unique; what was found even when !known */
	size_t n;
	bool may_be_null;	/* some path returns 0 */
	char why[160];		/* when !known: what stopped the analysis, with its address */
};

/*
 * Compute the set of @resolver (a link-time address in @c).  0 and *out
 * (free with variant_set_free(); out->known says whether it is complete),
 * -ENOMEM, -ENOSYS (capstone unavailable).
 */
int variant_set_compute(const struct elf_code *c, uint64_t resolver, struct variant_set *out);
/* The same for a file by path: -errno from elf_code_open() too. */
int variant_set_of_file(const char *path, uint64_t resolver, struct variant_set *out);
bool variant_set_has(const struct variant_set *s, uint64_t addr);
void variant_set_free(struct variant_set *s);

/* One resolver's set, as answer_check.c keeps them per object. */
struct variant_set_entry {
	uint64_t resolver;
	int err;		/* variant_set_compute() failed: treated as unknown */
	struct variant_set set;
};

/*
 * vset_store.c: an object's sets on disk (by the file's identity @id).
 * _load: 0 and a malloc'ed array (free each set, then it), -ENOENT (absent,
 * stale, damaged or untrusted), -ENOMEM.  _save: the finished sets (err 0)
 * of @ents; -errno.  Bump VSET_STORE_VERSION with any change to what
 * variant_set_compute() finds.
 */
struct cpuport_ctx;
struct file_id;
int vset_store_load(struct cpuport_ctx *ctx, const struct file_id *id, struct variant_set_entry **ents, size_t *n);
int vset_store_save(struct cpuport_ctx *ctx, const struct file_id *id, const struct variant_set_entry *ents,
		    size_t n);

#endif
