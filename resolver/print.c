// SPDX-License-Identifier: LGPL-2.1-or-later
/* Tables and CPUs for humans, or as JSON for scripts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *slot_kind(Cpuport__SlotKind k)
{
	return k == CPUPORT__SLOT_KIND__IRELATIVE   ? "IRELATIVE"
	       : k == CPUPORT__SLOT_KIND__JUMP_SLOT ? "JUMP_SLOT"
	       : k == CPUPORT__SLOT_KIND__ABS64	    ? "ABS64"
						    : "GLOB_DAT";
}

static const char *state_kind(Cpuport__StateKind k)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&cpuport__state_kind__descriptor, k);

	return v ? v->name : "?";
}

/* JSON string: escape what JSON requires. */
void print_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void hex(FILE *f, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
}

static const char *loc_name(const Cpuport__Location *l)
{
	return l && l->symbol ? l->symbol : l ? "?" : "-";
}

static void print_cpu_human(FILE *f, const Cpuport__Cpu *c)
{
	fprintf(f, "CPU: %s %s (%s) family %#x model %#x stepping %u, x86-64-v%u, xcr0 %#" PRIx64 "\n",
		c->vendor ?: "?", c->brand ?: "", c->codename ?: "?", c->family, c->model, c->stepping, c->level,
		c->xcr0);
	fprintf(f, "features:");
	for (size_t i = 0; i < c->n_features; i++)
		fprintf(f, " %s", c->features[i]);
	fprintf(f, "\n");
}

static void print_cpu_json(FILE *f, const Cpuport__Cpu *c)
{
	fprintf(f, "{\"vendor\":");
	print_json_str(f, c->vendor);
	fprintf(f, ",\"brand\":");
	print_json_str(f, c->brand);
	fprintf(f, ",\"codename\":");
	print_json_str(f, c->codename);
	fprintf(f, ",\"family\":%u,\"model\":%u,\"stepping\":%u,\"level\":%u,\"xcr0\":%" PRIu64 ",\"features\":[",
		c->family, c->model, c->stepping, c->level, c->xcr0);
	for (size_t i = 0; i < c->n_features; i++) {
		fprintf(f, "%s", i ? "," : "");
		print_json_str(f, c->features[i]);
	}
	fprintf(f, "],\"leaves\":[");
	for (size_t i = 0; i < c->n_leaves; i++)
		fprintf(f, "%s[%u,%u,%u,%u,%u,%u]", i ? "," : "", c->leaves[i]->leaf, c->leaves[i]->subleaf,
			c->leaves[i]->eax, c->leaves[i]->ebx, c->leaves[i]->ecx, c->leaves[i]->edx);
	fprintf(f, "]}");
}

