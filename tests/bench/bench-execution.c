/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * bench-execution: the executor alone, without HTTP, Redis or the queue.
 * Runs a print(1) cell N times through execution_start(), as the daemon
 * does (inside a testbed: tests/bench/run-execution-latency), with the
 * sandbox on and off, and prints the median and 90th percentile of
 *
 *   start → release   execution_start() until the supervisor is released:
 *                     its spawn, StartTransientUnit and the scope job
 *                     (JobRemoved), i.e. mostly PID 1's work;
 *   release → end     the sandbox's set-up after the release, Python, the
 *                     teardown and the supervisor's report;
 *   total             the two together,
 *
 * in milliseconds. The supervisor prepares what it can while the scope job
 * runs, so its own start-up shows in "start → release" only when it takes
 * longer than the job.
 *
 * Options: -n N (measured runs per variant, default 50), --warmup N
 * (default 5), --pause-ms MS (idle time between runs, default 0).
 * Environment: PYEXECD_SANDBOX (the built pyexecd-sandbox) and
 * PYEXECD_RUNNER (the installed pyexecd_runner.py).
 *
 * A benchmark, not a test: it fails only when a run does not print "1\n"
 * and succeed, never because of a time.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec/execution.h"
#include "shared/config.h"
#include "shared/exec-id.h"
#include "shared/exec-state.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/time-util.h"

#define MIB (UINT64_C(1024) * 1024)

typedef struct Run {
        uint64_t start_usec, release_usec, end_usec;
        char output[64];
        size_t output_size;
        bool finished;
        ExecState state;
        char error[256];
} Run;

static void on_started(Execution *e, void *userdata) {
        Run *r = userdata;

        r->release_usec = now_usec(CLOCK_MONOTONIC);
}

static void on_event(Execution *e, const char *type, json_t *data, void *userdata) {
        Run *r = userdata;
        json_t *name = json_object_get(data, "name"), *text = json_object_get(data, "text");
        size_t n;

        if (!json_is_string(name) || strcmp(json_string_value(name), "stdout") != 0 || !json_is_string(text))
                return;
        n = strlen(json_string_value(text));
        if (r->output_size + n < sizeof r->output) {
                memcpy(r->output + r->output_size, json_string_value(text), n + 1);
                r->output_size += n;
        }
}

static void on_finished(Execution *e, const ExecTermination *t, const ExecResources *res, bool truncated,
                        void *userdata) {
        Run *r = userdata;

        r->end_usec = now_usec(CLOCK_MONOTONIC);
        r->finished = true;
        r->state = exec_state_from_termination(t);
        if (t->error)
                (void) snprintf(r->error, sizeof r->error, "%s", t->error);
}

static const ExecutionHandlers handlers = {
        .started = on_started,
        .event = on_event,
        .finished = on_finished,
};

