/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal declarations shared by the resolver's files. Not installed. */
#ifndef CPUPORT_INTERNAL_H
#define CPUPORT_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "cpuport.h"
#include "cpuport.pb-c.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define offsetofend(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))

#define CPUPORT_IMAGE_VERSION 1

/* ---- arena.c: one allocation pool per table, freed at once ---- */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	size_t limit;		/* bytes in all chunks at most; 0: no limit */
	size_t total;
};
void *arena_alloc(struct arena *a, size_t size);		/* zeroed; NULL on ENOMEM */
char *arena_strdup(struct arena *a, const char *s);
void *arena_memdup(struct arena *a, const void *p, size_t size);
void arena_free(struct arena *a);
void arena_adopt(struct arena *dst, struct arena *src);
/* Grow *vec (of pointers) by one slot; returns the slot or NULL. */
void **arena_vec_push(struct arena *a, void ***vec, size_t *n, size_t *cap);
ProtobufCAllocator *arena_pb_allocator(struct arena *a, ProtobufCAllocator *out);

/* ---- cpu_features.c: what a CPU can run ---- */
enum feature {
	F_CMOV, F_CX8, F_FPU, F_FXSR, F_MMX, F_SSE, F_SSE2,			/* v1 */
	F_CX16, F_LAHF, F_POPCNT, F_SSE3, F_SSE4_1, F_SSE4_2, F_SSSE3,	/* v2 */
	F_AVX, F_AVX2, F_BMI1, F_BMI2, F_F16C, F_FMA, F_LZCNT, F_MOVBE,	/* v3 */
	F_OSXSAVE,
	F_AVX512F, F_AVX512BW, F_AVX512CD, F_AVX512DQ, F_AVX512VL,	/* v4 */
	F_AVX512VBMI, F_AVX512VBMI2, F_AVX512IFMA, F_AVX512VNNI, F_AVX512BITALG,
	F_AVX512VPOPCNTDQ, F_AVX512BF16, F_AVX512FP16,
	F_AES, F_PCLMUL, F_VAES, F_VPCLMULQDQ, F_GFNI, F_SHA, F_ADX, F_RDRAND,
	F_RDSEED, F_ERMS, F_FSRM, F_RTM, F_XSAVE, F_XSAVEC, F_XSAVEOPT, F_CLFLUSHOPT,
	F_CLWB, F_FSGSBASE, F_SSE4A, F_FMA4, F_XOP, F_AVXVNNI, F_PKU, F_RDPID, F_MOVDIRI,
	F__COUNT
};

struct featset {
	uint64_t w[2];
};
/* census only: an instruction nothing could decode (counts as missing whenever a source feature is) */
#define F_UNKNOWN_ISA F__COUNT

static inline bool featset_has(const struct featset *s, enum feature f)
{
	return s->w[f / 64] >> (f % 64) & 1;
}
static inline void featset_set(struct featset *s, enum feature f)
{
	s->w[f / 64] |= 1ULL << (f % 64);
}
static inline void featset_clear(struct featset *s, enum feature f)
{
	s->w[f / 64] &= ~(1ULL << (f % 64));
}
static inline bool featset_is_empty(const struct featset *s)
{
	return !s->w[0] && !s->w[1];
}

struct cpuid_regs {
	uint32_t leaf, subleaf, eax, ebx, ecx, edx;
};

#define CPU_MAX_LEAVES 96
struct cpu_desc {
	char vendor[16];
	char brand[64];
	char codename[64];
	char name[96];		/* what the user asked for: "host", "haswell", a file */
	unsigned int family, model, stepping;
	int level;		/* x86-64-vN, 1..4 (0: below v1) */
	uint64_t xcr0;
	struct featset feat;
	struct cpuid_regs raw[CPU_MAX_LEAVES];
	size_t n_raw;
	bool names_pending;	/* host: vendor..stepping not read yet (cpu_desc_names) */
};

