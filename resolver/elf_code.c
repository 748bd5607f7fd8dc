// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * An ELF object's code, indexed for disassembly (see elf_code.h): the file
 * mapped once, executable sections, all dynamic relocations, code symbols,
 * and function extents from .eh_frame (eh_frame.c).  Every part of the
 * file is bounds checked: the file may be malformed.
 */
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_code.h"
#include "internal.h"

static size_t n_entries(Elf *elf, const Elf_Data *d, Elf_Type type)
{
	size_t sz = gelf_fsize(elf, type, 1, EV_CURRENT);

	return d && d->d_buf && sz ? d->d_size / sz : 0;
}

static int push_func(struct elf_code *c, size_t *cap, uint64_t start, uint64_t end, bool fde, bool gap)
{
	if (c->n_funcs == *cap) {
		size_t nc = *cap ? *cap * 2 : 1024;
		struct elf_code_func *f = realloc(c->funcs, nc * sizeof(*f));

		if (!f)
			return -ENOMEM;
		c->funcs = f;
		*cap = nc;
	}
	c->funcs[c->n_funcs++] = (struct elf_code_func){ start, end, fde, gap };
	return 0;
}

struct fde_push {
	struct elf_code *c;
	size_t *cap;
};

static int push_fde(uint64_t start, uint64_t end, void *arg)
{
	struct fde_push *p = arg;

	return push_func(p->c, p->cap, start, end, true, false);
}

/* ---- symbols and relocations ---- */

static int read_syms(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct elf_code *c, bool dynamic)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = n_entries(elf, d, ELF_T_SYM);
	struct elf_code_sym *out;

	if (!n)
		return 0;
	if (dynamic) {
		out = calloc(n, sizeof(*out));
		if (!out)
			return -ENOMEM;
		c->dynsym = out;
		c->n_dynsym = n;
	}
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		struct elf_code_sym e = { 0 };

		if (!gelf_getsym(d, i, &s))
			break;
		e.value = s.st_value;
		e.size = s.st_size;
		e.type = GELF_ST_TYPE(s.st_info);
		e.defined = s.st_shndx != SHN_UNDEF;
		e.name = s.st_name ? elf_strptr(elf, sh->sh_link, s.st_name) : NULL;
		if (dynamic)
			c->dynsym[i] = e;
		if (e.defined && e.name && (e.type == STT_FUNC || e.type == STT_GNU_IFUNC) && e.value) {
			struct elf_code_sym *f = realloc(c->fsyms, (c->n_fsyms + 1) * sizeof(*f));

			if (!f)
				return -ENOMEM;
			c->fsyms = f;
			c->fsyms[c->n_fsyms++] = e;
		}
	}
	return 0;
}

static int read_rela(Elf *elf, Elf_Scn *scn, struct elf_code *c)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = n_entries(elf, d, ELF_T_RELA);
	struct elf_code_reloc *out;

	if (!n)
		return 0;
	out = realloc(c->rel, (c->n_rel + n) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	c->rel = out;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;

		if (!gelf_getrela(d, i, &r))
			break;
		c->rel[c->n_rel++] = (struct elf_code_reloc){ r.r_offset, r.r_addend, GELF_R_TYPE(r.r_info),
							      GELF_R_SYM(r.r_info) };
	}
	return 0;
}

static int cmp_rel(const void *a, const void *b)
{
	const struct elf_code_reloc *x = a, *y = b;

	return (x->off > y->off) - (x->off < y->off);
}

static int cmp_sym(const void *a, const void *b)
{
	const struct elf_code_sym *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return (y->size > 0) - (x->size > 0);
}

static int cmp_func(const void *a, const void *b)
{
	const struct elf_code_func *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->end < y->end) - (x->end > y->end);	/* longest first */
}

