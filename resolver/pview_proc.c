// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A live process as a pview: its memory through /proc/PID/mem (writes go
 * through FOLL_FORCE, so RELRO pages too), its files through
 * /proc/PID/map_files, its root, ids and threads from /proc.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int proc_v_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	return proc_read(arg, addr, buf, len);
}

static int proc_v_write(void *arg, uint64_t addr, const void *buf, size_t len)
{
	return proc_write(arg, addr, buf, len);
}

static void proc_v_file_path(void *arg, const struct proc_map *m, char *buf, size_t len)
{
	proc_map_file_path(arg, m, buf, len);
}

static int proc_v_ids(void *arg, pid_t *nspid, uid_t *uid, gid_t *gid)
{
	return proc_nspid(((struct proc *)arg)->pid, nspid, uid, gid);
}

static int proc_v_comm(void *arg, char *buf, size_t len)
{
	return proc_comm(((struct proc *)arg)->pid, buf, len);
}

static int proc_v_threads(void *arg, proc_thread_fn fn, void *fn_arg)
{
	return proc_for_each_thread(((struct proc *)arg)->pid, fn, fn_arg);
}

static void proc_v_close(void *arg)
{
	proc_close(arg);
	free(arg);
}

static pid_t proc_v_task(void *arg)
{
	return ((struct proc *)arg)->pid;
}

static const struct pview_ops proc_ops = {
	.read = proc_v_read,
	.write = proc_v_write,
	.file_path = proc_v_file_path,
	.ids = proc_v_ids,
	.comm = proc_v_comm,
	.for_each_thread = proc_v_threads,
	.close = proc_v_close,
	.task = proc_v_task,
};

int pview_proc_open(struct pview *v, pid_t pid, bool writable)
{
	struct proc *p = calloc(1, sizeof(*p));
	int ret;

	memset(v, 0, sizeof(*v));
	if (!p)
		return -ENOMEM;
	ret = proc_open(p, pid, writable);
	if (ret) {
		free(p);
		return ret;
	}
	*v = (struct pview){ .ops = &proc_ops, .arg = p, .pid = pid, .maps = p->maps, .n_maps = p->n_maps };
	snprintf(v->root, sizeof(v->root), "/proc/%d/root", pid);
	return 0;
}

void pview_close(struct pview *v)
{
	if (v->ops && v->ops->close)
		v->ops->close(v->arg);
	memset(v, 0, sizeof(*v));
}
