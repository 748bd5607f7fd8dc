// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The helper's answers kept on disk across restores, so that a repeated
 * restore of one checkpoint on one host does not start the helper at all.
 * One entry per helper run, in <cache dir>/answers/ (disk_cache.c): the
 * helper's whole input (the key) and the answer bytes it sent (its
 * transcript).
 *
 * The key is everything those answers can depend on:
 *  - the request as sent, descriptor numbers replaced by their rank;
 *  - the identity (device, inode, mode, owner, size, mtime, ctime) of every
 *    descriptor the helper gets: the objects and ld.so (the library-path
 *    directories: device, inode, mode, owner; see put_fd); and the image's
 *    objects (path, build-id);
 *  - the privilege context and helper input (answer_cache.c's description:
 *    uid, gid, groups, namespaces, root, cgroups, GLIBC_TUNABLES, environment);
 *  - the destination CPU: the host's raw CPUID leaves and XCR0, the target
 *    (its name, level, features, XCR0 and leaves), unmask; the kernel's
 *    release, AT_HWCAP and AT_HWCAP2;
 *  - the helper binary's identity.
 * The whole key is stored in the entry and compared byte for byte: the
 * digest only names the file, a collision is a miss.
 *
 * Trust: only when cpuport runs as root, and the cache directory and every
 * directory above it belong to root and nobody else can write them (a
 * sticky directory such as /tmp may be above: nobody else can rename or
 * remove what root put in it); disk_cache.c checks the entry and its
 * directories again.  Never with fault injection or without a live task.
 *
 * A stored transcript goes through the same decoder (sel_feed) and, after
 * it, the same checks as the helper's own answers (answer_check.c, kinds,
 * hazards); restore.c drops the entry and asks the helper when anything
 * refuses it.  So a cache never changes an outcome.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "restore.h"

#define STORE_KIND "answers"
#define STORE_VERSION 1
#define STORE_MAGIC "CPANSWR1"

static bool dir_trusted(const char *path, bool last)
{
	struct stat st;

	if (lstat(path, &st) || !S_ISDIR(st.st_mode) || st.st_uid != 0)
		return false;
	return !(st.st_mode & 022) || (!last && (st.st_mode & S_ISVTX));
}

/* @dir and each directory above it: root's, written by nobody else (sticky parents allowed) */
static bool chain_trusted(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);

	if (dir[0] != '/' || n >= sizeof(path) || !dir_trusted("/", n == 1))
		return false;
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		char c = path[i];
		bool ok;

		if ((c != '/' && c) || path[i - 1] == '/')
			continue;
		path[i] = 0;
		ok = dir_trusted(path, !c || !path[i + 1]);
		path[i] = c;
		if (!ok)
			return false;
	}
	return true;
}

