# A thin wrapper over CMake: `make check` and `make demo` do every step
# (install missing Debian packages, configure, build, run).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
ifeq ($(CI),true)
CMAKE_ARGS += -DHSMSSP_WERROR=ON
endif

.PHONY: all deps build build-asan check check-normal check-asan demo bench \
        fuzz clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DHSMSSP_SANITIZE=ON -DHSMSSP_BENCH=OFF \
	  -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

check-normal: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE nosan

check: check-normal check-asan

demo: build
	./tools/demo.sh $(BUILD)

bench: build
	./bench/run.sh $(BUILD)

# libFuzzer targets (tests/fuzz): a clang tree with HSMSSP_FUZZ=ON, each
# target run for FUZZ_SECONDS on its corpus copied into $(FUZZ_BUILD)
# (inputs found earlier stay there).  Logs and crash inputs go to
# $(FUZZ_BUILD)/fuzz-logs and fuzz-artifacts; the recipe fails on a crash.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_krb_decrypt fuzz_token_decrypt fuzz_faultrules \
                fuzz_pac

$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang \
	  -DHSMSSP_FUZZ=ON -DHSMSSP_BENCH=OFF $(CMAKE_ARGS)

fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	@fb=$(FUZZ_BUILD); failed=""; \
	mkdir -p $$fb/fuzz-logs $$fb/fuzz-artifacts; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $$fb/fuzz-corpus/$$t; \
	  cp tests/fuzz/corpus/$$t/* $$fb/fuzz-corpus/$$t/; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  if LSAN_OPTIONS=suppressions=$(CURDIR)/tests/common/lsan.supp:print_suppressions=0 \
	     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	     $$fb/tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
	       -max_len=2048 -print_final_stats=1 \
	       -artifact_prefix=$$fb/fuzz-artifacts/$$t- \
	       $$fb/fuzz-corpus/$$t >$$fb/fuzz-logs/$$t.log 2>&1; then \
	    echo "fuzz: $$t: $$(awk '/stat::number_of_executed_units/ \
	      {print $$2}' $$fb/fuzz-logs/$$t.log) executions," \
	      "corpus $$(ls $$fb/fuzz-corpus/$$t | wc -l) inputs"; \
	  else \
	    echo "fuzz: $$t FAILED (log $$fb/fuzz-logs/$$t.log):"; \
	    grep -v 'hsmssp_faultmod:' $$fb/fuzz-logs/$$t.log | tail -40; \
	    failed="$$failed $$t"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
