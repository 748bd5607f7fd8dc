// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Facts about files, kept on disk across CRIU runs: <dir>/<kind>/<build-id
 * in hex>, one entry per object build and kind of fact (parsed ELF, ISA
 * census...).  Generic: the caller brings the bytes and a format version.
 *
 * An entry is used only when everything holds, else it is a miss (and the
 * caller recomputes and stores it again), so a cache never changes an
 * outcome:
 *  - the directory chain (<dir>, <dir>/<kind>) and the entry belong to root
 *    or to us and nobody else can write them; never followed through links;
 *  - its header names the same kind and format version;
 *  - its build-id is the one read again from the file now (file_id_of), and
 *    the file's device, inode, size, mtime and ctime are the ones recorded;
 *  - its length is exact and its checksum holds.
 * The caller still checks the payload's own structure (indices in range).
 * Entries are written to an unnamed O_TMPFILE (or a temporary name) and
 * renamed into place: a reader sees a whole entry or none.
 *
 * CPUPORT_CACHE_DIR names the directory (default /var/cache/cpuport);
 * "off" or "" disables the cache.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define DISK_CACHE_MAGIC "CPCACHE3"
#define MAX_ENTRY (256u << 20)

struct disk_cache_hdr {
	char magic[8];
	char kind[16];
	uint32_t version;
	uint32_t build_id_len;
	uint8_t build_id[64];
	uint64_t dev, ino, size;
	int64_t mtime_ns;
	int64_t ctime_ns;	/* cannot be set by a user: a reused inode with a forged mtime still differs */
	uint64_t len;		/* payload bytes after the header */
	uint64_t sum;		/* disk_cache_sum() of the payload */
};

/* A checksum against damage (not an authenticator: trust comes from the owner checks), 8 bytes a step. */
uint64_t disk_cache_sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	for (; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h ^ h >> 29;
}

static bool trusted(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & 022);
}

/* ---- the file's identity: stat and its GNU build-id, read with pread (no libelf) ---- */

