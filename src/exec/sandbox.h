/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The sandbox: everything that isolates the payload, in one place
 * (notes/systemd-sandbox-facts.md §5.3–5.7). Process layout:
 *
 *   supervisor (root, outside the sandbox; in the scope once released)
 *     sandbox_prepare(), BEFORE the release, while PID 1 creates the scope:
 *     the payload's argv and environment, its seccomp filters built and
 *     exported as BPF programs, a new PID namespace for its next child and
 *     new network, IPC and UTS namespaces for itself (hostname "pyexec", only
 *     "lo", down), which the init inherits. It keeps the host's mount
 *     namespace, so the host's view of /sys/fs/cgroup to read its accounting.
 *     └ fork (after the release, so in the scope) → init (PID 1 of the new
 *              PID namespace, root): sandbox_init_run()
 *              a new mount namespace: a new root of read-only binds of /usr
 *              and /etc, a private /tmp, a minimal /dev and its own /proc;
 *              pivot_root; then it waits for the supervisor's "start",
 *              sent once the supervisor found the scope's memory cgroup
 *              (meanwhile, in parallel)
 *              └ fork → payload: setsid, rlimits, every capability dropped,
 *                       its own uid = gid, no groups, no_new_privs, only fds
 *                       0–4, the ready seccomp programs loaded last →
 *                       python3 -I -B runner
 *
 * What runs before the release runs in the daemon's cgroup, outside the
 * scope's limits: only fixed-size work that nothing of the cell influences
 * (no fork, no byte of the code or stdin). Charges do not move with a
 * process: the kernel memory of the three namespaces (about 100 KiB) and
 * the supervisor's pages touched meanwhile (about 100 KiB once libseccomp's
 * heap is trimmed) stay charged to the daemon's cgroup until the supervisor
 * exits, and the ~2 ms of CPU to its CPU account. Every process of the
 * sandbox, and every page the init and the payload touch (copies of the
 * supervisor's pages included), are the scope's: the init is forked only
 * after the release.
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

#include "exec/seccomp-policy.h"
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
        char workdir[64];                       /* set by sandbox_prepare() when !enabled, else "" */
} SandboxConfig;

/* What the payload is executed with, built before any fork. */
typedef struct SandboxPayload {
        char *argv[8];
        char *envp[16];
        char storage[1024];                     /* the strings argv and envp point to */
        SeccompPayloadPrograms seccomp;         /* sandbox on only; malloc'd, see sandbox_payload_done() */
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
 * Called by the supervisor before its release (see above): fills @ret with
 * the payload's argv and environment and (sandbox on) its seccomp programs,
 * and unshares a PID namespace for the next child and (sandbox on) network,
 * IPC and UTS namespaces for the supervisor itself, with hostname "pyexec".
 * With the sandbox off, it also creates the working directory (c->workdir,
 * under /tmp) and changes into it. Free @ret with sandbox_payload_done(),
 * whatever the result. Returns 0, or a negative errno and a message in @error.
 */
int sandbox_prepare(SandboxConfig *c, SandboxPayload *ret, char *error, size_t error_size);

/* Frees what sandbox_prepare() allocated in @p (the seccomp programs). */
void sandbox_payload_done(SandboxPayload *p);

/* Removes what sandbox_prepare() left on the host (the working directory of
 * the sandbox-off mode); call it after the init was reaped. */
void sandbox_leave(SandboxConfig *c);

/*
 * The body of the PID-namespace init; never returns. It takes its own
 * PR_SET_PDEATHSIG, closes @start_fds[1] (the supervisor's end), sets its
 * oom_score_adj (inherited by the payload) to @oom_score_adj, builds the
 * sandbox (when enabled), then waits for one byte on @start_fds[0]: EOF
 * instead (the supervisor gave up on it, or died) makes it exit without
 * starting anything. Then it forks the payload, reaps every process that
 * ends up as its child, writes the payload's wait status as a record on
 * @record_fd when the payload ends, and exits. Every set-up failure (its
 * own or the payload's, up to execve) is an ERROR record.
 */
_Noreturn void sandbox_init_run(const SandboxConfig *c, const SandboxPayload *p, int record_fd, const int start_fds[2],
                                int oom_score_adj);
