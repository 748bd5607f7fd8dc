// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The questions to cpuport-select for one process: which objects to load
 * (and how), each kind's questions, answers reused from an earlier process
 * of this restore (answer_cache.c) when they are about the same file, and
 * running the helper on the process's own ld.so and libraries.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <gelf.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "restore.h"

/* Tell the helper about an object once: dlopen it, or map the executable. */
static int send_object(struct restore *r, uint32_t i)
{
	struct robj *o = &r->objs[i];
	char path[32];
	int fd;

	if (o->sent || (int)i == r->interp)	/* the helper runs on the interp itself */
		return 0;
	o->sent = true;
	fd = sel_pass_fd(&r->sel, o->fd >= 0 ? dup(o->fd) : -1);
	if (fd < 0)
		return fd == -ENOMEM ? fd : -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!o->rec->is_exe) {
		selp_put_dso(r->sel.req, i, path);
	} else {
		selp_put_exe(r->sel.req, i, path);
		for (size_t k = 0; k < o->elf->n_segs; k++)
			selp_put_seg(r->sel.req, i, o->elf->segs[k].offset, o->elf->segs[k].vaddr, o->elf->segs[k].filesz,
				     o->elf->segs[k].memsz, o->elf->segs[k].prot);
		selp_put_map(r->sel.req, i);
		/* unrelocated symbolic slots would jump anywhere: make them fault */
		for (size_t k = 0; k < o->elf->n_relocs; k++)
			if (o->elf->relocs[k].type != R_X86_64_IRELATIVE)
				selp_put_guard(r->sel.req, i, o->elf->relocs[k].offset);
	}
	for (const struct cpuport_kind *const *k = cpuport_kinds; *k; k++)
		if ((*k)->object_sent)
			(*k)->object_sent(r, i);
	return 0;
}

/* The recorded object with this build-id, if exactly one. */
static int object_by_build_id(const struct restore *r, const uint8_t *bid, size_t len)
{
	int found = -1;

	for (size_t i = 0; len && i < r->img->n_objects; i++) {
		const Cpuport__Object *o = r->img->objects[i];

		if (o->has_build_id && o->build_id.len == len && !memcmp(o->build_id.data, bid, len)) {
			if (found >= 0)
				return -1;	/* the same file twice (dlmopen): no sharing */
			found = i;
		}
	}
	return found;
}

static void object_key(const struct restore *r, struct answer_key *k, enum answer_kind kind, uint32_t obj,
		       uint64_t off, uint32_t size)
{
	const Cpuport__Object *o = r->img->objects[obj];

	answer_key_init(k, kind, o->has_build_id ? o->build_id.data : NULL, o->has_build_id ? o->build_id.len : 0,
			off, size);
	k->context = r->cache_context;
	if (object_by_build_id(r, k->bid, k->bid_len) != (int)obj)
		k->bid_len = 0;	/* not cacheable */
}

/* Ask about an object: from the cache when another process asked the same, else the helper. */
int ask(struct restore *r, enum answer_kind kind, uint32_t obj, uint64_t off, uint32_t size)
{
	struct answer_key k;
	const struct answer *a;
	int n, ans_obj = -1, ret;

	object_key(r, &k, kind, obj, off, size);
	a = answer_cache_get(r->ctx, &k);
	if (a && (!a->bid_len || (ans_obj = object_by_build_id(r, a->bid, a->bid_len)) >= 0))
		n = sel_known(&r->sel, a->status, ans_obj, a->off, a->bytes, a->len);
	else if ((ret = send_object(r, obj)))
		return ret;
	else
		n = kind == ANS_CALL ? sel_call(&r->sel, obj, off)
		    : kind == ANS_PTR ? sel_ptr(&r->sel, obj, off) : sel_read(&r->sel, obj, off, size);
	if (n < 0)
		return n;
	if ((size_t)n >= r->n_keys) {
		struct answer_key *nk = realloc(r->keys, (n + 64) * sizeof(*nk));

		if (!nk)
			return -ENOMEM;
		memset(nk + r->n_keys, 0, (n + 64 - r->n_keys) * sizeof(*nk));
		r->keys = nk;
		r->n_keys = n + 64;
	}
	r->keys[n] = k;
	if (a)
		r->keys[n].kind = 0;	/* known already */
	return n;
}

static uint32_t privilege_context(struct restore *r);

/* Every kind's questions, in the image's order. */
static int build_request(struct restore *r)
{
	const Cpuport__Image *img = r->img;
	int ret = 0;

	if (r->interp >= 0)
		selp_put_interp(r->sel.req, r->interp);
	for (const struct cpuport_kind *const *k = cpuport_kinds; *k && !ret; k++)
		if ((*k)->prepare)
			ret = (*k)->prepare(r);
	/* after prepare: the helper's environment is complete */
	r->cache_context = privilege_context(r);
	for (size_t i = 0; i < img->n_slots && !ret; i++) {
		const struct cpuport_kind *k = kind_of_slot(img->slots[i]->kind);

		r->slot_ans[i] = k && k->ask ? k->ask(r, i) : -1;
		ret = r->slot_ans[i] < -1 ? r->slot_ans[i] : 0;
	}
	for (size_t i = 0; i < img->n_states && !ret; i++) {
		const struct cpuport_kind *k = kind_of_state(img->states[i]->kind);

		r->state_ans[i] = k && k->ask ? k->ask(r, i) : -1;
		ret = r->state_ans[i] < -1 ? r->state_ans[i] : 0;
	}
	return ret;
}

