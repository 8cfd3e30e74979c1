#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# pyexecctl against the real pyexecd, inside the testbed (run by run-test):
# the examples print what they should, each terminal state gives its exit
# status (timeout and oom from real limits, cancelled from a real Ctrl-C),
# --json lines are nbformat output items, status/list/cancel/queue show
# what the service has, and failures are one clear line with status 6.
#
# Environment: PYEXECCTL (the built client), PYEXECD_SOURCE_ROOT (examples).

set -uo pipefail

: "${PYEXECCTL:?}" "${PYEXECD_SOURCE_ROOT:?}"

here=$(dirname "$(readlink -f "$0")")
examples=$PYEXECD_SOURCE_ROOT/examples
# Inside the testbed /tmp is the instance's own tmpfs.
dir=$(mktemp -d /tmp/pyexecctl-test.XXXXXX)
chmod 755 "$dir"
bg_pid=
cleanup() {
        [ -n "$bg_pid" ] && kill "$bg_pid" 2>/dev/null && wait "$bg_pid" 2>/dev/null
        rm -rf "$dir"
}
trap cleanup EXIT

. "$here/test-lib.sh"

# The service must be there (bus activation starts it).
if ! busctl --system status org.pyexecd.Executor1 >/dev/null 2>&1 &&
   ! busctl --system call org.pyexecd.Executor1 /org/pyexecd/Executor1 org.freedesktop.DBus.Peer Ping >/dev/null 2>&1; then
        echo "org.pyexecd.Executor1 is not on the system bus" >&2
        exit 99
fi

# --- the examples
mkdir "$dir/img"
ctl run --output-dir="$dir/img" "$examples/01-plot.py" >"$dir/plot.out" 2>"$dir/plot.err"
expect_rc "01-plot" 0 $?
pid=$(sed -n 's/^Running as execution \([0-9a-f]*\)\.$/\1/p' "$dir/plot.err")
expect_grep "01-plot image line" "$dir/plot.out" "^\[image/png [0-9]+x[0-9]+\] $dir/img/$pid-1\.png$"
checks=$((checks + 1))
if [ -f "$dir/img/$pid-1.png" ]; then
        sig=$(head -c 8 "$dir/img/$pid-1.png" | od -An -tx1 | tr -d ' \n')
        [ "$sig" = 89504e470d0a1a0a ] || fail "01-plot: the saved file does not start with the PNG signature ($sig)"
        [ "$(stat -c %s "$dir/img/$pid-1.png")" -gt 1000 ] || fail "01-plot: the PNG is tiny"
else
        fail "01-plot: $dir/img/$pid-1.png was not saved"
fi
expect_grep "01-plot text" "$dir/plot.out" "^max of sin \+ cos: 1\.4142$"
expect_no_grep "01-plot figure repr not shown" "$dir/plot.out" "Figure size"
expect_grep "01-plot summary" "$dir/plot.err" "^Finished with state: succeeded \(exit code 0\)$"

ctl run --execution-count=5 "$examples/02-dataframe.py" >"$dir/df.out" 2>"$dir/df.err"
expect_rc "02-dataframe" 0 $?
expect_grep "02-dataframe Out[5]" "$dir/df.out" "^Out\[5\]:$"
expect_grep "02-dataframe header" "$dir/df.out" "^ +count +sum +mean$"
expect_grep "02-dataframe east" "$dir/df.out" "^east +2 +165\.50 +82\.75$"
expect_grep "02-dataframe north" "$dir/df.out" "^north +2 +254\.75 +127\.38$"
expect_no_grep "02-dataframe no HTML" "$dir/df.out" "<table|\[HTML"

ctl run "$examples/03-progress.py" >"$dir/progress.out" 2>"$dir/progress.err"
expect_rc "03-progress" 0 $?
expect_grep "03-progress stderr" "$dir/progress.err" "^done: 10 epochs$"
expect_no_grep "03-progress not on stdout" "$dir/progress.out" "done: 10 epochs"
checks=$((checks + 1))
# Each update came live, carriage return and all.
[ "$(tr -cd '\r' <"$dir/progress.out" | wc -c)" -ge 11 ] || fail "03-progress: fewer than 11 carriage returns on stdout"
expect_grep "03-progress last state" "$dir/progress.out" "training: 100% \[##########\]"

