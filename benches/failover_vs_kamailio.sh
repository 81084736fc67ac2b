#!/usr/bin/env bash
# Failover side by side with the anchor, in one run: the same kill and
# restart of a member through branchline (OPTIONS probing, [groups.pbx.probe])
# and through Kamailio's dispatcher (OPTIONS probing, algorithm 0), with the
# same probe interval, timeout and thresholds.
#
# Scenario, identical for both proxies, everything on 127.0.0.1 free ports:
#   - 3 members: `branchline bench uas` (UDP);
#   - the proxy, one worker: branchline `proxy --config` (group pbx, hash by
#     Call-ID, probe interval 1s, timeout 500ms, fall 2, rise 2, codes 2xx),
#     or Kamailio with kamailio-dispatcher.cfg (ds_ping_interval=1,
#     ds_probing_mode=1, ds_probing_threshold=2, ds_inactive_threshold=2,
#     tm fr_timer=500 ms for the pings, ds_select_dst algorithm 0 then a
#     stateless forward());
#   - `bench uac --rate 300 --duration 30s --timeout 8s` through the proxy;
#     at 10 s member 3 gets SIGKILL (the port is closed: the kernel answers
#     ICMP port unreachable, as for a crashed PBX), at 20 s it is started
#     again on the same port.
#
# How each figure is measured. dumpcap captures on lo every UDP datagram to or
# from the caller's port and the three member ports (one pcap per proxy);
# tshark decodes them as SIP. The kill and restart instants are the script's
# clock (EPOCHREALTIME) just before `kill -KILL` and just before the restart,
# the same clock as the capture's timestamps.
#   failed calls         the uac's report (JSON), out of the calls started
#   kill -> last INVITE  the last INVITE datagram (new call or retransmission)
#     to member 3        sent to member 3's port after the kill and before the
#                        restart, minus the kill instant; "INVITEs to the dead
#                        member" counts those datagrams
#   marked down / up     the proxy's own log line for member 3 (branchline:
#                        `up -> down`, stamped by this script as stderr is read;
#                        Kamailio: event_route[dispatcher:dst-down/up] logging
#                        $TV), after the kill / after the restart
#   restart -> first     the first INVITE sent to member 3's port after the
#     INVITE to member 3 restart
#   calls per member     distinct Call-IDs of the INVITEs that reached each
#                        member port, before the kill (0-10 s) and during the
#                        outage (kill to restart, 10-20 s); a call whose INVITE
#                        went to member 3 and then, retransmitted, elsewhere
#                        counts for both
#   INVITE->200 in the   for the calls whose first INVITE left the caller's
#     outage             port in the outage window: first INVITE to the first
#                        200 (CSeq INVITE) back at the caller's port, by
#                        Call-ID; p50/p99 (nearest rank)/max over the answered
#                        ones, and how many got no 200
#
# usage: benches/failover_vs_kamailio.sh [--only branchline|kamailio]
#   env: BIN (default target/release/branchline, built when missing)
# needs: kamailio (its dispatcher and tm modules are in the base package),
# tshark and dumpcap (apt-get install tshark), bash 5; capturing on lo needs
# root or dumpcap's capabilities. About 2 minutes; every load is bounded by
# --duration and `timeout`, and every process the script starts is stopped
# on every exit path.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/benches
BIN=${BIN:-$ROOT/target/release/branchline}
RATE=300 DURATION=30 KILL_AT=10 RESTART_AT=20
SYSTEMS=(branchline kamailio)
while [ $# -gt 0 ]; do
  case "$1" in
    --only) SYSTEMS=("$2"); shift 2 ;;
    *) echo "failover_vs_kamailio.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for s in "${SYSTEMS[@]}"; do
  case "$s" in branchline|kamailio) ;; *) echo "failover_vs_kamailio.sh: --only branchline|kamailio" >&2; exit 2 ;; esac
done

die() { echo "failover_vs_kamailio.sh: $*" >&2; exit 2; }
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"
command -v tshark >/dev/null || die "tshark not found (DEBIAN_FRONTEND=noninteractive apt-get install -y tshark)"
command -v dumpcap >/dev/null || die "dumpcap not found (DEBIAN_FRONTEND=noninteractive apt-get install -y tshark)"
KMPATH=
if [[ " ${SYSTEMS[*]} " == *" kamailio "* ]]; then
  command -v kamailio >/dev/null || die "kamailio not found (apt-get install -y kamailio)"
  for d in /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules /usr/local/lib*/kamailio/modules; do
    [ -f "$d/dispatcher.so" ] && [ -f "$d/tm.so" ] && { KMPATH=$d/; break; }
  done
  [ -n "$KMPATH" ] || die "kamailio's dispatcher.so/tm.so not found (apt-get install -y kamailio)"
