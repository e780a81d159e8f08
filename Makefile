# tenantpulse — the commands. `make demo` to see it run, `make test` to check it.
# The build itself is CMake's (CMakeLists.txt); this file only strings the steps together.

SHELL := /bin/bash
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RELEASE_DIR := build/release
ASAN_DIR := build/asan

.PHONY: help deps build build-asan up down status clean-stack test demo openapi-lint clean

help:
	@echo "make demo         deps + release build + local stack + sample events (leaves it running)"
	@echo "make test         deps + ASan/UBSan build + private stack (.run/test, ports +100) + ctest"
	@echo "make deps         install Debian packages and node_modules (idempotent)"
	@echo "make build        release build in $(RELEASE_DIR)"
	@echo "make build-asan   AddressSanitizer + UBSan build in $(ASAN_DIR)"
	@echo "make up|down|status  the local stack (scripts/stack.sh; TP_RUN_DIR, TP_PORT_OFFSET, TP_BUILD_DIR, TP_SHARDS)"
	@echo "make clean-stack  stop the stack and delete its data"
	@echo "make openapi-lint lint openapi/*.yaml with @redocly/cli"
	@echo "make clean        remove build/"

deps:
	@bash scripts/deps.sh

build:
	cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_SANITIZE=OFF
	cmake --build $(RELEASE_DIR) -j$(JOBS)

build-asan:
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DTP_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j$(JOBS)

# `up` builds the release binaries it runs, unless TP_BUILD_DIR points at another build.
ifeq ($(TP_BUILD_DIR),)
up: build
endif
up:
	@bash scripts/stack.sh up

down:
	@bash scripts/stack.sh down

status:
	@bash scripts/stack.sh status

clean-stack:
	@bash scripts/stack.sh clean

test:
	@bash scripts/test.sh

demo:
	@bash scripts/demo.sh

openapi-lint:
	@ls openapi/*.yaml >/dev/null 2>&1 || { echo "no openapi/*.yaml yet"; exit 0; }; \
	  node_modules/.bin/redocly lint openapi/*.yaml

clean:
	rm -rf build
