# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers of the pyexecctl test scripts (sourced). Each check counts; a
# failed one is reported with what was seen, and the script goes on, so
# one run shows every problem. finish() prints the tally (the plain
# "N passed, N failed" line) and gives the exit status.
#
# Needs: $PYEXECCTL (the built client), $dir (the test's scratch folder).

failures=0
checks=0

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# expect_rc NAME WANT GOT
expect_rc() {
        checks=$((checks + 1))
        [ "$3" = "$2" ] || fail "$1: exit status $3, expected $2"
}

# expect_grep NAME FILE PATTERN: a line of FILE matches the extended regexp.
expect_grep() {
        checks=$((checks + 1))
        grep -Eq -- "$3" "$2" || { fail "$1: no line matching /$3/ in $2:"; sed 's/^/    | /' "$2" >&2; }
}

expect_no_grep() {
        checks=$((checks + 1))
        ! grep -Eq -- "$3" "$2" || { fail "$1: unexpected /$3/ in $2:"; sed 's/^/    | /' "$2" >&2; }
}

# expect_eq NAME GOT WANT
expect_eq() {
        checks=$((checks + 1))
        [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# pyexecctl with SIGINT at its default disposition (bash ignores it in
# background jobs, and an ignored signal never reaches a signalfd).
ctl() {
        env --default-signal=INT "$PYEXECCTL" --no-pager "$@"
}

# run_cell NAME CODE [OPTIONS...]: runs CODE as a cell; its stdout, stderr
# and exit status go to $dir/NAME.out, .err and .rc.
run_cell() {
        local name=$1 code=$2
        shift 2
        printf '%s' "$code" >"$dir/$name.cell"
        ctl run "$@" "$dir/$name.cell" >"$dir/$name.out" 2>"$dir/$name.err"
        echo $? >"$dir/$name.rc"
}
rc_of() { cat "$dir/$1.rc"; }

# The execution id from "Running as execution ID." in $dir/NAME.err.
id_of() { sed -n 's/^Running as execution \([0-9a-f]*\)\.$/\1/p' "$dir/$1.err"; }

# wait_for_line FILE PATTERN: until a line matches (at most 60 s); 1 if never.
wait_for_line() {
        local _
        for _ in $(seq 600); do
                grep -Eq -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.1
        done
        return 1
}

finish() {
        echo "$(basename "$0"): $checks checks, $failures failed"
        echo "$((checks - failures)) passed, $failures failed"
        [ "$failures" = 0 ]
}
