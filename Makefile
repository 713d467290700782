# A thin wrapper over CMake: `make check` and `make demo` do every step
# (install missing Debian packages, configure, build, run).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
# Warnings are errors with CI=true (whatever WERROR says) and otherwise
# when WERROR=ON.  The trees are configured again on every build, with
# the setting passed each time: a tree first configured without CI=true
# must not keep its cached HSMSSP_WERROR=OFF when CI runs in it, and
# CMake re-reads CI for the tests' skip handling (tests/CMakeLists.txt).
# Re-running the configure step of an existing tree takes a second.
WERROR     ?= OFF
ifeq ($(CI),true)
override WERROR := ON
endif
CONFIGURE_ARGS = -DHSMSSP_WERROR=$(WERROR) $(CMAKE_ARGS)

.PHONY: all deps build build-asan configure configure-asan configure-fuzz \
        check check-normal check-asan demo bench fuzz clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) $(CONFIGURE_ARGS)

configure-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DHSMSSP_SANITIZE=ON -DHSMSSP_BENCH=OFF \
	  -DCMAKE_BUILD_TYPE=Debug $(CONFIGURE_ARGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

build-asan: configure-asan
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

configure-fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang \
	  -DHSMSSP_FUZZ=ON -DHSMSSP_BENCH=OFF $(CONFIGURE_ARGS)

fuzz: configure-fuzz
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
