/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/probe.h"
#include "shared/log.h"

#define PROBE_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct Probe {
        sd_event_source *child_source;
        sd_event_source *timer_source;
        int fd;
        pid_t pid;
        probe_python_t callback;
        void *userdata;
} Probe;

static void probe_free(Probe *p) {
        if (!p)
                return;
        /* A child still running is killed and reaped with its source. */
        if (p->child_source)
                (void) sd_event_source_set_child_process_own(p->child_source, true);
        p->child_source = sd_event_source_disable_unref(p->child_source);
        p->timer_source = sd_event_source_disable_unref(p->timer_source);
        safe_close(p->fd);
        free(p);
}

static int probe_on_free(sd_event_source *s, void *userdata) {
        probe_free(userdata);
        return 0;
}

/* Frees @p at idle priority: sd-event reaps the child only after the
 * child source's callback returned, so the source must outlive it. */
static void probe_free_later(Probe *p) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *s = NULL;
        int r;

        p->timer_source = sd_event_source_disable_unref(p->timer_source);
        r = sd_event_add_defer(sd_event_source_get_event(p->child_source), &s, probe_on_free, p);
        if (r >= 0)
                r = sd_event_source_set_priority(s, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_floating(s, true);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule the release of a probe: %m");
}

static int probe_on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Probe *p = userdata;
        char buf[64] = "";
        ssize_t n;
        int r = 0;

        if (si->si_code != CLD_EXITED || si->si_status != 0)
                r = si->si_code == CLD_EXITED && si->si_status == 127 ? -ENOENT : -EIO;
        else {
                n = read(p->fd, buf, sizeof(buf) - 1);
                if (n <= 0)
                        r = -EIO;
                else {
                        buf[n] = '\0';
                        buf[strcspn(buf, "\n")] = '\0';
                }
        }

        p->callback(r, r < 0 ? NULL : buf, p->userdata);
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        probe_free_later(p);
        return 0;
}

static int probe_on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Probe *p = userdata;

        p->callback(-ETIMEDOUT, NULL, p->userdata);
        probe_free(p);
        return 0;
}

int probe_python(sd_event *event, const char *python, probe_python_t callback, void *userdata) {
        static const char script[] = "import sys; print('%d.%d.%d' % sys.version_info[:3])";
        _cleanup_close_pair_ int pipefd[2] = { -1, -1 };
        Probe *p;
        pid_t pid;
        int r;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Child: async-signal-safe calls only. */
                if (dup2(pipefd[1], STDOUT_FILENO) < 0)
                        _exit(126);
                int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (devnull >= 0) {
                        (void) dup2(devnull, STDIN_FILENO);
                        (void) dup2(devnull, STDERR_FILENO);
                }
                char *argv[] = { (char *) python, (char *) "-I", (char *) "-c", (char *) script, NULL };
                char *envp[] = { (char *) "PATH=/usr/bin:/bin", (char *) "LANG=C.UTF-8", NULL };
                sigset_t ss;
                sigemptyset(&ss);
                (void) sigprocmask(SIG_SETMASK, &ss, NULL);
                execve(python, argv, envp);
                _exit(127);
        }

        p = calloc(1, sizeof(*p));
        if (!p) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -ENOMEM;
        }
        p->fd = TAKE_FD(pipefd[0]);
        p->pid = pid;
        p->callback = callback;
        p->userdata = userdata;

        r = sd_event_add_child(event, &p->child_source, pid, WEXITED, probe_on_child, p);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                probe_free(p);
                return r;
        }
        r = sd_event_add_time_relative(event, &p->timer_source, CLOCK_MONOTONIC, PROBE_TIMEOUT_USEC, 0,
                                       probe_on_timeout, p);
        if (r < 0) {
                probe_free(p);
                return r;
        }
        return 0;
}
