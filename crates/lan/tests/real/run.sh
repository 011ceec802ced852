#!/usr/bin/env bash
# Real components on loopback, for printfleet-lan and `printfleet discover/poll` (run by .ci/run;
# runnable alone from the repository root once snmpsim, ippeveprinter and ipptool are installed).
#
#   snmpsim:       39 printers on 127.0.0.2-40 (the LibreNMS captures, copies with their own
#                  serial and MAC), a router on .41, a v3-only authPriv agent on .42, port 16161;
#   ippeveprinter: CUPS' IPP Everywhere printer on localhost:18631;
#   LEDM:          the aiohpprinter documents under /DevMgmt/ from python's http.server on 127.0.0.1;
#   printfleet portal + printfleet collect reading three of the snmpsim printers, both killed.
#
# Every wait is bounded; every service started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
root=$(pwd)
printfleet=${PRINTFLEET:-$root/target/debug/printfleet}
check="python3 $root/crates/lan/tests/real/check.py"
work="$root/target/lan-real"
captures="$root/testdata/third-party/librenms/printer-mib"
rm -rf "$work" && mkdir -p "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
as_user=()
[ "$(id -u)" = 0 ] && as_user=(--process-user=root --process-group=root)
net=(--snmp-port 16161 --timeout-ms 1000 --retries 1)
v3=(--v3-user fleet --v3-auth-protocol sha256 --v3-auth-password authpass1 --v3-priv-protocol aes128 --v3-priv-password privpass1)

wait_for() { # wait_for LOG PATTERN PID: at most 120 s
  for _ in $(seq 1 240); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { tail -20 "$1" >&2; return 1; }
    sleep 0.5
  done
  tail -20 "$1" >&2; return 1
}

start_snmpsim() { # start_snmpsim NAME MOVED
  $check layout "$work/$1" "$captures" "$root/crates/lan/testdata/router.snmprec" "$2"
  mapfile -t args < "$work/$1/args"
  snmpsim-command-responder --cache-dir="$work/$1-cache" "${as_user[@]}" "${args[@]}" > "$work/$1.log" 2>&1 &
  snmpsim_pid=$!
  pids+=("$snmpsim_pid")
  wait_for "$work/$1.log" "Listening at UDP/IPv4 endpoint 127.0.0.42:16161" "$snmpsim_pid"
  # Listening is logged before the dispatcher runs: wait until the last engine answers.
  for _ in $(seq 1 120); do
    [ -n "$("$printfleet" discover 127.0.0.41 --snmp-port 16161 --timeout-ms 500 --retries 0 2>&1 | grep '1 not a printer')" ] && return 0
    kill -0 "$snmpsim_pid" 2>/dev/null || { tail -20 "$work/$1.log" >&2; return 1; }
    sleep 0.5
  done
  echo "snmpsim did not answer" >&2; return 1
}

echo "--- SNMP v2c: discover 127.0.0.0/26 finds exactly the printers served"
start_snmpsim snmp-a -
"$printfleet" discover 127.0.0.0/26 "${net[@]}" --inventory "$work/inventory.json" > "$work/discover-a.jsonl" 2> "$work/discover-a.err"
cat "$work/discover-a.err"
$check discovery "$work/discover-a.jsonl" "$work/snmp-a/expected.json"
grep -q "62 addresses: 39 printers; 39 ok, 1 timeout, 21 refused, 1 not a printer" "$work/discover-a.err"
echo "ok   the router is not a printer, the v3-only agent times out under v2c, 21 addresses refuse"

echo "--- SNMP v2c: a poll of each capture's address maps like printfleet mib on the capture"
for i in 2 3 4 5 6 7; do
  name=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['127.0.0.$i'])" "$work/snmp-a/expected.json")
  "$printfleet" mib "$captures/$name.snmprec" > "$work/mib-$name.json" 2>/dev/null
  "$printfleet" poll "127.0.0.$i" "${net[@]}" > "$work/poll-$name.jsonl" 2>/dev/null
  $check same-report "$work/poll-$name.jsonl" "$work/mib-$name.json"
done

echo "--- printfleet portal + printfleet collect: snmpsim's printers read and reported over the session link, both killed"
# The real binaries end to end against snmpsim (crates/cli/tests/portal/e2e.rs does the same with
# in-process agents whose counters move, on SQLite and PostgreSQL): a portal on SQLite and a
# collector reading 127.0.0.2-4, protocol time at 3600x; both SIGKILLed once mid-run and restarted.
pf="$work/portal"
mkdir -p "$pf"
db="sqlite:$pf/portal.db"
read -r https_port tcp_port < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
origin=$(python3 -c 'import time; print(int(time.time() * 1000))')
clock=(--clock-speed 3600 --clock-origin "$origin")
printers=()
for i in 2 3 4; do
  "$printfleet" device add "snmpsim-$i" --reseller 1 --customer 1 --contract 1 --db "$db" --state "$pf/state" > "$pf/device-$i.json"
  printers+=("$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"name": d["name"], "target": sys.argv[2], "secret": d["secret"], "epoch": d["epoch"]}))' "$pf/device-$i.json" "127.0.0.$i:16161")")
