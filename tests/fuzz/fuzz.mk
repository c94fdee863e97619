# make fuzz: build every tests/fuzz/fuzz_*.c as a libFuzzer target and run
# each for FUZZ_SECONDS (default 60). Targets link the Python-free runner
# sources compiled with clang; a target that needs CPython links
# python3-embed and the py_*.c files too (name it fuzz_py_*.c).
CLANG     ?= clang
FUZZ_SECONDS ?= 60
PKGS      := libssh2 libcurl openssl yaml-0.1 jansson
PYPKG     := python-3.11-embed
FZ        := build-fuzz
FLAGS     := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
             -fno-sanitize-recover=all -Irunner $(shell pkg-config --cflags $(PKGS) $(PYPKG)) \
             -DFABC_VERSION='"fuzz"' -DFABC_PY_PREFIX='"/usr"' \
             -DFABC_PY_STDLIB='"/usr/lib/python3.11"' -DFABC_PREFIX='"/usr/local"'
CORE_SRCS := $(filter-out runner/main.c runner/embed.c runner/py_%.c,$(wildcard runner/*.c))
PY_SRCS   := $(wildcard runner/py_*.c) runner/embed.c
TARGETS   := $(patsubst tests/fuzz/%.c,$(FZ)/%,$(wildcard tests/fuzz/fuzz_*.c))
LIBS      := $(shell pkg-config --libs $(PKGS)) -lpthread -lm

.PHONY: fuzz-all
fuzz-all: $(TARGETS)
	@status=0; for t in $(TARGETS); do \
	  name=$$(basename $$t); corpus=tests/fuzz/corpus-$$name; \
	  mkdir -p $$corpus; seeds=tests/fuzz/seeds/$$name; \
	  echo "== $$name for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      -artifact_prefix=$(FZ)/$$name- \
	      $$corpus $$( [ -d $$seeds ] && echo $$seeds ) \
	      >$(FZ)/$$name.log 2>&1; rc=$$?; \
	  grep -E "^Done|stat::number_of_executed_units|ERROR|SUMMARY" \
	      $(FZ)/$$name.log; \
	  if [ $$rc != 0 ]; then echo "$$name: FAILED (exit $$rc), see" \
	      "$(FZ)/$$name.log"; tail -n 40 $(FZ)/$$name.log; status=1; fi; \
	done; exit $$status

$(FZ)/fuzz_py_%: tests/fuzz/fuzz_py_%.c $(CORE_SRCS) $(PY_SRCS)
	@mkdir -p $(FZ)
	$(CLANG) $(FLAGS) -o $@ $< $(CORE_SRCS) $(PY_SRCS) $(LIBS) \
	  $(shell pkg-config --libs $(PYPKG))

$(FZ)/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRCS)
	@mkdir -p $(FZ)
	$(CLANG) $(FLAGS) -o $@ $< $(CORE_SRCS) $(LIBS)
