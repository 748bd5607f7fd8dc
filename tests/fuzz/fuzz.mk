# libFuzzer targets (clang), built apart from the gcc build with ASan + UBSan.
#   make fuzz          build build/fuzz/fuzz_image, build/fuzz/fuzz_elf, build/fuzz/fuzz_elf_blob
#   make fuzz-smoke    run each briefly on the seed corpus (CI)
#   make fuzz-long     run each for FUZZ_RUNS executions (default 10 M)
FUZZ_CC    ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRCS  := $(addprefix resolver/,$(LIB_SRCS)) $(B)/cpuport.pb-c.c
FUZZ_RUNS  ?= 10000000
FUZZ_SMOKE_SECS ?= 20

$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_SRCS) $(B)/cpuport.pb-c.h $(B)/libgcc_bits.h
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $(CPPFLAGS_ALL) $(DEPS_CFLAGS) -o $@ $< $(FUZZ_SRCS) $(DEPS_LIBS)

fuzz: $(B)/fuzz/fuzz_image $(B)/fuzz/fuzz_elf $(B)/fuzz/fuzz_elf_blob

fuzz-smoke: fuzz fixtures
	@tests/fuzz/run.sh smoke $(FUZZ_SMOKE_SECS)

fuzz-long: fuzz fixtures
	@tests/fuzz/run.sh runs $(FUZZ_RUNS)

.PHONY: fuzz fuzz-smoke fuzz-long
