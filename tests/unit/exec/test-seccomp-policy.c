/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The payload's seccomp policy (src/exec/seccomp-policy.c), tested for real:
 * each test forks a child that enters fresh PID, mount, network, IPC and UTS
 * namespaces (so whatever it does stays there, and nothing outlives it: when
 * the namespace's PID 1 exits the kernel kills the rest), sets NO_NEW_PRIVS,
 * loads the filters and probes them with raw system calls, or execs
 * /usr/bin/python3 -I under them. Needs root (exit 77, "skipped", otherwise).
 *
 * As in the sandbox, the BPF programs are built (and exported from
 * libseccomp) in the test process, before the two forks, and the grandchild
 * only loads them; libseccomp's own loading and the one-process
 * seccomp_load_payload_filter() are tested too.
 *
 * Most probes pass invalid arguments (-1 everywhere): should the filter let a
 * call through, the kernel rejects it without side effects, and the errno
 * differs from the filter's. The "probe" filter even denies with errno 4000,
 * which no system call returns, so a pass proves the filter answered.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/seccomp-policy.h"
#include "shared/macro.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

#define PYTHON "/usr/bin/python3"

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/* No system call returns it: only the test filter can. */
#define PROBE_ERRNO 4000

/* The workloads run unprivileged, as the payload does. */
#define UID_NOBODY 65534

/* Exit codes of the child's own set-up failures. */
#define EXIT_SETUP 125
#define EXIT_EXEC 126

typedef enum FilterKind {
        FILTER_NONE,                    /* control runs */
        FILTER_PAYLOAD,                 /* the sandbox's way: programs built before the forks
                                         * (seccomp_payload_programs_build(), EPERM), loaded in
                                         * the grandchild (seccomp_payload_programs_load()) */
        FILTER_PROBE,                   /* the same with denials as PROBE_ERRNO */
        FILTER_PROBE_LIBSECCOMP,        /* libseccomp's own loading in the grandchild:
                                         * seccomp_payload_filters_build() + _load(), PROBE_ERRNO */
        FILTER_IN_PROCESS,              /* seccomp_load_payload_filter() in the grandchild */
} FilterKind;

/* Runs under the filter; returns the child's exit code. Must not use ck_assert. */
typedef int (*ChildFunc)(const void *userdata);

/* In the grandchild: loads what @kind says; @programs were built before the forks. */
static int load_filter(FilterKind kind, const SeccompPayloadPrograms *programs) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx arg_filter = NULL, allow_filter = NULL;
        char error[256] = "";
        int r = 0;

        switch (kind) {
        case FILTER_NONE:
                return 0;
        case FILTER_PAYLOAD:
        case FILTER_PROBE:
                r = seccomp_payload_programs_load(programs);
                if (r < 0)
                        (void) snprintf(error, sizeof error, "seccomp_payload_programs_load(): %s", strerror(-r));
                break;
        case FILTER_PROBE_LIBSECCOMP:
                r = seccomp_payload_filters_build(SCMP_ARCH_NATIVE, PROBE_ERRNO, error, sizeof error,
                                                  &arg_filter, &allow_filter, NULL);
                if (r >= 0)
                        r = seccomp_payload_filters_load(arg_filter, allow_filter, error, sizeof error);
                break;
        case FILTER_IN_PROCESS:
                r = seccomp_load_payload_filter(error, sizeof error);
                break;
        }
        if (r < 0)
                fprintf(stderr, "load_filter: %s (%i)\n", error, r);
        return r;
}

/* In the test process, before any fork: the programs @kind loads, if any. */
static void build_programs(FilterKind kind, SeccompPayloadPrograms *ret) {
        char error[256] = "";
        int r;

        *ret = SECCOMP_PAYLOAD_PROGRAMS_NULL;
        if (kind != FILTER_PAYLOAD && kind != FILTER_PROBE)
                return;

        r = seccomp_payload_programs_build(kind == FILTER_PROBE ? PROBE_ERRNO : EPERM, error, sizeof error, ret);
        ck_assert_msg(r == 0, "building the programs: %s (%i)", error, r);
}

/* Forks C, which enters new namespaces and forks G, PID 1 of the new PID
 * namespace; G switches to @uid (unless 0), loads the filter and runs @func.
 * Returns G's exit code, or 128 + the signal that killed it, as a shell
 * would. */
static int run_filtered_as(uid_t uid, FilterKind kind, ChildFunc func, const void *userdata) {
        _cleanup_(seccomp_payload_programs_done) SeccompPayloadPrograms programs = SECCOMP_PAYLOAD_PROGRAMS_NULL;
        pid_t test = getpid(), pid;
        int status;

        /* As the supervisor does, before it forks the init. */
        build_programs(kind, &programs);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                const struct rlimit no_core = {};
                pid_t g;

                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != test)
                        _exit(EXIT_SETUP);
                /* The SIGSYS kills below would dump core otherwise. */
                if (setrlimit(RLIMIT_CORE, &no_core) < 0)
                        _exit(EXIT_SETUP);
                if (unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
                        perror("unshare");
                        _exit(EXIT_SETUP);
                }

                g = fork();
                if (g < 0)
                        _exit(EXIT_SETUP);
                if (g == 0) {
                        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                                _exit(EXIT_SETUP);
                        /* No controlling terminal: TIOCSTI or vhangup could not
                         * reach the one the tests run on even if let through. */
                        if (setsid() < 0)
                                _exit(EXIT_SETUP);
                        /* As the sandbox does: the uid first, then NO_NEW_PRIVS and
                         * the filter. */
                        if (uid != 0 &&
                            (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
                                _exit(EXIT_SETUP);
                        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                                _exit(EXIT_SETUP);
                        if (load_filter(kind, &programs) < 0)
                                _exit(EXIT_SETUP);
                        _exit(func(userdata));
                }

                while (waitpid(g, &status, 0) < 0)
                        if (errno != EINTR)
                                _exit(EXIT_SETUP);
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }

        while (waitpid(pid, &status, 0) < 0)
                ck_assert_int_eq(errno, EINTR);
        ck_assert_msg(WIFEXITED(status), "helper process died of signal %i", WTERMSIG(status));
        return WEXITSTATUS(status);
}

/* As root: probes that the kernel would let root do show the filter's work. */
static int run_filtered(FilterKind kind, ChildFunc func, const void *userdata) {
        return run_filtered_as(0, kind, func, userdata);
}

/* ---- checks inside the child ------------------------------------------ */

