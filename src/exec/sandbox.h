/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The sandbox: everything that isolates the payload, in one place
 * (notes/systemd-sandbox-facts.md §5.3–5.7). Process layout:
 *
 *   supervisor (in the scope, outside the sandbox; root)
 *     sandbox_enter(): a new PID namespace for its next child, nothing else:
 *     it keeps the host's view of /sys/fs/cgroup to read its accounting
 *     └ fork → init (PID 1 of the new PID namespace, root): sandbox_init_run()
 *              new mount, network, IPC and UTS namespaces; hostname "pyexec";
 *              only "lo", down; a new root of read-only binds of /usr and /etc,
 *              a private /tmp, a minimal /dev and its own /proc; pivot_root
 *              └ fork → payload: setsid, rlimits, every capability dropped,
 *                       its own uid = gid, no groups, no_new_privs, only fds
 *                       0–4, the seccomp filter last → python3 -I -B runner
 *
 * When the init exits (it does so when the payload ends, or is SIGKILLed by
 * the supervisor) the kernel kills every process left in the namespace,
 * setsid()'d and double-forked ones included, and the mount namespace with
 * its tmpfs goes with them.
 *
 * With the sandbox off ([Sandbox] Enabled=no, for measuring its cost and for
 * debugging) only the PID namespace and the rlimits remain: the payload runs
 * as root in a temporary directory under the host's /tmp.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/macro.h"

typedef struct SandboxConfig {
        const char *id;
        bool enabled;                           /* false: PID namespace and rlimits only, as root */
        uid_t uid;                              /* the payload's uid = gid; not 0 (enabled only) */
        uint64_t memory_max;                    /* bytes */
        uint64_t cpu_quota_per_sec_usec;        /* 1000000 = one CPU */
        uint64_t tasks_max;                     /* also RLIMIT_NPROC of the payload's uid */
        uint64_t file_size_max;                 /* RLIMIT_FSIZE of the payload; 0: none */
        const char *python;
        const char *runner;
        bool has_execution_count;
        int64_t execution_count;
        char workdir[64];                       /* set by sandbox_enter() when !enabled, else "" */
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

/* tmpfs pages count against the scope's MemoryMax like any other memory: a
 * /tmp as big as MemoryMax could never fill up with ENOSPC, the OOM killer
 * would end the cell first. So /tmp gets half of MemoryMax (at most
 * SANDBOX_TMP_SIZE_MAX) and /dev/shm (POSIX semaphores and shared memory:
 * multiprocessing) a quarter (at most SANDBOX_SHM_SIZE_MAX); the rest is
 * left to the processes. */
#define SANDBOX_TMP_SIZE_MAX (UINT64_C(1) << 30)
#define SANDBOX_SHM_SIZE_MAX (UINT64_C(64) << 20)
/* (Never 0: to tmpfs, "size=0" means no limit at all.) */
#define SANDBOX_TMP_SIZE(memory_max) MAX(MIN((memory_max) / 2, SANDBOX_TMP_SIZE_MAX), UINT64_C(4096))
#define SANDBOX_SHM_SIZE(memory_max) MAX(MIN((memory_max) / 4, SANDBOX_SHM_SIZE_MAX), UINT64_C(4096))

/* The payload's rlimits besides FSIZE (FileSizeMax) and NPROC (TasksMax).
 * Each is lowered to this, never raised (the daemon may lack
 * CAP_SYS_RESOURCE); soft = hard, so the code cannot raise them either. */
#define SANDBOX_RLIMIT_NOFILE 1024
#define SANDBOX_RLIMIT_STACK (UINT64_C(8) << 20)
#define SANDBOX_RLIMIT_MEMLOCK (UINT64_C(64) << 10)

#define SANDBOX_HOSTNAME "pyexec"

/*
 * Called by the supervisor before it forks the init: a new PID namespace
 * for its next child. With the sandbox off, it also creates the working
 * directory (c->workdir, under /tmp) and changes into it. Returns 0, or a
 * negative errno and a message in @error.
 */
int sandbox_enter(SandboxConfig *c, char *error, size_t error_size);

/* Removes what sandbox_enter() left on the host (the working directory of
 * the sandbox-off mode); call it after the init was reaped. */
void sandbox_leave(SandboxConfig *c);

/* Fills @ret with the payload's argv and environment. -E2BIG if it does not fit. */
int sandbox_payload_prepare(const SandboxConfig *c, SandboxPayload *ret);

/*
 * The body of the PID-namespace init; never returns. It takes its own
 * PR_SET_PDEATHSIG (and exits if @supervisor_pidfd shows the supervisor
 * gone already), sets its oom_score_adj (inherited by the payload) to
 * @oom_score_adj, builds the sandbox (when enabled), forks the payload,
 * reaps every process that ends up as its child, writes the payload's wait
 * status as a record on @record_fd when the payload ends, and exits. Every
 * set-up failure (its own or the payload's, up to execve) is an ERROR record.
 */
_Noreturn void sandbox_init_run(const SandboxConfig *c, const SandboxPayload *p, int record_fd, int supervisor_pidfd,
                                int oom_score_adj);
