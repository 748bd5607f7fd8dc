// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Symbol names for stripped objects: the debug file by build-id (inside the
 * process's root, then the host's /usr/lib/debug), or MiniDebugInfo
 * (.gnu_debugdata).  Only names and sizes come from them, for messages and
 * hazard checks.
 */
#include <fcntl.h>
#include <gelf.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/*
 * @rel opened inside @root as the process there would see it: its symlinks
 * (absolute ones too) resolve within @root, never to our files, and no
 * /proc magic link is followed.  -1 if it is not there.
 */
static int open_in_root(struct cpuport_ctx *ctx, const char *root, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int dir, fd;

	dir = open(root && *root ? root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		log_debug(ctx, "cannot open root %s: %m\n", root && *root ? root : "/");
		return -1;
	}
	fd = syscall(SYS_openat2, dir, rel, &how, sizeof(how));
	close(dir);
	return fd;
}

#define MAX_MINIDEBUG (64u << 20)

/*
 * MiniDebugInfo: an xz-compressed ELF with a .symtab in .gnu_debugdata
 * (Fedora and others ship stripped binaries with it).
 */
void elf_read_gnu_debugdata(Elf *elf, Elf_Scn *scn, struct elf_info *info)
{
	Elf_Data *d = elf_rawdata(scn, NULL);
	uint64_t memlimit = MAX_MINIDEBUG;
	size_t in_pos = 0, out_pos = 0, cap = 1 << 20;
	uint8_t *out = NULL;
	lzma_ret lr;
	Elf *mini;

	(void)elf;
	if (!d || !d->d_buf)
		return;
	do {	/* grow until it fits, within the limit */
		free(out);
		out = malloc(cap *= 2);
		in_pos = out_pos = 0;
		lr = out ? lzma_stream_buffer_decode(&memlimit, 0, NULL, d->d_buf, &in_pos, d->d_size, out, &out_pos, cap)
			 : LZMA_MEM_ERROR;
	} while (lr == LZMA_BUF_ERROR && cap < MAX_MINIDEBUG);
	if (lr == LZMA_OK && (mini = elf_memory((char *)out, out_pos))) {
		if (elf_read_symtab(mini, info)) {
			info->syms_from_debug = true;
			for (size_t i = 0; i < info->n_syms; i++)	/* names live in @out */
				info->syms[i].name = arena_strdup(&info->arena, info->syms[i].name);
		}
		elf_end(mini);
	}
	free(out);
}

/*
 * The debug file of @info by build-id, looked up inside @root (the process's
 * root: /proc/PID/root, at dump and at restore alike; "" for ours).  Only
 * symbol names and sizes come from it, for messages and hazard checks.
 */
static void load_debug_symbols(struct cpuport_ctx *ctx, struct elf_info *info, const char *root)
{
	char path[512];
	int pos, fd;
	Elf *elf;

	if (info->build_id_len < 2)
		return;
	pos = snprintf(path, sizeof(path), "usr/lib/debug/.build-id/%02x/", info->build_id[0]);
	for (size_t i = 1; i < info->build_id_len; i++)
		pos += snprintf(path + pos, sizeof(path) - pos, "%02x", info->build_id[i]);
	snprintf(path + pos, sizeof(path) - pos, ".debug");
	fd = open_in_root(ctx, root, path);
	if (fd < 0)
		return;
	if (elf_debug_cached(ctx, info, fd)) {	/* parsed before: from the disk cache */
		close(fd);
		return;
	}
	elf = elf_from_fd(&fd);
	if (!elf)
		return;
	info->syms_from_debug = elf_read_symtab(elf, info);
	/* names point into the debug file's mapping: copy them before closing */
	for (size_t i = 0; info->syms_from_debug && i < info->n_syms; i++)
		info->syms[i].name = arena_strdup(&info->arena, info->syms[i].name);
	elf_end(elf);
	close(fd);
}

void elf_info_debug_from(struct cpuport_ctx *ctx, struct elf_info *info, const char *root)
{
	struct elf_symbol *syms = info->syms;
	size_t n = info->n_syms;

	if (info->has_symtab || info->syms_from_debug)
		return;
	info->syms = NULL;
	/* the process's root first, then ours (the host's debug files, by build-id) */
	load_debug_symbols(ctx, info, root);
	if (!info->syms_from_debug && root && *root && strcmp(root, "/")) {
		info->syms = NULL;
		info->n_syms = 0;
		load_debug_symbols(ctx, info, "");
	}
	if (!info->syms_from_debug) {	/* keep the dynamic-symbol names */
		info->syms = syms;
		info->n_syms = n;
	}
}

