// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Capstone loaded on first use.  Loading libcapstone costs about 0.9 ms
 * (its relocations), most of what loading the plugin costs in every criu
 * run, while most dumps and restores never decode an instruction.  These
 * definitions of the capstone calls cpuport makes are linked in place of
 * the library's (the plugin is linked without -lcapstone) and dlopen() it
 * the first time one is called.  If it cannot be loaded, cs_open() fails
 * (CS_ERR_MEM) and callers fail as they do without capstone.
 */
#include <capstone/capstone.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#define STR2(x) #x
#define STR(x) STR2(x)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct {
	cs_err (*open)(cs_arch, cs_mode, csh *);
	cs_err (*close)(csh *);
	cs_err (*option)(csh, cs_opt_type, size_t);
	size_t (*disasm)(csh, const uint8_t *, size_t, uint64_t, size_t, cs_insn **);
	bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
	void (*free)(cs_insn *, size_t);
	cs_insn *(*malloc)(csh);
	cs_err (*regs_access)(csh, const cs_insn *, cs_regs, uint8_t *, cs_regs, uint8_t *);
} f;

static void load(void)
{
	void *h = dlopen("libcapstone.so." STR(CS_API_MAJOR), RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return;
	*(void **)&f.close = dlsym(h, "cs_close");
	*(void **)&f.option = dlsym(h, "cs_option");
	*(void **)&f.disasm = dlsym(h, "cs_disasm");
	*(void **)&f.disasm_iter = dlsym(h, "cs_disasm_iter");
	*(void **)&f.free = dlsym(h, "cs_free");
	*(void **)&f.malloc = dlsym(h, "cs_malloc");
	*(void **)&f.regs_access = dlsym(h, "cs_regs_access");
	if (f.close && f.option && f.disasm && f.disasm_iter && f.free && f.malloc && f.regs_access)
		*(void **)&f.open = dlsym(h, "cs_open");	/* only with all the others */
}

cs_err cs_open(cs_arch arch, cs_mode mode, csh *handle)
{
	pthread_once(&once, load);
	return f.open ? f.open(arch, mode, handle) : CS_ERR_MEM;
}

/* the others are only reachable with a handle from cs_open(), i.e. once loaded */
cs_err cs_close(csh *handle)
{
	return f.close ? f.close(handle) : CS_ERR_HANDLE;
}

cs_err cs_option(csh handle, cs_opt_type type, size_t value)
{
	return f.option ? f.option(handle, type, value) : CS_ERR_HANDLE;
}

size_t cs_disasm(csh handle, const uint8_t *code, size_t code_size, uint64_t address, size_t count, cs_insn **insn)
{
	return f.disasm ? f.disasm(handle, code, code_size, address, count, insn) : 0;
}

bool cs_disasm_iter(csh handle, const uint8_t **code, size_t *size, uint64_t *address, cs_insn *insn)
{
	return f.disasm_iter ? f.disasm_iter(handle, code, size, address, insn) : false;
}

void cs_free(cs_insn *insn, size_t count)
{
	if (f.free)
		f.free(insn, count);
}

cs_insn *cs_malloc(csh handle)
{
	return f.malloc ? f.malloc(handle) : NULL;
}

cs_err cs_regs_access(csh handle, const cs_insn *insn, cs_regs regs_read, uint8_t *regs_read_count,
		      cs_regs regs_write, uint8_t *regs_write_count)
{
	return f.regs_access ? f.regs_access(handle, insn, regs_read, regs_read_count, regs_write, regs_write_count)
			     : CS_ERR_HANDLE;
}
