/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plugin settings: /etc/cpuport.conf, then the environment on top. */
#ifndef CPUPORT_PLUGIN_SETTINGS_H
#define CPUPORT_PLUGIN_SETTINGS_H

#include <stdbool.h>

#ifndef CPUPORT_CONF
#define CPUPORT_CONF "/etc/cpuport.conf"
#endif

struct settings {
	char target[256];	/* CPUPORT_TARGET / target = */
	char helper[256];	/* CPUPORT_HELPER / helper = */
	unsigned int timeout_ms; /* CPUPORT_TIMEOUT_MS / timeout_ms = */
	bool disabled;		/* CPUPORT_DISABLE=1 / disable = yes */
	bool unmask;		/* CPUPORT_UNMASK=1 / unmask = yes: drop the process's glibc.cpu.hwcaps */
	char faults[128];	/* CPUPORT_FAULT / fault = (tests only: cpuport_ctx_opts.faults) */
};

/* Container runtimes such as Podman strip the environment: the file still applies. */
void settings_load(struct settings *s);

#endif
