/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * pyexecd-sandbox: the supervisor of one execution (DESIGN.md "One
 * execution", step 3). The daemon starts it with the fds of
 * sandbox-protocol.h and puts it into the execution's scope. While PID 1
 * creates the scope, it prepares what does not need the scope (sandbox.c:
 * sandbox_prepare()); then it waits for the "go" byte, runs the payload as
 * the child of the sandbox's PID-namespace init, waits for that init, reads
 * its own scope's memory counters while the cgroup still exists, and writes
 * one JSON report line on fd 6.
 *
 * fd 1 and 2 belong to the user's output: nothing of the supervisor's own
 * goes there. Its diagnostics travel in the report's "error".
 *
 * SIGTERM (the daemon's timeout or cancel) means: SIGKILL the init (or never
 * start it), then report as usual.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/cgroup-stats.h"
#include "exec/sandbox-protocol.h"
#include "exec/sandbox.h"
#include "shared/macro.h"

/* Set from the SIGTERM handler. */
static volatile sig_atomic_t arg_terminate = 0;
static volatile pid_t init_pid = 0;

static void on_sigterm(int sig) {
        arg_terminate = 1;
        /* kill() is async-signal-safe; the fork below blocks SIGTERM until
         * init_pid is set, so a SIGTERM is never lost between the two. */
        if (init_pid > 0)
                (void) kill(init_pid, SIGKILL);
}

typedef struct Report {
        bool have_status;
        int status;             /* raw wait status of the payload */
        bool have_signal;       /* no status, but the init died of this signal */
        int signal;
        uint64_t cpu_usec;
        uint64_t memory_peak_bytes;
        uint64_t oom_kills;
        char error[512];
} Report;

static void report_error(Report *r, const char *format, ...) _printf_(2, 3);
static void report_error(Report *r, const char *format, ...) {
        size_t n = strlen(r->error);
        va_list ap;

        /* Keep the first error; append later ones. */
        if (n > 0 && n + 2 < sizeof r->error) {
                memcpy(r->error + n, "; ", 3);
                n += 2;
        }
        va_start(ap, format);
        (void) vsnprintf(r->error + n, sizeof r->error - n, format, ap);
        va_end(ap);
}

static int report_write(const Report *r) {
        _cleanup_free_ char *text = NULL;
        json_t *o;
        size_t n;

        o = json_object();
        if (!o)
                return -ENOMEM;

        if (r->have_status) {
                if (WIFEXITED(r->status))
                        json_object_set_new(o, "exit_code", json_integer(WEXITSTATUS(r->status)));
                else if (WIFSIGNALED(r->status))
                        json_object_set_new(o, "signal", json_integer(WTERMSIG(r->status)));
        } else if (r->have_signal)
                json_object_set_new(o, "signal", json_integer(r->signal));

        json_object_set_new(o, "cpu_usec", json_integer((json_int_t) r->cpu_usec));
        json_object_set_new(o, "memory_peak_bytes", json_integer((json_int_t) r->memory_peak_bytes));
        json_object_set_new(o, "oom_kills", json_integer((json_int_t) r->oom_kills));
        if (r->error[0])
                json_object_set_new(o, "error", json_string(r->error));

        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!text)
                return -ENOMEM;

        n = strlen(text);
        text[n] = '\n';         /* in place of the NUL: the line is the n + 1 bytes */
        for (size_t done = 0; done < n + 1;) {
                ssize_t k = write(SANDBOX_FD_REPORT, text + done, n + 1 - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                done += (size_t) k;
        }
        return 0;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;

        if (!s || !*s || *s == '-')
                return -EINVAL;
        errno = 0;
        *ret = strtoull(s, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        return 0;
}

static int parse_argv(int argc, char *argv[], SandboxConfig *c) {
        bool have_uid = false;
        enum {
                ARG_ID = 0x100,
                ARG_MEMORY_MAX,
                ARG_CPU_QUOTA,
                ARG_TASKS_MAX,
                ARG_FILE_SIZE_MAX,
                ARG_PYTHON,
                ARG_RUNNER,
                ARG_EXECUTION_COUNT,
                ARG_SANDBOX,
                ARG_UID,
        };
        /* The names of sandbox-protocol.h without their leading "--". */
        static const struct option options[] = {
                { SANDBOX_ARG_ID + 2,              required_argument, NULL, ARG_ID              },
                { SANDBOX_ARG_MEMORY_MAX + 2,      required_argument, NULL, ARG_MEMORY_MAX      },
                { SANDBOX_ARG_CPU_QUOTA + 2,       required_argument, NULL, ARG_CPU_QUOTA       },
                { SANDBOX_ARG_TASKS_MAX + 2,       required_argument, NULL, ARG_TASKS_MAX       },
                { SANDBOX_ARG_FILE_SIZE_MAX + 2,   required_argument, NULL, ARG_FILE_SIZE_MAX   },
                { SANDBOX_ARG_PYTHON + 2,          required_argument, NULL, ARG_PYTHON          },
                { SANDBOX_ARG_RUNNER + 2,          required_argument, NULL, ARG_RUNNER          },
                { SANDBOX_ARG_EXECUTION_COUNT + 2, required_argument, NULL, ARG_EXECUTION_COUNT },
                { SANDBOX_ARG_SANDBOX + 2,         required_argument, NULL, ARG_SANDBOX         },
                { SANDBOX_ARG_UID + 2,             required_argument, NULL, ARG_UID             },
                {}
        };
        uint64_t u;
        int opt;

        *c = (SandboxConfig) { .enabled = true };

        /* getopt's own messages would go to fd 2, the user's stderr. */
        opterr = 0;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (opt) {
                case ARG_ID:
                        c->id = optarg;
                        break;
                case ARG_MEMORY_MAX:
                        if (parse_u64(optarg, &c->memory_max) < 0 || c->memory_max == 0)
                                return -EINVAL;
                        break;
                case ARG_CPU_QUOTA:
                        if (parse_u64(optarg, &c->cpu_quota_per_sec_usec) < 0)
                                return -EINVAL;
                        break;
                case ARG_TASKS_MAX:
                        if (parse_u64(optarg, &c->tasks_max) < 0)
                                return -EINVAL;
                        break;
                case ARG_FILE_SIZE_MAX:
                        if (parse_u64(optarg, &c->file_size_max) < 0)
                                return -EINVAL;
                        break;
                case ARG_PYTHON:
                        c->python = optarg;
                        break;
                case ARG_RUNNER:
                        c->runner = optarg;
                        break;
                case ARG_EXECUTION_COUNT:
                        if (parse_u64(optarg, &u) < 0 || u > INT64_MAX)
                                return -EINVAL;
                        c->has_execution_count = true;
                        c->execution_count = (int64_t) u;
                        break;
                case ARG_SANDBOX:
                        if (strcmp(optarg, "yes") == 0)
                                c->enabled = true;
                        else if (strcmp(optarg, "no") == 0)
                                c->enabled = false;
                        else
                                return -EINVAL;
                        break;
                case ARG_UID:
                        /* Never root, never (uid_t) -1. */
                        if (parse_u64(optarg, &u) < 0 || u == 0 || u >= UINT32_MAX)
                                return -EINVAL;
                        c->uid = (uid_t) u;
                        have_uid = true;
                        break;
                default:
                        return -EINVAL;
                }
        }

        if (optind != argc || !c->id || !c->python || !c->runner || c->memory_max == 0)
                return -EINVAL;
        /* The sandbox's uid is the daemon's choice: no default. */
        if (c->enabled && !have_uid)
                return -EINVAL;
        return 0;
}

/* Blocks until the daemon says go (1) or gives up (0, EOF), or SIGTERM (0). */
static int wait_for_go(void) {
        for (;;) {
                char c;
                ssize_t n = read(SANDBOX_FD_CONTROL, &c, 1);
                if (n == 1)
                        return 1;
                if (n == 0)
                        return 0;
                if (errno != EINTR)
                        return negative_errno();
                if (arg_terminate)
                        return 0;
        }
}

static int write_oom_score_adj(const char *value) {
        _cleanup_close_ int fd = -1;
        size_t n = strlen(value);

        fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (write(fd, value, n) != (ssize_t) n)
                return negative_errno();
        return 0;
}

/* Forks the init with SIGTERM held back until init_pid is set. Returns the
 * pid, 0 when SIGTERM came first (nothing started), or a negative errno. */
static pid_t fork_init(const SandboxConfig *c, const SandboxPayload *p, int record_fd, const int start_fds[2],
                       int oom_score_adj) {
        sigset_t term, saved;
        pid_t pid;

        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &term, &saved) < 0)
                return negative_errno();

        if (arg_terminate)
                pid = 0;
        else {
                pid = fork();
                if (pid == 0)
                        sandbox_init_run(c, p, record_fd, start_fds, oom_score_adj);
                if (pid > 0)
                        init_pid = pid;
                else
                        pid = negative_errno();
        }

        (void) sigprocmask(SIG_SETMASK, &saved, NULL);
        return pid;
}