static void check_errno(unsigned *failures, const char *what, long r, int error, int expected) {
        if (r == -1 && error == expected)
                return;
        fprintf(stderr, "FAIL: %s returned %ld, errno %i (%s); expected errno %i\n",
                what, r, error, strerror(error), expected);
        (*failures)++;
}

static void check_ok(unsigned *failures, const char *what, long r, int error) {
        if (r >= 0)
                return;
        fprintf(stderr, "FAIL: %s failed: errno %i (%s)\n", what, error, strerror(error));
        (*failures)++;
}

#define EXPECT_ERRNO(failures, expected, expr)                          \
        ({                                                              \
                long _r;                                                \
                errno = 0;                                              \
                _r = (long) (expr);                                     \
                check_errno(failures, #expr, _r, errno, expected);      \
                _r;                                                     \
        })

#define EXPECT_OK(failures, expr)                                       \
        ({                                                              \
                long _r;                                                \
                errno = 0;                                              \
                _r = (long) (expr);                                     \
                check_ok(failures, #expr, _r, errno);                   \
                _r;                                                     \
        })

/* A raw system call with -1 in every argument register. */
static long syscall_garbage(long nr) {
        return syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L);
}

/* ---- the table itself -------------------------------------------------- */

static const PayloadSyscallRule *find_rule(const char *name, PayloadSyscallAction action) {
        const PayloadSyscallRule *policy;
        size_t n;

        policy = seccomp_payload_policy(&n);
        for (size_t i = 0; i < n; i++)
                if (policy[i].syscall && streq(policy[i].syscall, name) && policy[i].action == action)
                        return policy + i;
        return NULL;
}

/* Names newer than Debian 12's libseccomp 2.5.4: skipped there, as designed. */
static const char *const names_unknown_to_libseccomp[] = {
        "mseal", "riscv_hwprobe",
};

static bool is_known_newer_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(names_unknown_to_libseccomp); i++)
                if (streq(name, names_unknown_to_libseccomp[i]))
                        return true;
        return false;
}

START_TEST(test_table_consistent) {
        const PayloadSyscallRule *policy;
        size_t n;

        policy = seccomp_payload_policy(&n);
        ck_assert_uint_gt(n, 300);

        for (size_t i = 0; i < n; i++) {
                const PayloadSyscallRule *rule = policy + i;
                bool conditional = rule->action == PAYLOAD_SYSCALL_DENY_IF;

                ck_assert_ptr_nonnull(rule->syscall);
                ck_assert_msg(rule->reason && strlen(rule->reason) > 5, "%s has no reason", rule->syscall);
                ck_assert_msg(!strchr(rule->reason, '\n'), "%s: reason is not one line", rule->syscall);
                ck_assert_msg(conditional == (rule->condition != PAYLOAD_ARG_ANY),
                              "%s: condition and action disagree", rule->syscall);

                /* A typo would silently leave a call at ENOSYS. */
                if (!is_known_newer_name(rule->syscall))
                        ck_assert_msg(seccomp_syscall_resolve_name(rule->syscall) != __NR_SCMP_ERROR,
                                      "libseccomp does not know \"%s\"", rule->syscall);

                /* Pitfall: an unconditional ALLOW in the same filter would swallow
                 * the argument checks, so they live in the other filter, and the
                 * call must be allowed by the allow-list or they never matter. */
                if (conditional)
                        ck_assert_msg(find_rule(rule->syscall, PAYLOAD_SYSCALL_ALLOW),
                                      "%s has argument denials but no ALLOW entry", rule->syscall);
                else
                        for (size_t j = i + 1; j < n; j++)
                                ck_assert_msg(!streq(policy[j].syscall, rule->syscall) ||
                                              policy[j].action == PAYLOAD_SYSCALL_DENY_IF,
                                              "%s has two unconditional entries", rule->syscall);
        }
}
END_TEST

START_TEST(test_table_covers_issue) {
        static const char *const denied[] = {
                "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "perf_event_open",
                "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
                "fsconfig", "fsmount", "fspick", "mount_setattr", "unshare", "setns",
                "bpf", "userfaultfd", "keyctl", "add_key", "request_key",
                "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
                "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
                "io_uring_setup", "io_uring_enter", "io_uring_register",
                "open_by_handle_at", "name_to_handle_at", "fanotify_init", "syslog", "iopl", "ioperm",
                "modify_ldt", "uselib", "move_pages", "mbind", "migrate_pages", "set_mempolicy",
                "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
                "setdomainname", "vhangup", "lookup_dcookie", "sync", "syncfs",
        };
        static const char *const conditional[] = { "ioctl", "clone", "socket", "socketpair", "personality" };
        static const unsigned long clone_flags[] = {
                CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME,
        };
        const PayloadSyscallRule *policy;
        size_t n;

        for (size_t i = 0; i < ELEMENTSOF(denied); i++)
                ck_assert_msg(find_rule(denied[i], PAYLOAD_SYSCALL_DENY), "%s is not denied", denied[i]);
        for (size_t i = 0; i < ELEMENTSOF(conditional); i++)
                ck_assert_msg(find_rule(conditional[i], PAYLOAD_SYSCALL_DENY_IF),
                              "%s has no argument denial", conditional[i]);
        ck_assert_ptr_nonnull(find_rule("clone3", PAYLOAD_SYSCALL_ENOSYS));

        policy = seccomp_payload_policy(&n);
        for (size_t f = 0; f < ELEMENTSOF(clone_flags); f++) {
                bool found = false;

                for (size_t i = 0; i < n; i++)
                        if (policy[i].condition == PAYLOAD_ARG_CLONE_FLAGS && policy[i].mask == clone_flags[f])
                                found = true;
                ck_assert_msg(found, "clone flag 0x%lx is not denied", clone_flags[f]);
        }
}
END_TEST

/* ---- foreign architectures: the table builds, s390's clone is different - */

static char *export_pfc(scmp_filter_ctx ctx) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        off_t end;

        fd = memfd_create("pfc", MFD_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(seccomp_export_pfc(ctx, fd), 0);
        end = lseek(fd, 0, SEEK_END);
        ck_assert_int_gt(end, 0);
        buf = malloc(end + 1);
        ck_assert_ptr_nonnull(buf);
        while (size < (size_t) end) {
                ssize_t k = pread(fd, buf + size, end - size, size);

                ck_assert_int_gt(k, 0);
                size += k;
        }
        buf[size] = 0;
        return TAKE_PTR(buf);
}

