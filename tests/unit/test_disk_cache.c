// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The on-disk cache of parsed ELF files (disk_cache.c, elf_blob.c,
 * elf_cache.c): a cached parse equals the parse of the file itself, field by
 * field, for this system's libc, ld.so, libm and the python3 executable; and
 * an entry that is stale (file touched or rewritten), corrupt (a flipped
 * byte, truncated), forged (another file's entry under this build-id, a
 * well-checksummed blob with indices out of range or tables out of order) or
 * untrusted (writable by others) is ignored: the outcome is the uncached
 * one, and the entry is then rebuilt.
 */
#include "unit.h"
#include "internal.h"

static char dir[64], cache[128], work[128];
static const char *const sys_files[] = { "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2",
					  "/lib/x86_64-linux-gnu/libm.so.6", "/usr/bin/python3" };

static struct cpuport_ctx *ctx_with(const char *cache_dir)
{
	struct cpuport_ctx *ctx;

	setenv("CPUPORT_CACHE_DIR", cache_dir, 1);
	ctx = cpuport_ctx__new(NULL);
	assert_non_null(ctx);
	return ctx;
}

static void same_str(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void same_syms(const struct elf_symbol *a, const struct elf_symbol *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].value, b[i].value);
		assert_int_equal(a[i].size, b[i].size);
		same_str(a[i].name, b[i].name);
		same_str(a[i].version, b[i].version);
		assert_int_equal(a[i].type, b[i].type);
		assert_int_equal(a[i].defined, b[i].defined);
		assert_int_equal(a[i].hidden_version, b[i].hidden_version);
	}
}

/* everything elf_info says, field by field */
static void same_info(const struct elf_info *a, const struct elf_info *b)
{
	assert_int_equal(a->is_exec, b->is_exec);
	assert_int_equal(a->is_pie, b->is_pie);
	assert_int_equal(a->bind_now, b->bind_now);
	assert_int_equal(a->build_id_len, b->build_id_len);
	assert_memory_equal(a->build_id, b->build_id, sizeof(a->build_id));
	assert_int_equal(a->pltgot, b->pltgot);
	assert_int_equal(a->dynamic, b->dynamic);
	assert_int_equal(a->eh_frame_hdr, b->eh_frame_hdr);
	assert_int_equal(a->plt_start, b->plt_start);
	assert_int_equal(a->plt_end, b->plt_end);
	assert_int_equal(a->n_segs, b->n_segs);
	assert_memory_equal(a->segs, b->segs, sizeof(a->segs));
	assert_int_equal(a->n_relocs, b->n_relocs);
	assert_int_equal(a->relocs_seen, b->relocs_seen);
	for (size_t i = 0; i < a->n_relocs; i++) {
		assert_int_equal(a->relocs[i].offset, b->relocs[i].offset);
		assert_int_equal(a->relocs[i].addend, b->relocs[i].addend);
		assert_int_equal(a->relocs[i].type, b->relocs[i].type);
		same_str(a->relocs[i].sym, b->relocs[i].sym);
		same_str(a->relocs[i].version, b->relocs[i].version);
	}
	assert_int_equal(a->n_dynsyms, b->n_dynsyms);
	same_syms(a->dynsyms, b->dynsyms, a->n_dynsyms);
	assert_int_equal(a->n_syms, b->n_syms);
	same_syms(a->syms, b->syms, a->n_syms);
	assert_int_equal(a->syms_from_debug, b->syms_from_debug);
	assert_int_equal(a->has_symtab, b->has_symtab);
	assert_string_equal(a->glibc_version, b->glibc_version);
}

static void rm_rf(const char *path)
{
	int st;

	free(unit_run(&st, "rm -rf '%s'", path));
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cpuport-unit-cache.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(work, sizeof(work), "%s/files", dir);
	return mkdir(work, 0700);
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(dir);
	unsetenv("CPUPORT_CACHE_DIR");
	return 0;
}

/* the uncached parse of @path (debug names included), for comparison */
static const struct elf_info *uncached(struct cpuport_ctx **ctx, const char *path)
{
	int err;
	const struct elf_info *e;

	*ctx = ctx_with("off");
	e = elf_cache_get(*ctx, path, "/", &err);
	assert_non_null(e);
	return e;
}

/* @path through a fresh context on the cache: equal to the uncached parse */
static void check_through_cache(const char *path)
{
	struct cpuport_ctx *c0, *c1 = ctx_with(cache);
	const struct elf_info *want = uncached(&c0, path), *got;
	int err;

	got = elf_cache_get(c1, path, "/", &err);
	assert_non_null(got);
	same_info(want, got);
	cpuport_ctx__free(c1);
	cpuport_ctx__free(c0);
}