const char *feature_name(enum feature f);
int feature_by_name(const char *name);				/* -1 if unknown */
/* Where CPUID reports @f: leaf, subleaf, register (0..3 = EAX..EDX), bit.  0 / -EINVAL. */
int feature_cpuid_bit(enum feature f, uint32_t *leaf, uint32_t *subleaf, int *reg, unsigned int *bit);
int cpu_desc_host(struct cpu_desc *d);				/* 0 / -ENODEV */
void cpu_desc_names(struct cpu_desc *d);			/* fill vendor..stepping if still pending */
int cpu_desc_target(const char *spec, const struct cpu_desc *host, struct cpu_desc *out);
int cpu_desc_from_image(const Cpuport__Cpu *c, struct cpu_desc *out);
int cpu_desc_to_image(struct arena *a, const struct cpu_desc *d, Cpuport__Cpu **out);
int featset_level(const struct featset *s);
/* ---- cpu_kernel.c: the kernel's flags against CPUID (the rule is in that file) ---- */
const char *cpu_kernel_flag_name(enum feature f);	/* NULL: not compared */
/* @hidden: CPUID has it, the kernel does not show it; @unexplained: the reverse (a decode error). */
int cpu_kernel_compare(const struct cpu_desc *d, const char *flags, struct featset *hidden,
		       struct featset *unexplained);
int cpu_kernel_flags(char *buf, size_t len);	/* /proc/cpuinfo's first "flags" line; -errno */
/* GLIBC_TUNABLES value that makes glibc on @host behave as on @target; "" if none. */
int cpu_glibc_tunables(const struct cpu_desc *host, const struct cpu_desc *target, char *buf, size_t len);

/* ---- libgcc_model.c: GCC's __cpu_model/__cpu_features2 bit layout ---- */
/* Clear, in a libgcc model copy, every feature @target lacks; recompute levels. */
void libgcc_model_mask(const struct featset *target, uint8_t *model, size_t model_size,
		       uint8_t *features2, size_t features2_size);
/* Space-separated "bit:keep" words for the helper. */
int libgcc_mask_words(const struct featset *target, uint32_t *words, size_t n_words);

/* ---- tunables.c: the GLIBC_TUNABLES the helper runs with ---- */
#define TUNABLES_MAX 4096
/*
 * The process's own tunables (from its image; NULL: none), without its
 * glibc.cpu.hwcaps if @unmask, with the target's hwcaps mask @mask
 * ("glibc.cpu.hwcaps=-X,-Y" or "") merged into one glibc.cpu.hwcaps item.
 * -EINVAL for a value glibc would not have read (characters, length).
 */
int tunables_for_helper(const char *process, bool unmask, const char *mask, char *out, size_t len);

/* ---- proc.c ---- */
char *proc_read_file(const char *path, size_t *len);	/* whole file, NUL-terminated; NULL + errno */

/* ---- context.c ---- */
/*
 * Fault injection for tests (cpuport_ctx_opts.faults, from CPUPORT_FAULT in
 * the plugin and the tool), like CRIU's own: proves every failure path fails closed.
 */
enum fault {
	FAULT_HELPER_CRASH = 1 << 0,
	FAULT_HELPER_HANG = 1 << 1,
	FAULT_WRITE = 1 << 2,	/* the second half of the writes fails */
	FAULT_NOMEM = 1 << 3,
	FAULT_SITES_CRASH = 1 << 4,	/* the sites worker dies */
	FAULT_SITES_HANG = 1 << 5,	/* the sites worker never finishes */
};

struct cpuport_ctx {
	unsigned int faults;
	cpuport_print_fn print;
	void *print_arg;
	char *helper_path;
	unsigned int helper_timeout_ms;
	char *root;		/* check: where the files are ("" for /) */
	struct elf_cache_entry *elf_cache;	/* elf_cache.c */
	char *cache_dir;			/* disk_cache.c: NULL = no on-disk cache */
	struct { char kind[16]; int fd; } cache_kinds[8];	/* disk_cache.c: <dir>/<kind> opened and checked once */
	struct answer_cache *answers;		/* answer_cache.c */
	struct vset_obj *vsets;			/* answer_check.c: resolvers' variant sets */
	struct cpu_desc host;
	struct cpu_desc target;	/* host features intersected with the override */
	bool target_is_host;
	bool unmask;		/* re-select without the process's own glibc.cpu.hwcaps */
	bool log_demote;	/* restore.c: errors logged at debug level (a try with stored answers) */
};

