/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Talking to cpuport-select (the protocol: selproto.h; running it: select.c). */
#ifndef CPUPORT_SELECT_H
#define CPUPORT_SELECT_H

#include <stdio.h>

#include "internal.h"
#include "selproto.h"

enum sel_status { SEL_MISSING, SEL_OK, SEL_FAULT, SEL_OUTSIDE };

struct sel_answer {
	enum sel_status status;
	int obj;		/* object index of the answer */
	uint64_t off;		/* object-relative result (or the signal for SEL_FAULT) */
	uint8_t *bytes;		/* for read requests */
	size_t len;
	enum selp_word asked;	/* SELP_CALL/READ/PTR; SELP_BAD: known from the cache */
	uint32_t size;		/* read requests: the size asked */
	bool answered;		/* a second answer to one request is malformed */
};

#define SEL_MAX_ENV 4

struct selection {
	pid_t pid;
	uint32_t n_objects;	/* answers name objects below this */
	FILE *req;
	char *req_buf;
	size_t req_len;
	struct sel_answer *ans;
	size_t n_ans;
	int *fds;		/* descriptors the helper inherits */
	size_t n_fds;
	int cpu_features_obj, tramp_obj;
	uint64_t cpu_features_off, tramp_off;
	char glibc[16];
	size_t pending;		/* requests that need the helper (not answered from the cache) */
	bool done;
	uint64_t ns;
	char *line;		/* the answer line being received */
	size_t line_len;
	char *env[SEL_MAX_ENV];	/* extra NAME=VALUE for the helper (sel_setenv) */
	size_t n_env;
	bool keep_transcript;	/* keep the helper's answer bytes as received (answer_store.c) */
	char *transcript;
	size_t transcript_len;
};

int sel_init(struct selection *s, uint32_t n_objects);
void sel_free(struct selection *s);
int sel_pass_fd(struct selection *s, int fd);
/* Add NAME=VALUE to the helper's environment (kinds' prepare hooks): 0, -EINVAL (full, no '='), -ENOMEM. */
int sel_setenv(struct selection *s, const char *name_value);
/* Decode answer bytes (whole lines; a partial line is kept): 0, -EBADMSG, -ENOMEM. */
int sel_feed(struct selection *s, struct cpuport_ctx *ctx, const char *buf, size_t len);
/* Queue a request; returns its number (index into ans) or -ENOMEM. */
int sel_call(struct selection *s, int obj, uint64_t off);
int sel_read(struct selection *s, int obj, uint64_t off, uint32_t size);
int sel_ptr(struct selection *s, int obj, uint64_t off);
/* An answer known without the helper (from the cache); returns its number or -ENOMEM. */
/* Forget every answer to a pending request (and ld.so's): as before any answer bytes were fed. */
void sel_forget_answers(struct selection *s);
int sel_known(struct selection *s, enum sel_status status, int obj, uint64_t off, const uint8_t *bytes,
	      size_t len);
/*
 * Run the helper through @interp_fd (the process's ld.so), sandboxed with the
 * privilege of @task (host pid; 0: none, cpuport check).
 */
int sel_run(struct selection *s, struct cpuport_ctx *ctx, int interp_fd, const char *library_path,
	    const char *tunables, pid_t task);

#endif
