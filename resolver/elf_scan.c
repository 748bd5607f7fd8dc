// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What one ELF file says, read with libelf: segments, build-id, the
 * relocations cpuport records (IRELATIVE, JUMP_SLOT, GLOB_DAT), defined
 * dynamic symbols with versions, and named symbols for humans (.symtab; debug
 * files and MiniDebugInfo: elf_debug.c).
 */
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

struct versions {
	const char **names;	/* index -> name */
	size_t n;
};

/*
 * Entries really present in a section's data: from the data libelf read
 * (bounded by the file), never from sh_size or sh_entsize, which a
 * malformed file can set to anything.
 */
static size_t n_entries(Elf *elf, const Elf_Data *d, Elf_Type type)
{
	size_t sz = gelf_fsize(elf, type, 1, EV_CURRENT);

	return d && d->d_buf && sz ? d->d_size / sz : 0;
}

/*
 * An ELF handle on an open file: regular files only (a FIFO would block us,
 * a device could react to being read).  Takes @fd: closes it and sets it to
 * -2 when the file is not an x86-64 ELF file.
 */
Elf *elf_from_fd(int *fd)
{
	struct stat st;
	Elf *elf = NULL;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		close(*fd);
		*fd = -1;
		return NULL;
	}
	if (!fstat(*fd, &st) && S_ISREG(st.st_mode))
		elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64) {
		if (elf)
			elf_end(elf);
		close(*fd);
		*fd = -2;	/* opened, but not an x86-64 ELF file */
		return NULL;
	}
	return elf;
}

static Elf *elf_open(struct cpuport_ctx *ctx, const char *path, int *fd)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (*fd < 0) {
		log_debug(ctx, "cannot open %s: %m\n", path);
		return NULL;
	}
	return elf_from_fd(fd);
}

static void read_build_id(Elf *elf, const GElf_Phdr *ph, struct elf_info *info)
{
	Elf_Data *d = elf_getdata_rawchunk(elf, ph->p_offset, ph->p_filesz, ELF_T_NHDR);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp((char *)d->d_buf + name_off, "GNU", 4) && nh.n_descsz <= sizeof(info->build_id)) {
			memcpy(info->build_id, (char *)d->d_buf + desc_off, nh.n_descsz);
			info->build_id_len = nh.n_descsz;
			return;
		}
	}
}

static int read_phdrs(Elf *elf, struct elf_info *info)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph))
			return -EINVAL;
		if (ph.p_type == PT_LOAD && info->n_segs < ARRAY_SIZE(info->segs)) {
			info->segs[info->n_segs++] = (struct elf_segment){
				.offset = ph.p_offset,
				.vaddr = ph.p_vaddr,
				.filesz = ph.p_filesz,
				.memsz = ph.p_memsz,
				.prot = (ph.p_flags & PF_R ? PROT_READ : 0) | (ph.p_flags & PF_W ? PROT_WRITE : 0) |
					(ph.p_flags & PF_X ? PROT_EXEC : 0),
			};
		} else if (ph.p_type == PT_DYNAMIC) {
			info->dynamic = ph.p_vaddr;
		} else if (ph.p_type == PT_GNU_EH_FRAME) {
			info->eh_frame_hdr = ph.p_vaddr;
		} else if (ph.p_type == PT_NOTE && !info->build_id_len) {
			read_build_id(elf, &ph, info);
		}
	}
	return info->n_segs ? 0 : -ENOEXEC;
}

static void read_dynamic(Elf *elf, Elf_Scn *scn, struct elf_info *info)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = n_entries(elf, d, ELF_T_DYN);

	for (size_t i = 0; d && i < n; i++) {
		GElf_Dyn dyn;

		if (!gelf_getdyn(d, i, &dyn))
			break;
		if (dyn.d_tag == DT_PLTGOT)
			info->pltgot = dyn.d_un.d_ptr;
		else if (dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_PIE))
			info->is_pie = true;
		if ((dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_NOW)) ||
		    (dyn.d_tag == DT_FLAGS && (dyn.d_un.d_val & DF_BIND_NOW)) || dyn.d_tag == DT_BIND_NOW)
			info->bind_now = true;
	}
}

