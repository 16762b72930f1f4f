# xapid — XenServer-compatible toolstack.
#   make            build build/xapid and build/xe (optimised)
#   make run        install deps, build, start a one-host pool in the foreground
#   make test       install deps, build with ASan+UBSan, run every test
#   make install    install the programs under $(PREFIX)
#   make bench      run the benchmarks (bench/)
#   make fuzz       build the libFuzzer targets (clang)

CC      ?= cc
PREFIX  ?= /usr/local
STATE   ?= $(CURDIR)/run-state
PKGS    := libmicrohttpd jansson libxml-2.0 dqlite sqlite3 gnutls uuid libnfs zlib libzstd libxxhash

WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Wno-missing-field-initializers
ifneq ($(WERROR),0)
WARN    += -Werror
endif
CPPFLAGS_ALL := -D_GNU_SOURCE -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS_ALL   := -std=gnu11 -g -pthread $(WARN)
LIBS         := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpam -lpthread -lm

UTIL_SRCS  := $(wildcard src/util/*.c)
# xe_conn (TLS/Unix client streams) is shared: xapid uses it to reach the
# other pool members.
SHARED_CLI := src/cli/xe_conn.c
CORE_SRCS  := $(wildcard src/api/*.c src/db/*.c src/rpc/*.c src/daemon/*.c src/vm/*.c src/vm/qemu/*.c src/storage/*.c src/net/*.c src/pool/*.c) $(SHARED_CLI)
CORE_SRCS  := $(filter-out src/daemon/main.c,$(CORE_SRCS))
XE_SRCS    := $(filter-out $(SHARED_CLI),$(wildcard src/cli/*.c))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)

# $(call objs,DIR,SRCS)
objs = $(patsubst %.c,$(1)/obj/%.o,$(2))

.PHONY: all run test install bench fuzz clean deps format check-format unit
all: build/xapid build/xe

# ---- optimised build (build/) ----
build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -O2 -MMD -MP -c $< -o $@

build/libxapid.a: $(call objs,build,$(UTIL_SRCS) $(CORE_SRCS))
	@rm -f $@
	ar rcs $@ $^

build/xapid: build/obj/src/daemon/main.o build/libxapid.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LIBS)

build/xe: $(call objs,build,$(XE_SRCS)) build/libxapid.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LIBS)

# ---- sanitizer build for tests (build/asan/) ----
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
build/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -O1 $(SAN) -MMD -MP -c $< -o $@

build/asan/libxapid.a: $(call objs,build/asan,$(UTIL_SRCS) $(CORE_SRCS))
	@rm -f $@
	ar rcs $@ $^

build/asan/xapid: build/asan/obj/src/daemon/main.o build/asan/libxapid.a
	$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ $(LIBS)

build/asan/xe: $(call objs,build/asan,$(XE_SRCS)) build/asan/libxapid.a
	$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ $(LIBS)

UNIT_BINS := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRCS))
build/asan/tests/%: build/asan/obj/tests/unit/%.o build/asan/libxapid.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ $(LIBS) -lcmocka

# Fuzz targets: built with clang+libFuzzer when available, else linked with a
# small replay driver so that `make test` replays the corpus with any compiler.
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/asan/fuzz/%,$(FUZZ_SRCS))
build/asan/fuzz/%: build/asan/obj/tests/fuzz/%.o build/asan/obj/tests/fuzz/replay_main.o build/asan/libxapid.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ $(LIBS)

build/asan/obj/tests/fuzz/replay_main.o: tests/fuzz/replay_main.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -O1 $(SAN) -c $< -o $@

fuzz: $(call objs,build/fuzz,$(UTIL_SRCS) $(CORE_SRCS))
	@mkdir -p build/fuzz
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  echo "clang libFuzzer $$n"; \
	  clang $(CPPFLAGS_ALL) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -o build/fuzz/$$n $$f $(call objs,build/fuzz,$(UTIL_SRCS) $(CORE_SRCS)) $(LIBS) || exit 1; done
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS_ALL) -std=gnu11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

deps:
	@sh tools/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@sh tools/run.sh "$(STATE)"

test: deps
	@$(MAKE) --no-print-directory all build/asan/xapid build/asan/xe $(UNIT_BINS) $(FUZZ_BINS)
	@sh tests/run-all.sh

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do $$t || exit 1; done

BENCH_BINS := build/bench/rpcload build/bench/mhd_bare
build/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -O2 -o $@ $< $(LIBS)

bench: all $(BENCH_BINS)
	@sh bench/run-all.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 build/xapid $(DESTDIR)$(PREFIX)/sbin/xapid
	install -m 0755 build/xe $(DESTDIR)$(PREFIX)/bin/xe

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v _gen)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
