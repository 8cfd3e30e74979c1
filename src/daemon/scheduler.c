/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The executions of this node: taking them from the queue while slots are
 * free, feeding their events to Redis and to subscribers, recording their
 * end, cancelling them, and cleaning up after a previous daemon.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus-frontend.h"
#include "config.h"
#include "daemon/manager.h"
#include "shared/log.h"
#include "shared/time-util.h"

/* Gives the execution's uid back: all its processes are gone (the PID
 * namespace died with its init), or it never ran. */
static void running_release_uid(RunningExecution *re) {
        if (!re->has_uid)
                return;
        (void) uid_allocator_release(re->manager->uids, re->uid);
        re->has_uid = false;
}

RunningExecution *running_execution_free(RunningExecution *re) {
        if (!re)
                return NULL;

        running_release_uid(re);

        while (re->cancel_waiters) {
                CancelWaiter *w = re->cancel_waiters;

                LIST_REMOVE(waiters, re->cancel_waiters, w);
                if (w->done)
                        w->done(re, -ESHUTDOWN, w->userdata);
                free(w);
        }
        execution_free(re->execution);
        output_model_free(re->outputs);
        exec_record_done(&re->record);
        free(re);
        return NULL;
}

RunningExecution *manager_find_running(Manager *m, const char *id) {
        LIST_FOREACH(running, re, m->running)
                if (re->execution && !re->ended && strcmp(re->record.id, id) == 0)
                        return re;
        return NULL;
}

void manager_notify(Manager *m, const char *id) {
        LIST_FOREACH_SAFE(subscriptions, sub, n, m->subscriptions)
                if (strcmp(sub->id, id) == 0)
                        subscription_wake(sub);
}

static void running_on_event_stored(RedisStore *s, int r, const char *entry_id, void *userdata) {
        RunningExecution *re = userdata;

        if (r < 0) {
                log_debug_errno(r, "Execution %s: an event could not be stored: %m", re->record.id);
                return;
        }
        manager_notify(re->manager, re->record.id);
}

static void running_on_event(Execution *e, const char *type, json_t *data, void *userdata) {
        RunningExecution *re = userdata;
        _cleanup_free_ char *text = NULL;
        int r;

        /* D-Bus subscribers get it at once, in order, and always before the
         * end (which is announced only once it is stored). */
        bus_execution_emit_output(re->manager, re->record.id, type, data);

        r = output_model_apply(re->outputs, type, data);
        if (r < 0)
                log_debug_errno(r, "Execution %s: event not applied to the outputs: %m", re->record.id);

        text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) {
                log_oom();
                return;
        }

        r = redis_store_append_event(re->manager->store, re->record.id, type, text, strlen(text),
                                     running_on_event_stored, re);
        if (r < 0)
                log_debug_errno(r, "Execution %s: an event could not be stored: %m", re->record.id);
}

static void running_answer_waiters(RunningExecution *re) {
        while (re->cancel_waiters) {
                CancelWaiter *w = re->cancel_waiters;

                LIST_REMOVE(waiters, re->cancel_waiters, w);
                if (w->done)
                        w->done(re, 0, w->userdata);
                free(w);
        }
}

/* Parks @re until Redis is back (manager_retry_unfinished()). */
static void running_defer_end(RunningExecution *re) {
        Manager *m = re->manager;

        if (re->deferred)
                return;
        LIST_REMOVE(running, m->running, re);
        LIST_PREPEND(running, m->unfinished, re);
        re->deferred = true;
}

static void running_on_end_stored(RedisStore *s, int r, void *userdata) {
        RunningExecution *re = userdata;
        Manager *m = re->manager;

        m->n_pending_store--;

        if (store_error_is_transient(r)) {
                /* Keep it; the end is stored when Redis is back. */
                log_warning_errno(r, "Execution %s: its end (%s) could not be stored yet: %m",
                                  re->record.id, exec_state_to_string(re->record.state));
                running_defer_end(re);
                manager_update_status(m);
                manager_check_stopped(m);
                return;
        }
        if (r < 0)
                log_error_errno(r, "Execution %s: failed to store its end (%s): %m",
                                re->record.id, exec_state_to_string(re->record.state));
        else
                log_info("Execution %s ended: %s.", re->record.id, exec_state_to_string(re->record.state));

        if (r >= 0)
                manager_record_changed(m, &re->record);
        running_answer_waiters(re);
        manager_notify(m, re->record.id);

        LIST_REMOVE(running, m->running, re);
        running_execution_free(re);

        manager_claim(m);
        manager_update_status(m);
        manager_check_stopped(m);
}

