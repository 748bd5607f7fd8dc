# cpuport: make process checkpoints portable between x86-64 CPUs.
#
#   make             build build/plugin/cpuport_plugin.so, build/bin/cpuport, build/bin/cpuport-select
#   make test        unit tests (cmocka) + integration tests (real criu dump/restore)
#   make e2e         cross-CPU tests in QEMU guests (Haswell-v4, Nehalem)
#   make bench       benchmarks (not part of test)
#   make fresh-check the README's two commands from zero in a fresh Debian 12 root
#   make install     plugin into $(PLUGINDIR), tool into $(PREFIX)/bin
#   make uninstall

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/cpuport
MANDIR     ?= $(PREFIX)/share/man
PLUGINDIR  ?= /usr/lib/criu
CRIU_INCLUDE ?= /usr/local/include/criu
VERSION    := 0.1

export PKG_CONFIG_PATH := /usr/local/lib/pkgconfig:$(PKG_CONFIG_PATH)
DEPS_CFLAGS := $(shell pkg-config --cflags libelf liblzma libprotobuf-c capstone 'libcpuid >= 0.7.0' 2>/dev/null)
DEPS_LIBS   := $(shell pkg-config --libs libelf liblzma libprotobuf-c capstone 'libcpuid >= 0.7.0' 2>/dev/null)

CC      ?= gcc
CFLAGS  ?= -g -O2
WARN    := -Wall -Wextra -Werror -Wno-missing-field-initializers
# make ... SANITIZE=1: ASan + UBSan for the library, the tool and the unit tests (in build-san/).
# The plugin gets UBSan only: it is loaded into criu, which is not built with ASan.
ifeq ($(SANITIZE),1)
B       := build-san
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
PLUGIN_SAN := -fsanitize=undefined -fno-sanitize-recover=undefined
export ASAN_OPTIONS := detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1
else
B       := build
SAN     :=
PLUGIN_SAN :=
endif

CPPFLAGS_ALL := -D_GNU_SOURCE -DCPUPORT_VERSION='"$(VERSION)"' \
	-DCPUPORT_HELPER_PATH='"$(LIBEXECDIR)/cpuport-select"' -Iresolver -I$(B)

