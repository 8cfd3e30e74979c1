/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/execution.h"
#include "exec/output-gate.h"
#include "exec/sandbox-protocol.h"
#include "exec/scope.h"
#include "exec/spawn.h"
#include "shared/exec-id.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/output-model.h"
#include "shared/time-util.h"
#include "shared/utf8.h"

/* One read(2) per wake-up; the pipes hold 64 KiB by default. */
#define READ_SIZE (64U * 1024U)
/* How much a "drain fd 1/2 first" takes at most, so that a payload that
 * writes without pause cannot keep the loop in one drain forever. */
#define DRAIN_MAX (1024U * 1024U)
/* A runner message may exceed OutputMax by its JSON framing and escapes;
 * a line longer than OutputMax plus this is discarded unread. */
/* fd 3 lines longer than 2 × OutputMax + this are dropped unparsed: OutputMax
 * counts text before JSON escaping, which at most doubles the common
 * characters (quotes, backslashes, line breaks). */
#define LINE_SLACK (64U * 1024U)
/* The supervisor's report is one short line. */
#define REPORT_MAX (16U * 1024U)
/* After SIGTERM, the supervisor has this long to kill its init and report
 * before KillUnit(SIGKILL) ends the whole scope. */
#define KILL_GRACE_USEC (2 * USEC_PER_SEC)

typedef enum ExecutionPhase {
        EXECUTION_STARTING,     /* supervisor forked, scope job pending */
        EXECUTION_RUNNING,      /* released; the supervisor is watched */
        EXECUTION_ABORTING,     /* never released (scope failed, cancelled); killed and watched */
        EXECUTION_FINISHED,     /* finished() was called, or abandoned */
} ExecutionPhase;

typedef struct OutputStream {
        Execution *execution;
        const char *name;               /* "stdout", "stderr" */
        int fd;
        sd_event_source *source;
        char carry[4];                  /* an incomplete UTF-8 sequence from the last read */
        size_t n_carry;
        bool eof;
} OutputStream;

struct Execution {
        sd_event *event;
        sd_bus *bus;
        char *id;
        char *unit;
        Limits limits;
        ExecutionHandlers handlers;
        void *userdata;

        ExecutionPhase phase;
        pid_t pid;                      /* the supervisor */
        bool supervisor_exited;
        ScopeJob *scope_job;

        OutputStream streams[2];

        int message_fd;
        sd_event_source *message_source;
        char *line;                     /* the fd 3 line being assembled */
        size_t line_size, line_allocated;
        bool line_discarding;           /* in a line longer than the cap */
        uint64_t line_discarded;
        bool messages_eof;
        uint64_t malformed_messages;

        int control_fd;
        int report_fd;

        sd_event_source *child_source;
        sd_event_source *timeout_source;
        sd_event_source *kill_source;

        uint64_t release_usec;
        bool timed_out, cancelled, interrupted;
        bool kill_requested;
        char *error;                    /* why the service could not run it */

        OutputGate *output;             /* OutputMax and the merging of stream events */
        bool kill_on_output_limit;
        bool output_limited;            /* killed (or failed) for reaching OutputMax */

        /* Callbacks may free the object (ENTERED/DELETED, as hiredis' sd-event adapter). */
        unsigned n_entered;
        bool deleted;
};

static void execution_destroy(Execution *e);
static void execution_finish(Execution *e, const siginfo_t *si);
static void execution_kill(Execution *e);

static void execution_enter(Execution *e) {
        e->n_entered++;
}

static void execution_leave(Execution *e) {
        if (--e->n_entered == 0 && e->deleted)
                execution_destroy(e);
}

const char *execution_get_id(Execution *e) {
        return e ? e->id : NULL;
}

const char *execution_get_unit(Execution *e) {
        return e ? e->unit : NULL;
}

pid_t execution_get_supervisor_pid(Execution *e) {
        return e ? e->pid : 0;
}

/*
 * Output: every event goes through here, counted against OutputMax.
 */

static void execution_deliver(Execution *e, const char *type, json_t *data) {
        if (e->deleted || !e->handlers.event)
                return;
        e->handlers.event(e, type, data, e->userdata);
}

static void on_output_pass(OutputGate *g, const char *type, json_t *data, void *userdata) {
        execution_deliver(userdata, type, data);
}

