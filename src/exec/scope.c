/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/scope.h"
#include "exec/spawn.h"
#include "shared/log.h"
#include "shared/macro.h"

#define SYSTEMD_DESTINATION "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define BUS_ERROR_NO_SUCH_UNIT "org.freedesktop.systemd1.NoSuchUnit"

/* If JobRemoved has not come this long after the method reply, the unit's
 * state is asked for instead: a signal lost (a broker that dropped it, a
 * match that did not fire) must not leave an execution waiting forever. */
#define SCOPE_JOB_CHECK_USEC (5 * USEC_PER_SEC)

struct ScopeJob {
        sd_bus *bus;
        char *unit;
        sd_bus_slot *match_slot;        /* JobRemoved for our unit */
        sd_bus_slot *call_slot;         /* StartTransientUnit, later the ActiveState check */
        sd_event_source *check_source;  /* when to check */
        scope_job_handler_t handler;
        void *userdata;
        pid_t abandoned_pid;            /* > 0: nobody waits; stop, reap, free when over */
        bool done;
};

ScopeJob *scope_job_free(ScopeJob *j) {
        if (!j)
                return NULL;

        sd_bus_slot_unref(j->match_slot);
        sd_bus_slot_unref(j->call_slot);
        sd_event_source_disable_unref(j->check_source);
        sd_bus_unref(j->bus);
        free(j->unit);
        free(j);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ScopeJob *, scope_job_free);

/* The job is over, one way or another: report once. */
static void scope_job_complete(ScopeJob *j, int error, const char *message) {
        if (j->done)
                return;
        j->done = true;

        /* Nothing more is expected from PID 1 for this start. */
        j->match_slot = sd_bus_slot_unref(j->match_slot);
        j->call_slot = sd_bus_slot_unref(j->call_slot);
        j->check_source = sd_event_source_disable_unref(j->check_source);

        if (j->abandoned_pid > 0) {
                /* Whatever the job did, a stop makes sure no scope is left,
                 * and now the pid may be reaped: no job can pick it up any more. */
                (void) scope_stop(j->bus, j->unit);
                (void) supervisor_reap_async(sd_bus_get_event(j->bus), j->abandoned_pid);
                scope_job_free(j);
                return;
        }

        j->handler(j, error, message, j->userdata);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ScopeJob *j = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "uoss", &id, &path, &unit, &result);
        if (r < 0) {
                log_warning_errno(r, "Failed to parse JobRemoved signal: %m");
                return 0;
        }

        /* Correlated by unit name: known before the call, unique per
         * execution, and it works whether this signal or the method reply
         * is dispatched first. */
        if (strcmp(unit, j->unit) != 0)
                return 0;

        log_debug("JobRemoved %s %s: %s", path, unit, result);

        if (strcmp(result, "done") == 0) {
                scope_job_complete(j, 0, NULL);
                return 0;
        }

        char message[128];
        (void) snprintf(message, sizeof message, "start job of %s ended with result \"%s\"", unit, result);
        scope_job_complete(j, -EIO, message);
        return 0;
}

static int scope_job_arm_check(ScopeJob *j);

static int on_check_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ScopeJob *j = userdata;
        const sd_bus_error *e;
        const char *state;
        char message[128];
        int r;

        j->call_slot = sd_bus_slot_unref(j->call_slot);

        e = sd_bus_message_get_error(m);
        if (e) {
                scope_job_complete(j, -sd_bus_message_get_errno(m) ?: -EIO, e->message ?: e->name);
                return 0;
        }

        r = sd_bus_message_read(m, "v", "s", &state);
        if (r < 0) {
                scope_job_complete(j, r, "cannot parse the scope's ActiveState");
                return 0;
        }

        log_debug("No JobRemoved for %s yet; it is %s.", j->unit, state);
        if (strcmp(state, "active") == 0)
                /* A scope is active once its processes are in its cgroup:
                 * what "done" would have said. */
                scope_job_complete(j, 0, NULL);
        else if (strcmp(state, "activating") == 0) {
                r = scope_job_arm_check(j);
                if (r < 0)
                        scope_job_complete(j, r, "cannot wait for the scope");
        } else {
                (void) snprintf(message, sizeof message, "%s is %s after its start", j->unit, state);
                scope_job_complete(j, -EIO, message);
        }
        return 0;
}

