/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <locale.h>
#include <stdlib.h>

#include "pyexecctl/pyexecctl.h"
#include "shared/log.h"

int main(int argc, char *argv[]) {
        static int (*const verbs[_VERB_MAX])(const Arguments *a) = {
                [VERB_RUN] = verb_run,
                [VERB_STATUS] = verb_status,
                [VERB_LIST] = verb_list,
                [VERB_CANCEL] = verb_cancel,
                [VERB_QUEUE] = verb_queue,
        };
        Arguments a = ARGUMENTS_INIT;
        int r;

        (void) setlocale(LC_ALL, "");
        log_open();

        r = parse_argv(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? PYEXECCTL_EXIT_NOT_RUN : PYEXECCTL_EXIT_SUCCESS;

        return verbs[a.verb](&a);
}
