/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyexecctl/polkit-agent.h"
#include "shared/log.h"
#include "shared/macro.h"

#define PKTTYAGENT "/usr/bin/pkttyagent"

int polkit_agent_open(PolkitAgent *a) {
        _cleanup_close_pair_ int fds[2] = { -1, -1 };
        char notify[16];
        pid_t pid, parent;
        ssize_t n;
        char c;

        if (a->pid > 0)
                return 1;
        if (isatty(STDIN_FILENO) <= 0 || access(PKTTYAGENT, X_OK) < 0)
                return 0;

        /* The agent closes its end of this pipe once it is registered with polkit. */
        if (pipe2(fds, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Failed to create a pipe for the polkit agent: %m");

        parent = getpid();
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to start the polkit agent: %m");
        if (pid == 0) {
                int fd = fcntl(fds[1], F_DUPFD, 3);     /* without O_CLOEXEC: it is for the agent */

                if (fd < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
                        _exit(EXIT_FAILURE);
                if (getppid() != parent)
                        _exit(EXIT_SUCCESS);
                /* pyexecctl run blocks SIGINT for its event loop; the agent must not inherit that. */
                sigset_t none;
                (void) sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                (void) signal(SIGINT, SIG_DFL);
                (void) snprintf(notify, sizeof(notify), "%d", fd);
                (void) execl(PKTTYAGENT, PKTTYAGENT, "--notify-fd", notify, "--fallback", (char *) NULL);
                _exit(EXIT_FAILURE);
        }

        a->pid = pid;
        fds[1] = safe_close(fds[1]);
        do
                n = read(fds[0], &c, 1);
        while (n < 0 && errno == EINTR);
        return 1;
}

void polkit_agent_close(PolkitAgent *a) {
        if (a->pid <= 0)
                return;
        (void) kill(a->pid, SIGTERM);
        (void) kill(a->pid, SIGCONT);
        while (waitpid(a->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        a->pid = 0;
}
