# SPDX-License-Identifier: GPL-2.0
#
# The plan of 'make demo' (scripts/demo.sh), run by /init inside the VM with
# its output on the host's results log. scripts/demo.sh puts the settings
# (DEMO_PROCS, DEMO_MIB, DEMO_DUP, DEMO_SECONDS, DEMO_INTERVAL_MS) in front.
#
# A workload of processes whose memory largely overlaps fills its memory,
# ksmd is turned on and ksm_watch shows it merging until sharing converges
# (or DEMO_SECONDS pass) and prints the summary. Then the workload checks its
# data and exits, run=2 unmerges what is left, and /init powers the VM off.
k=/sys/kernel/mm/ksm
cd /tests || exit 1

echo "demo: kernel $(uname -r), CPUs: $(nproc), RAM: $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"
if [ ! -d $k ]; then
	echo "demo: FAIL: $k does not exist (kernel without KSM?)"
	exit 1
fi
echo 0 >$k/run
cs=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)
case "$cs" in
*jiffies*)
	echo "demo: note: the clock source is $cs (the TSC could not be calibrated),"
	echo "demo: note: so CPU time is counted in whole ticks and ksmd CPU% is rough"
	;;
esac

./ksm_demo_load -n "$DEMO_PROCS" -s "$DEMO_MIB" -d "$DEMO_DUP" \
	-r /tmp/ksm_demo.ready &
load=$!
waited=0
while [ ! -e /tmp/ksm_demo.ready ]; do
	if ! kill -0 $load 2>/dev/null || [ $waited -ge 600 ]; then
		echo "demo: FAIL: the workload did not get ready"
		kill $load 2>/dev/null
		exit 1
	fi
	sleep 0.1
	waited=$((waited + 1))
done

# ksmd scans batches of pages_to_scan pages (2000: 7.8 MiB) and sleeps
# sleep_millisecs (10 ms) after each. Under TCG a batch takes longer than
# the sleep, so ksmd runs most of the time (some 70-80% of a CPU while
# merging): good for a demo that should converge in seconds, too greedy for
# production (the defaults are 100 pages every 20 ms).
echo 2000 >$k/pages_to_scan
echo 10 >$k/sleep_millisecs
echo 1 >$k/run
echo "ksmd: run=$(cat $k/run) pages_to_scan=$(cat $k/pages_to_scan) sleep_millisecs=$(cat $k/sleep_millisecs)"

timeout -s KILL $((DEMO_SECONDS + 30)) ./ksm_watch -p -c -i "$DEMO_INTERVAL_MS" \
	-t "$DEMO_SECONDS" -m $((DEMO_PROCS * DEMO_MIB)) ||
	echo "demo: FAIL: ksm_watch failed"

# The workload checks its memory, still merged, and exits.
kill -USR1 $load
wait $load
echo "demo: workload exit status $?"

echo 2 >$k/run
echo "unmerge: run=$(cat $k/run) pages_shared=$(cat $k/pages_shared) pages_sharing=$(cat $k/pages_sharing) pages_unshared=$(cat $k/pages_unshared)"
echo 0 >$k/run
echo "demo: done, powering off"
