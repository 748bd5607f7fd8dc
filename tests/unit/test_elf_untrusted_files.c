// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Regressions, issue 13 (defects 10 and 13): files a container controls are
 * read as root at dump and restore.
 *  - A debug file looked up in the process's root is resolved inside that root:
 *    an absolute symlink there must not lead to our own files, a FIFO must not
 *    block, a device must not be read.  A regular debug file there is found.
 *  - The glibc version string is read within its section, never past its end.
 * Fixtures: a small shared library compiled here (cc), its debug file made with
 * objcopy --only-keep-debug, the library stripped; trees in a temp dir.
 */
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "unit.h"
#include "internal.h"

static char tmp[] = "/tmp/cpuport-untrusted.XXXXXX";
static char lib[512], dbg[512], bid[160];

static int setup(void **state)
{
	char *o;
	int st;

	(void)state;
	if (!mkdtemp(tmp))
		return -1;
	o = unit_run(&st, "cd %s && printf 'int cpuport_untrusted_f(int x) { return x * 3; }\\n"
			  "int cpuport_untrusted_g(int x) { return x + 7; }\\n' >l.c && "
			  "cc -g -O1 -fPIC -shared -Wl,--build-id -o l.so l.c && "
			  "objcopy --only-keep-debug l.so l.debug && strip --strip-all l.so && "
			  "readelf -n l.so | sed -n 's/.*Build ID: //p'", tmp);
	if (!o || st) {
		free(o);
		UNIT_SKIP_ALL("cannot build the fixture library (cc, objcopy, strip, readelf)");
	}
	snprintf(bid, sizeof(bid), "%s", o);
	bid[strcspn(bid, "\n")] = 0;
	free(o);
	snprintf(lib, sizeof(lib), "%s/l.so", tmp);
	snprintf(dbg, sizeof(dbg), "%s/l.debug", tmp);
	return strlen(bid) > 2 ? 0 : -1;
}

static int teardown(void **state)
{
	char *o;

	(void)state;
	o = unit_run(NULL, "rm -rf %s", tmp);
	free(o);
	return 0;
}

/* A root dir NAME whose build-id debug entry is made by shell command @how (in that dir, $D the entry). */
static void make_root(const char *name, const char *how)
{
	char *o;
	int st;

	o = unit_run(&st, "cd %s && rm -rf %s && mkdir -p %s/usr/lib/debug/.build-id/%.2s && "
			  "D=%s/usr/lib/debug/.build-id/%.2s/%s.debug && %s", tmp, name, name, bid, name, bid, bid + 2, how);
	free(o);
	assert_int_equal(st, 0);
}

static bool debug_found_in(const char *name)
{
	struct elf_info info;
	char root[600];
	bool found;

	assert_int_equal(elf_info_load(NULL, lib, &info), 0);
	assert_false(info.has_symtab);
	snprintf(root, sizeof(root), "%s/%s", tmp, name);
	alarm(10);	/* a FIFO that blocks fails the test instead of hanging it */
	elf_info_debug_from(NULL, &info, root);
	alarm(0);
	found = info.syms_from_debug && elf_sym_named(&info, "cpuport_untrusted_g");
	elf_info_free(&info);
	return found;
}

static void regular_debug_file_in_root_is_used(void **state)
{
	(void)state;
	make_root("good", "cp l.debug \"$D\"");
	assert_true(debug_found_in("good"));
}

static void absolute_symlink_stays_in_root(void **state)
{
	char how[700];

	(void)state;
	/* points at our real debug file, by its absolute path: inside the root it does not exist */
	snprintf(how, sizeof(how), "ln -s %s \"$D\"", dbg);
	make_root("abs", how);
	assert_false(debug_found_in("abs"));
	/* a relative symlink escaping with .. stays inside too */
	make_root("dotdot", "ln -s ../../../../../../../../../../l.debug \"$D\"");
	assert_false(debug_found_in("dotdot"));
}

static void magic_link_is_not_followed(void **state)
{
	(void)state;
	make_root("magic", "ln -s /proc/self/root/" "tmp \"$D.dir\" && ln -s /proc/1/root\"$(pwd)\"/l.debug \"$D\"");
	assert_false(debug_found_in("magic"));
}

static void fifo_and_device_are_not_read(void **state)
{
	(void)state;
	make_root("fifo", "mkfifo \"$D\"");
	assert_false(debug_found_in("fifo"));	/* and returned: no writer needed */
	make_root("dev", "ln -s /dev/zero \"$D\"");	/* inside the root: no /dev/zero there */
	assert_false(debug_found_in("dev"));
	if (geteuid() == 0) {
		make_root("chr", "mknod \"$D\" c 1 5");	/* /dev/zero itself */
		assert_false(debug_found_in("chr"));
	}
}

/* .rodata ending right after "release version 2", the file going on with digits. */
static void glibc_version_read_within_section(void **state)
{
	char src[600], so[600], path[64];
	struct elf_info info;
	struct stat st;
	uint8_t *p;
	char *o;
	int s, fd, in;

	(void)state;
	snprintf(src, sizeof(src), "%s/v.c", tmp);
	snprintf(so, sizeof(so), "%s/v.so", tmp);
	o = unit_run(&s, "cd %s && printf 'const char *gnu_get_libc_version(void) { return \"x\"; }\\n"
			 "const char cpuport_v[] = \"release version 2999999999.\";\\n' >v.c && "
			 "cc -O1 -fPIC -shared -o v.so v.c", tmp);
	free(o);
	assert_int_equal(s, 0);
	in = open(so, O_RDONLY);
	assert_true(in >= 0);
	assert_int_equal(fstat(in, &st), 0);
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, in, 0);
	assert_true(p != MAP_FAILED);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)p;
	Elf64_Shdr *sh = (Elf64_Shdr *)(p + eh->e_shoff);
	const char *names = (const char *)p + sh[eh->e_shstrndx].sh_offset;
	bool cut = false;

	for (int i = 0; i < eh->e_shnum; i++) {
		uint8_t *at;

		if (strcmp(names + sh[i].sh_name, ".rodata"))
			continue;
		at = memmem(p + sh[i].sh_offset, sh[i].sh_size, "release version 2", 17);
		assert_non_null(at);
		sh[i].sh_size = at + 17 - (p + sh[i].sh_offset);	/* the section ends after "2" */
		cut = true;
	}
	assert_true(cut);
	fd = memfd_create("v.so", 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, st.st_size), st.st_size);
	munmap(p, st.st_size);
	close(in);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	assert_int_equal(elf_info_load(NULL, path, &info), 0);
	assert_string_equal(info.glibc_version, "2");
	elf_info_free(&info);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(regular_debug_file_in_root_is_used),
		cmocka_unit_test(absolute_symlink_stays_in_root),
		cmocka_unit_test(magic_link_is_not_followed),
		cmocka_unit_test(fifo_and_device_are_not_read),
		cmocka_unit_test(glibc_version_read_within_section),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
