/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/sandbox-protocol.h"
#include "exec/sandbox.h"
#include "shared/macro.h"

static int errorf(int r, char *error, size_t size, const char *format, ...) _printf_(4, 5);
static int errorf(int r, char *error, size_t size, const char *format, ...) {
        va_list ap;
        size_t n;

        va_start(ap, format);
        (void) vsnprintf(error, size, format, ap);
        va_end(ap);

        n = strlen(error);
        (void) snprintf(error + n, size - n, ": %s", strerror(-r));
        return r;
}

int sandbox_enter(const SandboxConfig *c, char *error, size_t error_size) {
        char options[64];

        /* The PID namespace applies to the next child, the init. The mount
         * namespace is the supervisor's too, which is fine: it reads its
         * cgroup through a directory fd opened before this. */
        if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0)
                return errorf(negative_errno(), error, error_size, "unshare(CLONE_NEWPID|CLONE_NEWNS)");

        /* Nothing mounted here may propagate back to the host, whatever the
         * propagation of the mounts copied from it. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return errorf(negative_errno(), error, error_size, "making / rprivate");

        /* The working directory: private, empty, bounded. Its pages are
         * charged to the scope's memory cgroup as well. */
        (void) snprintf(options, sizeof options, "size=%" PRIu64 ",mode=1777",
                        MIN(c->memory_max, SANDBOX_TMP_SIZE_MAX));
        if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, options) < 0)
                return errorf(negative_errno(), error, error_size, "mounting a tmpfs on /tmp");

        if (chdir("/tmp") < 0)
                return errorf(negative_errno(), error, error_size, "chdir(\"/tmp\")");

        return 0;
}

/* Appends a string to the payload's storage; NULL if it does not fit. */
static char *storage_printf(SandboxPayload *p, size_t *used, const char *format, ...) _printf_(3, 4);
static char *storage_printf(SandboxPayload *p, size_t *used, const char *format, ...) {
        char *s = p->storage + *used;
        size_t left = sizeof p->storage - *used;
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(s, left, format, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= left)
                return NULL;

        *used += (size_t) n + 1;
        return s;
}

int sandbox_payload_prepare(const SandboxConfig *c, SandboxPayload *ret) {
        /* Threads of BLAS and friends: as many CPUs as the quota allows. */
        uint64_t cpus = MAX(c->cpu_quota_per_sec_usec / USEC_PER_SEC, UINT64_C(1));
        static const char *const fixed_env[] = {
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "LANG=C.UTF-8",
                "LC_ALL=C.UTF-8",
                "HOME=/tmp",
                "TMPDIR=/tmp",
                "MPLBACKEND=module://pyexecd_inline",
                "MPLCONFIGDIR=/tmp/.config/matplotlib",
        };
        static const char *const thread_vars[] = {
                "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS",
        };
        size_t used = 0, n = 0;

        *ret = (SandboxPayload) {};

        ret->argv[n++] = storage_printf(ret, &used, "%s", c->python);
        ret->argv[n++] = storage_printf(ret, &used, "-I");
        ret->argv[n++] = storage_printf(ret, &used, "-B");
        ret->argv[n++] = storage_printf(ret, &used, "%s", c->runner);
        if (c->has_execution_count) {
                ret->argv[n++] = storage_printf(ret, &used, "--execution-count");
                ret->argv[n++] = storage_printf(ret, &used, "%" PRIi64, c->execution_count);
        }
        for (size_t i = 0; i < n; i++)
                if (!ret->argv[i])
                        return -E2BIG;

        n = 0;
        for (size_t i = 0; i < ELEMENTSOF(fixed_env); i++)
                ret->envp[n++] = (char *) fixed_env[i];
        for (size_t i = 0; i < ELEMENTSOF(thread_vars); i++) {
                ret->envp[n] = storage_printf(ret, &used, "%s=%" PRIu64, thread_vars[i], cpus);
                if (!ret->envp[n++])
                        return -E2BIG;
        }

        return 0;
}