ctl run "$examples/04-exception.py" >"$dir/exc.out" 2>"$dir/exc.err"
expect_rc "04-exception" 1 $?
expect_grep "04-exception output before" "$dir/exc.out" "^mean of \[1, 2, 3\]: 2\.0$"
expect_grep "04-exception traceback" "$dir/exc.err" "^Traceback \(most recent call last\):$"
expect_grep "04-exception last line" "$dir/exc.err" "^ZeroDivisionError: division by zero$"
expect_grep "04-exception summary" "$dir/exc.err" "^Finished with state: failed \(exit code 1\)$"
eid=$(sed -n 's/^Running as execution \([0-9a-f]*\)\.$/\1/p' "$dir/exc.err")

ctl run "$examples/05-display.py" >"$dir/display.out" 2>"$dir/display.err"
expect_rc "05-display" 0 $?
expect_grep "05-display first" "$dir/display.out" "^\*\*status:\*\* starting$"
expect_grep "05-display update" "$dir/display.out" "^\[update\] \*\*status:\*\* step 3 of 3$"
expect_grep "05-display HTML" "$dir/display.out" "^\[HTML\] finished in 3 steps$"

# --- every example as JSON lines: valid nbformat output items, nothing else
for f in "$examples"/0*.py; do
        name=$(basename "$f" .py)
        ctl run --json --quiet "$f" >"$dir/$name.json" 2>"$dir/$name.json-err"
        rc=$?
        checks=$((checks + 1))
        [ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "$name --json: exit status $rc"
        kinds=$(/usr/bin/python3 "$here/nbformat-check.py" "$dir/$name.json") || fail "$name --json: $kinds"
        echo "$name --json: $kinds"
        case $name in
        01-plot) expect_grep "$name --json image" "$dir/$name.json" '"image/png":"iVBORw0KGgo' ;;
        02-dataframe) expect_grep "$name --json result" "$dir/$name.json" '^\{"output_type":"execute_result"' ;;
        04-exception) expect_grep "$name --json error" "$dir/$name.json" '"ename":"ZeroDivisionError"' ;;
        05-display) expect_grep "$name --json update" "$dir/$name.json" '"msg_type":"update_display_data"' ;;
        esac
done
checks=$((checks + 1))
[ -z "$(ls "$dir"/*-1.png 2>/dev/null)" ] || fail "--json saved image files"

# --- exit statuses of the states, with real limits
run_cell exit3 'import sys
print("bye")
sys.exit(3)
'
expect_rc "sys.exit(3) is failed" 1 "$(rc_of exit3)"
expect_grep "sys.exit(3) summary" "$dir/exit3.err" "^Finished with state: failed \(exit code 3\)$"

run_cell timeout 'import time
print("sleeping", flush=True)
time.sleep(60)
' --timeout=1
expect_rc "timeout" 2 "$(rc_of timeout)"
expect_grep "timeout summary" "$dir/timeout.err" "^Finished with state: timeout"

run_cell oom 'chunks = []
for _ in range(4096):
    chunks.append(b"x" * (1 << 20))
print("not reached")
' --memory-max=67108864
expect_rc "oom" 3 "$(rc_of oom)"
expect_grep "oom summary" "$dir/oom.err" "^Finished with state: oom"
expect_no_grep "oom stopped in time" "$dir/oom.out" "not reached"

printf 'hello from stdin\n' >"$dir/input.txt"
run_cell stdin 'print(input().upper())' --stdin="$dir/input.txt"
expect_rc "--stdin" 0 "$(rc_of stdin)"
expect_eq "--stdin" "$(cat "$dir/stdin.out")" "HELLO FROM STDIN"