static int run_one(sd_event *event, sd_bus *bus, bool sandbox, uid_t uid, Run *ret) {
        static const char code[] = "print(1)";
        char id[EXEC_ID_LEN + 1];
        Execution *e = NULL;
        ExecSpec spec;
        uint64_t deadline;
        int r;

        *ret = (Run) {};

        r = exec_id_new(id);
        if (r < 0)
                return log_error_errno(r, "exec_id_new(): %m");

        spec = (ExecSpec) {
                .id = id,
                .code = code,
                .code_size = strlen(code),
                .limits = {
                        .timeout_usec = 30 * USEC_PER_SEC,
                        .memory_max = 512 * MIB,
                        .cpu_quota_per_sec_usec = USEC_PER_SEC,
                        .tasks_max = 64,
                        .output_max = 1 * MIB,
                        .file_size_max = 16 * MIB,
                },
                .sandbox_path = getenv("PYEXECD_SANDBOX"),
                .runner_path = getenv("PYEXECD_RUNNER"),
                .python_path = "/usr/bin/python3",
                .slice = "pyexec.slice",
                .sandbox_disabled = !sandbox,
                .uid = uid,
        };

        ret->start_usec = now_usec(CLOCK_MONOTONIC);
        r = execution_start(&e, event, bus, &spec, &handlers, ret);
        if (r < 0)
                return log_error_errno(r, "execution_start(): %m");

        deadline = ret->start_usec + 60 * USEC_PER_SEC;
        while (!ret->finished) {
                if (now_usec(CLOCK_MONOTONIC) > deadline) {
                        execution_free(e);
                        return log_error_errno(-ETIMEDOUT, "execution %s did not finish", id);
                }
                r = sd_event_run(event, USEC_PER_SEC);
                if (r < 0) {
                        execution_free(e);
                        return log_error_errno(r, "sd_event_run(): %m");
                }
        }
        execution_free(e);

        if (ret->state != EXEC_STATE_SUCCEEDED || strcmp(ret->output, "1\n") != 0 || ret->release_usec == 0)
                return log_error_errno(-EBADMSG, "execution %s: state %d, output \"%s\", error \"%s\"", id,
                                       (int) ret->state, ret->output, ret->error);
        return 0;
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* The value at @p percent of the sorted @v (nearest rank). */
static double percentile_ms(uint64_t *v, size_t n, unsigned p) {
        size_t k;

        qsort(v, n, sizeof *v, compare_u64);
        k = (n * p + 99) / 100;
        k = k == 0 ? 0 : k - 1;
        return (double) v[MIN(k, n - 1)] / 1000.0;
}

static int run_variant(sd_event *event, sd_bus *bus, bool sandbox, unsigned n, unsigned warmup, unsigned pause_ms,
                       uid_t *uid) {
        _cleanup_free_ uint64_t *start_release = NULL, *release_end = NULL, *total = NULL;
        const struct timespec pause = { .tv_sec = pause_ms / 1000, .tv_nsec = (long) (pause_ms % 1000) * 1000000L };
        static const char *const names[] = { "start -> release", "release -> end", "total" };
        uint64_t *columns[3];
        int r;

        start_release = calloc(n, sizeof(uint64_t));
        release_end = calloc(n, sizeof(uint64_t));
        total = calloc(n, sizeof(uint64_t));
        if (!start_release || !release_end || !total)
                return log_oom();

        for (unsigned i = 0; i < warmup + n; i++) {
                Run run;

                /* A uid of its own per execution: no scope of an earlier one
                 * may still hold it. */
                r = run_one(event, bus, sandbox, (*uid)++, &run);
                if (r < 0)
                        return r;
                if (i >= warmup) {
                        start_release[i - warmup] = run.release_usec - run.start_usec;
                        release_end[i - warmup] = run.end_usec - run.release_usec;
                        total[i - warmup] = run.end_usec - run.start_usec;
                }
                if (pause_ms > 0)
                        (void) nanosleep(&pause, NULL);
        }

        columns[0] = start_release;
        columns[1] = release_end;
        columns[2] = total;
        printf("sandbox %s:\n", sandbox ? "on" : "off");
        for (size_t c = 0; c < ELEMENTSOF(columns); c++) {
                double median = percentile_ms(columns[c], n, 50), p90 = percentile_ms(columns[c], n, 90);
                printf("  %-20s %8.2f %8.2f\n", names[c], median, p90);
        }
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_WARMUP = 0x100, ARG_PAUSE };
        static const struct option options[] = {
                { "warmup",   required_argument, NULL, ARG_WARMUP },
                { "pause-ms", required_argument, NULL, ARG_PAUSE  },
                {}
        };
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        unsigned n = 50, warmup = 5, pause_ms = 0;
        uid_t uid;
        sigset_t mask;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "n:", options, NULL)) >= 0)
                switch (opt) {
                case 'n':
                        n = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case ARG_WARMUP:
                        warmup = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case ARG_PAUSE:
                        pause_ms = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                default:
                        fprintf(stderr, "usage: %s [-n N] [--warmup N] [--pause-ms MS]\n", argv[0]);
                        return EXIT_FAILURE;
                }
        if (n == 0 || !getenv("PYEXECD_SANDBOX") || !getenv("PYEXECD_RUNNER")) {
                fprintf(stderr, "%s: needs -n > 0, PYEXECD_SANDBOX and PYEXECD_RUNNER\n", argv[0]);
                return EXIT_FAILURE;
        }

        /* As the daemon: SIGCHLD blocked for sd-event, SIGPIPE ignored. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return EXIT_FAILURE;
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_new(&event);
        if (r >= 0)
                r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the loop and the system bus: %m");
                return EXIT_FAILURE;
        }

        /* From the default range, away from where a daemon in the same
         * testbed would start, different per process. */
        uid = CONFIG_UID_RANGE_FIRST_DEFAULT + 49152 + (uid_t) (getpid() % 64) * 256;

        printf("print(1) through execution_start(), %u runs each after %u warm-up runs, %u ms apart (ms):\n", n,
               warmup, pause_ms);
        printf("  %-20s %8s %8s\n", "", "median", "p90");
        if (run_variant(event, bus, true, n, warmup, pause_ms, &uid) < 0 ||
            run_variant(event, bus, false, n, warmup, pause_ms, &uid) < 0)
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}