/* OutputMax reached: from here on output is only counted. With
 * OutputLimitAction=kill the payload is ended as at a timeout; the first
 * reason to end it stays (a timeout or cancel before wins). */
static void on_output_capped(OutputGate *g, void *userdata) {
        Execution *e = userdata;

        if (!e->kill_on_output_limit || e->kill_requested || e->deleted || e->phase == EXECUTION_FINISHED)
                return;
        log_debug("Execution %s: output limit reached, killing it (OutputLimitAction=kill).", e->id);
        e->output_limited = true;
        execution_kill(e);
}

/* Raw bytes from fd 1/2: repaired, an incomplete trailing sequence kept for
 * the next read (or replaced, when @final). */
static void stream_process(Execution *e, OutputStream *s, const char *data, size_t size, bool final) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0, consumed = 0;

        s->n_carry = 0;

        if (output_gate_is_capped(e->output)) {
                /* Nothing more goes out: count, do not convert. */
                output_gate_drop(e->output, size);
                return;
        }

        text = utf8_repair(data, size, final, &len, &consumed);
        if (!text) {
                log_oom();
                output_gate_drop(e->output, size);
                return;
        }

        /* Never more than an incomplete sequence stays behind (< 4 bytes). */
        if (consumed < size) {
                if (size - consumed < sizeof s->carry) {
                        memcpy(s->carry, data + consumed, size - consumed);
                        s->n_carry = size - consumed;
                } else
                        output_gate_drop(e->output, size - consumed);
        }

        if (len > 0)
                output_gate_push_stream(e->output, s->name, text, len);
}

static void stream_eof(Execution *e, OutputStream *s) {
        s->eof = true;
        (void) sd_event_source_set_enabled(s->source, SD_EVENT_OFF);

        if (s->n_carry > 0) {
                char carry[sizeof s->carry];
                size_t n = s->n_carry;

                memcpy(carry, s->carry, n);
                stream_process(e, s, carry, n, true);
        }
}

/* Reads fd 1 or 2: one read, or (@drain) until it has nothing more, at
 * most DRAIN_MAX. Returns the number of bytes read. */
static size_t stream_read(Execution *e, OutputStream *s, bool drain) {
        char buf[sizeof s->carry + READ_SIZE];
        size_t total = 0;

        while (!s->eof && !e->deleted) {
                size_t n_carry = s->n_carry;
                ssize_t n;

                memcpy(buf, s->carry, n_carry);
                n = read(s->fd, buf + n_carry, READ_SIZE);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN) {
                                log_warning_errno(errno, "Execution %s: reading %s failed: %m", e->id, s->name);
                                stream_eof(e, s);
                        }
                        break;
                }
                if (n == 0) {
                        stream_eof(e, s);
                        break;
                }

                stream_process(e, s, buf, n_carry + (size_t) n, false);

                total += (size_t) n;
                if (!drain || total >= DRAIN_MAX)
                        break;
        }
        return total;
}

static void streams_drain(Execution *e) {
        for (size_t i = 0; i < ELEMENTSOF(e->streams); i++)
                stream_read(e, &e->streams[i], true);
}


static int on_stream_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        OutputStream *s = userdata;
        Execution *e = s->execution;

        execution_enter(e);
        stream_read(e, s, false);
        execution_leave(e);
        return 0;
}

/*
 * fd 3: one runner message per line.
 */

static void message_handle_line(Execution *e, char *line, size_t size) {
        const char *type;
        json_t *data;
        int r;

        /* Causal order: whatever fd 1/2 got before this message was written
         * is in their pipes now, and goes out first (cases C06, C27, C45). */
        streams_drain(e);
        if (e->deleted || size == 0)
                return;

        line[size] = 0;
        r = runner_message_parse(line, size, &type, &data);
        if (r < 0) {
                /* Untrusted input: refused, counted, never half-used. */
                e->malformed_messages++;
                log_debug_errno(r, "Execution %s: dropping a malformed runner message: %m", e->id);
                return;
        }

        output_gate_push(e->output, type, data);
        json_decref(data);
}

/* A line longer than the cap is dropped whole: it cannot fit into what is
 * left of OutputMax anyway, so the cap is reached here. */
static void message_discarded(Execution *e, uint64_t size) {
        log_debug("Execution %s: dropping a runner message of %" PRIu64 " bytes, more than OutputMax.", e->id, size);
        output_gate_drop(e->output, size);
}

