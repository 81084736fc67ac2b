#!/usr/bin/env bash
# The highest call rate at which sipp sees 0 failed calls through branchline
# and through Kamailio (the stateless config of ../shared/bench), one worker
# each, measured in one run with the systems interleaved at every rate.
#
# usage: benches/proxy_maxrate.sh [RATES...]
#   env: BIN (default target/release/branchline), SECONDS_PER_RATE (5),
#        SHARED (../shared relative to the repository root)
# needs: sipp (sip-tester), kamailio. Loopback only; every run is bounded by
# a call count and a timeout.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release/branchline}
SHARED=${SHARED:-$ROOT/../shared}
SECS=${SECONDS_PER_RATE:-5}
RATES=("$@"); [ ${#RATES[@]} -gt 0 ] || RATES=(1000 2000 3000 4000 5000 6000 8000)
PORT=27060 UAS=27070 UAC=27061
command -v sipp >/dev/null || { echo "proxy_maxrate.sh: sipp not found (apt-get install sip-tester)" >&2; exit 2; }
command -v kamailio >/dev/null || { echo "proxy_maxrate.sh: kamailio not found (apt-get install kamailio)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "proxy_maxrate.sh: $BIN not built (cargo build --release)" >&2; exit 2; }
W=$(mktemp -d /tmp/maxrate.XXXXXX)
sed "s/KCHILDREN/1/; s/KPORT/$PORT/g; s/KUAS/$UAS/" "$SHARED/bench/kamailio-stateless.cfg" > "$W/k.cfg"
sipp -sn uas -i 127.0.0.1 -p $UAS -nostdin >"$W/uas.log" 2>&1 &
UASPID=$!
trap 'kill $UASPID 2>/dev/null; [ -n "${SUT:-}" ] && kill -- -$SUT 2>/dev/null' EXIT
sleep 0.5
declare -A BEST=([branchline]=0 [kamailio]=0) DONE=()
printf "%-11s %7s %8s %7s\n" system rate ok failed
for rate in "${RATES[@]}"; do
  for sys in branchline kamailio; do
    [ -n "${DONE[$sys]:-}" ] && continue
    if [ $sys = branchline ]; then
      cmd="$BIN proxy --listen udp:127.0.0.1:$PORT --upstream 127.0.0.1:$UAS --workers 1"
    else
      cmd="kamailio -f $W/k.cfg -DD -E -x tlsf -m 256 -M 32"
    fi
    setsid bash -c "exec $cmd" >"$W/$sys.log" 2>&1 &
    SUT=$!
    sleep 1.2
    timeout $((SECS * 3 + 40)) sipp -sn uac 127.0.0.1:$PORT -i 127.0.0.1 -p $UAC -r "$rate" \
      -m $((rate * SECS)) -l $((rate * 4)) -nostdin >"$W/uac.log" 2>&1
    ok=$(grep "Successful call" "$W/uac.log" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
    failed=$(grep "Failed call" "$W/uac.log" | tail -1 | awk -F'|' '{print $3}' | tr -d ' ')
    kill -- -$SUT 2>/dev/null; wait $SUT 2>/dev/null; SUT=; sleep 0.5
    printf "%-11s %7s %8s %7s\n" $sys "$rate" "${ok:-0}" "${failed:-?}"
    if [ "${failed:-1}" = 0 ] && [ "${ok:-0}" = $((rate * SECS)) ]; then BEST[$sys]=$rate; else DONE[$sys]=1; fi
  done
done
echo "--- highest rate with 0 failed calls (sipp uac -> system -> sipp uas, 1 worker, ${SECS}s per rate)"
echo "branchline ${BEST[branchline]}"
echo "kamailio   ${BEST[kamailio]}"
