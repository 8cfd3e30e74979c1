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

struct ScopeJob {
        sd_bus *bus;
        char *unit;
        sd_bus_slot *match_slot;        /* JobRemoved for our unit */
        sd_bus_slot *call_slot;         /* StartTransientUnit */
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

        /* The match filters on the unit name already; check anyway, a
         * broker without argument matching would send us every job. */
        if (strcmp(unit, j->unit) != 0)
                return 0;

        if (strcmp(result, "done") == 0) {
                scope_job_complete(j, 0, NULL);
                return 0;
        }

        char message[128];
        (void) snprintf(message, sizeof message, "start job of %s ended with result \"%s\"", unit, result);
        scope_job_complete(j, -EIO, message);
        return 0;
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ScopeJob *j = userdata;
        const sd_bus_error *e;

        /* The reply only says that the job was queued; the JobRemoved
         * signal (maybe already dispatched) says how it ended. */
        e = sd_bus_message_get_error(m);
        if (!e)
                return 0;

        scope_job_complete(j, -sd_bus_message_get_errno(m) ?: -EIO, e->message ?: e->name);
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
        _cleanup_free_ char *match = NULL;
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
         * creator. */
        if (asprintf(&match,
                     "type='signal',sender='" SYSTEMD_DESTINATION "',path='" SYSTEMD_PATH "',"
                     "interface='" SYSTEMD_MANAGER "',member='JobRemoved',arg2='%s'",
                     unit) < 0) {
                match = NULL;
                return -ENOMEM;
        }
        r = sd_bus_add_match_async(bus, &j->match_slot, match, on_job_removed, NULL, j);
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