printf 'print(6 * 7)\n' | ctl run --quiet - >"$dir/pipe.out" 2>"$dir/pipe.err"
expect_rc "cell from standard input" 0 $?
expect_eq "cell from standard input" "$(cat "$dir/pipe.out")" "42"
expect_eq "--quiet" "$(cat "$dir/pipe.err")" ""

run_cell limits 'pass' --timeout=100000
expect_rc "limits above the maximum" 6 "$(rc_of limits)"
expect_grep "limits above the maximum" "$dir/limits.err" "^Failed to run the cell: .*[Tt]imeout"

# --- Ctrl-C: Cancel(), the end is cancelled (4)
printf 'import time\nprint("sleeping", flush=True)\ntime.sleep(60)\n' >"$dir/sleep.py"
env --default-signal=INT "$PYEXECCTL" run "$dir/sleep.py" >"$dir/sigint.out" 2>"$dir/sigint.err" &
bg_pid=$!
if wait_for_line "$dir/sigint.out" '^sleeping$'; then
        kill -INT "$bg_pid"
        wait "$bg_pid"
        expect_rc "Ctrl-C" 4 $?
        expect_grep "Ctrl-C note" "$dir/sigint.err" "^Cancelling execution [0-9a-f]{32} "
        expect_grep "Ctrl-C summary" "$dir/sigint.err" "^Finished with state: cancelled"
else
        fail "Ctrl-C: the cell never said it was sleeping"
        kill "$bg_pid"
        wait "$bg_pid"
fi
bg_pid=

# --- the service stops while a cell runs: the daemon records and announces
# the end before it leaves the bus, and pyexecctl reports it (error,
# "interrupted: service stopped": 5)
env --default-signal=INT "$PYEXECCTL" run "$dir/sleep.py" >"$dir/restart.out" 2>"$dir/restart.err" &
bg_pid=$!
if wait_for_line "$dir/restart.out" '^sleeping$'; then
        systemctl stop pyexecd.service
        wait "$bg_pid"
        expect_rc "service stopped" 5 $?
        expect_grep "service stopped summary" "$dir/restart.err" "^Finished with state: error \(interrupted"
else
        fail "service stopped: the cell never said it was sleeping"
        kill "$bg_pid"
        wait "$bg_pid"
fi
bg_pid=

# --- status
ctl status "$eid" >"$dir/status.out" 2>"$dir/status.err"
expect_rc "status" 0 $?
expect_grep "status head" "$dir/status.out" "^● $eid$"
expect_grep "status state" "$dir/status.out" "^      State: failed \(exit code 1\) since "
expect_grep "status owner" "$dir/status.out" "^      Owner: 0 \(root\)$"
expect_grep "status times" "$dir/status.out" "^   Finished: .* \(ran [0-9.]+m?s\)$"
expect_grep "status limits" "$dir/status.out" "^     Limits: timeout [0-9]"
expect_grep "status outputs" "$dir/status.out" "^mean of \[1, 2, 3\]: 2\.0$"
expect_grep "status traceback" "$dir/status.out" "^ZeroDivisionError: division by zero$"
ctl status --json "$eid" >"$dir/status.json"
expect_rc "status --json" 0 $?
checks=$((checks + 1))
/usr/bin/python3 - "$dir/status.json" "$eid" <<'EOF' || fail "status --json"
import json, sys
text = open(sys.argv[1]).read()
assert text.count("\n") == 1, "not one line"
o = json.loads(text)
assert o["execution_id"] == sys.argv[2] and o["status"] == "failed" and o["exit_code"] == 1, o
assert o["owner"] == 0 and o["signal"] is None
assert all(o[k].endswith("Z") for k in ("created_at", "started_at", "finished_at"))
assert o["outputs"][0] == {"output_type": "stream", "name": "stdout", "text": "mean of [1, 2, 3]: 2.0\n"}, o["outputs"]
assert o["outputs"][-1]["output_type"] == "error" and o["outputs"][-1]["ename"] == "ZeroDivisionError"
assert o["resources"]["wall_usec"] > 0 and o["limits"]["timeout_sec"] > 0
EOF
ctl status ffffffffffffffffffffffffffffffff 2>"$dir/status-missing.err"
expect_rc "status of an unknown id" 6 $?
expect_grep "status of an unknown id" "$dir/status-missing.err" "^Failed to get execution ffffffffffffffffffffffffffffffff: "