/* The text of the PFC block for @syscall, up to the next block. */
static char *pfc_section(const char *pfc, const char *syscall) {
        _cleanup_free_ char *header = NULL;
        const char *start, *end;

        ck_assert_int_ge(asprintf(&header, "# filter for syscall \"%s\"", syscall), 0);
        start = strstr(pfc, header);
        ck_assert_msg(start, "no rules for %s in:\n%s", syscall, pfc);
        end = strstr(start + 1, "# filter for syscall");
        if (!end)
                end = strstr(start, "# default action");
        ck_assert_ptr_nonnull(end);
        return strndup(start, end - start);
}

START_TEST(test_build_every_arch) {
        static const uint32_t archs[] = {
                SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_ARM, SCMP_ARCH_AARCH64,
                SCMP_ARCH_MIPS, SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPSEL64N32, SCMP_ARCH_PPC,
                SCMP_ARCH_PPC64LE, SCMP_ARCH_S390, SCMP_ARCH_S390X, SCMP_ARCH_PARISC64,
                SCMP_ARCH_RISCV64,
        };

        for (size_t i = 0; i < ELEMENTSOF(archs); i++) {
                _cleanup_(seccomp_releasep) scmp_filter_ctx arg_filter = NULL, allow_filter = NULL;
                _cleanup_free_ char *pfc = NULL, *clone = NULL;
                char error[256] = "";
                unsigned skipped = UINT_MAX;
                bool s390 = archs[i] == SCMP_ARCH_S390 || archs[i] == SCMP_ARCH_S390X;
                int r;

                r = seccomp_payload_filters_build(archs[i], EPERM, error, sizeof error,
                                                  &arg_filter, &allow_filter, &skipped);
                ck_assert_msg(r == 0, "arch 0x%x: %s", archs[i], error);
                ck_assert_uint_lt(skipped, 100);

                pfc = export_pfc(arg_filter);
                clone = pfc_section(pfc, "clone");
                ck_assert_msg(strstr(clone, s390 ? "$a1" : "$a0") && !strstr(clone, s390 ? "$a0" : "$a1"),
                              "arch 0x%x: clone flags checked in the wrong argument:\n%s", archs[i], clone);
                ck_assert_ptr_nonnull(strstr(pfc, "action KILL_PROCESS"));
        }
}
END_TEST

START_TEST(test_build_rejects_bad_errno) {
        scmp_filter_ctx a = NULL, b = NULL;
        char error[256] = "";

        ck_assert_int_eq(seccomp_payload_filters_build(SCMP_ARCH_NATIVE, ENOSYS, error, sizeof error, &a, &b, NULL),
                         -EINVAL);
        ck_assert_ptr_nonnull(strstr(error, "Invalid errno"));
        ck_assert_int_eq(seccomp_payload_filters_build(SCMP_ARCH_NATIVE, 0, error, sizeof error, &a, &b, NULL),
                         -EINVAL);
        ck_assert_ptr_null(a);
        ck_assert_ptr_null(b);
}
END_TEST

/* ---- the ready BPF programs ---------------------------------------------- */

static bool program_returns(const struct sock_fprog *prog, uint32_t value) {
        for (unsigned i = 0; i < prog->len; i++)
                if (prog->filter[i].code == (BPF_RET | BPF_K) && prog->filter[i].k == value)
                        return true;
        return false;
}

static void check_program(const struct sock_fprog *prog, const char *name) {
        ck_assert_msg(prog->filter && prog->len > 0, "%s: empty", name);
        ck_assert_msg(prog->len <= BPF_MAXINSNS, "%s: %u instructions", name, prog->len);
        /* Every filter starts with the architecture check. */
        ck_assert_msg(prog->filter[0].code == (BPF_LD | BPF_W | BPF_ABS) &&
                      prog->filter[0].k == offsetof(struct seccomp_data, arch),
                      "%s does not load the architecture first", name);
        ck_assert_msg(program_returns(prog, SECCOMP_RET_KILL_PROCESS), "%s never kills (bad arch)", name);
        ck_assert_msg(program_returns(prog, SECCOMP_RET_ALLOW), "%s never allows", name);
}

START_TEST(test_programs_shape) {
        _cleanup_(seccomp_payload_programs_done) SeccompPayloadPrograms eperm = SECCOMP_PAYLOAD_PROGRAMS_NULL,
                                                                       probe = SECCOMP_PAYLOAD_PROGRAMS_NULL;
        char error[256] = "";

        ck_assert_int_eq(seccomp_payload_programs_build(EPERM, error, sizeof error, &eperm), 0);
        check_program(&eperm.arg, "argument filter");
        check_program(&eperm.allow, "allow-list");

        /* The argument filter allows by default and denies with EPERM; the
         * allow-list answers ENOSYS by default and EPERM for the denials. */
        ck_assert(program_returns(&eperm.arg, SECCOMP_RET_ERRNO | EPERM));
        ck_assert(!program_returns(&eperm.arg, SECCOMP_RET_ERRNO | ENOSYS));
        ck_assert(program_returns(&eperm.allow, SECCOMP_RET_ERRNO | EPERM));
        ck_assert(program_returns(&eperm.allow, SECCOMP_RET_ERRNO | ENOSYS));
        /* The binary tree keeps the allow-list far below the kernel's limit. */
        ck_assert_uint_lt(eperm.allow.len, BPF_MAXINSNS / 2);

        ck_assert_int_eq(seccomp_payload_programs_build(PROBE_ERRNO, error, sizeof error, &probe), 0);
        ck_assert(program_returns(&probe.arg, SECCOMP_RET_ERRNO | PROBE_ERRNO));
        ck_assert(program_returns(&probe.allow, SECCOMP_RET_ERRNO | PROBE_ERRNO));
        ck_assert(!program_returns(&probe.arg, SECCOMP_RET_ERRNO | EPERM));
        ck_assert(!program_returns(&probe.allow, SECCOMP_RET_ERRNO | EPERM));

        /* Done frees and resets; twice is harmless. */
        seccomp_payload_programs_done(&probe);
        ck_assert_ptr_null(probe.arg.filter);
        ck_assert_ptr_null(probe.allow.filter);
        ck_assert_uint_eq(probe.arg.len + probe.allow.len, 0);
        seccomp_payload_programs_done(&probe);
        seccomp_payload_programs_done(NULL);

        ck_assert_int_eq(seccomp_payload_programs_build(ENOSYS, error, sizeof error, &probe), -EINVAL);
        ck_assert_ptr_null(probe.arg.filter);
}
END_TEST

/* What libseccomp itself generates for the filters (seccomp_load() hands the
 * kernel the same program that seccomp_export_bpf() writes). */
