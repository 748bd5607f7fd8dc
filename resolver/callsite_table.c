// SPDX-License-Identifier: LGPL-2.1-or-later
/* The resolved callsite table: an image message living in its own arena. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct cpuport_table *table_new(void)
{
	struct cpuport_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->img = arena_alloc(&t->arena, sizeof(*t->img));
	if (!t->img) {
		free(t);
		return NULL;
	}
	cpuport__image__init(t->img);
	t->img->version = CPUPORT_IMAGE_VERSION;
	return t;
}

void cpuport_table__free(struct cpuport_table *table)
{
	if (!table)
		return;
	cpuport_sites__free(table->sites);
	arena_free(&table->arena);
	free(table);
}

int table_object_at(const Cpuport__Image *img, uint64_t addr)
{
	for (size_t i = 0; i < img->n_objects; i++)
		if (addr >= img->objects[i]->start && addr < img->objects[i]->end)
			return i;
	return -1;
}

pid_t cpuport_table__pid(const struct cpuport_table *table)
{
	return table->img->proc ? (pid_t)table->img->proc->pid : 0;
}

pid_t cpuport_table__nspid(const struct cpuport_table *table)
{
	const Cpuport__Process *p = table->img->proc;

	return p ? (pid_t)(p->has_nspid ? p->nspid : p->pid) : 0;
}

pid_t cpuport_image_key(pid_t pid)
{
	pid_t nspid;

	return proc_nspid(pid, &nspid, NULL, NULL) ? pid : nspid;
}

void cpuport_table__stats(const struct cpuport_table *table, struct cpuport_table_stats *st)
{
	const Cpuport__Image *img = table->img;

	memset(st, 0, sizeof(*st));
	st->objects = img->n_objects;
	st->slots = img->n_slots;
	for (size_t i = 0; i < img->n_slots; i++)
		st->bound += img->slots[i]->bound;
	st->states = img->n_states;
	st->threads = img->n_threads;
	st->relocs = img->relocs_seen;
	st->scan_ns = img->scan_ns;
}
