/* e2e-capmask: run a program with a capability bounding set no larger than MASK.
 *   e2e-capmask HEXMASK PROG [ARGS...]
 * Drops every capability outside HEXMASK (e.g. the host's CapBnd from /proc/self/status)
 * from the bounding set, then execs PROG; as root, PROG's permitted and effective sets are
 * then the bounding set. A process checkpointed inside a guest (where root has every
 * capability) can then be restored on a host whose root lacks some: CRIU 4.1.1 cannot give
 * a restored task capabilities the restorer lacks ("Unable to restore capabilities", then
 * a BUG() in the restorer that leaves `criu restore` waiting forever). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long long mask;
	char *end;

	if (argc < 3) {
		fprintf(stderr, "usage: e2e-capmask HEXMASK PROG [ARGS...]\n");
		return 127;
	}
	mask = strtoull(argv[1], &end, 16);
	if (*end) {
		fprintf(stderr, "e2e-capmask: bad mask '%s'\n", argv[1]);
		return 127;
	}
	for (int cap = 0; cap < 64; cap++) {
		if (mask & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
			perror("e2e-capmask: PR_CAPBSET_DROP");
			return 127;
		}
	}
	execvp(argv[2], argv + 2);
	perror("e2e-capmask: exec");
	return 127;
}
