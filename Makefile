# Makefile: builds the static guest programs; `make run` runs the suite, `make check` every test.
CC ?= gcc
CFLAGS ?= -O2 -g
# Diagnostics are cut to a fixed length on purpose, hence no -Wformat-truncation.
# Cases run in the order they are declared: keep the compiler from reordering them.
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -MMD -MP
CFLAGS += -fno-toplevel-reorder
# The race cases drive the kernel from several threads.
CFLAGS += -pthread
LDFLAGS += -static -pthread
PYTHON := /usr/bin/python3
VSOCKCHECK := $(PYTHON) runner/vsockcheck

BUILD := build
BIN := $(BUILD)/bin

# What a fresh Debian 12 machine lacks for building, booting and checking (chromium: make check
# looks at the matrix page in headless Chromium).
DEBIAN_PACKAGES := gcc make libc6-dev python3 qemu-system-x86 busybox-static cpio xz-utils zstd \
	libnl-3-dev libnl-route-3-dev liburing-dev libjson-c-dev tshark socat chromium
# What make check-slow adds: building kernels from source (build-kernel, bisect); kmod for depmod
# (without it build-kernel writes modules.dep itself).
SLOW_DEBIAN_PACKAGES := flex bison bc libelf-dev libssl-dev ccache git kmod

# sock_diag goes through libnl-3, the io_uring cases through liburing: both linked statically,
# from Debian's -dev packages (libnl-3.a, liburing.a), so the guest needs no shared library.
# The linker warns that libnl-3.a's addr.o and utils.o name getaddrinfo/getprotobyname (static
# NSS needs glibc's shared libraries at run time): nothing here calls those functions.
NL_CFLAGS := -I/usr/include/libnl3
NL_LIBS := -lnl-3 -lpthread
URING_LIBS := -luring
# vsockmon-capture creates its vsockmon link through libnl-route-3 (on top of libnl-3).
NL_ROUTE_LIBS := -lnl-route-3 $(NL_LIBS)
STATIC_LIBS := libnl-3.a libnl-route-3.a liburing.a libjson-c.a

