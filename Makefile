# ipw - GNU Makefile. Dependencies come from the system through pkg-config.
#   make                      build build/ipw
#   make test                 unit tests (Criterion) + command-line tests
#   make SANITIZE=address,undefined test   the same under sanitizers (in build-san/)
#   make install PREFIX=/usr/local
#   make V=1                  show the commands
#   make bench-smoke          every benchmark once at a tiny size (make check runs it)
#   make fuzz                 libFuzzer targets (clang, ASan+UBSan) in build-fuzz/
#   make fuzz-run FUZZ_SECONDS=60   run each target that long on tests/fuzz/corpus/
PREFIX ?= /usr/local
CC ?= cc
PKGS := libcurl sqlite3 jansson cairo libpcre2-8 libmicrohttpd libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifdef SANITIZE
BUILD ?= build-san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT ?= -O1
else
BUILD ?= build
SAN_FLAGS :=
OPT ?= -O2
endif

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wvla
CFLAGS ?= $(OPT) -g
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) $(SAN_FLAGS) -Isrc $(PKG_CFLAGS) \
	-DIPW_VERSION='"$(VERSION)"'
ALL_LDFLAGS := -pthread $(LDFLAGS) $(SAN_FLAGS)
LIBS := $(PKG_LIBS) -ldl -lm

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRCS := $(filter-out src/main.c,$(wildcard src/*.c src/analysis/*.c src/telemetry/*.c src/client/*.c src/store/*.c src/grade/*.c src/engine/*.c src/router/*.c))
LIB_ASM := $(wildcard src/*.S)
CMD_SRCS := src/main.c $(wildcard src/cmd/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(LIB_ASM:%.S=$(BUILD)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRCS := $(wildcard tests/unit/helper_*.c)
TEST_HELPER_OBJS := $(TEST_HELPER_SRCS:%.c=$(BUILD)/%.o)
FAKE_LIB_SRCS := $(wildcard tests/fakes/lib*.c)
FAKE_LIBS := $(FAKE_LIB_SRCS:tests/fakes/%.c=$(BUILD)/fakes/%.so)
FAKE_BIN_SRCS := $(wildcard tests/fakes/bin_*.c)
FAKE_BINS := $(FAKE_BIN_SRCS:tests/fakes/bin_%.c=$(BUILD)/fakes/%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test unit cli install clean bench fakes
all: $(BUILD)/ipw

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -I. -c $< -o $@

# .incbin'ed data is not seen by -MMD: name it here.
$(BUILD)/src/dataset_builtin.o: data/builtin.jsonl

$(BUILD)/libipw.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/ipw: $(CMD_OBJS) $(BUILD)/libipw.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(CMD_OBJS) $(BUILD)/libipw.a $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libipw.a $(TEST_HELPER_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST-CC $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(TEST_HELPER_OBJS) $(BUILD)/libipw.a \
		$(ALL_LDFLAGS) $(LIBS) $$(pkg-config --libs criterion)

# Fake vendor libraries (dlopen'ed by the back-ends under test): no sanitizer runtime in them.
$(BUILD)/fakes/%.so: tests/fakes/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FAKE    $@")
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -fPIC -shared -pthread -o $@ $< -lm

$(BUILD)/fakes/%: tests/fakes/bin_%.c $(BUILD)/libipw.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FAKE    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libipw.a $(ALL_LDFLAGS) $(LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libipw.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libipw.a $(ALL_LDFLAGS) $(LIBS)

fakes: $(FAKE_LIBS) $(FAKE_BINS)
bench: $(BUILD)/ipw $(BENCH_BINS)

# Every benchmark once at a tiny size (bench/smoke.sh), so CI notices one that
# no longer builds or runs; the real runs are in bench/RESULTS.md.
bench-smoke: bench fakes
	$(Q)IPW_BUILD=$(BUILD) sh bench/smoke.sh
.PHONY: bench-smoke

test: $(BUILD)/ipw $(TEST_BINS) $(FAKE_LIBS) $(FAKE_BINS) $(BUILD)/bench/analysis_gen
	$(Q)IPW_BUILD=$(abspath $(BUILD)) tests/run.sh $(TEST_BINS)

# The man page and bash completion, generated from the commands' own --help
# (their option tables) by scripts/make-man.py.
$(BUILD)/ipw.1 $(BUILD)/ipw.bash &: $(BUILD)/ipw scripts/make-man.py
	$(Q)python3 scripts/make-man.py $(BUILD)/ipw $(BUILD)
man: $(BUILD)/ipw.1 $(BUILD)/ipw.bash
.PHONY: man

install: $(BUILD)/ipw $(BUILD)/ipw.1 $(BUILD)/ipw.bash
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/ipw $(DESTDIR)$(PREFIX)/bin/ipw
	install -d $(DESTDIR)$(PREFIX)/share/ipw/models
	for f in models/*.gguf models/*.md; do [ ! -f "$$f" ] || install -m 644 "$$f" $(DESTDIR)$(PREFIX)/share/ipw/models/; done
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 644 $(BUILD)/ipw.1 $(DESTDIR)$(PREFIX)/share/man/man1/ipw.1
	install -m 644 $(BUILD)/ipw.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ipw

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJS:.o=.d) $(CMD_OBJS:.o=.d)

# Everything CI runs: the real-server build (cached; its tests are skipped with
# the reason if it cannot be built), the tests, then the tests again under
# AddressSanitizer and UndefinedBehaviorSanitizer. Once llama-server is built,
# IPW_REQUIRE_LLAMA=1 makes the engine's llama.cpp agreement tests fail, not
# skip; with IPW_REQUIRE_LLAMA=1 already set (CI: .ci/run) a failed llama.cpp
# build fails the check. IPW_REQUIRE_PG=1: the PostgreSQL store tests fail,
# instead of skipping, without a server to start.
LLAMA_SERVER_BIN ?= $(or $(IPW_LLAMA_SERVER),$(or $(IPW_LLAMA_CACHE),/var/cache/ipw-llama)/build/bin/llama-server)
REQUIRE_LLAMA = $$(test "$(IPW_REQUIRE_LLAMA)" = 1 -o -x "$(LLAMA_SERVER_BIN)" && echo 1 || echo 0)
check:
	scripts/build-llama-server.sh || test "$(IPW_REQUIRE_LLAMA)" != 1
	IPW_REQUIRE_PG=1 IPW_REQUIRE_LLAMA=$(REQUIRE_LLAMA) $(MAKE) test
	IPW_REQUIRE_PG=1 IPW_REQUIRE_LLAMA=$(REQUIRE_LLAMA) $(MAKE) SANITIZE=address,undefined test
	$(MAKE) bench-smoke
.PHONY: check

# libFuzzer targets: tests/fuzz/fuzz_NAME.c, each linked with the library's
# sources compiled by clang with the fuzzer and sanitizer instrumentation (not
# the gcc archive). fuzz-run runs each for FUZZ_SECONDS on a scratch copy of
# tests/fuzz/corpus/NAME/, prints the executions from libFuzzer's final
# stats, and fails on a crash, leak or sanitizer report.
FUZZ_CC ?= clang
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1 -g
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread $(WARN) $(FUZZ_FLAGS) -Isrc $(PKG_CFLAGS) \
	-DIPW_VERSION='"$(VERSION)"'
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o) $(LIB_ASM:%.S=$(FUZZ_BUILD)/%.o)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ-CC $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -I. -c $< -o $@

$(FUZZ_BUILD)/src/dataset_builtin.o: data/builtin.jsonl

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	@$(if $(Q),echo "  FUZZ-LD $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) -pthread $(LIBS)

fuzz: $(FUZZ_BINS)
.SECONDARY: $(FUZZ_LIB_OBJS)

fuzz-run: fuzz
	$(Q)FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_NAMES)
.PHONY: fuzz fuzz-run

-include $(FUZZ_LIB_OBJS:.o=.d)