done
start_portal() {
  "$printfleet" portal --db "$db" --state "$pf/state" --https "127.0.0.1:$https_port" --tcp "127.0.0.1:$tcp_port" \
    "${clock[@]}" --run-for 120 > "$pf/portal.out" 2>> "$pf/portal.log" &
  portal_pid=$!
  pids+=("$portal_pid")
  for _ in $(seq 1 100); do [ -s "$pf/portal.out" ] && return 0; sleep 0.1; done
  tail -20 "$pf/portal.log" >&2; return 1
}
start_portal
python3 - "$pf" "$tcp_port" "${printers[@]}" <<'PY'
import json, sys
pf, tcp, printers = sys.argv[1], sys.argv[2], [json.loads(p) for p in sys.argv[3:]]
json.dump({"portal": {"mode": "session", "tcp": "127.0.0.1:" + tcp, "ca": pf + "/state/ca.pem"},
           "state": pf + "/collector.sqlite", "interval_minutes": 30,
           "lan": {"community": "public", "timeout_ms": 1000, "retries": 1}, "printers": printers},
          open(pf + "/collector.json", "w"))
PY
collect() { "$printfleet" collect --config "$pf/collector.json" "${clock[@]}" --run-for "$1" "${@:2}" 2>> "$pf/collector.log"; }
# A missing state database is refused; `collect --init` creates it once, and exits.
if collect 1; then echo "a collector started without its state database" >&2; exit 1; fi
grep -q "does not exist: create it once with .printfleet collect --init." "$pf/collector.log" || { tail -5 "$pf/collector.log" >&2; exit 1; }
"$printfleet" collect --config "$pf/collector.json" --init 2>> "$pf/collector.log"
collect 3
# Both killed mid-run, then restarted.
"$printfleet" collect --config "$pf/collector.json" "${clock[@]}" --run-for 60 2>> "$pf/collector.log" &
collector_pid=$!
sleep 1.5
kill -9 "$collector_pid" "$portal_pid"; wait "$collector_pid" "$portal_pid" 2>/dev/null || true
: > "$pf/portal.out"
start_portal
collect 3
grep -q "(3 restored, 0 new)" "$pf/collector.log" || { tail -30 "$pf/collector.log" >&2; exit 1; }
python3 - "$pf" <<'PY'
import json, sqlite3, ssl, sys, urllib.request
pf = sys.argv[1]
db = sqlite3.connect(pf + "/portal.db")
names = ["snmpsim-2", "snmpsim-3", "snmpsim-4"]
for name in names:
    sender, meter = db.execute("SELECT sender, meter_device FROM devices WHERE name = ?", (name,)).fetchone()
    state = db.execute("SELECT sequence FROM device_states WHERE sender = ?", (sender,)).fetchone()
    assert state is not None, f"{name}: no state stored"
print("ok   every snmpsim printer's state is stored")
endpoint = json.load(open(pf + "/portal.out"))
ctx = ssl.create_default_context(cafile=endpoint["ca"])
ctx.check_hostname = False
metrics = urllib.request.urlopen("https://" + endpoint["https"] + "/metrics", context=ctx, timeout=5).read().decode()
rejected = sum(float(l.split()[-1]) for l in metrics.splitlines() if l.startswith("printfleet_frames_rejected_total"))
accepted = sum(float(l.split()[-1]) for l in metrics.splitlines() if l.startswith("printfleet_frames_accepted_total"))
assert rejected == 0, metrics
assert accepted >= 3, metrics
print(f"ok   the restarted portal accepted {accepted:.0f} frames, rejected none")
PY
kill "$portal_pid" 2>/dev/null || true

