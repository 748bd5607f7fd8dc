// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * elf_scan.c on real ELF files: small programs compiled by this test (a
 * lazy PIE and a -z now PIE with target_clones, a non-PIE, a shared library
 * exporting a target_clones function, and that library stripped) plus this
 * system's libc and ld.so.  readelf is the independent source for
 * relocations, flags, segments, sections, symbols and build-ids.
 */
#include <elf.h>
#include <gnu/libc-version.h>
#include <sys/mman.h>

#include "unit.h"
#include "internal.h"

#define LDSO "/lib64/ld-linux-x86-64.so.2"

static char dir[64];
static char libc_path[4096];

enum { PIE_LAZY, PIE_NOW, NOPIE, LIB, LIB_STRIPPED, LIBC, LD_SO, N_FILES };
static char paths[N_FILES][4200];
static const char *const file_names[N_FILES] = { "pie_lazy", "pie_now", "nopie", "lib.so", "lib_stripped.so", "libc",
						 "ld.so" };

static const char prog_c[] =
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"const char marker[] = \"cpuport-unit-marker: 0123456789\";\n"
	"char bss_buf[65536];\n"
	"__attribute__((target_clones(\"avx2\", \"sse4.2\", \"default\")))\n"
	"unsigned long kernel_a(const unsigned char *p, unsigned long n)\n"
	"{ unsigned long h = 7; for (unsigned long i = 0; i < n; i++) h = h * 31 + p[i]; return h; }\n"
	"__attribute__((target_clones(\"avx512f\", \"default\")))\n"
	"unsigned long kernel_b(const unsigned char *p, unsigned long n)\n"
	"{ unsigned long h = 3; for (unsigned long i = 0; i < n; i++) h = h * 131 ^ p[i]; return h; }\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	char buf[64];\n"
	"	memcpy(buf, marker, 16);\n"
	"	buf[16] = 0;\n"
	"	printf(\"%zu %lu %lu\\n\", strlen(argv[0]), kernel_a((void *)buf, 16), kernel_b((void *)buf, 16));\n"
	"	puts(bss_buf + argc);\n"
	"	return 0;\n"
	"}\n";

static const char lib_c[] =
	"__attribute__((target_clones(\"avx2\", \"default\")))\n"
	"unsigned long lib_fn(const unsigned char *p, unsigned long n)\n"
	"{ unsigned long h = 5; for (unsigned long i = 0; i < n; i++) h = h * 33 + p[i]; return h; }\n"
	"unsigned long lib_call(const unsigned char *p) { return lib_fn(p, 4) + 1; }\n";

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void find_libc(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4600];

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (p && strstr(p, "/libc.so.6")) {
			p[strcspn(p, "\n")] = 0;
			snprintf(libc_path, sizeof(libc_path), "%s", p);
			break;
		}
	}
	if (f)
		fclose(f);
}

static int group_setup(void **state)
{
	static const char *const builds[] = {
		"cc -O2 -fno-builtin -fPIE -pie -Wl,-z,lazy -o %s/pie_lazy %s/prog.c",
		"cc -O2 -fno-builtin -fPIE -pie -Wl,-z,now -o %s/pie_now %s/prog.c",
		"cc -O2 -fno-builtin -fno-pie -no-pie -Wl,-z,lazy -o %s/nopie %s/prog.c",
		"cc -O2 -fPIC -shared -Wl,-z,lazy -o %s/lib.so %s/lib.c",
		"cc -O2 -fPIC -shared -s -o %s/lib_stripped.so %s/lib.c",
	};
	char src[128];
	int st;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(builds); i++) {
		char *out = unit_run(&st, builds[i], dir, dir);

		free(out);
		if (st) {
			fprintf(stderr, "cannot build test ELF files: ");
			fprintf(stderr, builds[i], dir, dir);
			fprintf(stderr, "\n");
			return -1;
		}
	}
	for (int i = 0; i < LIBC; i++)
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, file_names[i]);
	snprintf(paths[LIBC], sizeof(paths[LIBC]), "%s", libc_path);
	snprintf(paths[LD_SO], sizeof(paths[LD_SO]), "%s", LDSO);
	(void)src;
	return 0;
}

