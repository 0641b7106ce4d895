# SPDX-License-Identifier: GPL-2.0
#
# The ksm_guests suite, run inside the test VM (TAP on stdout): KSM merging
# real QEMU guests. Three guests of the same image boot with QEMU's default
# mem-merge=on, each filling KSMG_SHARED MiB with content common to all of
# them and KSMG_UNIQUE MiB of its own (scripts/vm/guest-lib.sh). Then:
#
#   ram_mergeable     each guest's RAM mapping is VM_MERGEABLE (smaps 'mg')
#   merged            pages_sharing reaches the bound the layout allows,
#                     shared pages x (guests - 1), and every guest's
#                     ksm_stat counts at least its shared pages as merging
#   verify_merged     every guest finds its whole pattern intact
#   unmerge_remerge   run=2 unmerges everything (pages_sharing 0), the
#                     guests' data is intact, run=1 merges it again
#   swap              the QEMU processes are reclaimed to zram swap, the
#                     guests' data is intact, and they merge again
#   reboot            one guest reboots (and refills its memory) while a
#                     fourth boots with mem-merge=off: the rebooted guest
#                     merges again up to the bound, the fourth merges nothing
#   kill              one guest is killed: the others keep their sharing
#                     (bound for one guest fewer) and their data
#   teardown          with every guest gone and run=2, no KSM page is left
#
# A guest that does not get ready in time fails the case with its serial
# log; every QEMU is killed at the end whatever happened.
. /tests/guest-lib.sh

k=/sys/kernel/mm/ksm
READY_SECONDS=${KSMG_READY_SECONDS:-300}
MERGE_SECONDS=${KSMG_MERGE_SECONDS:-120}
page_kib=4
shared_pages=$((KSMG_SHARED * 1024 / page_kib))
n=0
failed=0
start=$(date +%s)

ok() {
	n=$((n + 1))
	echo "ok $n $1"
	echo "# at $(($(date +%s) - start)) s"
}

not_ok() {
	n=$((n + 1))
	failed=1
	echo "not ok $n $1"
	echo "# at $(($(date +%s) - start)) s"
}

# check NAME CMD...: one TAP line from CMD's status.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

counters() {
	echo "# run=$(cat $k/run) pages_shared=$(cat $k/pages_shared) pages_sharing=$(cat $k/pages_sharing) pages_unshared=$(cat $k/pages_unshared) full_scans=$(cat $k/full_scans)"
}

# guests_merge ID...: each guest's ksm_stat counts at least the shared
# part of its pattern as merging; quiet.
guests_merge() {
	local id m
	for id in "$@"; do
		m=$(guest_stat "$id" ksm_merging_pages)
		[ "${m:-0}" -ge "$shared_pages" ] || return 1
	done
}

# every_guest_merges ID...: prints each guest's saving, then guests_merge.
every_guest_merges() {
	local id m p
	for id in "$@"; do
		m=$(guest_stat "$id" ksm_merging_pages)
		p=$(guest_stat "$id" ksm_process_profit)
		echo "# guest $id: ksm_merging_pages=$m ($((${m:-0} * page_kib / 1024)) MiB of $KSMG_MEM MiB) ksm_process_profit=$((${p:-0} / 1048576)) MiB"
	done
	guests_merge "$@"
}

# wait_sharing MIN [ID...]: until pages_sharing >= MIN and each guest ID
# counts its shared pages as merging (guests_merge), or MERGE_SECONDS
# pass. pages_sharing alone can reach MIN while ksmd is still on its way
# through a guest's pattern: the guests share more than the pattern
# (pages their kernels fill alike, pages of one content within a guest).
wait_sharing() {
	local min=$1 t0
	shift
	t0=$(date +%s)
	until [ "$(cat $k/pages_sharing)" -ge "$min" ] && guests_merge "$@"; do
		if [ $(($(date +%s) - t0)) -ge "$MERGE_SECONDS" ]; then
			echo "# pages_sharing $(cat $k/pages_sharing) (want >= $min${1:+, and guests $* merging}) after $MERGE_SECONDS s"
			[ $# -eq 0 ] || every_guest_merges "$@"
			counters
			return 1
		fi
		sleep 1
	done
	echo "# pages_sharing $(cat $k/pages_sharing) >= $min${1:+, guests $* merging,} after $(($(date +%s) - t0)) s"
}

# wait_full_scans N: until ksmd completed N more full scans.
wait_full_scans() {
	local want=$(($(cat $k/full_scans) + $1)) t=0
	while [ "$(cat $k/full_scans)" -lt $want ] && [ $t -lt "$MERGE_SECONDS" ]; do
		sleep 1
		t=$((t + 1))
	done
	[ "$(cat $k/full_scans)" -ge $want ]
}

ready_all() {
	local id rc=0
	for id in "$@"; do
		if ! guest_wait "$id" ready "${want_ready:-1}" "$READY_SECONDS"; then
			echo "# guest $id did not get ready in $READY_SECONDS s"
			guest_show "$id"
			rc=1
		fi
	done
	return $rc
}

ram_mergeable() {
	local id flags rc=0
	for id in "$@"; do
		flags=$(guest_ram_flags "$id")
		echo "# guest $id RAM VmFlags: $flags"
		case " $flags " in
		*" mg "*) ;;
		*) rc=1 ;;
		esac
	done
	return $rc
}

