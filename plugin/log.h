/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CRIU's criu-log.h includes "log.h", which CRIU does not install.  This is
 * the part of criu/include/log.h a plugin needs: print_on_level() comes
 * from the criu binary (linked with -rdynamic), levels are CRIU's.
 */
#ifndef CPUPORT_PLUGIN_LOG_H
#define CPUPORT_PLUGIN_LOG_H

#include <errno.h>
#include <string.h>

#define LOG_MSG (0)
#define LOG_ERROR (1)
#define LOG_WARN (2)
#define LOG_INFO (3)
#define LOG_DEBUG (4)

extern void print_on_level(unsigned int loglevel, const char *format, ...)
	__attribute__((__format__(__printf__, 2, 3)));

#define LOG_PREFIX "cpuport: "

#define pr_info(fmt, ...) print_on_level(LOG_INFO, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...) print_on_level(LOG_ERROR, "Error (%s:%d): " LOG_PREFIX fmt, __FILE__, __LINE__, ##__VA_ARGS__)
#define pr_warn(fmt, ...) print_on_level(LOG_WARN, "Warn  (%s:%d): " LOG_PREFIX fmt, __FILE__, __LINE__, ##__VA_ARGS__)
#define pr_debug(fmt, ...) print_on_level(LOG_DEBUG, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_perror(fmt, ...) pr_err(fmt ": %s\n", ##__VA_ARGS__, strerror(errno))

#endif
