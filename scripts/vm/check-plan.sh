# SPDX-License-Identifier: GPL-2.0
#
# The test plan of 'make check', run by /init inside the VM (two NUMA nodes).
# KUnit has already run at boot; its results are on the kernel console.
. /tests/ktest-lib.sh
cd /tests
T=${KSMT_CASE_SECONDS:-180}
# ksm_tests' throughput modes give up after 120 s; under KASAN or KCSAN
# and TCG 100 MiB takes longer, so those kernels merge 24 MiB in those
# modes (-H needs a multiple of the 2 MiB huge page).
S=100
if [ -n "${KSMT_SLOW_KERNEL:-}" ]; then
	T=${KSMT_CASE_SECONDS:-400}
	S=24
fi

echo "kernel: $(uname -r)"
echo "ksm sysfs: $(ls /sys/kernel/mm/ksm 2>/dev/null | tr '\n' ' ')"

# Upstream kselftests, unmodified: every ksm_tests mode of 6.12's
# run_vmtests.sh, plus -D and -C, then ksm_functional_tests.
ksm_reset
run_case rc ksm_tests/H-s$S $T ./ksm_tests -H -s $S
run_case rc ksm_tests/P-s$S $T ./ksm_tests -P -s $S
run_case rc ksm_tests/M-p10 $T ./ksm_tests -M -p 10
run_case rc ksm_tests/U $T ./ksm_tests -U
run_case rc ksm_tests/Z-p10-z0 $T ./ksm_tests -Z -p 10 -z 0
run_case rc ksm_tests/Z-p10-z1 $T ./ksm_tests -Z -p 10 -z 1
run_case rc ksm_tests/N-m1 $T ./ksm_tests -N -m 1
run_case rc ksm_tests/N-m0 $T ./ksm_tests -N -m 0
run_case rc ksm_tests/D-s$S $T ./ksm_tests -D -s $S
run_case rc ksm_tests/C $T ./ksm_tests -C
ksm_reset
run_case tap ksm_functional_tests $T ./ksm_functional_tests

# Our own kselftests (tools/testing/selftests/mm/ of this repository).
# ksm_faults needs fault injection, which only the debug kernel has.
for t in $(cat /tests/our-tests 2>/dev/null); do
	[ "$t" = ksm_stress ] && continue
	[ "$t" = ksm_faults ] && [ -z "${KSMT_DEBUG_KERNEL:-}" ] && continue
	ksm_reset
	run_case tap "$t" $T "./$t"
done

# Real QEMU guests merged (scripts/vm/ksm_guests.sh).
ksm_reset
run_case tap ksm_guests $((T + 300)) sh ./ksm_guests.sh

# The randomized stress program, bounded: its exit status is the result.
if [ -x ./ksm_stress ]; then
	D=${KSMT_STRESS_SECONDS:-60}
	ksm_reset
	run_case rc ksm_stress $((D + 120)) ./ksm_stress -d "$D"
fi
ksm_reset

# Leaks: with every test process gone and everything unmerged, KSM's slab
# caches hold nothing; on the debug kernel, kmemleak finds nothing of
# KSM's after the whole plan (scripts/vm/leaks.sh).
run_case rc leaks/slab 60 sh ./leaks.sh slab
if [ -n "${KSMT_DEBUG_KERNEL:-}" ]; then
	run_case rc leaks/kmemleak 300 sh ./leaks.sh kmemleak
fi

# On the KCSAN kernel, what KCSAN did (scripts/kcsan.sh reads it): how
# many watchpoints it set up and how many races it saw.
if [ -r /sys/kernel/debug/kcsan ]; then
	sed 's/^/KCSAN-STATS /' /sys/kernel/debug/kcsan
fi
