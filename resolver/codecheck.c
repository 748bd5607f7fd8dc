// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Can code run on the target?  Which ISA extensions the code at an address
 * needs (capstone, isa.c), read from the process (restore) or from the file
 * (check), against the target's features.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "restore.h"

/* Which ISA extensions the code at [addr, addr+len) needs (as the target reads it). */
int code_needs(struct restore *r, uint64_t addr, uint64_t len, struct featset *need)
{
	uint8_t *code;
	int ret = 0;

	memset(need, 0, sizeof(*need));
	if (!len || len > (1 << 20))
		len = 4096;
	code = malloc(len);
	if (!code)
		return -ENOMEM;
	ret = pview_read(r->tgt, addr, code, len);
	if (!ret)
		ret = isa_required(code, len, addr, need);
	free(code);
	return ret;
}

/* Can that code run on the target?  Unreadable code counts as "no". */
bool runs_on_target(struct restore *r, uint64_t addr, uint64_t len, struct featset *missing)
{
	struct featset need;

	if (code_needs(r, addr, len, &need)) {
		memset(missing, 0, sizeof(*missing));
		return false;
	}
	missing->w[0] = need.w[0] & ~r->ctx->target.feat.w[0];
	missing->w[1] = need.w[1] & ~r->ctx->target.feat.w[1];
	return !missing->w[0] && !missing->w[1];
}

/* How messages name the CPU re-selection is for. */
const char *target_label(const struct restore *r)
{
	const struct cpu_desc *t = &r->ctx->target;

	if (!r->ctx->target_is_host)
		return t->name;
	return t->codename[0] ? t->codename : t->brand[0] ? t->brand : "this host";
}

void featset_str(const struct featset *s, char *buf, size_t len)
{
	size_t pos = 0;

	buf[0] = 0;
	for (int f = 0; f < F__COUNT; f++)
		if (featset_has(s, f) && pos + 2 < len)
			pos += snprintf(buf + pos, len - pos, "%s%s", pos ? "," : "", feature_name(f));
}

/* Is object-relative @off inside an executable segment of recorded object @obj? */
bool in_code(const struct restore *r, int obj, uint64_t off)
{
	const struct elf_info *e;

	if (obj < 0 || (size_t)obj >= r->img->n_objects)
		return false;
	e = r->objs[obj].elf;
	for (size_t i = 0; i < e->n_segs; i++)
		if ((e->segs[i].prot & PROT_EXEC) && off >= e->segs[i].vaddr && off < e->segs[i].vaddr + e->segs[i].memsz)
			return true;
	return false;
}