/* Version index -> name, from SHT_GNU_verdef and SHT_GNU_verneed. */
static int read_versions(Elf *elf, struct elf_info *info, struct versions *v)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		size_t off = 0;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_GNU_verdef && sh.sh_type != SHT_GNU_verneed))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		for (size_t k = 0; k < sh.sh_info; k++) {
			size_t next_aux, idx_name[2][64], n_pairs = 0;

			if (sh.sh_type == SHT_GNU_verdef) {
				GElf_Verdef vd;
				GElf_Verdaux vda;

				if (!gelf_getverdef(d, off, &vd) || !gelf_getverdaux(d, off + vd.vd_aux, &vda))
					break;
				idx_name[0][0] = vd.vd_ndx;
				idx_name[1][0] = vda.vda_name;
				n_pairs = 1;
				next_aux = vd.vd_next;
			} else {
				GElf_Verneed vn;
				GElf_Vernaux vna;
				size_t aoff;

				if (!gelf_getverneed(d, off, &vn))
					break;
				aoff = off + vn.vn_aux;
				for (size_t a = 0; a < vn.vn_cnt && n_pairs < 64; a++) {
					if (!gelf_getvernaux(d, aoff, &vna))
						break;
					idx_name[0][n_pairs] = vna.vna_other;
					idx_name[1][n_pairs++] = vna.vna_name;
					aoff += vna.vna_next;
				}
				next_aux = vn.vn_next;
			}
			for (size_t p = 0; p < n_pairs; p++) {
				size_t idx = idx_name[0][p] & 0x7fff;

				if (idx >= v->n) {
					size_t nn = idx + 16;
					const char **names = arena_alloc(&info->arena, nn * sizeof(*names));

					if (!names)
						return -ENOMEM;
					if (v->n)
						memcpy(names, v->names, v->n * sizeof(*names));
					v->names = names;
					v->n = nn;
				}
				v->names[idx] = elf_strptr(elf, sh.sh_link, idx_name[1][p]);
			}
			if (!next_aux)
				break;
			off += next_aux;
		}
	}
	return 0;
}

static Elf_Data *find_versym(Elf *elf, size_t dynsym_index)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym && sh.sh_link == dynsym_index)
			return elf_getdata(scn, NULL);
	return NULL;
}

static const char *sym_version(Elf_Data *versym, const struct versions *v, size_t i, bool *hidden)
{
	GElf_Versym vs;
	size_t idx;

	*hidden = false;
	if (!versym || !gelf_getversym(versym, i, &vs))
		return NULL;
	idx = vs & 0x7fff;
	*hidden = vs & 0x8000;
	return idx > 1 && idx < v->n ? v->names[idx] : NULL;
}

static int cmp_by_name(const void *a, const void *b)
{
	return strcmp(((const struct elf_symbol *)a)->name, ((const struct elf_symbol *)b)->name);
}

static int cmp_reloc(const void *a, const void *b)
{
	const struct elf_reloc *x = a, *y = b;

	return (x->offset > y->offset) - (x->offset < y->offset);
}

static int cmp_by_value(const void *a, const void *b)
{
	const struct elf_symbol *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	/* prefer the sized, global name at one address */
	return (y->size > 0) - (x->size > 0);
}

/* Read a symbol table; defined dynamic ones go to dynsyms, named code/data ones to syms. */
static int read_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct elf_info *info,
			const struct versions *v, bool dynamic)
{
	Elf_Data *d = elf_getdata(scn, NULL), *versym = dynamic ? find_versym(elf, elf_ndxscn(scn)) : NULL;
	size_t n = n_entries(elf, d, ELF_T_SYM);
	struct elf_symbol *out = arena_alloc(&info->arena, (n ? n : 1) * sizeof(*out));
	size_t k = 0;

	if (!d || !out)
		return d ? -ENOMEM : 0;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		unsigned char type;
		struct elf_symbol *e = &out[k];

		if (!gelf_getsym(d, i, &s))
			break;
		type = GELF_ST_TYPE(s.st_info);
		if (s.st_shndx == SHN_UNDEF || !s.st_name ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_OBJECT))
			continue;
		e->name = elf_strptr(elf, sh->sh_link, s.st_name);
		if (!e->name)
			continue;
		e->value = s.st_value;
		e->size = s.st_size;
		e->type = type;
		e->defined = true;
		if (dynamic)
			e->version = sym_version(versym, v, i, &e->hidden_version);
		k++;
	}
	if (dynamic) {
		qsort(out, k, sizeof(*out), cmp_by_name);
		info->dynsyms = out;
		info->n_dynsyms = k;
	} else {
		qsort(out, k, sizeof(*out), cmp_by_value);
		info->syms = out;
		info->n_syms = k;
	}
	return 0;
}

bool elf_reloc_recorded(uint32_t type, uint64_t sym, int64_t addend)
{
	return type == R_X86_64_IRELATIVE || type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT ||
	       (type == R_X86_64_64 && sym && addend == 0);
}