static int group_teardown(void **state)
{
	char *out;

	(void)state;
	if (dir[0]) {
		out = unit_run(NULL, "rm -rf '%s'", dir);
		free(out);
	}
	return 0;
}

static void load(int which, struct elf_info *info)
{
	int ret = elf_info_load(NULL, paths[which], info);

	if (ret)
		fail_msg("elf_info_load(%s) = %d", paths[which], ret);
}

/* ---- readelf as the independent source ---- */

struct rrel {
	uint64_t off, addend;
	uint32_t type;
	char sym[128], ver[64];
};

/* JUMP_SLOT / GLOB_DAT / IRELATIVE entries `readelf -rW` lists, and the RELA total. */
static struct rrel *readelf_relocs(const char *path, size_t *n, size_t *rela_total)
{
	char *out = unit_run(NULL, "readelf -rW '%s' 2>/dev/null", path), *line, *save = NULL;
	struct rrel *v = NULL;
	bool in_rela = false;

	*n = *rela_total = 0;
	assert_non_null(out);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char sec[64], type[48], a[160], b[160];
		unsigned long long off, info;
		unsigned int cnt;
		struct rrel r;
		int k;

		if (sscanf(line, "Relocation section '%63[^']' at offset %*s contains %u", sec, &cnt) == 2) {
			in_rela = !strncmp(sec, ".rela", 5);
			if (in_rela)
				*rela_total += cnt;
			continue;
		}
		k = sscanf(line, "%llx %llx %47s %159s %159s", &off, &info, type, a, b);
		if (k < 4 || !in_rela)
			continue;
		memset(&r, 0, sizeof(r));
		r.off = off;
		if (!strcmp(type, "R_X86_64_IRELATIVE")) {
			r.type = R_X86_64_IRELATIVE;
			r.addend = strtoull(a, NULL, 16);
		} else if (!strcmp(type, "R_X86_64_JUMP_SLOT") || !strcmp(type, "R_X86_64_GLOB_DAT") ||
			   !strcmp(type, "R_X86_64_64")) {
			const char *plus = strstr(line, " + ");
			char *at;

			if (k < 5)
				continue;	/* no symbol */
			/* R_X86_64_64: recorded with a symbol and addend 0 (a function pointer in data) */
			if (type[9] == '6' && (!plus || strtoull(plus + 3, NULL, 16) != 0))
				continue;
			r.type = type[9] == 'J' ? R_X86_64_JUMP_SLOT : type[9] == '6' ? R_X86_64_64 : R_X86_64_GLOB_DAT;
			snprintf(r.sym, sizeof(r.sym), "%.127s", b);
			at = strchr(r.sym, '@');
			if (at) {
				snprintf(r.ver, sizeof(r.ver), "%s", strrchr(r.sym, '@') + 1);
				*at = 0;
			}
		} else {
			continue;
		}
		v = realloc(v, (*n + 1) * sizeof(*v));
		assert_non_null(v);
		v[(*n)++] = r;
	}
	free(out);
	return v;
}

struct rsym {
	uint64_t value, size;
	char type[16], name[160];
};

/* `readelf -sW` (or --dyn-syms) lines whose name is exactly @name (with @version). */
static int readelf_sym(const char *path, bool dyn, const char *name, struct rsym *out)
{
	char *txt = unit_run(NULL, "readelf %s -W '%s' 2>/dev/null", dyn ? "--dyn-syms" : "-s", path), *line,
	     *save = NULL;
	int found = 0;

	assert_non_null(txt);
	for (line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct rsym s;
		unsigned long long v, sz;

		if (sscanf(line, "%*u: %llx %llu %15s %*s %*s %*s %159s", &v, &sz, s.type, s.name) != 4)
			continue;
		if (strcmp(s.name, name))
			continue;
		s.value = v;
		s.size = sz;
		*out = s;
		found = 1;
		break;
	}
	free(txt);
	return found;
}