fi
if [ ! -x "$BIN" ]; then (cd "$ROOT" && cargo build --release --bin branchline >&2) || exit 2; fi

WORK=$(mktemp -d /tmp/failover.XXXXXX)
declare -a PIDS=()
NAP=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local p
  [ -n "$NAP" ] && kill "$NAP" 2>/dev/null
  for p in "${PIDS[@]}"; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# start NAME CMD...: CMD in its own process group (killed as a group), output
# in $WORK/NAME.log; sets LAST to its pid
start() {
  local name=$1; shift
  setsid "$@" >>"$WORK/$name.log" 2>&1 &
  LAST=$!; PIDS+=("$LAST")
}
# stop PID: SIGTERM its group, wait for it, forget it
stop() {
  local p=$1 q; kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null; wait "$p" 2>/dev/null
  local keep=(); for q in "${PIDS[@]}"; do [ "$q" != "$p" ] && keep+=("$q"); done; PIDS=("${keep[@]}")
}
# sleep that a signal interrupts at once (a trap waits for a foreground sleep)
nap() { sleep "$1" & NAP=$!; wait "$NAP"; NAP=; }
# prefix every line with the time it is read (for the proxy's log)
stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }

# a UDP and TCP port of 127.0.0.1 that no socket uses and this run has not taken
TAKEN=" "
free_port() {
  local used p _
  used=$(awk 'NR > 1 { split($2, a, ":"); print a[2] }' /proc/net/udp /proc/net/udp6 /proc/net/tcp /proc/net/tcp6 2>/dev/null)
  for _ in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    [[ $TAKEN == *" $p "* ]] && continue
    grep -qx "$(printf '%04X' "$p")" <<<"$used" && continue
    TAKEN+="$p "; echo "$p"; return
  done
  die "no free port found"
}

