/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * pyexecctl run: submit a cell and follow it to its end.
 *
 * The service sends an execution's Output signals and PropertiesChanged to
 * the submitter only (unicast), starting right after Execute's reply. So
 * the matches are in place before Execute is called, and everything
 * happens on one sd-event loop, in the order the bus delivers it:
 * Execute's reply (which names the execution and the service's unique
 * name), the outputs, and last the PropertiesChanged that makes State
 * terminal (the service sends an execution's outputs before that).
 * Signals are taken only from the unique name that answered Execute and
 * only for our execution's path: anyone on the bus may send us signals.
 *
 * Ctrl-C calls Cancel() and keeps waiting for the end; a second Ctrl-C
 * leaves at once. If the service leaves the bus meanwhile (restart,
 * crash), the execution is looked up again (GetExecution(), which
 * bus-activates the service anew) and Subscribe()d to.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "pyexecctl/bus-util.h"
#include "pyexecctl/exec-info.h"
#include "pyexecctl/format.h"
#include "pyexecctl/polkit-agent.h"
#include "pyexecctl/pyexecctl.h"
#include "pyexecctl/render.h"
#include "pyexecctl/util.h"
#include "shared/log.h"
#include "shared/macro.h"

/* How long Execute may take: polkit may be asking the user for a password. */
#define EXECUTE_TIMEOUT_USEC (5 * 60 * USEC_PER_SEC)

typedef struct Run {
        const Arguments *args;
        sd_event *event;
        sd_bus *bus;
        Renderer *renderer;
        PolkitAgent agent;

        sd_bus_slot *slot_call;         /* the pending Execute, Subscribe or GetAll */
        char *id;
        char *path;
        char *service;                  /* unique name of the service that runs it */
        ExecutionInfo info;

        unsigned n_interrupts;
        bool cancel_pending;            /* Ctrl-C came before Execute's reply */
        bool render_failed;
        int exit_status;                /* -1 while running */
} Run;

static void run_done(Run *r) {
        r->slot_call = sd_bus_slot_unref(r->slot_call);
        polkit_agent_close(&r->agent);
        r->renderer = renderer_free(r->renderer);
        free(r->id);
        free(r->path);
        free(r->service);
        execution_info_done(&r->info);
        sd_bus_flush_close_unref(r->bus);
        sd_event_unref(r->event);
}

static void run_exit(Run *r, int status) {
        if (r->exit_status < 0)
                r->exit_status = status;
        (void) sd_event_exit(r->event, 0);
}

/* Is @m from the service running our execution, about our execution? */
static bool run_message_is_ours(Run *r, sd_bus_message *m) {
        const char *sender = sd_bus_message_get_sender(m);
        const char *path = sd_bus_message_get_path(m);

        return r->path && r->service && sender && path &&
                strcmp(sender, r->service) == 0 && strcmp(path, r->path) == 0;
}

static void print_summary(Run *r) {
        const ExecutionInfo *i = &r->info;
        char detail[512] = "", wall[FORMAT_TIMESPAN_MAX], cpu[FORMAT_TIMESPAN_MAX], mem[FORMAT_BYTES_MAX];

        if (i->error && *i->error)
                (void) snprintf(detail, sizeof(detail), " (%s)", i->error);
        else if (i->signal && *i->signal)
                (void) snprintf(detail, sizeof(detail), " (signal %s)", i->signal);
        else if (i->exit_code >= 0)
                (void) snprintf(detail, sizeof(detail), " (exit code %d)", (int) i->exit_code);

        fprintf(stderr, "Finished with state: %s%s\n", i->state ?: "unknown", detail);
        if (i->started_usec > 0)
                fprintf(stderr, "Wall time: %s, CPU time: %s, memory peak: %s\n",
                        format_timespan(wall, sizeof(wall), i->wall_usec),
                        format_timespan(cpu, sizeof(cpu), i->cpu_usage_nsec / NSEC_PER_USEC),
                        format_bytes(mem, sizeof(mem), i->memory_peak));
}

static int run_finish(Run *r) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ExecState state = exec_state_from_string(r->info.state);
        int k;

        /* The final figures (exit code, resources), as the service has them now. */
        k = execution_info_get_all(r->bus, r->path, &r->info, &error);
        if (k < 0)
                log_debug("Failed to read the final properties: %s", error.message ?: strerror(-k));

        if (r->renderer)
                (void) renderer_finish(r->renderer);
        if (!r->args->quiet)
                print_summary(r);

        run_exit(r, exit_status_from_state(state));
        return 0;
}