/* A section's address and size from `readelf -SW`; 0 if absent. */
static int readelf_section(const char *path, const char *name, uint64_t *addr, uint64_t *size)
{
	char *txt = unit_run(NULL, "readelf -SW '%s' 2>/dev/null", path), *line, *save = NULL;
	int found = 0;

	assert_non_null(txt);
	for (line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = strchr(line, ']'), n[64], t[32];
		unsigned long long a, o, s;

		if (!p || sscanf(p + 1, "%63s %31s %llx %llx %llx", n, t, &a, &o, &s) != 5 || strcmp(n, name))
			continue;
		*addr = a;
		*size = s;
		found = 1;
		break;
	}
	free(txt);
	return found;
}

/* ---- flags, relocations, build-ids ---- */

static void flags_match_readelf(void **state)
{
	static const struct {
		int file;
		bool pie, exec, now;
	} want[] = {
		{ PIE_LAZY, true, false, false },
		{ PIE_NOW, true, false, true },
		{ NOPIE, false, true, false },
		{ LIB, false, false, false },
	};

	(void)state;
	for (int i = 0; i < N_FILES; i++) {
		char *d = unit_run(NULL, "readelf -dW '%s' 2>/dev/null", paths[i]);
		char *h = unit_run(NULL, "readelf -hW '%s' 2>/dev/null", paths[i]);
		char *f1 = strstr(d, "(FLAGS_1)"), *fl = strstr(d, "(FLAGS)");
		bool pie = f1 && strstr(f1, " PIE") && strchr(f1, '\n') > strstr(f1, " PIE");
		bool now = (f1 && strstr(f1, " NOW") && strchr(f1, '\n') > strstr(f1, " NOW")) ||
			   (fl && strstr(fl, "BIND_NOW") && strchr(fl, '\n') > strstr(fl, "BIND_NOW")) ||
			   strstr(d, "(BIND_NOW)");
		bool exec = strstr(h, "EXEC (Executable file)") != NULL;
		struct elf_info info;

		load(i, &info);
		if (info.is_pie != pie || info.is_exec != exec || info.bind_now != now)
			fail_msg("%s: pie %d exec %d now %d, readelf says %d %d %d", paths[i], info.is_pie, info.is_exec,
				 info.bind_now, pie, exec, now);
		for (size_t k = 0; k < ARRAY_SIZE(want); k++)
			if (want[k].file == i &&
			    (info.is_pie != want[k].pie || info.is_exec != want[k].exec || info.bind_now != want[k].now))
				fail_msg("%s built with other flags than the test asked for", paths[i]);
		elf_info_free(&info);
		free(d);
		free(h);
	}
}

static void relocs_match_readelf(void **state)
{
	(void)state;
	for (int i = 0; i < N_FILES; i++) {
		struct elf_info info;
		size_t n, total;
		struct rrel *r = readelf_relocs(paths[i], &n, &total);

		load(i, &info);
		if (info.relocs_seen != total)
			fail_msg("%s: %zu relocations examined, readelf's .rela sections hold %zu", paths[i],
				 info.relocs_seen, total);
		if (info.n_relocs != n)
			fail_msg("%s: %zu relocations recorded, readelf lists %zu JUMP_SLOT/GLOB_DAT/IRELATIVE/64",
				 paths[i], info.n_relocs, n);
		for (size_t k = 0; k < n; k++) {
			const struct elf_reloc *e = NULL;

			for (size_t j = 0; j < info.n_relocs && !e; j++)
				if (info.relocs[j].offset == r[k].off)
					e = &info.relocs[j];
			if (!e)
				fail_msg("%s: no relocation at %#llx", paths[i], (unsigned long long)r[k].off);
			assert_int_equal(e->type, r[k].type);
			if (r[k].type == R_X86_64_IRELATIVE) {
				assert_int_equal((uint64_t)e->addend, r[k].addend);
				assert_null(e->sym);
				continue;
			}
			assert_non_null(e->sym);
			if (strcmp(e->sym, r[k].sym) || strcmp(e->version ?: "", r[k].ver))
				fail_msg("%s at %#llx: %s@%s, readelf says %s@%s", paths[i], (unsigned long long)r[k].off,
					 e->sym, e->version ?: "", r[k].sym, r[k].ver);
		}
		elf_info_free(&info);
		free(r);
	}
}

static size_t count_type(const struct elf_info *info, uint32_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < info->n_relocs; i++)
		n += info->relocs[i].type == type;
	return n;
}

