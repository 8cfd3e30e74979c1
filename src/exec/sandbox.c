/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/sandbox-protocol.h"
#include "exec/sandbox.h"
#include "exec/seccomp-policy.h"
#include "shared/macro.h"

/* Where the init builds the new root: a tmpfs mounted over the host's /tmp,
 * in the init's own mount namespace only. */
#define NEW_ROOT "/tmp"
#define OLD_ROOT ".oldroot"

static int errorf(int r, char *error, size_t size, const char *format, ...) _printf_(4, 5);
static int errorf(int r, char *error, size_t size, const char *format, ...) {
        va_list ap;
        size_t n;

        va_start(ap, format);
        (void) vsnprintf(error, size, format, ap);
        va_end(ap);

        n = strlen(error);
        (void) snprintf(error + n, size - n, ": %s", strerror(-r));
        return r;
}

/*
 * The supervisor's part, before its release.
 */

static int sandbox_enter(SandboxConfig *c, char *error, size_t error_size) {
        c->workdir[0] = 0;

        /* The PID namespace applies to the next child, the init. */
        if (unshare(CLONE_NEWPID) < 0)
                return errorf(negative_errno(), error, error_size, "unshare(CLONE_NEWPID)");

        if (c->enabled) {
                /* These apply to the supervisor itself, and the init inherits
                 * them: made now, they cost nothing after the release (a new
                 * network namespace alone takes a few hundred µs). The
                 * supervisor needs none of the host's: it talks through the
                 * pipes it holds and reads its cgroup's files through the
                 * host's mounts, which it keeps (no mount namespace here).
                 * The network namespace has only "lo", and it stays down: no
                 * route anywhere, not even to the host's loopback (Redis, the
                 * daemon's sockets). */
                if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
                        return errorf(negative_errno(), error, error_size,
                                      "unshare(CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS)");
                if (sethostname(SANDBOX_HOSTNAME, strlen(SANDBOX_HOSTNAME)) < 0)
                        return errorf(negative_errno(), error, error_size, "sethostname()");
                return 0;
        }

        /* Sandbox off: no mount namespace, so the working directory is a
         * private directory on the host, removed by sandbox_leave(). */
        (void) snprintf(c->workdir, sizeof c->workdir, "/tmp/pyexecd-%.32s-XXXXXX", c->id ?: "");
        if (!mkdtemp(c->workdir)) {
                c->workdir[0] = 0;
                return errorf(negative_errno(), error, error_size, "creating a working directory under /tmp");
        }
        if (chdir(c->workdir) < 0)
                return errorf(negative_errno(), error, error_size, "chdir(\"%s\")", c->workdir);

        return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

void sandbox_leave(SandboxConfig *c) {
        if (!c->workdir[0])
                return;

        /* The payload was root: it may have left anything there, but only
         * there (FTW_MOUNT: never into a mount it made, FTW_PHYS: never
         * through a symlink). */
        (void) chdir("/");
        (void) nftw(c->workdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        c->workdir[0] = 0;
}

/* Appends a string to the payload's storage; NULL if it does not fit. */
static char *storage_printf(SandboxPayload *p, size_t *used, const char *format, ...) _printf_(3, 4);
static char *storage_printf(SandboxPayload *p, size_t *used, const char *format, ...) {
        char *s = p->storage + *used;
        size_t left = sizeof p->storage - *used;
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(s, left, format, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= left)
                return NULL;

        *used += (size_t) n + 1;
        return s;
}

static int sandbox_payload_prepare(const SandboxConfig *c, SandboxPayload *ret) {
        /* Threads of BLAS and friends: as many CPUs as the quota allows. */
        uint64_t cpus = MAX(c->cpu_quota_per_sec_usec / USEC_PER_SEC, UINT64_C(1));
        /* The sandbox's /tmp, or the host directory that stands in for it. */
        const char *home = c->workdir[0] ? c->workdir : "/tmp";
        static const char *const fixed_env[] = {
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "LANG=C.UTF-8",
                "LC_ALL=C.UTF-8",
                "MPLBACKEND=module://pyexecd_inline",
        };
        static const char *const thread_vars[] = {
                "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS",
        };
        size_t used = 0, n = 0;

        *ret = (SandboxPayload) {};

        ret->argv[n++] = storage_printf(ret, &used, "%s", c->python);
        ret->argv[n++] = storage_printf(ret, &used, "-I");
        ret->argv[n++] = storage_printf(ret, &used, "-B");
        ret->argv[n++] = storage_printf(ret, &used, "%s", c->runner);
        if (c->has_execution_count) {
                ret->argv[n++] = storage_printf(ret, &used, "--execution-count");
                ret->argv[n++] = storage_printf(ret, &used, "%" PRIi64, c->execution_count);
        }
        for (size_t i = 0; i < n; i++)
                if (!ret->argv[i])
                        return -E2BIG;

        n = 0;
        for (size_t i = 0; i < ELEMENTSOF(fixed_env); i++)
                ret->envp[n++] = (char *) fixed_env[i];
        ret->envp[n++] = storage_printf(ret, &used, "HOME=%s", home);
        ret->envp[n++] = storage_printf(ret, &used, "TMPDIR=%s", home);
        ret->envp[n++] = storage_printf(ret, &used, "MPLCONFIGDIR=%s/.config/matplotlib", home);
        for (size_t i = 0; i < ELEMENTSOF(thread_vars); i++)
                ret->envp[n++] = storage_printf(ret, &used, "%s=%" PRIu64, thread_vars[i], cpus);
        for (size_t i = 0; i < n; i++)
                if (!ret->envp[i])
                        return -E2BIG;

        return 0;
}

void sandbox_payload_done(SandboxPayload *p) {
        if (p)
                seccomp_payload_programs_done(&p->seccomp);
}

int sandbox_prepare(SandboxConfig *c, SandboxPayload *ret, char *error, size_t error_size) {
        int r;

        /* The working directory of the sandbox-off mode is part of the
         * environment (HOME, TMPDIR): first. */
        r = sandbox_enter(c, error, error_size);
        if (r < 0)
                return r;

        r = sandbox_payload_prepare(c, ret);
        if (r < 0)
                return errorf(r, error, error_size, "the payload's arguments do not fit");

        if (!c->enabled)
                return 0;

        /* libseccomp allocates, and building and compiling the two filters
         * takes it about 2 ms: here, not between fork() and execve(), where
         * the payload then only loads the programs (STYLE.md 30). */
        r = seccomp_payload_programs_build(EPERM, error, error_size, &ret->seccomp);
        if (r < 0)
                return r;

        /* What libseccomp freed again (about 400 KiB) goes back to the
         * kernel: it would stay charged to the daemon's cgroup, and the init
         * and the payload would inherit it. */
        (void) malloc_trim(0);
        return 0;
}

/*
 * The init's part: the new root.
 */

/* Read-only, nosuid, nodev on @path and every mount below it, keeping the
 * other flags each has (noexec, noatime, …). */
static int make_read_only(const char *path, char *error, size_t size) {
        struct mount_attr attr = {
                .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        };
        struct statvfs sv;
        unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;

        if (mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) >= 0)
                return 0;
        /* A kernel before 5.12, or a seccomp filter of the daemon's unit
         * that does not know the call: the top mount at least, with the
         * flags of the source kept (a bind remount sets all of them). */
        if (errno != ENOSYS && errno != EPERM)
                return errorf(negative_errno(), error, size, "making %s read-only", path);

        if (statvfs(path, &sv) < 0)
                return errorf(negative_errno(), error, size, "statvfs(\"%s\")", path);
        if (sv.f_flag & ST_NOEXEC)
                flags |= MS_NOEXEC;
        if (sv.f_flag & ST_NOATIME)
                flags |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME)
                flags |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME)
                flags |= MS_RELATIME;
        if (mount(NULL, path, NULL, flags, NULL) < 0)
                return errorf(negative_errno(), error, size, "remounting %s read-only", path);
        return 0;
}

