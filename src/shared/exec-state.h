/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The states of an execution (DESIGN.md "States") and the rule that maps
 * how the payload ended to a terminal state.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum ExecState {
        EXEC_STATE_QUEUED,
        EXEC_STATE_RUNNING,
        EXEC_STATE_SUCCEEDED,
        EXEC_STATE_FAILED,
        EXEC_STATE_TIMEOUT,
        EXEC_STATE_OOM,
        EXEC_STATE_CANCELLED,
        EXEC_STATE_ERROR,
        _EXEC_STATE_MAX,
        _EXEC_STATE_INVALID = -EINVAL,
} ExecState;

/* "queued", "running", "succeeded", … ; NULL for an invalid value. */
const char *exec_state_to_string(ExecState s);
/* The inverse; _EXEC_STATE_INVALID for an unknown string or NULL. */
ExecState exec_state_from_string(const char *s);
bool exec_state_is_terminal(ExecState s);

/*
 * How an execution ended, as the executor saw it. Exactly one of
 * "exit_code >= 0" and "signal > 0" holds when @have_status is true.
 */
typedef struct ExecTermination {
        bool have_status;       /* the payload's wait status is known */
        int exit_code;          /* 0…255, or -1 when a signal ended it */
        int signal;             /* the signal that ended it, or 0 */
        bool timed_out;         /* the daemon killed it at the wall-clock limit */
        bool cancelled;         /* a client cancelled it while it ran */
        bool interrupted;       /* the daemon stopped while it ran */
        bool output_limited;    /* OutputLimitAction=kill: ended because OutputMax was reached */
        uint64_t oom_kills;     /* oom_kill counter of the scope's memory cgroup, growth during the run */
        const char *error;      /* why the service could not run it (spawn, scope, sandbox set-up), or NULL */
} ExecTermination;

/*
 * The terminal state for @t, first match wins:
 *   error set or interrupted                  → error
 *   cancelled                                 → cancelled
 *   timed_out                                 → timeout
 *   output_limited                            → failed  (the limit ended it, whatever the status)
 *   oom_kills > 0 and not (exit code 0)       → oom   (a memory-limit kill, whatever the signal)
 *   exit code 0                               → succeeded
 *   anything else (non-zero exit, a signal)   → failed
 *   no status at all                          → error
 */
ExecState exec_state_from_termination(const ExecTermination *t);

/* "SIGSEGV" for 11, etc.; NULL for 0 or an unknown number. Uses sigabbrev_np(). */
const char *signal_to_string(int sig);
