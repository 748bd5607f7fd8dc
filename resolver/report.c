// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The `cpuport check` report: one row per record a kind explains, and the
 * verdict.  JSON strings go through print.c's escaping (paths are data).
 */
#include "restore.h"

void report_check(struct restore *r, FILE *f, bool json, int verdict)
{
	const Cpuport__Image *img = r->img;
	bool first = true;

	if (json) {
		fprintf(f, "{\"target\":");
		print_json_str(f, r->ctx->target.name);
		fprintf(f, ",\"level\":%d,\"ok\":%s,\"slots\":[", r->ctx->target.level, verdict ? "false" : "true");
	} else {
		fprintf(f, "Target %s (x86-64-v%d)\n%-24s %-34s %-22s %-34s %s\n", r->ctx->target.name,
			r->ctx->target.level, "symbol", "bound now", "its code needs", "on target", "object");
	}
	for (size_t i = 0; i < img->n_slots; i++) {
		const struct cpuport_kind *k = kind_of_slot(img->slots[i]->kind);

		if (k && k->explain) {
			k->explain(r, i, f, json, first);
			first = false;
		}
	}
	for (size_t i = 0; i < img->n_states; i++) {
		const struct cpuport_kind *k = kind_of_state(img->states[i]->kind);

		if (k && k->explain) {
			k->explain(r, i, f, json, first);
			first = false;
		}
	}
	if (json)
		fprintf(f, "]");
	for (const struct cpuport_kind *const *k = cpuport_kinds; *k; k++) {
		if (!(*k)->report)
			continue;
		if (json)
			fprintf(f, ",\"%s\":", (*k)->name);	/* kind names are identifiers */
		(*k)->report(r, f, json);
	}
	if (json)
		fprintf(f, ",\"threads\":%zu}\n", img->n_threads);
	else
		fprintf(f, "%u slots change, %u stay, %u bind lazily; verdict: %s\n", r->st.patched, r->st.unchanged,
			r->st.unbound, verdict ? "REFUSE (see messages above)" : "restore would succeed");
}