static bool note_build_id(const uint8_t *p, size_t n, size_t align, struct file_id *id)
{
	size_t off = 0;

	while (off + 12 <= n) {
		uint32_t namesz, descsz, type;
		size_t name_off = off + 12, desc_off, next;

		memcpy(&namesz, p + off, 4);
		memcpy(&descsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		desc_off = name_off + ((namesz + align - 1) & ~(align - 1));
		next = desc_off + ((descsz + align - 1) & ~(align - 1));
		if (desc_off > n || descsz > n - desc_off || next <= off)
			return false;
		if (type == 3 && namesz == 4 && !memcmp(p + name_off, "GNU", 4) && descsz <= sizeof(id->build_id)) {
			memcpy(id->build_id, p + desc_off, descsz);
			id->build_id_len = descsz;
			return true;
		}
		off = next;
	}
	return false;
}

int file_id_of(int fd, struct file_id *id)
{
	unsigned char eh[64];
	uint64_t phoff;
	uint16_t phnum, phentsize;

	memset(id, 0, sizeof(*id));
	if (fstat(fd, &id->st))
		return -errno;
	if (pread(fd, eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh, "\177ELF", 4) || eh[4] != 2 ||
	    eh[5] != 1)
		return -ENOEXEC;
	memcpy(&phoff, eh + 32, 8);
	memcpy(&phentsize, eh + 54, 2);
	memcpy(&phnum, eh + 56, 2);
	if (phentsize != 56 || phnum > 128)
		return -ENOEXEC;
	for (uint16_t i = 0; i < phnum; i++) {
		uint8_t ph[56], note[4096];
		uint32_t type;
		uint64_t off, filesz, palign;

		if (pread(fd, ph, sizeof(ph), phoff + i * 56ull) != (ssize_t)sizeof(ph))
			return -ENOEXEC;
		memcpy(&type, ph, 4);
		memcpy(&off, ph + 8, 8);
		memcpy(&filesz, ph + 32, 8);
		memcpy(&palign, ph + 48, 8);
		if (type != 4 /* PT_NOTE */ || !filesz || filesz > sizeof(note))
			continue;
		if (pread(fd, note, filesz, off) != (ssize_t)filesz)
			return -ENOEXEC;
		if (note_build_id(note, filesz, palign == 8 ? 8 : 4, id))
			return 0;
	}
	return -ENODATA;
}

/* ---- the directory ---- */

/* <dir>/<kind> opened, created if missing; both trusted; -errno otherwise */
static int kind_dir(const struct cpuport_ctx *ctx, const char *kind, bool create)
{
	struct stat st;
	int dfd, kfd;

	if (!ctx->cache_dir || !*ctx->cache_dir || strchr(kind, '/') || strlen(kind) >= 16)
		return -ENOENT;
	if (create)
		mkdir(ctx->cache_dir, 0755);
	dfd = open(ctx->cache_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fstat(dfd, &st) || !trusted(&st)) {
		close(dfd);
		return -EPERM;
	}
	if (create)
		mkdirat(dfd, kind, 0755);
	kfd = openat(dfd, kind, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (kfd < 0)
		return -errno;
	if (fstat(kfd, &st) || !trusted(&st)) {
		close(kfd);
		return -EPERM;
	}
	return kfd;
}

/* <dir>/<kind>, opened and checked once per context (a dup the caller closes); -errno otherwise */
static int kind_fd(struct cpuport_ctx *ctx, const char *kind, bool create)
{
	size_t i, free_slot = ARRAY_SIZE(ctx->cache_kinds);
	int fd;

	for (i = 0; i < ARRAY_SIZE(ctx->cache_kinds); i++) {
		if (ctx->cache_kinds[i].kind[0] && !strcmp(ctx->cache_kinds[i].kind, kind))
			return fcntl(ctx->cache_kinds[i].fd, F_DUPFD_CLOEXEC, 0);
		if (!ctx->cache_kinds[i].kind[0] && free_slot == ARRAY_SIZE(ctx->cache_kinds))
			free_slot = i;
	}
	fd = kind_dir(ctx, kind, create);
	if (fd >= 0 && free_slot < ARRAY_SIZE(ctx->cache_kinds)) {
		snprintf(ctx->cache_kinds[free_slot].kind, sizeof(ctx->cache_kinds[free_slot].kind), "%s", kind);
		ctx->cache_kinds[free_slot].fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (ctx->cache_kinds[free_slot].fd < 0)
			ctx->cache_kinds[free_slot].kind[0] = 0;
	}
	return fd;
}

void disk_cache_close(struct cpuport_ctx *ctx)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctx->cache_kinds); i++)
		if (ctx->cache_kinds[i].kind[0]) {
			close(ctx->cache_kinds[i].fd);
			ctx->cache_kinds[i].kind[0] = 0;
		}
}

static void entry_name(const struct file_id *id, char *buf, size_t size)
{
	size_t pos = 0;

	buf[0] = 0;
	for (size_t i = 0; i < id->build_id_len && pos + 3 < size; i++)
		pos += snprintf(buf + pos, size - pos, "%02x", id->build_id[i]);
}

static void fill_hdr(struct disk_cache_hdr *h, const char *kind, uint32_t version, const struct file_id *id)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, DISK_CACHE_MAGIC, sizeof(h->magic));
	strncpy(h->kind, kind, sizeof(h->kind) - 1);
	h->version = version;
	h->build_id_len = id->build_id_len;
	memcpy(h->build_id, id->build_id, id->build_id_len);
	h->dev = id->st.st_dev;
	h->ino = id->st.st_ino;
	h->size = id->st.st_size;
	h->mtime_ns = (int64_t)id->st.st_mtim.tv_sec * 1000000000 + id->st.st_mtim.tv_nsec;
	h->ctime_ns = (int64_t)id->st.st_ctim.tv_sec * 1000000000 + id->st.st_ctim.tv_nsec;
}