static int line_append(Execution *e, const char *p, size_t n) {
        size_t need = e->line_size + n + 1; /* + NUL */

        if (need > e->line_allocated) {
                size_t a = MAX(MAX(e->line_allocated * 2, need), (size_t) 4096);
                char *l = realloc(e->line, a);
                if (!l)
                        return -ENOMEM;
                e->line = l;
                e->line_allocated = a;
        }
        memcpy(e->line + e->line_size, p, n);
        e->line_size += n;
        return 0;
}

static void message_feed(Execution *e, const char *p, size_t n) {
        /* Never hold more than one capped line: a single 100 MB line must
         * not make the daemon hold 100 MB. */
        uint64_t line_max = 2 * e->limits.output_max + LINE_SLACK;

        while (n > 0 && !e->deleted) {
                const char *nl = memchr(p, '\n', n);
                size_t chunk = nl ? (size_t) (nl - p) : n;

                if (e->line_discarding)
                        e->line_discarded += chunk;
                else if (e->line_size + chunk > line_max || line_append(e, p, chunk) < 0) {
                        e->line_discarding = true;
                        e->line_discarded = e->line_size + chunk;
                        e->line_size = 0;
                        /* Give the big buffer back. */
                        free(e->line);
                        e->line = NULL;
                        e->line_allocated = 0;
                }

                if (!nl)
                        return;

                if (e->line_discarding) {
                        message_discarded(e, e->line_discarded);
                        e->line_discarding = false;
                        e->line_discarded = 0;
                } else {
                        size_t size = e->line_size;
                        e->line_size = 0;
                        if (size > 0)
                                message_handle_line(e, e->line, size);
                }

                p += chunk + 1;
                n -= chunk + 1;
        }
}

static void message_eof(Execution *e) {
        e->messages_eof = true;
        (void) sd_event_source_set_enabled(e->message_source, SD_EVENT_OFF);

        /* A last line without "\n" (the runner was killed mid-write, most
         * likely): parsed like any other, it is most likely refused. */
        if (e->line_discarding)
                message_discarded(e, e->line_discarded);
        else if (e->line_size > 0 && line_append(e, "", 0) >= 0)
                message_handle_line(e, e->line, e->line_size);
        e->line_size = 0;
        e->line_discarding = false;
}

static void message_read(Execution *e, bool drain) {
        char buf[READ_SIZE];

        while (!e->messages_eof && !e->deleted) {
                ssize_t n = read(e->message_fd, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return;
                        log_warning_errno(errno, "Execution %s: reading runner messages failed: %m", e->id);
                        message_eof(e);
                        return;
                }
                if (n == 0) {
                        message_eof(e);
                        return;
                }

                message_feed(e, buf, (size_t) n);
                if (!drain)
                        return;
        }
}

static int on_message_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Execution *e = userdata;

        execution_enter(e);
        message_read(e, false);
        execution_leave(e);
        return 0;
}

/*
 * Killing.
 */

static int on_kill_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Execution *e = userdata;

        /* The supervisor did not manage to kill and report in time: the
         * scope's SIGKILL takes it and everything else down. */
        log_warning("Execution %s: the supervisor did not exit after SIGTERM, killing scope %s.", e->id, e->unit);
        (void) scope_kill(e->bus, e->unit, SIGKILL);
        return 0;
}

/* Ends a released execution: SIGTERM asks the supervisor to kill its init
 * and report; the scope's KillUnit is the outer wall. */
static void execution_kill(Execution *e) {
        int r;

        e->kill_requested = true;

        switch (e->phase) {
        case EXECUTION_STARTING:
                /* Not released: nothing ran. The supervisor is not reaped
                 * (that waits for the job); EOF on the control pipe and
                 * SIGKILL both end it. */
                e->control_fd = safe_close(e->control_fd);
                (void) kill(e->pid, SIGKILL);
                break;

        case EXECUTION_RUNNING:
                if (e->supervisor_exited || e->kill_source)
                        break;
                if (kill(e->pid, SIGTERM) < 0)
                        log_warning_errno(errno, "Execution %s: failed to send SIGTERM to the supervisor: %m", e->id);
                r = sd_event_add_time_relative(e->event, &e->kill_source, CLOCK_MONOTONIC, KILL_GRACE_USEC, 0,
                                               on_kill_timer, e);
                if (r < 0) {
                        log_warning_errno(r, "Execution %s: failed to arm the kill timer, killing scope at once: %m", e->id);
                        (void) scope_kill(e->bus, e->unit, SIGKILL);
                } else
                        (void) sd_event_source_set_description(e->kill_source, "execution-kill");
                break;

        case EXECUTION_ABORTING:
        case EXECUTION_FINISHED:
                break;
        }
}