void cpuport_log(struct cpuport_ctx *ctx, enum cpuport_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define log_err(ctx, ...) cpuport_log(ctx, CPUPORT_LOG_ERROR, __VA_ARGS__)
#define log_warn(ctx, ...) cpuport_log(ctx, CPUPORT_LOG_WARN, __VA_ARGS__)
#define log_info(ctx, ...) cpuport_log(ctx, CPUPORT_LOG_INFO, __VA_ARGS__)
#define log_debug(ctx, ...) cpuport_log(ctx, CPUPORT_LOG_DEBUG, __VA_ARGS__)

static inline int set_errno(int ret)
{
	if (ret < 0)
		errno = -ret;
	return ret;
}

uint64_t now_ns(void);

/* Is a caller's output struct (size_t sz first) usable?  NULL is. */
static inline bool out_valid(const void *dst)
{
	size_t sz;

	if (!dst)
		return true;
	__builtin_memcpy(&sz, dst, sizeof(sz));
	return sz >= sizeof(size_t);
}

/* Copy @src (a stats struct, size_t sz first) into the caller's @dst, as much as its sz asks. */
static inline void out_copy(void *dst, const void *src, size_t size)
{
	size_t sz;

	if (!dst)
		return;
	__builtin_memcpy(&sz, dst, sizeof(sz));
	if (sz > size)
		sz = size;
	if (sz > sizeof(size_t))
		__builtin_memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t), sz - sizeof(size_t));
}

/* ---- proc.c: a process seen through /proc ---- */
struct proc_map {
	uint64_t start, end, off;
	char perms[5];
	uint64_t dev, ino;
	const char *path;	/* NULL for anonymous mappings */
};

struct proc {
	pid_t pid;
	int mem_fd;
	struct proc_map *maps;
	size_t n_maps;
	char *maps_text;	/* backing store of the path strings */
};

int proc_open(struct proc *p, pid_t pid, bool writable);
void proc_close(struct proc *p);
int proc_read(const struct proc *p, uint64_t addr, void *buf, size_t len);
int proc_write(const struct proc *p, uint64_t addr, const void *buf, size_t len);
int proc_nspid(pid_t pid, pid_t *nspid, uid_t *uid, gid_t *gid);
int proc_env(pid_t pid, const char *name, char *buf, size_t len);
int proc_comm(pid_t pid, char *buf, size_t len);
/* map_files path of the mapping, for opening the exact file the process maps */
void proc_map_file_path(const struct proc *p, const struct proc_map *m, char *buf, size_t len);
typedef int (*proc_thread_fn)(pid_t tid, bool running, uint64_t pc, uint64_t sp, void *arg);
int proc_for_each_thread(pid_t pid, proc_thread_fn fn, void *arg);

/*
 * ---- pview: a process as cpuport reads and writes it (the seam) ----
 * The scan and the restore side reach a process only through these:
 * pview_proc.c is a live process (/proc/PID/mem, map_files, /proc/PID/root),
 * pview_image.c the process as its image records it (cpuport check), and
 * unit tests plug in a recorded process.
 */
struct pview_ops {
	/* @len bytes at @addr: 0 or -errno (-EFAULT/-EIO: not there; -EROFS: read only) */
	int (*read)(void *arg, uint64_t addr, void *buf, size_t len);
	int (*write)(void *arg, uint64_t addr, const void *buf, size_t len);
	/* where to open the file mapping @m maps (live: /proc/PID/map_files/...) */
	void (*file_path)(void *arg, const struct proc_map *m, char *buf, size_t len);
	/* pid in its own namespace, uid and gid: 0 or -errno */
	int (*ids)(void *arg, pid_t *nspid, uid_t *uid, gid_t *gid);
	int (*comm)(void *arg, char *buf, size_t len);
	int (*for_each_thread)(void *arg, proc_thread_fn fn, void *fn_arg);
	void (*close)(void *arg);
	/*
	 * The live task (host pid) whose privilege the selection helper gets
	 * (helper_sandbox.c); NULL or 0: none (a recording, cpuport check),
	 * the helper runs as the caller without any capability.
	 */
	pid_t (*task)(void *arg);
};

struct pview {
	const struct pview_ops *ops;
	void *arg;
	pid_t pid;
	const struct proc_map *maps;	/* sorted by address; none for pview_image */
	size_t n_maps;
	char root[512];			/* its "/": "/proc/PID/root", a rootfs, "" */
	bool as_recorded;		/* no process: objects at the image's load bases, files under root */
};

