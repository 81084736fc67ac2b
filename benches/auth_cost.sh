#!/usr/bin/env bash
# What digest authentication costs in CPU per call, branchline against
# Kamailio, in one run.
#
# The same load through four systems, each a single worker on 127.0.0.1:
#   branchline-plain  `proxy --config`: one group (the UAS), no [auth]
#   branchline-auth   the same file plus [auth]: realm example.net, a users
#                     file with the one user alice,secret, algorithms
#                     ["MD5"]: every INVITE is challenged (407), the ACK of
#                     the 407 is absorbed, the INVITE with credentials is
#                     checked and forwarded
#   kamailio-plain    benches/kamailio-auth.cfg without WITH_AUTH: the
#                     routing of ../shared/bench/kamailio-stateless.cfg
#                     (stateless core forward(), maxfwd, record-route),
#                     children=1, tlsf allocator, as compare.sh runs it
#   kamailio-auth     the same file with -A WITH_AUTH: the auth module
#                     (MD5, qop=auth, realm example.net) answers every
#                     INVITE without credentials with proxy_challenge() (a
#                     stateless 407 via sl, whose ACK sl absorbs), checks the
#                     next one with pv_proxy_authenticate() against the
#                     fixed password of user alice, consume_credentials(),
#                     then forwards as kamailio-plain
# The load, identical for all four: a sipp UAC (sipp answers a 407 with
# MD5 only, hence MD5 on both proxies) places --calls calls at --rate
# calls/s through the proxy to a sipp UAS (`-sn uas`). Challenged systems
# get tests/fixtures/uac_digest.xml (INVITE -> 407 -> ACK, INVITE with
# Proxy-Authorization -> 180/200 -> ACK, BYE -> 200; user alice, password
# secret); plain systems get the same file with the first INVITE, the 407
# and its ACK cut out and no Proxy-Authorization (so the same INVITE, CSeq
# 2, then the same ACK and BYE): identical messages apart from the
# challenge round trip. A call counts when sipp counts it successful, so a
# plain system that challenged, or a challenged one that did not, fails
# its calls.
#
# How CPU is measured, as ../shared/bench/compare.sh does: the user+system
# clock ticks (/proc/PID/stat) of every process in the system's session
# (Kamailio's main, worker, timer... processes; branchline's one process and
# its threads), read after start-up and a settle second, and again when the
# sipp UAC has finished; divided by the successful calls (calls, not
# messages: a challenged call has three more messages at the proxy). The
# systems run in turn, A B C D A B C D ..., so drift hits them alike; the
# medians, their ratios auth/plain per proxy (the aim for branchline is
# <= 1.6) and the versions are printed last as markdown.
#
# usage: benches/auth_cost.sh [--rate CPS] [--calls N] [--reps K]
#   defaults: 1000 calls/s, 20000 calls, 3 reps (about 4.5 minutes).
#   env: BIN (default target/release/branchline, built when missing)
# needs: sipp (apt-get install -y sip-tester), kamailio with its auth module
# (apt-get install -y kamailio). Free ports of 127.0.0.1 are picked at each
# run (never compare.sh's 25060/25061/25070). Bounded: each sipp run by
# `timeout`, the whole measurement by a 290 s deadline (runs that would end
# after it are not started and the table says so); every process the script
# starts is stopped on every exit path.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/benches
BIN=${BIN:-$ROOT/target/release/branchline}
SCENARIO=$ROOT/tests/fixtures/uac_digest.xml
RATE=1000 CALLS=20000 REPS=3 BUDGET=290
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) RATE=$2; shift 2 ;;
    --calls) CALLS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    *) echo "auth_cost.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
die() { echo "auth_cost.sh: $*" >&2; exit 2; }
for v in RATE CALLS REPS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v,,} wants a positive whole number, not '${!v}'"
done
command -v sipp >/dev/null || die "sipp not found (apt-get install -y sip-tester)"
command -v kamailio >/dev/null || die "kamailio not found (apt-get install -y kamailio)"
KMPATH=
for d in /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules /usr/local/lib*/kamailio/modules; do
  [ -f "$d/auth.so" ] && [ -f "$d/sl.so" ] && { KMPATH=$d/; break; }
done
[ -n "$KMPATH" ] || die "kamailio's auth.so/sl.so not found (apt-get install -y kamailio)"
[ -f "$SCENARIO" ] || die "$SCENARIO not found (the sipp scenario that answers a 407)"
if [ ! -x "$BIN" ]; then (cd "$ROOT" && cargo build --release --bin branchline >&2) || exit 2; fi
HZ=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/auth_cost.XXXXXX)
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