static const struct elf_reloc *reloc_named(const struct elf_info *info, uint32_t type, const char *sym)
{
	for (size_t i = 0; i < info->n_relocs; i++)
		if (info->relocs[i].type == type && info->relocs[i].sym && !strcmp(info->relocs[i].sym, sym))
			return &info->relocs[i];
	return NULL;
}

/* Two target_clones functions: two IRELATIVE slots, each naming its ".resolver". */
static void irelative_in_programs(void **state)
{
	(void)state;
	for (int i = PIE_LAZY; i <= NOPIE; i++) {
		struct elf_info info;
		const struct elf_symbol *ra, *rb;

		load(i, &info);
		assert_int_equal(count_type(&info, R_X86_64_IRELATIVE),
				 unit_readelf_reloc_count(paths[i], "R_X86_64_IRELATIVE"));
		assert_int_equal(count_type(&info, R_X86_64_IRELATIVE), 2);
		ra = elf_sym_named(&info, "kernel_a.resolver");
		rb = elf_sym_named(&info, "kernel_b.resolver");
		assert_non_null(ra);
		assert_non_null(rb);
		for (size_t k = 0; k < info.n_relocs; k++)
			if (info.relocs[k].type == R_X86_64_IRELATIVE)
				assert_true((uint64_t)info.relocs[k].addend == ra->value ||
					    (uint64_t)info.relocs[k].addend == rb->value);
		elf_info_free(&info);
	}
}

static void jump_slots_named(void **state)
{
	struct elf_info info;
	const struct elf_reloc *r;

	(void)state;
	load(PIE_LAZY, &info);
	r = reloc_named(&info, R_X86_64_JUMP_SLOT, "strlen");
	assert_non_null(r);
	assert_string_equal(r->version, "GLIBC_2.2.5");
	r = reloc_named(&info, R_X86_64_JUMP_SLOT, "memcpy");
	assert_non_null(r);
	assert_string_equal(r->version, "GLIBC_2.14");
	assert_non_null(reloc_named(&info, R_X86_64_JUMP_SLOT, "puts"));
	assert_non_null(reloc_named(&info, R_X86_64_JUMP_SLOT, "printf"));
	/* slots live in .got.plt, right after GOT[0..2] */
	assert_true(r->offset > info.pltgot + 16);
	elf_info_free(&info);
}

static void build_ids_match_readelf(void **state)
{
	(void)state;
	for (int i = 0; i < N_FILES; i++) {
		char want[160], got[160];
		struct elf_info info;

		unit_readelf_build_id(paths[i], want, sizeof(want));
		load(i, &info);
		unit_hex(info.build_id, info.build_id_len, got, sizeof(got));
		if (strcmp(want, got))
			fail_msg("%s: build-id %s, readelf -n says %s", paths[i], got, want);
		if (i != LD_SO)
			assert_true(info.build_id_len >= 16);
		elf_info_free(&info);
	}
}

/* ---- symbols ---- */

static void shared_lib_exports_ifunc(void **state)
{
	struct elf_info info;
	const struct elf_symbol *s;
	struct rsym r;

	(void)state;
	load(LIB, &info);
	s = elf_dynsym_find(&info, "lib_fn", NULL);
	assert_non_null(s);
	assert_int_equal(s->type, STT_GNU_IFUNC);
	assert_true(s->defined);
	assert_null(s->version);
	assert_true(readelf_sym(paths[LIB], true, "lib_fn", &r));
	assert_string_equal(r.type, "IFUNC");
	assert_int_equal(s->value, r.value);
	s = elf_dynsym_find(&info, "lib_call", NULL);
	assert_non_null(s);
	assert_int_equal(s->type, STT_FUNC);
	assert_null(elf_dynsym_find(&info, "lib_fn.avx2", NULL));	/* local: not exported */
	assert_non_null(elf_sym_named(&info, "lib_fn.avx2"));
	assert_false(info.syms_from_debug);
	elf_info_free(&info);
}