int pview_proc_open(struct pview *v, pid_t pid, bool writable);
int pview_image_open(struct pview *v, struct cpuport_ctx *ctx, const Cpuport__Image *img);
void pview_close(struct pview *v);

static inline int pview_read(const struct pview *v, uint64_t addr, void *buf, size_t len)
{
	return v->ops->read(v->arg, addr, buf, len);
}

static inline int pview_write(const struct pview *v, uint64_t addr, const void *buf, size_t len)
{
	return v->ops->write(v->arg, addr, buf, len);
}

/* ---- elf_scan.c: what one ELF file says (libelf) ---- */
struct elf_symbol {
	uint64_t value, size;
	const char *name;
	const char *version;	/* NULL if unversioned */
	unsigned char type;	/* STT_* */
	bool defined;
	bool hidden_version;	/* non-default version (sym@V, not sym@@V) */
};

struct elf_reloc {
	uint64_t offset;
	int64_t addend;
	uint32_t type;		/* R_X86_64_IRELATIVE / JUMP_SLOT / GLOB_DAT / 64 (with a symbol, addend 0) */
	const char *sym;
	const char *version;
};

struct elf_segment {
	uint64_t offset, vaddr, filesz, memsz;
	int prot;
};

struct elf_info {
	struct arena arena;
	bool is_exec;		/* ET_EXEC */
	bool is_pie;		/* ET_DYN with DF_1_PIE */
	bool bind_now;
	uint8_t build_id[64];
	size_t build_id_len;
	uint64_t pltgot;	/* DT_PLTGOT vaddr, 0 if none */
	uint64_t dynamic;	/* vaddr of .dynamic */
	uint64_t eh_frame_hdr;	/* vaddr of .eh_frame_hdr (PT_GNU_EH_FRAME), 0 if none */
	uint64_t plt_start, plt_end;	/* .plt and .plt.sec: where lazy slots point */
	struct elf_segment segs[16];
	size_t n_segs;
	struct elf_reloc *relocs;	/* only the kinds cpuport records */
	size_t n_relocs;
	size_t relocs_seen;		/* every relocation examined */
	struct elf_symbol *dynsyms;	/* defined dynamic symbols, by name */
	size_t n_dynsyms;
	struct elf_symbol *syms;	/* named symbols with an address, by value */
	size_t n_syms;
	bool syms_from_debug;
	bool has_symtab;		/* the file has its own .symtab */
	uint64_t *dynsym_bloom;		/* one bit per name hash: "certainly not defined here" */
	size_t dynsym_bloom_words;	/* power of two; 0: no filter */
	struct elf_symbol *dynsyms_by_value;	/* from the cache: the fallback names, already sorted */
	size_t n_dynsyms_by_value;
	char glibc_version[16];		/* "2.36" for ld.so/libc, else "" */
	struct elf_cache_entry *debug_pending;	/* elf_cache.c: debug-file names not looked up yet */
	/* elf_sym_named(): syms by name hash, built on first use for this syms array (open addressing, index + 1) */
	uint32_t *syms_by_name;
	size_t syms_by_name_size;	/* a power of two, or 0 */
	const struct elf_symbol *syms_by_name_of;
	/* elf_dynsym_maybe_ifunc(): name hashes of the STT_GNU_IFUNC dynsyms, sorted, built on first use */
	uint64_t *ifunc_hashes;
	size_t n_ifunc_hashes;
	bool ifunc_hashes_built;
};

/*
 * Names from the debug file, looked up on first need (elf_cache.c): every
 * reader of syms/n_syms/syms_from_debug calls this first (elf_sym_at and
 * elf_sym_named do).  A restore that asks no name of an object never reads
 * its debug file.
 */
void elf_info_want_syms(const struct elf_info *info);

/* 0, -ENOENT (cannot open), -ENOEXEC (not x86-64 ELF), -ENOMEM */
int elf_info_load(struct cpuport_ctx *ctx, const char *path, struct elf_info *info);
/* elf_info_load in two steps: what the file itself says (cacheable), then names from a debug file */
int elf_info_parse(struct cpuport_ctx *ctx, const char *path, struct elf_info *info);
void elf_info_finish(struct cpuport_ctx *ctx, struct elf_info *info);
/*
 * A debug file (objcopy --only-keep-debug: its dynamic sections are NOBITS,
 * which elf_info_parse() refuses): its build-id, segments and .symtab only.
 * 0, -ENOENT, -ENOEXEC (not x86-64 ELF, or no .symtab), -ENOMEM.
 */
