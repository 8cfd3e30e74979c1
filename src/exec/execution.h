/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One running execution (DESIGN.md "One execution", steps 2–7):
 *
 *  1. fork + exec of the supervisor (pyexecd-sandbox) with its fds set up;
 *     it blocks on its control pipe;
 *  2. StartTransientUnit for pyexec-<id>.scope holding the supervisor's pid,
 *     with MemoryMax=, CPUQuotaPerSecUSec=, TasksMax=, RuntimeMaxUSec= and
 *     the rest (the JobRemoved match is in place before the call);
 *  3. once the job is done, the supervisor is released (one byte on the
 *     control pipe); it sets up the sandbox and runs the payload;
 *  4. fd 1/2 (raw bytes, UTF-8 repaired) and fd 3 (runner messages) are read
 *     and turned into events, in causal order; OutputMax is enforced here;
 *  5. at the wall-clock limit or on cancel the payload is killed (the
 *     supervisor kills the sandbox's PID-namespace init and reports; KillUnit
 *     on the scope is the outer wall);
 *  6. when the supervisor exits, its report (exit status, CPU time, memory
 *     peak, oom_kill counter) is read, the pipes drained, and the end reported.
 *
 * The Execution never touches Redis: its owner stores what it hands over.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "shared/exec-state.h"
#include "shared/limits.h"

typedef struct Execution Execution;

/* The scope's RuntimeMaxUSec= is the timeout plus this: only a backstop,
 * the daemon's own timer ends the execution first. */
#define EXECUTION_RUNTIME_GRACE_USEC (UINT64_C(10) * 1000000)

typedef struct ExecSpec {
        const char *id;                 /* 32 hex digits; the scope is pyexec-<id>.scope */
        const char *code;
        size_t code_size;
        const char *stdin_data;         /* NULL: empty stdin (EOF at once) */
        size_t stdin_size;
        Limits limits;
        bool has_execution_count;
        int64_t execution_count;
        const char *sandbox_path;       /* the supervisor binary (PYEXECD_SANDBOX_PATH) */
        const char *runner_path;        /* pyexecd_runner.py */
        const char *python_path;        /* /usr/bin/python3 */
        const char *slice;              /* "pyexec.slice" */
        bool sandbox_disabled;          /* [Sandbox] Enabled=no: PID namespace only, the payload is root */
        uid_t uid;                      /* the payload's uid = gid, from [Sandbox] UIDRange=; not 0
                                         * (ignored when sandbox_disabled) */
        bool kill_on_output_limit;      /* OutputLimitAction=kill: OutputMax ends the payload */
} ExecSpec;

typedef struct ExecResources {
        uint64_t wall_usec;             /* release of the payload → end */
        uint64_t cpu_usec;              /* user + system CPU of the payload and its descendants */
        uint64_t memory_peak_bytes;     /* the scope's memory cgroup high-water mark */
} ExecResources;

typedef struct ExecutionHandlers {
        /* The scope exists and the payload was released. May be NULL. */
        void (*started)(Execution *e, void *userdata);
        /* One event, in causal order: @type is "output", "update_display_data"
         * or "clear_output" (see shared/output-model.h); @data is borrowed.
         * Already counted against OutputMax: after the cap, only the one
         * stderr notice saying how much was dropped is delivered (and with
         * kill_on_output_limit the payload is killed at the cap, and
         * finished() says so in ExecTermination.output_limited). */
        void (*event)(Execution *e, const char *type, json_t *data, void *userdata);
        /* The execution is over: no process of it is left and no callback
         * follows. @t and @res are valid during the call only. @truncated is
         * true when OutputMax dropped output. */
        void (*finished)(Execution *e, const ExecTermination *t, const ExecResources *res,
                         bool truncated, void *userdata);
} ExecutionHandlers;

/*
 * Starts an execution. Copies what it needs from @spec (code and stdin go
 * into sealed memfds at once). @bus is the system bus (PID 1's manager is
 * called on it), attached to @event. Returns 0 and the new object, or a
 * negative errno when nothing could be started (no callback follows then).
 * Failures after that (scope refused, supervisor set-up failed) end in
 * finished() with ExecTermination.error set.
 *
 * The process must block SIGCHLD (sd_event_add_child() wants it) and
 * ignore SIGPIPE (a write to the control pipe of a supervisor that died
 * must fail with EPIPE, not kill the daemon); the supervisor gets all
 * signals reset. All limits must be > 0, except file_size_max: 0 means no
 * RLIMIT_FSIZE. With the sandbox, @spec->uid must not be 0 (-EINVAL).
 */
int execution_start(Execution **ret, sd_event *event, sd_bus *bus, const ExecSpec *spec,
                    const ExecutionHandlers *handlers, void *userdata);

/* Ends it early: the payload is killed and finished() follows with
 * cancelled (resp. interrupted) set; before the scope exists, nothing runs
 * at all. Idempotent: the first reason (timeout included) stays, and after
 * finished() it does nothing. 0 or a negative errno. May be called from
 * inside the handlers. */
int execution_cancel(Execution *e);
int execution_interrupt(Execution *e);

/* Frees it. If it still runs, its processes are killed first (SIGKILL to the
 * supervisor, KillUnit on the scope) and no callback follows; the
 * supervisor is reaped and the scope stopped in the background on @event
 * (before the scope job is over, only once it is). Safe from inside its own
 * handlers. Accepts NULL; returns NULL. */
Execution *execution_free(Execution *e);

const char *execution_get_id(Execution *e);
const char *execution_get_unit(Execution *e);
pid_t execution_get_supervisor_pid(Execution *e);