static int read_relocs(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct elf_info *info,
		       const struct versions *v)
{
	Elf_Data *d = elf_getdata(scn, NULL), *symd = NULL, *versym = NULL;
	size_t n = n_entries(elf, d, ELF_T_RELA), strtab = 0;
	Elf_Scn *symscn = sh->sh_link ? elf_getscn(elf, sh->sh_link) : NULL;
	GElf_Shdr symsh;
	struct elf_reloc *out;

	if (!d)
		return 0;
	if (symscn && gelf_getshdr(symscn, &symsh)) {
		symd = elf_getdata(symscn, NULL);
		strtab = symsh.sh_link;
		versym = find_versym(elf, sh->sh_link);
	}
	out = arena_alloc(&info->arena, (info->n_relocs + n + 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	if (info->n_relocs)
		memcpy(out, info->relocs, info->n_relocs * sizeof(*out));
	info->relocs = out;
	info->relocs_seen += n;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;
		uint32_t type;
		struct elf_reloc *e = &out[info->n_relocs];

		if (!gelf_getrela(d, i, &r))
			break;
		type = GELF_R_TYPE(r.r_info);
		if (!elf_reloc_recorded(type, GELF_R_SYM(r.r_info), r.r_addend))
			continue;
		memset(e, 0, sizeof(*e));
		e->offset = r.r_offset;
		e->addend = r.r_addend;
		e->type = type;
		if (type != R_X86_64_IRELATIVE && symd) {
			GElf_Sym s;
			bool hidden;
			size_t si = GELF_R_SYM(r.r_info);

			if (!si || !gelf_getsym(symd, si, &s))
				continue;
			e->sym = elf_strptr(elf, strtab, s.st_name);
			e->version = sym_version(versym, v, si, &hidden);
			if (!e->sym)
				continue;
		}
		info->n_relocs++;
	}
	return 0;
}

/* "...release version 2.36." in ld.so's or libc's .rodata */
static void read_glibc_version(Elf *elf, Elf_Scn *scn, struct elf_info *info)
{
	static const char key[] = "release version ";
	Elf_Data *d = elf_getdata(scn, NULL);
	const char *p;

	if (!d || !d->d_buf)
		return;
	p = memmem(d->d_buf, d->d_size, key, sizeof(key) - 1);
	if (!p)
		return;
	p += sizeof(key) - 1;
	for (size_t i = 0; i + 1 < sizeof(info->glibc_version) && p + i < (const char *)d->d_buf + d->d_size &&
	     (p[i] == '.' || (p[i] >= '0' && p[i] <= '9'));
	     i++)
		info->glibc_version[i] = p[i];
	size_t len = strlen(info->glibc_version);
	if (len && info->glibc_version[len - 1] == '.')
		info->glibc_version[len - 1] = 0;
	(void)elf;
}

/* The .symtab of an in-memory ELF image (a debug file or MiniDebugInfo). */
bool elf_read_symtab(Elf *elf, struct elf_info *info)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			return !read_symbols(elf, scn, &sh, info, NULL, false);
	return false;
}

/*
 * Open @path as an x86-64 executable or shared object and read its program
 * headers into a zeroed @info.  0 with *@elf and *@fd open, else -ENOENT,
 * -ENOEXEC or -ENOMEM with nothing open (then @info needs elf_info_free()).
 */
static int open_x86_64(struct cpuport_ctx *ctx, const char *path, struct elf_info *info, Elf **elf, int *fd)
{
	GElf_Ehdr eh;
	int ret = -ENOEXEC;

	memset(info, 0, sizeof(*info));
	*fd = -1;
	*elf = elf_open(ctx, path, fd);
	if (!*elf)
		return *fd == -2 ? -ENOEXEC : -ENOENT;
	if (gelf_getehdr(*elf, &eh) && eh.e_machine == EM_X86_64 && (eh.e_type == ET_EXEC || eh.e_type == ET_DYN)) {
		info->is_exec = eh.e_type == ET_EXEC;
		ret = read_phdrs(*elf, info);
	}
	if (ret) {
		elf_end(*elf);
		close(*fd);
	}
	return ret;
}

int elf_info_parse_debug(struct cpuport_ctx *ctx, const char *path, struct elf_info *info)
{
	int fd, ret;
	Elf *elf;

	ret = open_x86_64(ctx, path, info, &elf, &fd);
	if (ret) {
		elf_info_free(info);
		return ret;
	}
	ret = -ENOEXEC;
	if (!elf_read_symtab(elf, info) || !info->syms)
		goto out;
	info->has_symtab = true;
	ret = -ENOMEM;
	for (size_t i = 0; i < info->n_syms; i++)	/* names point into the file's mapping */
		if (!(info->syms[i].name = arena_strdup(&info->arena, info->syms[i].name)))
			goto out;
	ret = 0;
out:
	elf_end(elf);
	close(fd);
	if (ret)
		elf_info_free(info);
	return ret;
}

