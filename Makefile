# fabc — build, test, lab, demo, bench, install.
#
#   make                 build bin/fabc
#   make deps            install the Debian packages (root, apt-get)
#   make test            C unit tests (cmocka) + integration tests (pytest)
#   make demo            deps, build, lab, the reference deployment
#   make SANITIZER=address|undefined
#   make install PREFIX=/usr/local DESTDIR=

PREFIX    ?= /usr/local
DESTDIR   ?=
PYTHON    := /usr/bin/python3
PKG_CONFIG ?= pkg-config
CC        ?= cc

PKGS      := python-3.11-embed libssh2 libcurl openssl yaml-0.1 jansson
CORE_PKGS := libssh2 libcurl openssl yaml-0.1 jansson

PY_PREFIX := $(shell $(PYTHON) -c 'import sys; print(sys.base_prefix)' 2>/dev/null)
PY_STDLIB := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])' 2>/dev/null)
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.1.0)

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
OPT       ?= -O2 -g
CFLAGS    ?= $(OPT)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fno-strict-aliasing \
             -DFABC_VERSION='"$(VERSION)"' \
             -DFABC_PY_PREFIX='"$(PY_PREFIX)"' \
             -DFABC_PY_STDLIB='"$(PY_STDLIB)"' \
             -DFABC_PREFIX='"$(PREFIX)"'
LDFLAGS   ?=
ALL_LDFLAGS = $(LDFLAGS)

ifeq ($(SANITIZER),address)
  ALL_CFLAGS  += -fsanitize=address -fno-sanitize-recover=all -fno-omit-frame-pointer
  ALL_LDFLAGS += -fsanitize=address
endif
ifeq ($(SANITIZER),undefined)
  ALL_CFLAGS  += -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  ALL_LDFLAGS += -fsanitize=undefined
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CORE_LIBS  := $(shell $(PKG_CONFIG) --libs $(CORE_PKGS) 2>/dev/null)

BUILD   := build$(if $(SANITIZER),-$(SANITIZER))
SRCS    := $(wildcard runner/*.c)
OBJS    := $(patsubst runner/%.c,$(BUILD)/%.o,$(SRCS))
# The Python-free core: everything but the CPython boundary and main().
CORE_OBJS := $(filter-out $(BUILD)/main.o $(BUILD)/embed.o $(BUILD)/py_%.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

BIN := bin/fabc$(if $(SANITIZER),-$(SANITIZER))

# `make V=1` shows the full compiler command lines.
ifeq ($(V),1)
  Q :=
  say = @true
else
  Q := @
  say = @echo "  $(1) $(2)"
endif

.PHONY: all deps test unit integration demo lab lab-stop install uninstall \
        asan-test \
        clean fuzz bench valgrind lint

all: $(BIN)

$(BIN): $(OBJS)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $(OBJS) $(ALL_LDFLAGS) $(PKG_LIBS) -lpthread -lm

$(BUILD)/%.o: runner/%.c $(wildcard runner/*.h)
	@mkdir -p $(BUILD)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c $(CORE_OBJS) $(wildcard runner/*.h)
	@mkdir -p $(BUILD)/unit
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -Irunner $(PKG_CFLAGS) -o $@ $< $(CORE_OBJS) \
	  $(ALL_LDFLAGS) $(CORE_LIBS) $$($(PKG_CONFIG) --libs cmocka) -lpthread -lm

deps:
	sh tests/lab/deps.sh

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; (cd tests/unit && ../../$$t); done

integration: $(BIN)
	FABC=$(CURDIR)/$(BIN) $(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)

test: unit integration

# Every integration suite (host, SSH, cloud, TLS, deployment) against
# the AddressSanitizer binary (leak reports are off: the embedded
# interpreter keeps its allocations until exit).
ASAN_SUITES ?= tests/integration
asan-test:
	$(MAKE) SANITIZER=address all unit
	ASAN_OPTIONS=detect_leaks=0 FABC=$(CURDIR)/bin/fabc-address \
	  $(PYTHON) -m pytest -q $(ASAN_SUITES)

lab:
	sh tests/lab/start.sh

lab-stop:
	sh tests/lab/stop.sh

demo: deps all lab
	sh tests/demo.sh

# Static analysis of the Python-free core (the CPython macros confuse
# cppcheck, so py_*.c and embed.c are left to the compiler's warnings).
lint:
	cppcheck -q --error-exitcode=1 --enable=warning,portability --std=c11 \
	  -D_GNU_SOURCE -Irunner --include=tests/lint/cppcheck.h \
	  --suppress=missingIncludeSystem --inline-suppr \
	  $(filter-out runner/embed.c runner/py_%.c,$(SRCS))

valgrind: $(BIN)
	sh tests/valgrind.sh $(BIN)

fuzz:
	$(MAKE) -f tests/fuzz/fuzz.mk FUZZ_SECONDS=$${FUZZ_SECONDS:-60} fuzz-all

bench: $(BIN)
	sh tests/bench/run.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/fabc/python/fabc \
	  $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/fabc
	install -m 644 runner/fabc/*.py $(DESTDIR)$(PREFIX)/lib/fabc/python/fabc/
	install -m 644 docs/fabc.1 $(DESTDIR)$(PREFIX)/share/man/man1/fabc.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/fabc $(DESTDIR)$(PREFIX)/share/man/man1/fabc.1
	rm -rf $(DESTDIR)$(PREFIX)/lib/fabc

clean:
	rm -rf build build-* bin
