/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * OpenSSL's capability vector (OPENSSL_ia32cap_P), found from the library's
 * own code, and the OPENSSL_ia32cap mask that makes OpenSSL's own CPUID setup
 * see a target CPU.  Not installed.
 */
#ifndef CPUPORT_OPENSSL_CAP_H
#define CPUPORT_OPENSSL_CAP_H

#include "elf_code.h"
#include "internal.h"

/*
 * In an object opened with elf_code_open[_lite](): the direct call in .init
 * (OpenSSL's x86_64cpuid puts `call OPENSSL_cpuid_setup` there), then in that
 * function the writable data address loaded with lea [rip+X] and passed in
 * rdi to a direct call (OPENSSL_ia32_cpuid(OPENSSL_ia32cap_P)); its size is
 * the furthest [reg+disp] access through that address in the function.
 * 0 and *off, *size (link-time address), or -ENOENT (not such an object).
 */
int openssl_cap_locate(const struct elf_code *c, uint64_t *off, uint32_t *size);

/*
 * The OPENSSL_ia32cap value ("~0x...:~0x...") clearing every CPUID bit OpenSSL
 * reads (leaf 1 EDX/ECX, leaf 7 EBX/ECX) for features @host has and @target
 * lacks; "" when there are none.  0, or -ENOSPC.
 */
int openssl_cap_mask(const struct featset *host, const struct featset *target, char *buf, size_t len);

#endif