# wait until file $1 contains $2 (at most 5 s)
wait_for() { local _; for _ in $(seq 1 50); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

start_member() { # N PORT -> MEMBER[N]=pid
  start "m$1" "$BIN" bench uas --listen "127.0.0.1:$2" --quiet
  MEMBER[$1]=$LAST
  wait_for "$WORK/m$1.log" "listening on" || die "member $1 did not start on port $2: $(tail -3 "$WORK/m$1.log")"
}

fmt_s() { awk -v v="$1" 'BEGIN { if (v == "" || v == "-") print "-"; else printf "%.3f s", v }'; }

# run SYS: one kill-and-restart through SYS; writes $WORK/SYS.result (key value lines)
run() {
  local sys=$1 pport uport m1 m2 m3 cfg ppid cap t0 tk tr uacpid
  pport=$(free_port); uport=$(free_port); m1=$(free_port); m2=$(free_port); m3=$(free_port)
  : >"$WORK/$sys.uac.log"
  declare -g -a MEMBER=()
  start_member 1 "$m1"; start_member 2 "$m2"; start_member 3 "$m3"

  if [ "$sys" = branchline ]; then
    cfg=$WORK/branchline.toml
    cat >"$cfg" <<EOF
[proxy]
listen = ["udp:127.0.0.1:$pport"]
workers = 1
record_route = true

[routing]
default = "pbx"

[groups.pbx]
algorithm = "hash"
hash_key = "call-id"
members = ["127.0.0.1:$m1", "127.0.0.1:$m2", "127.0.0.1:$m3"]

[groups.pbx.probe]
interval = "1s"
timeout = "500ms"
fall = 2
rise = 2
codes = ["2xx"]
EOF
    setsid "$BIN" proxy --config "$cfg" 2> >(stamp >"$WORK/$sys.log") >/dev/null &
  else
    printf '1 sip:127.0.0.1:%s 0 0\n1 sip:127.0.0.1:%s 0 0\n1 sip:127.0.0.1:%s 0 0\n' "$m1" "$m2" "$m3" >"$WORK/dispatcher.list"
    sed "s|KPORT|$pport|g; s|KLIST|$WORK/dispatcher.list|; s|KMPATH|$KMPATH|" "$HERE/kamailio-dispatcher.cfg" >"$WORK/kamailio.cfg"
    setsid kamailio -f "$WORK/kamailio.cfg" -DD -E -m 64 -M 16 >"$WORK/$sys.log" 2>&1 &
  fi
  ppid=$!; PIDS+=("$ppid")

  cap=$WORK/$sys.pcap
  start "$sys.dumpcap" dumpcap -q -i lo -B 32 -w "$cap" \
    -f "udp port $uport or udp port $m1 or udp port $m2 or udp port $m3"
  local dcpid=$LAST
  # members probed up (both proxies start with every member active) and the capture running
  nap 3
  kill -0 "$ppid" 2>/dev/null || die "$sys did not start: $(tail -5 "$WORK/$sys.log")"
  [ -s "$cap" ] || die "dumpcap did not start: $(tail -3 "$WORK/$sys.dumpcap.log")"

  echo "$sys: proxy 127.0.0.1:$pport, members $m1 $m2 $m3, caller $uport; $RATE calls/s for ${DURATION}s, kill member 3 at ${KILL_AT}s, restart at ${RESTART_AT}s" >&2
  t0=$EPOCHREALTIME
  timeout $((DURATION + 40)) "$BIN" bench uac --target "127.0.0.1:$pport" --local "127.0.0.1:$uport" \
    --rate "$RATE" --duration "${DURATION}s" --timeout 8s --max-failures 1000000000 --quiet \
    --json "$WORK/$sys.uac.json" >"$WORK/$sys.uac.log" 2>&1 &
  uacpid=$!; PIDS+=("$uacpid")
  nap "$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v k="$KILL_AT" 'BEGIN { printf "%.3f", k - (b - a) }')"
  tk=$EPOCHREALTIME
  kill -KILL "${MEMBER[3]}"; wait "${MEMBER[3]}" 2>/dev/null
  stop "${MEMBER[3]}"
  nap "$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v k="$RESTART_AT" 'BEGIN { printf "%.3f", k - (b - a) }')"
  tr=$EPOCHREALTIME
  start_member 3 "$m3"
  wait "$uacpid"
  sleep 0.5
  stop "$dcpid"; stop "$ppid"
  stop "${MEMBER[1]}"; stop "${MEMBER[2]}"; stop "${MEMBER[3]}"

  local j=$WORK/$sys.uac.json r=$WORK/$sys.result
  [ -s "$j" ] || die "$sys: the uac wrote no report: $(tail -5 "$WORK/$sys.uac.log")"
  {
    echo "failed_of $(grep -m1 '"failed"' "$j" | tr -dc 0-9) / $(grep -m1 '"started"' "$j" | tr -dc 0-9)"
    echo "invite_retrans $(grep -A2 '"INVITE"' "$j" | grep -m1 retransmitted | tr -dc 0-9)"
    echo "rate $(grep -m1 '"achieved_rate"' "$j" | tr -dc 0-9.) calls/s (pacing_missed $(grep -m1 '"pacing_missed"' "$j" | tr -dc 0-9))"
    echo "pcap_drops $(sed -n 's|.*received/dropped.*: [0-9]*/\([0-9]*\).*|\1|p' "$WORK/$sys.dumpcap.log" | head -1)"
  } >"$r"

  # the proxy's own log: when it marked member 3 down and up again
  local down up
  if [ "$sys" = branchline ]; then
    down=$(grep "127.0.0.1:$m3 .*up -> down" "$WORK/$sys.log" | head -1 | cut -d' ' -f1)
    up=$(grep "127.0.0.1:$m3 .*down -> up" "$WORK/$sys.log" | head -1 | cut -d' ' -f1)
  else
    down=$(grep "DSEVENT .* down .*:$m3" "$WORK/$sys.log" | head -1 | sed 's/.*DSEVENT \([0-9.]*\).*/\1/')
    up=$(grep "DSEVENT .* up .*:$m3" "$WORK/$sys.log" | head -1 | sed 's/.*DSEVENT \([0-9.]*\).*/\1/')
  fi
  awk -v d="$down" -v u="$up" -v k="$tk" -v r="$tr" 'BEGIN {
    print "marked_down", (d == "" ? "-" : d - k); print "marked_up", (u == "" ? "-" : u - r) }' >>"$r"

  # the capture, decoded as SIP: time src dst method status call-id cseq-method
  tshark -r "$cap" -n -d "udp.port==$uport,sip" -d "udp.port==$m1,sip" -d "udp.port==$m2,sip" \
    -d "udp.port==$m3,sip" --disable-protocol sdp -T fields -E separator=/t -E occurrence=f \
    -e frame.time_epoch -e udp.srcport -e udp.dstport -e sip.Method -e sip.Status-Code \
    -e sip.Call-ID -e sip.CSeq.method >"$WORK/$sys.tsv" 2>"$WORK/$sys.tshark.log"
  awk -F'\t' -v k="$tk" -v r="$tr" -v t0="$t0" -v u="$uport" -v m1="$m1" -v m2="$m2" -v m3="$m3" \
      -v lat="$WORK/$sys.lat" -v res="$r" '
    $4 == "INVITE" && ($3 == m1 || $3 == m2 || $3 == m3) {
      if ($1 >= t0 && $1 < k) base[$3 SUBSEP $6] = 1
      else if ($1 >= k && $1 < r) {
        out[$3 SUBSEP $6] = 1
        if ($3 == m3) { dead++; last = $1 }
      } else if ($1 >= r && $3 == m3 && back == "") back = $1
    }
    $4 == "INVITE" && $2 == u && !($6 in inv) { inv[$6] = $1 }
    $5 == "200" && $7 == "INVITE" && $3 == u && !($6 in ok) { ok[$6] = $1 }
    END {
      for (x in base) { split(x, a, SUBSEP); nb[a[1]]++ }
      for (x in out) { split(x, a, SUBSEP); no[a[1]]++ }
      print "dead_invites", dead + 0 >> res
      print "last_to_dead", (last == "" ? "-" : last - k) >> res
      print "back_after_restart", (back == "" ? "-" : back - r) >> res
      print "before", (nb[m1] + 0) "/" (nb[m2] + 0) "/" (nb[m3] + 0) >> res
      print "outage", (no[m1] + 0) "/" (no[m2] + 0) "/" (no[m3] + 0) >> res
      print "extra", (no[m1] - nb[m1]) "/" (no[m2] - nb[m2]) >> res
      n = 0; miss = 0
      for (c in inv) if (inv[c] >= k && inv[c] < r) { n++; if (c in ok) printf "%.6f\n", ok[c] - inv[c] > lat; else miss++ }
      print "outage_calls", n " / " miss >> res
    }' "$WORK/$sys.tsv"
  sort -g "$WORK/$sys.lat" 2>/dev/null | awk -v res="$r" '{ v[NR] = $1 } END {
    if (NR == 0) { print "p50 -\np99 -\nmax -" >> res; exit }
    i = int(NR * 0.50); if (i < NR * 0.50) i++; if (i < 1) i = 1; print "p50", v[i] * 1000 >> res
    i = int(NR * 0.99); if (i < NR * 0.99) i++; if (i < 1) i = 1; print "p99", v[i] * 1000 >> res
    print "max", v[NR] * 1000 >> res }'
}

