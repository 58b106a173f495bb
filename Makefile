# casesync - one Makefile.  Targets: all (default) check demo asan fuzz bench
# chaos pot clean deps.  See README.md.

CC	?= cc
PKGS	 = libzmq lmdb msgpack libcrypto libcjson libmicrohttpd libargon2
WARN	 = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wsign-compare
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPT	?= -O2 -g
CFLAGS	+= $(WARN) $(OPT) -D_GNU_SOURCE $(PKG_CFLAGS)
LDLIBS	+= $(PKG_LIBS)

B	 = build
# Files made at build time and compiled in: the message catalogues.
GEN_SRC	 = $(B)/gen/i18n_mo.c
LIB_SRC	 = $(wildcard common/*.c) $(wildcard proto/*.c) \
	   $(filter-out node/main.c,$(wildcard node/*.c)) $(GEN_SRC)
# The selftest binary links the modules, not the verbs.
UNIT_SRC = $(filter-out node/cli.c node/cmd_%.c node/supervise.c,$(LIB_SRC))
HDRS	 = $(wildcard common/*.h) $(wildcard proto/*.h) $(wildcard node/*.h)

.PHONY: all check demo asan fuzz fuzz-check bench chaos clean deps selftest it \
	pot po-check
all: $(B)/casesync

# Message catalogues (docs/I18N.md): po/LANG.po is compiled with msgfmt
# --check and embedded in the binary by tools/embed.sh.  `make pot`
# extracts the msgids from the sources into po/casesync.pot and merges them
# into every po/LANG.po, taking exact matches from the glossary
# po/compendium/LANG.po; po-check (part of `make check`) fails when a msgid
# in the sources has no translation.
PO_LANGS = vi
I18N_SRC = $(sort $(wildcard common/*.[ch]) $(wildcard proto/*.[ch]) \
	   $(wildcard node/*.[ch]))
XGETTEXT = xgettext --language=C --from-code=UTF-8 -k -ki18n_tr:2 \
	   -ki18n_ntr:2,3 -kN_ -kweb_tr:2 --add-comments=TRANSLATORS: \
	   --package-name=casesync \
	   --msgid-bugs-address="the casesync issue tracker" --no-wrap \
	   --add-location=file

$(B)/po/%.mo: po/%.po
	@mkdir -p $(B)/po
	msgfmt --check --output-file=$@ $<

$(B)/gen/i18n_mo.c: $(PO_LANGS:%=$(B)/po/%.mo) tools/embed.sh
	@mkdir -p $(B)/gen
	sh tools/embed.sh i18n_mo_vi $(B)/po/vi.mo >$@.tmp && mv $@.tmp $@

# Locations without line numbers and no creation date, so that two
# branches that each run `make pot` merge without conflicts.
pot:
	$(XGETTEXT) --output=po/casesync.pot $(I18N_SRC)
	@sed -i '/^"POT-Creation-Date: /d' po/casesync.pot
	@for l in $(PO_LANGS); do \
		c=; [ -f po/compendium/$$l.po ] && \
		    c="--compendium=po/compendium/$$l.po"; \
		msgmerge --quiet --update --backup=none --no-wrap \
		    --add-location=file $$c \
		    po/$$l.po po/casesync.pot || exit 1; \
		msgfmt --check --statistics --output-file=/dev/null po/$$l.po; \
	done

po-check:
	@sh tests/po_check.sh

deps:
	@sh deploy/bootstrap.sh

$(B)/casesync: $(LIB_SRC) node/main.c $(HDRS) Makefile
	@mkdir -p $(B)
	$(CC) $(CFLAGS) -o $@ $(LIB_SRC) node/main.c $(LDLIBS)

# Unit selftests, under AddressSanitizer and UBSan.
ASAN	 = -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
$(B)/selftest: $(UNIT_SRC) tests/selftest.c $(HDRS) Makefile
	@mkdir -p $(B)
	$(CC) $(WARN) -O1 -g -D_GNU_SOURCE -DSELFTEST $(ASAN) $(PKG_CFLAGS) \
	    -o $@ $(UNIT_SRC) tests/selftest.c $(LDLIBS)

# The casesync binary under sanitizers, for the CLI tests.
$(B)/asan/casesync: $(LIB_SRC) node/main.c $(HDRS) Makefile
	@mkdir -p $(B)/asan
	$(CC) $(WARN) -O1 -g -D_GNU_SOURCE $(ASAN) $(PKG_CFLAGS) \
	    -o $@ $(LIB_SRC) node/main.c $(LDLIBS)
asan: $(B)/asan/casesync

# libFuzzer targets for every decoder (tests/fuzz/fuzz_*.c, clang), each run
# on a scratch copy of its seed corpus tests/fuzz/corpus/NAME/.  `make fuzz`
# runs each for FUZZ_SECONDS; `make check` runs each for 10 s (fuzz-check).
FUZZ_SECONDS ?= 300
fuzz: deps
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-check: deps
	@sh tests/fuzz/run.sh 10

check: deps
	@$(MAKE) --no-print-directory all $(B)/selftest
	@sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh deploy/demo.sh $(if $(filter 1 yes,$(KEEP)),--keep)

# Benchmarks against PostgreSQL logical replication (issue 7); not part of
# check.  An optimised build, then bench/run.py: BENCH_SCALE=10 for a
# 1,000,000-case backlog, BENCH_RUNS, BENCH_FANIN, BENCH_PG=0 (see
# docs/PERFORMANCE.md).  Results: a table, and build/bench.json.
bench: deps
	@$(MAKE) --no-print-directory OPT=-O2 all
	@python3 bench/run.py
	@python3 bench/console.py

# Chaos campaign (issue 8): central and six provinces as real processes,
# seeded workload and faults, then heal and check; round i uses seed
# SEED+i.  make chaos [SEED=n] [ROUNDS=n] [SECONDS=n]  (docs/RELIABILITY.md;
# `make check` runs a short one from tests/it/test_chaos.py).  Needs root
# for the tmpfs that fills a province's disk.
chaos: deps
	@$(MAKE) --no-print-directory all
	@/usr/bin/python3 tests/chaos/campaign.py --seed $(or $(SEED),1) \
	    --rounds $(or $(ROUNDS),10) --seconds $(or $(SECONDS),20)

clean:
	rm -rf $(B)