# --- list
ctl list >"$dir/list.out"
expect_rc "list" 0 $?
expect_grep "list header" "$dir/list.out" "^ID +STATE +CREATED +OWNER$"
expect_grep "list row" "$dir/list.out" "^$eid +failed +[A-Z][a-z]{2} [0-9-]{10} [0-9:]{8} [A-Z]+ +root$"
expect_grep "list legend" "$dir/list.out" "^[0-9]+ executions listed\.$"
ctl list --json >"$dir/list.json"
checks=$((checks + 1))
/usr/bin/python3 -c '
import json, sys
l = json.load(open(sys.argv[1]))
ids = [e["execution_id"] for e in l]
assert sys.argv[2] in ids and sys.argv[3] in ids, ids
assert all(set(e) == {"execution_id", "status", "created_at", "owner"} for e in l)
created = [e["created_at"] for e in l]
assert created == sorted(created, reverse=True), "not newest first"
' "$dir/list.json" "$eid" "$pid" || fail "list --json"

# --- cancel and queue, with a cell that waits
ctl run --quiet "$dir/sleep.py" >"$dir/cancelled.out" 2>"$dir/cancelled.err" &
bg_pid=$!
wait_for_line "$dir/cancelled.out" '^sleeping$' || fail "cancel: the cell never said it was sleeping"
rid=$(ctl list --json | /usr/bin/python3 -c '
import json, sys
print(next((e["execution_id"] for e in json.load(sys.stdin) if e["status"] == "running"), ""))')
ctl queue >"$dir/queue.out"
expect_rc "queue" 0 $?
expect_grep "queue running" "$dir/queue.out" "^       Running: [1-9][0-9]*$"
expect_grep "queue queued" "$dir/queue.out" "^        Queued: [0-9]+$"
expect_grep "queue maxima" "$dir/queue.out" "^Max concurrent: [1-9][0-9]*$"
ctl queue --json >"$dir/queue.json"
checks=$((checks + 1))
/usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert set(o) == {"queued", "running", "max_concurrent", "max_queued"} and o["running"] >= 1, o
' "$dir/queue.json" || fail "queue --json"
ctl cancel "$rid"
expect_rc "cancel" 0 $?
wait "$bg_pid"
expect_rc "run of a cancelled execution" 4 $?
bg_pid=
ctl cancel "$rid" 2>"$dir/cancel-again.err"
expect_rc "cancel of an ended execution" 6 $?
expect_grep "cancel of an ended execution" "$dir/cancel-again.err" "^Failed to cancel execution $rid: "

# --- failures of pyexecctl itself: one line, status 6
ctl run "$dir/missing.py" 2>"$dir/missing.err"
expect_rc "missing file" 6 $?
expect_eq "missing file" "$(cat "$dir/missing.err")" "Failed to open $dir/missing.py: No such file or directory"
ctl run --timeout=soon "$examples/01-plot.py" 2>"$dir/badopt.err"
expect_rc "invalid option value" 6 $?

# An unprivileged user outside any session, without interactive
# authorisation: polkit says no, and the message names the action.
if id nobody >/dev/null 2>&1; then
        chmod 644 "$dir/sleep.py"
        setpriv --reuid=nobody --regid=nogroup --clear-groups \
                "$PYEXECCTL" --no-ask-password run "$dir/sleep.py" >"$dir/nobody.out" 2>"$dir/nobody.err"
        expect_rc "unprivileged caller" 6 $?
        expect_grep "unprivileged caller" "$dir/nobody.err" "^Failed to run the cell: .*org\.pyexecd\.execute"
fi

finish