static int cmp_range(const void *a, const void *b)
{
	const struct elf_code_range *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/*
 * Functions: FDE extents, then sized symbols where no FDE is, then gaps so
 * that every byte of every executable section belongs to one function.
 * Overlaps (an FDE covering a symbol) keep the earlier, longer extent.
 */
static int build_funcs(struct elf_code *c, size_t *cap)
{
	struct elf_code_func *f;
	size_t n = 0, n_in;
	int ret;

	for (size_t i = 0; i < c->n_fsyms; i++) {
		const struct elf_code_sym *s = &c->fsyms[i];

		if (s->size && elf_code_is_text(c, s->value)) {
			ret = push_func(c, cap, s->value, s->value + s->size, false, false);
			if (ret)
				return ret;
		}
	}
	if (c->n_funcs)
		qsort(c->funcs, c->n_funcs, sizeof(*c->funcs), cmp_func);
	f = c->funcs;
	for (size_t i = 0; i < c->n_funcs; i++) {
		if (n && f[i].start < f[n - 1].end) {
			if (f[i].from_fde && !f[n - 1].from_fde && f[i].start == f[n - 1].start)
				f[n - 1] = f[i];
			continue;
		}
		f[n++] = f[i];
	}
	c->n_funcs = n;
	/* gaps inside executable sections */
	n_in = n;
	for (size_t t = 0; t < c->n_text; t++) {
		uint64_t at = c->text[t].start;
		size_t i = 0;

		while (at < c->text[t].end) {
			uint64_t next = c->text[t].end;

			while (i < n_in && c->funcs[i].end <= at)
				i++;
			if (i < n_in && c->funcs[i].start <= at) {
				at = c->funcs[i].end;
				continue;
			}
			if (i < n_in && c->funcs[i].start < next)
				next = c->funcs[i].start;
			ret = push_func(c, cap, at, next, false, true);
			if (ret)
				return ret;
			at = next;
		}
	}
	if (c->n_funcs)
		qsort(c->funcs, c->n_funcs, sizeof(*c->funcs), cmp_func);
	return 0;
}

int elf_code_open(const char *path, struct elf_code *c)
{
	return elf_code_open_mode(path, c, ELF_CODE_FULL);
}

int elf_code_open_lite(const char *path, struct elf_code *c, bool lite)
{
	return elf_code_open_mode(path, c, lite ? ELF_CODE_SECTIONS : ELF_CODE_FULL);
}

int elf_code_open_mode(const char *path, struct elf_code *c, enum elf_code_mode mode)
{
	bool lite = mode == ELF_CODE_SECTIONS;
	Elf *elf = NULL;
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	size_t shstrndx = 0, phnum, cap = 0;
	int ret = -ENOEXEC;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	if (fstat(c->fd, &c->st)) {
		ret = -errno;
		goto out;
	}
	elf = elf_begin(c->fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64 || !gelf_getehdr(elf, &eh) ||
	    eh.e_machine != EM_X86_64)
		goto out;
	c->file = (const uint8_t *)elf_rawfile(elf, &c->file_size);
	if (!c->file)
		goto out;
	c->is_exec = eh.e_type == ET_EXEC;
	if (elf_getphdrnum(elf, &phnum))
		goto out;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph))
			goto out;
		if (ph.p_type == PT_LOAD && c->n_segs < ARRAY_SIZE(c->segs) && ph.p_offset <= c->file_size &&
		    ph.p_filesz <= c->file_size - ph.p_offset) {
			c->segs[c->n_segs].vaddr = ph.p_vaddr;
			c->segs[c->n_segs].offset = ph.p_offset;
			c->segs[c->n_segs].filesz = ph.p_filesz;
			c->segs[c->n_segs].memsz = ph.p_memsz;
			c->segs[c->n_segs].x = ph.p_flags & PF_X;
			c->segs[c->n_segs].w = ph.p_flags & PF_W;
			c->n_segs++;
		} else if (ph.p_type == PT_NOTE && !c->build_id_len && ph.p_offset <= c->file_size &&
			   ph.p_filesz <= c->file_size - ph.p_offset) {
			Elf_Data *d = elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz, ELF_T_NHDR);
			size_t off = 0, no, doff;
			GElf_Nhdr nh;

			while (d && (off = gelf_getnote(d, off, &nh, &no, &doff)) > 0)
				if (nh.n_type == 3 && nh.n_namesz == 4 && !memcmp((char *)d->d_buf + no, "GNU", 4) &&
				    nh.n_descsz <= sizeof(c->build_id)) {
					memcpy(c->build_id, (char *)d->d_buf + doff, nh.n_descsz);
					c->build_id_len = nh.n_descsz;
					break;
				}
		}
	}
	if (elf_getshdrstrndx(elf, &shstrndx))
		shstrndx = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = shstrndx ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
		if (lite && (sh.sh_type == SHT_RELA || sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB ||
			     (name && !strcmp(name, ".eh_frame")))) {
			ret = 0;
		} else if (sh.sh_type == SHT_RELA && (sh.sh_flags & SHF_ALLOC)) {
			ret = read_rela(elf, scn, c);
		} else if (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB) {
			ret = read_syms(elf, scn, &sh, c, sh.sh_type == SHT_DYNSYM);
		} else if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR) && sh.sh_size) {
			struct elf_code_range *t = realloc(c->text, (c->n_text + 1) * sizeof(*t));

			if (!t) {
				ret = -ENOMEM;
				goto out;
			}
			c->text = t;
			c->text[c->n_text++] = (struct elf_code_range){ sh.sh_addr, sh.sh_addr + sh.sh_size };
			if (name && !strcmp(name, ".init"))
				c->init = c->text[c->n_text - 1];
			ret = 0;
		} else if (name && !strcmp(name, ".eh_frame") && sh.sh_type == SHT_PROGBITS && mode == ELF_CODE_FULL) {
			const uint8_t *b = elf_code_bytes(c, sh.sh_addr, sh.sh_size);

			struct fde_push fp = { c, &cap };

			ret = b ? elf_eh_frame_ranges(b, sh.sh_size, sh.sh_addr, push_fde, &fp) : 0;
			c->n_fdes = c->n_funcs;
		} else {
			ret = 0;
		}
		if (ret)
			goto out;
	}
	if (!c->n_text)		/* no section headers: executable segments */
		for (size_t i = 0; i < c->n_segs; i++) {
			struct elf_code_range *t;

			if (!c->segs[i].x)
				continue;
			t = realloc(c->text, (c->n_text + 1) * sizeof(*t));
			if (!t) {
				ret = -ENOMEM;
				goto out;
			}
			c->text = t;
			c->text[c->n_text++] = (struct elf_code_range){ c->segs[i].vaddr,
									c->segs[i].vaddr + c->segs[i].filesz };
		}
	if (c->n_text)
		qsort(c->text, c->n_text, sizeof(*c->text), cmp_range);
	if (c->n_rel)
		qsort(c->rel, c->n_rel, sizeof(*c->rel), cmp_rel);
	if (c->n_fsyms)
		qsort(c->fsyms, c->n_fsyms, sizeof(*c->fsyms), cmp_sym);
	ret = mode != ELF_CODE_FULL ? 0 : build_funcs(c, &cap);
