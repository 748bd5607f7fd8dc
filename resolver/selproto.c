// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The cpuport-select protocol's encoder and decoder (see selproto.h).
 * Built into both the library and the helper; libc only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "selproto.h"

/*
 * One grammar line per message.  Spec words: a lowercase word is a literal;
 * N request number, I object index, u decimal u64, d decimal int, x hex u64
 * (optional 0x), T one word of text, R the rest of the line (may hold
 * spaces), H even-length lowercase hex; '[' makes what follows optional.
 */
struct grammar {
	enum selp_word word;
	const char *spec;
};

static const struct grammar requests[] = {
	{ SELP_INTERP, "interp I" },
	{ SELP_DSO, "dso I T" },
	{ SELP_EXE, "exe I T" },
	{ SELP_SEG, "seg I u u u u d" },
	{ SELP_MAP, "map I" },
	{ SELP_GUARD, "guard I u" },
	{ SELP_MASK, "mask [ x x x x x x x x" },
	{ SELP_MODEL, "model I u u u u [ u" },
	{ SELP_CALL, "call N I u" },
	{ SELP_READ, "read N I u u" },
	{ SELP_PTR, "ptr N I u" },
	{ SELP_GO, "go" },
	{ SELP_BAD, NULL },
};

static const struct grammar answers[] = {
	{ SELP_GLIBC, "glibc T" },
	{ SELP_IDS, "ids u u d" },
	{ SELP_BASE, "base I x" },
	{ SELP_RES_FAULT, "res N fault d" },
	{ SELP_RES_OUTSIDE, "res N outside x" },
	{ SELP_RES_UNAVAILABLE, "res N unavailable" },
	{ SELP_RES, "res N I u" },
	{ SELP_BYTES_UNAVAILABLE, "bytes N unavailable" },
	{ SELP_BYTES, "bytes N H" },
	{ SELP_PTR_NULL, "ptr N null" },
	{ SELP_PTR_OUTSIDE, "ptr N outside x" },
	{ SELP_PTR_UNAVAILABLE, "ptr N unavailable" },
	{ SELP_PTR_ANS, "ptr N I u" },
	{ SELP_CPU_FEATURES, "cpu_features I u" },
	{ SELP_TRAMPOLINE, "trampoline I u" },
	{ SELP_ERROR, "error R" },
	{ SELP_SANDBOX, "sandbox R" },
	{ SELP_DONE, "done" },
	{ SELP_BAD, NULL },
};

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A number spanning exactly [s, e); base 10 or 16 (16: optional 0x). */
static bool number(const char *s, const char *e, int base, bool sign, uint64_t *out)
{
	uint64_t v = 0;
	bool neg = false;

	if (sign && s < e && *s == '-')
		neg = true, s++;
	if (base == 16 && e - s > 2 && s[0] == '0' && s[1] == 'x')
		s += 2;
	if (s == e || e - s > (base == 16 ? 16 : 20))
		return false;
	for (; s < e; s++) {
		int d = base == 16 ? hexval(*s) : *s >= '0' && *s <= '9' ? *s - '0' : -1;

		if (d < 0 || v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (neg && v > INT32_MAX)
		return false;
	*out = neg ? (uint64_t)-(int64_t)v : v;
	return true;
}

static bool match(const char *spec, const char *line, size_t len, uint32_t max_obj, struct selp_msg *m)
{
	const char *p = line, *end = line + len;
	bool optional = false;

	memset(m, 0, sizeof(*m));
	while (*spec) {
		const char *se = strchr(spec, ' '), *we;
		size_t sl;
		uint64_t v;

		se = se ? se : spec + strlen(spec);
		sl = se - spec;
		if (sl == 1 && *spec == '[') {
			optional = true;
			spec = *se ? se + 1 : se;
			continue;
		}
		if (p == end && optional)
			return true;
		if (p > line && (p == end || *p++ != ' '))
			return false;
		if (sl == 1 && *spec == 'R') {
			m->text = p, m->text_len = end - p;
			return true;
		}
		we = memchr(p, ' ', end - p);
		we = we ? we : end;
		if (we == p)
			return false;
		if (sl > 1 || (*spec >= 'a' && *spec <= 'z' && *spec != 'u' && *spec != 'd' && *spec != 'x')) {
			if ((size_t)(we - p) != sl || memcmp(p, spec, sl))
				return false;
		} else if (*spec == 'T' || *spec == 'H') {
			if (*spec == 'H') {
				if ((we - p) % 2)
					return false;
				for (const char *c = p; c < we; c++)
					if (hexval(*c) < 0)
						return false;
			}
			m->text = p, m->text_len = we - p;
		} else if (!number(p, we, *spec == 'x' ? 16 : 10, *spec == 'd', &v)) {
			return false;
		} else if (*spec == 'N') {
			if (v > UINT32_MAX)
				return false;
			m->n = v;
		} else if (*spec == 'I') {
			if (v >= max_obj)
				return false;
			m->obj = v;
		} else {
			if (m->n_arg >= sizeof(m->arg) / sizeof(m->arg[0]))
				return false;
			m->arg[m->n_arg++] = v;
		}
		p = we;
		spec = *se ? se + 1 : se;
	}
	return p == end;
}

static int decode(const struct grammar *g, const char *line, uint32_t max_obj, struct selp_msg *m)
{
	size_t len = strnlen(line, SELP_MAX_LINE + 1);

	if (len > SELP_MAX_LINE)
		goto bad;
	if (len && line[len - 1] == '\n')
		len--;
	if (memchr(line, '\n', len))
		goto bad;
	for (; g->spec; g++)
		if (match(g->spec, line, len, max_obj, m)) {
			m->word = g->word;
			return 0;
		}
bad:
	memset(m, 0, sizeof(*m));
	return -EBADMSG;
}

int selp_decode_request(const char *line, uint32_t max_obj, struct selp_msg *m)
{
	return decode(requests, line, max_obj, m);
}

int selp_decode_answer(const char *line, uint32_t max_obj, struct selp_msg *m)
{
	return decode(answers, line, max_obj, m);
}

int selp_decode_hex(const char *hex, size_t hex_len, uint8_t *out, size_t len)
{
	if (hex_len != 2 * len)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EBADMSG;
		out[i] = hi << 4 | lo;
	}
	return 0;
}

void selp_put_interp(FILE *f, uint32_t obj)
{
	fprintf(f, "interp %u\n", obj);
}

void selp_put_dso(FILE *f, uint32_t obj, const char *path)
{
	fprintf(f, "dso %u %s\n", obj, path);
}

void selp_put_exe(FILE *f, uint32_t obj, const char *path)
{
	fprintf(f, "exe %u %s\n", obj, path);
}

void selp_put_seg(FILE *f, uint32_t obj, uint64_t off, uint64_t vaddr, uint64_t filesz, uint64_t memsz, int prot)
{
	fprintf(f, "seg %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %d\n", obj, off, vaddr, filesz, memsz, prot);
}

void selp_put_map(FILE *f, uint32_t obj)
{
	fprintf(f, "map %u\n", obj);
}

void selp_put_guard(FILE *f, uint32_t obj, uint64_t off)
{
	fprintf(f, "guard %u %" PRIu64 "\n", obj, off);
}

void selp_put_mask(FILE *f, const uint32_t *words, unsigned int n)
{
	fprintf(f, "mask");
	for (unsigned int k = 0; k < n && k < SELP_MAX_MASK; k++)
		fprintf(f, " %x", words[k]);
	fprintf(f, "\n");
}

void selp_put_model(FILE *f, uint32_t obj, uint64_t off, uint64_t size, uint64_t f2_off, uint64_t f2_size,
		    uint64_t init_off)
{
	fprintf(f, "model %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", obj, off, size, f2_off,
		f2_size, init_off);
}

void selp_put_call(FILE *f, uint32_t n, uint32_t obj, uint64_t off)
{
	fprintf(f, "call %u %u %" PRIu64 "\n", n, obj, off);
}

void selp_put_read(FILE *f, uint32_t n, uint32_t obj, uint64_t off, uint32_t size)
{
	fprintf(f, "read %u %u %" PRIu64 " %u\n", n, obj, off, size);
}

void selp_put_ptr(FILE *f, uint32_t n, uint32_t obj, uint64_t off)
{
	fprintf(f, "ptr %u %u %" PRIu64 "\n", n, obj, off);
}

void selp_put_go(FILE *f)
{
	fputs("go\n", f);
}

void selp_put_glibc(FILE *f, const char *version)
{
	fprintf(f, "glibc %s\n", version);
}

void selp_put_ids(FILE *f, unsigned int uid, unsigned int gid, int no_new_privs)
{
	fprintf(f, "ids %u %u %d\n", uid, gid, no_new_privs);
}

void selp_put_base(FILE *f, uint32_t obj, uint64_t addr)
{
	fprintf(f, "base %u %#" PRIx64 "\n", obj, addr);
}

void selp_put_answer(FILE *f, const char *word, uint32_t n, uint32_t obj, uint64_t off)
{
	fprintf(f, "%s %u %u %" PRIu64 "\n", word, n, obj, off);
}

void selp_put_fault(FILE *f, uint32_t n, int sig)
{
	fprintf(f, "res %u fault %d\n", n, sig);
}

void selp_put_outside(FILE *f, const char *word, uint32_t n, uint64_t addr)
{
	fprintf(f, "%s %u outside %#" PRIx64 "\n", word, n, addr);
}

void selp_put_unavailable(FILE *f, const char *word, uint32_t n)
{
	fprintf(f, "%s %u unavailable\n", word, n);
}

void selp_put_null(FILE *f, uint32_t n)
{
	fprintf(f, "ptr %u null\n", n);
}

void selp_put_bytes(FILE *f, uint32_t n, const uint8_t *p, uint64_t len)
{
	fprintf(f, "bytes %u ", n);
	for (uint64_t i = 0; i < len; i++)
		fprintf(f, "%02x", p[i]);
	fputc('\n', f);
}

void selp_put_rtld(FILE *f, const char *word, uint32_t obj, uint64_t off)
{
	fprintf(f, "%s %u %" PRIu64 "\n", word, obj, off);
}

void selp_put_error(FILE *f, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	text[strcspn(text, "\n")] = 0;	/* one line, always */
	fprintf(f, "error %s\n", text);
}

void selp_put_sandbox(FILE *f, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	text[strcspn(text, "\n")] = 0;	/* one line, always */
	fprintf(f, "sandbox %s\n", text);
}

void selp_put_done(FILE *f)
{
	fputs("done\n", f);
}
