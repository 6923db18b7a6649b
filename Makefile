# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# xlimit build. `make` builds build/xlimit (the BPF object and its skeleton
# inside); `sudo make check` runs every test (`make fuzz` fuzzes
# longer); `sudo make demo` runs the
# built-in demo; `sudo make install` installs the binary and man page.
# `check` and `demo` install the Debian packages they need when missing.
# V=1 shows the full commands.

BUILD := build
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PYTHON := /usr/bin/python3

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
# clang --target=bpf does not search the multiarch directory that holds
# asm/types.h: take it from the host compiler's own search list.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BPF_CFLAGS := -g -O2 --target=bpf -mcpu=v3 -Wall -Wextra -Werror \
	-D__TARGET_ARCH_$(ARCH) -Iinclude -Ibpf \
	$(if $(MULTIARCH),-idirafter /usr/include/$(MULTIARCH))

CFLAGS ?= -O2 -g
XL_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Iinclude \
	-Iuser/lib -I$(BUILD) -D_GNU_SOURCE
LIBS := -lbpf -ljson-c -lm
TEST_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Werror -Iinclude -Iuser \
	-Iuser/lib \
	-I$(BUILD) -Itests/lib -D_GNU_SOURCE -fsanitize=address,undefined \
	-fno-omit-frame-pointer

# Debian packages: to build, and in addition to run the tests and demo.
# libconfig-dev: `xlimit apply` reads its file with libconfig, whose
# grammar takes comments and gives the line of every setting for messages
# (json-c, linked already, has neither; see user/cmd_apply.c).
DEB_BUILD := make gcc clang llvm libbpf-dev bpftool libjson-c-dev \
	libelf-dev zlib1g-dev pkg-config libevent-dev libcap-dev libconfig-dev \
	libhiredis-dev libhttp-parser-dev
DEB_RUN := iproute2 procps python3 python3-limits clang-format strace libhttp-parser2.9 \
	curl nginx-light python3-flask-limiter python3-prometheus-client \
	libclang-rt-dev systemd redis-server redis-tools python3-redis

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.PHONY: all clean check demo bench bench-build bench-micro install uninstall deps deps-build \
	toolchain format-check fuzz fuzz-build fuzz-seeds