int elf_info_parse(struct cpuport_ctx *ctx, const char *path, struct elf_info *info)
{
	struct versions v = { 0 };
	Elf_Scn *scn = NULL, *gnu_debugdata = NULL;
	GElf_Shdr sh;
	int fd, ret;
	Elf *elf;
	size_t shstrndx;

	ret = open_x86_64(ctx, path, info, &elf, &fd);
	if (ret) {
		elf_info_free(info);
		return ret;
	}
	ret = read_versions(elf, info, &v);
	if (ret || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		switch (sh.sh_type) {
		case SHT_DYNAMIC:
			read_dynamic(elf, scn, info);
			break;
		case SHT_RELA:
			ret = read_relocs(elf, scn, &sh, info, &v);
			break;
		case SHT_DYNSYM:
			ret = read_symbols(elf, scn, &sh, info, &v, true);
			break;
		case SHT_SYMTAB:
			ret = read_symbols(elf, scn, &sh, info, NULL, false);
			break;
		case SHT_PROGBITS:
			if (name && (!strcmp(name, ".plt") || !strcmp(name, ".plt.sec"))) {
				if (!info->plt_start || sh.sh_addr < info->plt_start)
					info->plt_start = sh.sh_addr;
				if (sh.sh_addr + sh.sh_size > info->plt_end)
					info->plt_end = sh.sh_addr + sh.sh_size;
			}
			if (name && !strcmp(name, ".gnu_debugdata") && !info->syms)
				gnu_debugdata = scn;
			if (name && !strcmp(name, ".rodata") && !info->is_pie && !info->is_exec &&
			    (elf_dynsym_find(info, "_dl_x86_get_cpu_features", NULL) ||
			     elf_dynsym_find(info, "gnu_get_libc_version", NULL)))
				read_glibc_version(elf, scn, info);
			break;
		}
		if (ret)
			goto out;
	}
	/* no section headers (stripped): what ld.so reads, from the dynamic segment */
	if (!info->dynsyms && !info->n_relocs && info->dynamic) {
		ret = elf_dynamic_segment_read(elf, info);
		if (ret)
			goto out;
	}
	if (!info->syms && gnu_debugdata)
		elf_read_gnu_debugdata(elf, gnu_debugdata, info);
	info->has_symtab = info->syms != NULL;
	/* debug files: elf_info_debug_from(), in the root the process sees */
	/* strings must outlive the ELF handle: copy the names we keep */
	for (size_t i = 0; i < info->n_dynsyms; i++) {
		info->dynsyms[i].name = arena_strdup(&info->arena, info->dynsyms[i].name);
		info->dynsyms[i].version = arena_strdup(&info->arena, info->dynsyms[i].version);
	}
	for (size_t i = 0; !info->syms_from_debug && i < info->n_syms; i++)
		info->syms[i].name = arena_strdup(&info->arena, info->syms[i].name);
	for (size_t i = 0; i < info->n_relocs; i++) {
		info->relocs[i].sym = arena_strdup(&info->arena, info->relocs[i].sym);
		info->relocs[i].version = arena_strdup(&info->arena, info->relocs[i].version);
	}
	if (info->n_relocs)	/* sorted for elf_reloc_at() */
		qsort(info->relocs, info->n_relocs, sizeof(*info->relocs), cmp_reloc);
	ret = 0;
out:
	elf_end(elf);
	close(fd);
	if (ret)
		elf_info_free(info);
	return ret;
}

/*
 * What does not come from the file itself: names from the host's debug file
 * (found by build-id) when the file has none, else the dynamic symbols.
 */
void elf_info_finish(struct cpuport_ctx *ctx, struct elf_info *info)
{
	(void)ctx;	/* debug files: elf_info_debug_from(), in the root the process sees */
	if (!info->syms && info->dynsyms_by_value) {	/* the cache sorted them already */
		info->syms = info->dynsyms_by_value;
		info->n_syms = info->n_dynsyms_by_value;
	} else if (!info->syms) {	/* last resort for names: the dynamic symbols */
		info->syms = elf_dynsyms_by_value(info);
		info->n_syms = info->syms ? info->n_dynsyms : 0;
	}
}

void elf_syms_sort_by_value(struct elf_symbol *s, size_t n)
{
	qsort(s, n, sizeof(*s), cmp_by_value);
}

struct elf_symbol *elf_dynsyms_by_value(struct elf_info *info)
{
	struct elf_symbol *s = arena_memdup(&info->arena, info->dynsyms, info->n_dynsyms * sizeof(*s));

	if (s)
		qsort(s, info->n_dynsyms, sizeof(*s), cmp_by_value);
	return s;
}

int elf_info_load(struct cpuport_ctx *ctx, const char *path, struct elf_info *info)
{
	int ret = elf_info_parse(ctx, path, info);

	if (!ret)
		elf_info_finish(ctx, info);
	return ret;
}

void elf_info_free(struct elf_info *info)
{
	arena_free(&info->arena);
	memset(info, 0, sizeof(*info));
}