/* ld.so's own answers (cpu_features, trampoline), cached per ld.so build-id. */
static bool rtld_known(struct restore *r)
{
	struct answer_key k;
	const struct answer *a;

	if (r->interp < 0)
		return true;
	object_key(r, &k, ANS_RTLD, r->interp, 0, 0);
	a = answer_cache_get(r->ctx, &k);
	if (!a)
		return false;
	r->sel.cpu_features_obj = r->sel.tramp_obj = r->interp;
	r->sel.cpu_features_off = a->off;
	r->sel.tramp_off = a->off2;
	return true;
}

/* Remember what the helper said, for the next process of this restore. */
int ask_remember(struct restore *r)
{
	struct answer_key k;
	int ret = 0;

	for (size_t n = 0; n < r->sel.n_ans && n < r->n_keys && !ret; n++) {
		const struct sel_answer *sa = &r->sel.ans[n];
		struct answer a = { .status = sa->status, .off = sa->off, .bytes = sa->bytes, .len = sa->len };

		if (!r->keys[n].kind || sa->status == SEL_MISSING)
			continue;
		if (sa->status == SEL_OK && sa->obj >= 0 && r->keys[n].kind != ANS_READ) {
			const Cpuport__Object *o = r->img->objects[sa->obj];

			if (!o->has_build_id || object_by_build_id(r, o->build_id.data, o->build_id.len) != sa->obj)
				continue;
			a.bid_len = o->build_id.len;
			memcpy(a.bid, o->build_id.data, o->build_id.len);
		}
		ret = answer_cache_put(r->ctx, &r->keys[n], &a);
	}
	if (!ret && r->interp >= 0 && r->sel.cpu_features_obj == r->interp && r->sel.tramp_obj == r->interp) {
		struct answer a = { .status = SEL_OK, .off = r->sel.cpu_features_off, .off2 = r->sel.tramp_off };

		object_key(r, &k, ANS_RTLD, r->interp, 0, 0);
		ret = answer_cache_put(r->ctx, &k, &a);
	}
	return ret;
}

/*
 * --library-path for the helper: the directories of the process's objects,
 * seen from its root, each once, as /proc/self/fd/N of a directory fd handed
 * over (any number of them: the string grows).  NULL with -errno in *err.
 */
static char *library_path(struct restore *r, int *err)
{
	char *lp = NULL, **dirs = calloc(r->img->n_objects + 1, sizeof(*dirs));
	size_t len = 0, cap = 0, n_dirs = 0;

	*err = dirs ? 0 : -ENOMEM;
	for (size_t i = 0; !*err && i < r->img->n_objects; i++) {
		char *copy = strdup(r->img->objects[i]->path), *full = NULL, item[40];
		const char *dir;
		size_t k, il;
		int fd;

		if (!copy) {
			*err = -ENOMEM;
			break;
		}
		dir = dirname(copy);
		for (k = 0; k < n_dirs && strcmp(dirs[k], dir); k++)
			;
		if (k < n_dirs || !(dirs[n_dirs] = strdup(dir)) ||
		    asprintf(&full, "%s%s", r->tgt->root, dirs[n_dirs]) < 0) {
			*err = k < n_dirs ? 0 : -ENOMEM;
			free(copy);
			continue;
		}
		n_dirs++;
		free(copy);
		fd = sel_pass_fd(&r->sel, open(full, O_PATH | O_DIRECTORY | O_CLOEXEC));
		free(full);
		if (fd == -ENOMEM)
			*err = -ENOMEM;
		if (fd < 0)
			continue;	/* not there: ld.so searches the rest */
		il = snprintf(item, sizeof(item), "%s/proc/self/fd/%d", len ? ":" : "", fd);
		if (len + il + 1 > cap) {
			char *n = realloc(lp, cap = (cap + il + 1) * 2);

			if (!n) {
				*err = -ENOMEM;
				break;
			}
			lp = n;
		}
		memcpy(lp + len, item, il + 1);
		len += il;
	}
	for (size_t k = 0; dirs && k < n_dirs; k++)
		free(dirs[k]);
	free(dirs);
	if (!*err && !lp && !(lp = strdup("")))
		*err = -ENOMEM;
	if (*err) {
		free(lp);
		return NULL;
	}
	return lp;
}

/* The helper's GLIBC_TUNABLES: the process's own (recorded at dump) and the target's mask. */
static int helper_tunables(struct restore *r, char *tun, size_t len)
{
	const char *own = r->img->proc ? r->img->proc->glibc_tunables : NULL;
	char mask[512] = "";
	int ret;

	if (!r->ctx->target_is_host)
		cpu_glibc_tunables(&r->ctx->host, &r->ctx->target, mask, sizeof(mask));
	ret = tunables_for_helper(own, r->ctx->unmask, mask, tun, len);
	if (ret) {
		log_err(r->ctx, "pid %d: the image's GLIBC_TUNABLES are not a value glibc reads (%s): the image is "
			"corrupt or was tampered with\n", r->pid, strerror(-ret));
		return -EBADMSG;
	}
	return 0;
}

