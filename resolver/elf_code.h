/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An ELF object's code as a disassembler needs it: its bytes by link-time
 * address, where code lies (executable sections), every dynamic relocation
 * (so a load from a GOT or data slot can be followed to the address it will
 * hold), function extents from .eh_frame FDEs and symbols.  Used by
 * variant_set.c (what a resolver can return) and isa_census.c (what each
 * function needs).  Not installed.
 */
#ifndef CPUPORT_ELF_CODE_H
#define CPUPORT_ELF_CODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct elf_code_range {
	uint64_t start, end;		/* [start, end) link-time addresses */
};

struct elf_code_reloc {
	uint64_t off;			/* r_offset */
	int64_t addend;
	uint32_t type;			/* R_X86_64_* */
	uint32_t sym;			/* index into dynsym (0: none) */
};

struct elf_code_sym {
	uint64_t value, size;
	const char *name;		/* points into the mapped file */
	unsigned char type;		/* STT_* */
	bool defined;
};

struct elf_code_func {
	uint64_t start, end;
	bool from_fde;			/* extent from .eh_frame (else a symbol or a gap) */
	bool gap;			/* neither an FDE nor a sized symbol: code or data between them */
};

struct elf_code {
	int fd;
	void *elf;			/* Elf *, open for the object's lifetime */
	const uint8_t *file;		/* the whole file (libelf's read-only mapping) */
	size_t file_size;
	struct stat st;
	bool is_exec;			/* ET_EXEC: addresses are absolute */
	uint8_t build_id[64];
	size_t build_id_len;
	struct {
		uint64_t vaddr, offset, filesz, memsz;
		bool x, w;
	} segs[16];
	size_t n_segs;
	struct elf_code_range *text;	/* executable sections, sorted */
	size_t n_text;
	struct elf_code_range init;	/* .init (empty if none) */
	struct elf_code_reloc *rel;	/* all of .rela.dyn and .rela.plt, sorted by off */
	size_t n_rel;
	struct elf_code_sym *dynsym;	/* by index */
	size_t n_dynsym;
	struct elf_code_sym *fsyms;	/* named code symbols (.symtab, .dynsym), sorted by value */
	size_t n_fsyms;
	struct elf_code_func *funcs;	/* FDEs, then symbols not covered, sorted, no overlaps */
	size_t n_funcs;
	size_t n_fdes;
};

/* Open and index @path.  0, -ENOENT/-EACCES (open), -ENOEXEC (not x86-64 ELF), -ENOMEM. */
int elf_code_open(const char *path, struct elf_code *c);
enum elf_code_mode {
	ELF_CODE_FULL,		/* everything */
	ELF_CODE_NO_FUNCS,	/* no .eh_frame, no function extents */
	ELF_CODE_SECTIONS,	/* segments and sections only (a quick look at .init) */
};
int elf_code_open_mode(const char *path, struct elf_code *c, enum elf_code_mode mode);
/* @lite: ELF_CODE_SECTIONS, else ELF_CODE_FULL */
int elf_code_open_lite(const char *path, struct elf_code *c, bool lite);
void elf_code_close(struct elf_code *c);
/* The file's bytes for [vaddr, vaddr+len) inside one segment's file image, or NULL. */
const uint8_t *elf_code_bytes(const struct elf_code *c, uint64_t vaddr, uint64_t len);
/* Is @vaddr inside an executable section (or executable segment without sections)? */
bool elf_code_is_text(const struct elf_code *c, uint64_t vaddr);
/* The relocation applied at exactly @off, or NULL. */
const struct elf_code_reloc *elf_code_reloc_at(const struct elf_code *c, uint64_t off);
/*
 * The 8-byte value the slot at @vaddr holds once ld.so has relocated the
 * object, when that is an address inside this object: R_X86_64_RELATIVE
 * (addend), or R_X86_64_64/GLOB_DAT/JUMP_SLOT against a symbol this object
 * defines as a function (value + addend; interposition by another object is
 * not considered).  For ET_EXEC without a relocation, the file's bytes.
 * 0 and *val, or -ENOENT (unknown: undefined symbol, IRELATIVE, no data).
 */
int elf_code_slot_value(const struct elf_code *c, uint64_t vaddr, uint64_t *val);
/* The function containing @vaddr (FDE, symbol or gap between them), or NULL. */
const struct elf_code_func *elf_code_func_at(const struct elf_code *c, uint64_t vaddr);
/* eh_frame.c: call @fn for each FDE's [start, end) in the .eh_frame bytes @sec at @vaddr; 0 or its error. */
typedef int (*elf_range_fn)(uint64_t start, uint64_t end, void *arg);
int elf_eh_frame_ranges(const uint8_t *sec, size_t size, uint64_t vaddr, elf_range_fn fn, void *arg);
/* A name for @vaddr for messages ("sym" or "sym+0x12"), or NULL if none. */
const char *elf_code_sym_name(const struct elf_code *c, uint64_t vaddr, uint64_t *delta);

#endif