static int on_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        Execution *e = userdata;

        execution_enter(e);
        if (!e->kill_requested) {
                log_debug("Execution %s: wall-clock limit reached.", e->id);
                e->timed_out = true;
                execution_kill(e);
        }
        execution_leave(e);
        return 0;
}

static int execution_stop(Execution *e, bool *flag) {
        if (!e)
                return -EINVAL;
        if (e->deleted || e->phase == EXECUTION_FINISHED || e->kill_requested)
                return 0;       /* over, or ending already: the first reason stays */

        *flag = true;
        execution_kill(e);
        return 0;
}

int execution_cancel(Execution *e) {
        return execution_stop(e, e ? &e->cancelled : NULL);
}

int execution_interrupt(Execution *e) {
        return execution_stop(e, e ? &e->interrupted : NULL);
}

/*
 * The supervisor's end.
 */

static int on_child(sd_event_source *source, const siginfo_t *si, void *userdata) {
        Execution *e = userdata;

        /* sd-event reaps it after this returns. */
        execution_enter(e);
        e->supervisor_exited = true;
        execution_finish(e, si);
        execution_leave(e);
        return 0;
}

static int execution_watch_supervisor(Execution *e) {
        int r;

        r = sd_event_add_child(e->event, &e->child_source, e->pid, WEXITED, on_child, e);
        if (r < 0)
                return r;
        /* After the pipes' own wake-ups: the end drains them anyway, but
         * output in flight then takes the ordinary way. */
        (void) sd_event_source_set_priority(e->child_source, SD_EVENT_PRIORITY_NORMAL + 2);
        (void) sd_event_source_set_description(e->child_source, "execution-supervisor");
        return 0;
}

/* Without a child source nothing would ever reap the supervisor; that is
 * only possible when the daemon did not block SIGCHLD (-EBUSY). Killing
 * it and reaping it here is quick, and the only way out. */
static void execution_watch_failed(Execution *e, int r) {
        siginfo_t si = {};

        log_error_errno(r, "Execution %s: cannot watch the supervisor (is SIGCHLD blocked?): %m", e->id);
        if (!e->error && asprintf(&e->error, "cannot watch the sandbox supervisor: %s", strerror(-r)) < 0)
                e->error = NULL;

        (void) kill(e->pid, SIGKILL);
        (void) waitid(P_PID, (id_t) e->pid, &si, WEXITED);
        e->supervisor_exited = true;
        execution_finish(e, &si);
}

static void execution_abort(Execution *e) {
        int r;

        e->phase = EXECUTION_ABORTING;
        e->control_fd = safe_close(e->control_fd);
        (void) kill(e->pid, SIGKILL);

        r = execution_watch_supervisor(e);
        if (r < 0)
                execution_watch_failed(e, r);
}

static void execution_release(Execution *e) {
        static const char go = 1;
        int r;

        /* In the scope, with its limits: the supervisor may go on. */
        if (write(e->control_fd, &go, 1) != 1)
                /* It died meanwhile (EPIPE): on_child finds no report. */
                log_debug_errno(errno, "Execution %s: failed to release the supervisor: %m", e->id);
        e->control_fd = safe_close(e->control_fd);

        e->phase = EXECUTION_RUNNING;
        e->release_usec = now_usec(CLOCK_MONOTONIC);

        r = execution_watch_supervisor(e);
        if (r < 0) {
                execution_watch_failed(e, r);
                return;
        }

        r = sd_event_add_time(e->event, &e->timeout_source, CLOCK_MONOTONIC,
                              e->release_usec + e->limits.timeout_usec, USEC_PER_MSEC, on_timeout, e);
        if (r < 0) {
                /* Without a timer the limit would not hold: do not run it. */
                log_error_errno(r, "Execution %s: failed to arm the timeout: %m", e->id);
                if (!e->error && asprintf(&e->error, "cannot arm the timeout: %s", strerror(-r)) < 0)
                        e->error = NULL;
                execution_kill(e);
        } else
                (void) sd_event_source_set_description(e->timeout_source, "execution-timeout");

        if (e->handlers.started && !e->deleted)
                e->handlers.started(e, e->userdata);
}

