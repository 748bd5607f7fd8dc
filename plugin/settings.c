// SPDX-License-Identifier: LGPL-2.1-or-later
/* Plugin settings: "key = value" lines in /etc/cpuport.conf, then CPUPORT_* variables. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "settings.h"

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static bool yes(const char *v)
{
	return !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "true");
}

static void set(struct settings *s, const char *key, const char *val)
{
	if (!strcmp(key, "target"))
		snprintf(s->target, sizeof(s->target), "%s", val);
	else if (!strcmp(key, "helper"))
		snprintf(s->helper, sizeof(s->helper), "%s", val);
	else if (!strcmp(key, "timeout_ms"))
		s->timeout_ms = strtoul(val, NULL, 10);
	else if (!strcmp(key, "disable"))
		s->disabled = yes(val);
	else if (!strcmp(key, "unmask"))
		s->unmask = yes(val);
	else if (!strcmp(key, "fault"))
		snprintf(s->faults, sizeof(s->faults), "%s", val);
	else
		pr_warn("%s: unknown setting '%s' ignored\n", CPUPORT_CONF, key);
}

void settings_load(struct settings *s)
{
	static const char *const env[][2] = {
		{ "CPUPORT_TARGET", "target" },
		{ "CPUPORT_HELPER", "helper" },
		{ "CPUPORT_TIMEOUT_MS", "timeout_ms" },
		{ "CPUPORT_DISABLE", "disable" },
		{ "CPUPORT_UNMASK", "unmask" },
		{ "CPUPORT_FAULT", "fault" },	/* tests only */
	};
	char line[512];
	FILE *f = fopen(CPUPORT_CONF, "re");

	memset(s, 0, sizeof(*s));
	while (f && fgets(line, sizeof(line), f)) {
		char *eq, *l = trim(line);

		if (!*l || *l == '#')
			continue;
		eq = strchr(l, '=');
		if (!eq) {
			pr_warn("%s: line '%s' is not key = value\n", CPUPORT_CONF, l);
			continue;
		}
		*eq = 0;
		set(s, trim(l), trim(eq + 1));
	}
	if (f)
		fclose(f);
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		const char *v = getenv(env[i][0]);

		if (v)
			set(s, env[i][1], v);
	}
}
