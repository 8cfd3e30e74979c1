/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "pyexecctl/pyexecctl.h"
#include "shared/limits.h"
#include "shared/log.h"

static const char *const verb_table[_VERB_MAX] = {
        [VERB_RUN] = "run",
        [VERB_STATUS] = "status",
        [VERB_LIST] = "list",
        [VERB_CANCEL] = "cancel",
        [VERB_QUEUE] = "queue",
        [VERB_HELP] = "help",
};

/* How many positional arguments each verb takes: [min, max]. */
static const int verb_args[_VERB_MAX][2] = {
        [VERB_RUN] = { 0, 1 },
        [VERB_STATUS] = { 1, 1 },
        [VERB_LIST] = { 0, 0 },
        [VERB_CANCEL] = { 1, 1 },
        [VERB_QUEUE] = { 0, 0 },
        [VERB_HELP] = { 0, 0 },
};

const char *verb_to_string(Verb v) {
        if (v < 0 || v >= _VERB_MAX)
                return NULL;
        return verb_table[v];
}

Verb verb_from_string(const char *s) {
        if (!s)
                return _VERB_INVALID;
        for (Verb v = 0; v < _VERB_MAX; v++)
                if (strcmp(verb_table[v], s) == 0)
                        return v;
        return _VERB_INVALID;
}

int exit_status_from_state(ExecState s) {
        switch (s) {
        case EXEC_STATE_SUCCEEDED:
                return PYEXECCTL_EXIT_SUCCESS;
        case EXEC_STATE_FAILED:
                return PYEXECCTL_EXIT_FAILED;
        case EXEC_STATE_TIMEOUT:
                return PYEXECCTL_EXIT_TIMEOUT;
        case EXEC_STATE_OOM:
                return PYEXECCTL_EXIT_OOM;
        case EXEC_STATE_CANCELLED:
                return PYEXECCTL_EXIT_CANCELLED;
        case EXEC_STATE_ERROR:
                return PYEXECCTL_EXIT_ERROR;
        default:
                return PYEXECCTL_EXIT_NOT_RUN;
        }
}

void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Run Python notebook cells through pyexecd and inspect them.\n\n"
               "Commands:\n"
               "  run [FILE|-]             Run a cell and show its outputs as they come\n"
               "  status ID                Show an execution's properties and outputs\n"
               "  list                     List executions (the default command)\n"
               "  cancel ID                Cancel a queued or running execution\n"
               "  queue                    Show the queue's figures\n"
               "  help                     Show this help\n\n"
               "Options:\n"
               "  -h --help                Show this help\n"
               "     --version             Show package version\n"
               "     --no-pager            Do not pipe output into a pager\n"
               "     --no-legend           Do not show the headers and footers\n"
               "     --no-ask-password     Do not ask for authorisation interactively\n"
               "  -q --quiet               Do not show the summary and other notes\n"
               "     --json                Show outputs and results as JSON\n"
               "     --output-dir=DIR      Save images in DIR (default: the current directory)\n\n"
               "Options of run:\n"
               "     --timeout=SEC         Wall-clock limit (e.g. 30, 1.5s, 2min)\n"
               "     --memory-max=BYTES    Memory limit (e.g. 512M)\n"
               "     --cpu-quota=PERCENT   CPU time limit (100%% is one CPU)\n"
               "     --tasks-max=N         Limit of processes and threads\n"
               "     --output-max=BYTES    Limit of the output's size\n"
               "     --stdin=FILE          What input() reads\n"
               "     --cell-id=ID          The notebook's cell id\n"
               "     --notebook-id=ID      The notebook's id\n"
               "     --execution-count=N   The execution count, shown as Out[N]\n\n"
               "Exit status of run: 0 succeeded, 1 failed, 2 timeout, 3 oom, 4 cancelled,\n"
               "5 error; 6 when pyexecctl could not do what was asked (any command).\n\n"
               "See the pyexecctl(1) man page for details.\n",
               program_invocation_short_name);
}

static int parse_size_arg(const char *name, const char *value, uint64_t *ret) {
        uint64_t v;

        if (parse_size(value, &v) < 0 || v == 0)
                return log_error_errno(EINVAL, "Invalid %s: %s (a size in bytes, e.g. 512M)", name, value);
        *ret = v;
        return 0;
}