out:
	c->elf = elf;
	if (ret)
		elf_code_close(c);
	return ret;
}

void elf_code_close(struct elf_code *c)
{
	if (c->elf)
		elf_end(c->elf);	/* also unmaps c->file */
	if (c->fd >= 0)
		close(c->fd);
	free(c->text);
	free(c->rel);
	free(c->dynsym);
	free(c->fsyms);
	free(c->funcs);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

const uint8_t *elf_code_bytes(const struct elf_code *c, uint64_t vaddr, uint64_t len)
{
	for (size_t i = 0; i < c->n_segs; i++) {
		uint64_t v = c->segs[i].vaddr;

		if (vaddr >= v && vaddr - v <= c->segs[i].filesz && len <= c->segs[i].filesz - (vaddr - v))
			return c->file + c->segs[i].offset + (vaddr - v);
	}
	return NULL;
}

bool elf_code_is_text(const struct elf_code *c, uint64_t vaddr)
{
	size_t lo = 0, hi = c->n_text;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (vaddr < c->text[mid].start)
			hi = mid;
		else if (vaddr >= c->text[mid].end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

const struct elf_code_reloc *elf_code_reloc_at(const struct elf_code *c, uint64_t off)
{
	size_t lo = 0, hi = c->n_rel;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->rel[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->n_rel && c->rel[lo].off == off ? &c->rel[lo] : NULL;
}

int elf_code_slot_value(const struct elf_code *c, uint64_t vaddr, uint64_t *val)
{
	const struct elf_code_reloc *r = elf_code_reloc_at(c, vaddr);
	const uint8_t *b;

	if (r) {
		const struct elf_code_sym *s = r->sym < c->n_dynsym ? &c->dynsym[r->sym] : NULL;

		switch (r->type) {
		case R_X86_64_RELATIVE:
			*val = (uint64_t)r->addend;
			return 0;
		case R_X86_64_64:
		case R_X86_64_GLOB_DAT:
		case R_X86_64_JUMP_SLOT:
			if (!r->sym || !s || !s->defined || s->type != STT_FUNC)
				return -ENOENT;
			*val = s->value + (r->type == R_X86_64_64 ? (uint64_t)r->addend : 0);
			return 0;
		default:
			return -ENOENT;
		}
	}
	if (!c->is_exec)
		return -ENOENT;	/* a PIC object's unrelocated slot holds no address */
	b = elf_code_bytes(c, vaddr, 8);
	if (!b)
		return -ENOENT;
	memcpy(val, b, 8);
	return 0;
}

const struct elf_code_func *elf_code_func_at(const struct elf_code *c, uint64_t vaddr)
{
	size_t lo = 0, hi = c->n_funcs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (vaddr < c->funcs[mid].start)
			hi = mid;
		else if (vaddr >= c->funcs[mid].end)
			lo = mid + 1;
		else
			return &c->funcs[mid];
	}
	return NULL;
}

const char *elf_code_sym_name(const struct elf_code *c, uint64_t vaddr, uint64_t *delta)
{
	size_t lo = 0, hi = c->n_fsyms;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->fsyms[mid].value <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const struct elf_code_sym *s = &c->fsyms[lo - 1];
	if (s->size && vaddr - s->value >= s->size)
		return NULL;
	if (vaddr - s->value > (1u << 20))
		return NULL;
	*delta = vaddr - s->value;
	return s->name;
}
