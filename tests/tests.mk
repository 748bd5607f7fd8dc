# Test targets (included by the top-level Makefile).
#   make test         unit + integration (needs root and criu >= 4.1 for integration)
#   make unit         cmocka unit tests
#   make integration  real criu dump/restore of real processes on this host
#   make e2e          cross-CPU: dump here, restore in QEMU TCG guests (Haswell-v4, Nehalem)
#   make bench        benchmarks (tests/bench)
#   make fresh-check  the README's two commands from zero in a fresh Debian 12 root (tests/fresh)

# fixtures are never sanitized: they are the programs under test
FIX := build/fixtures
FIXTURES := $(FIX)/libclones.so $(FIX)/nounwind/libclones.so $(FIX)/workload $(FIX)/workload-now $(FIX)/workload-nopie $(FIX)/scale \
	$(FIX)/libselfdisp.so $(FIX)/selfdisp $(FIX)/libguard.so
FIX_CFLAGS := -O2 -g -fno-builtin -Wall -Werror

$(FIX)/libclones.so: tests/fixtures/clones_lib.c
	@mkdir -p $(FIX)
	$(CC) $(FIX_CFLAGS) -fPIC -shared -o $@ $<

# libclones.so vectorized, without unwind information (no PT_GNU_EH_FRAME): test_restore
$(FIX)/nounwind/libclones.so: tests/fixtures/clones_vec_lib.c
	@mkdir -p $(FIX)/nounwind
	$(CC) $(FIX_CFLAGS) -O3 -fno-asynchronous-unwind-tables -fno-unwind-tables -Wl,--no-eh-frame-hdr -fPIC -shared -o $@ $<

$(FIX)/workload: tests/fixtures/workload.c $(FIX)/libclones.so
	$(CC) $(FIX_CFLAGS) -o $@ $< -L$(FIX) -lclones -Wl,-rpath,$(abspath $(FIX)) -lm -lpthread -ldl

$(FIX)/workload-now: tests/fixtures/workload.c $(FIX)/libclones.so
	$(CC) $(FIX_CFLAGS) -Wl,-z,now -o $@ $< -L$(FIX) -lclones -Wl,-rpath,$(abspath $(FIX)) -lm -lpthread -ldl

$(FIX)/workload-nopie: tests/fixtures/workload.c $(FIX)/libclones.so
	$(CC) $(FIX_CFLAGS) -no-pie -fno-pie -o $@ $< -L$(FIX) -lclones -Wl,-rpath,$(abspath $(FIX)) -lm -lpthread -ldl

$(FIX)/libselfdisp.so: tests/fixtures/selfdisp_lib.c
	@mkdir -p $(FIX)
	$(CC) $(FIX_CFLAGS) -O3 -fPIC -shared -o $@ $<

$(FIX)/libguard.so: tests/fixtures/guard_lib.c
	@mkdir -p $(FIX)
	$(CC) $(FIX_CFLAGS) -O2 -fPIC -shared -o $@ $<

$(FIX)/selfdisp: tests/fixtures/selfdisp.c $(FIX)/libselfdisp.so
	$(CC) $(FIX_CFLAGS) -o $@ $< -L$(FIX) -lselfdisp -Wl,-rpath,$(abspath $(FIX))

$(FIX)/scale: tests/fixtures/scale.c
	@mkdir -p $(FIX)
	$(CC) $(FIX_CFLAGS) -o $@ $< -lpthread -ldl

fixtures: $(FIXTURES)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRCS))

$(B)/unit/%: tests/unit/%.c $(LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(B)/unit
	$(CC) $(CFLAGS) $(SAN) $(WARN) $(CPPFLAGS_ALL) $(DEPS_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB) $(DEPS_LIBS) -lcmocka

# Tests that need no root run again as nobody in `make unit` and `make test` (tests/unpriv.sh):
# the restore side is tested on recorded processes, without root.
UNPRIV_UNIT := $(addprefix build/unit/,test_restore test_selproto test_api test_disk_cache test_ptr_sites test_lazy_load)
UNPRIV_TESTS := $(addprefix tests/unpriv.sh:,$(UNPRIV_UNIT))

unit-build: $(UNIT_BINS) fixtures
integration-build: all fixtures

# The same tests against the ASan+UBSan build (tests/san.sh). Not the container
# tests (they use the installed plugin) nor the scale test (time).
SAN_INTEGRATION := $(filter-out %/70-runc.sh %/71-podman.sh %/80-scale.sh,$(wildcard tests/integration/*.sh))
SAN_TESTS := $(patsubst build/unit/%,tests/san.sh:build-san/unit/%,$(UNIT_BINS)) \
	$(addprefix tests/san.sh:,$(SAN_INTEGRATION))
san-build:
	@$(MAKE) -s SANITIZE=1 all unit-build

sanitize: san-build fixtures
	@tests/run.sh sanitize $(SAN_TESTS)

unit: unit-build
	@tests/run.sh unit $(UNIT_BINS) $(UNPRIV_TESTS)

integration: integration-build
	@tests/run.sh integration tests/integration/*.sh

# Everything CI runs: unit, integration, the same under ASan+UBSan, a short fuzz run,
# and the quick part of the cross-CPU QEMU matrix.
QUICK := $(wildcard tests/fuzz/smoke.sh tests/e2e/quick.sh)
test: all unit-build integration-build san-build fuzz
	@tests/run.sh all tests/lint/pipelines.sh $(UNIT_BINS) $(UNPRIV_TESTS) tests/integration/*.sh $(SAN_TESTS) $(QUICK)

e2e: all fixtures
	@tests/e2e/run.sh

bench: all fixtures
	@tests/bench/run.sh

# Clones the committed HEAD into a new debootstrap root: needs no build here.
fresh-check:
	@tests/fresh/fresh-check.sh

.PHONY: fixtures unit unit-build integration integration-build san-build sanitize test e2e bench fresh-check
include tests/fuzz/fuzz.mk