static int on_check_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ScopeJob *j = userdata;
        _cleanup_free_ char *path = NULL;
        int r;

        j->check_source = sd_event_source_disable_unref(j->check_source);

        r = sd_bus_path_encode(SYSTEMD_PATH "/unit", j->unit, &path);
        if (r >= 0)
                r = sd_bus_call_method_async(j->bus, &j->call_slot, SYSTEMD_DESTINATION, path,
                                             "org.freedesktop.DBus.Properties", "Get", on_check_reply, j, "ss",
                                             "org.freedesktop.systemd1.Unit", "ActiveState");
        if (r < 0)
                scope_job_complete(j, r, "cannot ask for the scope's state");
        return 0;
}

static int scope_job_arm_check(ScopeJob *j) {
        sd_event *event = sd_bus_get_event(j->bus);

        if (!event)
                return 0;       /* no loop to time it on: rely on the signal */

        return sd_event_add_time_relative(event, &j->check_source, CLOCK_MONOTONIC, SCOPE_JOB_CHECK_USEC, 0,
                                          on_check_timer, j);
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ScopeJob *j = userdata;
        const sd_bus_error *e;
        int r;

        j->call_slot = sd_bus_slot_unref(j->call_slot);

        /* The reply only says that the job was queued; the JobRemoved
         * signal (maybe already dispatched) says how it ended. */
        e = sd_bus_message_get_error(m);
        log_debug("StartTransientUnit(%s) answered: %s", j->unit, e ? e->message : "queued");
        if (e) {
                scope_job_complete(j, -sd_bus_message_get_errno(m) ?: -EIO, e->message ?: e->name);
                return 0;
        }

        r = scope_job_arm_check(j);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the check of %s, waiting for JobRemoved only: %m", j->unit);
        return 0;
}

static int append_properties(sd_bus_message *m, const ScopeParameters *p) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;

        r = sd_bus_message_append(m,
                                  "(sv)(sv)(sv)",
                                  "Description", "s", p->description,
                                  "Slice", "s", p->slice,
                                  /* Failed scopes would otherwise stay loaded in PID 1
                                   * until somebody calls ResetFailedUnit. */
                                  "CollectMode", "s", "inactive-or-failed");
        if (r < 0)
                return r;

        /* Accounting explicitly on: an admin may have turned the defaults off,
         * and the supervisor reads the memory cgroup's counters. */
        r = sd_bus_message_append(m,
                                  "(sv)(sv)(sv)(sv)(sv)(sv)(sv)",
                                  "MemoryAccounting", "b", 1,
                                  "MemoryMax", "t", p->memory_max,
                                  "MemorySwapMax", "t", (uint64_t) 0,
                                  "CPUAccounting", "b", 1,
                                  "CPUQuotaPerSecUSec", "t", p->cpu_quota_per_sec_usec,
                                  "TasksAccounting", "b", 1,
                                  "TasksMax", "t", p->tasks_max);
        if (r < 0)
                return r;

        /* RuntimeMaxUSec is only the backstop: the daemon's own timer ends
         * the execution first. KillSignal=SIGKILL makes that backstop, StopUnit
         * and KillUnit kill at once instead of waiting TimeoutStopSec.
         *
         * OOMPolicy=continue: the supervisor detects OOM kills itself from the
         * memory cgroup's counters. With "kill" (memory.oom.group on cgroup v2)
         * or "stop", an OOM kill of the payload would take the supervisor down
         * too, before it could read the counters and send its report. Its
         * oom_score_adj of -1000 keeps the kernel from choosing it. */
        r = sd_bus_message_append(m,
                                  "(sv)(sv)(sv)",
                                  "RuntimeMaxUSec", "t", p->runtime_max_usec,
                                  "KillSignal", "i", (int32_t) SIGKILL,
                                  "OOMPolicy", "s", "continue");
        if (r < 0)
                return r;

        /* PIDs, not PIDFDs: systemd 252 refuses PIDFDs (255+). The pid
         * cannot be reused meanwhile: it is not reaped before the job is over. */
        r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t) p->pid);
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