static void print_human(const Cpuport__Image *img, FILE *f)
{
	const Cpuport__Process *p = img->proc;

	fprintf(f, "Process %u (nspid %u, %s), uid %u: %zu objects, %zu slots, %zu states, %zu threads\n",
		p ? p->pid : 0, p ? p->nspid : 0, p && p->comm ? p->comm : "?", p ? p->uid : 0, img->n_objects,
		img->n_slots, img->n_states, img->n_threads);
	if (img->source_cpu)
		print_cpu_human(f, img->source_cpu);
	fprintf(f, "\nObjects:\n");
	for (size_t i = 0; i < img->n_objects; i++) {
		const Cpuport__Object *o = img->objects[i];

		fprintf(f, "  [%zu] %s base %#" PRIx64 " build-id ", i, o->path, o->load_base);
		hex(f, o->build_id.data, o->build_id.len);
		fprintf(f, "%s%s\n", o->is_exe ? " (exe)" : "", o->is_interp ? " (ld.so)" : "");
	}
	fprintf(f, "\nSlots:\n  %-18s %-9s %-28s %-40s %s\n", "address", "kind", "symbol", "bound to", "object");
	for (size_t i = 0; i < img->n_slots; i++) {
		const Cpuport__Slot *s = img->slots[i];
		const Cpuport__Object *o = img->objects[s->object];

		fprintf(f, "  %#-18" PRIx64 " %-9s %-28s %-40s %s\n", o->load_base + s->offset, slot_kind(s->kind),
			s->symbol ?: loc_name(s->resolver), s->bound ? loc_name(s->target) : "(unbound)", o->path);
	}
	fprintf(f, "\nCached CPU state:\n");
	for (size_t i = 0; i < img->n_states; i++) {
		const Cpuport__State *s = img->states[i];

		fprintf(f, "  %-18s %-20s %4u bytes at %#" PRIx64 " in %s%s%s\n", state_kind(s->kind), s->name ?: "",
			s->size, img->objects[s->object]->load_base + s->offset, img->objects[s->object]->path,
			s->target ? " -> " : "", s->target ? loc_name(s->target) : "");
	}
	fprintf(f, "\nThreads:\n");
	for (size_t i = 0; i < img->n_threads; i++) {
		const Cpuport__Thread *t = img->threads[i];

		if (t->running)
			fprintf(f, "  %u running\n", t->tid);
		else
			fprintf(f, "  %u pc %#" PRIx64 " sp %#" PRIx64 "%s%s\n", t->tid, t->pc, t->sp,
				t->at ? " in variant " : "", t->at ? loc_name(t->at) : "");
	}
}

static void print_loc_json(FILE *f, const char *key, const Cpuport__Location *l)
{
	if (!l)
		return;
	fprintf(f, ",\"%s\":{\"object\":%u,\"offset\":%" PRIu64 ",\"symbol\":", key, l->object, l->offset);
	print_json_str(f, l->symbol);
	fprintf(f, "}");
}

static void print_json(const Cpuport__Image *img, FILE *f)
{
	const Cpuport__Process *p = img->proc;

	fprintf(f, "{\"version\":%u,\"pid\":%u,\"nspid\":%u,\"comm\":", img->version, p ? p->pid : 0,
		p ? p->nspid : 0);
	print_json_str(f, p ? p->comm : NULL);
	fprintf(f, ",\"cpu\":");
	if (img->source_cpu)
		print_cpu_json(f, img->source_cpu);
	else
		fprintf(f, "null");
	fprintf(f, ",\"objects\":[");
	for (size_t i = 0; i < img->n_objects; i++) {
		const Cpuport__Object *o = img->objects[i];

		fprintf(f, "%s{\"path\":", i ? "," : "");
		print_json_str(f, o->path);
		fprintf(f, ",\"base\":%" PRIu64 ",\"build_id\":\"", o->load_base);
		hex(f, o->build_id.data, o->build_id.len);
		fprintf(f, "\",\"exe\":%s,\"interp\":%s}", o->is_exe ? "true" : "false", o->is_interp ? "true" : "false");
	}
	fprintf(f, "],\"slots\":[");
	for (size_t i = 0; i < img->n_slots; i++) {
		const Cpuport__Slot *s = img->slots[i];

		fprintf(f, "%s{\"kind\":\"%s\",\"object\":%u,\"offset\":%" PRIu64 ",\"address\":%" PRIu64 ",\"symbol\":",
			i ? "," : "", slot_kind(s->kind), s->object, s->offset, img->objects[s->object]->load_base + s->offset);
		print_json_str(f, s->symbol);
		fprintf(f, ",\"bound\":%s,\"value\":%" PRIu64, s->bound ? "true" : "false", s->value);
		print_loc_json(f, "resolver", s->resolver);
		print_loc_json(f, "target", s->target);
		fprintf(f, "}");
	}
	fprintf(f, "],\"states\":[");
	for (size_t i = 0; i < img->n_states; i++) {
		const Cpuport__State *s = img->states[i];

		fprintf(f, "%s{\"kind\":\"%s\",\"name\":", i ? "," : "", state_kind(s->kind));
		print_json_str(f, s->name);
		fprintf(f, ",\"object\":%u,\"offset\":%" PRIu64 ",\"size\":%u,\"value\":\"", s->object, s->offset, s->size);
		hex(f, s->value.data, s->value.len);
		fprintf(f, "\"");
		print_loc_json(f, "target", s->target);
		fprintf(f, "}");
	}
	fprintf(f, "],\"threads\":[");
	for (size_t i = 0; i < img->n_threads; i++) {
		const Cpuport__Thread *t = img->threads[i];

		fprintf(f, "%s{\"tid\":%u,\"running\":%s,\"pc\":%" PRIu64 ",\"sp\":%" PRIu64, i ? "," : "", t->tid,
			t->running ? "true" : "false", t->pc, t->sp);
		print_loc_json(f, "in_variant", t->at);
		fprintf(f, "}");
	}
	fprintf(f, "],\"scan_ns\":%" PRIu64 ",\"relocs\":%u}\n", img->scan_ns, img->relocs_seen);
}