static void put_stat(FILE *f, const struct stat *st)
{
	fprintf(f, "%llu:%llu %o %u:%u %lld %lld.%09ld %lld.%09ld\n", (unsigned long long)st->st_dev,
		(unsigned long long)st->st_ino, (unsigned)st->st_mode, (unsigned)st->st_uid, (unsigned)st->st_gid,
		(long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		(long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

/*
 * A descriptor's identity.  A directory (library path) by device, inode,
 * mode and owner only: its times change with every file written in it (a
 * log next to the executable), and the files the helper loads from it are
 * the image's objects, each keyed by its own full identity.
 */
static void put_fd(FILE *f, const char *label, int fd)
{
	struct stat st;

	fprintf(f, "%s ", label);
	if (fd < 0 || fstat(fd, &st))
		fprintf(f, "-\n");
	else if (S_ISDIR(st.st_mode))
		fprintf(f, "dir %llu:%llu %o %u:%u\n", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			(unsigned)st.st_mode, (unsigned)st.st_uid, (unsigned)st.st_gid);
	else
		put_stat(f, &st);
}

/* @text with each "/proc/self/fd/N" as the rank of N among the passed descriptors */
static void put_text(FILE *f, const struct selection *s, const char *text, size_t len)
{
	static const char pfx[] = "/proc/self/fd/";
	const char *p = text, *end = text + len;

	fprintf(f, "%zu\n", len);
	while (p < end) {
		const char *hit = memmem(p, end - p, pfx, sizeof(pfx) - 1);
		char *num_end;
		long fd;
		size_t k;

		if (!hit) {
			fwrite(p, 1, end - p, f);
			break;
		}
		hit += sizeof(pfx) - 1;
		fwrite(p, 1, hit - p, f);
		fd = strtol(hit, &num_end, 10);
		for (k = 0; k < s->n_fds && s->fds[k] != fd; k++)
			;
		fprintf(f, "#%zu", k);
		p = num_end > hit ? num_end : hit;
	}
	fputc('\n', f);
}

/*
 * A CPU's leaves, without what names the logical CPU that read them (the
 * process may run on any): leaf 1 EBX[31:24] and leaves 0xb/0x1f EDX (APIC
 * ids), leaf 0x8000001e (AMD's APIC, core and node ids).
 */
static void put_cpu(FILE *f, const char *label, const struct cpu_desc *d, bool with_name)
{
	fprintf(f, "%s %s level %d xcr0 %llx feat %llx %llx leaves %zu\n", label, with_name ? d->name : "-", d->level,
		(unsigned long long)d->xcr0, (unsigned long long)d->feat.w[0], (unsigned long long)d->feat.w[1],
		d->n_raw);
	for (size_t i = 0; i < d->n_raw && i < CPU_MAX_LEAVES; i++) {
		struct cpuid_regs c = d->raw[i];

		if (c.leaf == 1)
			c.ebx &= 0x00ffffff;
		if (c.leaf == 0xb || c.leaf == 0x1f)
			c.edx = 0;
		if (c.leaf == 0x8000001e)
			c.eax = c.ebx = c.ecx = 0;
		fprintf(f, "%x.%x %x %x %x %x\n", c.leaf, c.subleaf, c.eax, c.ebx, c.ecx, c.edx);
	}
}

/* FNV-1a, for the second half of the digest (disk_cache_sum() is the first) */
static uint64_t fnv(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return h;
}

int answer_store_key(struct restore *r, const char *lib_path, int interp_fd, pid_t task)
{
	struct answer_store *a = &r->store;
	const char *desc = answer_context_desc(r->ctx, r->cache_context);
	struct utsname u;
	struct stat st;
	uint64_t h[2];
	FILE *f;

	if (a->key || !task || !desc || r->ctx->faults || geteuid() != 0 || !r->ctx->cache_dir ||
	    !chain_trusted(r->ctx->cache_dir))
		return -ENOENT;
	if (fflush(r->sel.req))
		return -ENOMEM;
	f = open_memstream(&a->key, &a->key_len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "%s\nrequest ", STORE_MAGIC);
	put_text(f, &r->sel, r->sel.req_buf, r->sel.req_len);
	fprintf(f, "library-path ");
	put_text(f, &r->sel, lib_path, strlen(lib_path));
	for (size_t i = 0; i < r->sel.n_fds; i++)
		put_fd(f, "fd", r->sel.fds[i]);
	put_fd(f, "interp", interp_fd);
	for (size_t i = 0; i < r->img->n_objects; i++) {
		const Cpuport__Object *o = r->img->objects[i];

		fprintf(f, "object %zu %d%d %s ", i, (int)o->is_exe, (int)o->is_interp, o->path);
		for (size_t k = 0; o->has_build_id && k < o->build_id.len; k++)
			fprintf(f, "%02x", o->build_id.data[k]);
		fputc('\n', f);
	}
	fprintf(f, "context\n%s\nunmask %d target-is-host %d\n", desc, (int)r->ctx->unmask,
		(int)r->ctx->target_is_host);
	put_cpu(f, "host", &r->ctx->host, false);
	put_cpu(f, "target", &r->ctx->target, true);
	if (!uname(&u))
		fprintf(f, "kernel %s %s\n", u.release, u.version);
	fprintf(f, "hwcap %lx %lx\n", getauxval(AT_HWCAP), getauxval(AT_HWCAP2));
	if (stat(r->ctx->helper_path, &st))
		fprintf(f, "helper %s -\n", r->ctx->helper_path);
	else {
		fprintf(f, "helper %s ", r->ctx->helper_path);
		put_stat(f, &st);
	}
	if (fclose(f) || !a->key) {
		answer_store_free(r);
		return -ENOMEM;
	}
	h[0] = disk_cache_sum(a->key, a->key_len);
	h[1] = fnv(a->key, a->key_len);
	memset(&a->id, 0, sizeof(a->id));
	memcpy(a->id.build_id, h, sizeof(h));
	a->id.build_id_len = sizeof(h);
	return 0;
}

/* The entry's transcript if its key is exactly ours: 0 (*t points into *buf), -ENOENT */
static int lookup(struct restore *r, void **buf, const char **t, size_t *t_len)
{
	struct answer_store *a = &r->store;
	size_t len, klen;
	int ret;

	ret = disk_cache_get(r->ctx, STORE_KIND, STORE_VERSION, &a->id, buf, &len);
	if (ret)
		return -ENOENT;
	if (len < sizeof(uint64_t) || (memcpy(&klen, *buf, sizeof(klen)), klen != a->key_len) ||
	    len - sizeof(uint64_t) < klen || memcmp((char *)*buf + sizeof(uint64_t), a->key, klen)) {
		free(*buf);
		*buf = NULL;
		return -ENOENT;
	}
	*t = (char *)*buf + sizeof(uint64_t) + klen;
	*t_len = len - sizeof(uint64_t) - klen;
	return 0;
}

int answer_store_load(struct restore *r)
{
	struct answer_store *a = &r->store;
	uint64_t t0 = now_ns();
	void *buf = NULL;
	const char *t;
	size_t t_len;
	int ret;

	if (!a->key || a->off)
		return -ENOENT;
	ret = lookup(r, &buf, &t, &t_len);
	if (ret)
		return ret;
	ret = sel_feed(&r->sel, r->ctx, t, t_len);
	free(buf);
	if (ret == -ENOMEM)
		return ret;
	if (ret || !r->sel.done || r->sel.line_len) {
		log_warn(r->ctx, "pid %d: stored selection answers %s/%s/... do not decode: asking the helper\n",
			 r->pid, r->ctx->cache_dir, STORE_KIND);
		sel_forget_answers(&r->sel);
		answer_store_drop(r);
		return -ENOENT;
	}
	a->hit = true;
	r->sel.ns = now_ns() - t0;
	log_debug(r->ctx, "pid %d: selection answers from the store (%zu bytes), the helper not run\n", r->pid,
		  t_len);
	return 0;
}

int answer_store_save(struct restore *r)
{
	struct answer_store *a = &r->store;
	const struct selection *s = &r->sel;
	uint64_t klen = a->key_len;
	char *buf;
	size_t len;
	int ret;

	if (!a->key || a->hit || !s->keep_transcript || !s->transcript || !s->done)
		return 0;
	len = sizeof(klen) + a->key_len + s->transcript_len;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &klen, sizeof(klen));
	memcpy(buf + sizeof(klen), a->key, a->key_len);
	memcpy(buf + sizeof(klen) + a->key_len, s->transcript, s->transcript_len);
	ret = disk_cache_put(r->ctx, STORE_KIND, STORE_VERSION, &a->id, buf, len);
	free(buf);
	return ret;
}

void answer_store_drop(struct restore *r)
{
	void *buf = NULL;
	const char *t;
	size_t t_len;

	/* only our own entry: one whose key is exactly ours */
	if (!r->store.key || lookup(r, &buf, &t, &t_len))
		return;
	free(buf);
	disk_cache_remove(r->ctx, STORE_KIND, &r->store.id);
}

void answer_store_free(struct restore *r)
{
	free(r->store.key);
	memset(&r->store, 0, sizeof(r->store));
}