int elf_info_parse_debug(struct cpuport_ctx *ctx, const char *path, struct elf_info *info);
/* the dynamic symbols sorted by value (the fallback names), in @info's arena; NULL on ENOMEM */
struct elf_symbol *elf_dynsyms_by_value(struct elf_info *info);
void elf_syms_sort_by_value(struct elf_symbol *s, size_t n);
/* Names from the debug file under @root (e.g. /proc/PID/root) when the host has none. */
void elf_info_debug_from(struct cpuport_ctx *ctx, struct elf_info *info, const char *root);
void elf_info_free(struct elf_info *info);
const struct elf_symbol *elf_dynsym_find(const struct elf_info *info, const char *name, const char *version);
/* a name's hash for elf_dynsym_maybe(): computed once, tested against every object */
uint64_t elf_name_hash(const char *name);
/* false: @info certainly defines no dynamic symbol of that name (elf_dynsym_find would return NULL) */
bool elf_dynsym_maybe(const struct elf_info *info, uint64_t hash);
void elf_dynsym_bloom_build(struct elf_info *info);
const struct elf_symbol *elf_sym_at(const struct elf_info *info, uint64_t vaddr);
const struct elf_symbol *elf_sym_named(const struct elf_info *info, const char *name);
/* false: no STT_GNU_IFUNC dynamic symbol of @info has this name (elf_dynsym_find cannot return one) */
bool elf_dynsym_maybe_ifunc(const struct elf_info *info, const char *name);
uint64_t elf_first_load_vaddr(const struct elf_info *info);
/* The recorded relocation (relocs are sorted by offset) at @offset, or NULL. */
const struct elf_reloc *elf_reloc_at(const struct elf_info *info, uint64_t offset);
/* file offset of @vaddr, or -1 */
int64_t elf_vaddr_to_offset(const struct elf_info *info, uint64_t vaddr, uint64_t len);
/* read @len bytes at @vaddr from the file's initial image; 0 / -EFAULT */

/* ---- eh_frame.c: function extents from unwind information ---- */
/*
 * The function containing @vaddr, as its FDE says ([*start, *start + *len)),
 * reading @e's file through @fd.  0, -ENOENT (no FDE covers it), -EFAULT.
 */
int eh_frame_extent(int fd, const struct elf_info *e, uint64_t vaddr, uint64_t *start, uint64_t *len);

/* ---- elf_dynamic.c: objects without section headers ---- */
/* Dynamic symbols, versions, recorded relocations and flags from PT_DYNAMIC; 0 or -errno. */
struct Elf;
int elf_dynamic_segment_read(struct Elf *elf, struct elf_info *info);

/*
 * elf_scan.c: the relocations cpuport records (from sections, and elf_dynamic.c from PT_DYNAMIC alike):
 * IRELATIVE, JUMP_SLOT, GLOB_DAT, and R_X86_64_64 against a symbol without addend (a function pointer
 * in data; kept if that symbol is an IFUNC).
 */
bool elf_reloc_recorded(uint32_t type, uint64_t sym, int64_t addend);

/* ---- elf_scan.c / elf_debug.c: shared between the two ---- */
struct Elf_Scn;
/* libelf handle for the regular x86-64 ELF file @*fd, or NULL with *fd closed (-1, or -2: not such a file) */
struct Elf *elf_from_fd(int *fd);
/* the .symtab of @elf into @info's syms; true if there was one */
bool elf_read_symtab(struct Elf *elf, struct elf_info *info);
/* MiniDebugInfo: the .symtab of the xz-compressed ELF in .gnu_debugdata (@scn) */
void elf_read_gnu_debugdata(struct Elf *elf, struct Elf_Scn *scn, struct elf_info *info);

/* ---- elf_cache.c: parsed files shared for the context's lifetime ---- */
struct elf_cache_entry;
/* @debug_root: also look for debug symbols under it (NULL: don't); NULL + *err on failure */
const struct elf_info *elf_cache_get(struct cpuport_ctx *ctx, const char *path, const char *debug_root,
				     int *err);