echo "--- SNMP v3 authPriv (HMAC-SHA-256, AES-128) on 127.0.0.42"
"$printfleet" discover 127.0.0.42 "${net[@]}" "${v3[@]}" > "$work/discover-v3.jsonl"
test "$(wc -l < "$work/discover-v3.jsonl")" = 1
"$printfleet" mib "$captures/jetdirect_m880.snmprec" > "$work/mib-v3.json" 2>/dev/null
"$printfleet" poll 127.0.0.42 "${net[@]}" "${v3[@]}" > "$work/poll-v3.jsonl" 2>/dev/null
$check same-report "$work/poll-v3.jsonl" "$work/mib-v3.json"
if "$printfleet" poll 127.0.0.42 "${net[@]}" --v3-user fleet --v3-auth-password wrongpass1 --v3-priv-password privpass1 > /dev/null 2> "$work/poll-v3-bad.err"; then
  echo "a wrong v3 passphrase was accepted" >&2; exit 1
fi
grep -q ": auth: " "$work/poll-v3-bad.err"
echo "ok   a wrong passphrase is an auth failure"

echo "--- a capture moved to another address is the same device"
kill "$snmpsim_pid"; wait "$snmpsim_pid" 2>/dev/null || true
start_snmpsim snmp-b epson:3:50
"$printfleet" discover 127.0.0.0/26 "${net[@]}" --inventory "$work/inventory.json" > "$work/discover-b.jsonl" 2> "$work/discover-b.err"
cat "$work/discover-b.err"
$check discovery "$work/discover-b.jsonl" "$work/snmp-b/expected.json"
$check moved "$work/discover-b.jsonl" 127.0.0.50 127.0.0.3
kill "$snmpsim_pid"; wait "$snmpsim_pid" 2>/dev/null || true

echo "--- IPP: ippeveprinter on localhost polled over IPP agrees with ipptool"
# ippeveprinter needs the system D-Bus to initialise DNS-SD (-r off: it registers nothing).
if ! dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId > /dev/null 2>&1; then
  mkdir -p /run/dbus && rm -f /run/dbus/system_bus_socket /run/dbus/pid  # stale: nothing answers on it
  dbus-daemon --system --fork --print-pid > "$work/dbus.pid"
  pids+=("$(cat "$work/dbus.pid")")
fi
(cd "$work" && exec ippeveprinter -r off -n localhost -p 18631 -M Printfleet -m "Loopback Test" "printfleet test") > "$work/ippeveprinter.log" 2>&1 &
ipp_pid=$!
pids+=("$ipp_pid")
for _ in $(seq 1 60); do
  ipptool -q -T 2 ipp://localhost:18631/ipp/print get-printer-attributes.test 2>/dev/null && break
  kill -0 "$ipp_pid" 2>/dev/null || { cat "$work/ippeveprinter.log" >&2; exit 1; }
  sleep 0.5
done
ipptool -tv -T 5 ipp://localhost:18631/ipp/print get-printer-attributes.test > "$work/ipptool.txt"
"$printfleet" poll ipp://127.0.0.1:18631/ipp/print --timeout-ms 5000 > "$work/poll-ipp.jsonl"
$check ipp "$work/poll-ipp.jsonl" "$work/ipptool.txt"

echo "--- LEDM: the aiohpprinter documents over HTTP"
ledm="$root/testdata/third-party/aiohpprinter/hp_color_laserjet_m255dw"
mkdir -p "$work/ledm-www" && cp -r "$ledm" "$work/ledm-www/DevMgmt"
python3 -m http.server 18080 --bind 127.0.0.1 --directory "$work/ledm-www" > "$work/http.log" 2>&1 &
http_pid=$!
pids+=("$http_pid")
for _ in $(seq 1 60); do
  python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:18080/DevMgmt/ProductConfigDyn.xml", timeout=1)' 2>/dev/null && break
  sleep 0.5
done
"$printfleet" ledm "$ledm" > "$work/ledm-files.json" 2>/dev/null
"$printfleet" poll ledm+http://127.0.0.1:18080 > "$work/poll-ledm.jsonl" 2>/dev/null
$check same-report "$work/poll-ledm.jsonl" "$work/ledm-files.json"

echo "--- CDM: a Smart Tank 580-590's documents at their endpoints, over HTTP (the same server)"
cdm="$root/testdata/third-party/ha-hp-printers-cn/hp_smart_tank_580_590"
for file in "$cdm"/cdm_*.json; do
  # cdm_system_v1_identity.json is served at /cdm/system/v1/identity.
  endpoint="$(basename "$file" .json | tr _ /)"
  mkdir -p "$work/ledm-www/$(dirname "$endpoint")" && cp "$file" "$work/ledm-www/$endpoint"
done
"$printfleet" cdm "$cdm" > "$work/cdm-files.json" 2>/dev/null
"$printfleet" poll cdm+http://127.0.0.1:18080 > "$work/poll-cdm.jsonl" 2>/dev/null
$check same-report "$work/poll-cdm.jsonl" "$work/cdm-files.json"
echo "real components: all checks passed"
