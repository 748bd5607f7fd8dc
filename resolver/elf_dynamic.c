// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Objects without section headers (sstrip, llvm-objcopy --strip-sections):
 * what ld.so itself reads, from the dynamic segment.  Dynamic symbols (count
 * from DT_HASH or DT_GNU_HASH), versions (DT_VERDEF, DT_VERNEED, DT_VERSYM),
 * the relocations cpuport records (DT_RELA, DT_JMPREL), DT_PLTGOT and flags.
 * Every table is located through the PT_LOAD segments and bounded by the
 * file: a malformed header yields fewer entries, never a read outside it.
 */
#include <elf.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_DYN_SYMS (1u << 22)

struct dyn {
	Elf *elf;
	struct elf_info *info;
	uint64_t tag[DT_NUM];
	bool has[DT_NUM];
	uint64_t gnu_hash, versym, verdef, verdefnum, verneed, verneednum, flags_1;
	bool has_gnu_hash, has_versym, has_verdef, has_verneed;
	const char *strtab;
	size_t strsz;
	const char **vnames;	/* version index -> name */
	size_t n_vnames;
};

/* @len bytes of the file at @vaddr (within one segment's file part), or NULL. */
static const uint8_t *at(struct dyn *d, uint64_t vaddr, uint64_t len)
{
	int64_t off = elf_vaddr_to_offset(d->info, vaddr, len);
	Elf_Data *data;

	if (off < 0 || !len)
		return NULL;
	data = elf_getdata_rawchunk(d->elf, off, len, ELF_T_BYTE);
	return data && data->d_size == len ? data->d_buf : NULL;
}

/* The longest run of file bytes at @vaddr up to @max (to the end of its segment). */
static const uint8_t *at_most(struct dyn *d, uint64_t vaddr, uint64_t max, uint64_t *len)
{
	for (size_t i = 0; i < d->info->n_segs; i++) {
		const struct elf_segment *s = &d->info->segs[i];

		if (vaddr >= s->vaddr && vaddr < s->vaddr + s->filesz) {
			*len = s->vaddr + s->filesz - vaddr < max ? s->vaddr + s->filesz - vaddr : max;
			return at(d, vaddr, *len);
		}
	}
	return NULL;
}

static const char *str(const struct dyn *d, uint64_t off)
{
	if (!d->strtab || off >= d->strsz || !memchr(d->strtab + off, 0, d->strsz - off))
		return NULL;
	return d->strtab + off;
}