static void running_store_end(RunningExecution *re) {
        Manager *m = re->manager;
        _cleanup_(json_decrefp) json_t *outputs = NULL, *status = NULL;
        int r;

        outputs = output_model_outputs(re->outputs);
        status = outputs ? exec_record_to_status_json(&re->record, outputs) : NULL;
        if (!status) {
                log_oom();
                r = -ENOMEM;
        } else
                r = redis_store_finish(m->store, &re->record, EXEC_STATE_RUNNING, outputs, status,
                                       m->config.result_ttl_usec, running_on_end_stored, re);
        if (r < 0) {
                log_warning_errno(r, "Execution %s: its end (%s) could not be stored yet: %m",
                                  re->record.id, exec_state_to_string(re->record.state));
                running_defer_end(re);
                return;
        }

        m->n_pending_store++;
}

/* The error text of a terminal state, naming the limit where one hit. */
static int running_error_text(RunningExecution *re, const ExecTermination *t, ExecState state, char **ret) {
        const Limits *l = &re->record.limits;
        int n = 0;

        *ret = NULL;
        switch (state) {
        case EXEC_STATE_ERROR:
                if (t->interrupted)
                        n = asprintf(ret, "interrupted: service stopped");
                else
                        n = asprintf(ret, "%s", t->error ?: "the execution could not be run");
                break;
        case EXEC_STATE_TIMEOUT:
                n = asprintf(ret, "timeout: the code ran longer than timeout_sec=%g s",
                             (double) l->timeout_usec / USEC_PER_SEC);
                break;
        case EXEC_STATE_OOM:
                n = asprintf(ret, "oom: killed by the memory limit memory_max=%" PRIu64 " bytes", l->memory_max);
                break;
        case EXEC_STATE_FAILED:
                if (t->output_limited)
                        n = asprintf(ret, "output limit of %" PRIu64 " bytes reached (OutputLimitAction=kill)",
                                     l->output_max);
                break;
        default:
                return 0;
        }
        return n < 0 ? -ENOMEM : 0;
}

static void running_on_finished(Execution *e, const ExecTermination *t, const ExecResources *res,
                                bool truncated, void *userdata) {
        RunningExecution *re = userdata;
        Manager *m = re->manager;
        ExecState state;
        int r;

        state = exec_state_from_termination(t);
        re->record.state = state;
        re->record.finished_usec = now_usec(CLOCK_REALTIME);
        re->record.has_exit_code = t->have_status && t->exit_code >= 0;
        re->record.exit_code = re->record.has_exit_code ? t->exit_code : 0;
        re->record.signal = t->have_status ? t->signal : 0;
        re->record.truncated = truncated;
        re->record.has_resources = true;
        re->record.wall_usec = res->wall_usec;
        re->record.cpu_usec = res->cpu_usec;
        re->record.memory_peak_bytes = res->memory_peak_bytes;
        free(re->record.error);
        r = running_error_text(re, t, state, &re->record.error);
        if (r < 0)
                log_oom();

        /* The slot and the uid are free once the processes are gone. */
        m->n_running--;
        re->ended = true;
        running_release_uid(re);

        running_store_end(re);
        manager_update_status(m);
}

static void running_on_started(Execution *e, void *userdata) {
        RunningExecution *re = userdata;

        log_debug("Execution %s released in %s.", re->record.id, execution_get_unit(e));
}

static const ExecutionHandlers running_handlers = {
        .started = running_on_started,
        .event = running_on_event,
        .finished = running_on_finished,
};

int running_execution_cancel(RunningExecution *re, cancel_done_t done, void *userdata) {
        int r;

        if (done) {
                CancelWaiter *w = calloc(1, sizeof(*w));
                if (!w)
                        return -ENOMEM;
                w->done = done;
                w->userdata = userdata;
                LIST_PREPEND(waiters, re->cancel_waiters, w);
        }

        r = execution_cancel(re->execution);
        if (r < 0)
                return log_warning_errno(r, "Execution %s: cancel failed: %m", re->record.id);
        return 0;
}

