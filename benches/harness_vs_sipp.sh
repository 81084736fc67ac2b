#!/usr/bin/env bash
# The bench harness against sipp, in one run on this machine.
#
# (a) Highest sustained call rate: sipp uac -> sipp uas, and
#     branchline bench uac -> branchline bench uas, directly on loopback.
#     A rate is sustained when a bounded run of SECS seconds' worth of calls
#     ends with every call successful and no later than 1.2 x SECS + 1 s
#     (a generator that cannot keep up falls behind and fails this).
#     The rate doubles from START until a run fails, then bisects STEPS times.
# (b) CPU per call at a common rate (2,000 calls/s): user+system time of
#     the UAC process (exact, from /usr/bin/time) and of the UAS process
#     (from /proc ticks, over the UAC's run), per successful call. The
#     0.4x target is for the pair (UAC+UAS against sipp uac+uas: the
#     generator as a whole); the UAC and UAS rows are for information.
#     Run it on an otherwise idle machine: other load inflates both sides,
#     and the load average is printed with each step.
#
# usage: benches/harness_vs_sipp.sh [--secs S] [--start CPS] [--steps N]
#                                  [--max CPS] [--cpu-rate CPS] [--cpu-calls N]
# needs: sipp (Debian package sip-tester), /usr/bin/time, a release build
# (built here when missing). Loopback only; every run is bounded by
# `timeout`.
set -u
cd "$(dirname "$0")/.."
SECS=4 START=1000 STEPS=3 MAX=200000 CPU_RATE=2000 CPU_CALLS=20000
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) SECS=$2; shift 2 ;;
    --start) START=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --max) MAX=$2; shift 2 ;;
    --cpu-rate) CPU_RATE=$2; shift 2 ;;
    --cpu-calls) CPU_CALLS=$2; shift 2 ;;
    *) echo "harness_vs_sipp.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v sipp >/dev/null || { echo "harness_vs_sipp.sh: sipp not found (apt-get install sip-tester)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "harness_vs_sipp.sh: /usr/bin/time not found (apt-get install time)" >&2; exit 2; }
BIN=${BIN:-target/release/branchline}
if [ ! -x "$BIN" ]; then cargo build --release --bin branchline >&2 || exit 2; fi
UAS_PORT=${UAS_PORT:-35070} UAC_PORT=${UAC_PORT:-35061}
WORK=$(mktemp -d /tmp/harness_vs_sipp.XXXXXX)
UASPID=
trap '[ -n "$UASPID" ] && kill $UASPID 2>/dev/null; wait 2>/dev/null' EXIT

# CPU ticks (1/100 s) of process $1
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

start_uas() { # $1 = sipp|bench
  if [ "$1" = sipp ]; then
    sipp -sn uas -i 127.0.0.1 -p $UAS_PORT -nostdin >"$WORK/uas.log" 2>&1 &
  else
    "$BIN" bench uas --listen 127.0.0.1:$UAS_PORT --quiet >"$WORK/uas.log" 2>&1 &
  fi
  UASPID=$!
  sleep 0.5
}
stop_uas() { kill $UASPID 2>/dev/null; wait $UASPID 2>/dev/null; UASPID=; sleep 0.3; }

# run_uac GEN RATE CALLS -> prints "ok failed wall_s uac_cpu_s uas_cpu_s"
run_uac() {
  local gen=$1 rate=$2 calls=$3 limit=$(( $3 / $2 + 40 )) t0 t1 w0 w1 ok failed
  start_uas "$gen"
  t0=$(ticks $UASPID); w0=$(date +%s.%N)
  if [ "$gen" = sipp ]; then
    /usr/bin/time -f "%U %S" -o "$WORK/time" timeout $limit sipp 127.0.0.1:$UAS_PORT -sn uac \
      -i 127.0.0.1 -p $UAC_PORT -r "$rate" -m "$calls" -l $(( rate * 2 + 100 )) -nostdin \
      -timeout $(( limit - 5 ))s >"$WORK/uac.log" 2>&1
    w1=$(date +%s.%N); t1=$(ticks $UASPID)
    ok=$(grep -E "Successful call" "$WORK/uac.log" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
    failed=$(grep -E "Failed call" "$WORK/uac.log" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
  else
    /usr/bin/time -f "%U %S" -o "$WORK/time" timeout $limit "$BIN" bench uac \
      --target 127.0.0.1:$UAS_PORT --rate "$rate" --calls "$calls" --timeout 10s --quiet \
      --json "$WORK/uac.json" >"$WORK/uac.log" 2>&1
    w1=$(date +%s.%N); t1=$(ticks $UASPID)
    ok=$(grep -m1 '"succeeded"' "$WORK/uac.json" 2>/dev/null | tr -dc 0-9)
    failed=$(grep -m1 '"failed"' "$WORK/uac.json" 2>/dev/null | tr -dc 0-9)
  fi
  stop_uas
  local cpu
  cpu=$(tail -1 "$WORK/time" | awk '{ if (NF == 2) print $1 + $2; else print "nan" }')
  echo "${ok:-0} ${failed:-?} $(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.2f", b-a}') $cpu \
$(awk -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}')"
}

