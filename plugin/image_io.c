// SPDX-License-Identifier: LGPL-2.1-or-later
/* cpuport images in CRIU's images directory (openat on criu_get_image_dir()). */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include <criu-plugin.h>

#include "images.h"
#include "log.h"

static int open_image(pid_t id, int flags, char *name, size_t len)
{
	int dir = criu_get_image_dir(), fd;

	fd = cpuport_image_name(id, name, len);
	if (fd < 0)
		return fd;
	if (dir < 0) {
		pr_err("no images directory (image streaming with --stream is not supported by cpuport)\n");
		return -ENOTDIR;
	}
	fd = openat(dir, name, flags | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

int image_write(const struct cpuport_table *table, pid_t id)
{
	char name[64];
	int fd = open_image(id, O_WRONLY | O_CREAT | O_TRUNC, name, sizeof(name)), ret;

	if (fd < 0) {
		pr_err("cannot create %s: %s\n", name, strerror(-fd));
		return fd;
	}
	/* no fsync: CRIU does not sync its own images either */
	ret = cpuport_table__write_fd(table, fd);
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		pr_err("cannot write %s: %s\n", name, strerror(-ret));
	return ret;
}

int image_read(struct cpuport_ctx *ctx, pid_t id, struct cpuport_table **table)
{
	char name[64];
	int fd = open_image(id, O_RDONLY, name, sizeof(name)), ret;

	if (fd < 0)
		return fd;
	ret = cpuport_table__read_fd(ctx, fd, table);
	close(fd);
	return ret;
}

int image_count(void)
{
	int dir = criu_get_image_dir(), fd, n = 0;
	struct dirent *de;
	DIR *d;

	if (dir < 0)
		return -ENOTDIR;
	fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		n = -errno;
		close(fd);
		return n;
	}
	while ((de = readdir(d)))
		n += cpuport_image_name_parse(de->d_name, NULL);
	closedir(d);
	return n;
}

int image_write_sites_job(const struct cpuport_sites_job *job, pid_t id)
{
	char name[64];
	int dir = criu_get_image_dir(), fd, ret;

	snprintf(name, sizeof(name), CPUPORT_SITES_FMT, id);
	if (dir < 0)
		return -ENOTDIR;
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = cpuport_sites_job__write_fd(job, fd);
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		unlinkat(dir, name, 0);	/* a restore without it scans all memory */
	return ret;
}


int image_read_sites(struct cpuport_table *t, pid_t id)
{
	char name[64];
	int dir = criu_get_image_dir(), fd, ret;

	snprintf(name, sizeof(name), CPUPORT_SITES_FMT, id);
	if (dir < 0)
		return -ENOTDIR;
	fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = cpuport_table__read_sites_fd(t, fd);
	close(fd);
	return ret;
}