static void read_records(int fd, Report *report) {
        SandboxRecord rec;

        /* Every writer is gone (the namespace died with the init), so this
         * ends in EOF; the fd is non-blocking against surprises. */
        while (read(fd, &rec, sizeof rec) == (ssize_t) sizeof rec) {
                rec.text[sizeof rec.text - 1] = 0;
                switch (rec.type) {
                case SANDBOX_RECORD_STATUS:
                        report->have_status = true;
                        report->status = rec.value;
                        break;
                case SANDBOX_RECORD_ERROR:
                        report_error(report, "%s", rec.text);
                        break;
                }
        }
}

/* Never the OOM killer's choice: the supervisor must live to report (the
 * init sets its own back, the payload inherits that). Returns the init's
 * oom_score_adj, or a negative errno. */
static int protect_from_oom_killer(void) {
        int r;

        /* Lowering needs CAP_SYS_RESOURCE; without it, the sandbox is put
         * above the supervisor instead: raising is always allowed. */
        r = write_oom_score_adj("-1000");
        if (r >= 0)
                return 0;
        if (r == -EACCES || r == -EPERM)
                return 1000;
        return r;
}

/* After the release: in the scope, with its limits. */
static void run(const SandboxConfig *c, const SandboxPayload *payload, int sandbox_oom_score_adj, Report *report) {
        _cleanup_(cgroup_memory_close) CgroupMemory memory = CGROUP_MEMORY_NULL;
        _cleanup_close_pair_ int records[2] = { -1, -1 }, start[2] = { -1, -1 };
        uint64_t oom_kills_before = 0, oom_kills_after = 0;
        struct rusage ru = {};
        static const char go = 1;
        pid_t pid;
        int r, status;

        /* The start channel is a socket for MSG_NOSIGNAL: the init may be
         * gone when it is written to, and SIGPIPE would kill the supervisor
         * before its report. It never reaches the payload (the init closes
         * it before the fork). */
        if (pipe2(records, O_CLOEXEC) < 0 || fcntl(records[0], F_SETFL, O_NONBLOCK) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, start) < 0) {
                report_error(report, "creating the sandbox's pipes: %m");
                return;
        }

        pid = fork_init(c, payload, records[1], start, sandbox_oom_score_adj);
        if (pid < 0) {
                report_error(report, "forking the sandbox init: %s", strerror(-pid));
                return;
        }
        if (pid == 0)
                return;

        /* The payload's fds are the payload's now: the daemon sees EOF when
         * it is done with them. */
        for (int i = 0; i < SANDBOX_FD_CONTROL; i++)
                (void) close(i);
        records[1] = safe_close(records[1]);
        start[0] = safe_close(start[0]);

        /* While the init builds the sandbox: find the scope's memory cgroup
         * (the supervisor keeps the host's mounts), and note the counter to
         * report its growth. Without it an OOM kill would pass for a plain
         * SIGKILL: then the init is not told to start, and exits at EOF. */
        r = cgroup_memory_open(&memory);
        if (r < 0)
                report_error(report, "no memory cgroup found: %s", strerror(-r));
        else {
                (void) cgroup_memory_read(&memory, NULL, &oom_kills_before);
                /* (If the init is gone already, its records say why.) */
                (void) send(start[1], &go, 1, MSG_NOSIGNAL);
        }
        start[1] = safe_close(start[1]);

        while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR) {
                        report_error(report, "wait4(): %m");
                        return;
                }

        /* The init's rusage holds every process it reaped: the payload and
         * whatever ran in the namespace. */
        report->cpu_usec = (uint64_t) ru.ru_utime.tv_sec * USEC_PER_SEC + (uint64_t) ru.ru_utime.tv_usec +
                           (uint64_t) ru.ru_stime.tv_sec * USEC_PER_SEC + (uint64_t) ru.ru_stime.tv_usec;

        read_records(records[0], report);

        /* No status from the init: it was killed (by us at SIGTERM, or by
         * the OOM killer, or by a KillUnit) before the payload ended. */
        if (!report->have_status) {
                if (WIFSIGNALED(status)) {
                        report->have_signal = true;
                        report->signal = WTERMSIG(status);
                } else if (!report->error[0])
                        report_error(report, "the sandbox init exited with status %d without the payload's status",
                                     WEXITSTATUS(status));
        }

        if (memory.dir_fd < 0)
                return;
        r = cgroup_memory_read(&memory, &report->memory_peak_bytes, &oom_kills_after);
        if (r < 0)
                report_error(report, "reading the memory cgroup: %s", strerror(-r));
        else if (oom_kills_after > oom_kills_before)
                report->oom_kills = oom_kills_after - oom_kills_before;
}

