// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A parsed ELF file (elf_info_parse: what the file itself says, before
 * debug-file names) as one flat blob for the on-disk cache, and back.
 * Reading it back trusts nothing: every count fits the blob, every string
 * index lies in the string table and ends inside it, every table is in the
 * order the lookups (bsearch) need; anything else and the blob is refused,
 * so the caller parses the file instead.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NOSTR UINT32_MAX

struct blob_hdr {
	uint32_t version;
	uint8_t is_exec, is_pie, bind_now, syms_from_debug, has_symtab, syms_fallback, pad[2];
	uint8_t build_id[64];
	uint64_t build_id_len;
	uint64_t pltgot, dynamic, eh_frame_hdr, plt_start, plt_end;
	struct elf_segment segs[16];
	uint64_t n_segs, n_relocs, relocs_seen, n_dynsyms, n_syms, str_len;
	char glibc_version[16];
};

struct blob_reloc {
	uint64_t offset;
	int64_t addend;
	uint32_t type, sym, version, pad;
};

struct blob_sym {
	uint64_t value, size;
	uint32_t name, version;
	uint8_t type, defined, hidden_version, pad[5];
};

_Static_assert(sizeof(((struct elf_info *)0)->segs) == sizeof(((struct blob_hdr *)0)->segs), "segments");
/*
 * Every field elf_info_parse() sets must be in the blob, or a cached parse
 * differs from a fresh one: a new field of struct elf_info fails here until
 * it is carried (blob_hdr, both directions, ELF_BLOB_VERSION + 1).  (The
 * syms_by_name and ifunc_hashes indexes are not parsed: elf_lookup.c builds
 * them on first use.)
 */
_Static_assert(sizeof(struct elf_info) == 960, "struct elf_info changed: carry the new field in elf_blob.c");
/* (debug_pending is not carried: elf_info_parse() never sets it, elf_cache.c does; the name indexes are built on first use) */

/* string table under construction: offsets of the strings added */
struct strtab {
	char *buf;
	size_t len, cap;
};

static uint32_t str_add(struct strtab *t, const char *s, int *err)
{
	size_t n;
	uint32_t off;

	if (!s)
		return NOSTR;
	n = strlen(s) + 1;
	if (t->len + n > t->cap) {
		size_t cap = (t->cap ? t->cap * 2 : 4096) + n;
		char *b = realloc(t->buf, cap);

		if (!b) {
			*err = -ENOMEM;
			return NOSTR;
		}
		t->buf = b, t->cap = cap;
	}
	if (t->len + n >= NOSTR) {
		*err = -E2BIG;
		return NOSTR;
	}
	memcpy(t->buf + t->len, s, n);
	off = t->len;
	t->len += n;
	return off;
}

static void put_syms(struct blob_sym *out, const struct elf_symbol *s, size_t n, struct strtab *t, int *err)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (struct blob_sym){ .value = s[i].value, .size = s[i].size, .name = str_add(t, s[i].name, err),
					    .version = str_add(t, s[i].version, err), .type = s[i].type,
					    .defined = s[i].defined, .hidden_version = s[i].hidden_version };
}