static void stripped_lib_names_from_dynsym(void **state)
{
	struct elf_info info;
	const struct elf_symbol *s;
	uint64_t a, sz;

	(void)state;
	assert_false(readelf_section(paths[LIB_STRIPPED], ".symtab", &a, &sz));
	load(LIB_STRIPPED, &info);
	assert_false(info.syms_from_debug);
	assert_int_equal(info.n_syms, info.n_dynsyms);
	s = elf_sym_named(&info, "lib_fn");
	assert_non_null(s);
	assert_non_null(elf_sym_at(&info, s->value + 1));
	assert_int_equal(elf_sym_at(&info, s->value + 1)->value, s->value);	/* lib_fn or its .resolver alias */
	assert_null(elf_sym_named(&info, "lib_fn.avx2"));
	for (size_t i = 1; i < info.n_syms; i++)
		assert_true(info.syms[i - 1].value <= info.syms[i].value);
	elf_info_free(&info);
}

static void symtab_matches_readelf(void **state)
{
	static const char *const names[] = { "kernel_a.avx2", "kernel_a.sse4_2", "kernel_a.default", "kernel_a.resolver",
					     "kernel_b.avx512f", "kernel_b.default", "main", "marker" };
	struct elf_info info;

	(void)state;
	load(PIE_LAZY, &info);
	assert_false(info.syms_from_debug);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const struct elf_symbol *s = elf_sym_named(&info, names[i]);
		struct rsym r;

		assert_true(readelf_sym(paths[PIE_LAZY], false, names[i], &r));
		if (!s)
			fail_msg("%s: no symbol %s", paths[PIE_LAZY], names[i]);
		assert_int_equal(s->value, r.value);
		assert_int_equal(s->size, r.size);
		assert_int_equal(s->type, strcmp(r.type, "OBJECT") ? STT_FUNC : STT_OBJECT);
		if (s->type == STT_FUNC && s->size > 1) {
			const struct elf_symbol *at = elf_sym_at(&info, s->value + s->size - 1);

			assert_non_null(at);
			assert_int_equal(at->value, s->value);
		}
	}
	for (size_t i = 1; i < info.n_syms; i++)
		assert_true(info.syms[i - 1].value <= info.syms[i].value);
	elf_info_free(&info);
}

/* ---- layout: segments, sections, file offsets ---- */

static void segments_match_readelf(void **state)
{
	(void)state;
	for (int i = 0; i < N_FILES; i++) {
		char *txt = unit_run(NULL, "readelf -lW '%s' 2>/dev/null", paths[i]), *line, *save = NULL;
		struct elf_info info;
		size_t k = 0;

		load(i, &info);
		for (line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			unsigned long long off, va, pa, fs, ms;
			char flags[8] = "";
			int prot;

			if (sscanf(line, " LOAD %llx %llx %llx %llx %llx %7[RWE ]", &off, &va, &pa, &fs, &ms, flags) < 5)
				continue;
			assert_true(k < info.n_segs);
			assert_int_equal(info.segs[k].offset, off);
			assert_int_equal(info.segs[k].vaddr, va);
			assert_int_equal(info.segs[k].filesz, fs);
			assert_int_equal(info.segs[k].memsz, ms);
			prot = (strchr(flags, 'R') ? PROT_READ : 0) | (strchr(flags, 'W') ? PROT_WRITE : 0) |
			       (strchr(flags, 'E') ? PROT_EXEC : 0);
			assert_int_equal(info.segs[k].prot, prot);
			if (k == 0)
				assert_int_equal(elf_first_load_vaddr(&info), va & ~0xfffULL);
			k++;
		}
		assert_int_equal(k, info.n_segs);
		elf_info_free(&info);
		free(txt);
	}
}

static void dynamic_pltgot_plt(void **state)
{
	(void)state;
	for (int i = 0; i < N_FILES; i++) {
		char *d = unit_run(NULL, "readelf -dW '%s' 2>/dev/null", paths[i]), *p = strstr(d, "(PLTGOT)");
		uint64_t a, s, lo = 0, hi = 0;
		struct elf_info info;

		load(i, &info);
		assert_int_equal(info.pltgot, p ? strtoull(p + 8, NULL, 16) : 0);
		assert_true(readelf_section(paths[i], ".dynamic", &a, &s));
		assert_int_equal(info.dynamic, a);
		if (readelf_section(paths[i], ".plt", &a, &s))
			lo = a, hi = a + s;
		if (readelf_section(paths[i], ".plt.sec", &a, &s)) {
			lo = lo && lo < a ? lo : a;
			hi = hi > a + s ? hi : a + s;
		}
		assert_int_equal(info.plt_start, lo);
		assert_int_equal(info.plt_end, hi);
		elf_info_free(&info);
		free(d);
	}
}