int main(int argc, char *argv[]) {
        struct sigaction sa = { .sa_handler = on_sigterm };     /* no SA_RESTART: wake up blocking calls */
        SandboxConfig config;
        SandboxPayload payload = {};
        Report report = {};
        char error[256] = "";
        int r, sandbox_oom_score_adj;
        bool prepared = false;

        /* The forked child set PR_SET_PDEATHSIG and checked getppid() before
         * execve(), where it is race-free; it survives execve(). */

        if (sigaction(SIGTERM, &sa, NULL) < 0)
                return EXIT_FAILURE;

        if (parse_argv(argc, argv, &config) < 0) {
                report_error(&report, "invalid arguments for pyexecd-sandbox");
                (void) report_write(&report);
                return EXIT_FAILURE;
        }

        /* Before the release, while PID 1 creates the scope: everything that
         * does not need the scope. A failure is reported after the release,
         * as the daemon expects the supervisor to wait for it. */
        sandbox_oom_score_adj = protect_from_oom_killer();
        if (sandbox_oom_score_adj < 0)
                report_error(&report, "setting oom_score_adj: %s", strerror(-sandbox_oom_score_adj));
        else {
                r = sandbox_prepare(&config, &payload, error, sizeof error);
                if (r < 0)
                        report_error(&report, "setting up the sandbox: %s", error);
                else
                        prepared = true;
        }

        r = wait_for_go();
        if (r == 0 && !arg_terminate) {
                /* The daemon gave up on this execution before releasing it. */
                sandbox_leave(&config);
                sandbox_payload_done(&payload);
                return EXIT_SUCCESS;
        }
        if (r < 0)
                report_error(&report, "reading the control pipe: %s", strerror(-r));
        (void) close(SANDBOX_FD_CONTROL);

        if (r > 0 && prepared)
                run(&config, &payload, sandbox_oom_score_adj, &report);
        sandbox_leave(&config);
        sandbox_payload_done(&payload);

        if (report_write(&report) < 0)
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}