static void on_scope_job(ScopeJob *j, int error, const char *message, void *userdata) {
        Execution *e = userdata;

        execution_enter(e);
        e->scope_job = scope_job_free(j);

        if (error < 0) {
                log_warning("Execution %s: could not create %s: %s", e->id, e->unit, message);
                if (asprintf(&e->error, "could not create scope: %s", message) < 0)
                        e->error = NULL;
                execution_abort(e);
        } else if (e->kill_requested)
                /* Cancelled (or interrupted) before the release: nothing runs. */
                execution_abort(e);
        else
                execution_release(e);

        execution_leave(e);
}

/* The report is written before the supervisor exits: all of it is in the pipe. */
static json_t *execution_read_report(Execution *e) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        char *nl;

        buf = malloc(REPORT_MAX + 1);
        if (!buf)
                return NULL;

        while (size < REPORT_MAX) {
                ssize_t n = read(e->report_fd, buf + size, REPORT_MAX - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        buf[size] = 0;

        nl = memchr(buf, '\n', size);
        if (!nl)
                return NULL;

        json_t *report = json_loadb(buf, (size_t) (nl - buf), 0, NULL);
        if (!json_is_object(report)) {
                json_decref(report);
                return NULL;
        }
        return report;
}

static uint64_t report_u64(json_t *report, const char *key) {
        json_t *v = json_object_get(report, key);
        return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t) json_integer_value(v) : 0;
}

static void execution_finish(Execution *e, const siginfo_t *si) {
        _cleanup_free_ char *error = NULL;
        ExecTermination t = {
                .exit_code = -1,
                .timed_out = e->timed_out,
                .cancelled = e->cancelled,
                .interrupted = e->interrupted,
        };
        ExecResources res = {};
        uint64_t end_usec;
        json_t *report, *v;
        bool truncated;

        end_usec = now_usec(CLOCK_MONOTONIC);
        e->child_source = sd_event_source_disable_unref(e->child_source);
        e->timeout_source = sd_event_source_disable_unref(e->timeout_source);
        e->kill_source = sd_event_source_disable_unref(e->kill_source);

        report = execution_read_report(e);

        /* Everything the payload wrote is in the pipes now (the sandbox's
         * PID namespace died with its init): messages in order, each after
         * what fd 1/2 had before it, then the rest of fd 1/2. */
        message_read(e, true);
        for (size_t i = 0; i < ELEMENTSOF(e->streams); i++) {
                /* Until EOF; EAGAIN instead means a writer lives on somewhere
                 * (it cannot be in the sandbox): do not wait for it. */
                while (stream_read(e, &e->streams[i], true) > 0)
                        ;
                if (!e->streams[i].eof)
                        stream_eof(e, &e->streams[i]);
        }
        if (e->malformed_messages > 0)
                log_warning("Execution %s: %" PRIu64 " malformed runner messages dropped.", e->id, e->malformed_messages);

        /* What is held back goes out, then the notice if the cap was hit. */
        truncated = output_gate_is_capped(e->output);
        output_gate_finish(e->output);

        /* How it ended. */
        if (report) {
                v = json_object_get(report, "exit_code");
                if (json_is_integer(v)) {
                        t.have_status = true;
                        t.exit_code = (int) json_integer_value(v);
                } else if (json_is_integer(v = json_object_get(report, "signal"))) {
                        t.have_status = true;
                        t.signal = (int) json_integer_value(v);
                }
                t.oom_kills = report_u64(report, "oom_kills");
                res.cpu_usec = report_u64(report, "cpu_usec");
                res.memory_peak_bytes = report_u64(report, "memory_peak_bytes");

                v = json_object_get(report, "error");
                if (json_is_string(v) && !e->error &&
                    asprintf(&error, "sandbox set-up failed: %s", json_string_value(v)) < 0)
                        error = NULL;
        } else if (e->phase == EXECUTION_RUNNING && !e->kill_requested && !e->error) {
                /* Not killed by us (that is the one case without a report
                 * that is not an error): something took the supervisor down. */
                int k;
                if (si->si_code == CLD_EXITED)
                        k = asprintf(&error, "the sandbox supervisor exited with status %d without a report",
                                     si->si_status);
                else
                        k = asprintf(&error, "the sandbox supervisor was killed by %s without a report",
                                     signal_to_string(si->si_status) ?: "a signal");
                if (k < 0)
                        error = NULL;
        }
        json_decref(report);
        t.error = e->error ?: error;
        /* Read after the drains above: the cap may have been reached there. */
        t.output_limited = e->output_limited;

        if (e->release_usec > 0)
                res.wall_usec = end_usec - e->release_usec;

        /* Nothing of it may stay: after a kill the scope's own SIGKILL is the
         * outer wall; the stop also ends a scope whose cgroup never got a
         * process (an empty scope would stay active otherwise). */
        if (e->kill_requested)
                (void) scope_kill(e->bus, e->unit, SIGKILL);
        (void) scope_stop(e->bus, e->unit);

        e->phase = EXECUTION_FINISHED;

        for (size_t i = 0; i < ELEMENTSOF(e->streams); i++)
                e->streams[i].source = sd_event_source_disable_unref(e->streams[i].source);
        e->message_source = sd_event_source_disable_unref(e->message_source);

        if (!e->deleted && e->handlers.finished)
                e->handlers.finished(e, &t, &res, truncated, e->userdata);
}