static int read_tags(struct dyn *d, const GElf_Phdr *ph)
{
	Elf_Data *data = elf_getdata_rawchunk(d->elf, ph->p_offset, ph->p_filesz, ELF_T_DYN);
	size_t n = data && data->d_buf ? data->d_size / sizeof(Elf64_Dyn) : 0;

	for (size_t i = 0; i < n; i++) {
		GElf_Dyn dyn;

		if (!gelf_getdyn(data, i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag >= 0 && dyn.d_tag < DT_NUM) {
			d->tag[dyn.d_tag] = dyn.d_un.d_val;
			d->has[dyn.d_tag] = true;
		}
		switch (dyn.d_tag) {
		case DT_GNU_HASH: d->gnu_hash = dyn.d_un.d_ptr, d->has_gnu_hash = true; break;
		case DT_VERSYM: d->versym = dyn.d_un.d_ptr, d->has_versym = true; break;
		case DT_VERDEF: d->verdef = dyn.d_un.d_ptr, d->has_verdef = true; break;
		case DT_VERDEFNUM: d->verdefnum = dyn.d_un.d_val; break;
		case DT_VERNEED: d->verneed = dyn.d_un.d_ptr, d->has_verneed = true; break;
		case DT_VERNEEDNUM: d->verneednum = dyn.d_un.d_val; break;
		case DT_FLAGS_1: d->flags_1 = dyn.d_un.d_val; break;
		}
	}
	return n ? 0 : -ENOEXEC;
}

/* How many .dynsym entries: DT_HASH's nchain, else the highest index DT_GNU_HASH reaches. */
/* File bytes are not aligned: read words by copying. */
static uint32_t rd32(const uint8_t *p, size_t i)
{
	uint32_t v;

	memcpy(&v, p + i * 4, 4);
	return v;
}

static size_t count_symbols(struct dyn *d)
{
	const uint8_t *h;

	if (d->has[DT_HASH] && (h = at(d, d->tag[DT_HASH], 8)))
		return rd32(h, 1) < MAX_DYN_SYMS ? rd32(h, 1) : 0;
	if (d->has_gnu_hash && (h = at(d, d->gnu_hash, 16))) {
		uint32_t nbuckets = rd32(h, 0), symoffset = rd32(h, 1), bloom = rd32(h, 2), last = 0;
		uint64_t buckets = d->gnu_hash + 16 + (uint64_t)bloom * 8;
		const uint8_t *b, *c;

		if (!nbuckets || nbuckets > MAX_DYN_SYMS || bloom > MAX_DYN_SYMS)
			return 0;
		b = at(d, buckets, (uint64_t)nbuckets * 4);
		if (!b)
			return 0;
		for (uint32_t i = 0; i < nbuckets; i++)
			last = rd32(b, i) > last ? rd32(b, i) : last;
		if (last < symoffset)
			return symoffset;
		/* walk the last chain to its end (bit 0 set) */
		for (uint64_t chain = buckets + (uint64_t)nbuckets * 4; last < MAX_DYN_SYMS; last++) {
			c = at(d, chain + (uint64_t)(last - symoffset) * 4, 4);
			if (!c)
				return 0;
			if (rd32(c, 0) & 1)
				return last + 1;
		}
	}
	return 0;
}

static int set_vname(struct dyn *d, size_t idx, uint64_t name)
{
	idx &= 0x7fff;
	if (idx >= d->n_vnames) {
		size_t nn = idx + 16;
		const char **names = arena_alloc(&d->info->arena, nn * sizeof(*names));

		if (!names)
			return -ENOMEM;
		if (d->n_vnames)
			memcpy(names, d->vnames, d->n_vnames * sizeof(*names));
		d->vnames = names;
		d->n_vnames = nn;
	}
	d->vnames[idx] = str(d, name);
	return 0;
}

static int read_versions(struct dyn *d)
{
	uint64_t len, off = 0;
	const uint8_t *p;
	int ret = 0;

	if (d->has_verdef && (p = at_most(d, d->verdef, 1 << 20, &len))) {
		for (uint64_t k = 0; k < d->verdefnum && !ret; k++) {
			Elf64_Verdef vd;
			Elf64_Verdaux vda;

			if (off + sizeof(vd) > len)
				break;
			memcpy(&vd, p + off, sizeof(vd));
			if (off + vd.vd_aux + sizeof(vda) > len)
				break;
			memcpy(&vda, p + off + vd.vd_aux, sizeof(vda));
			ret = set_vname(d, vd.vd_ndx, vda.vda_name);
			if (!vd.vd_next)
				break;
			off += vd.vd_next;
		}
	}
	off = 0;
	if (d->has_verneed && (p = at_most(d, d->verneed, 1 << 20, &len))) {
		for (uint64_t k = 0; k < d->verneednum && !ret; k++) {
			Elf64_Verneed vn;
			uint64_t aoff;

			if (off + sizeof(vn) > len)
				break;
			memcpy(&vn, p + off, sizeof(vn));
			aoff = off + vn.vn_aux;
			for (unsigned a = 0; a < vn.vn_cnt && !ret; a++) {
				Elf64_Vernaux vna;

				if (aoff + sizeof(vna) > len)
					break;
				memcpy(&vna, p + aoff, sizeof(vna));
				ret = set_vname(d, vna.vna_other, vna.vna_name);
				if (!vna.vna_next)
					break;
				aoff += vna.vna_next;
			}
			if (!vn.vn_next)
				break;
			off += vn.vn_next;
		}
	}
	return ret;
}

static const char *version_of(const struct dyn *d, const uint8_t *versym, size_t nsyms, size_t i, bool *hidden)
{
	uint16_t vs;
	size_t idx;

	*hidden = false;
	if (!versym || i >= nsyms)
		return NULL;
	memcpy(&vs, versym + i * 2, 2);
	idx = vs & 0x7fff;
	*hidden = vs & 0x8000;
	return idx > 1 && idx < d->n_vnames ? d->vnames[idx] : NULL;
}

static Elf64_Sym sym_at(const uint8_t *syms, size_t i)
{
	Elf64_Sym s;

	memcpy(&s, syms + i * sizeof(s), sizeof(s));
	return s;
}

static int read_relocs(struct dyn *d, uint64_t vaddr, uint64_t size, const uint8_t *syms, size_t nsyms,
		       const uint8_t *versym)
{
	size_t n = size / sizeof(Elf64_Rela), k = d->info->n_relocs;
	const uint8_t *p = n ? at(d, vaddr, n * sizeof(Elf64_Rela)) : NULL;
	struct elf_reloc *out;

	if (!p)
		return 0;
	out = arena_alloc(&d->info->arena, (k + n + 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	if (k)
		memcpy(out, d->info->relocs, k * sizeof(*out));
	d->info->relocs = out;
	d->info->relocs_seen += n;
	for (size_t i = 0; i < n; i++) {
		Elf64_Rela r;
		uint32_t type;
		struct elf_reloc *e = &out[k];
		bool hidden;

		memcpy(&r, p + i * sizeof(r), sizeof(r));
		type = ELF64_R_TYPE(r.r_info);
		if (!elf_reloc_recorded(type, ELF64_R_SYM(r.r_info), r.r_addend))
			continue;
		memset(e, 0, sizeof(*e));
		e->offset = r.r_offset;
		e->addend = r.r_addend;
		e->type = type;
		if (type != R_X86_64_IRELATIVE) {
			size_t si = ELF64_R_SYM(r.r_info);

			if (!si || si >= nsyms || !(e->sym = str(d, sym_at(syms, si).st_name)))
				continue;
			e->version = version_of(d, versym, nsyms, si, &hidden);
		}
		k++;
	}
	d->info->n_relocs = k;
	return 0;
}

static int cmp_by_name(const void *a, const void *b)
{
	return strcmp(((const struct elf_symbol *)a)->name, ((const struct elf_symbol *)b)->name);
}

int elf_dynamic_segment_read(Elf *elf, struct elf_info *info)
{
	struct dyn d = { .elf = elf, .info = info };
	const uint8_t *syms = NULL, *versym = NULL;
	struct elf_symbol *out;
	size_t nphdr, nsyms, k = 0;
	GElf_Phdr ph;
	bool found = false;
	int ret;

	if (elf_getphdrnum(elf, &nphdr))
		return -ENOEXEC;
	for (size_t i = 0; i < nphdr && !found; i++)
		found = gelf_getphdr(elf, i, &ph) && ph.p_type == PT_DYNAMIC;
	if (!found)
		return 0;	/* static: nothing ld.so relocates */
	ret = read_tags(&d, &ph);
	if (ret)
		return ret;
	info->pltgot = d.has[DT_PLTGOT] ? d.tag[DT_PLTGOT] : 0;
	info->is_pie = d.flags_1 & DF_1_PIE;
	info->bind_now = (d.flags_1 & DF_1_NOW) || (d.has[DT_FLAGS] && (d.tag[DT_FLAGS] & DF_BIND_NOW)) ||
			 d.has[DT_BIND_NOW];
	if (d.has[DT_STRTAB] && d.has[DT_STRSZ] && d.tag[DT_STRSZ] < (64u << 20)) {
		d.strtab = (const char *)at(&d, d.tag[DT_STRTAB], d.tag[DT_STRSZ]);
		d.strsz = d.strtab ? d.tag[DT_STRSZ] : 0;
	}
	nsyms = count_symbols(&d);
	if (nsyms && d.has[DT_SYMTAB])
		syms = at(&d, d.tag[DT_SYMTAB], nsyms * sizeof(Elf64_Sym));
	if (!syms)
		nsyms = 0;
	if (nsyms && d.has_versym)
		versym = at(&d, d.versym, nsyms * sizeof(uint16_t));
	ret = read_versions(&d);
	if (ret)
		return ret;
	out = arena_alloc(&info->arena, (nsyms ? nsyms : 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 1; i < nsyms; i++) {
		Elf64_Sym sy = sym_at(syms, i);
		unsigned char type = ELF64_ST_TYPE(sy.st_info);
		struct elf_symbol *e = &out[k];

		if (sy.st_shndx == SHN_UNDEF || !sy.st_name ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_OBJECT) || !(e->name = str(&d, sy.st_name)))
			continue;
		e->value = sy.st_value;
		e->size = sy.st_size;
		e->type = type;
		e->defined = true;
		e->version = version_of(&d, versym, nsyms, i, &e->hidden_version);
		k++;
	}
	qsort(out, k, sizeof(*out), cmp_by_name);
	info->dynsyms = out;
	info->n_dynsyms = k;
	if (d.has[DT_RELA] && d.has[DT_RELASZ])
		ret = read_relocs(&d, d.tag[DT_RELA], d.tag[DT_RELASZ], syms, nsyms, versym);
	/* .rela.plt, unless DT_RELASZ already covered it (some linkers do) */
	if (!ret && d.has[DT_JMPREL] && d.has[DT_PLTRELSZ] && (!d.has[DT_PLTREL] || d.tag[DT_PLTREL] == DT_RELA) &&
	    !(d.has[DT_RELA] && d.tag[DT_JMPREL] >= d.tag[DT_RELA] &&
	      d.tag[DT_JMPREL] < d.tag[DT_RELA] + d.tag[DT_RELASZ]))
		ret = read_relocs(&d, d.tag[DT_JMPREL], d.tag[DT_PLTRELSZ], syms, nsyms, versym);
	return ret;
}
