/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Checks for POST /initialize: does the interpreter answer? */

#include <systemd/sd-event.h>

/* Called once with r = 0 and the version ("3.11.2"), or a negative errno
 * (-ETIMEDOUT, -ENOENT when it cannot be run, -EIO when it failed). */
typedef void (*probe_python_t)(int r, const char *version, void *userdata);

/*
 * Runs "@python -I -c <print version>" asynchronously (SIGCHLD must be
 * blocked, as for every sd-event child source), with a 10 s limit.
 * Returns 0 (the callback follows later) or a negative errno.
 */
int probe_python(sd_event *event, const char *python, probe_python_t callback, void *userdata);