static char *entry_of(const char *path)
{
	static char buf[512];
	struct file_id id;
	int fd = open(path, O_RDONLY);
	size_t pos;

	assert_true(fd >= 0);
	assert_int_equal(file_id_of(fd, &id), 0);
	close(fd);
	pos = snprintf(buf, sizeof(buf), "%s/elf/", cache);
	for (size_t i = 0; i < id.build_id_len; i++)
		pos += snprintf(buf + pos, sizeof(buf) - pos, "%02x", id.build_id[i]);
	return buf;
}

static void blob_round_trip(void **state)
{
	(void)state;
	for (size_t f = 0; f < ARRAY_SIZE(sys_files); f++) {
		struct cpuport_ctx *ctx = ctx_with("off");
		struct elf_info a, b;
		void *blob;
		size_t len;

		assert_int_equal(elf_info_parse(ctx, sys_files[f], &a), 0);
		assert_int_equal(elf_info_to_blob(&a, &blob, &len), 0);
		assert_int_equal(elf_info_from_blob(blob, len, &b), 0);
		same_info(&a, &b);
		/* every shorter blob is refused, never read past */
		for (size_t cut = 0; cut < len; cut += 1 + len / 97) {
			struct elf_info c;

			assert_int_equal(elf_info_from_blob(blob, cut, &c), -EINVAL);
		}
		free(blob);
		elf_info_free(&a);
		elf_info_free(&b);
		cpuport_ctx__free(ctx);
	}
}

/* the build-id read with pread equals libelf's */
static void file_id_matches_libelf(void **state)
{
	(void)state;
	for (size_t f = 0; f < ARRAY_SIZE(sys_files); f++) {
		struct cpuport_ctx *ctx = ctx_with("off");
		struct elf_info a;
		struct file_id id;
		int fd = open(sys_files[f], O_RDONLY);

		assert_true(fd >= 0);
		assert_int_equal(elf_info_parse(ctx, sys_files[f], &a), 0);
		assert_int_equal(file_id_of(fd, &id), 0);
		assert_int_equal(id.build_id_len, a.build_id_len);
		assert_memory_equal(id.build_id, a.build_id, a.build_id_len);
		close(fd);
		elf_info_free(&a);
		cpuport_ctx__free(ctx);
	}
}

/* stored on first use, then read back: both equal the uncached parse */
static void cached_equals_uncached(void **state)
{
	(void)state;
	rm_rf(cache);
	for (int pass = 0; pass < 2; pass++)
		for (size_t f = 0; f < ARRAY_SIZE(sys_files); f++) {
			struct stat st;

			check_through_cache(sys_files[f]);
			assert_int_equal(stat(entry_of(sys_files[f]), &st), 0);	/* stored */
			assert_false(st.st_mode & 022);
		}
}

/* a private copy of libm at @path */
static void copy_lib(const char *path)
{
	int st;

	free(unit_run(&st, "cp /lib/x86_64-linux-gnu/libm.so.6 '%s'", path));
	assert_int_equal(st, 0);
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* the file changed after the entry was written (same build-id, other bytes): ignored */
static void stale_entry_ignored(void **state)
{
	char lib[256], tmp[256];
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };

	(void)state;
	rm_rf(cache);
	snprintf(lib, sizeof(lib), "%s/libstale.so", work);
	copy_lib(lib);
	check_through_cache(lib);		/* stored */
	utimensat(AT_FDCWD, lib, ts, 0);	/* touched: mtime differs */
	check_through_cache(lib);
	/* replaced by another file (new inode, same build-id and size) under the same name */
	snprintf(tmp, sizeof(tmp), "%s/libstale.tmp", work);
	copy_lib(tmp);
	assert_int_equal(rename(tmp, lib), 0);
	check_through_cache(lib);

}

/*
 * Rewritten in place with its mtime put back (same inode, size and build-id:
 * what a user can do to a file of theirs): the ctime still tells.
 */
static void rewritten_with_old_mtime_ignored(void **state)
{
	char lib[256], *out;
	struct stat st;
	struct timespec ts[2];
	unsigned long off = 0, idx;
	uint64_t v;
	int fd, status;

	(void)state;
	rm_rf(cache);
	snprintf(lib, sizeof(lib), "%s/librewritten.so", work);
	copy_lib(lib);
	check_through_cache(lib);	/* stored */
	assert_int_equal(stat(lib, &st), 0);
	out = unit_run(&status, "readelf -SW '%s' | sed -n 's/.* \\.dynsym *DYNSYM *[0-9a-f]* \\([0-9a-f]*\\) .*/\\1/p'", lib);
	assert_non_null(out);
	off = strtoul(out, NULL, 16);
	free(out);
	assert_true(off > 0);
	/* a defined function's entry (readelf's index) */
	out = unit_run(&status, "readelf --dyn-syms -W '%s' | awk '$7 != \"UND\" && $4 == \"FUNC\" {print $1 + 0; exit}'",
		       lib);
	assert_non_null(out);
	idx = strtoul(out, NULL, 10);
	free(out);
	assert_true(idx > 0);
	sleep(1);	/* a ctime the old one cannot equal, even on a coarse clock */
	fd = open(lib, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &v, 8, off + 24 * idx + 8), 8);	/* its st_value */
	v += 0x40;
	assert_int_equal(pwrite(fd, &v, 8, off + 24 * idx + 8), 8);
	close(fd);
	ts[0] = st.st_atim, ts[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, lib, ts, 0), 0);
	check_through_cache(lib);	/* the new value, not the entry's */
}