static void libseccomp_program(scmp_filter_ctx ctx, struct sock_filter **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        struct sock_filter *insns;
        off_t end;

        fd = memfd_create("bpf", MFD_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(seccomp_export_bpf(ctx, fd), 0);
        end = lseek(fd, 0, SEEK_END);
        ck_assert_int_gt(end, 0);
        ck_assert_int_eq(end % sizeof(struct sock_filter), 0);
        insns = malloc(end);
        ck_assert_ptr_nonnull(insns);
        ck_assert_int_eq(pread(fd, insns, end, 0), end);
        *ret = insns;
        *ret_len = end / sizeof(struct sock_filter);
}

START_TEST(test_programs_match_libseccomp) {
        _cleanup_(seccomp_payload_programs_done) SeccompPayloadPrograms programs = SECCOMP_PAYLOAD_PROGRAMS_NULL;
        _cleanup_(seccomp_releasep) scmp_filter_ctx arg_filter = NULL, allow_filter = NULL;
        _cleanup_free_ struct sock_filter *arg = NULL, *allow = NULL;
        size_t n_arg, n_allow;
        char error[256] = "";

        ck_assert_int_eq(seccomp_payload_programs_build(EPERM, error, sizeof error, &programs), 0);
        ck_assert_int_eq(seccomp_payload_filters_build(SCMP_ARCH_NATIVE, EPERM, error, sizeof error,
                                                       &arg_filter, &allow_filter, NULL), 0);
        libseccomp_program(arg_filter, &arg, &n_arg);
        libseccomp_program(allow_filter, &allow, &n_allow);

        /* Every instruction read back, nothing added or lost. */
        ck_assert_uint_eq(programs.arg.len, n_arg);
        ck_assert_uint_eq(programs.allow.len, n_allow);
        ck_assert(memcmp(programs.arg.filter, arg, n_arg * sizeof(struct sock_filter)) == 0);
        ck_assert(memcmp(programs.allow.filter, allow, n_allow * sizeof(struct sock_filter)) == 0);

        /* The exported filters stay the caller's, and export again. */
        seccomp_payload_programs_done(&programs);
        ck_assert_int_eq(seccomp_payload_programs_export(arg_filter, allow_filter, error, sizeof error, &programs), 0);
        ck_assert_uint_eq(programs.allow.len, n_allow);
        ck_assert_int_eq(seccomp_payload_programs_export(NULL, allow_filter, error, sizeof error, &programs), -EINVAL);
        ck_assert_uint_eq(programs.allow.len, n_allow);         /* untouched on failure */
}
END_TEST

/* ---- every unconditional denial of the table --------------------------- */

static int child_table_denials(const void *userdata) {
        int expected = *(const int *) userdata;
        const PayloadSyscallRule *policy;
        unsigned failures = 0, probed = 0;
        size_t n;

        policy = seccomp_payload_policy(&n);
        for (size_t i = 0; i < n; i++) {
                int nr, want;
                long r;

                if (policy[i].action == PAYLOAD_SYSCALL_DENY)
                        want = expected;
                else if (policy[i].action == PAYLOAD_SYSCALL_ENOSYS)
                        want = ENOSYS;
                else
                        continue;

                nr = seccomp_syscall_resolve_name(policy[i].syscall);
                if (nr < 0)     /* not a system call of this architecture */
                        continue;
                errno = 0;
                r = syscall_garbage(nr);
                check_errno(&failures, policy[i].syscall, r, errno, want);
                probed++;
        }

        if (probed < 60) {
                fprintf(stderr, "FAIL: only %u denials probed\n", probed);
                failures++;
        }
        return failures > 0;
}

START_TEST(test_table_denials_probe) {
        int expected = PROBE_ERRNO;

        ck_assert_int_eq(run_filtered(FILTER_PROBE, child_table_denials, &expected), 0);
}
END_TEST

START_TEST(test_table_denials_eperm) {
        int expected = EPERM;

        ck_assert_int_eq(run_filtered(FILTER_PAYLOAD, child_table_denials, &expected), 0);
}
END_TEST

START_TEST(test_table_denials_libseccomp) {
        int expected = PROBE_ERRNO;

        ck_assert_int_eq(run_filtered(FILTER_PROBE_LIBSECCOMP, child_table_denials, &expected), 0);
}
END_TEST

/* ---- argument checks ---------------------------------------------------- */

static void *thread_main(void *p) {
        *(int *) p = 42;
        return NULL;
}

static int child_arguments(const void *userdata) {
        int deny = *(const int *) userdata;
        static const int families[] = { AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_VSOCK };
        static const unsigned long ns_flags[] = {
                CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
        };
        unsigned failures = 0;
        int pipefd[2], sv[2], one = 1, value = 0, status;
        pthread_t thread;
        long fd;
        pid_t pid;

        /* ioctl: all allowed but TIOCSTI and TIOCLINUX, also with garbage in
         * the upper half of the command register (the kernel ignores it). */
        EXPECT_OK(&failures, pipe2(pipefd, O_CLOEXEC));
        EXPECT_OK(&failures, ioctl(pipefd[0], FIONBIO, &one));
        EXPECT_OK(&failures, ioctl(pipefd[0], FIOCLEX));
        EXPECT_ERRNO(&failures, ENOTTY, ioctl(pipefd[0], TCGETS, &(char[256]) {}));
        EXPECT_ERRNO(&failures, deny, ioctl(pipefd[0], TIOCSTI, "x"));
        EXPECT_ERRNO(&failures, deny, ioctl(-1, TIOCSTI, "x"));
        EXPECT_ERRNO(&failures, deny, ioctl(-1, TIOCLINUX, "x"));
        EXPECT_ERRNO(&failures, deny, syscall(SYS_ioctl, -1, (1UL << 32) | TIOCSTI, "x"));

        /* Sockets: AF_UNIX only. */
        fd = EXPECT_OK(&failures, socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (fd >= 0)
                close(fd);
        fd = EXPECT_OK(&failures, socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (fd >= 0)
                close(fd);
        if (EXPECT_OK(&failures, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) >= 0) {
                EXPECT_OK(&failures, write(sv[0], "x", 1));
                EXPECT_OK(&failures, read(sv[1], &(char) { 0 }, 1));
        }
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                EXPECT_ERRNO(&failures, deny, socket(families[i], SOCK_DGRAM, 0));
                EXPECT_ERRNO(&failures, deny, socket(families[i], SOCK_RAW, 0));
        }
        EXPECT_ERRNO(&failures, deny, socketpair(AF_INET, SOCK_STREAM, 0, sv));
        EXPECT_ERRNO(&failures, deny, socketpair(AF_NETLINK, SOCK_DGRAM, 0, sv));
        /* The kernel would truncate this family to AF_UNIX: still denied. */
        EXPECT_ERRNO(&failures, deny, syscall(SYS_socket, (1UL << 32) | AF_UNIX, SOCK_STREAM, 0));

        /* personality: only the query and PER_LINUX. */
        EXPECT_OK(&failures, syscall(SYS_personality, 0xffffffffUL));
        EXPECT_OK(&failures, syscall(SYS_personality, (unsigned long) PER_LINUX));
        EXPECT_ERRNO(&failures, deny, syscall(SYS_personality, (unsigned long) READ_IMPLIES_EXEC));
        EXPECT_ERRNO(&failures, deny, syscall(SYS_personality, (unsigned long) ADDR_NO_RANDOMIZE));
        EXPECT_ERRNO(&failures, deny, syscall(SYS_personality, (unsigned long) PER_LINUX32));
        EXPECT_ERRNO(&failures, deny, syscall(SYS_personality, 0xfffffffeUL));
        EXPECT_ERRNO(&failures, deny, syscall(SYS_personality, 0x7fffffffUL));
        EXPECT_ERRNO(&failures, deny, syscall(SYS_personality, (1UL << 32) | READ_IMPLIES_EXEC));

        /* clone: no namespace flag, alone or with fork's usual ones. */
        for (size_t i = 0; i < ELEMENTSOF(ns_flags); i++) {
                long r;

                int error;

                errno = 0;
                r = syscall(SYS_clone, ns_flags[i] | SIGCHLD, 0L, 0L, 0L, 0L);
                error = errno;
                if (r == 0)     /* let through: the child leaves at once */
                        _exit(0);
                if (r > 0)
                        (void) waitpid(r, NULL, 0);
                check_errno(&failures, "clone(CLONE_NEW*)", r, error, deny);
        }
        EXPECT_ERRNO(&failures, deny, unshare(CLONE_NEWUSER));
        EXPECT_ERRNO(&failures, deny, unshare(0));
        EXPECT_ERRNO(&failures, ENOSYS, syscall(SYS_clone3, -1L, -1L));

        /* ...while fork() and threads work (glibc falls back from clone3). */
        pid = EXPECT_OK(&failures, fork());
        if (pid == 0)
                _exit(7);
        if (pid > 0 && EXPECT_OK(&failures, waitpid(pid, &status, 0)) > 0 &&
            !(WIFEXITED(status) && WEXITSTATUS(status) == 7)) {
                fprintf(stderr, "FAIL: forked child ended with status 0x%x\n", status);
                failures++;
        }
        if (pthread_create(&thread, NULL, thread_main, &value) != 0) {
                fprintf(stderr, "FAIL: pthread_create()\n");
                failures++;
        } else if (pthread_join(thread, NULL) != 0 || value != 42) {
                fprintf(stderr, "FAIL: the thread did not run\n");
                failures++;
        }

        return failures > 0;
}

START_TEST(test_arguments_probe) {
        int deny = PROBE_ERRNO;

        ck_assert_int_eq(run_filtered(FILTER_PROBE, child_arguments, &deny), 0);
}
END_TEST

START_TEST(test_arguments_eperm) {
        int deny = EPERM;

        ck_assert_int_eq(run_filtered(FILTER_PAYLOAD, child_arguments, &deny), 0);
}
END_TEST

START_TEST(test_arguments_libseccomp) {
        int deny = PROBE_ERRNO;

        ck_assert_int_eq(run_filtered(FILTER_PROBE_LIBSECCOMP, child_arguments, &deny), 0);
}
END_TEST

START_TEST(test_arguments_in_process) {
        int deny = EPERM;

        ck_assert_int_eq(run_filtered(FILTER_IN_PROCESS, child_arguments, &deny), 0);
}
END_TEST

/* ---- calls the table does not name -------------------------------------- */

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif

static int child_unlisted(const void *userdata) {
        unsigned failures = 0;
        long r;

        /* These all succeed without the filter (when the kernel has them). */
        r = EXPECT_ERRNO(&failures, ENOSYS, syscall(SYS_memfd_secret, 0L));
        if (r >= 0)
                close(r);
        EXPECT_ERRNO(&failures, ENOSYS, syscall(SYS_landlock_create_ruleset, NULL, 0L, 1L));
        EXPECT_ERRNO(&failures, ENOSYS, syscall(SYS_get_mempolicy, NULL, NULL, 0L, NULL, 0L));
        EXPECT_ERRNO(&failures, ENOSYS, syscall(SYS_capset, NULL, NULL));
        EXPECT_ERRNO(&failures, ENOSYS, syscall(SYS_seccomp, 1L /* SECCOMP_SET_MODE_FILTER */, 0L, NULL));
        /* A number far above any table: ENOSYS, not EPERM, nor a kill. */
        EXPECT_ERRNO(&failures, ENOSYS, syscall(1023L));
        EXPECT_ERRNO(&failures, ENOSYS, syscall(100000L));
        return failures > 0;
}

START_TEST(test_unlisted_enosys) {
        ck_assert_int_eq(run_filtered(FILTER_PAYLOAD, child_unlisted, NULL), 0);
}
END_TEST

/* ---- a parent filter that denies seccomp(2) ------------------------------ */

static int child_parent_denies_seccomp(const void *userdata) {
        /* What SystemCallFilter= without "seccomp" does to the service, in raw
         * BPF so that libseccomp learns nothing from setting it up. */
        struct sock_filter insns[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(insns), .filter = insns };
        char error[256] = "";
        unsigned failures = 0;
        int r;

        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                return EXIT_SETUP;

        /* It must fail loudly, never load a weaker filter. Which error depends
         * on what libseccomp already knew about the kernel: in a fresh
         * process (Check's fork mode, the sandbox) it cannot detect
         * KILL_PROCESS; otherwise its seccomp(2) call itself is refused. */
        r = seccomp_load_payload_filter(error, sizeof error);
        if (r >= 0 || !error[0]) {
                fprintf(stderr, "FAIL: the filter loaded (%i) under a parent that denies seccomp(2)\n", r);
                failures++;
        }
        if (r == -EINVAL && !strstr(error, "SystemCallFilter=seccomp")) {
                fprintf(stderr, "FAIL: unhelpful error: %s\n", error);
                failures++;
        }
        /* Nothing but the parent filter is in place. */
        EXPECT_ERRNO(&failures, ESRCH, syscall(SYS_ptrace, PTRACE_PEEKDATA, 0x7fffffffL, 0L, 0L));
        return failures > 0;
}

START_TEST(test_parent_denies_seccomp) {
        ck_assert_int_eq(run_filtered(FILTER_NONE, child_parent_denies_seccomp, NULL), 0);
}
END_TEST

/* A raw parent filter that answers seccomp(2) with @error, allowing the rest
 * (prctl(PR_SET_SECCOMP) included). */
static int load_parent_filter(int error) {
        struct sock_filter insns[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t) error),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(insns), .filter = insns };

        return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Ready programs (built before the forks, where seccomp(2) works) under a
 * parent that refuses seccomp(2) with EPERM: a loud failure, nothing
 * loaded, never the same programs through prctl(). */
static int child_programs_parent_eperm(const void *userdata) {
        const SeccompPayloadPrograms *programs = userdata;
        unsigned failures = 0;
        int r;

        if (load_parent_filter(EPERM) < 0)
                return EXIT_SETUP;

        r = seccomp_payload_programs_load(programs);
        if (r != -EPERM) {
                fprintf(stderr, "FAIL: loading under a parent that denies seccomp(2) gave %i\n", r);
                failures++;
        }
        /* Only the parent filter: ptrace reaches the kernel, which finds no such process. */
        EXPECT_ERRNO(&failures, ESRCH, syscall(SYS_ptrace, PTRACE_PEEKDATA, 0x7fffffffL, 0L, 0L));
        return failures > 0;
}

/* Where seccomp(2) answers ENOSYS (a kernel without it) the programs go in
 * with prctl(PR_SET_SECCOMP), as libseccomp does it: both of them. */
static int child_programs_parent_enosys(const void *userdata) {
        const SeccompPayloadPrograms *programs = userdata;
        unsigned failures = 0;
        int r;

        if (load_parent_filter(ENOSYS) < 0)
                return EXIT_SETUP;

        r = seccomp_payload_programs_load(programs);
        if (r != 0) {
                fprintf(stderr, "FAIL: the prctl() fallback gave %i\n", r);
                failures++;
        }
        /* The allow-list's denial, and the argument filter's. */
        EXPECT_ERRNO(&failures, EPERM, syscall(SYS_ptrace, PTRACE_PEEKDATA, 0x7fffffffL, 0L, 0L));
        EXPECT_ERRNO(&failures, EPERM, ioctl(-1, TIOCSTI, "x"));
        return failures > 0;
}

/* Incomplete programs load nothing. */
static int child_programs_invalid(const void *userdata) {
        const SeccompPayloadPrograms *programs = userdata;
        SeccompPayloadPrograms half = { .arg = programs->arg };
        SeccompPayloadPrograms empty = SECCOMP_PAYLOAD_PROGRAMS_NULL;
        unsigned failures = 0;

        if (seccomp_payload_programs_load(NULL) != -EINVAL ||
            seccomp_payload_programs_load(&empty) != -EINVAL ||
            seccomp_payload_programs_load(&half) != -EINVAL) {
                fprintf(stderr, "FAIL: incomplete programs were not refused\n");
                failures++;
        }
        if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0) {
                fprintf(stderr, "FAIL: a filter was loaded from incomplete programs\n");
                failures++;
        }
        /* The real ones then load, and the second filter is in place last:
         * seccomp(2) itself is gone. */
        EXPECT_OK(&failures, seccomp_payload_programs_load(programs) == 0 ? 0 : -1);
        EXPECT_ERRNO(&failures, ENOSYS, syscall(SYS_seccomp, 1L /* SECCOMP_SET_MODE_FILTER */, 0L, NULL));
        return failures > 0;
}