for s in "${SYSTEMS[@]}"; do run "$s"; done

val() { awk -v key="$2" '$1 == key { $1 = ""; sub(/^ /, ""); print; exit }' "$WORK/$1.result" 2>/dev/null; }
ms() { awk -v v="$1" 'BEGIN { if (v == "" || v == "-") print "-"; else printf "%.1f ms", v }'; }
row() { # LABEL FORMATTER KEY
  local line="| $1 |" s v
  for s in "${SYSTEMS[@]}"; do
    v=$(val "$s" "$3")
    case "$2" in
      s) v=$(fmt_s "$v") ;;
      ms) v=$(ms "$v") ;;
    esac
    line+=" $v |"
  done
  echo "$line"
}

echo
echo "branchline $(git -C "$ROOT" describe --always --dirty 2>/dev/null) ($("$BIN" --version 2>/dev/null | head -1))"
if [ -n "$KMPATH" ]; then kamailio -v 2>/dev/null | head -1; fi
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $RATE calls/s for ${DURATION}s, member 3 killed at ${KILL_AT}s, restarted at ${RESTART_AT}s; probe 1s/500ms/fall 2/rise 2; work files in $WORK"
echo
header="| |" sep="|---|"
for s in "${SYSTEMS[@]}"; do
  case "$s" in branchline) header+=" branchline (probe + ICMP) |" ;; kamailio) header+=" Kamailio dispatcher (alg 0) |" ;; esac
  sep+="---|"
done
echo "$header"; echo "$sep"
row "caller's achieved rate (target $RATE)" raw rate
row "failed calls / started" raw failed_of
row "INVITE retransmissions by the caller" raw invite_retrans
row "kill → member 3 marked down (proxy log)" s marked_down
row "kill → last INVITE sent to member 3" s last_to_dead
row "INVITE datagrams sent to dead member 3" raw dead_invites
row "calls per member 1/2/3 before the kill (0–10 s)" raw before
row "calls per member 1/2/3 in the outage (10–20 s)" raw outage
row "live members 1/2: outage minus before" raw extra
row "INVITE→200 p50 in the outage" ms p50
row "INVITE→200 p99 in the outage" ms p99
row "INVITE→200 max in the outage" ms max
row "calls started in the outage / of them never answered" raw outage_calls
row "restart → member 3 marked up (proxy log)" s marked_up
row "restart → first INVITE to member 3" s back_after_restart
for s in "${SYSTEMS[@]}"; do
  d=$(val "$s" pcap_drops); [ -n "$d" ] && [ "$d" != 0 ] && echo "warning: dumpcap dropped $d packets in the $s run"
done
exit 0