swap_on() {
	[ -e /sys/block/zram0/disksize ] || return 1
	echo 512M >/sys/block/zram0/disksize || return 1
	mkswap /dev/zram0 >/dev/null && swapon /dev/zram0
}

swap_off() {
	swapoff /dev/zram0 2>/dev/null
	echo 1 >/sys/block/zram0/reset 2>/dev/null
}

# Reclaims memory (the root memory cgroup's memory.reclaim) until the
# guests' QEMU processes have at least KSMG_SHARED MiB swapped out.
swap_out() {
	local cg=/sys/fs/cgroup id kib total=0
	mkdir -p $cg
	grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none $cg || return 1
	echo 128M >$cg/memory.reclaim 2>/dev/null
	for id in "$@"; do
		kib=$(awk '/^VmSwap:/ { print $2 }' "/proc/$(guest_pid "$id")/status")
		echo "# guest $id: ${kib:-0} KiB swapped out"
		total=$((total + ${kib:-0}))
	done
	echo "# swapped out $((total / 1024)) MiB of guest memory; swap used: $(awk '/^SwapTotal:/ { t = $2 } /^SwapFree:/ { f = $2 } END { print (t - f) / 1024 }' /proc/meminfo) MiB"
	[ $total -ge $((KSMG_SHARED * 1024)) ]
}

no_merging() {
	local m
	m=$(guest_stat "$1" ksm_merging_pages)
	echo "# guest $1 (mem-merge=off): RAM VmFlags: $(guest_ram_flags "$1"); ksm_merging_pages=$m"
	case " $(guest_ram_flags "$1") " in
	*" mg "*) return 1 ;;
	esac
	[ "${m:-1}" = 0 ]
}

# Every counter at zero, and no stable node left: max_page_sharing can
# change only while there is none (-EBUSY otherwise).
no_ksm_pages() {
	local mps
	counters
	[ "$(cat $k/pages_shared)" = 0 ] && [ "$(cat $k/pages_sharing)" = 0 ] &&
		[ "$(cat $k/pages_unshared)" = 0 ] || return 1
	mps=$(cat $k/max_page_sharing)
	if ! echo $((mps + 1)) >$k/max_page_sharing; then
		echo "# a stable node outlived every guest"
		return 1
	fi
	echo "$mps" >$k/max_page_sharing
}

echo "TAP version 13"
why=$(guest_unavailable)
if [ -n "$why" ]; then
	echo "1..1"
	echo "not ok 1 guests # $why"
	exit 1
fi
echo "1..10"
echo 2 >$k/run
echo 0 >$k/run
echo 5000 >$k/pages_to_scan
echo 10 >$k/sleep_millisecs
trap guest_kill_all EXIT
for id in 1 2 3; do
	guest_start $id on
done
if ready_all 1 2 3; then
	ok ready
else
	not_ok ready
	guest_kill_all
	exit 1
fi
echo "# three guests ready in $(($(date +%s) - start)) s (${KSMG_MEM} MiB each, $KSMG_SHARED MiB common content, $KSMG_UNIQUE MiB unique)"
check ram_mergeable ram_mergeable 1 2 3

echo 1 >$k/run
bound=$((shared_pages * 2))
if wait_sharing $bound 1 2 3 && every_guest_merges 1 2 3; then ok merged; else not_ok merged; fi
counters
check verify_merged guest_verify 1 2 3

echo 2 >$k/run
counters
if [ "$(cat $k/pages_sharing)" = 0 ] && guest_verify 1 2 3; then
	echo 1 >$k/run
	if wait_sharing $bound; then ok unmerge_remerge; else not_ok unmerge_remerge; fi
else
	not_ok unmerge_remerge
	echo 1 >$k/run
fi

if swap_on; then
	if swap_out 1 2 3 && guest_verify 1 2 3 && wait_sharing $bound; then
		ok swap
	else
		not_ok swap
	fi
	swap_off
else
	not_ok "swap # no zram swap"
fi

# A reboot of guest 2 while guest 4 boots with mem-merge=off.
guest_say 2 reboot
guest_start 4 off
want_ready=2
ready2=0
ready_all 2 && ready2=1
want_ready=1
ready4=0
ready_all 4 && ready4=1
if [ $ready2 = 1 ] && wait_sharing $bound 1 2 3 && wait_full_scans 2 &&
	every_guest_merges 1 2 3 && guest_verify 1 2 3; then
	ok reboot
else
	not_ok reboot
fi
if [ $ready4 = 1 ] && no_merging 4 && guest_verify 4; then
	ok mem_merge_off
else
	not_ok mem_merge_off
fi
guest_kill 4

guest_kill 3
wait_full_scans 2
counters
if wait_sharing $shared_pages 1 2 && every_guest_merges 1 2 && guest_verify 1 2; then
	ok kill
else
	not_ok kill
fi

guest_say 1 halt
guest_say 2 halt
sleep 2
guest_kill_all
echo 2 >$k/run
check teardown no_ksm_pages
echo 0 >$k/run
echo "# ksm_guests took $(($(date +%s) - start)) s"
exit $failed