int cpuport_table__print(const struct cpuport_table *table, FILE *f, bool json)
{
	if (json)
		print_json(table->img, f);
	else
		print_human(table->img, f);
	return ferror(f) ? -EIO : 0;
}

/*
 * Features CPUID reports and the kernel's flags do not show (cpu_kernel.c has the rule:
 * cpuport follows CPUID, as resolvers do).  Nothing is printed when /proc/cpuinfo is unreadable.
 */
static void print_kernel_hidden(FILE *f, const struct cpu_desc *host, bool json)
{
	struct featset hidden, unexplained;
	char *flags = malloc(8192);
	bool first = true;

	if (!flags)
		return;
	if (cpu_kernel_flags(flags, 8192) || cpu_kernel_compare(host, flags, &hidden, &unexplained)) {
		free(flags);
		return;
	}
	fprintf(f, json ? ",\"kernel_hidden\":[" : "hidden by the kernel (CPUID reports them; cpuport follows CPUID):");
	for (int i = 0; i < F__COUNT; i++) {
		if (!featset_has(&hidden, i))
			continue;
		if (json)
			fprintf(f, "%s", first ? "" : ",");
		else
			fputc(' ', f);
		if (json)
			print_json_str(f, feature_name(i));
		else
			fputs(feature_name(i), f);
		first = false;
	}
	if (json)
		fputc(']', f);
	else
		fprintf(f, "%s\n", first ? " (none)" : "");
	free(flags);
}

int cpuport_cpu_print(struct cpuport_ctx *ctx, FILE *f, bool json)
{
	struct arena a = { 0 };
	Cpuport__Cpu *host, *target;
	char tun[512] = "";
	int ret;

	ret = cpu_desc_to_image(&a, &ctx->host, &host);
	ret = ret ?: cpu_desc_to_image(&a, &ctx->target, &target);
	if (ret)
		goto out;
	if (!ctx->target_is_host)
		cpu_glibc_tunables(&ctx->host, &ctx->target, tun, sizeof(tun));
	if (json) {
		fprintf(f, "{\"host\":");
		print_cpu_json(f, host);
		print_kernel_hidden(f, &ctx->host, true);
		fprintf(f, ",\"target_name\":");
		print_json_str(f, ctx->target.name);
		fprintf(f, ",\"target\":");
		print_cpu_json(f, target);
		fprintf(f, ",\"glibc_tunables\":");
		print_json_str(f, tun);
		fprintf(f, "}\n");
	} else {
		print_cpu_human(f, host);
		print_kernel_hidden(f, &ctx->host, false);
		if (!ctx->target_is_host) {
			fprintf(f, "\nTarget %s:\n", ctx->target.name);
			print_cpu_human(f, target);
			fprintf(f, "glibc selection as on the target: GLIBC_TUNABLES=%s\n", tun[0] ? tun : "(none)");
		}
	}
	ret = ferror(f) ? -EIO : 0;
out:
	arena_free(&a);
	return ret;
}
