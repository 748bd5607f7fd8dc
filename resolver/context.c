// SPDX-License-Identifier: LGPL-2.1-or-later
/* The context: logging callback, host and target CPU, helper settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "restore.h"

#ifndef CPUPORT_HELPER_PATH	/* the build says where `make install` puts the helper */
#error "CPUPORT_HELPER_PATH must be defined (Makefile: LIBEXECDIR)"
#endif

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void cpuport_log(struct cpuport_ctx *ctx, enum cpuport_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int saved = errno;

	if (!ctx || !ctx->print)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->log_demote && level == CPUPORT_LOG_ERROR)
		level = CPUPORT_LOG_DEBUG;
	ctx->print(level, msg, ctx->print_arg);
	errno = saved;
}

/* Reject options structs that set bytes past the fields we know. */
static bool opts_valid(const struct cpuport_ctx_opts *opts)
{
	size_t known = offsetofend(struct cpuport_ctx_opts, cpuport_ctx_opts__last_field);

	if (!opts)
		return true;
	if (opts->sz < sizeof(size_t))
		return false;
	for (size_t i = known; i < opts->sz; i++)
		if (((const char *)opts)[i])
			return false;
	return true;
}

static unsigned int parse_faults(struct cpuport_ctx *ctx, const char *spec)
{
	static const struct { const char *name; unsigned int bit; } names[] = {
		{ "helper-crash", FAULT_HELPER_CRASH }, { "helper-hang", FAULT_HELPER_HANG },
		{ "write", FAULT_WRITE }, { "nomem", FAULT_NOMEM },
		{ "sites-crash", FAULT_SITES_CRASH }, { "sites-hang", FAULT_SITES_HANG },
	};
	unsigned int faults = 0;

	for (size_t i = 0; spec && i < ARRAY_SIZE(names); i++)
		if (strstr(spec, names[i].name))
			faults |= names[i].bit;
	if (faults)
		log_warn(ctx, "fault injection active: %s\n", spec);
	return faults;
}

#define OPT(opts, field, dflt) \
	((opts) && (opts)->sz >= offsetofend(struct cpuport_ctx_opts, field) ? (opts)->field : (dflt))

struct cpuport_ctx *cpuport_ctx__new(const struct cpuport_ctx_opts *opts)
{
	struct cpuport_ctx *ctx;
	const char *target, *helper, *cache;
	int ret;

	if (!opts_valid(opts)) {
		errno = EINVAL;
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return NULL;
	ctx->print = OPT(opts, print, NULL);
	ctx->print_arg = OPT(opts, print_arg, NULL);
	ctx->helper_timeout_ms = OPT(opts, helper_timeout_ms, 0) ?: 10000;
	ctx->faults = parse_faults(ctx, OPT(opts, faults, NULL));
	helper = OPT(opts, helper_path, NULL) ?: CPUPORT_HELPER_PATH;
	ctx->helper_path = strdup(helper);
	ctx->root = strdup(OPT(opts, root, NULL) ?: "");
	cache = getenv("CPUPORT_CACHE_DIR") ?: "/var/cache/cpuport";
	if (*cache && strcmp(cache, "off"))
		ctx->cache_dir = strdup(cache);
	ctx->unmask = OPT(opts, unmask, false);
	if (!ctx->helper_path || !ctx->root) {
		ret = -ENOMEM;
		goto err;
	}
	ret = cpu_desc_host(&ctx->host);
	if (ret) {
		log_err(ctx, "cannot identify this CPU\n");
		goto err;
	}
	target = OPT(opts, target, NULL);
	ctx->target_is_host = !target || !*target || !strcmp(target, "host");
	ret = cpu_desc_target(ctx->target_is_host ? "host" : target, &ctx->host, &ctx->target);
	if (ret) {
		log_err(ctx, "unknown target CPU '%s': use host, x86-64-v1..v4, a model name or a CPUID dump file\n",
			target);
		goto err;
	}
	return ctx;
err:
	cpuport_ctx__free(ctx);
	errno = -ret;
	return NULL;
}

const char *cpuport_ctx__helper_path(const struct cpuport_ctx *ctx)
{
	return ctx->helper_path;
}

void cpuport_ctx__free(struct cpuport_ctx *ctx)
{
	if (!ctx)
		return;
	elf_cache_free(ctx);
	answer_cache_free(ctx);
	vset_cache_free(ctx);
	free(ctx->helper_path);
	free(ctx->root);
	disk_cache_close(ctx);
	free(ctx->cache_dir);
	free(ctx);
}