int parse_argv(int argc, char *argv[], Arguments *ret) {
        enum {
                ARG_VERSION = 0x100,
                ARG_NO_PAGER,
                ARG_NO_LEGEND,
                ARG_NO_ASK_PASSWORD,
                ARG_JSON,
                ARG_OUTPUT_DIR,
                ARG_TIMEOUT,
                ARG_MEMORY_MAX,
                ARG_CPU_QUOTA,
                ARG_TASKS_MAX,
                ARG_OUTPUT_MAX,
                ARG_STDIN,
                ARG_CELL_ID,
                ARG_NOTEBOOK_ID,
                ARG_EXECUTION_COUNT,
        };
        static const struct option options[] = {
                { "help",            no_argument,       NULL, 'h'                 },
                { "version",         no_argument,       NULL, ARG_VERSION         },
                { "no-pager",        no_argument,       NULL, ARG_NO_PAGER        },
                { "no-legend",       no_argument,       NULL, ARG_NO_LEGEND       },
                { "no-ask-password", no_argument,       NULL, ARG_NO_ASK_PASSWORD },
                { "quiet",           no_argument,       NULL, 'q'                 },
                { "json",            no_argument,       NULL, ARG_JSON            },
                { "output-dir",      required_argument, NULL, ARG_OUTPUT_DIR      },
                { "timeout",         required_argument, NULL, ARG_TIMEOUT         },
                { "memory-max",      required_argument, NULL, ARG_MEMORY_MAX      },
                { "cpu-quota",       required_argument, NULL, ARG_CPU_QUOTA       },
                { "tasks-max",       required_argument, NULL, ARG_TASKS_MAX       },
                { "output-max",      required_argument, NULL, ARG_OUTPUT_MAX      },
                { "stdin",           required_argument, NULL, ARG_STDIN           },
                { "cell-id",         required_argument, NULL, ARG_CELL_ID         },
                { "notebook-id",     required_argument, NULL, ARG_NOTEBOOK_ID     },
                { "execution-count", required_argument, NULL, ARG_EXECUTION_COUNT },
                {}
        };
        const char *run_option = NULL;  /* the last run-only option seen, for the error below */
        Arguments a = *ret;
        unsigned u;
        int c, r;

        while ((c = getopt_long(argc, argv, "hq", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("pyexecctl (pyexecd) %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_NO_PAGER:
                        a.pager = false;
                        break;
                case ARG_NO_LEGEND:
                        a.legend = false;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        a.ask_password = false;
                        break;
                case 'q':
                        a.quiet = true;
                        break;
                case ARG_JSON:
                        a.json = true;
                        break;
                case ARG_OUTPUT_DIR:
                        if (!*optarg)
                                return log_error_errno(EINVAL, "--output-dir= needs a directory.");
                        a.output_dir = optarg;
                        break;
                case ARG_TIMEOUT:
                        r = parse_sec(optarg, &a.timeout_usec);
                        if (r < 0 || a.timeout_usec == 0)
                                return log_error_errno(EINVAL, "Invalid --timeout=: %s (seconds, or e.g. 1.5s, 2min)", optarg);
                        run_option = "--timeout=";
                        break;
                case ARG_MEMORY_MAX:
                        r = parse_size_arg("--memory-max=", optarg, &a.memory_max);
                        if (r < 0)
                                return r;
                        run_option = "--memory-max=";
                        break;
                case ARG_CPU_QUOTA:
                        /* "50%" as systemd writes it; a bare "50" means the same. */
                        r = strchr(optarg, '%') ? parse_percent(optarg, &u) : parse_unsigned(optarg, &u);
                        if (r < 0 || u == 0)
                                return log_error_errno(EINVAL, "Invalid --cpu-quota=: %s (a percentage, e.g. 50%%)", optarg);
                        a.cpu_quota_percent = u;
                        run_option = "--cpu-quota=";
                        break;
                case ARG_TASKS_MAX:
                        r = parse_unsigned(optarg, &u);
                        if (r < 0 || u == 0)
                                return log_error_errno(EINVAL, "Invalid --tasks-max=: %s (a positive number)", optarg);
                        a.tasks_max = u;
                        run_option = "--tasks-max=";
                        break;
                case ARG_OUTPUT_MAX:
                        r = parse_size_arg("--output-max=", optarg, &a.output_max);
                        if (r < 0)
                                return r;
                        run_option = "--output-max=";
                        break;
                case ARG_STDIN:
                        if (!*optarg)
                                return log_error_errno(EINVAL, "--stdin= needs a file.");
                        a.stdin_file = optarg;
                        run_option = "--stdin=";
                        break;
                case ARG_CELL_ID:
                        a.cell_id = optarg;
                        run_option = "--cell-id=";
                        break;
                case ARG_NOTEBOOK_ID:
                        a.notebook_id = optarg;
                        run_option = "--notebook-id=";
                        break;
                case ARG_EXECUTION_COUNT:
                        r = parse_unsigned(optarg, &u);
                        if (r < 0 || u > INT32_MAX)
                                return log_error_errno(EINVAL, "Invalid --execution-count=: %s (a number >= 0)", optarg);
                        a.execution_count = u;
                        run_option = "--execution-count=";
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(EINVAL, "Unknown option code %c.", c);
                }
        }

        if (optind < argc) {
                a.verb = verb_from_string(argv[optind]);
                if (a.verb < 0)
                        return log_error_errno(EINVAL, "Unknown command \"%s\"; see %s --help.",
                                               argv[optind], program_invocation_short_name);
                optind++;
        }

        a.args = argv + optind;
        a.n_args = argc - optind;
        if (a.n_args < verb_args[a.verb][0])
                return log_error_errno(EINVAL, "Too few arguments for \"%s\".", verb_to_string(a.verb));
        if (a.n_args > verb_args[a.verb][1])
                return log_error_errno(EINVAL, "Too many arguments for \"%s\".", verb_to_string(a.verb));

        if (run_option && a.verb != VERB_RUN)
                return log_error_errno(EINVAL, "%s applies to \"run\" only.", run_option);

        if (a.verb == VERB_HELP) {
                help();
                return 0;
        }

        *ret = a;
        return 1;
}
