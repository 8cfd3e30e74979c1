/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Transient scopes over sd-bus (DESIGN.md "One execution", step 2, and
 * notes/systemd-sandbox-facts.md §1.3–1.5).
 *
 * A ScopeJob asks PID 1 for "pyexec-<id>.scope" holding one process and
 * reports once when the start job has finished. The JobRemoved match (for
 * this unit name only) is installed before StartTransientUnit is sent, so a
 * JobRemoved that is dispatched before the method reply is not lost; it is
 * correlated by unit name, which is unique per execution.
 *
 * Everything is asynchronous; the bus must be attached to an sd-event loop.
 */

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct ScopeJob ScopeJob;

typedef struct ScopeParameters {
        const char *description;
        const char *slice;
        uint64_t memory_max;                    /* bytes */
        uint64_t cpu_quota_per_sec_usec;
        uint64_t tasks_max;
        uint64_t runtime_max_usec;
        pid_t pid;                              /* the process put into the scope */
} ScopeParameters;

/*
 * Called once, when the start job is over: @error is 0 when the job ended
 * "done" (the process is in the scope's cgroup, with its limits), otherwise
 * a negative errno and @message says why ("job failed: <result>" or the bus
 * error's message). The ScopeJob may be freed from inside the call.
 */
typedef void (*scope_job_handler_t)(ScopeJob *j, int error, const char *message, void *userdata);

/*
 * Starts the scope @unit (e.g. "pyexec-<id>.scope") with the properties in
 * @p. Returns 0 and the new object, or a negative errno when nothing was
 * sent (no callback follows then).
 */
int scope_job_start(ScopeJob **ret, sd_bus *bus, const char *unit, const ScopeParameters *p,
                    scope_job_handler_t handler, void *userdata);

/* Frees the object and cancels the pending call and match (the job itself
 * goes on in PID 1). Accepts NULL; returns NULL. */
ScopeJob *scope_job_free(ScopeJob *j);

/*
 * Hands over the rest of a start that nobody waits for any more (the owner
 * is going away and has SIGKILLed @pid): once the job is over, the unit is
 * stopped and @pid is reaped on the bus's event loop, then the object frees
 * itself. @pid is never reaped before the job is over, so it cannot be
 * reused and moved into the scope. Returns NULL (the object is no longer
 * the caller's).
 */
ScopeJob *scope_job_abandon(ScopeJob *j, pid_t pid);

/* KillUnit(@unit, "all", @sig), asynchronous, fire and forget: a missing
 * unit is fine, other errors are logged. */
int scope_kill(sd_bus *bus, const char *unit, int sig);

/* StopUnit(@unit, "replace"), asynchronous, fire and forget: a missing
 * unit is fine, other errors are logged. */
int scope_stop(sd_bus *bus, const char *unit);
