/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyexecctl/pager.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Without any pager program: copies its input through, so nothing is lost. */
_noreturn_ static void pager_fallback(void) {
        char buf[4096];
        ssize_t n;

        while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(EXIT_FAILURE);
                }
                for (ssize_t done = 0; done < n;) {
                        ssize_t k = write(STDOUT_FILENO, buf + done, (size_t) (n - done));
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                _exit(EXIT_FAILURE);
                        }
                        done += k;
                }
        }
        _exit(EXIT_SUCCESS);
}

_noreturn_ static void pager_child(int fd, const char *pager, pid_t parent) {
        const char *less = getenv("PYEXECCTL_LESS");

        if (dup2(fd, STDIN_FILENO) < 0)
                _exit(EXIT_FAILURE);
        if (fd != STDIN_FILENO)
                (void) close(fd);

        sigset_t none;
        (void) sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) signal(SIGINT, SIG_DFL);
        (void) signal(SIGPIPE, SIG_DFL);

        /* F: quit when it fits on one screen, R: colours, S: chop long lines,
         * X: leave the text on the screen, M: long prompt, K: exit on ^C. */
        (void) setenv("LESS", less ? less : "FRSXMK", 1);
        if (!getenv("LESSCHARSET"))
                (void) setenv("LESSCHARSET", "utf-8", 1);

        /* The pager goes when we go, also when we are killed. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
                _exit(EXIT_FAILURE);
        if (getppid() != parent)
                _exit(EXIT_SUCCESS);

        if (pager) {
                (void) execlp(pager, pager, (char *) NULL);
                /* Maybe a command line with options: let the shell split it. */
                (void) execl("/bin/sh", "sh", "-c", pager, (char *) NULL);
        }

        /* Debian's alternative for the pager is "pager". */
        (void) execlp("pager", "pager", (char *) NULL);
        (void) execlp("less", "less", (char *) NULL);
        (void) execlp("more", "more", (char *) NULL);
        pager_fallback();
}

int pager_open(Pager *p) {
        _cleanup_close_pair_ int fds[2] = { -1, -1 };
        const char *pager;
        pid_t parent, pid;

        if (p->pid > 0)
                return 1;

        pager = getenv("PYEXECCTL_PAGER");
        if (!pager)
                pager = getenv("PAGER");
        if (pager && (!*pager || strcmp(pager, "cat") == 0))
                return 0;

        if (isatty(STDOUT_FILENO) <= 0)
                return 0;
        if (getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0)
                return 0;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Failed to create the pager's pipe: %m");

        (void) fflush(stdout);
        (void) fflush(stderr);

        parent = getpid();
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to start the pager: %m");
        if (pid == 0)
                pager_child(fds[0], pager, parent);

        p->saved_stdout = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        if (p->saved_stdout < 0 || dup2(fds[1], STDOUT_FILENO) < 0) {
                int r = negative_errno();
                p->saved_stdout = safe_close(p->saved_stdout);
                (void) kill(pid, SIGTERM);
                (void) waitpid(pid, NULL, 0);
                return log_error_errno(r, "Failed to redirect output to the pager: %m");
        }

        /* Error messages go through the pager too when they would go to the same
         * terminal: written beside it they would mess up its screen. */
        if (isatty(STDERR_FILENO) > 0) {
                p->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
                if (p->saved_stderr >= 0 && dup2(fds[1], STDERR_FILENO) < 0)
                        p->saved_stderr = safe_close(p->saved_stderr);
        }

        p->pid = pid;
        return 1;
}

void pager_close(Pager *p) {
        if (p->pid <= 0)
                return;

        (void) fflush(stdout);
        (void) fflush(stderr);

        /* Putting the old fds back closes our ends of the pipe: the pager sees EOF. */
        if (p->saved_stdout >= 0)
                (void) dup2(p->saved_stdout, STDOUT_FILENO);
        if (p->saved_stderr >= 0)
                (void) dup2(p->saved_stderr, STDERR_FILENO);
        p->saved_stdout = safe_close(p->saved_stdout);
        p->saved_stderr = safe_close(p->saved_stderr);

        (void) kill(p->pid, SIGCONT);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        p->pid = 0;
}
