/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/cgroup-stats.h"
#include "shared/macro.h"

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

/* True if @name is one of the comma-separated words in @list. */
static bool word_in_list(const char *list, const char *name) {
        size_t n = strlen(name);

        for (const char *p = list; p && *p;) {
                const char *end = strchrnul(p, ',');
                if ((size_t) (end - p) == n && strncmp(p, name, n) == 0)
                        return true;
                p = *end ? end + 1 : end;
        }
        return false;
}

/* The process's path in the hierarchy: "N:controllers:/path" lines. */
static int proc_cgroup_path(const char *controller, pid_t pid, char **ret) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        char fn[64];
        size_t size = 0;

        if (pid > 0)
                (void) snprintf(fn, sizeof fn, "/proc/%d/cgroup", (int) pid);
        else
                (void) snprintf(fn, sizeof fn, "/proc/self/cgroup");

        f = fopen(fn, "re");
        if (!f)
                return negative_errno();

        while (getline(&line, &size, f) > 0) {
                char *controllers, *path;

                line[strcspn(line, "\n")] = 0;
                controllers = strchr(line, ':');
                if (!controllers)
                        continue;
                *controllers++ = 0;
                path = strchr(controllers, ':');
                if (!path)
                        continue;
                *path++ = 0;

                if (controller ? !word_in_list(controllers, controller)
                               : !(strcmp(line, "0") == 0 && controllers[0] == 0))
                        continue;

                *ret = strdup(path);
                return *ret ? 0 : -ENOMEM;
        }

        return -ENOENT;
}

/* Mount point and root of the hierarchy, from /proc/self/mountinfo:
 * "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS". */
static int hierarchy_mount(const char *controller, char **ret_mountpoint, char **ret_root) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *line = NULL, *found_root = NULL, *found_mountpoint = NULL;
        size_t size = 0;

        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return negative_errno();

        while (getline(&line, &size, f) > 0) {
                char *fields[5], *saveptr = NULL, *p, *dash, *fstype, *superopts;

                line[strcspn(line, "\n")] = 0;
                dash = strstr(line, " - ");
                if (!dash)
                        continue;
                *dash = 0;

                p = line;
                for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                        fields[i] = strtok_r(i == 0 ? p : NULL, " ", &saveptr);
                        if (!fields[i])
                                break;
                }
                if (!fields[ELEMENTSOF(fields) - 1])
                        continue;

                saveptr = NULL;
                fstype = strtok_r(dash + 3, " ", &saveptr);
                (void) strtok_r(NULL, " ", &saveptr); /* source */
                superopts = strtok_r(NULL, " ", &saveptr);
                if (!fstype)
                        continue;

                if (controller) {
                        if (strcmp(fstype, "cgroup") != 0 || !superopts || !word_in_list(superopts, controller))
                                continue;
                } else if (strcmp(fstype, "cgroup2") != 0)
                        continue;

                /* Mounts stacked on one mount point are listed bottom first:
                 * the last one is the one in view. */
                free(found_root);
                free(found_mountpoint);
                found_root = strdup(fields[3]);
                found_mountpoint = strdup(fields[4]);
                if (!found_root || !found_mountpoint)
                        return -ENOMEM;
        }

        if (!found_mountpoint)
                return -ENOENT;
        *ret_root = TAKE_PTR(found_root);
        *ret_mountpoint = TAKE_PTR(found_mountpoint);
        return 0;
}

int cgroup_find_dir(const char *controller, pid_t pid, char **ret_path) {
        _cleanup_free_ char *path = NULL, *mountpoint = NULL, *root = NULL;
        const char *rel;
        int r;

        if (!ret_path)
                return -EINVAL;

        r = proc_cgroup_path(controller, pid, &path);
        if (r < 0)
                return r;
        r = hierarchy_mount(controller, &mountpoint, &root);
        if (r < 0)
                return r;

        /* A mount of a subtree (root != "/") shows paths below that root. */
        rel = path;
        if (strcmp(root, "/") != 0) {
                size_t n = strlen(root);
                if (strncmp(path, root, n) != 0 || (path[n] != 0 && path[n] != '/'))
                        return -ENOENT;
                rel = path + n;
        }

        if (asprintf(ret_path, "%s%s", mountpoint, rel) < 0)
                return -ENOMEM;
        return 0;
}

int cgroup_memory_open(CgroupMemory *ret) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (!ret)
                return -EINVAL;

        r = cgroup_find_dir("memory", 0, &dir);
        if (r >= 0) {
                fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                *ret = (CgroupMemory) { .dir_fd = TAKE_FD(fd), .v1 = true };
                return 0;
        }
        if (r != -ENOENT)
                return r;

        r = cgroup_find_dir(NULL, 0, &dir);
        if (r < 0)
                return r;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* Without the memory controller the unified hierarchy has no memory.* files. */
        if (faccessat(fd, "memory.events", F_OK, 0) < 0)
                return -ENOENT;

        *ret = (CgroupMemory) { .dir_fd = TAKE_FD(fd), .v1 = false };
        return 0;
}

void cgroup_memory_close(CgroupMemory *m) {
        if (!m)
                return;
        m->dir_fd = safe_close(m->dir_fd);
}

static int read_file_at(int dir_fd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = -1;
        ssize_t n;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        return 0;
}

static int read_u64_at(int dir_fd, const char *name, uint64_t *ret) {
        char buf[64], *end;
        int r;

        r = read_file_at(dir_fd, name, buf, sizeof buf);
        if (r < 0)
                return r;
        errno = 0;
        *ret = strtoull(buf, &end, 10);
        if (errno != 0 || end == buf)
                return -EBADMSG;
        return 0;
}

/* "key value" lines, as in memory.events and memory.oom_control. */
static int read_keyed_u64_at(int dir_fd, const char *name, const char *key, uint64_t *ret) {
        char buf[1024];
        size_t n = strlen(key);
        int r;

        r = read_file_at(dir_fd, name, buf, sizeof buf);
        if (r < 0)
                return r;

        for (char *line = buf; line && *line;) {
                char *next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (strncmp(line, key, n) == 0 && line[n] == ' ') {
                        *ret = strtoull(line + n + 1, NULL, 10);
                        return 0;
                }
                line = next;
        }
        return -ENOENT;
}

int cgroup_memory_read(const CgroupMemory *m, uint64_t *ret_peak, uint64_t *ret_oom_kills) {
        uint64_t peak = 0, oom_kills = 0;
        int r;

        if (!m || m->dir_fd < 0)
                return -EBADF;

        /* memory.peak needs kernel 5.19 and "oom_kill" 4.13: older ones
         * lack them, which reads as 0 rather than failing the report. */
        r = read_u64_at(m->dir_fd, m->v1 ? "memory.max_usage_in_bytes" : "memory.peak", &peak);
        if (r < 0 && r != -ENOENT)
                return r;

        r = read_keyed_u64_at(m->dir_fd, m->v1 ? "memory.oom_control" : "memory.events", "oom_kill", &oom_kills);
        if (r < 0 && r != -ENOENT)
                return r;

        if (ret_peak)
                *ret_peak = peak;
        if (ret_oom_kills)
                *ret_oom_kills = oom_kills;
        return 0;
}
