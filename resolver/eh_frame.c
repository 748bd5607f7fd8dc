// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Where a function ends, from the file's unwind information: the FDE that
 * .eh_frame_hdr's search table gives for an address (PT_GNU_EH_FRAME), as
 * the unwinder finds it.  For hazard checks when no symbol gives a size
 * (stripped objects without debug files): every compiled function and
 * glibc's assembly variants (cfi_startproc) have one.
 * Everything is read from the file through its PT_LOAD segments and bounded.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define DW_EH_PE_omit 0xff
#define DW_EH_PE_absptr 0x00
#define DW_EH_PE_uleb128 0x01
#define DW_EH_PE_udata2 0x02
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_udata8 0x04
#define DW_EH_PE_sleb128 0x09
#define DW_EH_PE_sdata2 0x0a
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_sdata8 0x0c
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30
#define DW_EH_PE_indirect 0x80

#define MAX_FDES (1u << 22)

/* Bytes at @vaddr of the file: 0 or -EFAULT. */
static int file_bytes(int fd, const struct elf_info *e, uint64_t vaddr, void *buf, size_t len)
{
	int64_t off = elf_vaddr_to_offset(e, vaddr, len);

	if (off < 0 || pread(fd, buf, len, off) != (ssize_t)len)
		return -EFAULT;
	return 0;
}

struct cursor {
	const uint8_t *p, *end;
	uint64_t vaddr;		/* of p[0], for pcrel */
	uint64_t datarel;	/* .eh_frame_hdr's address */
	bool bad;
};

static uint64_t get_u(struct cursor *c, size_t n)
{
	uint64_t v = 0;

	if ((size_t)(c->end - c->p) < n) {
		c->bad = true;
		return 0;
	}
	memcpy(&v, c->p, n);	/* x86-64: little-endian */
	c->p += n;
	c->vaddr += n;
	return v;
}

static uint64_t get_leb(struct cursor *c, bool sign)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		if (c->p >= c->end || shift > 63) {
			c->bad = true;
			return 0;
		}
		b = *c->p++;
		c->vaddr++;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (sign && shift < 64 && (b & 0x40))
		v |= ~0ULL << shift;
	return v;
}

/* One encoded pointer. */
static uint64_t get_ptr(struct cursor *c, uint8_t enc)
{
	uint64_t at = c->vaddr, v;

	if (enc == DW_EH_PE_omit)
		return 0;
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr: case DW_EH_PE_udata8: case DW_EH_PE_sdata8: v = get_u(c, 8); break;
	case DW_EH_PE_udata2: v = get_u(c, 2); break;
	case DW_EH_PE_sdata2: v = (uint64_t)(int64_t)(int16_t)get_u(c, 2); break;
	case DW_EH_PE_udata4: v = get_u(c, 4); break;
	case DW_EH_PE_sdata4: v = (uint64_t)(int64_t)(int32_t)get_u(c, 4); break;
	case DW_EH_PE_uleb128: v = get_leb(c, false); break;
	case DW_EH_PE_sleb128: v = get_leb(c, true); break;
	default: c->bad = true; return 0;
	}
	switch (enc & 0x70) {
	case 0: break;
	case DW_EH_PE_pcrel: v += at; break;
	case DW_EH_PE_datarel: v += c->datarel; break;
	default: c->bad = true; return 0;
	}
	if (enc & DW_EH_PE_indirect)
		c->bad = true;	/* not for code ranges */
	return v;
}