# Every resolver/*.c is the library's but the programs' own files (a new module needs no edit here).
LIB_PROGRAM_SRCS := cli.c select_helper.c gen_libgcc_bits.c
LIB_SRCS := $(filter-out $(LIB_PROGRAM_SRCS),$(notdir $(wildcard resolver/*.c)))
LIB_OBJS := $(addprefix $(B)/resolver/,$(LIB_SRCS:.c=.o)) $(B)/cpuport.pb-c.o
PLUGIN_SRCS := cpuport_plugin.c image_io.c settings.c sites_jobs.c
PLUGIN_OBJS := $(addprefix $(B)/plugin/,$(PLUGIN_SRCS:.c=.o))

# Programs go to $(B)/bin and $(B)/plugin, never into the source tree. The sanitized build
# keeps its own (build-san/), so both builds coexist: tests pick one with CPUPORT_OUT (tests/lib.sh).
PLUGIN := $(B)/plugin/cpuport_plugin.so
CLI    := $(B)/bin/cpuport
HELPER := $(B)/bin/cpuport-select
LIB    := $(B)/libcpuport.a
ifeq ($(SANITIZE),1)
PLUGIN_LIB := $(B)/libcpuport-plugin.a
PLUGIN_LIB_OBJS := $(addprefix $(B)/resolver-plugin/,$(LIB_SRCS:.c=.o)) $(B)/cpuport.pb-c.o
else
PLUGIN_LIB := $(LIB)
endif

all: check-deps $(PLUGIN) $(CLI) $(HELPER)

check-deps:
	@pkg-config --exists libelf liblzma libprotobuf-c capstone || \
		{ echo "missing build dependencies: run scripts/setup.sh (see README.md)" >&2; exit 1; }
	@pkg-config --exists 'libcpuid >= 0.7.0' || \
		{ echo "libcpuid >= 0.7.0 not found (Debian 12's 0.6.2 misreads AVX-512): run scripts/setup.sh" >&2; exit 1; }
	@test -f $(CRIU_INCLUDE)/criu-plugin.h || \
		{ echo "CRIU 4.1 plugin header not found in $(CRIU_INCLUDE): run scripts/setup.sh or set CRIU_INCLUDE" >&2; exit 1; }

$(B)/cpuport.pb-c.c $(B)/cpuport.pb-c.h: proto/cpuport.proto
	@mkdir -p $(B)
	protoc-c --proto_path=proto --c_out=$(B) proto/cpuport.proto

# GCC's libgcc model bit layout, asked of the compiler that builds us.
$(B)/libgcc_bits.h: resolver/gen_libgcc_bits.c
	@mkdir -p $(B)
	$(CC) -O1 -o $(B)/gen_libgcc_bits $<
	$(B)/gen_libgcc_bits > $@.tmp && mv $@.tmp $@

$(B)/cpuport.pb-c.o: $(B)/cpuport.pb-c.c
	$(CC) $(CFLAGS) -fPIC $(DEPS_CFLAGS) -c -o $@ $<

RESOLVER_DEPS := $(wildcard resolver/*.h) $(B)/cpuport.pb-c.h $(B)/libgcc_bits.h

$(B)/resolver/%.o: resolver/%.c $(RESOLVER_DEPS)
	@mkdir -p $(B)/resolver
	$(CC) $(CFLAGS) $(SAN) $(WARN) -fPIC -fvisibility=hidden $(CPPFLAGS_ALL) $(DEPS_CFLAGS) -c -o $@ $<

$(B)/resolver-plugin/%.o: resolver/%.c $(RESOLVER_DEPS)
	@mkdir -p $(B)/resolver-plugin
	$(CC) $(CFLAGS) $(PLUGIN_SAN) $(WARN) -fPIC -fvisibility=hidden $(CPPFLAGS_ALL) $(DEPS_CFLAGS) -c -o $@ $<

$(B)/plugin/%.o: plugin/%.c plugin/*.h resolver/cpuport.h
	@mkdir -p $(B)/plugin
	$(CC) $(CFLAGS) $(PLUGIN_SAN) $(WARN) -fPIC $(CPPFLAGS_ALL) -isystem $(CRIU_INCLUDE) $(DEPS_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

$(B)/libcpuport-plugin.a: $(PLUGIN_LIB_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

# Only CR_PLUGIN_DESC is exported (version script); criu provides print_on_level & co.
# Not linked with libcapstone: resolver/capstone_lazy.c loads it on first use (criu runs that
# decode nothing do not pay for loading it).
$(PLUGIN): $(PLUGIN_OBJS) $(PLUGIN_LIB) plugin/cpuport_plugin.map
	@mkdir -p $(dir $@)
	$(CC) -shared $(PLUGIN_SAN) $(LDFLAGS) -Wl,--version-script=plugin/cpuport_plugin.map -o $@ \
		$(PLUGIN_OBJS) $(PLUGIN_LIB) $(filter-out -lcapstone,$(DEPS_LIBS))
	@! nm -D --undefined-only $@ | grep -w 'cs_[a-z_]*' || \
		{ echo "$@ calls capstone functions resolver/capstone_lazy.c does not define: add them there" >&2; \
		  rm -f $@; exit 1; }

$(CLI): resolver/cli.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(WARN) $(CPPFLAGS_ALL) $(LDFLAGS) -o $@ resolver/cli.c $(LIB) $(DEPS_LIBS)

# libc only, lazy binding (its own GOT[2] tells which trampoline ld.so picks here).
# Never sanitized: it maps executables at their link addresses and runs foreign resolvers.
$(HELPER): resolver/select_helper.c resolver/selproto.c resolver/selproto.h resolver/helper_seccomp.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Wl,-z,lazy -o $@ resolver/select_helper.c resolver/selproto.c

install: all
	install -d $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(PLUGIN) $(DESTDIR)$(PLUGINDIR)/cpuport_plugin.so
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/cpuport
	install -m 755 $(HELPER) $(DESTDIR)$(LIBEXECDIR)/cpuport-select
	install -m 644 doc/cpuport.1 doc/cpuport-plugin.1 $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(DESTDIR)$(PLUGINDIR)/cpuport_plugin.so $(DESTDIR)$(BINDIR)/cpuport \
		$(DESTDIR)$(LIBEXECDIR)/cpuport-select $(DESTDIR)$(MANDIR)/man1/cpuport.1 \
		$(DESTDIR)$(MANDIR)/man1/cpuport-plugin.1
	-rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null

include tests/tests.mk

clean:
	rm -rf build build-san

.PHONY: all check-deps install uninstall clean
