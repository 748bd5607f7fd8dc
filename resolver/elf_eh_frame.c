// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Function extents from a .eh_frame section: every FDE's initial location and
 * range, with the pointer encoding its CIE's "zR" augmentation gives.  Every
 * read is bounds checked (the file may be malformed).
 */
#include <string.h>

#include "elf_code.h"
#include "internal.h"

/* ---- .eh_frame ---- */

struct cursor {
	const uint8_t *p, *end;
	uint64_t vaddr;		/* link-time address of p[0] */
	const uint8_t *base;
	bool bad;
};

static uint64_t cur_vaddr(const struct cursor *c)
{
	return c->vaddr + (uint64_t)(c->p - c->base);
}

static uint64_t get_u(struct cursor *c, size_t n)
{
	uint64_t v = 0;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

static uint64_t get_uleb(struct cursor *c)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	while (!c->bad) {
		uint8_t b = (uint8_t)get_u(c, 1);

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	return v;
}

static int64_t get_sleb(struct cursor *c)
{
	int64_t v = 0;
	unsigned int shift = 0;
	uint8_t b = 0;

	do {
		b = (uint8_t)get_u(c, 1);
		if (shift < 64)
			v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
		shift += 7;
	} while (!c->bad && (b & 0x80));
	if (shift < 64 && (b & 0x40))
		v |= -((int64_t)1 << shift);
	return v;
}

/* A DW_EH_PE-encoded pointer; false for encodings not used in .eh_frame FDEs. */
static bool get_enc(struct cursor *c, uint8_t enc, uint64_t *out)
{
	uint64_t at = cur_vaddr(c), v;

	if (enc == 0xff)	/* DW_EH_PE_omit */
		return false;
	switch (enc & 0x0f) {
	case 0x00: v = get_u(c, 8); break;
	case 0x01: v = get_uleb(c); break;
	case 0x02: v = get_u(c, 2); break;
	case 0x03: v = get_u(c, 4); break;
	case 0x04: v = get_u(c, 8); break;
	case 0x09: v = (uint64_t)get_sleb(c); break;
	case 0x0a: v = (uint64_t)(int64_t)(int16_t)get_u(c, 2); break;
	case 0x0b: v = (uint64_t)(int64_t)(int32_t)get_u(c, 4); break;
	case 0x0c: v = get_u(c, 8); break;
	default: c->bad = true; return false;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += at; break;		/* pcrel */
	default: c->bad = true; return false;	/* textrel/datarel/funcrel: not in .eh_frame */
	}
	*out = v;
	return !c->bad;
}

/* FDE pointer encoding of the CIE at @cie; 0xff if it cannot be read. */
static uint8_t cie_fde_encoding(const uint8_t *cie, const uint8_t *end, uint64_t vaddr, const uint8_t *base)
{
	struct cursor c = { cie, end, vaddr, base, false };
	uint64_t len = get_u(&c, 4), id;
	const char *aug;
	uint8_t version, enc = 0;	/* absptr */

	if (len == 0xffffffff)
		len = get_u(&c, 8);
	if (c.bad || len > (uint64_t)(c.end - c.p))
		return 0xff;
	c.end = c.p + len;
	id = get_u(&c, 4);
	version = (uint8_t)get_u(&c, 1);
	if (c.bad || id != 0)
		return 0xff;
	aug = (const char *)c.p;
	if (!memchr(c.p, 0, (size_t)(c.end - c.p)))
		return 0xff;
	c.p += strlen(aug) + 1;
	get_uleb(&c);		/* code alignment */
	get_sleb(&c);		/* data alignment */
	if (version == 1)
		get_u(&c, 1);
	else
		get_uleb(&c);	/* return address register */
	if (aug[0] != 'z')
		return c.bad ? 0xff : enc;
	get_uleb(&c);		/* augmentation data length */
	for (const char *a = aug + 1; *a && !c.bad; a++) {
		uint64_t dummy;

		if (*a == 'R')
			enc = (uint8_t)get_u(&c, 1);
		else if (*a == 'L')
			get_u(&c, 1);
		else if (*a == 'P') {
			uint8_t penc = (uint8_t)get_u(&c, 1);

			get_enc(&c, penc & 0x7f, &dummy);
		} else if (*a != 'S' && *a != 'B')
			return 0xff;
	}
	return c.bad ? 0xff : enc;
}

int elf_eh_frame_ranges(const uint8_t *sec, size_t size, uint64_t vaddr, elf_range_fn fn, void *arg)
{
	const uint8_t *p = sec, *end = sec + size;

	while ((size_t)(end - p) >= 8) {
		struct cursor cu = { p, end, vaddr, sec, false };
		uint64_t len = get_u(&cu, 4), id, start, range;
		const uint8_t *id_pos, *next;
		uint8_t enc;
		int ret;

		if (len == 0)
			break;
		if (len == 0xffffffff)
			len = get_u(&cu, 8);
		if (cu.bad || len > (uint64_t)(end - cu.p))
			break;
		next = cu.p + len;
		id_pos = cu.p;
		id = get_u(&cu, 4);
		p = next;
		if (cu.bad || id == 0 || id > (uint64_t)(id_pos - sec))
			continue;	/* a CIE, or a CIE pointer outside the section */
		enc = cie_fde_encoding(id_pos - id, end, vaddr, sec);
		if (enc == 0xff)
			continue;
		cu.end = next;
		if (!get_enc(&cu, enc, &start) || !get_enc(&cu, enc & 0x0f, &range) || !range || range > (1u << 30))
			continue;
		ret = fn(start, start + range, arg);
		if (ret)
			return ret;
	}
	return 0;
}