static void add_file(FILE *f, const char *label, const char *path)
{
	char buf[4096];
	FILE *in = fopen(path, "re");
	size_t n = in ? fread(buf, 1, sizeof(buf), in) : 0;

	fprintf(f, "%s=", label);
	fwrite(buf, 1, n, f);
	fputc('\n', f);
	if (in)
		fclose(in);
}

/*
 * Who this process's helper runs as and with what input, exactly (defect 2:
 * answers are shared only within one context).  0: not cacheable.
 */
static uint32_t privilege_context(struct restore *r)
{
	pid_t task = r->tgt->ops->task ? r->tgt->ops->task(r->tgt->arg) : 0;
	char *desc = NULL, path[96], tun[TUNABLES_MAX];
	size_t len = 0;
	uint32_t id = 0;
	FILE *f;

	if (helper_tunables(r, tun, sizeof(tun)))
		return 0;
	f = open_memstream(&desc, &len);
	if (!f)
		return 0;
	if (task) {
		char *status = NULL, *line, *save = NULL;
		static const char *const ns[] = { "user", "mnt", "pid", "net", "ipc", "uts", "cgroup" };
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%d/status", task);
		{
			FILE *sf = fopen(path, "re");
			size_t sl = 0;

			if (!sf || getdelim(&status, &sl, 0, sf) < 0)
				status = NULL;
			if (sf)
				fclose(sf);
		}
		if (!status) {
			fclose(f);
			free(desc);
			return 0;
		}
		for (line = strtok_r(status, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) || !strncmp(line, "Groups:", 7))
				fprintf(f, "%s\n", line);
		free(status);
		for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
			char link[64] = "";
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%d/ns/%s", task, ns[i]);
			n = readlink(path, link, sizeof(link) - 1);
			fprintf(f, "ns %s\n", n > 0 ? link : "?");
		}
		snprintf(path, sizeof(path), "/proc/%d/root", task);
		if (stat(path, &st)) {
			fclose(f);
			free(desc);
			return 0;
		}
		fprintf(f, "root %llu:%llu\n", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
		snprintf(path, sizeof(path), "/proc/%d/cgroup", task);
		add_file(f, "cgroup", path);
	} else {
		fprintf(f, "self %u %u\n", (unsigned)getuid(), (unsigned)getgid());
	}
	fprintf(f, "tunables %s\n", tun);
	for (size_t i = 0; i < r->sel.n_env; i++)
		fprintf(f, "env %s\n", r->sel.env[i]);
	if (!fclose(f))
		id = answer_context(r->ctx, desc);
	free(desc);
	return id;
}

static int run_helper(struct restore *r)
{
	char tun[TUNABLES_MAX], *lib_path;
	const char *own = r->img->proc ? r->img->proc->glibc_tunables : NULL;
	pid_t task;
	int ret;

	if (r->interp < 0) {
		log_err(r->ctx, "pid %d: no dynamic linker mapped: cannot re-run selection\n", r->pid);
		return -ENOEXEC;
	}
	/* the process's own GLIBC_TUNABLES (recorded at dump) apply to its re-selection too */
	ret = helper_tunables(r, tun, sizeof(tun));
	if (ret)
		return ret;
	lib_path = library_path(r, &ret);
	if (!lib_path)
		return ret;
	r->sel.pid = r->pid;
	if (own && *own)
		log_debug(r->ctx, "pid %d: its own GLIBC_TUNABLES=%s%s; the helper runs with GLIBC_TUNABLES=%s\n", r->pid,
			  own, r->ctx->unmask ? " (hwcaps dropped: unmask)" : "", tun);
	/* the helper gets the privilege of the live process (its sandbox); none without one (check) */
	task = r->tgt->ops->task ? r->tgt->ops->task(r->tgt->arg) : 0;
	/* the same input as an earlier restore's run: its answers, from the store (answer_store.c) */
	if (!answer_store_key(r, lib_path, r->objs[r->interp].fd, task)) {
		ret = answer_store_load(r);
		r->sel.keep_transcript = ret == -ENOENT;
		if (ret != -ENOENT) {
			free(lib_path);
			return ret;
		}
	}
	ret = sel_run(&r->sel, r->ctx, r->objs[r->interp].fd, lib_path, tun, task);
	free(lib_path);
	return ret;
}

int ask_all(struct restore *r)
{
	int ret = build_request(r);

	if (!ret && (r->sel.pending || !rtld_known(r))) {
		ret = run_helper(r);
		/* stored answers: remembered once they held (restore.c) */
		ret = ret ?: r->store.hit ? 0 : ask_remember(r);
	} else if (!ret) {
		r->sel.done = true;	/* every answer known from an earlier process */
		log_debug(r->ctx, "pid %d: every selection answer known from an earlier process\n", r->pid);
	}
	return ret;
}
