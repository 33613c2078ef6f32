#!/usr/bin/env bash
# CPU per delivered message for each thread of the server (manager = the
# first, busiest-at-low-counts TID; workers = the ones busy in sys time), and
# for the poll-side load generator. Answers "does the manager saturate before
# the workers?" (docs/ARCHITECTURE.md).
#
#   bench/thread-cpu.sh [THREADS=2] [MESSAGES=200000] [CLIENTS=5000]
#
# Needs `npm run build` and `make -C bench/loadgen` first. Starts its own server
# on free ports, holds CLIENTS polling clients, pipelines MESSAGES sends to
# random clients, reads utime/stime of every thread from /proc before and
# after the sends, and stops everything it started. Bounded: the generators
# stop by themselves after 60 s.
set -euo pipefail
T=${1:-2}; M=${2:-200000}; C=${3:-5000}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
node ${NODEFLAGS:-} dist/main.js --threads "$T" --port 0 --app-port 0 --host 127.0.0.1 --poll-timeout 25 \
  > "$work/out.txt" 2> "$work/err.txt" &
SPID=$!
LPID=
cleanup() { kill -INT "$SPID" 2>/dev/null || true; [ -n "$LPID" ] && kill "$LPID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 50); do grep -q 'megacomet ready' "$work/out.txt" && break; sleep 0.1; done
P=$(grep -o 'http://[^ ]*' "$work/out.txt" | sed 's/.*://'); A=$(grep -o 'app=[^ ]*' "$work/out.txt" | sed 's/.*://')
bench/out/loadgen poll --port "$P" --clients "$C" --first-client 0 --src-base 2 --src-count 4 \
  --connect-rate 5000 --max-seconds 60 --duration 40 > "$work/poll.json" 2> "$work/poll.err" &
LPID=$!
sleep 3
snap() {
  for t in /proc/$SPID/task/*; do echo "tid$(basename "$t") $(awk '{print $14, $15}' "$t/stat")"; done | sort
  echo "loadgen-poll $(awk '{print $14, $15}' "/proc/$LPID/stat")"
}
snap > "$work/before.txt"
S0=$(date +%s.%N)
bench/out/loadgen send --app-port "$A" --clients "$C" --first-client 0 --messages "$M" --window 1000 \
  --max-seconds 60 > "$work/send.json" 2> "$work/send.err"
S1=$(date +%s.%N)
snap > "$work/after.txt"
EL=$(awk -v a="$S0" -v b="$S1" 'BEGIN { print b - a }')
echo "threads=$T clients=$C: $M messages in $EL s = $(awk -v m="$M" -v e="$EL" 'BEGIN { printf "%.0f", m / e }') msgs/s"
join "$work/before.txt" "$work/after.txt" | awk -v el="$EL" -v m="$M" -v hz="$(getconf CLK_TCK)" \
  '($4-$2)+($5-$3) > 5 { printf "%-16s user %5.2f s  sys %5.2f s  (%3.0f%% of a core, %4.1f us/msg)\n", $1, ($4-$2)/hz, ($5-$3)/hz, 100*(($4-$2)+($5-$3))/hz/el, 1e6*(($4-$2)+($5-$3))/hz/m }'
