/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The sandbox: everything that isolates the payload, in one place
 * (notes/systemd-sandbox-facts.md §5.3–5.7). Process layout:
 *
 *   supervisor (in the scope, outside the sandbox)
 *     sandbox_enter(): new PID and mount namespaces, private tmpfs on /tmp
 *     └ fork → init (PID 1 of the new PID namespace): sandbox_init_run()
 *              └ fork → payload: sandbox_payload_exec() → python3 -I -B runner
 *
 * When the init exits (it does so when the payload ends, or is SIGKILLed by
 * the supervisor) the kernel kills every process left in the namespace,
 * setsid()'d and double-forked ones included.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct SandboxConfig {
        const char *id;
        uint64_t memory_max;                    /* bytes */
        uint64_t cpu_quota_per_sec_usec;        /* 1000000 = one CPU */
        uint64_t tasks_max;
        uint64_t file_size_max;                 /* RLIMIT_FSIZE of the payload */
        const char *python;
        const char *runner;
        bool has_execution_count;
        int64_t execution_count;
} SandboxConfig;

/* What the payload is executed with, built before any fork. */
typedef struct SandboxPayload {
        char *argv[8];
        char *envp[16];
        char storage[1024];                     /* the strings argv and envp point to */
} SandboxPayload;

/* One record from the init (or the payload before its execve) to the
 * supervisor. Smaller than PIPE_BUF, so each write is atomic. */
typedef enum SandboxRecordType {
        SANDBOX_RECORD_STATUS,                  /* value: the payload's raw wait status */
        SANDBOX_RECORD_ERROR,                   /* text: why the payload could not run */
} SandboxRecordType;

typedef struct SandboxRecord {
        int type;
        int value;
        char text[248];
} SandboxRecord;

/* The /tmp tmpfs is this big at most (and MemoryMax, which also counts its pages). */
#define SANDBOX_TMP_SIZE_MAX (UINT64_C(1) << 30)

/*
 * Called by the supervisor before it forks the init: new PID namespace
 * (for its next child) and a private mount namespace with "/" made
 * rprivate and a fresh size-capped tmpfs on /tmp as the working directory.
 * Returns 0, or a negative errno and a message in @error.
 */
int sandbox_enter(const SandboxConfig *c, char *error, size_t error_size);

/* Fills @ret with the payload's argv and environment. -E2BIG if it does not fit. */
int sandbox_payload_prepare(const SandboxConfig *c, SandboxPayload *ret);

/*
 * The body of the PID-namespace init; never returns. It takes its own
 * PR_SET_PDEATHSIG (and exits if @supervisor_pidfd shows the supervisor
 * gone already), sets its oom_score_adj (inherited by the payload) to
 * @oom_score_adj, forks the payload, reaps every process that ends up as
 * its child, writes the payload's wait status as a record on @record_fd
 * when the payload ends, and exits.
 */
_Noreturn void sandbox_init_run(const SandboxConfig *c, const SandboxPayload *p, int record_fd, int supervisor_pidfd,
                                int oom_score_adj);
