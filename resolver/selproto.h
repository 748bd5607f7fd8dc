/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cpuport-select protocol, in one place: the library (select.c) encodes
 * requests and decodes answers, the helper (select_helper.c) decodes requests
 * and encodes answers, both through these functions.  libc only: the helper
 * links it too.  One line per message, words separated by one space.
 *
 * Requests (library -> helper, on the helper's stdin):
 *   interp I | dso I PATH | exe I PATH | seg I OFF VADDR FILESZ MEMSZ PROT
 *   map I | guard I OFF | mask W0 [W1 .. W7] (hex) | model I OFF SIZE F2OFF F2SIZE [INITOFF]
 *   call N I OFF | read N I OFF SIZE | ptr N I OFF | go
 * Answers (helper -> library, on its stdout):
 *   glibc VER | ids UID GID NNP | base I ADDR
 *   res N I OFF | res N fault SIG | res N outside ADDR | res N unavailable
 *   bytes N HEX | bytes N unavailable
 *   ptr N I OFF | ptr N null | ptr N outside ADDR | ptr N unavailable
 *   cpu_features I OFF | trampoline I OFF | error TEXT | sandbox TEXT | done
 * Answers go to the fd named by CPUPORT_SELECT_ANSWER_FD (stdout is /dev/null:
 * library constructors that print cannot add lines).
 *
 * The decoders are strict: a line longer than SELP_MAX_LINE, an unknown
 * word, a missing or extra argument, a number that does not parse, or an
 * object index >= the caller's limit is -EBADMSG.  The library treats any
 * of these as a failed selection (the restore fails closed).
 */
#ifndef CPUPORT_SELPROTO_H
#define CPUPORT_SELPROTO_H

#include <stdint.h>
#include <stdio.h>

#define SELP_MAX_READ 4096			/* largest "read" the helper answers */
#define SELP_MAX_LINE (2 * SELP_MAX_READ + 64)	/* "bytes N HEX\n" fits */
#define SELP_MAX_OBJS (1u << 20)		/* object indexes are below this */
#define SELP_MAX_SEGS 16				/* seg lines per executable */
#define SELP_MAX_MASK 8

enum selp_word {
	SELP_BAD = 0,
	/* requests */
	SELP_INTERP, SELP_DSO, SELP_EXE, SELP_SEG, SELP_MAP, SELP_GUARD, SELP_MASK, SELP_MODEL,
	SELP_CALL, SELP_READ, SELP_PTR, SELP_GO,
	/* answers */
	SELP_GLIBC, SELP_IDS, SELP_BASE,
	SELP_RES, SELP_RES_FAULT, SELP_RES_OUTSIDE, SELP_RES_UNAVAILABLE,
	SELP_BYTES, SELP_BYTES_UNAVAILABLE,
	SELP_PTR_ANS, SELP_PTR_NULL, SELP_PTR_OUTSIDE, SELP_PTR_UNAVAILABLE,
	SELP_CPU_FEATURES, SELP_TRAMPOLINE, SELP_ERROR, SELP_DONE,
	SELP_SANDBOX,		/* what the helper runs with (debug lines: ids, capabilities, namespaces) */
};

/* One decoded line.  text points into the decoded line (PATH, VER, HEX, TEXT). */
struct selp_msg {
	enum selp_word word;
	uint32_t n;		/* request number (call/read/ptr, res/bytes/ptr answers) */
	uint32_t obj;		/* object index (< the decoder's limit) */
	uint64_t arg[SELP_MAX_MASK];	/* further numbers, in line order */
	unsigned int n_arg;
	const char *text;
	size_t text_len;
};

/*
 * Decode one line (with or without its '\n'; the line is not modified).
 * @max_obj: object indexes must be below it.  0 or -EBADMSG.
 */
int selp_decode_request(const char *line, uint32_t max_obj, struct selp_msg *m);
int selp_decode_answer(const char *line, uint32_t max_obj, struct selp_msg *m);
/* Hex text of a "bytes" answer into @out (@len bytes exactly); 0 or -EBADMSG. */
int selp_decode_hex(const char *hex, size_t hex_len, uint8_t *out, size_t len);

/* Encoders: one line each on @f. */
void selp_put_interp(FILE *f, uint32_t obj);
void selp_put_dso(FILE *f, uint32_t obj, const char *path);
void selp_put_exe(FILE *f, uint32_t obj, const char *path);
void selp_put_seg(FILE *f, uint32_t obj, uint64_t off, uint64_t vaddr, uint64_t filesz, uint64_t memsz, int prot);
void selp_put_map(FILE *f, uint32_t obj);
void selp_put_guard(FILE *f, uint32_t obj, uint64_t off);
void selp_put_mask(FILE *f, const uint32_t *words, unsigned int n);
void selp_put_model(FILE *f, uint32_t obj, uint64_t off, uint64_t size, uint64_t f2_off, uint64_t f2_size,
		    uint64_t init_off);
void selp_put_call(FILE *f, uint32_t n, uint32_t obj, uint64_t off);
void selp_put_read(FILE *f, uint32_t n, uint32_t obj, uint64_t off, uint32_t size);
void selp_put_ptr(FILE *f, uint32_t n, uint32_t obj, uint64_t off);
void selp_put_go(FILE *f);

void selp_put_glibc(FILE *f, const char *version);
void selp_put_ids(FILE *f, unsigned int uid, unsigned int gid, int no_new_privs);
void selp_put_base(FILE *f, uint32_t obj, uint64_t addr);
/* word: "res" or "ptr" */
void selp_put_answer(FILE *f, const char *word, uint32_t n, uint32_t obj, uint64_t off);
void selp_put_fault(FILE *f, uint32_t n, int sig);
void selp_put_outside(FILE *f, const char *word, uint32_t n, uint64_t addr);
void selp_put_unavailable(FILE *f, const char *word, uint32_t n);
void selp_put_null(FILE *f, uint32_t n);
void selp_put_bytes(FILE *f, uint32_t n, const uint8_t *p, uint64_t len);
void selp_put_rtld(FILE *f, const char *word, uint32_t obj, uint64_t off);	/* cpu_features / trampoline */
void selp_put_error(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void selp_put_sandbox(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void selp_put_done(FILE *f);

#endif