/* Takes new property values; ends the run once State is terminal. */
static int run_update(Run *r, sd_bus_message *m) {
        int k;

        /* A reply or signal still queued when the end was seen: the end is told once. */
        if (r->exit_status >= 0)
                return 0;

        k = execution_info_read(&r->info, m);
        if (k < 0)
                return log_error_errno(k, "Failed to parse the execution's properties: %m");

        if (exec_state_is_terminal(exec_state_from_string(r->info.state)))
                return run_finish(r);
        return 0;
}

static int on_get_all_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Run *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        r->slot_call = sd_bus_slot_unref(r->slot_call);
        if (e) {
                log_bus_error(e, sd_bus_message_get_errno(m), NULL, "read the execution's state");
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return 0;
        }
        return run_update(r, m);
}

/* Reads all properties, asynchronously: replies come in order with the
 * signals, so when this one says "terminal", every output came before it. */
static int run_get_all(Run *r) {
        r->slot_call = sd_bus_slot_unref(r->slot_call);
        return sd_bus_call_method_async(r->bus, &r->slot_call, PYEXECD_BUS_NAME, r->path,
                                        "org.freedesktop.DBus.Properties", "GetAll",
                                        on_get_all_reply, r, "s", PYEXECD_EXECUTION_INTERFACE);
}

static int on_output(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Run *r = userdata;
        const char *type, *json;
        int k;

        if (!run_message_is_ours(r, m))
                return 0;

        k = sd_bus_message_read(m, "ss", &type, &json);
        if (k < 0) {
                log_warning_errno(k, "Skipping a malformed Output signal: %m");
                return 0;
        }

        k = renderer_event(r->renderer, type, json);
        if (k < 0 && !r->render_failed) {
                r->render_failed = true;
                log_error_errno(k, "Failed to show the output: %m");
        }
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Run *r = userdata;
        const char *interface, *name;
        bool state_invalidated = false;
        int k;

        if (!run_message_is_ours(r, m) || r->exit_status >= 0)
                return 0;

        k = sd_bus_message_read(m, "s", &interface);
        if (k < 0 || strcmp(interface, PYEXECD_EXECUTION_INTERFACE) != 0)
                return 0;

        k = run_update(r, m);
        if (k < 0 || r->exit_status >= 0)
                return 0;

        /* A property sent as invalidated only: read them all again. */
        k = sd_bus_message_enter_container(m, 'a', "s");
        while (k > 0 && (k = sd_bus_message_read_basic(m, 's', &name)) > 0)
                if (strcmp(name, "State") == 0)
                        state_invalidated = true;
        if (state_invalidated && !r->slot_call) {
                k = run_get_all(r);
                if (k < 0)
                        log_warning_errno(k, "Failed to read the execution's state: %m");
        }
        return 0;
}

static int on_cancel_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        /* WrongState: it ended meanwhile; its end is on the way. */
        if (e && !sd_bus_error_has_name(e, PYEXECD_ERROR_PREFIX "WrongState"))
                log_bus_error(e, sd_bus_message_get_errno(m), NULL, "cancel the execution");
        return 0;
}

static int run_cancel(Run *r) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int k;

        if (!r->args->quiet)
                fprintf(stderr, "Cancelling execution %s (press Ctrl-C again to leave at once)…\n", r->id);

        k = bus_message_new_call(r->bus, &m, r->path, PYEXECD_EXECUTION_INTERFACE, "Cancel",
                                 r->args->ask_password);
        if (k >= 0)
                k = sd_bus_call_async(r->bus, NULL, m, on_cancel_reply, r, 0);
        if (k < 0)
                return log_error_errno(k, "Failed to cancel the execution: %m");
        return 0;
}

static int on_sigint(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Run *r = userdata;

        if (++r->n_interrupts > 1) {
                if (r->id)
                        log_notice("Left without waiting for the end of execution %s.", r->id);
                run_exit(r, PYEXECCTL_EXIT_INTERRUPTED);
                return 0;
        }

        if (!r->path) {
                /* Not submitted yet: cancel as soon as we know what. */
                r->cancel_pending = true;
                return 0;
        }
        (void) run_cancel(r);
        return 0;
}

static int on_subscribe_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Run *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        char *service;
        int k;

        r->slot_call = sd_bus_slot_unref(r->slot_call);
        if (e) {
                log_bus_error(e, sd_bus_message_get_errno(m), NULL, "follow the execution after pyexecd restarted");
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return 0;
        }

        /* From now on, the signals come from this one. */
        service = strdup(sd_bus_message_get_sender(m) ?: "");
        if (!service) {
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return log_oom();
        }
        free(r->service);
        r->service = service;

        k = run_get_all(r);
        if (k < 0) {
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return log_error_errno(k, "Failed to read the execution's state: %m");
        }
        return 0;
}