/* Starts what a claim handed us. */
static void manager_start_claimed(Manager *m, const ExecRecord *rec, const char *code, size_t code_size,
                                  const char *stdin_data, size_t stdin_size) {
        RunningExecution *re;
        int r;

        re = calloc(1, sizeof(*re));
        if (!re) {
                log_oom();
                return;
        }
        re->manager = m;
        re->record = (ExecRecord) EXEC_RECORD_INIT;
        re->outputs = output_model_new();
        if (!re->outputs || exec_record_copy(&re->record, rec) < 0) {
                log_oom();
                running_execution_free(re);
                return;
        }

        LIST_PREPEND(running, m->running, re);
        m->n_running++;

        ExecSpec spec = {
                .id = rec->id,
                .code = code,
                .code_size = code_size,
                .stdin_data = rec->has_stdin ? stdin_data : NULL,
                .stdin_size = rec->has_stdin ? stdin_size : 0,
                .limits = rec->limits,
                .has_execution_count = rec->has_execution_count,
                .execution_count = rec->execution_count,
                .sandbox_path = m->paths.sandbox,
                .runner_path = m->paths.runner,
                .python_path = m->paths.python,
                .slice = PYEXECD_SLICE,
        };

        /* What comes out of Redis is checked again: whoever can write there
         * could have queued limits no request could ask for. */
        _cleanup_free_ char *limits_error = NULL;
        r = limits_verify(&rec->limits, &m->config.limits_max, &limits_error);
        if (r < 0) {
                _cleanup_free_ char *error = NULL;

                log_warning("Execution %s: refusing queued limits: %s", rec->id, limits_error ?: "invalid");
                if (asprintf(&error, "refused: %s", limits_error ?: "invalid limits") < 0)
                        error = NULL;
                ExecTermination t = { .error = error ?: "refused: invalid limits" };
                ExecResources res = {};
                running_on_finished(NULL, &t, &res, false, re);
                return;
        }

        /* FileSizeMax= is not a request field, so it is not stored with the execution. */
        spec.limits.file_size_max = m->config.limits_default.file_size_max;
        spec.kill_on_output_limit = m->config.output_limit_action == OUTPUT_LIMIT_KILL;
        spec.sandbox_disabled = !m->config.sandbox_enabled;
        if (m->config.sandbox_enabled) {
                r = uid_allocator_take(m->uids, &re->uid);
                if (r < 0) {
                        /* Cannot happen while UIDRange= holds MaxConcurrent uids
                         * (config_verify()); refuse rather than share one. */
                        log_error_errno(r, "Execution %s: no free uid in [Sandbox] UIDRange=: %m", rec->id);
                        ExecTermination t = { .error = "no free uid in the sandbox's UIDRange=" };
                        ExecResources res = {};
                        running_on_finished(NULL, &t, &res, false, re);
                        return;
                }
                re->has_uid = true;
                spec.uid = re->uid;
        }

        r = execution_start(&re->execution, m->event, m->bus, &spec, &running_handlers, re);
        if (r < 0) {
                _cleanup_free_ char *error = NULL;

                log_error_errno(r, "Execution %s: failed to start: %m", rec->id);
                if (asprintf(&error, "the execution could not be started: %s", strerror(-r)) < 0)
                        error = NULL;
                ExecTermination t = { .error = error ?: "the execution could not be started" };
                ExecResources res = {};
                running_on_finished(NULL, &t, &res, false, re);
                return;
        }

        log_info("Execution %s started (%s).", rec->id, execution_get_unit(re->execution));

        /* A claim that raced with SIGTERM: nothing may start now. */
        if (m->stopping)
                (void) execution_interrupt(re->execution);
}

static void manager_on_claimed(RedisStore *s, int r, const ExecRecord *rec,
                               const char *code, size_t code_size,
                               const char *stdin_data, size_t stdin_size, void *userdata) {
        Manager *m = userdata;

        m->claiming = false;

        if (r < 0) {
                log_full_errno(store_error_is_transient(r) ? LOG_DEBUG : LOG_WARNING, r,
                               "Failed to take an execution from the queue: %m");
                manager_check_stopped(m);
                return;
        }

        m->queue_empty = !rec;
        if (rec) {
                /* Its D-Bus subscribers hear "running" before any output. */
                manager_record_changed(m, rec);
                manager_start_claimed(m, rec, code, code_size, stdin_data, stdin_size);
                manager_notify(m, rec->id);
                manager_update_status(m);
        }

        /* More slots, more work? */
        if (rec)
                manager_claim(m);
        manager_check_stopped(m);
}