# start NAME CMD...: CMD in its own session (so its whole process tree is
# found by session id and stopped as a group), output in $WORK/NAME.log;
# sets LAST to its pid
start() {
  local name=$1; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  LAST=$!; PIDS+=("$LAST")
}
# forget PID: drop it from the processes the EXIT trap stops
forget() { local q keep=(); for q in "${PIDS[@]}"; do [ "$q" != "$1" ] && keep+=("$q"); done; PIDS=("${keep[@]}"); }
# stop PID: SIGTERM its group, wait for it, forget it
stop() { kill -- -"$1" 2>/dev/null || kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; forget "$1"; }
# sleep that a signal interrupts at once (a trap waits for a foreground sleep)
nap() { sleep "$1" & NAP=$!; wait "$NAP"; NAP=; }

# a UDP port of 127.0.0.1 that no socket uses, this run has not taken, and
# compare.sh does not use
TAKEN=" 25060 25061 25070 "
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
# is UDP port $1 bound on 127.0.0.1?
bound() { grep -q "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") " /proc/net/udp; }

# CPU ticks (user + system) of every process in session $1
ticks() {
  local t=0 p s
  for p in $(ps -s "$1" -o pid= 2>/dev/null); do
    s=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) && t=$((t + ${s:-0}))
  done
  echo "$t"
}

# column $2 (by its header name) of the last line of the sipp statistics file $1
stat_col() {
  awk -F';' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } { v = $k } END { print (k && v != "") ? v : "" }' "$1" 2>/dev/null
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }

PPORT=$(free_port) UAS=$(free_port) UAC=$(free_port)

# The plain scenario: uac_digest.xml without its first INVITE, the 407 and
# the 407's ACK (everything before the second <send retrans="500">), and
# without the [authentication] line.
PLAIN=$WORK/uac_plain.xml
awk '/<send retrans="500">/ { n++ } n == 1 { next } /^ *\[authentication\] *$/ { next }
     /<scenario name=/ { print "<scenario name=\"uac_digest.xml without the challenge\">"; next } { print }' \
  "$SCENARIO" >"$PLAIN"
grep -q 'response="407"' "$PLAIN" && die "could not cut the challenge out of $SCENARIO"
[ "$(grep -c '^ *INVITE sip:' "$PLAIN")" = 1 ] || die "could not cut the first INVITE out of $SCENARIO"

# branchline: the same routing file with and without [auth]
printf 'alice,secret\n' >"$WORK/users.csv"
cat >"$WORK/plain.toml" <<EOF
[proxy]
listen = ["udp:127.0.0.1:$PPORT"]
workers = 1

[routing]
default = "pbx"

[groups.pbx]
members = ["127.0.0.1:$UAS"]
EOF
cat "$WORK/plain.toml" - >"$WORK/auth.toml" <<EOF

[auth]
realm = "example.net"
users_file = "users.csv"
algorithms = ["MD5"]
EOF
"$BIN" check-config "$WORK/auth.toml" >"$WORK/check.log" 2>&1 || die "branchline refuses $WORK/auth.toml: $(cat "$WORK/check.log")"
sed "s|KPORT|$PPORT|g; s|KUAS|$UAS|; s|KMPATH|$KMPATH|" "$HERE/kamailio-auth.cfg" >"$WORK/kamailio.cfg"
for def in "" "-A WITH_AUTH"; do
  # shellcheck disable=SC2086  # $def is zero or two words
  kamailio -c -f "$WORK/kamailio.cfg" $def >"$WORK/kcheck.log" 2>&1 || die "kamailio refuses $WORK/kamailio.cfg $def: $(tail -5 "$WORK/kcheck.log")"
done

NAMES=(branchline-plain branchline-auth kamailio-plain kamailio-auth)
declare -A CMD SCEN
CMD[branchline-plain]="$BIN proxy --config $WORK/plain.toml"
CMD[branchline-auth]="$BIN proxy --config $WORK/auth.toml"
KAM="kamailio -f $WORK/kamailio.cfg -DD -E -x tlsf -m 256 -M 32"
CMD[kamailio-plain]=$KAM
CMD[kamailio-auth]="$KAM -A WITH_AUTH"
SCEN[branchline-plain]=$PLAIN SCEN[kamailio-plain]=$PLAIN
SCEN[branchline-auth]=$SCENARIO SCEN[kamailio-auth]=$SCENARIO

RUN_S=$(( (CALLS + RATE - 1) / RATE ))
echo "auth_cost.sh: $RATE calls/s, $CALLS calls, $REPS reps of ${NAMES[*]}; proxy 127.0.0.1:$PPORT, UAS $UAS, UAC $UAC; logs in $WORK" >&2
echo "auth_cost.sh: about $(( REPS * ${#NAMES[@]} * (RUN_S + 2) )) s (deadline ${BUDGET} s)" >&2

start uas sipp -sn uas -i 127.0.0.1 -p "$UAS" -nostdin
UASPID=$LAST
for _ in $(seq 1 50); do bound "$UAS" && break; nap 0.1; done
bound "$UAS" || die "the sipp UAS did not start: $(tail -3 "$WORK/uas.log")"