START_TEST(test_programs_parent_denies_seccomp) {
        _cleanup_(seccomp_payload_programs_done) SeccompPayloadPrograms programs = SECCOMP_PAYLOAD_PROGRAMS_NULL;

        build_programs(FILTER_PAYLOAD, &programs);
        ck_assert_int_eq(run_filtered(FILTER_NONE, child_programs_parent_eperm, &programs), 0);
        ck_assert_int_eq(run_filtered(FILTER_NONE, child_programs_parent_enosys, &programs), 0);
}
END_TEST

START_TEST(test_programs_invalid) {
        _cleanup_(seccomp_payload_programs_done) SeccompPayloadPrograms programs = SECCOMP_PAYLOAD_PROGRAMS_NULL;

        build_programs(FILTER_PAYLOAD, &programs);
        ck_assert_int_eq(run_filtered(FILTER_NONE, child_programs_invalid, &programs), 0);
}
END_TEST

/* ---- foreign ABIs are killed ------------------------------------------- */

static int child_x32_getpid(const void *userdata) {
#if defined(__x86_64__)
        (void) syscall(0x40000000L | SYS_getpid);
#endif
        return 0;
}

static int child_i386_getpid(const void *userdata) {
#if defined(__x86_64__)
        long r = 20;    /* __NR_getpid of i386 */

        __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
#endif
        return 0;
}

