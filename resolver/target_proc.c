// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The live restored process as a restore target: its memory through
 * /proc/PID/mem (writes go through FOLL_FORCE, so RELRO pages too), its
 * files through /proc/PID/map_files, its root and ids from /proc.
 */
#include <stdlib.h>
#include <string.h>

#include "restore.h"

struct proc_target {
	struct cpuport_ctx *ctx;
	struct proc proc;
};

static int proc_t_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	return proc_read(&((struct proc_target *)arg)->proc, addr, buf, len);
}

static int proc_t_write(void *arg, uint64_t addr, const void *buf, size_t len)
{
	return proc_write(&((struct proc_target *)arg)->proc, addr, buf, len);
}

static int proc_t_locate(void *arg, const char *path, char *open_path, size_t len, uint64_t *start)
{
	const struct proc *p = &((struct proc_target *)arg)->proc;

	for (size_t i = 0; i < p->n_maps; i++)
		if (p->maps[i].path && p->maps[i].off == 0 && !strcmp(p->maps[i].path, path)) {
			proc_map_file_path(p, &p->maps[i], open_path, len);
			*start = p->maps[i].start;
			return 1;
		}
	return -ESTALE;
}

static int proc_t_ids(void *arg, uid_t *uid, gid_t *gid)
{
	pid_t nspid;

	return proc_nspid(((struct proc_target *)arg)->proc.pid, &nspid, uid, gid);
}

static void proc_t_close(void *arg)
{
	struct proc_target *t = arg;

	proc_close(&t->proc);
	free(t);
}

static const struct target_ops proc_ops = {
	.read = proc_t_read,
	.write = proc_t_write,
	.locate = proc_t_locate,
	.ids = proc_t_ids,
	.close = proc_t_close,
};

int target_proc_open(struct target *t, struct cpuport_ctx *ctx, pid_t pid)
{
	struct proc_target *pt = calloc(1, sizeof(*pt));
	int ret;

	memset(t, 0, sizeof(*t));
	if (!pt)
		return -ENOMEM;
	ret = proc_open(&pt->proc, pid, true);
	if (ret) {
		free(pt);
		return ret;
	}
	pt->ctx = ctx;
	*t = (struct target){ .ops = &proc_ops, .arg = pt, .maps = pt->proc.maps, .n_maps = pt->proc.n_maps };
	snprintf(t->root, sizeof(t->root), "/proc/%d/root", pid);
	return 0;
}

void target_close(struct target *t)
{
	if (t->ops && t->ops->close)
		t->ops->close(t->arg);
	memset(t, 0, sizeof(*t));
}