sustains() { # GEN RATE -> exit 0 when sustained; logs the run
  local calls=$(( $2 * SECS )) r
  r=$(run_uac "$1" "$2" "$calls")
  set -- "$1" "$2" $r
  local verdict=no
  if [ "$3" = "$calls" ] && [ "$4" = 0 ] && awk -v w="$5" -v s="$SECS" 'BEGIN{exit !(w <= 1.2*s + 1)}'; then
    verdict=yes
  fi
  printf "  %-6s %7s cps: ok %8s failed %6s wall %6ss -> %s\n" "$1" "$2" "$3" "$4" "$5" "$verdict" >&2
  [ $verdict = yes ]
}

max_rate() { # GEN -> highest sustained rate
  local gen=$1 lo=0 hi=$START
  while [ $hi -le $MAX ] && sustains "$gen" $hi; do lo=$hi; hi=$(( hi * 2 )); done
  [ $hi -gt $MAX ] && { echo $lo; return; }
  local i
  for i in $(seq 1 "$STEPS"); do
    local mid=$(( (lo + hi) / 2 ))
    if sustains "$gen" $mid; then lo=$mid; else hi=$mid; fi
  done
  echo $lo
}

echo "rate search (${SECS}s of calls per step; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
SIPP_MAX=$(max_rate sipp)
BENCH_MAX=$(max_rate bench)

echo "cpu at $CPU_RATE cps, $CPU_CALLS calls each (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
read -r s_ok s_failed s_wall s_uac s_uas <<<"$(run_uac sipp "$CPU_RATE" "$CPU_CALLS")"
read -r b_ok b_failed b_wall b_uac b_uas <<<"$(run_uac bench "$CPU_RATE" "$CPU_CALLS")"
per_call() { awk -v c="$1" -v n="$2" 'BEGIN{ if (n > 0) printf "%.1f", c*1e6/n; else print "nan" }'; }
s_uac_us=$(per_call "$s_uac" "$s_ok"); s_uas_us=$(per_call "$s_uas" "$s_ok")
b_uac_us=$(per_call "$b_uac" "$b_ok"); b_uas_us=$(per_call "$b_uas" "$b_ok")
s_pair=$(awk -v a="$s_uac_us" -v b="$s_uas_us" 'BEGIN{printf "%.1f", a+b}')
b_pair=$(awk -v a="$b_uac_us" -v b="$b_uas_us" 'BEGIN{printf "%.1f", a+b}')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "nan" }'; }

echo
printf "%-34s %12s %12s %10s %s\n" "metric" "sipp" "bench" "ratio" "target"
printf "%-34s %12s %12s %10s %s\n" "max sustained rate (calls/s)" "$SIPP_MAX" "$BENCH_MAX" "$(ratio "$BENCH_MAX" "$SIPP_MAX")x" ">= 3x"
printf "%-34s %12s %12s %10s\n" "UAC cpu us/call @ $CPU_RATE cps" "$s_uac_us" "$b_uac_us" "$(ratio "$b_uac_us" "$s_uac_us")x"
printf "%-34s %12s %12s %10s\n" "UAS cpu us/call @ $CPU_RATE cps" "$s_uas_us" "$b_uas_us" "$(ratio "$b_uas_us" "$s_uas_us")x"
printf "%-34s %12s %12s %10s %s\n" "UAC+UAS cpu us/call @ $CPU_RATE cps" "$s_pair" "$b_pair" "$(ratio "$b_pair" "$s_pair")x" "<= 0.4x"
printf "%-34s %12s %12s\n" "calls ok/failed @ $CPU_RATE cps" "$s_ok/$s_failed" "$b_ok/$b_failed"
echo "(load after the cpu runs: $(cut -d' ' -f1-3 /proc/loadavg))"
