/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "exec/spawn.h"
#include "shared/log.h"
#include "shared/macro.h"

static _noreturn_ void child_fail(void) {
        /* The supervisor never ran: say so on the report pipe, the only
         * channel the daemon reads for this, with a fixed string (no
         * allocation here). */
        (void) !write(SANDBOX_FD_REPORT, SANDBOX_REPORT_EXEC_FAILED, sizeof(SANDBOX_REPORT_EXEC_FAILED) - 1);
        _exit(127);
}

typedef struct SpawnArgs {
        pid_t parent;
        const char *path;
        char *const *argv;
        const int *fds;
} SpawnArgs;

/* The child's stack: it needs a few hundred bytes (no allocation, no stdio). */
#define CHILD_STACK_SIZE (16U * 1024U)

/* Runs in the child, which shares the daemon's memory until its execve()
 * (CLONE_VM | CLONE_VFORK, as posix_spawn() does): async-signal-safe system
 * calls only, nothing written but its own stack (and the calling thread's
 * errno, which nobody reads after a successful spawn). The parent is
 * suspended meanwhile and every signal is blocked, so no handler of the
 * daemon's can run here either. */
static int child_exec(void *userdata) {
        static char *const empty_env[] = { NULL };
        const SpawnArgs *a = userdata;
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;

        /* Dies with the daemon, and not after the daemon died already. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != a->parent)
                _exit(EXIT_FAILURE);

        /* The daemon blocks SIGCHLD (sd-event) and ignores SIGPIPE; ignored
         * dispositions and the mask survive execve(), so reset them all
         * (the child has its own copy of the dispositions: no CLONE_SIGHAND),
         * then unblock everything. */
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        /* Every source fd is above _SANDBOX_FD_MAX (supervisor_spawn() moved
         * them), so no dup2() overwrites a source still needed. dup2()
         * clears O_CLOEXEC on the copy. */
        for (int i = 0; i < _SANDBOX_FD_MAX; i++)
                if (dup2(a->fds[i], i) < 0)
                        _exit(EXIT_FAILURE);
        if (close_range(_SANDBOX_FD_MAX, ~0U, 0) < 0)
                child_fail();

        execve(a->path, a->argv, empty_env);
        child_fail();
}

int supervisor_spawn(const char *path, char *const argv[], const int fds[static _SANDBOX_FD_MAX], pid_t *ret_pid) {
        /* Aligned for any ABI; the parent's own frames are elsewhere. */
        _Alignas(64) char stack[CHILD_STACK_SIZE];
        int moved[_SANDBOX_FD_MAX];
        sigset_t all, saved;
        SpawnArgs args;
        pid_t pid;
        int r = 0, saved_errno;

        if (!path || !argv || !ret_pid)
                return -EINVAL;

        for (int i = 0; i < _SANDBOX_FD_MAX; i++)
                moved[i] = -1;
        for (int i = 0; i < _SANDBOX_FD_MAX; i++) {
                if (fds[i] < 0) {
                        r = -EBADF;
                        goto finish;
                }
                moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, _SANDBOX_FD_MAX);
                if (moved[i] < 0) {
                        r = negative_errno();
                        goto finish;
                }
        }

        args = (SpawnArgs) {
                .parent = getpid(),
                .path = path,
                .argv = argv,
                .fds = moved,
        };

        /* Not fork(): copying the daemon's page tables and tearing the copy
         * down again at execve() took the better part of a millisecond of
         * the execution's start. With CLONE_VM | CLONE_VFORK the child
         * borrows the daemon's memory and the daemon waits until the
         * child's execve() released it (or the child exited). */
        sigfillset(&all);
        if (sigprocmask(SIG_SETMASK, &all, &saved) < 0) {
                r = negative_errno();
                goto finish;
        }
        pid = clone(child_exec, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
        saved_errno = errno;
        (void) sigprocmask(SIG_SETMASK, &saved, NULL);
        if (pid < 0) {
                r = -saved_errno;
                goto finish;
        }

        *ret_pid = pid;

finish:
        for (int i = 0; i < _SANDBOX_FD_MAX; i++)
                safe_close(moved[i]);
        return r;
}

static int on_reaped(sd_event_source *s, const siginfo_t *si, void *userdata) {
        /* sd-event reaps the process after this returns. Dropping the
         * loop's (floating) reference frees the source afterwards. */
        (void) sd_event_source_set_floating(s, 0);
        return 0;
}

int supervisor_reap_async(sd_event *event, pid_t pid) {
        int r;

        if (!event || pid <= 0)
                return -EINVAL;

        /* No reference returned: the source is floating, owned by the loop. */
        r = sd_event_add_child(event, NULL, pid, WEXITED, on_reaped, NULL);
        if (r < 0)
                return log_warning_errno(r, "Failed to watch process %d to reap it: %m", (int) pid);
        return 0;
}
