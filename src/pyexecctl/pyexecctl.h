/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * pyexecctl: the command line, its verbs and its exit status.
 *
 * Exit status (pyexecctl(1), "EXIT STATUS"). Every code has one meaning
 * for every verb, so that scripts can tell a cell's failure from the
 * tool's own:
 *   0  success; run: the execution succeeded
 *   1  run: the execution failed (uncaught exception, non-zero exit)
 *   2  run: timeout        3  run: oom        4  run: cancelled
 *   5  run: error (the service could not run it)
 *   6  pyexecctl could not do what was asked: invalid arguments, an
 *      unreadable file, no bus, no service, access denied, no such
 *      execution, … (systemd's tools say EXIT_FAILURE here; 1 is taken)
 *   130 run: a second Ctrl-C left before the execution's end was known
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/exec-state.h"

enum {
        PYEXECCTL_EXIT_SUCCESS = 0,
        PYEXECCTL_EXIT_FAILED = 1,
        PYEXECCTL_EXIT_TIMEOUT = 2,
        PYEXECCTL_EXIT_OOM = 3,
        PYEXECCTL_EXIT_CANCELLED = 4,
        PYEXECCTL_EXIT_ERROR = 5,
        PYEXECCTL_EXIT_NOT_RUN = 6,
        PYEXECCTL_EXIT_INTERRUPTED = 130,
};

/* The exit status for a terminal state; PYEXECCTL_EXIT_NOT_RUN for the others. */
int exit_status_from_state(ExecState s);

typedef enum Verb {
        VERB_RUN,
        VERB_STATUS,
        VERB_LIST,
        VERB_CANCEL,
        VERB_QUEUE,
        VERB_HELP,
        _VERB_MAX,
        _VERB_INVALID = -EINVAL,
} Verb;

const char *verb_to_string(Verb v);
Verb verb_from_string(const char *s);

/* The parsed command line. Strings point into argv (not owned). */
typedef struct Arguments {
        Verb verb;
        char **args;                    /* the verb's positional arguments (into argv) */
        int n_args;

        bool json;
        bool quiet;
        bool pager;
        bool legend;
        bool ask_password;
        const char *output_dir;         /* NULL: the current directory */

        /* run only; 0 / NULL / -1: not given (the service's default) */
        uint64_t timeout_usec;
        uint64_t memory_max;
        unsigned cpu_quota_percent;
        uint64_t tasks_max;
        uint64_t output_max;
        const char *stdin_file;
        const char *cell_id;
        const char *notebook_id;
        int64_t execution_count;
} Arguments;

#define ARGUMENTS_INIT                          \
        (Arguments) {                           \
                .verb = VERB_LIST,              \
                .pager = true,                  \
                .legend = true,                 \
                .ask_password = true,           \
                .execution_count = -1,          \
        }

/*
 * Parses the command line into @ret (which starts as ARGUMENTS_INIT).
 * Returns 1 when a verb is to run, 0 when --help or --version was handled
 * (printed to stdout), or -EINVAL after logging what is wrong. Uses
 * getopt_long(): callers that parse twice reset optind to 0 first.
 */
int parse_argv(int argc, char *argv[], Arguments *ret);

/* Prints the --help text to stdout. */
void help(void);

/* The verbs: each returns an exit status (see above), having logged why
 * when it is not 0. */
int verb_run(const Arguments *a);
int verb_status(const Arguments *a);
int verb_list(const Arguments *a);
int verb_cancel(const Arguments *a);
int verb_queue(const Arguments *a);