static void vaddr_to_file_offset(void **state)
{
	static const char want[] = "cpuport-unit-marker: 0123456789";
	for (int i = PIE_LAZY; i <= NOPIE; i++) {
		struct elf_info info;
		const struct elf_symbol *m, *bss;
		char got[sizeof(want)];
		int64_t off;
		int fd;

		load(i, &info);
		m = elf_sym_named(&info, "marker");
		assert_non_null(m);
		off = elf_vaddr_to_offset(&info, m->value, sizeof(want));
		assert_true(off > 0);
		fd = open(paths[i], O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, got, sizeof(got), off), sizeof(got));
		close(fd);
		assert_memory_equal(got, want, sizeof(want));
		bss = elf_sym_named(&info, "bss_buf");
		assert_non_null(bss);
		assert_int_equal(elf_vaddr_to_offset(&info, bss->value, 16), -1);	/* .bss: not in the file */
		assert_int_equal(elf_vaddr_to_offset(&info, 0x7fff00000000ULL, 8), -1);
		assert_int_equal(elf_first_load_vaddr(&info), i == NOPIE ? 0x400000 : 0);
		elf_info_free(&info);
	}
	(void)state;
}

/* ---- glibc ---- */

static void libc_irelative_and_version(void **state)
{
	struct elf_info info;
	long want = unit_readelf_reloc_count(paths[LIBC], "R_X86_64_IRELATIVE");

	(void)state;
	assert_true(want > 0);
	load(LIBC, &info);
	print_message("%s: %ld IRELATIVE (readelf), glibc %s\n", paths[LIBC], want, gnu_get_libc_version());
	assert_int_equal(count_type(&info, R_X86_64_IRELATIVE), want);
	assert_string_equal(info.glibc_version, gnu_get_libc_version());
	assert_false(info.is_pie);
	assert_false(info.is_exec);
	elf_info_free(&info);
	load(LD_SO, &info);
	assert_string_equal(info.glibc_version, gnu_get_libc_version());
	assert_non_null(elf_dynsym_find(&info, "_dl_x86_get_cpu_features", NULL));
	assert_non_null(elf_dynsym_find(&info, "_rtld_global_ro", "GLIBC_PRIVATE"));
	elf_info_free(&info);
	for (int i = PIE_LAZY; i <= LIB_STRIPPED; i++) {
		load(i, &info);
		assert_string_equal(info.glibc_version, "");
		elf_info_free(&info);
	}
}

static void libc_versioned_lookup(void **state)
{
	struct elf_info info;
	const struct elf_symbol *old, *cur, *dflt;
	struct rsym r_old, r_cur;

	(void)state;
	load(LIBC, &info);
	old = elf_dynsym_find(&info, "memcpy", "GLIBC_2.2.5");
	cur = elf_dynsym_find(&info, "memcpy", "GLIBC_2.14");
	dflt = elf_dynsym_find(&info, "memcpy", NULL);
	assert_non_null(old);
	assert_non_null(cur);
	assert_ptr_equal(dflt, cur);
	assert_int_not_equal(old->value, cur->value);
	assert_true(old->hidden_version);
	assert_false(cur->hidden_version);
	assert_string_equal(old->version, "GLIBC_2.2.5");
	assert_string_equal(cur->version, "GLIBC_2.14");
	assert_true(readelf_sym(paths[LIBC], true, "memcpy@GLIBC_2.2.5", &r_old));
	assert_true(readelf_sym(paths[LIBC], true, "memcpy@@GLIBC_2.14", &r_cur));
	assert_int_equal(old->value, r_old.value);
	assert_int_equal(cur->value, r_cur.value);
	assert_int_equal(old->type, strcmp(r_old.type, "IFUNC") ? STT_FUNC : STT_GNU_IFUNC);
	assert_int_equal(cur->type, strcmp(r_cur.type, "IFUNC") ? STT_FUNC : STT_GNU_IFUNC);
	assert_null(elf_dynsym_find(&info, "no_such_symbol_here", NULL));
	elf_info_free(&info);
}