START_TEST(test_x32_killed) {
#if defined(__x86_64__)
        /* Without the filter the kernel answers (ENOSYS when x32 is not built
         * in), it never sends SIGSYS: the kill is the filter's. */
        ck_assert_int_ne(run_filtered(FILTER_NONE, child_x32_getpid, NULL), 128 + SIGSYS);
        ck_assert_int_eq(run_filtered(FILTER_PAYLOAD, child_x32_getpid, NULL), 128 + SIGSYS);
#endif
}
END_TEST

START_TEST(test_i386_killed) {
#if defined(__x86_64__)
        ck_assert_int_ne(run_filtered(FILTER_NONE, child_i386_getpid, NULL), 128 + SIGSYS);
        ck_assert_int_eq(run_filtered(FILTER_PAYLOAD, child_i386_getpid, NULL), 128 + SIGSYS);
#endif
}
END_TEST

/* ---- the real payload: CPython 3.11 with numpy, pandas, matplotlib ------ */

typedef struct PythonRun {
        const char *dir;
        const char *script;
} PythonRun;

static int child_python(const void *userdata) {
        const PythonRun *run = userdata;
        char home[PATH_MAX], tmpdir[PATH_MAX], mpl[PATH_MAX];
        char *argv[] = { (char *) PYTHON, (char *) "-I", (char *) "-B", (char *) "-c", (char *) run->script, NULL };
        char *envp[] = {
                (char *) "PATH=/usr/bin:/bin",
                (char *) "LANG=C.UTF-8",
                home, tmpdir, mpl,
                (char *) "OPENBLAS_NUM_THREADS=3",
                (char *) "OMP_NUM_THREADS=3",
                NULL,
        };

        (void) snprintf(home, sizeof home, "HOME=%s", run->dir);
        (void) snprintf(tmpdir, sizeof tmpdir, "TMPDIR=%s", run->dir);
        (void) snprintf(mpl, sizeof mpl, "MPLCONFIGDIR=%s/matplotlib", run->dir);
        if (chdir(run->dir) < 0)
                return EXIT_SETUP;
        execve(PYTHON, argv, envp);
        perror("execve " PYTHON);
        return EXIT_EXEC;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

/* Runs @script with python3 -I -B -c under the payload filter, as @uid. */
static void run_python(uid_t uid, const char *script) {
        char dir[] = "/tmp/test-seccomp-python-XXXXXX";
        PythonRun run = { .dir = dir, .script = script };
        int code;

        if (access(PYTHON, X_OK) < 0) {
                fprintf(stderr, "%s missing, skipping\n", PYTHON);
                return;
        }
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(chown(dir, uid, uid), 0);
        code = run_filtered_as(uid, FILTER_PAYLOAD, child_python, &run);
        (void) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        ck_assert_msg(code == 0, "python exited with %i", code);
}

START_TEST(test_python_stdlib) {
        run_python(UID_NOBODY,
                "import asyncio, concurrent.futures, ctypes, decimal, hashlib, json, lzma, mmap\n"
                "import multiprocessing, os, resource, select, shutil, signal, socket, sqlite3, ssl\n"
                "import subprocess, tempfile, threading, zlib\n"
                "\n"
                "def square(x):\n"
                "    return x * x\n"
                "\n"
                "out = []\n"
                "threads = [threading.Thread(target=out.append, args=(i,)) for i in range(8)]\n"
                "for t in threads: t.start()\n"
                "for t in threads: t.join()\n"
                "assert sorted(out) == list(range(8))\n"
                "with concurrent.futures.ThreadPoolExecutor(4) as ex:\n"
                "    assert list(ex.map(square, range(20))) == [x * x for x in range(20)]\n"
                "with multiprocessing.Pool(2) as pool:\n"
                "    assert pool.map(square, range(20)) == [x * x for x in range(20)]\n"
                "\n"
                "assert subprocess.run(['/bin/true']).returncode == 0\n"
                "assert subprocess.run(['/bin/echo', 'hi'], capture_output=True).stdout == b'hi\\n'\n"
                "\n"
                "async def main():\n"
                "    p = await asyncio.create_subprocess_exec('/bin/echo', 'async', stdout=asyncio.subprocess.PIPE)\n"
                "    data, _ = await p.communicate()\n"
                "    assert data == b'async\\n' and p.returncode == 0, (data, p.returncode)\n"
                "    assert await asyncio.get_running_loop().run_in_executor(None, square, 3) == 9\n"
                "    await asyncio.sleep(0.01)\n"
                "asyncio.run(main())\n"
                "\n"
                "con = sqlite3.connect(':memory:')\n"
                "con.execute('create table t (k text, v int)')\n"
                "con.executemany('insert into t values (?, ?)', [('a', 1), ('b', 2), ('a', 3)])\n"
                "assert con.execute(\"select sum(v) from t where k = 'a'\").fetchone() == (4,)\n"
                "\n"
                "d = tempfile.mkdtemp()\n"
                "db = sqlite3.connect(os.path.join(d, 'x.db'))\n"
                "db.execute('create table t (x)'); db.execute('insert into t values (1)'); db.commit(); db.close()\n"
                "with open(os.path.join(d, 'f'), 'wb') as f:\n"
                "    f.write(os.urandom(100000))\n"
                "shutil.copy2(os.path.join(d, 'f'), os.path.join(d, 'g'))\n"
                "shutil.copytree(d, d + '.copy')\n"
                "os.mkfifo(os.path.join(d, 'fifo'))\n"
                "shutil.rmtree(d); shutil.rmtree(d + '.copy')\n"
                "with tempfile.NamedTemporaryFile() as f:\n"
                "    f.write(b'x'); f.flush(); os.fsync(f.fileno())\n"
                "\n"
                "a, b = socket.socketpair()\n"
                "a.sendall(b'ping')\n"
                "assert select.select([b], [], [], 5)[0] == [b]\n"
                "p = select.poll(); p.register(b, select.POLLIN); assert p.poll(5000)\n"
                "e = select.epoll(); e.register(b, select.EPOLLIN); assert e.poll(5)\n"
                "assert b.recv(4) == b'ping'\n"
                "with tempfile.TemporaryDirectory() as t:\n"
                "    srv = socket.socket(socket.AF_UNIX); srv.bind(os.path.join(t, 's')); srv.listen()\n"
                "    cli = socket.socket(socket.AF_UNIX); cli.connect(os.path.join(t, 's'))\n"
                "    conn, _ = srv.accept(); cli.sendall(b'x'); assert conn.recv(1) == b'x'\n"
                "\n"
                "fired = []\n"
                "signal.signal(signal.SIGUSR1, lambda *a: fired.append(1))\n"
                "os.kill(os.getpid(), signal.SIGUSR1)\n"
                "assert fired\n"
                "assert signal.alarm(10) == 0\n"
                "assert signal.alarm(0) in (9, 10)\n"
                "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
                "signal.setitimer(signal.ITIMER_REAL, 0.01)\n"
                "assert signal.sigwait({signal.SIGALRM}) == signal.SIGALRM\n"
                "\n"
                "m = mmap.mmap(-1, 1 << 20); m[:5] = b'hello'; assert m[:5] == b'hello'; m.close()\n"
                "fd = os.memfd_create('x'); os.ftruncate(fd, 4096)\n"
                "m = mmap.mmap(fd, 4096); m[0] = 65; m.close(); os.close(fd)\n"
                "efd = os.eventfd(0); os.eventfd_write(efd, 3); assert os.eventfd_read(efd) == 3\n"
                "os.close(os.pidfd_open(os.getpid()))\n"
                "assert len(os.getrandom(16)) == 16\n"
                "assert os.sched_getaffinity(0)\n"
                "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
                "resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512), hard))\n"
                "os.closerange(600, 700)\n"
                "\n"
                "libc = ctypes.CDLL(None)\n"
                "CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))\n"
                "arr = (ctypes.c_int * 5)(5, 1, 4, 2, 3)\n"
                "libc.qsort(arr, 5, ctypes.sizeof(ctypes.c_int), CMP(lambda x, y: x[0] - y[0]))\n"
                "assert list(arr) == [1, 2, 3, 4, 5]\n"
                "\n"
                "ssl.create_default_context()\n"
                "assert hashlib.sha256(b'abc').hexdigest().startswith('ba7816bf')\n"
                "assert json.loads(json.dumps({'a': [1]})) == {'a': [1]}\n"
                "assert decimal.Decimal('1.1') + decimal.Decimal('2.2') == decimal.Decimal('3.3')\n"
                "assert zlib.decompress(zlib.compress(b'x' * 1000)) == b'x' * 1000\n"
                "assert lzma.decompress(lzma.compress(b'y' * 1000)) == b'y' * 1000\n"
                "print('stdlib ok')\n");
}
END_TEST

START_TEST(test_python_numpy) {
        run_python(UID_NOBODY,
                "import threading\n"
                "import numpy as np\n"
                "a = np.random.default_rng(1).random((300, 300))\n"
                "b = a @ a.T\n"
                "assert np.allclose(b, b.T)\n"
                "c = b + 300 * np.eye(300)\n"
                "assert np.allclose(np.linalg.inv(c) @ c, np.eye(300))\n"
                "results = []\n"
                "def work():\n"
                "    results.append(float(np.trace(a @ a)))\n"
                "threads = [threading.Thread(target=work) for _ in range(3)]\n"
                "for t in threads: t.start()\n"
                "for t in threads: t.join()\n"
                "assert len(results) == 3 and max(results) - min(results) <= 1e-9 * abs(results[0])\n"
                "print('numpy ok')\n");
}
END_TEST

START_TEST(test_python_pandas) {
        run_python(UID_NOBODY,
                "import pandas as pd\n"
                "df = pd.DataFrame({'k': list('abcab'), 'v': range(5)})\n"
                "assert df.groupby('k')['v'].sum().to_dict() == {'a': 3, 'b': 5, 'c': 2}\n"
                "assert df.describe().loc['count', 'v'] == 5\n"
                "print('pandas ok')\n");
}
END_TEST

START_TEST(test_python_matplotlib) {
        run_python(UID_NOBODY,
                "import io, matplotlib\n"
                "matplotlib.use('Agg')\n"
                "import matplotlib.pyplot as plt\n"
                "fig, ax = plt.subplots()\n"
                "ax.plot([1, 2, 3], [1, 4, 9]); ax.set_title('squares')\n"
                "buf = io.BytesIO()\n"
                "fig.savefig(buf, format='png')\n"
                "assert buf.getvalue()[:8] == b'\\x89PNG\\r\\n\\x1a\\n'\n"
                "print('matplotlib ok')\n");
}
END_TEST

START_TEST(test_python_denials) {
        /* As root, whom the kernel would let do all of it: what fails is the filter's doing. */
        run_python(0,
                "import ctypes, fcntl, os, socket, termios, threading, time\n"
                "\n"
                "def denied(fn, *args):\n"
                "    try:\n"
                "        fn(*args)\n"
                "    except PermissionError:\n"
                "        return\n"
                "    raise AssertionError(f'{fn.__name__}{args} was not denied')\n"
                "\n"
                "for fam in (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK, socket.AF_PACKET, socket.AF_VSOCK):\n"
                "    denied(socket.socket, fam, socket.SOCK_DGRAM)\n"
                "denied(socket.socket, socket.AF_INET)\n"
                "denied(socket.socketpair, socket.AF_INET)\n"
                "\n"
                "libc = ctypes.CDLL(None, use_errno=True)\n"
                "def libc_call(name, *args):\n"
                "    if getattr(libc, name)(*args) == -1:\n"
                "        e = ctypes.get_errno()\n"
                "        raise OSError(e, os.strerror(e))\n"
                "denied(libc_call, 'unshare', 0x10000000)\n"
                "denied(libc_call, 'mount', b'none', b'/mnt', b'tmpfs', 0, None)\n"
                "denied(libc_call, 'umount2', b'/', 0)\n"
                "denied(libc_call, 'chroot', b'/')\n"
                "denied(libc_call, 'personality', 0x0400000)\n"
                "denied(libc_call, 'ptrace', 16, 1, None, None)\n"
                "r, w = os.pipe()\n"
                "denied(fcntl.ioctl, r, termios.TIOCSTI, b'x')\n"
                "denied(socket.sethostname, 'evil')\n"
                "denied(time.clock_settime, time.CLOCK_REALTIME, 0.0)\n"
                "\n"
                "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
                "print('denials ok')\n");
}
END_TEST

static Suite *seccomp_policy_suite(void) {
        Suite *s = suite_create("seccomp-policy");
        TCase *tc_table = tcase_create("table");
        TCase *tc_filter = tcase_create("filter");
        TCase *tc_python = tcase_create("python");

        tcase_add_test(tc_table, test_table_consistent);
        tcase_add_test(tc_table, test_table_covers_issue);
        tcase_add_test(tc_table, test_build_every_arch);
        tcase_add_test(tc_table, test_build_rejects_bad_errno);
        tcase_add_test(tc_table, test_programs_shape);
        tcase_add_test(tc_table, test_programs_match_libseccomp);
        suite_add_tcase(s, tc_table);

        tcase_add_test(tc_filter, test_table_denials_probe);
        tcase_add_test(tc_filter, test_table_denials_eperm);
        tcase_add_test(tc_filter, test_table_denials_libseccomp);
        tcase_add_test(tc_filter, test_arguments_probe);
        tcase_add_test(tc_filter, test_arguments_eperm);
        tcase_add_test(tc_filter, test_arguments_libseccomp);
        tcase_add_test(tc_filter, test_arguments_in_process);
        tcase_add_test(tc_filter, test_unlisted_enosys);
        tcase_add_test(tc_filter, test_parent_denies_seccomp);
        tcase_add_test(tc_filter, test_programs_parent_denies_seccomp);
        tcase_add_test(tc_filter, test_programs_invalid);
        tcase_add_test(tc_filter, test_x32_killed);
        tcase_add_test(tc_filter, test_i386_killed);
        suite_add_tcase(s, tc_filter);

        /* Imports of numpy, pandas and matplotlib (whose font cache is built
         * afresh in each run's private directory) take seconds; the
         * timeout is a backstop against hangs, not a measurement. */
        tcase_set_tags(tc_python, "python");
        tcase_set_timeout(tc_python, 180);
        tcase_add_test(tc_python, test_python_stdlib);
        tcase_add_test(tc_python, test_python_numpy);
        tcase_add_test(tc_python, test_python_pandas);
        tcase_add_test(tc_python, test_python_matplotlib);
        tcase_add_test(tc_python, test_python_denials);
        suite_add_tcase(s, tc_python);

        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        if (geteuid() != 0) {
                fprintf(stderr, "needs root (namespaces keep the filtered children contained), skipping\n");
                return 77;
        }

        sr = srunner_create(seccomp_policy_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
