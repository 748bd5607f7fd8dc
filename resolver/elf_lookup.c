// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Questions to a loaded ELF file (elf_scan.c reads it): symbols by name and
 * version as ld.so matches them, by address for humans, relocations by
 * offset, and where an address lies in the file.
 */
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * As ld.so matches (check_match): a versioned reference takes the definition
 * with that version, or an unversioned one; an unversioned reference takes
 * the default (non-hidden) version.
 */
const struct elf_symbol *elf_dynsym_find(const struct elf_info *info, const char *name, const char *version)
{
	size_t lo = 0, hi = info->n_dynsyms;
	const struct elf_symbol *fallback = NULL;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(info->dynsyms[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < info->n_dynsyms && !strcmp(info->dynsyms[lo].name, name); lo++) {
		const struct elf_symbol *s = &info->dynsyms[lo];

		if (version && s->version && !strcmp(s->version, version))
			return s;
		if (version ? !s->version : !s->hidden_version)
			fallback = fallback ?: s;
	}
	return fallback;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Most relocations bind to objects that define no IFUNC at all, or to
 * names that are not one: a hash look-up instead of a name search.  The
 * index is a cache built on first use (dynsyms never change once loaded).
 */
bool elf_dynsym_maybe_ifunc(const struct elf_info *info, const char *name)
{
	struct elf_info *mut = (struct elf_info *)info;
	uint64_t h;

	if (!info->ifunc_hashes_built) {
		size_t n = 0;

		for (size_t i = 0; i < info->n_dynsyms; i++)
			n += info->dynsyms[i].type == STT_GNU_IFUNC;
		mut->ifunc_hashes = n ? arena_alloc(&mut->arena, n * sizeof(uint64_t)) : NULL;
		if (n && !mut->ifunc_hashes)
			return true;	/* no index: cannot rule it out */
		for (size_t i = 0; i < info->n_dynsyms; i++)
			if (info->dynsyms[i].type == STT_GNU_IFUNC)
				mut->ifunc_hashes[mut->n_ifunc_hashes++] = elf_name_hash(info->dynsyms[i].name);
		if (mut->n_ifunc_hashes)	/* qsort(NULL, 0) is undefined */
			qsort(mut->ifunc_hashes, mut->n_ifunc_hashes, sizeof(uint64_t), cmp_u64);
		mut->ifunc_hashes_built = true;
	}
	if (!info->n_ifunc_hashes || !name)
		return false;
	h = elf_name_hash(name);
	return bsearch(&h, info->ifunc_hashes, info->n_ifunc_hashes, sizeof(uint64_t), cmp_u64) != NULL;
}

uint64_t elf_name_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 0x100000001b3ULL;
	return h ^ h >> 31;
}

/* two bits per name in a filter of ~16 bits per symbol: a miss is certain, a hit is checked by the lookup */
void elf_dynsym_bloom_build(struct elf_info *info)
{
	size_t words = 1;

	while (words * 64 < info->n_dynsyms * 16)
		words *= 2;
	info->dynsym_bloom = arena_alloc(&info->arena, words * sizeof(uint64_t));
	info->dynsym_bloom_words = info->dynsym_bloom ? words : 0;
	for (size_t i = 0; info->dynsym_bloom && i < info->n_dynsyms; i++) {
		uint64_t h = elf_name_hash(info->dynsyms[i].name), bits = words * 64;

		info->dynsym_bloom[(h % bits) / 64] |= 1ULL << (h % 64);
		info->dynsym_bloom[((h >> 32) % bits) / 64] |= 1ULL << ((h >> 32) % 64);
	}
}

bool elf_dynsym_maybe(const struct elf_info *info, uint64_t h)
{
	uint64_t bits = info->dynsym_bloom_words * 64;

	if (!bits)
		return true;
	return (info->dynsym_bloom[(h % bits) / 64] >> (h % 64) & 1) &&
	       (info->dynsym_bloom[((h >> 32) % bits) / 64] >> ((h >> 32) % 64) & 1);
}

const struct elf_symbol *elf_sym_at(const struct elf_info *info, uint64_t vaddr)
{
	size_t lo = 0, hi;

	elf_info_want_syms(info);
	hi = info->n_syms;
	while (lo < hi) {	/* last symbol with value <= vaddr */
		size_t mid = (lo + hi) / 2;

		if (info->syms[mid].value <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0;) {
		const struct elf_symbol *s = &info->syms[i];

		if (s->type == STT_OBJECT)
			continue;
		if (vaddr == s->value || vaddr < s->value + s->size)
			return s;
		if (vaddr - s->value > (1u << 20))
			break;
	}
	return NULL;
}

/*
 * The name index of @info's syms (a lazily built cache: the scan asks each
 * object for a dozen names, libc's debug table has thousands).  Rebuilt if
 * syms was replaced since (debug names arrive after the file's own).
 */
static bool sym_index(struct elf_info *info)
{
	size_t size = 16;

	if (info->syms_by_name_of == info->syms && info->syms_by_name_size)
		return true;
	while (size < 2 * info->n_syms)
		size *= 2;
	if (info->n_syms > UINT32_MAX / 2)
		return false;
	info->syms_by_name = arena_alloc(&info->arena, size * sizeof(*info->syms_by_name));
	if (!info->syms_by_name) {
		info->syms_by_name_size = 0;
		return false;
	}
	for (size_t i = 0; i < info->n_syms; i++) {	/* the first of equal names wins, as a linear search finds */
		size_t h = elf_name_hash(info->syms[i].name) & (size - 1);

		while (info->syms_by_name[h])
			h = (h + 1) & (size - 1);
		info->syms_by_name[h] = i + 1;
	}
	info->syms_by_name_size = size;
	info->syms_by_name_of = info->syms;
	return true;
}

const struct elf_symbol *elf_sym_named(const struct elf_info *info, const char *name)
{
	struct elf_info *mut = (struct elf_info *)info;	/* only the index, a cache, changes */
	const struct elf_symbol *best = NULL;

	elf_info_want_syms(info);
	if (!info->n_syms)
		return NULL;
	if (!sym_index(mut)) {
		for (size_t i = 0; i < info->n_syms; i++)
			if (!strcmp(info->syms[i].name, name))
				return &info->syms[i];
		return NULL;
	}
	for (size_t h = elf_name_hash(name) & (info->syms_by_name_size - 1); info->syms_by_name[h];
	     h = (h + 1) & (info->syms_by_name_size - 1)) {
		const struct elf_symbol *s = &info->syms[info->syms_by_name[h] - 1];

		if (!strcmp(s->name, name) && (!best || s < best))
			best = s;	/* the lowest index, as the linear search */
	}
	return best;
}

const struct elf_reloc *elf_reloc_at(const struct elf_info *info, uint64_t offset)
{
	size_t lo = 0, hi = info->n_relocs;

	while (lo < hi) {	/* relocs are sorted by offset (elf_scan.c) */
		size_t mid = (lo + hi) / 2;

		if (info->relocs[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < info->n_relocs && info->relocs[lo].offset == offset ? &info->relocs[lo] : NULL;
}

uint64_t elf_first_load_vaddr(const struct elf_info *info)
{
	return info->n_segs ? info->segs[0].vaddr & ~0xfffULL : 0;
}

int64_t elf_vaddr_to_offset(const struct elf_info *info, uint64_t vaddr, uint64_t len)
{
	for (size_t i = 0; i < info->n_segs; i++) {
		const struct elf_segment *s = &info->segs[i];

		if (vaddr >= s->vaddr && vaddr + len <= s->vaddr + s->filesz)
			return s->offset + (vaddr - s->vaddr);
	}
	return -1;
}