static void record_write(int fd, SandboxRecordType type, int value, const char *format, ...) _printf_(4, 5);
static void record_write(int fd, SandboxRecordType type, int value, const char *format, ...) {
        SandboxRecord rec = { .type = type, .value = value };
        va_list ap;

        if (format) {
                va_start(ap, format);
                (void) vsnprintf(rec.text, sizeof rec.text, format, ap);
                va_end(ap);
        }
        (void) !write(fd, &rec, sizeof rec);
}

static void reset_signals(void) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;

        (void) sigaction(SIGTERM, &dfl, NULL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The payload's own set-up, after the init forked it; never returns. */
static _noreturn_ void sandbox_payload_exec(const SandboxConfig *c, const SandboxPayload *p, int record_fd) {
        struct rlimit core = { 0, 0 };
        rlim_t fsize_max = c->file_size_max > 0 ? (rlim_t) c->file_size_max : RLIM_INFINITY;
        struct rlimit fsize = { fsize_max, fsize_max };

        /* Its own session and process group: no controlling terminal to
         * reach, and nothing of it shares the init's group. */
        if (setsid() < 0)
                goto fail;

        /* No core files (a crash would write one wherever core_pattern says),
         * and no file bigger than FileSizeMax. */
        if (setrlimit(RLIMIT_CORE, &core) < 0 || setrlimit(RLIMIT_FSIZE, &fsize) < 0)
                goto fail;

        reset_signals();

        /* Only fds 0–4 reach Python; the record pipe stays open until execve()
         * for the error below. */
        if (close_range(_SANDBOX_FD_MAX, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                goto fail;

        execve(p->argv[0], p->argv, p->envp);

fail:
        record_write(record_fd, SANDBOX_RECORD_ERROR, errno, "could not start %s: %s", p->argv[0], strerror(errno));
        _exit(127);
}

_Noreturn void sandbox_init_run(const SandboxConfig *c, const SandboxPayload *p, int record_fd, int supervisor_pidfd,
                                int oom_score_adj) {
        struct pollfd pfd = { .fd = supervisor_pidfd, .events = POLLIN };
        char adj[16];
        pid_t payload;
        int fd, n;

        /* getppid() is 0 here (the parent is outside the namespace), so the
         * check that the supervisor did not die before PR_SET_PDEATHSIG took
         * effect polls its pidfd instead. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                _exit(EXIT_FAILURE);
        if (poll(&pfd, 1, 0) != 0)
                _exit(EXIT_FAILURE);
        (void) close(supervisor_pidfd);

        /* Above the supervisor's: the OOM killer may and should choose the
         * payload (and whatever it starts), never the supervisor. */
        n = snprintf(adj, sizeof adj, "%d", oom_score_adj);
        fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, adj, (size_t) n) != n) {
                record_write(record_fd, SANDBOX_RECORD_ERROR, errno, "could not reset oom_score_adj: %s", strerror(errno));
                _exit(EXIT_FAILURE);
        }
        (void) close(fd);

        /* The control and report pipes are the supervisor's alone. */
        (void) close(SANDBOX_FD_CONTROL);
        (void) close(SANDBOX_FD_REPORT);

        reset_signals();

        payload = fork();
        if (payload < 0) {
                record_write(record_fd, SANDBOX_RECORD_ERROR, errno, "could not fork the payload: %s", strerror(errno));
                _exit(EXIT_FAILURE);
        }
        if (payload == 0)
                sandbox_payload_exec(c, p, record_fd);

        /* The payload's pipes are the payload's: the daemon sees EOF once it
         * (and what it started) closed them. */
        for (int i = 0; i < SANDBOX_FD_CONTROL; i++)
                (void) close(i);

        /* PID 1 of the namespace: everything orphaned inside lands here. */
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);

                if (pid < 0) {
                        if (errno == EINTR)
                                continue;
                        /* ECHILD cannot happen before the payload was reaped. */
                        record_write(record_fd, SANDBOX_RECORD_ERROR, errno, "waitpid() failed in the sandbox init: %s",
                                     strerror(errno));
                        _exit(EXIT_FAILURE);
                }

                if (pid == payload) {
                        record_write(record_fd, SANDBOX_RECORD_STATUS, status, NULL);
                        /* Exiting kills everything left in the namespace. */
                        _exit(EXIT_SUCCESS);
                }
        }
}
