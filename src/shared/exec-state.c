/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <threads.h>

#include "shared/exec-state.h"
#include "shared/macro.h"

static const char *const exec_state_table[_EXEC_STATE_MAX] = {
        [EXEC_STATE_QUEUED] = "queued",
        [EXEC_STATE_RUNNING] = "running",
        [EXEC_STATE_SUCCEEDED] = "succeeded",
        [EXEC_STATE_FAILED] = "failed",
        [EXEC_STATE_TIMEOUT] = "timeout",
        [EXEC_STATE_OOM] = "oom",
        [EXEC_STATE_CANCELLED] = "cancelled",
        [EXEC_STATE_ERROR] = "error",
};

const char *exec_state_to_string(ExecState s) {
        if (s < 0 || s >= _EXEC_STATE_MAX)
                return NULL;
        return exec_state_table[s];
}

ExecState exec_state_from_string(const char *s) {
        if (!s)
                return _EXEC_STATE_INVALID;
        for (ExecState i = 0; i < _EXEC_STATE_MAX; i++)
                if (strcmp(exec_state_table[i], s) == 0)
                        return i;
        return _EXEC_STATE_INVALID;
}

bool exec_state_is_terminal(ExecState s) {
        return s >= EXEC_STATE_SUCCEEDED && s < _EXEC_STATE_MAX;
}

ExecState exec_state_from_termination(const ExecTermination *t) {
        bool exited_zero;

        if (!t)
                return _EXEC_STATE_INVALID;

        exited_zero = t->have_status && t->signal == 0 && t->exit_code == 0;

        if (t->error || t->interrupted)
                return EXEC_STATE_ERROR;
        if (t->cancelled)
                return EXEC_STATE_CANCELLED;
        if (t->timed_out)
                return EXEC_STATE_TIMEOUT;
        /* The payload produced more than it may: that is its failure, even
         * when it had exited 0 before the daemon read the excess. */
        if (t->output_limited)
                return EXEC_STATE_FAILED;
        /* On cgroup v1 the kernel's OOM killer leaves no trace in the unit's
         * result, only in the counter, and the victim may be any process of
         * the scope: a payload that still exited 0 did finish its work. */
        if (t->oom_kills > 0 && !exited_zero)
                return EXEC_STATE_OOM;
        if (!t->have_status)
                return EXEC_STATE_ERROR;
        if (exited_zero)
                return EXEC_STATE_SUCCEEDED;
        return EXEC_STATE_FAILED;
}

const char *signal_to_string(int sig) {
        /* sigabbrev_np() gives "SEGV"; we want "SIGSEGV" without handing out
         * a buffer. The names are cached per thread, so the pointers stay
         * valid and no caller can see another thread's writes. */
        static thread_local char names[_NSIG][sizeof("SIG") + 16];
        const char *abbrev;

        if (sig <= 0 || sig >= _NSIG)
                return NULL;

        if (names[sig][0] == '\0') {
                abbrev = sigabbrev_np(sig);
                if (!abbrev)
                        return NULL;
                (void) snprintf(names[sig], sizeof(names[sig]), "SIG%s", abbrev);
        }

        return names[sig];
}