/* The FDE pointer encoding its CIE declares ('R' in a "z" augmentation); absptr without one. */
static int cie_encoding(int fd, const struct elf_info *e, uint64_t cie, uint8_t *enc)
{
	uint8_t buf[256];
	struct cursor c = { buf, buf + sizeof(buf), cie, 0, false };
	const char *aug;
	size_t alen;
	uint8_t version;

	memset(buf, 0, sizeof(buf));
	if (file_bytes(fd, e, cie, buf, 64) && file_bytes(fd, e, cie, buf, 16))
		return -EFAULT;
	*enc = DW_EH_PE_absptr;
	if (get_u(&c, 4) == 0xffffffff || get_u(&c, 4) != 0)	/* 64-bit DWARF, or not a CIE */
		return -EINVAL;
	version = get_u(&c, 1);
	aug = (const char *)c.p;
	alen = strnlen(aug, 32);
	if (alen == 32)
		return -EINVAL;
	c.p += alen + 1, c.vaddr += alen + 1;
	if (strstr(aug, "eh"))
		get_u(&c, 8);
	get_leb(&c, false);	/* code alignment */
	get_leb(&c, true);	/* data alignment */
	if (version == 1)
		get_u(&c, 1);
	else
		get_leb(&c, false);	/* return address register */
	if (aug[0] != 'z')
		return c.bad ? -EINVAL : 0;
	get_leb(&c, false);	/* augmentation data length */
	for (const char *a = aug + 1; *a && !c.bad; a++) {
		if (*a == 'R') {
			*enc = get_u(&c, 1);
			return c.bad ? -EINVAL : 0;
		}
		if (*a == 'P') {
			uint8_t penc = get_u(&c, 1);

			get_ptr(&c, penc & 0x7f);
		} else if (*a == 'L') {
			get_u(&c, 1);
		} else if (*a != 'S' && *a != 'B') {
			return -EINVAL;
		}
	}
	return c.bad ? -EINVAL : 0;
}

int eh_frame_extent(int fd, const struct elf_info *e, uint64_t vaddr, uint64_t *start, uint64_t *len)
{
	uint8_t hdr[4 + 8 + 8], ent[16], fde[64];
	struct cursor c = { hdr, hdr + sizeof(hdr), e->eh_frame_hdr, e->eh_frame_hdr, false };
	uint8_t fde_count_enc, table_enc, enc;
	uint64_t count, table, lo, hi, fde_at = 0, ent_size, cie;

	if (fd < 0 || !e->eh_frame_hdr || file_bytes(fd, e, e->eh_frame_hdr, hdr, sizeof(hdr)))
		return -ENOENT;
	if (get_u(&c, 1) != 1)
		return -ENOENT;
	get_u(&c, 1);	/* eh_frame_ptr_enc */
	fde_count_enc = get_u(&c, 1);
	table_enc = get_u(&c, 1);
	get_ptr(&c, hdr[1]);	/* eh_frame_ptr */
	count = get_ptr(&c, fde_count_enc);
	/* the binary search table: pairs of datarel sdata4 (what every linker writes) */
	if (c.bad || table_enc != (DW_EH_PE_datarel | DW_EH_PE_sdata4) || !count || count > MAX_FDES)
		return -ENOENT;
	table = c.vaddr;
	ent_size = 8;
	lo = 0, hi = count;
	while (lo < hi) {	/* the last entry with initial location <= vaddr */
		uint64_t mid = (lo + hi) / 2;
		int32_t loc;

		if (file_bytes(fd, e, table + mid * ent_size, ent, 8))
			return -EFAULT;
		memcpy(&loc, ent, 4);
		if (e->eh_frame_hdr + (int64_t)loc <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -ENOENT;
	if (file_bytes(fd, e, table + (lo - 1) * ent_size, ent, 8))
		return -EFAULT;
	{
		int32_t f;

		memcpy(&f, ent + 4, 4);
		fde_at = e->eh_frame_hdr + (int64_t)f;
	}
	/* the FDE: length, CIE pointer (relative to itself), pc_begin, pc_range */
	memset(fde, 0, sizeof(fde));
	if (file_bytes(fd, e, fde_at, fde, 32))
		return -EFAULT;
	c = (struct cursor){ fde, fde + sizeof(fde), fde_at, e->eh_frame_hdr, false };
	if (get_u(&c, 4) == 0xffffffff)
		return -ENOENT;
	cie = c.vaddr;
	cie -= get_u(&c, 4);
	if (cie_encoding(fd, e, cie, &enc))
		return -ENOENT;
	*start = get_ptr(&c, enc);
	*len = get_ptr(&c, enc & 0x0f);	/* the range: same format, never relative */
	if (c.bad || vaddr < *start || vaddr - *start >= *len)
		return -ENOENT;
	return 0;
}