/* the same, and the file it read left open in *fd_out (the caller closes it; -1 on failure) */
const struct elf_info *elf_cache_get_fd(struct cpuport_ctx *ctx, const char *path, const char *debug_root,
					int *err, int *fd_out);
void elf_cache_free(struct cpuport_ctx *ctx);
void elf_cache_want_filter(struct cpuport_ctx *ctx, const struct elf_info *info);
/*
 * Small facts (<= 32 bytes) derived from the file behind @info (one from
 * elf_cache_get()), remembered for the context and, when the file has a
 * build-id and the disk cache is on, stored as <dir>/<kind>/<build-id> with
 * the checks of disk_cache.c.  get: 0 and @len bytes, or -ENOENT (compute it,
 * then put it).  The caller still checks what it gets.
 */
int elf_fact_get(struct cpuport_ctx *ctx, const struct elf_info *info, const char *kind, uint32_t version,
		 void *buf, size_t len);
void elf_fact_put(struct cpuport_ctx *ctx, const struct elf_info *info, const char *kind, uint32_t version,
		  const void *buf, size_t len);
/* names from the debug file open on @fd (not closed) through the disk cache; false: do it without */
bool elf_debug_cached(struct cpuport_ctx *ctx, struct elf_info *info, int fd);

/* ---- disk_cache.c: facts about files on disk, keyed by build-id (+ kind), checked ---- */
#include <sys/stat.h>
struct file_id {
	struct stat st;
	uint8_t build_id[64];
	size_t build_id_len;
};
/* fstat + the GNU build-id read again from @fd's program headers: 0, -ENOEXEC, -ENODATA (none) */
int file_id_of(int fd, struct file_id *id);
/* 0 + malloc'ed *data (the caller frees), or -ENOENT: absent, stale, damaged or untrusted */
int disk_cache_get(struct cpuport_ctx *ctx, const char *kind, uint32_t version, const struct file_id *id,
		   void **data, size_t *len);
int disk_cache_put(struct cpuport_ctx *ctx, const char *kind, uint32_t version, const struct file_id *id,
		   const void *data, size_t len);
/* remove the entry for @id (a stored answer that did not hold) */
void disk_cache_remove(struct cpuport_ctx *ctx, const char *kind, const struct file_id *id);
uint64_t disk_cache_sum(const void *p, size_t n);
void disk_cache_close(struct cpuport_ctx *ctx);

/* ---- elf_blob.c: a parsed file (before debug symbols) as a flat, checked blob ---- */
#define ELF_BLOB_VERSION 2
int elf_info_to_blob(const struct elf_info *info, void **blob, size_t *len);
/* 0, or -EINVAL when anything in it is out of range or out of order (then @info is empty) */
int elf_info_from_blob(const void *blob, size_t len, struct elf_info *info);

/* ---- wordscan.c: a few values among many words, at memory speed ---- */
#define WORDSCAN_GRANULES 8
struct wordscan {
	uint64_t g[WORDSCAN_GRANULES];	/* 2 MiB granules of the values; n = 0: [lo, lo + span] */
	size_t n;
	uint64_t lo, span;
};
void wordscan_init(struct wordscan *f, const uint64_t *sorted, size_t n);	/* n > 0 */
/* start of the first block of 8 words of @w that may hold one of the values (or the tail), <= @n */
size_t wordscan_next(const uint64_t *w, size_t n, const struct wordscan *f);

/* ---- ptr_sites.c: where copied-pointer candidates lie, found at dump ---- */
struct cpuport_sites;
/* a chunk [a, a + len) the dump read whole and found no candidate in: the restore's scan may skip it */
bool sites_skippable(const struct cpuport_sites *s, uint64_t a, size_t len);
struct pview;
/* -ENODATA: less private writable memory than worth it (64 MiB; sites_set_min for tests) */
int sites_scan(struct cpuport_sites *s, const struct pview *v);
/* 0 if @v has enough memory for sites to be worth it (as sites_scan decides), else -ENODATA */
int sites_worth(const struct cpuport_sites *s, const struct pview *v);
/* sites_scan() stops with -EPIPE once @fd (a pipe's write end) has no reader any more */
void sites_watch(struct cpuport_sites *s, int fd);
/* the scan's own count of private writable memory says: not worth it (-ENODATA), before any maps are read */
int sites_worth_hint(const struct cpuport_sites *s);
void sites_set_min(struct cpuport_sites *s, uint64_t bytes);

