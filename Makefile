# SPDX-License-Identifier: GPL-2.0
#
# Entry points. Everything runs through scripts/; see README.
#
#   make demo                  the main job: our KSM merging QEMU guests, live
#                              (GUESTS=N guests, default 3; GUESTS=0: processes)
#   make check                 the whole test suite (VARIANT=stock: upstream)
#   make bench                 stock KSM against ours, measured (QUICK=1: short)
#   make kernel                build the kernel of $(VARIANT) only
#   make soak                  stress on the debug kernel with injected
#                              allocation failures (SOAK_MINUTES=N, 30)
#   make kcsan                 the race suite and the stress program on a
#                              KCSAN kernel (data races reported in mm/ksm/)
#   make checkpatch            checkpatch.pl --strict on every file we own
#   make configs               our KSM built in the configs users run
#   make patches               the series for the pristine tree, in build/patches
#   make bisect-series         the test kernel built after each patch in turn
#   make clean                 remove build/ (the ccache stays)

VARIANT ?= ours
export VARIANT SUITE DEBUG NO_BUILD VM_TIMEOUT STRESS_SECONDS QUICK CONFIGS LINK GUESTS
export SOAK_MINUTES FAIL_PERCENT KCSAN

.PHONY: demo check bench soak kcsan kernel checkpatch configs patches bisect-series clean

demo:
	@bash scripts/demo.sh

check:
	@bash scripts/check.sh

bench:
	@bash scripts/bench.sh

soak:
	@bash scripts/soak.sh

kcsan:
	@bash scripts/kcsan.sh

kernel:
	@bash scripts/install-deps.sh
	@bash scripts/build-kernel.sh

checkpatch:
	@bash scripts/checkpatch.sh

configs:
	@bash scripts/configs.sh

patches:
	@bash scripts/patches.sh write

bisect-series:
	@bash scripts/patches.sh bisect

clean:
	rm -rf build
