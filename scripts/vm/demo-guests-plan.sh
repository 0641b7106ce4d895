# SPDX-License-Identifier: GPL-2.0
#
# The plan of 'make demo' with guests (scripts/demo.sh, DEMO_GUESTS > 0),
# run by /init inside the VM with its output on the host's results log.
# scripts/demo.sh puts the settings in front (DEMO_GUESTS, DEMO_SECONDS,
# DEMO_INTERVAL_MS, KSMG_MEM, KSMG_SHARED, KSMG_UNIQUE).
#
# Boots DEMO_GUESTS QEMU guests of the same image (Debian's own
# qemu-system-x86_64 from the host, scripts/vm/guest-lib.sh), each filling
# KSMG_SHARED MiB of its RAM with content common to all guests and
# KSMG_UNIQUE MiB with its own. Once all are up, ksmd is turned on and
# ksm_watch shows it merging the guests until sharing converges (or
# DEMO_SECONDS pass) and prints the summary. Then each guest checks its
# memory, merged, the guests power off, run=2 unmerges what is left and
# /init powers the VM off.
k=/sys/kernel/mm/ksm
cd /tests || exit 1
. /tests/guest-lib.sh

echo "demo: kernel $(uname -r), CPUs: $(nproc), RAM: $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"
if [ ! -d $k ]; then
	echo "demo: FAIL: $k does not exist (kernel without KSM?)"
	exit 1
fi
why=$(guest_unavailable)
if [ -n "$why" ]; then
	echo "demo: FAIL: cannot start guests: $why"
	exit 1
fi
echo 0 >$k/run
trap guest_kill_all EXIT

ids=$(seq 1 "$DEMO_GUESTS")
echo "demo: booting $DEMO_GUESTS QEMU guests ($(guest_qemu -version 2>/dev/null | head -n 1), TCG inside this VM), $KSMG_MEM MiB each;"
echo "demo: each fills $KSMG_SHARED MiB with content common to all guests and $KSMG_UNIQUE MiB with its own"
t0=$(date +%s)
for id in $ids; do
	guest_start "$id" on
done
for id in $ids; do
	if ! guest_wait "$id" ready 1 "${KSMG_READY_SECONDS:-400}"; then
		echo "demo: FAIL: guest $id did not get ready"
		guest_show "$id"
		exit 1
	fi
	echo "demo: guest $id ready after $(($(date +%s) - t0)) s (QEMU pid $(guest_pid "$id"), RAM VmFlags: $(guest_ram_flags "$id"))"
done

# As in the process demo: batches of 2000 pages every 10 ms, so that the
# demo converges in seconds; far greedier than the defaults.
echo 2000 >$k/pages_to_scan
echo 10 >$k/sleep_millisecs
echo 1 >$k/run
echo "ksmd: run=$(cat $k/run) pages_to_scan=$(cat $k/pages_to_scan) sleep_millisecs=$(cat $k/sleep_millisecs)"

timeout -s KILL $((DEMO_SECONDS + 30)) ./ksm_watch -p -c -i "$DEMO_INTERVAL_MS" \
	-t "$DEMO_SECONDS" -m $((DEMO_GUESTS * KSMG_MEM)) -l "of guest RAM" ||
	echo "demo: FAIL: ksm_watch failed"

for id in $ids; do
	m=$(guest_stat "$id" ksm_merging_pages)
	p=$(guest_stat "$id" ksm_process_profit)
	echo "demo: guest $id: $((${m:-0} * 4 / 1024)) MiB of its RAM in KSM pages, profit $((${p:-0} / 1048576)) MiB (/proc/$(guest_pid "$id")/ksm_stat)"
done

# Each guest checks its whole pattern, still merged.
if guest_verify $ids; then
	echo "data intact: all $DEMO_GUESTS guests found their memory as they wrote it"
else
	echo "demo: FAIL: a guest found its memory changed"
fi
for id in $ids; do
	guest_say "$id" halt
done
sleep 2
guest_kill_all

echo 2 >$k/run
echo "unmerge: run=$(cat $k/run) pages_shared=$(cat $k/pages_shared) pages_sharing=$(cat $k/pages_sharing) pages_unshared=$(cat $k/pages_unshared)"
echo 0 >$k/run
echo "demo: done, powering off"
