# The addon built with AddressSanitizer and UndefinedBehaviorSanitizer, apart
# from binding.gyp, and the engine's JS tests run against it:
#
#   make -f native/asan.mk          build build/asan/megacomet.node
#   make -f native/asan.mk test     run test/engine-*.ts and test/ring-doorbell.ts with it
#
# Node itself is not instrumented, so libasan is preloaded into it and the
# tests pick the build through MEGACOMET_ADDON (see src/engine/binding.ts). Leak
# detection is off: Node does not free everything at exit. The vptr check is
# off: it probes memory through a pipe, which fails (a false report) in
# test/engine-fd-limit.ts, where the process has no file descriptor left.

CXX ?= g++
NODE_INCLUDE ?= $(shell node -p "require('path').join(process.execPath, '../../include/node')")
NAPI_INCLUDE := $(shell node -p "require('path').resolve(require('node-addon-api').include_dir)")
OUT := build/asan
SRCS := $(filter-out %_test.cc,$(wildcard native/*.cc))
FLAGS := -std=c++20 -fPIC -shared -g -O1 -fno-omit-frame-pointer -fno-exceptions \
         -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all \
         -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wno-unused-parameter -Werror \
         -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED \
         -isystem $(NODE_INCLUDE) -isystem $(NAPI_INCLUDE)
LIBASAN := $(shell $(CXX) -print-file-name=libasan.so)
LIBUBSAN := $(shell $(CXX) -print-file-name=libubsan.so)

.PHONY: all test
all: $(OUT)/megacomet.node

$(OUT)/megacomet.node: $(SRCS) $(wildcard native/*.h) native/asan.mk
	mkdir -p $(OUT)
	$(CXX) $(FLAGS) $(SRCS) -o $@

test: $(OUT)/megacomet.node
	LD_PRELOAD="$(LIBASAN) $(LIBUBSAN)" ASAN_OPTIONS=detect_leaks=0,abort_on_error=1 \
	  MEGACOMET_ADDON=$(abspath $(OUT)/megacomet.node) npx tap test/engine-*.ts test/ring-doorbell.ts