void manager_claim(Manager *m) {
        int r;

        if (m->stopping || m->claiming || !redis_store_is_connected(m->store) ||
            m->n_running >= m->config.max_concurrent)
                return;

        r = redis_store_claim(m->store, now_usec(CLOCK_REALTIME), manager_on_claimed, m);
        if (r < 0) {
                log_debug_errno(r, "Failed to ask for queued executions: %m");
                return;
        }
        m->claiming = true;
}

void manager_retry_unfinished(Manager *m) {
        RunningExecution *list = TAKE_PTR(m->unfinished);

        while (list) {
                RunningExecution *re = list;

                LIST_REMOVE(running, list, re);
                LIST_PREPEND(running, m->running, re);
                re->deferred = false;
                running_store_end(re);
        }
}

typedef struct Interrupted {
        Manager *manager;
        ExecRecord record;
} Interrupted;

static void recover_on_end_stored(RedisStore *s, int r, void *userdata) {
        Interrupted *i = userdata;
        Manager *m = i->manager;

        m->n_pending_store--;
        if (r < 0)
                log_warning_errno(r, "Failed to mark an execution left by a previous daemon: %m");
        else
                manager_record_changed(m, &i->record);
        exec_record_done(&i->record);
        free(i);
        manager_check_stopped(m);
}

int manager_mark_interrupted(Manager *m, const ExecRecord *rec, json_t *outputs) {
        _cleanup_(json_decrefp) json_t *status = NULL;
        Interrupted *i;
        int r;

        i = calloc(1, sizeof(*i));
        if (!i)
                return log_oom();
        i->manager = m;
        r = exec_record_copy(&i->record, rec);
        if (r < 0) {
                free(i);
                return log_oom();
        }
        i->record.state = EXEC_STATE_ERROR;
        i->record.finished_usec = now_usec(CLOCK_REALTIME);
        free(i->record.error);
        i->record.error = strdup("interrupted: service stopped");

        status = i->record.error ? exec_record_to_status_json(&i->record, outputs) : NULL;
        if (!status) {
                exec_record_done(&i->record);
                free(i);
                return log_oom();
        }

        r = redis_store_finish(m->store, &i->record, EXEC_STATE_RUNNING, outputs, status, m->config.result_ttl_usec,
                               recover_on_end_stored, i);
        if (r < 0) {
                exec_record_done(&i->record);
                free(i);
                return log_warning_errno(r, "Failed to mark execution %s as interrupted: %m", rec->id);
        }
        m->n_pending_store++;
        log_notice("Execution %s was left running by a previous daemon; marked as interrupted.", rec->id);
        return 0;
}

static void recover_on_get(RedisStore *s, int r, const ExecRecord *rec, json_t *outputs, void *userdata) {
        Manager *m = userdata;

        m->n_pending_store--;

        if (r < 0) {
                if (r != -ENOENT)
                        log_warning_errno(r, "Failed to load an execution left by a previous daemon: %m");
        } else if (rec->state == EXEC_STATE_RUNNING && !manager_find_running(m, rec->id))
                (void) manager_mark_interrupted(m, rec, outputs);

        manager_check_stopped(m);
}

static void recover_on_ids(RedisStore *s, int r, char *const *ids, void *userdata) {
        Manager *m = userdata;

        m->n_pending_store--;

        if (r < 0) {
                log_warning_errno(r, "Failed to list executions left by a previous daemon: %m");
                /* Try again on the next connect. */
                m->recovered = false;
                manager_check_stopped(m);
                return;
        }

        for (char *const *id = ids; id && *id; id++) {
                if (manager_find_running(m, *id))
                        continue;
                r = redis_store_get(m->store, *id, recover_on_get, m);
                if (r < 0)
                        log_warning_errno(r, "Failed to load execution %s: %m", *id);
                else
                        m->n_pending_store++;
        }
        manager_check_stopped(m);
}

void manager_recover(Manager *m) {
        int r;

        r = redis_store_running_on_node(m->store, recover_on_ids, m);
        if (r < 0) {
                log_warning_errno(r, "Failed to list executions left by a previous daemon: %m");
                return;
        }
        m->n_pending_store++;
        m->recovered = true;
}
