/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The selection helper's seccomp filter (header-only, libc-only: included by
 * select_helper.c, installed before anything is dlopen()ed).  An allow list
 * of what ld.so, libc, the helper and IFUNC resolvers or library constructors
 * need (files, memory, signals, time); everything else fails with EPERM:
 * no fork, clone (so no threads either), exec, socket, ptrace,
 * process_vm_*, mount, bpf, io_uring, setsid/setpgid (the helper stays in
 * the process group a timeout kills).  Signals only to itself.  Another
 * architecture or the x32 ABI kills the process.
 */
#ifndef CPUPORT_HELPER_SECCOMP_H
#define CPUPORT_HELPER_SECCOMP_H

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const unsigned int helper_seccomp_allowed[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_open, SYS_openat, SYS_close, SYS_fstat,
	SYS_stat, SYS_lstat, SYS_newfstatat, SYS_statx, SYS_lseek, SYS_access, SYS_faccessat, SYS_faccessat2,
	SYS_readlink, SYS_readlinkat, SYS_getdents64, SYS_fcntl, SYS_dup, SYS_dup2, SYS_dup3, SYS_getcwd,
	SYS_statfs, SYS_fstatfs, SYS_mmap, SYS_mprotect, SYS_munmap, SYS_mremap, SYS_madvise, SYS_brk,
	SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack, SYS_pause, SYS_getpid,
	SYS_gettid, SYS_getppid, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid, SYS_getresuid, SYS_getresgid,
	SYS_getgroups, SYS_uname, SYS_sysinfo, SYS_getrlimit, SYS_prlimit64, SYS_arch_prctl, SYS_prctl,
	SYS_set_tid_address, SYS_set_robust_list, SYS_rseq, SYS_futex, SYS_getrandom, SYS_clock_gettime,
	SYS_clock_getres, SYS_gettimeofday, SYS_time, SYS_nanosleep, SYS_clock_nanosleep, SYS_sched_yield,
	SYS_sched_getaffinity, SYS_getcpu, SYS_exit, SYS_exit_group,
};

#define HS_N_ALLOWED (sizeof(helper_seccomp_allowed) / sizeof(helper_seccomp_allowed[0]))

/* Install the filter; 0 or -errno. */
static inline int helper_seccomp_install(void)
{
	const unsigned int self = (unsigned int)getpid();
	struct sock_filter f[8 + 2 * HS_N_ALLOWED + 12];
	struct sock_fprog prog = { 0, f };
	size_t n = 0;

	/* the x86-64 ABI only */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);	/* x32 */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	for (size_t i = 0; i < HS_N_ALLOWED; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, helper_seccomp_allowed[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	/* kill(self, ...), tgkill(self, ...): abort() and raise() */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_kill, 1, 0);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tgkill, 0, 5);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, self, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	prog.len = (unsigned short)n;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return -errno;
	return 0;
}

#endif