int elf_info_to_blob(const struct elf_info *info, void **blob, size_t *len)
{
	struct strtab t = { 0 };
	struct blob_hdr h = { .version = ELF_BLOB_VERSION };
	struct blob_reloc *r = calloc(info->n_relocs + 1, sizeof(*r));
	struct blob_sym *d = calloc(info->n_dynsyms + 1, sizeof(*d));
	struct blob_sym *s = calloc((info->n_syms > info->n_dynsyms ? info->n_syms : info->n_dynsyms) + 1, sizeof(*s));
	struct elf_symbol *fallback = NULL;
	int err = 0;
	uint8_t *out = NULL;

	if (!r || !d || !s) {
		err = -ENOMEM;
		goto done;
	}
	h.is_exec = info->is_exec, h.is_pie = info->is_pie, h.bind_now = info->bind_now;
	h.syms_from_debug = info->syms_from_debug, h.has_symtab = info->has_symtab;
	memcpy(h.build_id, info->build_id, sizeof(h.build_id));
	h.build_id_len = info->build_id_len;
	h.pltgot = info->pltgot, h.dynamic = info->dynamic, h.plt_start = info->plt_start, h.plt_end = info->plt_end;
	h.eh_frame_hdr = info->eh_frame_hdr;
	memcpy(h.segs, info->segs, sizeof(h.segs));
	h.n_segs = info->n_segs, h.n_relocs = info->n_relocs, h.relocs_seen = info->relocs_seen;
	h.n_dynsyms = info->n_dynsyms, h.n_syms = info->syms ? info->n_syms : 0;
	if (!info->syms && info->n_dynsyms) {	/* what elf_info_finish() falls back to, sorted once here */
		fallback = malloc(info->n_dynsyms * sizeof(*fallback));
		if (!fallback) {
			err = -ENOMEM;
			goto done;
		}
		memcpy(fallback, info->dynsyms, info->n_dynsyms * sizeof(*fallback));
		elf_syms_sort_by_value(fallback, info->n_dynsyms);
		h.syms_fallback = 1;
		h.n_syms = info->n_dynsyms;
	}
	memcpy(h.glibc_version, info->glibc_version, sizeof(h.glibc_version));
	for (size_t i = 0; i < info->n_relocs; i++)
		r[i] = (struct blob_reloc){ .offset = info->relocs[i].offset, .addend = info->relocs[i].addend,
					    .type = info->relocs[i].type, .sym = str_add(&t, info->relocs[i].sym, &err),
					    .version = str_add(&t, info->relocs[i].version, &err) };
	put_syms(d, info->dynsyms, info->n_dynsyms, &t, &err);
	put_syms(s, fallback ? fallback : info->syms, h.n_syms, &t, &err);
	if (err)
		goto done;
	h.str_len = t.len;
	*len = sizeof(h) + h.n_relocs * sizeof(*r) + (h.n_dynsyms + h.n_syms) * sizeof(*d) + t.len;
	out = malloc(*len);
	if (!out) {
		err = -ENOMEM;
		goto done;
	}
	*blob = out;
	memcpy(out, &h, sizeof(h));
	out += sizeof(h);
	memcpy(out, r, h.n_relocs * sizeof(*r));
	out += h.n_relocs * sizeof(*r);
	memcpy(out, d, h.n_dynsyms * sizeof(*d));
	out += h.n_dynsyms * sizeof(*d);
	memcpy(out, s, h.n_syms * sizeof(*s));
	out += h.n_syms * sizeof(*s);
	if (t.len)
		memcpy(out, t.buf, t.len);
done:
	free(fallback);
	free(r);
	free(d);
	free(s);
	free(t.buf);
	return err;
}

/* a string index of the blob: in the table (which ends with a NUL), or NOSTR if @may_be_null */
static bool str_ok(uint32_t off, uint64_t str_len, bool may_be_null)
{
	return off == NOSTR ? may_be_null : off < str_len;
}

static const char *str_at(const char *strs, uint32_t off)
{
	return off == NOSTR ? NULL : strs + off;
}

static int get_syms(struct elf_info *info, const struct blob_sym *in, size_t n, const char *strs, uint64_t str_len,
		    bool by_name, struct elf_symbol **out)
{
	struct elf_symbol *s = arena_alloc(&info->arena, (n ? n : 1) * sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!str_ok(in[i].name, str_len, false) || !str_ok(in[i].version, str_len, true) || in[i].defined > 1 ||
		    in[i].hidden_version > 1)
			return -EINVAL;
		s[i] = (struct elf_symbol){ .value = in[i].value, .size = in[i].size, .name = strs + in[i].name,
					    .version = str_at(strs, in[i].version), .type = in[i].type,
					    .defined = in[i].defined, .hidden_version = in[i].hidden_version };
		/* the order the lookups rely on: by name (dynsyms), by value (syms) */
		if (i && (by_name ? strcmp(s[i - 1].name, s[i].name) > 0 : s[i - 1].value > s[i].value))
			return -EINVAL;
	}
	*out = s;
	return 0;
}