int scope_job_start(ScopeJob **ret, sd_bus *bus, const char *unit, const ScopeParameters *p,
                    scope_job_handler_t handler, void *userdata) {
        _cleanup_(scope_job_freep) ScopeJob *j = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!ret || !bus || !unit || !p || !handler || p->pid <= 0)
                return -EINVAL;

        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->bus = sd_bus_ref(bus);
        j->handler = handler;
        j->userdata = userdata;
        j->unit = strdup(unit);
        if (!j->unit)
                return -ENOMEM;

        /* Installed before the call goes out: the broker handles one
         * connection's messages in order, so AddMatch is in effect before
         * PID 1 sees the StartTransientUnit, and JobRemoved cannot be lost.
         * No Subscribe() is needed: PID 1 sends job signals to the job's
         * creator. No "arg2='<unit>'" in the match: sd-bus' own matching of
         * argN gives up when an earlier argument is not a string (JobRemoved
         * is "uoss"), so such a match never fires; on_job_removed() filters. */
        r = sd_bus_match_signal_async(bus, &j->match_slot, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                      "JobRemoved", on_job_removed, NULL, j);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r < 0)
                return r;
        r = append_properties(m, p);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return r;

        r = sd_bus_call_async(bus, &j->call_slot, m, on_start_reply, j, 0);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(j);
        return 0;
}

ScopeJob *scope_job_abandon(ScopeJob *j, pid_t pid) {
        if (!j)
                return NULL;

        if (j->done) {
                /* Over already: the caller's handler ran and the pid is the
                 * caller's to reap; this is a plain free. */
                scope_job_free(j);
                return NULL;
        }

        j->abandoned_pid = pid;
        return NULL;
}

/* Fire-and-forget calls keep the unit name for their log line. */
static int on_unit_call_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *what = userdata;
        const sd_bus_error *e;

        e = sd_bus_message_get_error(m);
        if (!e || sd_bus_error_has_name(e, BUS_ERROR_NO_SUCH_UNIT))
                return 0;

        log_warning("%s failed: %s", what, e->message ?: e->name);
        return 0;
}

static int unit_call_async(sd_bus *bus, const char *member, const char *unit, const char *types, ...) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int r;

        if (!bus || !unit)
                return -EINVAL;

        if (asprintf(&what, "%s(%s)", member, unit) < 0) {
                what = NULL;
                return -ENOMEM;
        }

        va_start(ap, types);
        r = sd_bus_call_method_asyncv(bus, &slot, SYSTEMD_DESTINATION, SYSTEMD_PATH, SYSTEMD_MANAGER, member,
                                      on_unit_call_reply, what, types, ap);
        va_end(ap);
        if (r < 0)
                return log_warning_errno(r, "Failed to send %s: %m", what);

        /* The bus keeps the call; the name goes with the slot. */
        r = sd_bus_slot_set_destroy_callback(slot, free);
        if (r < 0)
                return r;
        TAKE_PTR(what);
        return sd_bus_slot_set_floating(slot, 1);
}

int scope_kill(sd_bus *bus, const char *unit, int sig) {
        return unit_call_async(bus, "KillUnit", unit, "ssi", unit, "all", (int32_t) sig);
}

int scope_stop(sd_bus *bus, const char *unit) {
        return unit_call_async(bus, "StopUnit", unit, "ss", unit, "replace");
}