USER_SRCS := $(wildcard user/*.c) $(wildcard user/sync/*.c)
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
# libxlimit (user/lib/): what the CLI, the sidecar, the sync daemon and
# the tests reach the kernel objects with.
LIB_SRCS := $(wildcard user/lib/*.c)
LIB_OBJS := $(patsubst user/lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
LIB := $(BUILD)/libxlimit.a
BPF_HDRS := $(wildcard bpf/*.h) $(wildcard include/*.h)
SIDECAR_SRCS := $(wildcard user/sidecar/*.c)
SIDECAR_OBJS := $(patsubst user/sidecar/%.c,$(BUILD)/sidecar/%.o,$(SIDECAR_SRCS))

all: toolchain $(BUILD)/xlimit $(if $(SIDECAR_SRCS),$(BUILD)/xlimit-sidecar)

# Fail early, with a sentence, when a tool is missing.
toolchain:
	@for t in $(CC) $(CLANG) $(BPFTOOL) pkg-config; do \
		command -v $$t >/dev/null 2>&1 || { \
		echo "xlimit: build needs '$$t' (Debian: sudo make deps, or apt-get install $(DEB_BUILD))" >&2; \
		exit 1; }; done
	@pkg-config --exists libbpf json-c libconfig hiredis || { \
		echo "xlimit: build needs libbpf, json-c, libconfig and hiredis headers (apt-get install libbpf-dev libjson-c-dev libconfig-dev libhiredis-dev)" >&2; \
		exit 1; }

# Install the Debian packages that are missing (needs root and apt).
deps:
	@./tests/lib/install-deps.sh $(DEB_BUILD) $(DEB_RUN)
deps-build:
	@./tests/lib/install-deps.sh $(DEB_BUILD)

$(BUILD) $(BUILD)/user $(BUILD)/user/sync $(BUILD)/lib $(BUILD)/tests:
	$(Q)mkdir -p $@

$(BUILD)/xlimit.bpf.o: bpf/xlimit.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/xlimit.skel.h: $(BUILD)/xlimit.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name xlimit_bpf > $@

$(BUILD)/user/%.o: user/%.c $(BUILD)/xlimit.skel.h | $(BUILD)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(XL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/lib/%.o: user/lib/%.c $(BUILD)/xlimit.skel.h | $(BUILD)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(XL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# `xlimit sync` (user/sync/): the CLI's headers, and hiredis.
$(BUILD)/user/sync/%.o: user/sync/%.c $(BUILD)/xlimit.skel.h | $(BUILD)/user/sync
	$(call msg,CC,$@)
	$(Q)$(CC) $(XL_CFLAGS) -Iuser -MMD -MP -c $< -o $@

$(BUILD)/xlimit: $(USER_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XL_CFLAGS) $^ -o $@ $(LIBS) -lconfig -lhiredis

# The sidecar: its own sources, the programs' messages, the option table
# and libxlimit.
SIDECAR_LIBS := $(LIBS) -levent -lhttp_parser -lcap -pthread

$(BUILD)/sidecar:
	$(Q)mkdir -p $@

$(BUILD)/sidecar/%.o: user/sidecar/%.c $(BUILD)/xlimit.skel.h | $(BUILD)/sidecar
	$(call msg,CC,$@)
	$(Q)$(CC) $(XL_CFLAGS) -Iuser -MMD -MP -c $< -o $@

$(BUILD)/xlimit-sidecar: $(SIDECAR_OBJS) $(BUILD)/user/msg.o $(BUILD)/user/opt.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XL_CFLAGS) $^ -o $@ $(SIDECAR_LIBS)

-include $(USER_OBJS:.o=.d) $(SIDECAR_OBJS:.o=.d) $(LIB_OBJS:.o=.d)

# Unit tests, with sanitizers.
$(BUILD)/tests/test_parse: tests/unit/test_parse.c user/lib/limit_parse.c \
		user/lib/limit_parse.h | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) tests/unit/test_parse.c user/lib/limit_parse.c -o $@

$(BUILD)/tests/test_limiter: tests/unit/test_limiter.c $(BPF_HDRS) \
		| $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -pthread tests/unit/test_limiter.c -o $@

$(BUILD)/tests/test_accept: tests/unit/test_accept.c user/sidecar/accept.c \
		user/sidecar/sidecar.h tests/lib/testing.h | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) tests/unit/test_accept.c user/sidecar/accept.c -o $@

$(BUILD)/tests/test_redis: tests/unit/test_redis.c user/sync/redis.c \
		user/sync/redis.h tests/lib/testing.h | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) tests/unit/test_redis.c user/sync/redis.c -o $@ \
		-lhiredis

# libxlimit's address helpers; the CLI's option table. The sources it
# tests are built with the sanitizers; what they call beyond them comes
# from the library.
TEST_LIB_SRCS := user/lib/addr.c user/lib/util.c user/lib/rules.c \
	user/lib/limit_parse.c
$(BUILD)/tests/test_lib: tests/unit/test_lib.c $(TEST_LIB_SRCS) \
		user/lib/xlimit_lib.h include/xl_key.h tests/lib/testing.h \
		$(LIB) | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) tests/unit/test_lib.c $(TEST_LIB_SRCS) -o $@ \
		$(LIB) $(LIBS)

# Per-endpoint limits: matching and syntax (user/lib/route.c).
$(BUILD)/tests/test_route: tests/unit/test_route.c $(LIB) user/lib/route.h \
		tests/lib/testing.h | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) tests/unit/test_route.c -o $@ $(LIB) $(LIBS)

# When the kernel charged a connection's SYN (user/sidecar/handshake.c).
$(BUILD)/tests/test_handshake: tests/unit/test_handshake.c \
		user/sidecar/handshake.c user/sidecar/sidecar.h $(LIB) \
		tests/lib/testing.h | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) tests/unit/test_handshake.c \
		user/sidecar/handshake.c -o $@ $(LIB) $(LIBS)

$(BUILD)/tests/test_opt: tests/unit/test_opt.c user/opt.c user/opt.h \
		tests/lib/testing.h | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) tests/unit/test_opt.c user/opt.c -o $@

# BPF tests: the real object through bpf_prog_test_run_opts.
# Rules are written by libxlimit's writer, xl_rule_write() (user/lib/rules.c).
$(BUILD)/tests/test_bpf: tests/bpf/test_bpf.c tests/lib/pkt.h $(BUILD)/xlimit.skel.h \
		tests/lib/testing.h $(LIB) | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -Iuser/lib -pthread tests/bpf/test_bpf.c $(LIB) -o $@ $(LIBS)

# The map snapshots the CLI suites compare before and after a command.
$(BUILD)/tests/mapsnap: tests/lib/mapsnap.c | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) tests/lib/mapsnap.c -o $@ $(LIBS)

TEST_BINS := $(BUILD)/tests/test_parse $(BUILD)/tests/test_limiter \
	$(BUILD)/tests/test_lib $(BUILD)/tests/test_route \
	$(BUILD)/tests/test_opt \
	$(BUILD)/tests/test_redis \
	$(BUILD)/tests/test_bpf $(BUILD)/tests/test_accept \
	$(BUILD)/tests/test_handshake $(BUILD)/tests/mapsnap
# tests/e2e/test_attack.sh floods with the benchmarks' SYN generator;
# tests/e2e/test_reject.sh puts their XDP_PASS program on the client's veth.
E2E_BINS := $(BUILD)/bench/synflood $(BUILD)/bench/baseline.bpf.o

# Fuzz targets: tests/fuzz/fuzz_NAME.c with libFuzzer, ASan and UBSan,
# linked with the sources in FUZZ_SRCS_NAME and the libraries in
# FUZZ_LIBS_NAME; seeds in tests/fuzz/corpus/NAME/. tests/fuzz/run.sh
# runs each for FUZZ_SECONDS: briefly in `check`, longer in `make fuzz`.
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Werror -Iinclude -Iuser \
	-Iuser/lib \
	-Ibpf -I$(BUILD) -Itests/lib -D_GNU_SOURCE -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_HDRS := $(wildcard include/*.h bpf/*.h user/*.h user/lib/*.h user/sidecar/*.h \
	tests/lib/*.h)
FUZZ_SRCS_limits := user/lib/limit_parse.c
# The sidecar's sources without its main() (libFuzzer has one).
FUZZ_SRCS_sidecar := $(wildcard user/sidecar/*.c) user/msg.c user/opt.c $(LIB_SRCS)
FUZZ_LIBS_sidecar := -Dmain=xl_sidecar_main -lbpf -ljson-c -lm -levent \
	-lhttp_parser -lcap -pthread
# `xlimit sync`'s URL parser, Redis keys and key slots.
FUZZ_SRCS_redis := user/sync/redis.c user/sync/keys.c user/msg.c $(LIB_SRCS)
FUZZ_LIBS_redis := -lbpf -ljson-c -lm -lhiredis
# Per-endpoint limits: route syntax and matching against a model.
FUZZ_SRCS_route := $(LIB_SRCS)
FUZZ_LIBS_route := -lbpf -ljson-c -lm
FUZZ_BINS := $(BUILD)/fuzz/fuzz_limits $(BUILD)/fuzz/fuzz_packet \
	$(BUILD)/fuzz/fuzz_sidecar $(BUILD)/fuzz/fuzz_strategy \
	$(BUILD)/fuzz/fuzz_redis $(BUILD)/fuzz/fuzz_route
FUZZ_SECONDS ?= 300

$(BUILD)/fuzz:
	$(Q)mkdir -p $@

.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) $(FUZZ_HDRS) \
		| $(BUILD)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_SRCS_$*) -o $@ $(FUZZ_LIBS_$*)

fuzz-build: $(FUZZ_BINS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run.sh

# Regenerates the packet seeds from tests/lib/pkt.h's frame builder.
fuzz-seeds: | $(BUILD)/fuzz
	$(Q)$(CC) -std=gnu11 -Wall -Wextra -Werror -Itests/lib \
		tests/fuzz/seed_packet.c -o $(BUILD)/fuzz/seed_packet
	$(Q)$(BUILD)/fuzz/seed_packet tests/fuzz/corpus/packet

check: deps
	$(Q)$(MAKE) --no-print-directory all $(TEST_BINS) $(FUZZ_BINS) $(E2E_BINS)
	$(Q)./tests/run.sh

# Benchmarks: never part of `check`. tests/bench/run.sh builds what it
# needs (make bench-build) and writes its tables under docs/bench/.
DEB_BENCH := nftables iptables wrk nginx-light curl gnuplot-nox
bench: deps
	$(Q)./tests/lib/install-deps.sh $(DEB_BENCH)
	$(Q)$(MAKE) --no-print-directory all bench-build
	$(Q)./tests/bench/run.sh

# The per-packet table alone (tests/bench/bench_micro.sh), about a minute:
# what to run while changing the datapath. README.md is left alone.
bench-micro: all bench-build
	$(Q)./tests/bench/bench_micro.sh

# The benchmarks' own programs, in build/bench: baseline XDP programs, the
# softirq timer and their skeletons, the SYN flood generator, the
# test_run microbenchmark and the accuracy simulation.
BENCH := $(BUILD)/bench
BENCH_BPF := $(BENCH)/baseline.bpf.o $(BENCH)/ladder.bpf.o \
	$(BENCH)/livegen.bpf.o
BENCH_BINS := $(BENCH)/microbench $(BENCH)/synflood $(BENCH)/accuracy \
	$(BENCH)/sync_load
BENCH_CFLAGS := $(XL_CFLAGS) -I$(BENCH) -Itests/lib

bench-build: $(BENCH_BPF) $(BENCH_BINS)

$(BENCH):
	$(Q)mkdir -p $@

$(BENCH)/%.bpf.o: tests/bench/%.bpf.c $(BPF_HDRS) tests/bench/bench_prog.h | $(BENCH)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH)/%.skel.h: $(BENCH)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BENCH)/microbench: tests/bench/microbench.c $(BUILD)/xlimit.skel.h \
		$(BENCH)/baseline.skel.h $(BENCH)/ladder.skel.h tests/lib/pkt.h \
		$(BPF_HDRS) $(LIB) | $(BENCH)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) -Iuser/lib $< $(LIB) -o $@ $(LIBS)

$(BENCH)/synflood: tests/bench/synflood.c $(BENCH)/livegen.skel.h \
		tests/lib/pkt.h | $(BENCH)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ $(LIBS)

$(BENCH)/sync_load: tests/bench/sync_load.c tests/lib/pkt.h | $(BENCH)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ $(LIBS)

$(BENCH)/accuracy: tests/bench/accuracy.c $(BPF_HDRS) | $(BENCH)
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./user/demo.sh

format-check:
	$(Q)clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

# systemd units: systemd/NAME.service.in with @SBINDIR@ and @SYSCONFDIR@
# filled in, and systemd/NAME.service as they are, into UNITDIR; the
# example configuration beside the file xlimit.service applies.
UNITS := $(patsubst systemd/%.in,%,$(wildcard systemd/*.service.in)) \
	$(notdir $(wildcard systemd/*.service))

install: $(BUILD)/xlimit $(BUILD)/xlimit-sidecar
	install -D -m 0755 $(BUILD)/xlimit $(DESTDIR)$(SBINDIR)/xlimit
	install -D -m 0644 docs/xlimit.8 $(DESTDIR)$(MANDIR)/man8/xlimit.8
	install -D -m 0755 $(BUILD)/xlimit-sidecar \
		$(DESTDIR)$(SBINDIR)/xlimit-sidecar
	install -D -m 0644 docs/xlimit-sidecar.8 \
		$(DESTDIR)$(MANDIR)/man8/xlimit-sidecar.8
	install -d $(DESTDIR)$(UNITDIR)
	for u in $(UNITS); do \
		src=systemd/$$u; [ -f $$src ] || src=systemd/$$u.in; \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' \
			-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$src \
			> $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done
	install -D -m 0644 docs/xlimit.conf.example \
		$(DESTDIR)$(SYSCONFDIR)/xlimit/xlimit.conf.example
	install -D -m 0644 systemd/xlimit.sysusers \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/xlimit.conf
	case "$(DESTDIR)" in ""|/) getent group xlimit >/dev/null || \
		groupadd --system xlimit;; esac
	[ -n "$(DESTDIR)" ] || mandb -q 2>/dev/null || true
	[ -n "$(DESTDIR)" ] || ! [ -d /run/systemd/system ] || \
		systemctl daemon-reload || true

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/xlimit $(DESTDIR)$(MANDIR)/man8/xlimit.8
	rm -f $(DESTDIR)$(SBINDIR)/xlimit-sidecar \
		$(DESTDIR)$(MANDIR)/man8/xlimit-sidecar.8
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) \
		$(DESTDIR)$(SYSCONFDIR)/xlimit/xlimit.conf.example

clean:
	rm -rf $(BUILD)