int elf_info_from_blob(const void *blob, size_t len, struct elf_info *info)
{
	const uint8_t *p = blob;
	const struct blob_reloc *r;
	const struct blob_sym *d, *s;
	struct blob_hdr h;
	const char *strs;
	uint64_t need;
	int ret = -EINVAL;

	memset(info, 0, sizeof(*info));
	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, p, sizeof(h));
	if (h.version != ELF_BLOB_VERSION || h.build_id_len > sizeof(h.build_id) || !h.n_segs ||
	    h.n_segs > ARRAY_SIZE(h.segs) || !memchr(h.glibc_version, 0, sizeof(h.glibc_version)) || h.is_exec > 1 ||
	    h.is_pie > 1 || h.bind_now > 1 || h.syms_from_debug > 1 || h.has_symtab > 1 || h.syms_fallback > 1 ||
	    h.n_relocs > len || h.n_dynsyms > len || h.n_syms > len || h.str_len > len || h.relocs_seen < h.n_relocs)
		return -EINVAL;
	need = sizeof(h) + h.n_relocs * sizeof(*r) + (h.n_dynsyms + h.n_syms) * sizeof(*d) + h.str_len;
	if (need != len || (h.str_len && p[len - 1]))
		return -EINVAL;
	r = (const void *)(p + sizeof(h));
	d = (const void *)(r + h.n_relocs);
	s = d + h.n_dynsyms;
	/* the blob's tables are copied into the arena: aligned, and owned by @info */
	strs = arena_alloc(&info->arena, h.str_len + 1);	/* zeroed: "" for an empty table */
	if (strs)
		memcpy((char *)strs, s + h.n_syms, h.str_len);
	info->relocs = arena_alloc(&info->arena, (h.n_relocs + 1) * sizeof(*info->relocs));
	if (!strs || !info->relocs) {
		ret = -ENOMEM;
		goto bad;
	}
	for (size_t i = 0; i < h.n_relocs; i++) {
		struct blob_reloc x;

		memcpy(&x, r + i, sizeof(x));
		if (!str_ok(x.sym, h.str_len, true) || !str_ok(x.version, h.str_len, true) ||
		    (i && info->relocs[i - 1].offset > x.offset))
			goto bad;
		info->relocs[i] = (struct elf_reloc){ .offset = x.offset, .addend = x.addend, .type = x.type,
						      .sym = str_at(strs, x.sym), .version = str_at(strs, x.version) };
	}
	{
		struct blob_sym *tmp = malloc((h.n_dynsyms + h.n_syms + 1) * sizeof(*tmp));	/* aligned copy */

		if (!tmp) {
			ret = -ENOMEM;
			goto bad;
		}
		memcpy(tmp, d, (h.n_dynsyms + h.n_syms) * sizeof(*tmp));
		ret = get_syms(info, tmp, h.n_dynsyms, strs, h.str_len, true, &info->dynsyms);
		/* a .symtab (even an empty one) means no debug-file names later: keep it non-NULL */
		if (!ret && h.has_symtab && !h.syms_fallback)
			ret = get_syms(info, tmp + h.n_dynsyms, h.n_syms, strs, h.str_len, false, &info->syms);
		else if (!ret && h.syms_fallback && !h.has_symtab && h.n_syms == h.n_dynsyms)
			ret = get_syms(info, tmp + h.n_dynsyms, h.n_syms, strs, h.str_len, false,
				       &info->dynsyms_by_value);
		else if (!ret && h.n_syms)
			ret = -EINVAL;
		free(tmp);
		if (ret)
			goto bad;
	}
	info->n_relocs = h.n_relocs;
	info->relocs_seen = h.relocs_seen;
	info->n_dynsyms = h.n_dynsyms;
	info->n_syms = h.syms_fallback ? 0 : h.n_syms;
	info->n_dynsyms_by_value = h.syms_fallback ? h.n_syms : 0;
	info->is_exec = h.is_exec, info->is_pie = h.is_pie, info->bind_now = h.bind_now;
	info->syms_from_debug = h.syms_from_debug, info->has_symtab = h.has_symtab;
	memcpy(info->build_id, h.build_id, sizeof(info->build_id));
	info->build_id_len = h.build_id_len;
	info->pltgot = h.pltgot, info->dynamic = h.dynamic, info->plt_start = h.plt_start, info->plt_end = h.plt_end;
	info->eh_frame_hdr = h.eh_frame_hdr;
	memcpy(info->segs, h.segs, sizeof(info->segs));
	info->n_segs = h.n_segs;
	memcpy(info->glibc_version, h.glibc_version, sizeof(info->glibc_version));
	return 0;
bad:
	elf_info_free(info);
	return ret;
}
