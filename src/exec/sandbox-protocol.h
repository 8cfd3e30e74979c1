/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the daemon (execution.c) and the supervisor (pyexecd-sandbox) agree
 * on: the supervisor's file descriptors, its options and its report.
 *
 * The supervisor is started with exactly these fds open:
 *   0  the request's stdin (a sealed memfd)          → payload fd 0
 *   1  stdout pipe, write end                        → payload fd 1
 *   2  stderr pipe, write end                        → payload fd 2
 *   3  message pipe, write end                       → payload fd 3
 *   4  the code (a sealed memfd)                     → payload fd 4
 *   5  control pipe, read end: one byte = "go", EOF without a byte = "give up"
 *   6  report pipe, write end: one JSON line, written just before it exits
 * Only 0–4 reach the payload.
 *
 * The report is one JSON object on one line:
 *   {"exit_code": n} or {"signal": n}   how the payload ended (absent if it never ran)
 *   "cpu_usec": n                       user + system CPU of the sandbox (rusage of its init)
 *   "memory_peak_bytes": n              the scope's memory cgroup high-water mark (0: unknown)
 *   "oom_kills": n                      growth of the memory cgroup's oom_kill counter
 *   "error": "text"                     set-up failed (the payload may not have run)
 */

enum {
        SANDBOX_FD_STDIN = 0,
        SANDBOX_FD_STDOUT = 1,
        SANDBOX_FD_STDERR = 2,
        SANDBOX_FD_MESSAGES = 3,
        SANDBOX_FD_CODE = 4,
        SANDBOX_FD_CONTROL = 5,
        SANDBOX_FD_REPORT = 6,
        _SANDBOX_FD_MAX,
};

/* The supervisor's options (all "--name=value"). */
#define SANDBOX_ARG_ID "--id"
#define SANDBOX_ARG_MEMORY_MAX "--memory-max"
#define SANDBOX_ARG_CPU_QUOTA "--cpu-quota-per-sec-usec"
#define SANDBOX_ARG_TASKS_MAX "--tasks-max"
#define SANDBOX_ARG_FILE_SIZE_MAX "--file-size-max"
#define SANDBOX_ARG_PYTHON "--python"
#define SANDBOX_ARG_RUNNER "--runner"
#define SANDBOX_ARG_EXECUTION_COUNT "--execution-count"
/* "yes" (the default) or "no": [Sandbox] Enabled=. With "no" the payload
 * runs as root with only the PID namespace, in a temporary directory. */
#define SANDBOX_ARG_SANDBOX "--sandbox"
/* The payload's uid and gid (decimal, not 0); required with the sandbox. */
#define SANDBOX_ARG_UID "--uid"

/* Written on fd 6 by the forked child when execve() of the supervisor fails. */
#define SANDBOX_REPORT_EXEC_FAILED "{\"error\":\"could not execute the sandbox supervisor\"}\n"