int disk_cache_get(struct cpuport_ctx *ctx, const char *kind, uint32_t version, const struct file_id *id,
		   void **data, size_t *len)
{
	struct disk_cache_hdr want, h;
	char name[160];
	struct stat st;
	uint8_t *buf = NULL;
	int kfd, fd, ret = -ENOENT;

	*data = NULL;
	*len = 0;
	if (!id->build_id_len)
		return -ENOENT;
	kfd = kind_fd(ctx, kind, false);
	if (kfd < 0)
		return -ENOENT;
	entry_name(id, name, sizeof(name));
	fd = openat(kfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(kfd);
	if (fd < 0)
		return -ENOENT;
	fill_hdr(&want, kind, version, id);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !trusted(&st) || st.st_size < (off_t)sizeof(h) ||
	    st.st_size > MAX_ENTRY || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		goto out;
	want.len = h.len, want.sum = h.sum;	/* the rest must be equal byte for byte */
	if (memcmp(&h, &want, sizeof(h)) || h.len != (uint64_t)st.st_size - sizeof(h))
		goto out;
	buf = malloc(h.len + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (pread(fd, buf, h.len, sizeof(h)) != (ssize_t)h.len || disk_cache_sum(buf, h.len) != h.sum)
		goto out;
	*data = buf;
	*len = h.len;
	buf = NULL;
	ret = 0;
out:
	if (ret)
		log_debug(ctx, "cache: %s/%s/%s ignored (absent, stale or damaged)\n", ctx->cache_dir, kind, name);
	free(buf);
	close(fd);
	return ret;
}

void disk_cache_remove(struct cpuport_ctx *ctx, const char *kind, const struct file_id *id)
{
	char name[160];
	int kfd = kind_fd(ctx, kind, false);

	if (kfd < 0)
		return;
	entry_name(id, name, sizeof(name));
	if (*name && unlinkat(kfd, name, 0) && errno != ENOENT)
		log_debug(ctx, "cache: cannot remove %s/%s/%s: %s\n", ctx->cache_dir, kind, name, strerror(errno));
	close(kfd);
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w <= 0)
			return -EIO;
		b += w;
		n -= w;
	}
	return 0;
}

int disk_cache_put(struct cpuport_ctx *ctx, const char *kind, uint32_t version, const struct file_id *id,
		   const void *data, size_t len)
{
	struct disk_cache_hdr h;
	char name[160], tmp[200], proc[64];
	int kfd, fd, ret;
	bool named = false;

	if (!id->build_id_len || len > MAX_ENTRY - sizeof(h))
		return -EINVAL;
	kfd = kind_fd(ctx, kind, true);
	if (kfd < 0)
		return kfd;
	entry_name(id, name, sizeof(name));
	fill_hdr(&h, kind, version, id);
	h.len = len;
	h.sum = disk_cache_sum(data, len);
	fd = openat(kfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {	/* no O_TMPFILE here: a temporary name */
		snprintf(tmp, sizeof(tmp), ".%s.%d", name, getpid());
		fd = openat(kfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		named = fd >= 0;
	}
	if (fd < 0) {
		ret = -errno;
		close(kfd);
		return ret;
	}
	ret = fchmod(fd, 0644) ? -errno : 0;
	ret = ret ?: write_all(fd, &h, sizeof(h));
	ret = ret ?: write_all(fd, data, len);
	if (!ret && !named) {
		snprintf(tmp, sizeof(tmp), ".%s.%d", name, getpid());
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		unlinkat(kfd, tmp, 0);
		if (linkat(AT_FDCWD, proc, kfd, tmp, AT_SYMLINK_FOLLOW))
			ret = -errno;
		else
			named = true;
	}
	if (!ret && renameat(kfd, tmp, kfd, name))
		ret = -errno;
	if (ret && named)
		unlinkat(kfd, tmp, 0);
	close(fd);
	close(kfd);
	if (ret)
		log_debug(ctx, "cache: cannot store %s/%s/%s: %s\n", ctx->cache_dir, kind, name, strerror(-ret));
	return ret;
}