/*
 * Start.
 */

static int memfd_new_sealed(const char *name, const char *data, size_t size) {
        _cleanup_close_ int fd = -1;

        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return negative_errno();

        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, data + done, size - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                done += (size_t) n;
        }

        /* Read-only for good: the payload can read it, never change it. */
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return negative_errno();
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();

        return TAKE_FD(fd);
}

static int fd_nonblock(int fd) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return negative_errno();
        return 0;
}

static int execution_add_io(Execution *e, sd_event_source **ret, int fd, sd_event_io_handler_t handler,
                            void *userdata, int64_t priority, const char *description) {
        int r;

        r = sd_event_add_io(e->event, ret, fd, EPOLLIN, handler, userdata);
        if (r < 0)
                return r;
        (void) sd_event_source_set_priority(*ret, priority);
        (void) sd_event_source_set_description(*ret, description);
        return 0;
}

/* The supervisor's argv: options of sandbox-protocol.h. */
static int supervisor_argv(const ExecSpec *spec, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;
        size_t n = 0;

        argv = calloc(12, sizeof(char *));
        if (!argv)
                return -ENOMEM;

#define ADD(...) ({ if (asprintf(&argv[n++], __VA_ARGS__) < 0) { argv[--n] = NULL; return -ENOMEM; } })
        ADD("%s", "pyexecd-sandbox");
        ADD(SANDBOX_ARG_ID "=%s", spec->id);
        ADD(SANDBOX_ARG_MEMORY_MAX "=%" PRIu64, spec->limits.memory_max);
        ADD(SANDBOX_ARG_CPU_QUOTA "=%" PRIu64, spec->limits.cpu_quota_per_sec_usec);
        ADD(SANDBOX_ARG_TASKS_MAX "=%" PRIu64, spec->limits.tasks_max);
        ADD(SANDBOX_ARG_FILE_SIZE_MAX "=%" PRIu64, spec->limits.file_size_max);
        ADD(SANDBOX_ARG_PYTHON "=%s", spec->python_path);
        ADD(SANDBOX_ARG_RUNNER "=%s", spec->runner_path);
        if (spec->has_execution_count)
                ADD(SANDBOX_ARG_EXECUTION_COUNT "=%" PRIi64, spec->execution_count);
        if (spec->sandbox_disabled)
                ADD(SANDBOX_ARG_SANDBOX "=no");
        else
                ADD(SANDBOX_ARG_UID "=%" PRIu32, (uint32_t) spec->uid);
#undef ADD

        *ret = TAKE_PTR(argv);
        return 0;
}

static int pipe_new(int p[2]) {
        return pipe2(p, O_CLOEXEC) < 0 ? negative_errno() : 0;
}

