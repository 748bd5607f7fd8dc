// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Dispatcher kind "openssl": OpenSSL's capability vector OPENSSL_ia32cap_P,
 * which libcrypto's assembly tests at each call to pick its code.  Found
 * from the library's own code (openssl_cap.c: the .init call to its CPUID
 * setup, the vector that setup fills), never by a name.  At restore the
 * helper dlopen()s the same libcrypto, whose .init runs that setup on this
 * CPU (with an OPENSSL_ia32cap mask for a simulated target), and its vector
 * is written into the process, when the destination lacks a feature the
 * source had (on a CPU with as many features OpenSSL stays on the paths it
 * chose, like every self-dispatching library).  Code reached from functions
 * that test the vector counts as guarded for the ISA census (kind_census.c);
 * function pointers chosen before the dump are its pointer scan's concern.
 * OpenSSL 3's providers reach much of their assembly through dispatch tables
 * whose capability checks run in other functions: the census cannot link
 * those, so such code stays self-dispatched (refused) on a smaller CPU.
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>

#include "openssl_cap.h"
#include "restore.h"

/* what openssl_cap_locate() found in a file: a fact about it (elf_fact_get), kept across dumps */
struct located {
	uint64_t off;
	uint32_t size;
	uint32_t found;		/* 0: not OpenSSL */
};
#define LOCATED_VERSION 1

/* a cached fact that cannot be one (damage the checksum missed, a bug): recomputed */
static bool plausible(const struct elf_info *e, const struct located *l)
{
	if (!l->found)
		return !l->off && !l->size;
	for (size_t i = 0; l->found == 1 && l->size && l->size <= 64 && i < e->n_segs; i++)
		if ((e->segs[i].prot & PROT_WRITE) && l->off >= e->segs[i].vaddr &&
		    l->off + l->size <= e->segs[i].vaddr + e->segs[i].memsz)
			return true;
	return false;
}

static int record(struct scan *s, int oi)
{
	const struct elf_info *e = scan_elf(s, oi);
	struct located l = { 0 };
	struct elf_code c;

	if (e->is_exec)
		return 0;
	if (elf_fact_get(scan_ctx(s), e, "openssl", LOCATED_VERSION, &l, sizeof(l)) || !plausible(e, &l)) {
		l = (struct located){ 0 };
		if (elf_code_open_lite(scan_file(s, oi), &c, true))
			return 0;
		l.found = !openssl_cap_locate(&c, &l.off, &l.size);
		elf_code_close(&c);
		if (!l.found)
			l.off = l.size = 0;
		elf_fact_put(scan_ctx(s), e, "openssl", LOCATED_VERSION, &l, sizeof(l));
	}
	if (!l.found)
		return 0;	/* not OpenSSL */
	/* the restore locates it again in the destination's file (verify) and refuses a mismatch */
	return scan_add_state(s, oi, CPUPORT__STATE_KIND__OPENSSL_IA32CAP, "OPENSSL_ia32cap_P", l.off, l.size, false);
}

/* The destination's own file must place the vector where the image says. */
static int verify(struct restore *r, size_t i)
{
	const Cpuport__State *st = r->img->states[i];
	char path[64];
	struct elf_code c;
	uint64_t off = 0;
	uint32_t size = 0;
	int ret;

	if (r->objs[st->object].fd < 0)
		return state_bad(r, st);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->objs[st->object].fd);
	ret = elf_code_open_lite(path, &c, true);
	if (!ret) {
		ret = openssl_cap_locate(&c, &off, &size);
		elf_code_close(&c);
	}
	if (ret || off != st->offset || size != st->size)
		return state_bad(r, st);
	return 0;
}

/* Does the destination lack a feature the source had? */
static bool downgrade(const struct restore *r)
{
	struct cpu_desc src;

	if (!r->img->source_cpu || cpu_desc_from_image(r->img->source_cpu, &src))
		return true;
	return (src.feat.w[0] & ~r->ctx->target.feat.w[0]) || (src.feat.w[1] & ~r->ctx->target.feat.w[1]);
}

static int ask_vector(struct restore *r, size_t i)
{
	return downgrade(r) ? state_ask_read(r, i) : -1;
}

static int plan_vector(struct restore *r, size_t i)
{
	return downgrade(r) ? state_plan_bytes(r, i) : 0;
}

/* The helper's OpenSSL sees the target: mask what this CPU has beyond it. */
static int prepare(struct restore *r)
{
	char mask[80], env[100];
	bool any = false;

	for (size_t i = 0; i < r->img->n_states && !any; i++)
		any = r->img->states[i]->kind == CPUPORT__STATE_KIND__OPENSSL_IA32CAP;
	if (!any || r->ctx->target_is_host)
		return 0;
	if (openssl_cap_mask(&r->ctx->host.feat, &r->ctx->target.feat, mask, sizeof(mask)))
		return -ENOSPC;
	if (!mask[0])
		return 0;
	snprintf(env, sizeof(env), "OPENSSL_ia32cap=%s", mask);
	return sel_setenv(&r->sel, env);
}

static void explain(struct restore *r, size_t i, FILE *f, bool json, bool first)
{
	const Cpuport__State *st = r->img->states[i];

	if (json) {
		fprintf(f, "%s{\"state\":\"OPENSSL_ia32cap_P\",\"object\":", first ? "" : ",");
		print_json_str(f, obj_name(r, st->object));
		fprintf(f, ",\"offset\":%" PRIu64 ",\"size\":%u,\"target\":\"recomputed by the library\"}", st->offset,
			st->size);
	} else {
		fprintf(f, "%-24s %-34s %-22s %-34s %s\n", "OPENSSL_ia32cap_P", "(capability vector)", "-",
			"recomputed by libcrypto", obj_name(r, st->object));
	}
}

const struct cpuport_kind kind_openssl = {
	.name = "openssl",
	.table = KIND_STATES,
	.state_kinds = 1u << CPUPORT__STATE_KIND__OPENSSL_IA32CAP,
	.max_size = 64,
	.record = record,
	.verify = verify,
	.prepare = prepare,
	.ask = ask_vector,
	.plan = plan_vector,
	.explain = explain,
};
