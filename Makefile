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
        check check-normal check-asan demo bench fuzz fuzz-smoke clean

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

check: check-normal check-asan fuzz-smoke

demo: build
	./tools/demo.sh $(BUILD)

bench: build
	./bench/run.sh $(BUILD)

# libFuzzer targets (tests/fuzz, docs/fuzzing.md): a clang tree with
# HSMSSP_FUZZ=ON.  `make fuzz` runs each target for FUZZ_SECONDS on its
# corpus copied into $(FUZZ_BUILD)/fuzz-corpus (inputs found earlier stay
# there); FUZZ_JOBS > 1 runs that many libFuzzer jobs per target
# (-jobs/-workers).  `make fuzz-smoke`, part of `make check`, runs each
# for FUZZ_SMOKE_SECONDS (0: replay the corpus only) on a fresh copy of the
# committed corpus.  Logs and crash inputs go to $(FUZZ_BUILD)/fuzz-logs
# and fuzz-artifacts; both recipes fail on any crash, leak or broken
# invariant, and print the executions per target.
FUZZ_BUILD         ?= build-fuzz
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_JOBS          ?= 1
FUZZ_TARGETS := fuzz_krb_decrypt fuzz_token_decrypt fuzz_faultrules \
                fuzz_pac fuzz_krb_parse fuzz_msg_tokens fuzz_tktfile \
                fuzz_init_reply

configure-fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang \
	  -DHSMSSP_FUZZ=ON -DHSMSSP_BENCH=OFF $(CONFIGURE_ARGS)

# $(call fuzz_run,SECONDS,CORPUS_ROOT,FRESH,JOBS): runs every target of
# FUZZ_TARGETS on CORPUS_ROOT/<target> (emptied first when FRESH is 1).
define fuzz_run
	@fb=$(abspath $(FUZZ_BUILD)); failed=""; \
	mkdir -p $$fb/fuzz-logs $$fb/fuzz-artifacts; \
	if [ "$(1)" = 0 ]; then limit="-runs=0"; \
	else limit="-max_total_time=$(1)"; fi; \
	if [ "$(4)" -gt 1 ]; then par="-jobs=$(4) -workers=$(4)"; \
	else par=""; fi; \
	for t in $(FUZZ_TARGETS); do \
	  c=$(abspath $(2))/$$t; log=$$fb/fuzz-logs/$$t.log; \
	  if [ "$(3)" = 1 ]; then rm -rf $$c; fi; \
	  mkdir -p $$c; cp tests/fuzz/corpus/$$t/* $$c/; \
	  rm -f $$fb/fuzz-logs/fuzz-*.log $$fb/fuzz-logs/$$t-job-*.log; \
	  echo "fuzz: $$t for $(1) s"; \
	  (cd $$fb/fuzz-logs && \
	   LSAN_OPTIONS=suppressions=$(CURDIR)/tests/common/lsan.supp:print_suppressions=0 \
	   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	   $$fb/tests/fuzz/$$t $$limit $$par \
	     -max_len=2048 -print_final_stats=1 \
	     -artifact_prefix=$$fb/fuzz-artifacts/$$t- \
	     $$c >$$log 2>&1); rc=$$?; \
	  for j in $$fb/fuzz-logs/fuzz-*.log; do \
	    [ -e "$$j" ] && mv "$$j" "$$fb/fuzz-logs/$$t-job-$${j##*/fuzz-}"; \
	  done; \
	  if [ $$rc = 0 ]; then \
	    echo "fuzz: $$t: $$(cat $$log $$fb/fuzz-logs/$$t-job-*.log \
	      2>/dev/null | awk '/stat::number_of_executed_units/ \
	      {n += $$2} END {print n + 0}') executions," \
	      "corpus $$(ls $$c | wc -l) inputs"; \
	  else \
	    echo "fuzz: $$t FAILED (logs $$log, $$t-job-*.log):"; \
	    cat $$log $$fb/fuzz-logs/$$t-job-*.log 2>/dev/null | \
	      grep -v 'hsmssp_faultmod:' | tail -40; \
	    failed="$$failed $$t"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi
endef

fuzz: configure-fuzz
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	$(call fuzz_run,$(FUZZ_SECONDS),$(FUZZ_BUILD)/fuzz-corpus,0,$(FUZZ_JOBS))

fuzz-smoke: configure-fuzz
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS),$(FUZZ_BUILD)/fuzz-smoke,1,1)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
