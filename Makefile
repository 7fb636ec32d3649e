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

# What a fresh Debian 12 machine lacks for building, booting and checking.
DEBIAN_PACKAGES := gcc make libc6-dev python3 qemu-system-x86 busybox-static cpio xz-utils zstd

LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard testcases/lib/*.c)))
CASE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard testcases/*.c)))
SELFTEST_UNIT_OBJS := $(BUILD)/testcases/lib/selftest/unit.o
SELFTEST_OUTCOME_OBJS := $(BUILD)/testcases/lib/selftest/outcomes.o

PROGRAMS := $(BIN)/vsockcheck-tests $(BIN)/vsc-lib-unit $(BIN)/vsc-lib-outcomes

.PHONY: all deps run check bench clean
all: $(PROGRAMS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itestcases/lib -c -o $@ $<

$(BIN)/vsockcheck-tests: $(LIB_OBJS) $(CASE_OBJS)
$(BIN)/vsc-lib-unit: $(LIB_OBJS) $(SELFTEST_UNIT_OBJS)
$(BIN)/vsc-lib-outcomes: $(LIB_OBJS) $(SELFTEST_OUTCOME_OBJS)
$(PROGRAMS):
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

run: deps all
	$(VSOCKCHECK) run

check: deps all
	$(PYTHON) runner/check_all.py

bench: deps all
	$(PYTHON) runner/bench.py

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(CASE_OBJS:.o=.d) $(SELFTEST_UNIT_OBJS:.o=.d) $(SELFTEST_OUTCOME_OBJS:.o=.d)