static int on_get_execution_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Run *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int k;

        r->slot_call = sd_bus_slot_unref(r->slot_call);
        if (e) {
                log_bus_error(e, sd_bus_message_get_errno(m), NULL, "follow the execution after pyexecd restarted");
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return 0;
        }

        k = sd_bus_call_method_async(r->bus, &r->slot_call, PYEXECD_BUS_NAME, r->path,
                                     PYEXECD_EXECUTION_INTERFACE, "Subscribe",
                                     on_subscribe_reply, r, NULL);
        if (k < 0) {
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return log_error_errno(k, "Failed to follow the execution: %m");
        }
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Run *r = userdata;
        const char *name, *old_owner, *new_owner;
        int k;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 ||
            !r->service || strcmp(old_owner, r->service) != 0 || r->exit_status >= 0)
                return 0;

        /* Our service is gone. Its successor (bus activation starts one) knows
         * the execution from Redis: look it up there (which also makes its
         * object exist), subscribe to its signals, and read its state. */
        log_notice("pyexecd left the bus; following execution %s in its successor.", r->id);
        free(r->service);
        r->service = NULL;
        r->slot_call = sd_bus_slot_unref(r->slot_call);
        k = sd_bus_call_method_async(r->bus, &r->slot_call, PYEXECD_BUS_NAME, PYEXECD_MANAGER_PATH,
                                     PYEXECD_MANAGER_INTERFACE, "GetExecution",
                                     on_get_execution_reply, r, "s", r->id);
        if (k < 0) {
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return log_error_errno(k, "Failed to follow the execution: %m");
        }
        return 0;
}

static int on_execute_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Run *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *id, *path;
        int k;

        r->slot_call = sd_bus_slot_unref(r->slot_call);
        polkit_agent_close(&r->agent);

        if (e) {
                log_bus_error(e, sd_bus_message_get_errno(m), POLKIT_ACTION_EXECUTE, "run the cell");
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return 0;
        }

        k = sd_bus_message_read(m, "so", &id, &path);
        if (k < 0) {
                log_error_errno(k, "Failed to parse the reply to Execute(): %m");
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return 0;
        }

        r->id = strdup(id);
        r->path = strdup(path);
        r->service = strdup(sd_bus_message_get_sender(m) ?: "");
        r->renderer = renderer_new(stdout, stderr, r->args->json, r->args->output_dir, id);
        if (!r->id || !r->path || !r->service || !r->renderer) {
                run_exit(r, PYEXECCTL_EXIT_NOT_RUN);
                return log_oom();
        }

        if (!r->args->quiet)
                fprintf(stderr, "Running as execution %s.\n", id);

        if (r->cancel_pending)
                (void) run_cancel(r);

        /* In case it ended before we look (or the service sends no change for it). */
        k = run_get_all(r);
        if (k < 0)
                log_warning_errno(k, "Failed to read the execution's state: %m");
        return 0;
}

static int append_options(sd_bus_message *m, const Arguments *a, const char *stdin_text) {
        int k;

        k = sd_bus_message_open_container(m, 'a', "{sv}");
        if (k < 0)
                return k;

#define APPEND(cond, key, type, value)                                                  \
        do {                                                                            \
                if (cond) {                                                             \
                        k = sd_bus_message_append(m, "{sv}", key, type, value);         \
                        if (k < 0)                                                      \
                                return k;                                               \
                }                                                                       \
        } while (0)

        APPEND(a->cell_id, "cell_id", "s", a->cell_id);
        APPEND(a->notebook_id, "notebook_id", "s", a->notebook_id);
        APPEND(a->execution_count >= 0, "execution_count", "x", a->execution_count);
        APPEND(stdin_text, "stdin", "s", stdin_text);
        APPEND(a->timeout_usec > 0, "timeout_sec", "d", (double) a->timeout_usec / USEC_PER_SEC);
        APPEND(a->memory_max > 0, "memory_max", "t", a->memory_max);
        APPEND(a->cpu_quota_percent > 0, "cpu_quota_percent", "u", a->cpu_quota_percent);
        APPEND(a->tasks_max > 0, "tasks_max", "t", a->tasks_max);
        APPEND(a->output_max > 0, "output_max", "t", a->output_max);
#undef APPEND

        return sd_bus_message_close_container(m);
}