/* /@name of the host, read-only, at NEW_ROOT/@name. */
static int bind_read_only(const char *name, char *error, size_t size) {
        char source[64], target[64];

        (void) snprintf(source, sizeof source, "/%s", name);
        (void) snprintf(target, sizeof target, NEW_ROOT "/%s", name);

        if (mkdir(target, 0755) < 0 && errno != EEXIST)
                return errorf(negative_errno(), error, size, "mkdir(\"%s\")", target);
        if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
                return errorf(negative_errno(), error, size, "binding %s", source);
        return make_read_only(target, error, size);
}

/* bin, lib, …: the same symlink as on the host (merged /usr), or a
 * read-only bind of the directory; nothing if the host has none. */
static int copy_root_entry(const char *name, char *error, size_t size) {
        char source[64], target[64], link[PATH_MAX];
        struct stat st;
        ssize_t n;

        (void) snprintf(source, sizeof source, "/%s", name);
        (void) snprintf(target, sizeof target, NEW_ROOT "/%s", name);

        if (lstat(source, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return errorf(negative_errno(), error, size, "lstat(\"%s\")", source);
        }
        if (S_ISDIR(st.st_mode))
                return bind_read_only(name, error, size);
        if (!S_ISLNK(st.st_mode))
                return 0;

        n = readlink(source, link, sizeof link - 1);
        if (n < 0)
                return errorf(negative_errno(), error, size, "readlink(\"%s\")", source);
        link[n] = 0;
        if (symlink(link, target) < 0)
                return errorf(negative_errno(), error, size, "symlink(\"%s\", \"%s\")", link, target);
        return 0;
}

static int mount_tmpfs(const char *target, unsigned long flags, const char *options, char *error, size_t size) {
        if (mkdir(target, 0755) < 0 && errno != EEXIST)
                return errorf(negative_errno(), error, size, "mkdir(\"%s\")", target);
        if (mount("tmpfs", target, "tmpfs", flags, options) < 0)
                return errorf(negative_errno(), error, size, "mounting a tmpfs on %s (%s)", target, options);
        return 0;
}

/* A tmpfs /dev with the five harmless devices bound from the host's /dev
 * (no tty, no pts, nothing else), the usual symlinks and /dev/shm. */
static int setup_dev(const SandboxConfig *c, char *error, size_t size) {
        static const char *const devices[] = { "null", "zero", "full", "random", "urandom" };
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" },
                { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" },
                { "stderr", "/proc/self/fd/2" },
        };
        char path[64], options[64];
        int r;

        r = mount_tmpfs(NEW_ROOT "/dev", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k", error, size);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                _cleanup_close_ int fd = -1;
                char source[32];

                (void) snprintf(source, sizeof source, "/dev/%s", devices[i]);
                (void) snprintf(path, sizeof path, NEW_ROOT "/dev/%s", devices[i]);
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
                if (fd < 0)
                        return errorf(negative_errno(), error, size, "creating %s", path);
                if (mount(source, path, NULL, MS_BIND, NULL) < 0)
                        return errorf(negative_errno(), error, size, "binding %s", source);
        }

        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                (void) snprintf(path, sizeof path, NEW_ROOT "/dev/%s", links[i][0]);
                if (symlink(links[i][1], path) < 0)
                        return errorf(negative_errno(), error, size, "symlink(\"%s\", \"%s\")", links[i][1], path);
        }

        (void) snprintf(options, sizeof options, "mode=1777,size=%" PRIu64, SANDBOX_SHM_SIZE(c->memory_max));
        r = mount_tmpfs(NEW_ROOT "/dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC, options, error, size);
        if (r < 0)
                return r;

        /* Nothing more goes into /dev (the binds and /dev/shm are mounts of
         * their own and keep their flags). */
        if (mount(NULL, NEW_ROOT "/dev", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
                return errorf(negative_errno(), error, size, "remounting /dev read-only");
        return 0;
}

static int setup_root(const SandboxConfig *c, char *error, size_t size) {
        static const char *const root_entries[] = { "bin", "sbin", "lib", "lib64", "lib32", "libx32" };
        char options[128];
        int r;

        /* Mount points and files made here get their modes as written. */
        (void) umask(0022);

        /* Nothing mounted here may propagate back to the host, whatever the
         * propagation of the mounts copied from it. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return errorf(negative_errno(), error, size, "making / rprivate");

        /* The root itself: mount points and symlinks only, read-only at the
         * end. */
        r = mount_tmpfs(NEW_ROOT, MS_NOSUID | MS_NODEV, "mode=0755,size=1m", error, size);
        if (r < 0)
                return r;

        r = bind_read_only("usr", error, size);
        if (r < 0)
                return r;
        r = bind_read_only("etc", error, size);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(root_entries); i++) {
                r = copy_root_entry(root_entries[i], error, size);
                if (r < 0)
                        return r;
        }

        /* The working directory and HOME: the payload's own, bounded (its
         * pages are charged to the scope's memory cgroup as well). */
        (void) snprintf(options, sizeof options, "mode=0700,uid=%" PRIu32 ",gid=%" PRIu32 ",size=%" PRIu64,
                        (uint32_t) c->uid, (uint32_t) c->uid, SANDBOX_TMP_SIZE(c->memory_max));
        r = mount_tmpfs(NEW_ROOT "/tmp", MS_NOSUID | MS_NODEV, options, error, size);
        if (r < 0)
                return r;

        r = setup_dev(c, error, size);
        if (r < 0)
                return r;

        /* This init is PID 1 of the new PID namespace: the new procfs shows
         * that namespace, and of it only what the reader may ptrace
         * (invisible: the init stays hidden from the payload) and only the
         * processes (subset=pid: no /proc/sys, /proc/kallsyms, …; CPython,
         * numpy, pandas, matplotlib and multiprocessing do not need them:
         * os.cpu_count() falls back to sched_getaffinity()). */
        if (mkdir(NEW_ROOT "/proc", 0555) < 0)
                return errorf(negative_errno(), error, size, "mkdir(\"" NEW_ROOT "/proc\")");
        if (mount("proc", NEW_ROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible,subset=pid") < 0)
                return errorf(negative_errno(), error, size, "mounting /proc");

        if (mkdir(NEW_ROOT "/" OLD_ROOT, 0700) < 0)
                return errorf(negative_errno(), error, size, "mkdir(\"" NEW_ROOT "/" OLD_ROOT "\")");
        if (chdir(NEW_ROOT) < 0)
                return errorf(negative_errno(), error, size, "chdir(\"" NEW_ROOT "\")");
        if (syscall(SYS_pivot_root, ".", OLD_ROOT) < 0)
                return errorf(negative_errno(), error, size, "pivot_root()");
        if (chdir("/") < 0)
                return errorf(negative_errno(), error, size, "chdir(\"/\")");
        /* Lazily: mounts below the old root may be busy; nothing of them is
         * reachable from here once it is detached. */
        if (umount2("/" OLD_ROOT, MNT_DETACH) < 0)
                return errorf(negative_errno(), error, size, "unmounting the old root");
        if (rmdir("/" OLD_ROOT) < 0)
                return errorf(negative_errno(), error, size, "rmdir(\"/" OLD_ROOT "\")");
        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
                return errorf(negative_errno(), error, size, "remounting / read-only");

        /* (The payload changes into /tmp itself, as its owner: without
         * CAP_DAC_OVERRIDE root may not enter a 0700 directory of another uid.) */
        return 0;
}

/* The init's mount namespace and the new root. */
static int sandbox_setup(const SandboxConfig *c, char *error, size_t size) {
        /* The PID, network, IPC and UTS namespaces came from the supervisor
         * (sandbox_prepare()). The mount namespace is the init's own: the
         * supervisor keeps the host's mounts. */
        if (unshare(CLONE_NEWNS) < 0)
                return errorf(negative_errno(), error, size, "unshare(CLONE_NEWNS)");

        return setup_root(c, error, size);
}

/*
 * The payload's part, between fork() and execve().
 */

static void record_write(int fd, SandboxRecordType type, int value, const char *format, ...) _printf_(4, 5);
static void record_write(int fd, SandboxRecordType type, int value, const char *format, ...) {
        SandboxRecord rec = { .type = type, .value = value };
        va_list ap;

        if (format) {
                va_start(ap, format);
                (void) vsnprintf(rec.text, sizeof rec.text, format, ap);
                va_end(ap);
        }
        (void) !write(fd, &rec, sizeof rec);
}

static void reset_signals(void) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;

        (void) sigaction(SIGTERM, &dfl, NULL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Soft = hard = @value, or the current hard limit if that is lower:
 * raising a hard limit needs CAP_SYS_RESOURCE, which the daemon may lack. */
static int rlimit_lower(int resource, rlim_t value) {
        struct rlimit rl;

        if (getrlimit(resource, &rl) < 0)
                return negative_errno();
        value = MIN(value, rl.rlim_max);
        rl = (struct rlimit) { value, value };
        if (setrlimit(resource, &rl) < 0)
                return negative_errno();
        return 0;
}

static int set_rlimits(const SandboxConfig *c, char *error, size_t size) {
        const struct {
                int resource;
                const char *name;
                rlim_t value;
        } limits[] = {
                /* No core files: a crash would write one wherever core_pattern says. */
                { RLIMIT_CORE,    "RLIMIT_CORE",    0 },
                { RLIMIT_FSIZE,   "RLIMIT_FSIZE",   c->file_size_max > 0 ? (rlim_t) c->file_size_max : RLIM_INFINITY },
                { RLIMIT_NOFILE,  "RLIMIT_NOFILE",  SANDBOX_RLIMIT_NOFILE },
                /* glibc's default thread stack size: more would multiply per thread. */
                { RLIMIT_STACK,   "RLIMIT_STACK",   SANDBOX_RLIMIT_STACK },
                /* Counts the processes and threads of the payload's uid, which
                 * is this execution's alone (not enforced for root). */
                { RLIMIT_NPROC,   "RLIMIT_NPROC",   c->tasks_max > 0 ? (rlim_t) c->tasks_max : RLIM_INFINITY },
                { RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", SANDBOX_RLIMIT_MEMLOCK },
        };

        for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
                int r = rlimit_lower(limits[i].resource, limits[i].value);
                if (r < 0)
                        return errorf(r, error, size, "setting %s", limits[i].name);
        }
        return 0;
}

static int capget_self(struct __user_cap_data_struct data[2]) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };

        return syscall(SYS_capget, &header, data) < 0 ? negative_errno() : 0;
}

/* Every capability from the bounding set while still root (that needs
 * CAP_SETPCAP), the ambient set cleared, no supplementary groups, then the
 * execution's uid and gid: setresuid() from root to a non-root uid empties
 * the permitted and effective sets; the inheritable set is emptied by hand.
 * Then checked: any capability left is a hard failure. */
static int drop_privileges(uid_t uid, char *error, size_t size) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = {};
        gid_t gid = (gid_t) uid;

        if (uid == 0)
                return errorf(-EINVAL, error, size, "refusing to run the payload as root");

        /* Up to the last capability the kernel knows: PR_CAPBSET_READ says
         * EINVAL beyond it (no /proc/sys/kernel/cap_last_cap needed). */
        for (unsigned long cap = 0;; cap++) {
                int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                if (r < 0) {
                        if (errno == EINVAL)
                                break;
                        return errorf(negative_errno(), error, size, "reading capability %lu of the bounding set", cap);
                }
                if (r > 0 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
                        return errorf(negative_errno(), error, size,
                                      "dropping capability %lu from the bounding set (the daemon needs CAP_SETPCAP)", cap);
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return errorf(negative_errno(), error, size, "clearing the ambient capabilities");

        if (setgroups(0, NULL) < 0)
                return errorf(negative_errno(), error, size, "setgroups(0, NULL)");
        if (setresgid(gid, gid, gid) < 0)
                return errorf(negative_errno(), error, size, "setresgid(%" PRIu32 ")", (uint32_t) gid);
        if (setresuid(uid, uid, uid) < 0)
                return errorf(negative_errno(), error, size, "setresuid(%" PRIu32 ")", (uint32_t) uid);

        /* Lowering is always allowed. */
        if (syscall(SYS_capset, &header, data) < 0)
                return errorf(negative_errno(), error, size, "capset() to nothing");

        if (capget_self(data) < 0)
                return errorf(negative_errno(), error, size, "capget()");
        for (size_t i = 0; i < ELEMENTSOF(data); i++)
                if (data[i].effective || data[i].permitted || data[i].inheritable)
                        return errorf(-EPERM, error, size,
                                      "capabilities left after the uid change (effective %#x, permitted %#x, inheritable %#x)",
                                      data[i].effective, data[i].permitted, data[i].inheritable);
        for (unsigned long cap = 0;; cap++) {
                int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
                if (r < 0 && errno == EINVAL)
                        break;
                if (r != 0)
                        return errorf(-EPERM, error, size, "capability %lu left in the bounding set", cap);
                r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
                if (r != 0 && !(r < 0 && errno == EINVAL))
                        return errorf(-EPERM, error, size, "capability %lu left in the ambient set", cap);
        }

        return 0;
}

/* Only fds 0–4 reach Python; @keep_fd (the record pipe, O_CLOEXEC) stays
 * open until execve() for the errors up to there. */
static int close_other_fds(int keep_fd, char *error, size_t size) {
        if (keep_fd < _SANDBOX_FD_MAX)
                return errorf(-EBADF, error, size, "the record pipe has fd %d", keep_fd);
        if (keep_fd > _SANDBOX_FD_MAX && close_range(_SANDBOX_FD_MAX, (unsigned) keep_fd - 1, 0) < 0)
                return errorf(negative_errno(), error, size, "close_range()");
        if (close_range((unsigned) keep_fd + 1, ~0U, 0) < 0)
                return errorf(negative_errno(), error, size, "close_range()");
        return 0;
}

/* After the init forked it; never returns. Every failure is an ERROR
 * record for the supervisor's report, never a word on the user's streams. */
static _noreturn_ void sandbox_payload_exec(const SandboxConfig *c, const SandboxPayload *p, int record_fd) {
        char error[sizeof ((SandboxRecord *) NULL)->text] = "";
        int r;

        /* Its own session and process group: no controlling terminal to
         * reach, and nothing of it shares the init's group. */
        if (setsid() < 0) {
                r = errorf(negative_errno(), error, sizeof error, "setsid()");
                goto fail;
        }

        r = set_rlimits(c, error, sizeof error);
        if (r < 0)
                goto fail;

        if (c->enabled) {
                r = drop_privileges(c->uid, error, sizeof error);
                if (r < 0)
                        goto fail;

                /* No execve() may give anything back: setuid bits, file
                 * capabilities. Also what lets an unprivileged process load
                 * a seccomp filter. */
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                        r = errorf(negative_errno(), error, sizeof error, "PR_SET_NO_NEW_PRIVS");
                        goto fail;
                }

                /* Its own /tmp is the working directory. */
                if (chdir("/tmp") < 0) {
                        r = errorf(negative_errno(), error, sizeof error, "chdir(\"/tmp\")");
                        goto fail;
                }
        }

        reset_signals();

        r = close_other_fds(record_fd, error, sizeof error);
        if (r < 0)
                goto fail;

        /* Last, right before execve(): the filter restricts what the set-up
         * above needed. The programs are ready (sandbox_prepare()): two
         * system calls, no allocation. */
        if (c->enabled) {
                r = seccomp_payload_programs_load(&p->seccomp);
                if (r < 0) {
                        (void) errorf(r, error, sizeof error, "loading the seccomp filters");
                        goto fail;
                }
        }

        execve(p->argv[0], p->argv, p->envp);
        r = errorf(negative_errno(), error, sizeof error, "could not start %s", p->argv[0]);

fail:
        record_write(record_fd, SANDBOX_RECORD_ERROR, -r, "%s", error);
        _exit(127);
}

/*
 * The init.
 */

/* The payload, for the init's signal forwarding (a process-wide value of the
 * init process only: it exists once per sandbox). */
static volatile pid_t init_forward_pid = 0;

static void init_forward_signal(int sig) {
        int saved_errno = errno;

        if (init_forward_pid > 0)
                (void) kill(init_forward_pid, sig);
        errno = saved_errno;
}

/* As PID 1 the init gets only signals it handles: it passes the usual
 * termination and user signals on to the payload (which may handle them,
 * e.g. KeyboardInterrupt for SIGINT), as an init should. */
static void init_forward_signals(pid_t payload) {
        static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
        struct sigaction sa = { .sa_handler = init_forward_signal, .sa_flags = SA_RESTART };

        init_forward_pid = payload;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
                (void) sigaction(forwarded[i], &sa, NULL);
}

/* Blocks until the supervisor says start (1 byte: true) or not (EOF: false). */
static bool init_wait_for_start(int fd) {
        for (;;) {
                char b;
                ssize_t n = read(fd, &b, 1);

                if (n == 1)
                        return true;
                if (n < 0 && errno == EINTR)
                        continue;
                return false;
        }
}

_Noreturn void sandbox_init_run(const SandboxConfig *c, const SandboxPayload *p, int record_fd, const int start_fds[2],
                                int oom_score_adj) {
        char adj[16], error[sizeof ((SandboxRecord *) NULL)->text] = "";
        pid_t payload;
        int fd, n;

        /* Only the supervisor may say start: without this copy of its end,
         * EOF means that it gave up or died, also if it died before
         * PR_SET_PDEATHSIG took effect (which getppid() cannot tell here:
         * it is 0, the parent being outside the namespace). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                _exit(EXIT_FAILURE);
        (void) close(start_fds[1]);

        /* Above the supervisor's: the OOM killer may and should choose the
         * payload (and whatever it starts), never the supervisor. (Through
         * the host's /proc: the new one is not mounted yet.) */
        n = snprintf(adj, sizeof adj, "%d", oom_score_adj);
        fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, adj, (size_t) n) != n) {
                record_write(record_fd, SANDBOX_RECORD_ERROR, errno, "could not reset oom_score_adj: %s", strerror(errno));
                _exit(EXIT_FAILURE);
        }
        (void) close(fd);

        /* The control and report pipes are the supervisor's alone. */
        (void) close(SANDBOX_FD_CONTROL);
        (void) close(SANDBOX_FD_REPORT);

        if (c->enabled && sandbox_setup(c, error, sizeof error) < 0) {
                record_write(record_fd, SANDBOX_RECORD_ERROR, 0, "%s", error);
                _exit(EXIT_FAILURE);
        }

        /* The supervisor found the scope's memory cgroup meanwhile (or not:
         * then nothing runs, and the supervisor reports why). */
        if (!init_wait_for_start(start_fds[0]))
                _exit(EXIT_FAILURE);
        (void) close(start_fds[0]);

        reset_signals();

        payload = fork();
        if (payload < 0) {
                record_write(record_fd, SANDBOX_RECORD_ERROR, errno, "could not fork the payload: %s", strerror(errno));
                _exit(EXIT_FAILURE);
        }
        if (payload == 0)
                sandbox_payload_exec(c, p, record_fd);

        init_forward_signals(payload);

        /* The payload's pipes are the payload's: the daemon sees EOF once it
         * (and what it started) closed them. */
        for (int i = 0; i < SANDBOX_FD_CONTROL; i++)
                (void) close(i);

        /* PID 1 of the namespace: everything orphaned inside lands here. */
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);

                if (pid < 0) {
                        if (errno == EINTR)
                                continue;
                        /* ECHILD cannot happen before the payload was reaped. */
                        record_write(record_fd, SANDBOX_RECORD_ERROR, errno, "waitpid() failed in the sandbox init: %s",
                                     strerror(errno));
                        _exit(EXIT_FAILURE);
                }

                if (pid == payload) {
                        record_write(record_fd, SANDBOX_RECORD_STATUS, status, NULL);
                        /* Exiting kills everything left in the namespace. */
                        _exit(EXIT_SUCCESS);
                }
        }
}