/*
 * A reference to a version the object does not define does not bind to it
 * (ld.so's check_match: a versioned reference only falls back to an
 * unversioned definition).  elf_dynsym_find()'s comment: "Exact version,
 * or when @version is NULL the default one".
 */
static void unknown_version_not_found(void **state)
{
	struct elf_info info;
	const struct elf_symbol *s;

	(void)state;
	load(LIBC, &info);
	s = elf_dynsym_find(&info, "memcpy", "GLIBC_9.99");
	if (s) {
		char v[64];

		snprintf(v, sizeof(v), "%s", s->version ?: "(none)");
		elf_info_free(&info);
		fail_msg("memcpy@GLIBC_9.99 found in libc: returned memcpy@%s", v);
	}
	elf_info_free(&info);
}

static void libc_debug_symbols(void **state)
{
	char id[160], dbg[512];
	struct elf_info info;
	const struct elf_symbol *s, *at;
	struct rsym r;

	(void)state;
	unit_readelf_build_id(paths[LIBC], id, sizeof(id));
	assert_true(strlen(id) > 2);
	snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
	if (access(dbg, R_OK))
		UNIT_SKIP("%s missing: install libc6-dbg for variant names", dbg);
	load(LIBC, &info);
	elf_info_debug_from(NULL, &info, "");	/* our own root */
	assert_true(info.syms_from_debug);
	s = elf_sym_named(&info, "__memmove_avx_unaligned_erms");
	assert_non_null(s);
	assert_true(readelf_sym(dbg, false, "__memmove_avx_unaligned_erms", &r));
	assert_int_equal(s->value, r.value);
	at = elf_sym_at(&info, s->value + 5);
	assert_non_null(at);
	assert_int_equal(at->value, s->value);	/* that variant, under one of its names */
	assert_non_null(elf_sym_named(&info, "__strlen_sse2"));
	elf_info_free(&info);
}

/* ---- bad input ---- */

static void not_elf_rejected(void **state)
{
	char path[600];
	struct elf_info info;

	(void)state;
	snprintf(path, sizeof(path), "%s/prog.c", dir);
	assert_int_equal(elf_info_load(NULL, path, &info), -ENOEXEC);
	assert_int_equal(info.n_relocs, 0);
	assert_null(info.relocs);
	assert_int_equal(elf_info_load(NULL, "/nonexistent/file", &info), -ENOENT);	/* not "Exec format error" */
	assert_int_equal(elf_info_load(NULL, "/dev/null", &info), -ENOEXEC);
	snprintf(path, sizeof(path), "%s/empty", dir);
	assert_int_equal(write_file(path, ""), 0);
	assert_int_equal(elf_info_load(NULL, path, &info), -ENOEXEC);
	/* the first 64 bytes of a real ELF: a header and nothing behind it */
	{
		char *o = unit_run(NULL, "head -c 64 '%s' > '%s/trunc'", paths[LIB], dir);

		free(o);
		snprintf(path, sizeof(path), "%s/trunc", dir);
		assert_true(elf_info_load(NULL, path, &info) < 0);
	}
}

/*
 * Seeded byte flips of the shared library: the reader may refuse a file but
 * must not crash or return nonsense.  Runs in a child so a crash is reported
 * with the iteration that caused it.
 */
