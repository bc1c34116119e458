# tapedeck: set-up, build, test and benchmark on a fresh Debian machine.
#
#   make demo     install what is missing, build, scan the bundled fixtures, list, render, convert
#   make test     install what is missing, build, run every test
#   make bench    scanner, query, player, convert, export, service and UI benchmarks (prints
#                 figures)
#   make install  cargo install into ~/.cargo/bin, and the manual page into $(MANDIR)

SHELL := /bin/bash
CARGO ?= cargo
# Build-time needs: a C compiler (bundled SQLite, LAME, FDK AAC), pkg-config and ALSA headers.
# Test oracles: ffmpeg, flac, lame, sox and python3-mutagen; pv paces the ALSA file device;
# dosfstools, mtools and fusefat give the export tests a real FAT32 file system, exfat-fuse and
# exfatprogs an exFAT one; util-linux has flock (a second writer, in the safety tests); groff-base
# and man-db render the manual page (`man -l`), in the tests and for `man tapedeck`; bash, zsh and
# fish run the completion scripts in the tests; bsdutils has `script` (a real terminal, for the
# colour tests); cdrdao, xorriso, cuetools and bchunk read the CD images back; loudgain is the
# loudness oracle of the analyze tests; mpc, python3-mpd and ncmpcpp (in tmux) are the MPD
# clients of the service tests, and tmux the terminal of the UI tests; dbus-daemon (dbus-run-session), dbus-bin (dbus-monitor) and playerctl are the MPRIS
# tests' private bus and client.
DEB_PACKAGES := build-essential pkg-config libasound2-dev ffmpeg flac lame sox python3-mutagen pv \
	cdrdao xorriso cuetools bchunk \
	dosfstools mtools fusefat exfat-fuse exfatprogs util-linux groff-base man-db bash zsh fish \
	bsdutils loudgain mpc python3-mpd ncmpcpp tmux dbus-daemon dbus-bin playerctl
# The benchmarks' peers: MPD builds its database of the scan benchmark's tree and answers the
# service benchmark's clients next to `tapedeck serve` (and ncmpcpp's, next to `tapedeck ui`);
# shntool writes the cue sheet of the CD benchmark's image made by hand.
BENCH_PACKAGES := mpd shntool
DEMO_DIR := $(CURDIR)/target/demo
# `make install` puts tapedeck(1) here (man finds it when ~/.local/bin is on PATH, else set
# MANPATH).
PREFIX ?= $(HOME)/.local
MANDIR ?= $(PREFIX)/share/man/man1

.PHONY: all deps build release test demo bench install fixtures clean

all: build

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing"; \
	    echo "run: sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }

build: deps
	$(CARGO) build --locked

release: deps
	$(CARGO) build --locked --release

test: deps
	$(CARGO) build --locked --all-targets
	$(CARGO) test --locked

demo: release
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@echo "== tapedeck scan fixtures (a throwaway library in $(DEMO_DIR))"
	./target/release/tapedeck --db $(DEMO_DIR)/library.db scan fixtures
	@echo "== tapedeck ls"
	./target/release/tapedeck --db $(DEMO_DIR)/library.db ls
	@echo "== tapedeck stats"
	./target/release/tapedeck --db $(DEMO_DIR)/library.db stats
	@echo "== tapedeck problems"
	./target/release/tapedeck --db $(DEMO_DIR)/library.db problems
	@echo "== tapedeck render (the player's pipeline, gapless and loudness-matched, into a WAV file)"
	./target/release/tapedeck --db $(DEMO_DIR)/library.db render format:flac ^path:/broken/ -o $(DEMO_DIR)/mix.wav
	@echo "== tapedeck convert (lossless tracks to MP3 320k; lossy ones are refused, with a reason)"
	./target/release/tapedeck --db $(DEMO_DIR)/library.db convert ^path:/broken/ --to $(DEMO_DIR)/mp3 --format mp3
	@find $(DEMO_DIR)/mp3 -type f -not -path '*/.tapedeck/*' | sort

bench: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(BENCH_PACKAGES)"
	$(CARGO) bench --locked --bench scan
	$(CARGO) bench --locked --bench query
	$(CARGO) bench --locked --bench play
	$(CARGO) bench --locked --bench convert
	$(CARGO) bench --locked --bench export
	$(CARGO) bench --locked --bench cd
	$(CARGO) bench --locked --bench analyze
	$(CARGO) bench --locked --bench serve
	$(CARGO) bench --locked --bench ui

install: deps
	$(CARGO) install --locked --path .
	@bin="$${CARGO_INSTALL_ROOT:-$${CARGO_HOME:-$$HOME/.cargo}}/bin/tapedeck"; \
	mkdir -p "$(MANDIR)" && "$$bin" man > "$(MANDIR)/tapedeck.1.tmp" && \
	mv "$(MANDIR)/tapedeck.1.tmp" "$(MANDIR)/tapedeck.1" && echo "installed $(MANDIR)/tapedeck.1"

fixtures:
	bash fixtures/make-fixtures.sh

clean:
	$(CARGO) clean
