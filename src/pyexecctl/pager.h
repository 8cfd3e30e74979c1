/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A pager for long output, as systemctl has one: only when stdout is a
 * terminal; $PYEXECCTL_PAGER, else $PAGER, else pager, less or more (in
 * that order), "" or "cat" for none; less gets $LESS=FRSXMK (or
 * $PYEXECCTL_LESS), so it quits when the text fits on one screen, passes
 * colours and exits on Ctrl-C.
 */

#include <stdbool.h>
#include <sys/types.h>

typedef struct Pager {
        pid_t pid;              /* 0: no pager running */
        int saved_stdout;       /* stdout and stderr as they were, to restore */
        int saved_stderr;
} Pager;

#define PAGER_INIT                                              \
        (Pager) {                                               \
                .pid = 0, .saved_stdout = -1, .saved_stderr = -1, \
        }

/* Starts the pager and points stdout (and stderr when it is the terminal
 * too) at it. Returns 1 if started, 0 if not wanted, or a negative errno
 * (logged). */
int pager_open(Pager *p);

/* Ends the input of the pager, restores stdout and stderr and waits until
 * the user quits it. Does nothing when none runs. */
void pager_close(Pager *p);
