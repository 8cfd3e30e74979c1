/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The memory counters of a process's own cgroup, read by the supervisor
 * while its scope still exists (the cgroup goes away within a second after
 * its last process; systemd 252 caches none of these). Both layouts:
 *   cgroup v1 (hybrid):  memory.max_usage_in_bytes, memory.oom_control "oom_kill"
 *   cgroup v2 (unified): memory.peak, memory.events "oom_kill"
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct CgroupMemory {
        int dir_fd;     /* the memory cgroup's directory, or -1 */
        bool v1;
} CgroupMemory;

#define CGROUP_MEMORY_NULL ((CgroupMemory) { .dir_fd = -1 })

/*
 * Finds the cgroup directory of @pid (0: the caller) in hierarchy
 * @controller: a cgroup v1 controller name such as "memory" or "pids", or
 * NULL for the cgroup v2 (unified) hierarchy. Uses /proc/PID/cgroup and
 * /proc/self/mountinfo. Returns 0 and a malloc'd path, -ENOENT when that
 * hierarchy is not mounted or the process is not in it, or another negative
 * errno.
 */
int cgroup_find_dir(const char *controller, pid_t pid, char **ret_path);

/* Opens the caller's memory cgroup: v1 "memory" if mounted, else the
 * unified hierarchy if it has the memory controller. -ENOENT if neither. */
int cgroup_memory_open(CgroupMemory *ret);
void cgroup_memory_close(CgroupMemory *m);

/* Reads the high-water mark (bytes) and the oom_kill counter. A counter
 * the kernel does not offer reads as 0. Returns 0 or a negative errno. */
int cgroup_memory_read(const CgroupMemory *m, uint64_t *ret_peak, uint64_t *ret_oom_kills);