static void execution_free_resources(Execution *e) {
        e->scope_job = scope_job_free(e->scope_job);
        e->child_source = sd_event_source_disable_unref(e->child_source);
        e->timeout_source = sd_event_source_disable_unref(e->timeout_source);
        e->kill_source = sd_event_source_disable_unref(e->kill_source);
        for (size_t i = 0; i < ELEMENTSOF(e->streams); i++) {
                e->streams[i].source = sd_event_source_disable_unref(e->streams[i].source);
                e->streams[i].fd = safe_close(e->streams[i].fd);
        }
        e->message_source = sd_event_source_disable_unref(e->message_source);
        e->message_fd = safe_close(e->message_fd);
        e->control_fd = safe_close(e->control_fd);
        e->report_fd = safe_close(e->report_fd);
}

static void execution_destroy(Execution *e) {
        execution_free_resources(e);
        output_gate_free(e->output);
        sd_bus_unref(e->bus);
        sd_event_unref(e->event);
        free(e->line);
        free(e->error);
        free(e->unit);
        free(e->id);
        free(e);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Execution *, execution_destroy);

int execution_start(Execution **ret, sd_event *event, sd_bus *bus, const ExecSpec *spec,
                    const ExecutionHandlers *handlers, void *userdata) {
        _cleanup_(execution_destroyp) Execution *e = NULL;
        _cleanup_close_pair_ int out[2] = { -1, -1 }, err[2] = { -1, -1 }, msg[2] = { -1, -1 },
                                 control[2] = { -1, -1 }, report[2] = { -1, -1 };
        _cleanup_close_ int code_fd = -1, stdin_fd = -1;
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *description = NULL;
        int r;

        if (!ret || !event || !bus || !spec || !handlers)
                return -EINVAL;
        if (!spec->id || !exec_id_is_valid(spec->id) || !spec->sandbox_path || !spec->runner_path ||
            !spec->python_path || !spec->slice || (!spec->code && spec->code_size > 0) ||
            (!spec->stdin_data && spec->stdin_size > 0))
                return -EINVAL;
        if (spec->limits.timeout_usec == 0 || spec->limits.memory_max == 0 || spec->limits.tasks_max == 0 ||
            spec->limits.cpu_quota_per_sec_usec == 0 || spec->limits.output_max == 0 ||
            spec->limits.timeout_usec > UINT64_MAX / 2)
                return -EINVAL;
        if (!spec->sandbox_disabled && (spec->uid == 0 || spec->uid == (uid_t) -1))
                return -EINVAL;

        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        *e = (Execution) {
                .event = sd_event_ref(event),
                .bus = sd_bus_ref(bus),
                .limits = spec->limits,
                .handlers = *handlers,
                .userdata = userdata,
                .phase = EXECUTION_STARTING,
                .streams = {
                        { .execution = e, .name = "stdout", .fd = -1 },
                        { .execution = e, .name = "stderr", .fd = -1 },
                },
                .message_fd = -1,
                .control_fd = -1,
                .report_fd = -1,
                .kill_on_output_limit = spec->kill_on_output_limit,
        };
        e->id = strdup(spec->id);
        if (!e->id)
                return -ENOMEM;
        r = output_gate_new(&e->output, event, spec->limits.output_max, on_output_pass, on_output_capped, e);
        if (r < 0)
                return r;
        if (asprintf(&e->unit, "pyexec-%s.scope", spec->id) < 0) {
                e->unit = NULL;
                return -ENOMEM;
        }
        if (asprintf(&description, "pyexecd execution %s", spec->id) < 0) {
                description = NULL;
                return -ENOMEM;
        }

        r = supervisor_argv(spec, &argv);
        if (r < 0)
                return r;

        code_fd = memfd_new_sealed("pyexecd-code", spec->code ?: "", spec->code_size);
        if (code_fd < 0)
                return code_fd;
        stdin_fd = memfd_new_sealed("pyexecd-stdin", spec->stdin_data ?: "", spec->stdin_size);
        if (stdin_fd < 0)
                return stdin_fd;

        if ((r = pipe_new(out)) < 0 || (r = pipe_new(err)) < 0 || (r = pipe_new(msg)) < 0 ||
            (r = pipe_new(control)) < 0 || (r = pipe_new(report)) < 0)
                return r;

        /* Only the daemon's ends are non-blocking: pipe2() gives each end its
         * own open file description. A full stdout pipe blocks the payload,
         * which is what back pressure should do. */
        if ((r = fd_nonblock(out[0])) < 0 || (r = fd_nonblock(err[0])) < 0 || (r = fd_nonblock(msg[0])) < 0 ||
            (r = fd_nonblock(report[0])) < 0 || (r = fd_nonblock(control[1])) < 0)
                return r;

        const int fds[_SANDBOX_FD_MAX] = {
                [SANDBOX_FD_STDIN] = stdin_fd,
                [SANDBOX_FD_STDOUT] = out[1],
                [SANDBOX_FD_STDERR] = err[1],
                [SANDBOX_FD_MESSAGES] = msg[1],
                [SANDBOX_FD_CODE] = code_fd,
                [SANDBOX_FD_CONTROL] = control[0],
                [SANDBOX_FD_REPORT] = report[1],
        };
        r = supervisor_spawn(spec->sandbox_path, argv, fds, &e->pid);
        if (r < 0)
                return log_error_errno(r, "Execution %s: failed to start the supervisor: %m", spec->id);

        e->streams[0].fd = TAKE_FD(out[0]);
        e->streams[1].fd = TAKE_FD(err[0]);
        e->message_fd = TAKE_FD(msg[0]);
        e->control_fd = TAKE_FD(control[1]);
        e->report_fd = TAKE_FD(report[0]);
        /* The child's ends close with the cleanup. */

        /* fd 3 before fd 1/2 (a smaller number runs first). */
        r = execution_add_io(e, &e->message_source, e->message_fd, on_message_io, e, SD_EVENT_PRIORITY_NORMAL,
                             "execution-messages");
        if (r >= 0)
                r = execution_add_io(e, &e->streams[0].source, e->streams[0].fd, on_stream_io, &e->streams[0],
                                     SD_EVENT_PRIORITY_NORMAL + 1, "execution-stdout");
        if (r >= 0)
                r = execution_add_io(e, &e->streams[1].source, e->streams[1].fd, on_stream_io, &e->streams[1],
                                     SD_EVENT_PRIORITY_NORMAL + 1, "execution-stderr");
        if (r >= 0) {
                ScopeParameters p = {
                        .description = description,
                        .slice = spec->slice,
                        .memory_max = spec->limits.memory_max,
                        .cpu_quota_per_sec_usec = spec->limits.cpu_quota_per_sec_usec,
                        .tasks_max = spec->limits.tasks_max,
                        .runtime_max_usec = spec->limits.timeout_usec + EXECUTION_RUNTIME_GRACE_USEC,
                        .pid = e->pid,
                };
                r = scope_job_start(&e->scope_job, bus, e->unit, &p, on_scope_job, e);
        }
        if (r < 0) {
                /* Nothing was asked of PID 1, so no job can take the pid:
                 * reaping it at once is safe. */
                log_error_errno(r, "Execution %s: failed to ask for scope %s: %m", e->id, e->unit);
                (void) kill(e->pid, SIGKILL);
                (void) supervisor_reap_async(event, e->pid);
                return r;
        }

        log_debug("Execution %s: supervisor %d started, waiting for %s.", e->id, (int) e->pid, e->unit);
        *ret = TAKE_PTR(e);
        return 0;
}

Execution *execution_free(Execution *e) {
        if (!e || e->deleted)
                return NULL;

        /* No callback follows, whatever happens next. */
        e->deleted = true;

        switch (e->phase) {
        case EXECUTION_STARTING:
                /* The pid may not be reaped before the job is over: the
                 * ScopeJob takes care of that (and of stopping the unit). */
                (void) kill(e->pid, SIGKILL);
                e->scope_job = scope_job_abandon(e->scope_job, e->pid);
                break;

        case EXECUTION_RUNNING:
        case EXECUTION_ABORTING:
                if (!e->supervisor_exited) {
                        (void) kill(e->pid, SIGKILL);
                        e->child_source = sd_event_source_disable_unref(e->child_source);
                        (void) supervisor_reap_async(e->event, e->pid);
                }
                (void) scope_kill(e->bus, e->unit, SIGKILL);
                (void) scope_stop(e->bus, e->unit);
                break;

        case EXECUTION_FINISHED:
                break;
        }
        e->phase = EXECUTION_FINISHED;

        if (e->n_entered == 0)
                execution_destroy(e);
        return NULL;
}