# The sock_diag helper is kept out of the library's self-test programs: they need no libnl.
SOCKDIAG_OBJ := $(BUILD)/testcases/lib/sockdiag.o
LIB_OBJS := $(filter-out $(SOCKDIAG_OBJ),$(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard testcases/lib/*.c))))
CASE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard testcases/*.c)))
SELFTEST_UNIT_OBJS := $(BUILD)/testcases/lib/selftest/unit.o $(BUILD)/testcases/lib/selftest/exact_unit.o
SELFTEST_OUTCOME_OBJS := $(BUILD)/testcases/lib/selftest/outcomes.o
SPLIT_PAIR_OBJS := $(BUILD)/testcases/lib/selftest/split_pair.o
# vsockcheck-host: the same cases and library, its main built with VSC_HOST_PROGRAM, and the shim
# that takes their AF_VSOCK calls (by --wrap) to the hybrid bridge of a guest.
HOST_MAIN_OBJ := $(BUILD)/host/main.o
# The hybrid-vsock CONNECT handshake, shared by the host shim and vsock-perf.
BRIDGE_CLIENT_OBJ := $(BUILD)/tools/bridge_client.o
HOST_LIB_OBJS := $(filter-out $(BUILD)/testcases/lib/main.o,$(LIB_OBJS)) $(HOST_MAIN_OBJ) \
	$(BUILD)/testcases/lib/host/shim.o $(BRIDGE_CLIENT_OBJ)
HOST_SHIMTEST_OBJS := $(BUILD)/testcases/lib/host/selftest.o
HOST_WRAPS := socket bind listen accept accept4 connect getsockname getpeername setsockopt \
	getsockopt ioctl close send sendto sendmsg recv recvfrom recvmsg shutdown poll \
	io_uring_queue_init vsc_sockdiag_dump vsc_sockdiag_request
HOST_LDFLAGS := $(foreach call,$(HOST_WRAPS),-Wl,--wrap=$(call))
VSOCK_SS_OBJS := $(BUILD)/tools/vsock-ss.o $(SOCKDIAG_OBJ)
# vsock-perf (tools/vsock-perf): throughput, latency, connection rate; perf.h is its shared header.
VSOCK_PERF_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsock-perf/,main.c options.c \
	report.c conn.c stream.c zerocopy.c connrate.c latency.c stats.c)) $(BRIDGE_CLIENT_OBJ)
VSOCK_PERF_UNIT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsock-perf/,unit_perf.c \
	report.c stats.c))
# Runs an unmodified program as the g2h host peer: its AF_VSOCK calls, caught by a seccomp
# user-notification filter, go through the hybrid bridge. Its test peer runs only under it.
HOSTWRAP_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsock-hostwrap/,main.c report.c \
	filter.c target.c table.c loop.c calls.c calls_wait.c)) $(BRIDGE_CLIENT_OBJ)
HOSTWRAP_PEER_OBJS := $(BUILD)/tools/vsock-hostwrap/test_peer.o
# The test library as an archive, for programs that take a few of its objects (the linker picks
# what they call): the fixture runner and its agent.
VSC_LIB_ARCHIVE := $(BUILD)/testcases/lib/libvsc.a
# The vsock://, hvsock:// and hyperkit:// URI library and its port <-> service GUID mapping, which
# vsockcat, hvp and the hv_sock fixture steps use.
VSOCK_URI_OBJS := $(BUILD)/tools/vsock-uri/vsock_uri.o
# The fixture runner (tools/vsock-fixtures, fx_engine.h): an engine links $(FX_OBJS) and adds
# $(FX_LIBS) to its LDLIBS (json-c, and the test library's archive for errno names), with
# -Itools/vsock-fixtures for fx_engine.h.
FX_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsock-fixtures/,fx_arena.c fx_load.c \
	fx_json_util.c fx_json_fixture.c fx_json_step.c fx_json_packet.c fx_json_agent.c \
	fx_json_result.c fx_json_hv.c fx_setup_steps.c fx_legacy.c \
	fx_value.c fx_steps.c fx_hv_steps.c fx_conn.c fx_agent_steps.c fx_agent_link.c fx_report.c fx_run.c \
	fx_agent_proc.c)) $(VSOCK_URI_OBJS)
FX_LIBS := $(VSC_LIB_ARCHIVE) -ljson-c
FX_UNIT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsock-fixtures/unit/,fx_unit.c \
	unit_wire.c unit_agent.c unit_hv.c))
# The agent the fixtures drive, in the guest under test: socket calls by request on stdin.
FX_AGENT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsock-fixture-agent/,main.c \
	calls.c names.c))
# The host-peer library of the hv_sock cases (tools/hvsock-peer/hvp.h): in the test program, the
# hvsock-peer tool and its unit test.
HVP_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/hvsock-peer/,hvp_addr.c hvp_frame.c \
	hvp_session.c hvp_conn.c hvp_xfer.c)) $(VSOCK_URI_OBJS)
HVP_UNIT_OBJS := $(BUILD)/tools/hvsock-peer/unit.o
# The userspace vhost-user vsock device (runs on the build machine, beside QEMU).
VU_CORE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vhost-user-vsock/,vu_proto.c \
	vu_mem.c vu_device.c vu_queue.c vu_loop.c vu_vm.c vu_conn.c vu_bridge.c vu_vsock.c \
	vu_rx.c vu_g2g.c vu_pcap.c))
# Engine 1 of the packet fixtures (--fixtures): its wire on the device's rings; the program
# (fx_host.c) links the fixture runner too.
FX_HOST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vhost-user-vsock/,fx_host_wire.c \
	fx_host_pump.c))
VU_OBJS := $(VU_CORE_OBJS) $(FX_HOST_OBJS) $(BUILD)/tools/vhost-user-vsock/fx_host.o \
	$(BUILD)/tools/vhost-user-vsock/main.o $(FX_OBJS)
VU_UNIT_OBJS := $(VU_CORE_OBJS) $(FX_HOST_OBJS) $(patsubst %.c,$(BUILD)/%.o,tools/vhost-user-vsock/unit_tests.c \
	tools/vhost-user-vsock/unit_fake_guest.c tools/vhost-user-vsock/unit_queue.c \
	tools/vhost-user-vsock/unit_pcap.c tools/vhost-user-vsock/unit_fx_host.c)
# Writes packets described on stdin as pcap: the decoder test feeds its output to tshark.
VU_PCAP_WRITE_OBJS := $(BUILD)/tools/vhost-user-vsock/vu_pcap.o \
	$(BUILD)/tools/vhost-user-vsock/pcap_write.o

# Engine 2 of the packet fixtures: the guest driver of /dev/vhost-vsock, run in a guest. Its
# ring is unit-tested on the build machine where the test plays vhost.
FXG_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsock-fixtures-guest/,vhost_dev.c vring.c \
	wire.c main.c))
FXG_UNIT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsock-fixtures-guest/,vring.c \
	unit_vring.c))

# Engine 3 of the packet fixtures (target hv_sock): the Hyper-V host of hv_sock.ko through
# /dev/vmbus_sim (testcases/kmod/vmbus_sim/vmbus_sim_uapi.h), run in the hvsock guest.
FXHV_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/hvsock-fixtures/,vsim_wire.c main.c))

# The backend and its unit tests again with ASan and UBSan, for make check. Dynamic: the
# sanitizer runtimes are shared libraries. Any report ends the program (-fno-sanitize-recover).
ASAN_DIR := $(BUILD)/asan
ASAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_PROGRAMS := $(ASAN_DIR)/bin/vhost-user-vsock $(ASAN_DIR)/bin/vu-unit $(ASAN_DIR)/bin/fx-unit \
	$(ASAN_DIR)/bin/vsock-uri-unit $(ASAN_DIR)/bin/sock-stress-unit
ASAN_VU_OBJS := $(patsubst $(BUILD)/%,$(ASAN_DIR)/%,$(VU_OBJS))
ASAN_VU_UNIT_OBJS := $(patsubst $(BUILD)/%,$(ASAN_DIR)/%,$(LIB_OBJS) $(VU_UNIT_OBJS))
# The fixture runner's unit tests feed it broken files: under the sanitizers too.
# Of the test library the runner needs errno names, versions and hex digits: a sanitizer build of an
# engine links $(ASAN_FX_OBJS) and -ljson-c.
ASAN_FX_OBJS := $(patsubst $(BUILD)/%,$(ASAN_DIR)/%,$(BUILD)/testcases/lib/errnames.o $(BUILD)/testcases/lib/kver.o \
	$(BUILD)/testcases/lib/hex.o \
	$(FX_OBJS))
ASAN_FX_UNIT_OBJS := $(ASAN_FX_OBJS) $(patsubst $(BUILD)/%,$(ASAN_DIR)/%,$(FX_UNIT_OBJS))

# libFuzzer targets (make fuzz), built with clang; each runs FUZZ_SECONDS on its corpus.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
# Inputs as long as fuzz_vu_queue's whole fake guest (4 bytes of settings, two 4 KiB regions).
FUZZ_OPTIONS ?= -max_len=8196
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SRC := tools/vhost-user-vsock/fuzz
# The ring structs in vu_queue.c are packed: clang (unlike gcc) then warns about, and calls
# libatomic for, the atomics on their index fields, although those are naturally aligned.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-address-of-packed-member -Wno-atomic-alignment \
	-D_GNU_SOURCE -Itools/vhost-user-vsock \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
VU_CORE_SRCS = $(patsubst $(BUILD)/%.o,%.c,$(VU_CORE_OBJS))
FUZZERS := $(FUZZ_DIR)/fuzz_vu_msg $(FUZZ_DIR)/fuzz_vu_queue $(FUZZ_DIR)/fuzz_vu_packets
# The packet engine logs each packet it refuses on stderr: keep only libFuzzer's and ASan's lines.
FUZZ_OPTIONS_fuzz_vu_packets := -close_fd_mask=2

# vsockcat: netcat for vsock://, hvsock:// and hyperkit:// URIs (the URI library in tools/vsock-uri),
# with the LinuxKit-era AF_HYPERV probe; run in guests only (or with hyperkit://, Unix sockets).
VSOCKCAT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsockcat/,open.c relay.c cmd.c \
	hyperv_probe.c)) $(VSOCK_URI_OBJS)
VSOCK_URI_UNIT_OBJS := $(BUILD)/tools/vsock-uri/unit_uri.o $(BUILD)/tools/vsockcat/unit_vsockcat.o
# vsockmon-capture: in a guest, records the vsock packets a vsockmon link taps as pcap (run --capture).
VSOCKMON_CAPTURE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/vsockmon-capture/,main.c mon_link.c \
	pcap_out.c))
VSOCKMON_CAPTURE_UNIT_OBJS := $(BUILD)/tools/vsockmon-capture/unit_pcap_out.o \
	$(BUILD)/tools/vsockmon-capture/pcap_out.o

# sock-stress: virtsock's sock_stress echo test (tools/sock-stress), vsock://, hvsock:// (through the
# URI library) and unix: URLs; its unit test checks the SHA-256 on FIPS 180's vectors.
SOCK_STRESS_CORE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(addprefix tools/sock-stress/,sha256.c options.c \
	address.c run_state.c client.c server.c)) $(VSOCK_URI_OBJS)
SOCK_STRESS_UNIT_OBJS := $(BUILD)/tools/sock-stress/unit.o

PROGRAMS := $(BIN)/vsockcheck-tests $(BIN)/vsc-lib-unit $(BIN)/vsc-lib-outcomes $(BIN)/vsc-split-pair \
	$(BIN)/vsockcheck-host $(BIN)/vsc-host-shimtest $(BIN)/vsock-ss $(BIN)/vsock-perf $(BIN)/vsock-pingpong \
	$(BIN)/vhost-user-vsock $(BIN)/vu-unit $(BIN)/vu-pcap-write $(BIN)/vsock-hostwrap \
	$(BIN)/vsock-hostwrap-peer $(BIN)/vsock-fixture-agent $(BIN)/fx-unit \
	$(BIN)/hvsock-peer $(BIN)/hvp-unit \
	$(BIN)/vsockcat $(BIN)/vsock-uri-unit $(BIN)/vsockmon-capture $(BIN)/vsockmon-capture-unit

PROGRAMS += $(BIN)/sock-stress $(BIN)/sock-stress-unit

# Engine 2 (tools/vsock-fixtures-guest): its ring's unit test, and the engine, which links the
# fixture runner (tools/vsock-fixtures: FX_OBJS, FX_LIBS) and so is built once that is there.
PROGRAMS += $(BIN)/fxg-unit
PROGRAMS += $(BIN)/vsock-perf-unit
# The vmbus_sim module smoke test (testcases/kmod/vmbus_sim/selftest), run as root in a guest.
PROGRAMS += $(BIN)/vmbus-sim-selftest
ifneq ($(FX_OBJS),)
PROGRAMS += $(BIN)/vsock-fixtures-guest $(BIN)/vsock-fixtures-hv
endif

.PHONY: all deps deps-slow run check check-slow bench clean static-libs asan fuzz dist
all: $(PROGRAMS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itestcases/lib -c -o $@ $<

$(SOCKDIAG_OBJ): CFLAGS += $(NL_CFLAGS)
$(BUILD)/testcases/lib/host/shim.o: CFLAGS += -Itools
$(BUILD)/tools/vsock-perf/%.o: CFLAGS += -Itools
$(HOSTWRAP_OBJS): CFLAGS += -Itools
$(BUILD)/tools/vsock-fixtures/%.o: CFLAGS += -Itools/vsock-fixtures
$(BUILD)/testcases/hvsock.o $(BUILD)/testcases/hvsock_%.o $(BUILD)/testcases/vmbus_sim_attach.o: CFLAGS += -Itools/hvsock-peer
$(BUILD)/testcases/vmbus_sim_attach.o: CFLAGS += -Itestcases/kmod/vmbus_sim

$(HOST_MAIN_OBJ): testcases/lib/main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DVSC_HOST_PROGRAM -Itestcases/lib -c -o $@ $<

$(BIN)/vsockcheck-tests: $(LIB_OBJS) $(SOCKDIAG_OBJ) $(CASE_OBJS) $(HVP_OBJS)
$(BIN)/hvsock-peer: $(HVP_OBJS) $(BUILD)/tools/hvsock-peer/main.o
$(BIN)/hvp-unit: $(LIB_OBJS) $(HVP_OBJS) $(HVP_UNIT_OBJS)
$(BIN)/vsockcheck-tests: LDLIBS += $(NL_LIBS) $(URING_LIBS)
$(BIN)/vsc-lib-unit: $(LIB_OBJS) $(SELFTEST_UNIT_OBJS)
$(BIN)/vsc-lib-outcomes: $(LIB_OBJS) $(SELFTEST_OUTCOME_OBJS)
$(BIN)/vsc-split-pair: $(SPLIT_PAIR_OBJS)
$(BIN)/vsockcheck-host: $(HOST_LIB_OBJS) $(SOCKDIAG_OBJ) $(CASE_OBJS) $(HVP_OBJS)
$(BIN)/vsockcheck-host: LDLIBS += $(NL_LIBS) $(URING_LIBS)
$(BIN)/vsockcheck-host $(BIN)/vsc-host-shimtest: LDFLAGS += $(HOST_LDFLAGS)
$(BIN)/vsc-host-shimtest: $(HOST_LIB_OBJS) $(HOST_SHIMTEST_OBJS)
$(BIN)/vsock-ss: $(VSOCK_SS_OBJS)
$(BIN)/vsock-ss: LDLIBS += $(NL_LIBS)
$(BIN)/vsock-perf: $(VSOCK_PERF_OBJS)
$(BIN)/vsock-perf-unit: $(LIB_OBJS) $(VSOCK_PERF_UNIT_OBJS)
$(BIN)/vsock-pingpong: $(BUILD)/tools/vsock-pingpong.o
$(BIN)/vmbus-sim-selftest: $(BUILD)/testcases/kmod/vmbus_sim/selftest/vmbus_sim_selftest.o $(VSOCK_URI_OBJS)
$(BIN)/vsock-hostwrap: $(HOSTWRAP_OBJS)
$(BIN)/vsock-hostwrap-peer: $(HOSTWRAP_PEER_OBJS)
$(BIN)/fxg-unit: $(LIB_OBJS) $(FXG_UNIT_OBJS)
$(BIN)/vsock-fixtures-guest: $(FXG_OBJS) $(FX_OBJS)
$(BIN)/vsock-fixtures-guest: LDLIBS += $(FX_LIBS)
$(BIN)/vsock-fixtures-hv: $(FXHV_OBJS) $(FX_OBJS)
$(BIN)/vsock-fixtures-hv: LDLIBS += $(FX_LIBS)
$(FXHV_OBJS): CFLAGS += -Itestcases/kmod/vmbus_sim
$(BIN)/vhost-user-vsock: $(VU_OBJS) $(VSC_LIB_ARCHIVE)
$(BIN)/vhost-user-vsock: LDLIBS += $(FX_LIBS)
$(BIN)/vu-unit: $(LIB_OBJS) $(VU_UNIT_OBJS)
$(BIN)/vu-pcap-write: $(VU_PCAP_WRITE_OBJS)
$(VSC_LIB_ARCHIVE): $(filter-out $(BUILD)/testcases/lib/main.o,$(LIB_OBJS))
	rm -f $@
	ar rcs $@ $^
$(BIN)/vsock-fixture-agent: $(FX_AGENT_OBJS) $(SOCKDIAG_OBJ) $(VSC_LIB_ARCHIVE)
$(BIN)/vsock-fixture-agent: LDLIBS += -ljson-c $(NL_LIBS)
$(BIN)/vsockcat: $(BUILD)/tools/vsockcat/main.o $(VSOCKCAT_OBJS) $(VSC_LIB_ARCHIVE)
$(BIN)/vsock-uri-unit: $(LIB_OBJS) $(VSOCKCAT_OBJS) $(VSOCK_URI_UNIT_OBJS)
$(BUILD)/tools/vsockcat/%.o $(BUILD)/tools/vsock-uri/%.o: CFLAGS += -Itools/vsock-uri
$(BUILD)/tools/hvsock-peer/hvp_addr.o: CFLAGS += -Itools/vsock-uri
$(BIN)/vsockmon-capture: $(VSOCKMON_CAPTURE_OBJS)
$(BIN)/vsockmon-capture: LDLIBS += $(NL_ROUTE_LIBS)
$(BUILD)/tools/vsockmon-capture/mon_link.o: CFLAGS += $(NL_CFLAGS)
$(BIN)/vsockmon-capture-unit: $(VSOCKMON_CAPTURE_UNIT_OBJS)
$(BIN)/fx-unit: $(FX_UNIT_OBJS) $(FX_OBJS) $(VSC_LIB_ARCHIVE)
$(BIN)/sock-stress: $(SOCK_STRESS_CORE_OBJS) $(BUILD)/tools/sock-stress/main.o
$(BIN)/sock-stress-unit: $(LIB_OBJS) $(SOCK_STRESS_CORE_OBJS) $(SOCK_STRESS_UNIT_OBJS)
$(BUILD)/tools/sock-stress/%.o $(BUILD)/testcases/stress_soak.o: CFLAGS += -Itools/vsock-uri
$(BIN)/fx-unit: LDLIBS += -ljson-c
$(PROGRAMS): | static-libs
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(ASAN_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) -Itestcases/lib -c -o $@ $<

$(ASAN_DIR)/bin/vhost-user-vsock: $(ASAN_VU_OBJS) $(VSC_LIB_ARCHIVE)
$(ASAN_DIR)/bin/vhost-user-vsock: ASAN_LDLIBS += $(FX_LIBS)
$(ASAN_DIR)/bin/vu-unit: $(ASAN_VU_UNIT_OBJS)
$(ASAN_DIR)/bin/fx-unit: $(ASAN_FX_UNIT_OBJS)
# The URI parser walks offsets into text it is given: its unit tests under the sanitizers too.
$(ASAN_DIR)/bin/vsock-uri-unit: $(patsubst $(BUILD)/%,$(ASAN_DIR)/%,$(LIB_OBJS) $(VSOCKCAT_OBJS) \
	$(VSOCK_URI_UNIT_OBJS))
# sock-stress's option and URL parsing, and its SHA-256, under the sanitizers too.
$(ASAN_DIR)/bin/sock-stress-unit: $(patsubst $(BUILD)/%,$(ASAN_DIR)/%,$(LIB_OBJS) $(SOCK_STRESS_CORE_OBJS) \
	$(SOCK_STRESS_UNIT_OBJS))
$(ASAN_DIR)/tools/vsockcat/%.o $(ASAN_DIR)/tools/vsock-uri/%.o $(ASAN_DIR)/tools/sock-stress/%.o: CFLAGS += -Itools/vsock-uri
$(ASAN_DIR)/bin/fx-unit: ASAN_LDLIBS += -ljson-c
$(ASAN_DIR)/tools/vsock-fixtures/%.o: CFLAGS += -Itools/vsock-fixtures
$(ASAN_PROGRAMS):
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -pthread -o $@ $^ $(ASAN_LDLIBS)

asan: $(ASAN_PROGRAMS)

$(FUZZ_DIR)/%: $(FUZZ_SRC)/%.c $(VU_CORE_SRCS) $(wildcard tools/vhost-user-vsock/*.h)
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz: $(FUZZ_CC) is missing (Debian: apt-get install clang)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(VU_CORE_SRCS) -latomic

# Seeds come from fuzz/seeds/<target without fuzz_vu_>; what the fuzzer finds goes to its corpus.
fuzz: $(FUZZERS)
	@status=0; $(foreach f,$(FUZZERS),sh $(FUZZ_SRC)/run_fuzzer.sh $f $(FUZZ_SECONDS) \
		$(FUZZ_DIR)/corpus/$(notdir $f) $(FUZZ_SRC)/seeds/$(patsubst fuzz_vu_%,%,$(notdir $f)) \
		$(FUZZ_DIR)/out $(FUZZ_OPTIONS) $(FUZZ_OPTIONS_$(notdir $f)) || status=1;) exit $$status

# A missing archive would only show as "cannot find -lnl-3"; say which package brings it.
static-libs:
	@for lib in $(STATIC_LIBS); do \
		if [ "$$($(CC) -print-file-name=$$lib)" = "$$lib" ]; then \
			echo "make: $$lib is missing: run 'make deps' (Debian libnl-3-dev, libnl-route-3-dev, liburing-dev, libjson-c-dev)" >&2; \
			exit 1; \
		fi; \
	done

# $(call install_missing,PACKAGES): apt-get install those of PACKAGES that are not installed.
define install_missing
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "make $@: installing" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEBIAN_PACKAGES))

deps-slow: deps
	$(call install_missing,$(SLOW_DEBIAN_PACKAGES))

run: deps all
	$(VSOCKCHECK) run

check: deps all asan
	$(PYTHON) runner/check_all.py

# The tests that build kernels from source (runner/slow_tests): tens of minutes on a cold ccache.
check-slow: deps-slow all
	$(PYTHON) runner/check_slow.py

bench: deps-slow all
	$(PYTHON) runner/bench.py

# The bundle for other images (dist/README.md): build/dist/vsockcheck-<git describe>.tar.gz with the
# static test program, the guest tools (topology.GUEST_TOOLS), the fixtures and the shell runner.
dist: all
	PYTHONPATH=runner $(PYTHON) -m vsc.dist_bundle --out $(BUILD)/dist

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(CASE_OBJS:.o=.d) $(SELFTEST_UNIT_OBJS:.o=.d) $(SELFTEST_OUTCOME_OBJS:.o=.d) $(SPLIT_PAIR_OBJS:.o=.d) \
	$(HOST_MAIN_OBJ:.o=.d) $(HOST_LIB_OBJS:.o=.d) $(HOST_SHIMTEST_OBJS:.o=.d) \
	$(VSOCK_SS_OBJS:.o=.d) $(VSOCK_PERF_OBJS:.o=.d) $(BUILD)/tools/vsock-pingpong.d \
	$(HOSTWRAP_OBJS:.o=.d) $(HOSTWRAP_PEER_OBJS:.o=.d) \
	$(VU_OBJS:.o=.d) $(VU_UNIT_OBJS:.o=.d) $(VU_PCAP_WRITE_OBJS:.o=.d) \
	$(ASAN_VU_OBJS:.o=.d) $(ASAN_VU_UNIT_OBJS:.o=.d) $(ASAN_FX_UNIT_OBJS:.o=.d) \
	$(FX_OBJS:.o=.d) $(FX_UNIT_OBJS:.o=.d) $(FX_AGENT_OBJS:.o=.d) \
	$(HVP_OBJS:.o=.d) $(HVP_UNIT_OBJS:.o=.d) $(BUILD)/tools/hvsock-peer/main.d \
	$(VSOCKCAT_OBJS:.o=.d) $(VSOCK_URI_UNIT_OBJS:.o=.d) $(BUILD)/tools/vsockcat/main.d \
	$(patsubst $(BUILD)/%.o,$(ASAN_DIR)/%.d,$(VSOCKCAT_OBJS) $(VSOCK_URI_UNIT_OBJS)) \
	$(SOCK_STRESS_CORE_OBJS:.o=.d) $(SOCK_STRESS_UNIT_OBJS:.o=.d) $(BUILD)/tools/sock-stress/main.d \
	$(patsubst $(BUILD)/%.o,$(ASAN_DIR)/%.d,$(SOCK_STRESS_CORE_OBJS) $(SOCK_STRESS_UNIT_OBJS)) \
	$(VSOCKMON_CAPTURE_OBJS:.o=.d) $(VSOCKMON_CAPTURE_UNIT_OBJS:.o=.d)
