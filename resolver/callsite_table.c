// SPDX-License-Identifier: LGPL-2.1-or-later
/* The resolved callsite table: an image message living in its own arena. */
#include <stdio.h>
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

int cpuport_table__stats(const struct cpuport_table *table, struct cpuport_table_stats *stats)
{
	const Cpuport__Image *img = table->img;
	struct cpuport_table_stats st = { .sz = sizeof(st) };

	if (!stats || !out_valid(stats))
		return set_errno(-EINVAL);
	st.objects = img->n_objects;
	st.slots = img->n_slots;
	for (size_t i = 0; i < img->n_slots; i++)
		st.bound += img->slots[i]->bound;
	st.states = img->n_states;
	st.threads = img->n_threads;
	st.relocs = img->relocs_seen;
	st.scan_ns = img->scan_ns;
	out_copy(stats, &st, sizeof(st));
	return 0;
}

int cpuport_image_name(pid_t id, char *buf, size_t len)
{
	int n = snprintf(buf, len, CPUPORT_IMG_FMT, id);

	return n < 0 || (size_t)n >= len ? set_errno(-ENAMETOOLONG) : 0;
}

bool cpuport_image_name_parse(const char *name, pid_t *id)
{
	char again[64];
	int v = 0, end = 0;

	if (sscanf(name, CPUPORT_IMG_FMT "%n", &v, &end) != 1 || !end || name[end] || v <= 0)
		return false;
	/* only the spelling cpuport_image_name() writes: no "+5", leading zeros or spaces */
	if (cpuport_image_name(v, again, sizeof(again)) || strcmp(again, name))
		return false;
	if (id)
		*id = v;
	return true;
}