/* a flipped byte anywhere, a truncated entry: ignored */
static void corrupt_entry_ignored(void **state)
{
	const char *lib = sys_files[2];
	char entry[512];
	off_t size;
	int st;

	(void)state;
	rm_rf(cache);
	check_through_cache(lib);
	snprintf(entry, sizeof(entry), "%s", entry_of(lib));
	size = size_of(entry);
	for (off_t off = 0; off < size; off += 1 + size / 13) {
		uint8_t b;
		int fd = open(entry, O_RDWR);

		assert_int_equal(pread(fd, &b, 1, off), 1);
		b ^= 0x5a;
		assert_int_equal(pwrite(fd, &b, 1, off), 1);
		close(fd);
		check_through_cache(lib);	/* ignored, then rebuilt */
		assert_int_equal(size_of(entry), size);
	}
	assert_int_equal(truncate(entry, size / 2), 0);
	check_through_cache(lib);
	assert_int_equal(size_of(entry), size);	/* rebuilt */
	free(unit_run(&st, "printf x >> '%s'", entry));
	check_through_cache(lib);
	assert_int_equal(size_of(entry), size);
}

/* another file's entry renamed to this build-id; well-checksummed blobs with bad insides: ignored */
static void forged_entry_ignored(void **state)
{
	const char *libc = sys_files[0], *libm = sys_files[2];
	struct cpuport_ctx *ctx;
	struct elf_info a;
	struct file_id id;
	char entry[512];
	void *blob;
	size_t len;
	int st, fd;

	(void)state;
	rm_rf(cache);
	check_through_cache(libc);
	snprintf(entry, sizeof(entry), "%s", entry_of(libm));
	free(unit_run(&st, "cp '%s' '%s'", entry_of(libc), entry));
	check_through_cache(libm);

	/* libc's parse stored under libm's identity (header and checksum right): its build-id gives it away */
	ctx = ctx_with(cache);
	fd = open(libm, O_RDONLY);
	assert_int_equal(file_id_of(fd, &id), 0);
	close(fd);
	assert_int_equal(elf_info_parse(ctx, libc, &a), 0);
	assert_int_equal(elf_info_to_blob(&a, &blob, &len), 0);
	assert_int_equal(disk_cache_put(ctx, "elf", ELF_BLOB_VERSION, &id, blob, len), 0);
	check_through_cache(libm);
	free(blob);
	elf_info_free(&a);

	/* libm's own parse with a string index out of range, a table out of order, an older version */
	assert_int_equal(elf_info_parse(ctx, libm, &a), 0);
	assert_true(a.n_relocs > 1 && a.n_dynsyms > 1);
	for (int how = 0; how < 4; how++) {
		struct elf_info b;
		struct elf_reloc r0 = a.relocs[0];
		const char *name0 = a.dynsyms[0].name;

		if (how == 0)
			a.relocs[0] = a.relocs[a.n_relocs - 1], a.relocs[a.n_relocs - 1] = r0;
		else if (how == 1)
			a.dynsyms[0].name = "zzzzzzzz-out-of-order";
		assert_int_equal(elf_info_to_blob(&a, &blob, &len), 0);
		if (how == 2)	/* the string table no longer ends inside the blob */
			((char *)blob)[len - 1] = 'x';
		if (how == 3)
			*(uint32_t *)blob = ELF_BLOB_VERSION + 1;
		assert_int_equal(elf_info_from_blob(blob, len, &b), -EINVAL);
		assert_int_equal(disk_cache_put(ctx, "elf", ELF_BLOB_VERSION, &id, blob, len), 0);
		check_through_cache(libm);
		free(blob);
		a.relocs[a.n_relocs - 1] = a.relocs[0], a.relocs[0] = r0;
		a.dynsyms[0].name = name0;
	}
	elf_info_free(&a);
	cpuport_ctx__free(ctx);
}

