// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The GLIBC_TUNABLES the selection helper runs with: the process's own (as
 * recorded at dump, so that a process started with glibc.cpu.hwcaps masks or
 * custom thresholds re-selects as it selected), plus the mask that makes
 * glibc here behave as on the target CPU.  glibc reads one value per
 * tunable, the last one: the two hwcaps lists are merged into one item.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define HWCAPS "glibc.cpu.hwcaps="

static bool valid(const char *s)
{
	size_t n = strlen(s);

	return n < TUNABLES_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=:,+-") == n;
}

static int add(char *out, size_t len, size_t *pos, const char *sep, const char *s, size_t n)
{
	size_t need = (*pos ? strlen(sep) : 0) + n;

	if (*pos + need + 1 > len)
		return -ENOSPC;
	if (*pos)
		*pos += snprintf(out + *pos, len - *pos, "%s", sep);
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = 0;
	return 0;
}

int tunables_for_helper(const char *process, bool unmask, const char *mask, char *out, size_t len)
{
	char hw[TUNABLES_MAX] = "";
	size_t pos = 0, hpos = 0;
	int ret = 0;

	if (!len)
		return -ENOSPC;
	out[0] = 0;
	if ((process && !valid(process)) || (mask && !valid(mask)))
		return -EINVAL;
	for (const char *p = process; p && *p && !ret; p += strcspn(p, ":") + (p[strcspn(p, ":")] ? 1 : 0)) {
		size_t n = strcspn(p, ":");

		if (!n)
			continue;
		if (n >= strlen(HWCAPS) && !strncmp(p, HWCAPS, strlen(HWCAPS))) {
			if (!unmask && n > strlen(HWCAPS))
				ret = add(hw, sizeof(hw), &hpos, ",", p + strlen(HWCAPS), n - strlen(HWCAPS));
			continue;
		}
		ret = add(out, len, &pos, ":", p, n);
	}
	if (!ret && mask && !strncmp(mask, HWCAPS, strlen(HWCAPS)) && mask[strlen(HWCAPS)])
		ret = add(hw, sizeof(hw), &hpos, ",", mask + strlen(HWCAPS), strlen(mask + strlen(HWCAPS)));
	if (!ret && hpos) {
		ret = add(out, len, &pos, ":", HWCAPS, strlen(HWCAPS));
		if (!ret && pos + hpos + 1 > len)
			ret = -ENOSPC;
		if (!ret) {
			memcpy(out + pos, hw, hpos + 1);
			pos += hpos;
		}
	}
	if (ret)
		out[0] = 0;
	return ret;
}