static int run_add_matches(Run *r) {
        int k;

        /* Unicast signals reach us without a rule at the bus; the rules make sd-bus
         * dispatch them here (and would let broadcasts through, were there any). */
        k = sd_bus_add_match(r->bus, NULL,
                             "type='signal',"
                             "sender='" PYEXECD_BUS_NAME "',"
                             "interface='" PYEXECD_EXECUTION_INTERFACE "',"
                             "member='Output',"
                             "path_namespace='" PYEXECD_EXECUTION_PATH_PREFIX "'",
                             on_output, r);
        if (k < 0)
                return k;

        k = sd_bus_add_match(r->bus, NULL,
                             "type='signal',"
                             "sender='" PYEXECD_BUS_NAME "',"
                             "interface='org.freedesktop.DBus.Properties',"
                             "member='PropertiesChanged',"
                             "path_namespace='" PYEXECD_EXECUTION_PATH_PREFIX "',"
                             "arg0='" PYEXECD_EXECUTION_INTERFACE "'",
                             on_properties_changed, r);
        if (k < 0)
                return k;

        return sd_bus_match_signal(r->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, r);
}

static int run_submit(Run *r, const char *code, const char *stdin_text) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int k;

        k = bus_message_new_call(r->bus, &m, PYEXECD_MANAGER_PATH, PYEXECD_MANAGER_INTERFACE, "Execute",
                                 r->args->ask_password);
        if (k >= 0)
                k = sd_bus_message_append(m, "s", code);
        if (k >= 0)
                k = append_options(m, r->args, stdin_text);
        if (k < 0)
                return log_error_errno(k, "Failed to build the Execute() call: %m");

        if (r->args->ask_password)
                (void) polkit_agent_open(&r->agent);

        k = sd_bus_call_async(r->bus, &r->slot_call, m, on_execute_reply, r,
                              r->args->ask_password ? EXECUTE_TIMEOUT_USEC : 0);
        if (k < 0)
                return log_error_errno(k, "Failed to call Execute(): %m");
        return 0;
}

int verb_run(const Arguments *a) {
        _cleanup_free_ char *code = NULL, *stdin_text = NULL;
        _cleanup_(run_done) Run r = {
                .args = a,
                .exit_status = -1,
        };
        sigset_t mask;
        int k;

        if (read_text_file(a->n_args > 0 ? a->args[0] : NULL, "the cell", &code) < 0)
                return PYEXECCTL_EXIT_NOT_RUN;
        if (a->stdin_file && read_text_file(a->stdin_file, "--stdin=", &stdin_text) < 0)
                return PYEXECCTL_EXIT_NOT_RUN;
        /* A folder asked for must be usable: say so now, not at the first image.
         * (The current directory is only checked when an image comes: most
         * cells make none.) */
        if (!a->json && a->output_dir && access(a->output_dir, W_OK | X_OK) < 0) {
                log_error_errno(errno, "Cannot save images in %s: %m", a->output_dir);
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        if (bus_connect(&r.bus) < 0)
                return PYEXECCTL_EXIT_NOT_RUN;

        k = sd_event_default(&r.event);
        if (k < 0) {
                log_error_errno(k, "Failed to create the event loop: %m");
                return PYEXECCTL_EXIT_NOT_RUN;
        }
        k = sd_bus_attach_event(r.bus, r.event, SD_EVENT_PRIORITY_NORMAL);
        if (k >= 0)
                /* Losing the bus ends the loop; exit_status stays unset then. */
                k = sd_bus_set_exit_on_disconnect(r.bus, true);
        if (k < 0) {
                log_error_errno(k, "Failed to attach the bus to the event loop: %m");
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        k = sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ? -errno : 0;
        if (k >= 0)
                k = sd_event_add_signal(r.event, NULL, SIGINT, on_sigint, &r);
        if (k < 0) {
                log_error_errno(k, "Failed to handle SIGINT: %m");
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        k = run_add_matches(&r);
        if (k < 0) {
                log_error_errno(k, "Failed to subscribe to the execution's signals: %m");
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        if (run_submit(&r, code, stdin_text) < 0)
                return PYEXECCTL_EXIT_NOT_RUN;

        k = sd_event_loop(r.event);
        if (k < 0) {
                log_error_errno(k, "Failed to run the event loop: %m");
                return PYEXECCTL_EXIT_NOT_RUN;
        }

        if (r.exit_status < 0) {
                log_error("Lost the connection to the system bus%s%s.",
                          r.id ? " while following execution " : "", r.id ?: "");
                return PYEXECCTL_EXIT_NOT_RUN;
        }
        return r.exit_status;
}