static void corrupted_elf_survives(void **state)
{
	volatile int *progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fd = open(paths[LIB], O_RDONLY), st;
	struct stat sb;
	uint8_t *orig;
	uint64_t shoff;
	pid_t pid;

	(void)state;
	assert_true(progress != MAP_FAILED);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	orig = malloc(sb.st_size);
	assert_non_null(orig);
	assert_int_equal(read(fd, orig, sb.st_size), sb.st_size);
	close(fd);
	shoff = ((Elf64_Ehdr *)orig)->e_shoff;
	assert_true(shoff > 0 && shoff < (uint64_t)sb.st_size);
	progress[0] = progress[1] = progress[2] = 0;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t x = 0x243f6a8885a308d3ULL;
		uint8_t *m = malloc(sb.st_size);
		int mfd = memfd_create("corrupt-elf", 0);
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/fd/%d", mfd);
		int iters = getenv("UNIT_ELF_FLIPS") ? atoi(getenv("UNIT_ELF_FLIPS")) : 600;

		for (int it = 0; it < iters; it++) {
			struct elf_info info;
			int flips;

			memcpy(m, orig, sb.st_size);
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			flips = 1 + x % 4;
			for (int k = 0; k < flips; k++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				/* where the structure is: ELF and program headers, section headers, or anywhere */
				size_t pos = it % 3 == 0 ? x % 1024 : it % 3 == 1 ? shoff + x % (sb.st_size - shoff)
										 : x % sb.st_size;

				m[pos] ^= 1 + (x >> 32) % 255;
			}
			progress[0] = it;
			if (ftruncate(mfd, 0) || pwrite(mfd, m, sb.st_size, 0) != sb.st_size)
				_exit(3);
			if (elf_info_load(NULL, p, &info) == 0) {
				/* nothing beyond what the file can hold */
				if (info.n_relocs > (size_t)sb.st_size / 24 || info.n_dynsyms > (size_t)sb.st_size / 24 ||
				    info.n_segs > ARRAY_SIZE(info.segs))
					_exit(4);
				for (size_t i = 0; i < info.n_dynsyms; i++)
					if (!info.dynsyms[i].name || strlen(info.dynsyms[i].name) > (size_t)sb.st_size)
						_exit(5);
				progress[1]++;
				elf_info_free(&info);
			} else {
				progress[2]++;
			}
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	print_message("corrupted ELF: %d loaded, %d refused\n", progress[1], progress[2]);
	if (WIFSIGNALED(st))
		fail_msg("elf_info_load crashed (signal %d) on corrupted copy #%d of %s", WTERMSIG(st), progress[0],
			 paths[LIB]);
	if (WEXITSTATUS(st))
		fail_msg("corrupted copy #%d of %s: check %d failed", progress[0], paths[LIB], WEXITSTATUS(st));
	free(orig);
	munmap((void *)progress, 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flags_match_readelf),
		cmocka_unit_test(relocs_match_readelf),
		cmocka_unit_test(irelative_in_programs),
		cmocka_unit_test(jump_slots_named),
		cmocka_unit_test(build_ids_match_readelf),
		cmocka_unit_test(shared_lib_exports_ifunc),
		cmocka_unit_test(stripped_lib_names_from_dynsym),
		cmocka_unit_test(symtab_matches_readelf),
		cmocka_unit_test(segments_match_readelf),
		cmocka_unit_test(dynamic_pltgot_plt),
		cmocka_unit_test(vaddr_to_file_offset),
		cmocka_unit_test(libc_irelative_and_version),
		cmocka_unit_test(libc_versioned_lookup),
		cmocka_unit_test(unknown_version_not_found),
		cmocka_unit_test(libc_debug_symbols),
		cmocka_unit_test(not_elf_rejected),
		cmocka_unit_test(corrupted_elf_survives),
	};
	char src[128];
	int st, ret;
	char *o;

	o = unit_run(&st, "command -v cc && command -v readelf");
	free(o);
	if (st)
		UNIT_SKIP_ALL("needs cc and readelf (binutils) to build and inspect its ELF files");
	find_libc();
	if (!libc_path[0] || access(LDSO, R_OK))
		UNIT_SKIP_ALL("no libc.so.6 mapped in this process or no %s", LDSO);
	snprintf(dir, sizeof(dir), "/tmp/cpuport-unit-elf.XXXXXX");
	if (!mkdtemp(dir))
		UNIT_SKIP_ALL("cannot create a temporary directory: %s", strerror(errno));
	snprintf(src, sizeof(src), "%s/prog.c", dir);
	write_file(src, prog_c);
	snprintf(src, sizeof(src), "%s/lib.c", dir);
	write_file(src, lib_c);
	cmocka_set_message_output(CM_OUTPUT_TAP);
	ret = cmocka_run_group_tests_name("elf_scan", tests, group_setup, group_teardown);
	return ret;
}