/* an entry or a directory others can write: never read */
static void untrusted_entry_ignored(void **state)
{
	const char *libm = sys_files[2];
	struct cpuport_ctx *ctx;
	struct elf_info a;
	struct file_id id;
	char entry[512], kind[256];
	void *blob;
	size_t len;
	int fd;

	(void)state;
	rm_rf(cache);
	check_through_cache(libm);
	snprintf(entry, sizeof(entry), "%s", entry_of(libm));
	snprintf(kind, sizeof(kind), "%s/elf", cache);
	/* a forged (well-formed, wrong) entry, then made writable by others: must not be used */
	ctx = ctx_with(cache);
	fd = open(libm, O_RDONLY);
	assert_int_equal(file_id_of(fd, &id), 0);
	close(fd);
	assert_int_equal(elf_info_parse(ctx, libm, &a), 0);
	a.relocs[0].addend ^= 0x1000;	/* a lie that holds together */
	assert_int_equal(elf_info_to_blob(&a, &blob, &len), 0);
	assert_int_equal(disk_cache_put(ctx, "elf", ELF_BLOB_VERSION, &id, blob, len), 0);
	assert_int_equal(chmod(entry, 0666), 0);
	check_through_cache(libm);	/* ignored, and rebuilt in place */
	assert_int_equal(disk_cache_put(ctx, "elf", ELF_BLOB_VERSION, &id, blob, len), 0);
	assert_int_equal(chmod(kind, 0777), 0);
	check_through_cache(libm);
	assert_int_equal(chmod(kind, 0755), 0);
	assert_int_equal(chmod(cache, 0777), 0);
	check_through_cache(libm);
	assert_int_equal(chmod(cache, 0755), 0);
	if (geteuid() == 0) {	/* owned by someone else */
		assert_int_equal(chown(entry, 65534, 65534), 0);
		check_through_cache(libm);
	}
	free(blob);
	elf_info_free(&a);
	cpuport_ctx__free(ctx);
}

/* @path's names (debug file in our root, on first need) through a fresh context on the cache: as uncached */
static void check_debug_through_cache(const char *path)
{
	struct cpuport_ctx *c0 = ctx_with("off"), *c1 = ctx_with(cache);
	const struct elf_info *want, *got;
	int err;

	want = elf_cache_get(c0, path, "", &err);
	assert_non_null(want);
	got = elf_cache_get(c1, path, "", &err);
	assert_non_null(got);
	elf_info_want_syms(want);
	elf_info_want_syms(got);
	assert_int_equal(want->syms_from_debug, got->syms_from_debug);
	assert_int_equal(want->n_syms, got->n_syms);
	same_syms(want->syms, got->syms, want->n_syms);
	cpuport_ctx__free(c1);
	cpuport_ctx__free(c0);
}

/*
 * Names from libc's debug file, when installed, go through the cache as kind
 * "elfdebug": the same checks.  (Bug: a Debian debug file, whose dynamic
 * sections are NOBITS, was never stored, so every restore parsed it again.)
 */
static void debug_entry_checked(void **state)
{
	const char *libc = sys_files[0];
	char entry[512], other[512], debug_file[512];
	const char *name;
	off_t size;
	int st;

	(void)state;
	rm_rf(cache);
	name = strrchr(entry_of(libc), '/') + 1;
	snprintf(debug_file, sizeof(debug_file), "/usr/lib/debug/.build-id/%.2s/%s.debug", name, name + 2);
	if (access(debug_file, F_OK))
		UNIT_SKIP("no debug file for this libc (libc6-dbg not installed)");
	snprintf(entry, sizeof(entry), "%s/elfdebug/%s", cache, name);
	check_debug_through_cache(libc);
	assert_int_equal(access(entry, F_OK), 0);	/* stored */
	check_debug_through_cache(libc);	/* and read back: the same names */
	size = size_of(entry);
	{
		int fd = open(entry, O_RDWR);
		uint8_t b;

		assert_int_equal(pread(fd, &b, 1, size / 2), 1);
		b ^= 0x80;
		assert_int_equal(pwrite(fd, &b, 1, size / 2), 1);
		close(fd);
	}
	check_debug_through_cache(libc);	/* damaged: ignored, rebuilt */
	assert_int_equal(size_of(entry), size);
	assert_int_equal(truncate(entry, size - 1), 0);
	check_debug_through_cache(libc);
	assert_int_equal(size_of(entry), size);
	/* the file's own "elf" entry put in the debug file's place: its kind gives it away */
	snprintf(other, sizeof(other), "%s", entry_of(libc));
	free(unit_run(&st, "cp '%s' '%s'", other, entry));
	check_debug_through_cache(libc);
	assert_int_equal(size_of(entry), size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blob_round_trip),
		cmocka_unit_test(file_id_matches_libelf),
		cmocka_unit_test(cached_equals_uncached),
		cmocka_unit_test(stale_entry_ignored),
		cmocka_unit_test(rewritten_with_old_mtime_ignored),
		cmocka_unit_test(corrupt_entry_ignored),
		cmocka_unit_test(forged_entry_ignored),
		cmocka_unit_test(untrusted_entry_ignored),
		cmocka_unit_test(debug_entry_checked),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
