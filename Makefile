# fcnlab front: `make` builds (Release), `make test` builds and runs the suite.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DFCNLAB_WERROR=ON
endif

.PHONY: all deps configure build build-cli test sweep clean format format-check plots test-faults test-asan fuzz

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The embedded default: the toy ablation on CPU (experiments/toy_ablation.toml), then its table.
# Finished runs are skipped, so running it again only prints the table (and an interrupted sweep
# resumes). Two runs at a time (each one thread: see the sweep file); SWEEP_ARGS are passed on.
FCNLAB = $(BUILD_DIR)/src/cli/fcnlab
TOY_DIR ?= datasets/toy-voc
build-cli: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target fcnlab

sweep: build-cli
	@test -f $(TOY_DIR)/classes.txt || $(FCNLAB) make-toy --out $(TOY_DIR)
	$(FCNLAB) sweep experiments/toy_ablation.toml --jobs 2 $(SWEEP_ARGS)
	$(FCNLAB) report results/toy_ablation --by model.skip,model.fusion,model.upsample,loss.name

clean:
	rm -rf $(BUILD_DIR)

# clang-format (Debian 12's clang-format 14, .clang-format) over every C++ file; format-check fails
# on any drift without changing files (.ci/run runs it).
FORMAT_FILES = $(shell find src tests fuzz cmake -name '*.cpp' -o -name '*.h')
format:
	@clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: $(words $(FORMAT_FILES)) files formatted"

# Plots of a results dir into DIR/plots/ (Debian's python3-h5py/-matplotlib, hence /usr/bin/python3).
PYTHON ?= /usr/bin/python3
plots:
	@test -n "$(DIR)" || { echo "usage: make plots DIR=results/<experiment>" >&2; exit 2; }
	$(PYTHON) analysis/plots.py $(DIR) $(PLOTS_ARGS)

# ---- reliability (tests/faults/, fuzz/) ----
# Full fault-injection scripts: kill -9 at seeded random moments (12 kills in a sweep, 5 in a run),
# concurrent sweeps, bad input, divergence. `make test` runs their smoke versions through ctest.
test-faults: build
	cd $(BUILD_DIR) && FCNLAB_FAULTS=full ctest -L faults --output-on-failure

# The unit suite built with ASan + UBSan into build-asan (LibTorch itself is not instrumented:
# container-overflow checks are off because instrumented and uninstrumented code share std containers).
ASAN_BUILD_DIR ?= build-asan
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
test-asan: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) \
	  -DCMAKE_CXX_FLAGS="$(SANITIZE)" -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE)"
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	cd $(ASAN_BUILD_DIR) && ASAN_OPTIONS=detect_container_overflow=0:detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS) -LE faults

# libFuzzer targets (clang, ASan + UBSan), FUZZ_SECONDS each: fuzz/run.sh.
FUZZ_SECONDS ?= 60
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)
