// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The one .eh_frame reader (DWARF call frame information as ld.so and the
 * unwinder read it): CIE augmentations, DW_EH_PE pointer encodings, FDE
 * ranges.  Two ways in:
 *  - elf_eh_frame_ranges(): every FDE of a .eh_frame section in memory (the
 *    ISA census's function extents, elf_code.c);
 *  - eh_frame_extent(): the FDE covering one address through .eh_frame_hdr's
 *    binary search table (PT_GNU_EH_FRAME), as the unwinder finds it, read
 *    from the file (hazard checks when no symbol gives a variant's size).
 * Every read is bounds checked (the file may be malformed).
 */
#include <string.h>
#include <unistd.h>

#include "elf_code.h"
#include "internal.h"

#define DW_EH_PE_omit 0xff
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30
#define DW_EH_PE_indirect 0x80
#define DW_EH_PE_sdata4 0x0b

#define MAX_FDES (1u << 22)
#define MAX_CIE 4096

struct cursor {
	const uint8_t *p, *end;
	uint64_t vaddr;		/* link-time address of base[0] */
	const uint8_t *base;
	uint64_t datarel;	/* .eh_frame_hdr's address for datarel pointers; 0: none allowed */
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

	if (enc == DW_EH_PE_omit)
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
	case DW_EH_PE_pcrel: v += at; break;
	case DW_EH_PE_datarel:			/* only in .eh_frame_hdr */
		if (!c->datarel) {
			c->bad = true;
			return false;
		}
		v += c->datarel;
		break;
	default: c->bad = true; return false;	/* textrel/funcrel: not in .eh_frame */
	}
	if (enc & DW_EH_PE_indirect)
		c->bad = true;			/* not for code ranges */
	*out = v;
	return !c->bad;
}

/* FDE pointer encoding of the CIE at @cie; 0xff if it cannot be read. */
static uint8_t cie_fde_encoding(const uint8_t *cie, const uint8_t *end, uint64_t vaddr, const uint8_t *base)
{
	struct cursor c = { cie, end, vaddr, base, 0, false };
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
		struct cursor cu = { p, end, vaddr, sec, 0, false };
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

/* ---- one address through .eh_frame_hdr, from the file ---- */

/* Bytes at @vaddr of the file: 0 or -EFAULT. */
static int file_bytes(int fd, const struct elf_info *e, uint64_t vaddr, void *buf, size_t len)
{
	int64_t off = elf_vaddr_to_offset(e, vaddr, len);

	if (off < 0 || pread(fd, buf, len, off) != (ssize_t)len)
		return -EFAULT;
	return 0;
}

/* The FDE pointer encoding of the CIE at @cie in the file; 0xff if it cannot be read. */
static uint8_t file_cie_encoding(int fd, const struct elf_info *e, uint64_t cie)
{
	uint8_t buf[MAX_CIE];
	uint32_t len;

	if (file_bytes(fd, e, cie, &len, 4) || len == 0xffffffff || len > sizeof(buf) - 4 ||
	    file_bytes(fd, e, cie, buf, len + 4))
		return DW_EH_PE_omit;
	return cie_fde_encoding(buf, buf + len + 4, cie, buf);
}

int eh_frame_extent(int fd, const struct elf_info *e, uint64_t vaddr, uint64_t *start, uint64_t *len)
{
	uint8_t hdr[4 + 8 + 8], ent[8], fde[64];
	struct cursor c = { hdr, hdr + sizeof(hdr), e->eh_frame_hdr, hdr, e->eh_frame_hdr, false };
	uint8_t ptr_enc, count_enc, table_enc, enc;
	uint64_t count, table, lo, hi, fde_at, cie, dummy;
	int32_t loc, f;

	if (fd < 0 || !e->eh_frame_hdr || file_bytes(fd, e, e->eh_frame_hdr, hdr, sizeof(hdr)))
		return -ENOENT;
	if (get_u(&c, 1) != 1)
		return -ENOENT;
	ptr_enc = get_u(&c, 1);
	count_enc = get_u(&c, 1);
	table_enc = get_u(&c, 1);
	get_enc(&c, ptr_enc, &dummy);	/* eh_frame_ptr */
	/* the binary search table: pairs of datarel sdata4 (what every linker writes) */
	if (!get_enc(&c, count_enc, &count) || table_enc != (DW_EH_PE_datarel | DW_EH_PE_sdata4) || !count ||
	    count > MAX_FDES)
		return -ENOENT;
	table = cur_vaddr(&c);
	lo = 0, hi = count;
	while (lo < hi) {	/* the last entry with initial location <= vaddr */
		uint64_t mid = (lo + hi) / 2;

		if (file_bytes(fd, e, table + mid * 8, ent, 8))
			return -EFAULT;
		memcpy(&loc, ent, 4);
		if (e->eh_frame_hdr + (int64_t)loc <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -ENOENT;
	if (file_bytes(fd, e, table + (lo - 1) * 8, ent, 8))
		return -EFAULT;
	memcpy(&f, ent + 4, 4);
	fde_at = e->eh_frame_hdr + (int64_t)f;
	/* the FDE: length, CIE pointer (relative to itself), pc_begin, pc_range */
	memset(fde, 0, sizeof(fde));
	if (file_bytes(fd, e, fde_at, fde, 32))
		return -EFAULT;
	c = (struct cursor){ fde, fde + sizeof(fde), fde_at, fde, 0, false };
	if (get_u(&c, 4) == 0xffffffff)
		return -ENOENT;
	cie = cur_vaddr(&c);
	cie -= get_u(&c, 4);
	enc = file_cie_encoding(fd, e, cie);
	if (enc == DW_EH_PE_omit || !get_enc(&c, enc, start) || !get_enc(&c, enc & 0x0f, len))
		return -ENOENT;	/* the range: same format, never relative */
	if (vaddr < *start || vaddr - *start >= *len)
		return -ENOENT;
	return 0;
}