printf '%-17s %4s %7s %7s %8s %7s %12s\n' system rep ok failed retrans ticks cpu_us/call >&2
declare -A RES OK FAILED RETRANS
SKIPPED=0
for rep in $(seq 1 "$REPS"); do
  for name in "${NAMES[@]}"; do
    left=$(( BUDGET - SECONDS - 3 ))
    if [ "$left" -lt $(( RUN_S + 2 )) ]; then SKIPPED=$((SKIPPED + 1)); continue; fi
    # shellcheck disable=SC2086  # the command is words
    start "$name.$rep" ${CMD[$name]}
    sut=$LAST
    for _ in $(seq 1 50); do bound "$PPORT" && break; nap 0.1; done
    nap 1
    if ! kill -0 "$sut" 2>/dev/null || ! bound "$PPORT"; then
      echo "$name did not start: $(tail -3 "$WORK/$name.$rep.log")" >&2
      stop "$sut"; continue
    fi
    csv=$WORK/uac.$name.$rep.csv
    t0=$(ticks "$sut")
    limit=$(( RUN_S + 15 )); [ "$limit" -gt "$left" ] && limit=$left
    # in the background, so that a signal stops the script (and the EXIT trap
    # the UAC) at once instead of after the UAC
    timeout "$limit" sipp 127.0.0.1:"$PPORT" -sf "${SCEN[$name]}" -au alice -ap secret \
      -i 127.0.0.1 -p "$UAC" -r "$RATE" -m "$CALLS" -l $((RATE * 2)) -nostdin \
      -trace_stat -stf "$csv" >"$WORK/uac.$name.$rep.log" 2>&1 &
    uac=$!; PIDS+=("$uac")
    wait "$uac"; forget "$uac"
    t1=$(ticks "$sut")
    if ! kill -0 "$sut" 2>/dev/null; then
      echo "$name died during rep $rep: $(tail -3 "$WORK/$name.$rep.log")" >&2
      stop "$sut"; continue
    fi
    stop "$sut"
    ok=$(stat_col "$csv" 'SuccessfulCall(C)'); failed=$(stat_col "$csv" 'FailedCall(C)')
    retrans=$(stat_col "$csv" 'Retransmissions(C)')
    us=$(awk -v t=$((t1 - t0)) -v c="${ok:-0}" -v hz="$HZ" 'BEGIN { if (c > 0) printf "%.2f", t * 1e6 / hz / c; else print "" }')
    printf '%-17s %4s %7s %7s %8s %7s %12s\n' "$name" "$rep" "${ok:-?}" "${failed:-?}" "${retrans:-?}" $((t1 - t0)) "${us:--}" >&2
    [ -n "$us" ] && RES[$name]="${RES[$name]:-} $us"
    OK[$name]=$(( ${OK[$name]:-0} + ${ok:-0} ))
    FAILED[$name]=$(( ${FAILED[$name]:-0} + ${failed:-0} ))
    RETRANS[$name]=$(( ${RETRANS[$name]:-0} + ${retrans:-0} ))
  done
done
stop "$UASPID"

declare -A MED
for name in "${NAMES[@]}"; do MED[$name]=$(echo "${RES[$name]:-}" | median); done
echo
echo "### CPU per call with digest authentication ($RATE calls/s, $CALLS calls a run, $REPS reps, medians)"
echo
echo "| system | cpu_us/call | per rep | calls ok | failed | retransmissions |"
echo "|---|---:|---|---:|---:|---:|"
for name in "${NAMES[@]}"; do
  printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "${MED[$name]:--}" "$(echo "${RES[$name]:-}" | xargs)" \
    "${OK[$name]:-0}" "${FAILED[$name]:-0}" "${RETRANS[$name]:-0}"
done
echo
echo "| ratio | value |"
echo "|---|---:|"
echo "| branchline-auth / branchline-plain (aim <= 1.6) | $(ratio "${MED[branchline-auth]}" "${MED[branchline-plain]}") |"
echo "| kamailio-auth / kamailio-plain | $(ratio "${MED[kamailio-auth]}" "${MED[kamailio-plain]}") |"
echo "| branchline-plain / kamailio-plain | $(ratio "${MED[branchline-plain]}" "${MED[kamailio-plain]}") |"
echo "| branchline-auth / kamailio-auth | $(ratio "${MED[branchline-auth]}" "${MED[kamailio-auth]}") |"
echo
[ "$SKIPPED" -gt 0 ] && echo "**$SKIPPED run(s) not started: the ${BUDGET} s deadline** (fewer --calls or --reps)" && echo
echo "Versions: $("$BIN" --version 2>&1 | head -1); $(kamailio -v 2>&1 | head -1 | sed 's/^version: //; s/ *$//'); $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | sed 's/\.$//' | head -1); Linux $(uname -r); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores"
