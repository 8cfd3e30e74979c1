/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

#include "exec/sandbox-protocol.h"

/*
 * Starts the supervisor @path with @argv (and an empty environment) in a
 * child process; @fds[i] becomes its fd i for i < _SANDBOX_FD_MAX, nothing
 * else stays open. The caller keeps its @fds and closes the child's ends.
 * The child is made with clone(CLONE_VM | CLONE_VFORK), as posix_spawn()
 * does: it borrows the caller's memory (no page tables copied) and the
 * calling thread is suspended, with all signals blocked, until the child's
 * execve() succeeded or the child exited. Until then the child only makes
 * system calls (no allocation, no locks, no writes to the caller's memory):
 * it sets PR_SET_PDEATHSIG(SIGKILL), resets signal dispositions and mask,
 * places the fds and closes the rest. Returns 0 and the child's pid in
 * @ret_pid, or a negative errno.
 */
int supervisor_spawn(const char *path, char *const argv[], const int fds[static _SANDBOX_FD_MAX], pid_t *ret_pid);

/* Reaps @pid in the background on @event (which must have SIGCHLD blocked,
 * as sd_event_add_child() wants): for processes whose owner is gone. */
int supervisor_reap_async(sd_event *event, pid_t pid);