/* ---- answer_cache.c: the helper's answers, shared by a restore's processes ---- */
enum answer_kind { ANS_CALL = 1, ANS_READ, ANS_PTR, ANS_RTLD };

struct answer_key {
	uint8_t kind;
	uint8_t bid_len;
	uint8_t bid[64];	/* build-id of the object asked about */
	uint64_t off;
	uint32_t size;
	uint32_t context;	/* answer_context(): who asked, with what helper input; 0: not cacheable */
};

struct answer {
	int status;		/* enum sel_status */
	uint8_t bid_len;
	uint8_t bid[64];	/* build-id of the object the answer lies in (call, ptr) */
	uint64_t off, off2;	/* ANS_RTLD: cpu_features and trampoline offsets */
	uint8_t *bytes;		/* ANS_READ */
	size_t len;
};

void answer_key_init(struct answer_key *k, enum answer_kind kind, const uint8_t *bid, size_t bid_len, uint64_t off,
		     uint32_t size);
const struct answer *answer_cache_get(struct cpuport_ctx *ctx, const struct answer_key *k);
int answer_cache_put(struct cpuport_ctx *ctx, const struct answer_key *k, const struct answer *a);
void answer_cache_free(struct cpuport_ctx *ctx);
/*
 * The id of an exact context description (the asking process's uid, gid,
 * groups, namespaces, root, and the helper's input: GLIBC_TUNABLES and extra
 * environment).  Answers are shared only between processes of one context:
 * a process cannot get answers its own helper would not have given.
 * 0 (not cacheable) on ENOMEM.
 */
uint32_t answer_context(struct cpuport_ctx *ctx, const char *desc);
/* The description behind a context id; NULL for 0 or unknown. */
const char *answer_context_desc(const struct cpuport_ctx *ctx, uint32_t id);

/* ---- glibc_layout.c: where a glibc build keeps CPU-derived state ---- */
struct glibc_layout {
	const char *version;
	uint32_t cpu_features;	/* offsets inside _rtld_global_ro */
	uint32_t cpu_features_size;
	uint32_t platform, platformlen, minsigstacksize, hwcap;
	/* inside cpu_features (cpu_features_check.c): CPUID words kept (struct cpuid_feature_internal
	 * after the 20-byte basic), isa_1 and xsave sizes (0: offset not known for this build) */
	uint32_t n_cpuid, isa_1, xsave_state_size, xsave_state_full_size;
};
const struct glibc_layout *glibc_layout_find(const char *version);
/* cpu_features_check.c: the bytes of @l's cpu_features / an 8-byte rtld word agree with this CPU?
 * 0, or -EPROTO with what is wrong in @why */
int cpu_features_consistent(const struct glibc_layout *l, const uint8_t *b, size_t len, char *why, size_t wlen);
int rtld_word_consistent(bool is_hwcap, uint64_t v, char *why, size_t wlen);
/* libc-internal, CPU-derived variables worth carrying over (by symbol name) */
extern const char *const glibc_libc_tuning_syms[];

/* ---- callsite_table.c ---- */
struct cpuport_table {
	struct arena arena;
	Cpuport__Image *img;
	struct cpuport_sites *sites;	/* ptr_sites.c: from the dump, checked against img; NULL: none */
	uint64_t writable_bytes;	/* scan.c: private writable memory seen at dump (not in the image) */
};
struct cpuport_table *table_new(void);
/* object index containing @addr in the table, or -1 */
int table_object_at(const Cpuport__Image *img, uint64_t addr);

/* ---- print.c ---- */
/* @s as a JSON string (quoted, escaped); NULL prints "" */
void print_json_str(FILE *f, const char *s);

/* ---- isa.c: which ISA extensions a piece of code needs (capstone) ---- */
int isa_required(const uint8_t *code, size_t len, uint64_t addr, struct featset *need);
/* One decoded instruction (capstone cs_insn with detail) / bytes capstone could not decode. */
struct cs_insn;
void isa_insn_needs(const struct cs_insn *insn, struct featset *need);
void isa_undecodable(const uint8_t *code, size_t len, struct featset *need);
/* Length of an instruction capstone could not decode (VEX, EVEX, 0F maps with ModRM); 0 if unknown. */
size_t isa_insn_length(const uint8_t *code, size_t len);

#endif
