/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The payload's system call policy: one table, turned into two stacked
 * libseccomp filters.
 *
 *  - The ALLOW-LIST ("allow filter"): default ERRNO(ENOSYS), so system calls
 *    the table does not name, and those newer kernels add, stay closed; glibc
 *    and CPython read ENOSYS as "old kernel" and fall back. It holds every
 *    ALLOW entry and every unconditional DENY (EPERM) entry.
 *
 *  - The ARGUMENT FILTER: default ALLOW, holding only the DENY_IF entries
 *    (ioctl commands, socket families, clone flags, personality values).
 *
 * Why two: in one filter an unconditional ALLOW of a system call silently
 * swallows the conditional ERRNO rules of the same call (libseccomp 2.5.4,
 * checked with seccomp_export_pfc), and an allow-list cannot add "allowed
 * except..." in another way: a rule whose action equals the filter's default
 * is refused with -EACCES, and a rule may compare each argument only once.
 * The kernel runs every stacked filter and keeps the most restrictive answer,
 * so "ioctl allowed" in the allow-list plus "ioctl(TIOCSTI) → EPERM" in the
 * argument filter gives exactly what the table says.
 *
 * Load order: the argument filter FIRST, the allow-list LAST. Loading a filter
 * is itself a system call (seccomp(2), or prctl(PR_SET_SECCOMP) as libseccomp's
 * fallback) and it has to pass every filter already loaded. The argument
 * filter lets everything through but its few argument checks, so the
 * allow-list can be loaded after it; the allow-list does not allow seccomp(2)
 * (nothing in the payload needs to stack filters), so nothing can be loaded
 * after it. The sandbox loads ready programs (seccomp_payload_programs_*()):
 * libseccomp built and compiled them in the supervisor, before the fork, and
 * exported them with seccomp_export_bpf(); the payload makes just the two
 * seccomp(2) calls, then execve() and, on failure, write() to report it, all
 * of which the allow-list allows. (seccomp_payload_filters_load(), libseccomp's
 * own loading, does more around the second seccomp(2) call: compile the BPF,
 * allocate and free memory, probe the kernel's API level with seccomp(2)
 * again; all of it passes the argument filter, and after it only freeing
 * memory (brk/munmap, allowed) is left.)
 *
 * The daemon's unit filter (SystemCallFilter=) sits under both and must
 * allow seccomp(2): otherwise libseccomp cannot detect the kernel's API level
 * and refuses SCMP_ACT_KILL_PROCESS (notes §5.2 pitfall 3), and the payload
 * could not load the programs either.
 *
 * Architectures: each filter holds the native architecture only, with
 * SCMP_FLTATR_ACT_BADARCH = KILL_PROCESS. On x86_64 this also kills x32 system
 * calls (numbers with bit 30 set), which libseccomp treats as another
 * architecture, and i386 calls made with "int $0x80". This is the policy's
 * only kill; every other denial is an error that Python turns into an
 * exception.
 *
 * Names: the table uses libseccomp's names and lists the 32-bit and
 * per-architecture variants too (fstat64, _llseek, *_time64, socketcall...),
 * so the same table serves every architecture libseccomp supports. A name this
 * libseccomp does not know, or a call the architecture does not have, is
 * skipped silently: the allow-list's default then answers ENOSYS for it.
 */

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exec/seccomp-policy.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

/* The kernel's errno range: SECCOMP_RET_DATA is clamped to it. */
#define ERRNO_MAX 4095

/*
 * Why the allowed groups are allowed. The walls around these calls are the
 * kernel's own checks: an unprivileged uid without capabilities, the
 * read-only mount namespace, the PID/IPC/UTS/network namespaces, rlimits and
 * the scope's cgroup limits.
 */
#define WHY_FD          "I/O on descriptors the payload already holds"
#define WHY_FS          "file system access, checked by file modes and the read-only mount namespace"
#define WHY_XATTR       "extended attributes of files the payload may write (shutil.copystat); trusted.* and security.* need capabilities"
#define WHY_MEMORY      "memory management of the payload's own address space"
#define WHY_PROCESS     "processes and threads, confined to the payload's PID namespace"
#define WHY_SCHED       "scheduling of the payload's own tasks; raising priority needs CAP_SYS_NICE"
#define WHY_IDS         "reading ids and limits; without capabilities they can only be narrowed"
#define WHY_SIGNAL      "signals, delivered only within the payload's uid and PID namespace"
#define WHY_TIME        "reading clocks, sleeping and timers"
#define WHY_EVENTS      "waiting for events (select, poll, epoll, eventfd, inotify)"
#define WHY_IPC         "pipes, AF_UNIX sockets and the IPC objects of the payload's own IPC namespace"
#define WHY_ARCH        "architecture-specific start-up, TLS and instruction-cache calls"

#define ALLOW(name, why) \
        { name, PAYLOAD_SYSCALL_ALLOW, PAYLOAD_ARG_ANY, 0, 0, 0, why }
#define DENY(name, why) \
        { name, PAYLOAD_SYSCALL_DENY, PAYLOAD_ARG_ANY, 0, 0, 0, why }
#define NOSYS(name, why) \
        { name, PAYLOAD_SYSCALL_ENOSYS, PAYLOAD_ARG_ANY, 0, 0, 0, why }
#define DENY_IF_NE(name, a, v, why) \
        { name, PAYLOAD_SYSCALL_DENY_IF, PAYLOAD_ARG_NE, a, 0, v, why }
/* ioctl's command is an unsigned int: compare the low 32 bits only, or
 * garbage in the upper half of the register would slip past the check
 * while the kernel truncates it away. */
#define DENY_IF_IOCTL(cmd, why) \
        { "ioctl", PAYLOAD_SYSCALL_DENY_IF, PAYLOAD_ARG_MASKED_EQ, 1, UINT32_MAX, cmd, why }
#define DENY_IF_CLONE(flag, why) \
        { "clone", PAYLOAD_SYSCALL_DENY_IF, PAYLOAD_ARG_CLONE_FLAGS, 0, flag, flag, why }
#define DENY_IF_PERSONA_CHANGE(why) \
        { "personality", PAYLOAD_SYSCALL_DENY_IF, PAYLOAD_ARG_PERSONA_CHANGE, 0, 0, 0, why }

static const PayloadSyscallRule payload_policy[] = {
        /* ------------------------------------------------------------------ */
        /* Allowed                                                             */
        /* ------------------------------------------------------------------ */

        ALLOW("read", WHY_FD),
        ALLOW("write", WHY_FD),
        ALLOW("readv", WHY_FD),
        ALLOW("writev", WHY_FD),
        ALLOW("pread64", WHY_FD),
        ALLOW("pwrite64", WHY_FD),
        ALLOW("preadv", WHY_FD),
        ALLOW("pwritev", WHY_FD),
        ALLOW("preadv2", WHY_FD),
        ALLOW("pwritev2", WHY_FD),
        ALLOW("lseek", WHY_FD),
        ALLOW("_llseek", WHY_FD),
        ALLOW("close", WHY_FD),
        ALLOW("close_range", WHY_FD),
        ALLOW("dup", WHY_FD),
        ALLOW("dup2", WHY_FD),
        ALLOW("dup3", WHY_FD),
        ALLOW("fcntl", WHY_FD),
        ALLOW("fcntl64", WHY_FD),
        ALLOW("ioctl", "terminal and device control (TCGETS, FIONBIO, FIOCLEX...); TIOCSTI and TIOCLINUX are denied below"),
        ALLOW("flock", WHY_FD),
        ALLOW("fsync", WHY_FD),
        ALLOW("fdatasync", WHY_FD),
        ALLOW("sync_file_range", WHY_FD),
        ALLOW("sync_file_range2", WHY_FD),
        ALLOW("fallocate", WHY_FD),
        ALLOW("ftruncate", WHY_FD),
        ALLOW("ftruncate64", WHY_FD),
        ALLOW("fadvise64", WHY_FD),
        ALLOW("fadvise64_64", WHY_FD),
        ALLOW("arm_fadvise64_64", WHY_FD),
        ALLOW("readahead", WHY_FD),
        ALLOW("sendfile", WHY_FD),
        ALLOW("sendfile64", WHY_FD),
        ALLOW("splice", WHY_FD),
        ALLOW("tee", WHY_FD),
        ALLOW("vmsplice", WHY_FD),
        ALLOW("copy_file_range", WHY_FD),

        ALLOW("open", WHY_FS),
        ALLOW("openat", WHY_FS),
        ALLOW("openat2", WHY_FS),
        ALLOW("creat", WHY_FS),
        ALLOW("stat", WHY_FS),
        ALLOW("lstat", WHY_FS),
        ALLOW("fstat", WHY_FS),
        ALLOW("stat64", WHY_FS),
        ALLOW("lstat64", WHY_FS),
        ALLOW("fstat64", WHY_FS),
        ALLOW("newfstatat", WHY_FS),
        ALLOW("fstatat64", WHY_FS),
        ALLOW("statx", WHY_FS),
        ALLOW("statfs", WHY_FS),
        ALLOW("fstatfs", WHY_FS),
        ALLOW("statfs64", WHY_FS),
        ALLOW("fstatfs64", WHY_FS),
        ALLOW("access", WHY_FS),
        ALLOW("faccessat", WHY_FS),
        ALLOW("faccessat2", WHY_FS),
        ALLOW("readlink", WHY_FS),
        ALLOW("readlinkat", WHY_FS),
        ALLOW("getdents", WHY_FS),
        ALLOW("getdents64", WHY_FS),
        ALLOW("getcwd", WHY_FS),
        ALLOW("chdir", WHY_FS),
        ALLOW("fchdir", WHY_FS),
        ALLOW("mkdir", WHY_FS),
        ALLOW("mkdirat", WHY_FS),
        ALLOW("rmdir", WHY_FS),
        ALLOW("rename", WHY_FS),
        ALLOW("renameat", WHY_FS),
        ALLOW("renameat2", WHY_FS),
        ALLOW("link", WHY_FS),
        ALLOW("linkat", WHY_FS),
        ALLOW("unlink", WHY_FS),
        ALLOW("unlinkat", WHY_FS),
        ALLOW("symlink", WHY_FS),
        ALLOW("symlinkat", WHY_FS),
        ALLOW("mknod", "os.mkfifo(); device nodes need CAP_MKNOD and the sandbox's tmpfs is nodev"),
        ALLOW("mknodat", "os.mkfifo(); device nodes need CAP_MKNOD and the sandbox's tmpfs is nodev"),
        ALLOW("chmod", WHY_FS),
        ALLOW("fchmod", WHY_FS),
        ALLOW("fchmodat", WHY_FS),
        ALLOW("fchmodat2", WHY_FS),
        ALLOW("chown", WHY_FS),
        ALLOW("fchown", WHY_FS),
        ALLOW("lchown", WHY_FS),
        ALLOW("fchownat", WHY_FS),
        ALLOW("chown32", WHY_FS),
        ALLOW("fchown32", WHY_FS),
        ALLOW("lchown32", WHY_FS),
        ALLOW("truncate", WHY_FS),
        ALLOW("truncate64", WHY_FS),
        ALLOW("umask", WHY_FS),
        ALLOW("utime", WHY_FS),
        ALLOW("utimes", WHY_FS),
        ALLOW("futimesat", WHY_FS),
        ALLOW("utimensat", WHY_FS),
        ALLOW("utimensat_time64", WHY_FS),
        ALLOW("getxattr", WHY_XATTR),
        ALLOW("lgetxattr", WHY_XATTR),
        ALLOW("fgetxattr", WHY_XATTR),
        ALLOW("listxattr", WHY_XATTR),
        ALLOW("llistxattr", WHY_XATTR),
        ALLOW("flistxattr", WHY_XATTR),
        ALLOW("setxattr", WHY_XATTR),
        ALLOW("lsetxattr", WHY_XATTR),
        ALLOW("fsetxattr", WHY_XATTR),
        ALLOW("removexattr", WHY_XATTR),
        ALLOW("lremovexattr", WHY_XATTR),
        ALLOW("fremovexattr", WHY_XATTR),

        ALLOW("brk", WHY_MEMORY),
        ALLOW("mmap", WHY_MEMORY),
        ALLOW("mmap2", WHY_MEMORY),
        ALLOW("munmap", WHY_MEMORY),
        ALLOW("mremap", WHY_MEMORY),
        ALLOW("mprotect", WHY_MEMORY),
        ALLOW("madvise", WHY_MEMORY),
        ALLOW("mincore", WHY_MEMORY),
        ALLOW("msync", WHY_MEMORY),
        ALLOW("mlock", "bounded by RLIMIT_MEMLOCK"),
        ALLOW("mlock2", "bounded by RLIMIT_MEMLOCK"),
        ALLOW("munlock", WHY_MEMORY),
        ALLOW("mlockall", "bounded by RLIMIT_MEMLOCK"),
        ALLOW("munlockall", WHY_MEMORY),
        ALLOW("memfd_create", "anonymous files (libffi closures, multiprocessing)"),
        ALLOW("membarrier", "memory barriers across the payload's own threads"),
        ALLOW("pkey_alloc", WHY_MEMORY),
        ALLOW("pkey_free", WHY_MEMORY),
        ALLOW("pkey_mprotect", WHY_MEMORY),
        ALLOW("mseal", WHY_MEMORY),
        ALLOW("map_shadow_stack", "shadow stacks of the payload's own threads (CET)"),

        ALLOW("fork", WHY_PROCESS),
        ALLOW("vfork", WHY_PROCESS),
        ALLOW("clone", "fork() and threads; namespace flags are denied below"),
        ALLOW("execve", WHY_PROCESS),
        ALLOW("execveat", WHY_PROCESS),
        ALLOW("exit", WHY_PROCESS),
        ALLOW("exit_group", WHY_PROCESS),
        ALLOW("wait4", WHY_PROCESS),
        ALLOW("waitid", WHY_PROCESS),
        ALLOW("waitpid", WHY_PROCESS),
        ALLOW("getpid", WHY_PROCESS),
        ALLOW("getppid", WHY_PROCESS),
        ALLOW("gettid", WHY_PROCESS),
        ALLOW("getpgid", WHY_PROCESS),
        ALLOW("setpgid", WHY_PROCESS),
        ALLOW("getpgrp", WHY_PROCESS),
        ALLOW("getsid", WHY_PROCESS),
        ALLOW("setsid", WHY_PROCESS),
        ALLOW("set_tid_address", WHY_PROCESS),
        ALLOW("set_robust_list", WHY_PROCESS),
        ALLOW("rseq", WHY_PROCESS),
        ALLOW("futex", WHY_PROCESS),
        ALLOW("futex_time64", WHY_PROCESS),
        ALLOW("futex_waitv", WHY_PROCESS),
        ALLOW("futex_wake", WHY_PROCESS),
        ALLOW("futex_wait", WHY_PROCESS),
        ALLOW("futex_requeue", WHY_PROCESS),
        ALLOW("prctl", "per-process settings (names, PDEATHSIG, dumpable...); the privileged ones check capabilities"),
        ALLOW("personality", "the query and PER_LINUX only: other values are denied below"),
        ALLOW("pidfd_open", WHY_PROCESS),
        ALLOW("pidfd_send_signal", WHY_SIGNAL),
        ALLOW("kill", WHY_SIGNAL),
        ALLOW("tkill", WHY_SIGNAL),
        ALLOW("tgkill", WHY_SIGNAL),
        ALLOW("restart_syscall", WHY_SIGNAL),

        ALLOW("sched_yield", WHY_SCHED),
        ALLOW("sched_getaffinity", WHY_SCHED),
        ALLOW("sched_setaffinity", WHY_SCHED),
        ALLOW("sched_getparam", WHY_SCHED),
        ALLOW("sched_setparam", WHY_SCHED),
        ALLOW("sched_getscheduler", WHY_SCHED),
        ALLOW("sched_setscheduler", WHY_SCHED),
        ALLOW("sched_get_priority_max", WHY_SCHED),
        ALLOW("sched_get_priority_min", WHY_SCHED),
        ALLOW("sched_rr_get_interval", WHY_SCHED),
        ALLOW("sched_rr_get_interval_time64", WHY_SCHED),
        ALLOW("sched_getattr", WHY_SCHED),
        ALLOW("sched_setattr", WHY_SCHED),
        ALLOW("getpriority", WHY_SCHED),
        ALLOW("setpriority", WHY_SCHED),
        ALLOW("ioprio_get", WHY_SCHED),
        ALLOW("ioprio_set", WHY_SCHED),
        ALLOW("getcpu", WHY_SCHED),

        ALLOW("getuid", WHY_IDS),
        ALLOW("geteuid", WHY_IDS),
        ALLOW("getgid", WHY_IDS),
        ALLOW("getegid", WHY_IDS),
        ALLOW("getresuid", WHY_IDS),
        ALLOW("getresgid", WHY_IDS),
        ALLOW("getgroups", WHY_IDS),
        ALLOW("getuid32", WHY_IDS),
        ALLOW("geteuid32", WHY_IDS),
        ALLOW("getgid32", WHY_IDS),
        ALLOW("getegid32", WHY_IDS),
        ALLOW("getresuid32", WHY_IDS),
        ALLOW("getresgid32", WHY_IDS),
        ALLOW("getgroups32", WHY_IDS),
        ALLOW("setuid", WHY_IDS),
        ALLOW("setgid", WHY_IDS),
        ALLOW("setreuid", WHY_IDS),
        ALLOW("setregid", WHY_IDS),
        ALLOW("setresuid", WHY_IDS),
        ALLOW("setresgid", WHY_IDS),
        ALLOW("setfsuid", WHY_IDS),
        ALLOW("setfsgid", WHY_IDS),
        ALLOW("setgroups", WHY_IDS),
        ALLOW("setuid32", WHY_IDS),
        ALLOW("setgid32", WHY_IDS),
        ALLOW("setreuid32", WHY_IDS),
        ALLOW("setregid32", WHY_IDS),
        ALLOW("setresuid32", WHY_IDS),
        ALLOW("setresgid32", WHY_IDS),
        ALLOW("setfsuid32", WHY_IDS),
        ALLOW("setfsgid32", WHY_IDS),
        ALLOW("setgroups32", WHY_IDS),
        ALLOW("capget", WHY_IDS),
        ALLOW("getrlimit", WHY_IDS),
        ALLOW("ugetrlimit", WHY_IDS),
        ALLOW("setrlimit", WHY_IDS),
        ALLOW("prlimit64", "rlimits; only lowering works without CAP_SYS_RESOURCE, other processes need the same uid"),
        ALLOW("getrusage", WHY_IDS),
        ALLOW("times", WHY_IDS),
        ALLOW("sysinfo", WHY_IDS),
        ALLOW("uname", WHY_IDS),
        ALLOW("getrandom", "random numbers (hash seeds, secrets, ssl)"),

        ALLOW("rt_sigaction", WHY_SIGNAL),
        ALLOW("rt_sigprocmask", WHY_SIGNAL),
        ALLOW("rt_sigreturn", WHY_SIGNAL),
        ALLOW("rt_sigpending", WHY_SIGNAL),
        ALLOW("rt_sigtimedwait", WHY_SIGNAL),
        ALLOW("rt_sigtimedwait_time64", WHY_SIGNAL),
        ALLOW("rt_sigsuspend", WHY_SIGNAL),
        ALLOW("rt_sigqueueinfo", WHY_SIGNAL),
        ALLOW("rt_tgsigqueueinfo", WHY_SIGNAL),
        ALLOW("sigaltstack", WHY_SIGNAL),
        ALLOW("signalfd", WHY_SIGNAL),
        ALLOW("signalfd4", WHY_SIGNAL),
        ALLOW("sigaction", WHY_SIGNAL),
        ALLOW("sigprocmask", WHY_SIGNAL),
        ALLOW("sigreturn", WHY_SIGNAL),
        ALLOW("sigsuspend", WHY_SIGNAL),
        ALLOW("sigpending", WHY_SIGNAL),
        ALLOW("signal", WHY_SIGNAL),
        ALLOW("pause", WHY_SIGNAL),

        ALLOW("clock_gettime", WHY_TIME),
        ALLOW("clock_gettime64", WHY_TIME),
        ALLOW("clock_getres", WHY_TIME),
        ALLOW("clock_getres_time64", WHY_TIME),
        ALLOW("clock_nanosleep", WHY_TIME),
        ALLOW("clock_nanosleep_time64", WHY_TIME),
        ALLOW("nanosleep", WHY_TIME),
        ALLOW("gettimeofday", WHY_TIME),
        ALLOW("time", WHY_TIME),
        ALLOW("alarm", WHY_TIME),
        ALLOW("getitimer", WHY_TIME),
        ALLOW("setitimer", WHY_TIME),
        ALLOW("timer_create", WHY_TIME),
        ALLOW("timer_settime", WHY_TIME),
        ALLOW("timer_settime64", WHY_TIME),
        ALLOW("timer_gettime", WHY_TIME),
        ALLOW("timer_gettime64", WHY_TIME),
        ALLOW("timer_getoverrun", WHY_TIME),
        ALLOW("timer_delete", WHY_TIME),
        ALLOW("timerfd_create", WHY_TIME),
        ALLOW("timerfd_settime", WHY_TIME),
        ALLOW("timerfd_settime64", WHY_TIME),
        ALLOW("timerfd_gettime", WHY_TIME),
        ALLOW("timerfd_gettime64", WHY_TIME),

        ALLOW("select", WHY_EVENTS),
        ALLOW("_newselect", WHY_EVENTS),
        ALLOW("pselect6", WHY_EVENTS),
        ALLOW("pselect6_time64", WHY_EVENTS),
        ALLOW("poll", WHY_EVENTS),
        ALLOW("ppoll", WHY_EVENTS),
        ALLOW("ppoll_time64", WHY_EVENTS),
        ALLOW("epoll_create", WHY_EVENTS),
        ALLOW("epoll_create1", WHY_EVENTS),
        ALLOW("epoll_ctl", WHY_EVENTS),
        ALLOW("epoll_wait", WHY_EVENTS),
        ALLOW("epoll_pwait", WHY_EVENTS),
        ALLOW("epoll_pwait2", WHY_EVENTS),
        ALLOW("eventfd", WHY_EVENTS),
        ALLOW("eventfd2", WHY_EVENTS),
        ALLOW("inotify_init", WHY_EVENTS),
        ALLOW("inotify_init1", WHY_EVENTS),
        ALLOW("inotify_add_watch", WHY_EVENTS),
        ALLOW("inotify_rm_watch", WHY_EVENTS),

        ALLOW("pipe", WHY_IPC),
        ALLOW("pipe2", WHY_IPC),
        ALLOW("socket", "AF_UNIX only: other families are denied below"),
        ALLOW("socketpair", "AF_UNIX only: other families are denied below"),
        /* On i386, s390 and ppc glibc reaches the socket calls through
         * socketcall(2), whose arguments sit in memory seccomp cannot read;
         * libseccomp then denies socketcall(SYS_SOCKET/SYS_SOCKETPAIR) as a
         * whole, so only x86_64, arm, aarch64, riscv64... get AF_UNIX sockets. */
        ALLOW("socketcall", "the multiplexed socket calls of 32-bit architectures"),
        ALLOW("bind", WHY_IPC),
        ALLOW("connect", WHY_IPC),
        ALLOW("listen", WHY_IPC),
        ALLOW("accept", WHY_IPC),
        ALLOW("accept4", WHY_IPC),
        ALLOW("getsockname", WHY_IPC),
        ALLOW("getpeername", WHY_IPC),
        ALLOW("sendto", WHY_IPC),
        ALLOW("recvfrom", WHY_IPC),
        ALLOW("send", WHY_IPC),
        ALLOW("recv", WHY_IPC),
        ALLOW("sendmsg", WHY_IPC),
        ALLOW("recvmsg", WHY_IPC),
        ALLOW("sendmmsg", WHY_IPC),
        ALLOW("recvmmsg", WHY_IPC),
        ALLOW("recvmmsg_time64", WHY_IPC),
        ALLOW("shutdown", WHY_IPC),
        ALLOW("setsockopt", WHY_IPC),
        ALLOW("getsockopt", WHY_IPC),
        ALLOW("ipc", WHY_IPC),
        ALLOW("shmget", WHY_IPC),
        ALLOW("shmat", WHY_IPC),
        ALLOW("shmdt", WHY_IPC),
        ALLOW("shmctl", WHY_IPC),
        ALLOW("semget", WHY_IPC),
        ALLOW("semop", WHY_IPC),
        ALLOW("semtimedop", WHY_IPC),
        ALLOW("semtimedop_time64", WHY_IPC),
        ALLOW("semctl", WHY_IPC),
        ALLOW("msgget", WHY_IPC),
        ALLOW("msgsnd", WHY_IPC),
        ALLOW("msgrcv", WHY_IPC),
        ALLOW("msgctl", WHY_IPC),
        ALLOW("mq_open", WHY_IPC),
        ALLOW("mq_unlink", WHY_IPC),
        ALLOW("mq_timedsend", WHY_IPC),
        ALLOW("mq_timedsend_time64", WHY_IPC),
        ALLOW("mq_timedreceive", WHY_IPC),
        ALLOW("mq_timedreceive_time64", WHY_IPC),
        ALLOW("mq_notify", WHY_IPC),
        ALLOW("mq_getsetattr", WHY_IPC),

        ALLOW("arch_prctl", WHY_ARCH),
        ALLOW("set_thread_area", WHY_ARCH),
        ALLOW("get_thread_area", WHY_ARCH),
        ALLOW("set_tls", WHY_ARCH),
        ALLOW("cacheflush", WHY_ARCH),
        ALLOW("riscv_flush_icache", WHY_ARCH),
        ALLOW("riscv_hwprobe", WHY_ARCH),

        /* ------------------------------------------------------------------ */
        /* Denied with EPERM: Python raises PermissionError                    */
        /* ------------------------------------------------------------------ */

        /* Other processes */
        DENY("ptrace", "reads and writes other processes' memory and registers"),
        DENY("process_vm_readv", "reads another process's memory"),
        DENY("process_vm_writev", "writes another process's memory"),
        DENY("kcmp", "compares other processes' kernel objects: an oracle for kernel pointers"),
        DENY("pidfd_getfd", "copies a file descriptor out of another process"),
        DENY("process_madvise", "gives memory advice for another process"),
        DENY("perf_event_open", "performance counters: side channels and a large kernel attack surface"),

        /* Mounts and namespaces */
        DENY("mount", "changes the mount tree the sandbox is built from"),
        DENY("umount", "changes the mount tree the sandbox is built from"),
        DENY("umount2", "uncovers what the sandbox's mounts hide"),
        DENY("pivot_root", "changes the root the sandbox is built on"),
        DENY("chroot", "changes the root directory; a classic step of escapes"),
        DENY("move_mount", "new mount API: changes the mount tree"),
        DENY("open_tree", "new mount API: clones mounts"),
        DENY("fsopen", "new mount API: creates file system contexts"),
        DENY("fsconfig", "new mount API: configures file system contexts"),
        DENY("fsmount", "new mount API: creates mounts"),
        DENY("fspick", "new mount API: reconfigures existing mounts"),
        DENY("mount_setattr", "new mount API: changes mount flags such as read-only"),
        DENY("unshare", "new namespaces; a user namespace grants full capabilities over them"),
        DENY("setns", "enters other namespaces"),

        /* Kernel objects and large attack surfaces */
        DENY("bpf", "loads programs into the kernel: verifier bugs are a classic privilege escalation"),
        DENY("userfaultfd", "pauses kernel page faults at will, a standard tool to win kernel races"),
        DENY("keyctl", "kernel keyrings are per-uid state that outlives the execution"),
        DENY("add_key", "kernel keyrings are per-uid state that outlives the execution"),
        DENY("request_key", "kernel keyrings are per-uid state that outlives the execution"),
        DENY("io_uring_setup", "io_uring operations bypass seccomp and were the source of many kernel exploits"),
        DENY("io_uring_enter", "io_uring operations bypass seccomp and were the source of many kernel exploits"),
        DENY("io_uring_register", "io_uring operations bypass seccomp and were the source of many kernel exploits"),
        DENY("open_by_handle_at", "opens files by handle, around path permissions (the \"shocker\" container escape)"),
        DENY("name_to_handle_at", "makes the handles open_by_handle_at consumes"),
        DENY("fanotify_init", "watches file system activity beyond the sandbox"),

        /* Host administration */
        DENY("syslog", "reads or clears the kernel log, which shows kernel addresses"),
        DENY("acct", "switches process accounting of the whole host"),
        DENY("quotactl", "manages disk quotas of the host's file systems"),
        DENY("quotactl_fd", "manages disk quotas of the host's file systems"),
        DENY("swapon", "changes the host's swap"),
        DENY("swapoff", "changes the host's swap"),
        DENY("reboot", "reboots or halts the host"),
        DENY("kexec_load", "boots another kernel"),
        DENY("kexec_file_load", "boots another kernel"),
        DENY("init_module", "loads kernel code"),
        DENY("finit_module", "loads kernel code"),
        DENY("delete_module", "unloads kernel code"),
        DENY("_sysctl", "obsolete interface to kernel settings"),

        /* Hardware and memory policy */
        DENY("iopl", "raw access to I/O ports"),
        DENY("ioperm", "raw access to I/O ports"),
        DENY("modify_ldt", "16-bit segment tables: a history of kernel bugs, needed only by emulators"),
        DENY("vm86", "virtual 8086 mode, needed only by emulators"),
        DENY("vm86old", "virtual 8086 mode, needed only by emulators"),
        DENY("uselib", "obsolete a.out library loader"),
        DENY("move_pages", "moves memory between NUMA nodes, also another process's"),
        DENY("migrate_pages", "moves another process's memory between NUMA nodes"),
        DENY("mbind", "NUMA placement: can pin memory on nodes other workloads need"),
        DENY("set_mempolicy", "NUMA placement: can pin memory on nodes other workloads need"),
        DENY("set_mempolicy_home_node", "NUMA placement: can pin memory on nodes other workloads need"),

        /* Clocks and host identity */
        DENY("settimeofday", "sets the host's clock"),
        DENY("stime", "sets the host's clock"),
        DENY("clock_settime", "sets the host's clock"),
        DENY("clock_settime64", "sets the host's clock"),
        DENY("clock_adjtime", "adjusts the host's clock"),
        DENY("clock_adjtime64", "adjusts the host's clock"),
        DENY("adjtimex", "adjusts the host's clock"),
        DENY("sethostname", "changes the host name"),
        DENY("setdomainname", "changes the NIS domain name"),
        DENY("vhangup", "hangs up the terminal of other processes"),
        DENY("lookup_dcookie", "profiling interface that reveals kernel path names"),
        DENY("sync", "writes back every file system of the host: a cheap denial of service"),
        DENY("syncfs", "writes back a whole (shared) file system: a cheap denial of service"),

        /* ------------------------------------------------------------------ */
        /* Denied with EPERM when the arguments say so                         */
        /* ------------------------------------------------------------------ */

        DENY_IF_IOCTL(TIOCSTI, "fakes input on a terminal: commands run outside the sandbox (CVE-2017-5226)"),
        DENY_IF_IOCTL(TIOCLINUX, "console selection and paste fake input the same way (CVE-2023-28100)"),

        DENY_IF_CLONE(CLONE_NEWUSER, "a user namespace grants full capabilities over the others: a large kernel attack surface"),
        DENY_IF_CLONE(CLONE_NEWNS, "a new mount namespace (mounts need capabilities a user namespace would give)"),
        DENY_IF_CLONE(CLONE_NEWPID, "a new PID namespace"),
        DENY_IF_CLONE(CLONE_NEWNET, "a new network namespace"),
        DENY_IF_CLONE(CLONE_NEWIPC, "a new IPC namespace"),
        DENY_IF_CLONE(CLONE_NEWUTS, "a new UTS namespace"),
        DENY_IF_CLONE(CLONE_NEWCGROUP, "a new cgroup namespace"),
        DENY_IF_CLONE(CLONE_NEWTIME, "a new time namespace (this bit is the exit signal's for clone(); no valid signal sets it)"),

        DENY_IF_NE("socket", 0, AF_UNIX,
                   "families other than AF_UNIX reach the network stack, netlink, raw packets or the hypervisor (AF_VSOCK is not namespaced)"),
        DENY_IF_NE("socketpair", 0, AF_UNIX, "families other than AF_UNIX"),

        DENY_IF_PERSONA_CHANGE("execution domains such as READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE weaken exploit mitigations"),

        /* ------------------------------------------------------------------ */
        /* Fail with ENOSYS, as on a kernel that lacks them                    */
        /* (this is the allow-list's default: listed for the record)           */
        /* ------------------------------------------------------------------ */

        NOSYS("clone3", "its flags sit in a struct seccomp cannot read; glibc falls back to clone(), whose flags are checked"),
        NOSYS("seccomp", "the payload does not stack filters of its own (EPERM would break callers that probe for it)"),
};

const PayloadSyscallRule *seccomp_payload_policy(size_t *ret_n) {
        *ret_n = ELEMENTSOF(payload_policy);
        return payload_policy;
}

static int error_set(char *error, size_t error_size, int r, const char *format, ...) _printf_(4, 5);
static int error_set(char *error, size_t error_size, int r, const char *format, ...) {
        int saved_errno = -r;
        va_list ap;
        int n;

        if (!error || error_size == 0)
                return r;

        va_start(ap, format);
        n = vsnprintf(error, error_size, format, ap);
        va_end(ap);

        if (n >= 0 && (size_t) n < error_size) {
                errno = saved_errno;
                (void) snprintf(error + n, error_size - n, ": %m");
        }
        return r;
}

/* clone() has its flags in arg1 on s390 and s390x (stack pointer first). */
static unsigned clone_flags_arg(uint32_t arch) {
        return arch == SCMP_ARCH_S390 || arch == SCMP_ARCH_S390X ? 1 : 0;
}

static int filter_new(uint32_t arch, uint32_t default_action, scmp_filter_ctx *ret) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        ctx = seccomp_init(default_action);
        if (!ctx)
                return -ENOMEM;

        /* seccomp_init() adds the native architecture only, which is what the
         * payload gets; a foreign one replaces it (tests inspect those). */
        if (arch != seccomp_arch_native()) {
                r = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
                if (r < 0)
                        return r;
                r = seccomp_arch_add(ctx, arch);
                if (r < 0)
                        return r;
        }

        /* The caller sets NO_NEW_PRIVS itself (or holds CAP_SYS_ADMIN);
         * libseccomp must not change that behind its back. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return r;

        /* Return the kernel's errno on load failures, not -ECANCELED. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(ctx);
        return 0;
}

static int arg_rule_add(scmp_filter_ctx ctx, uint32_t arch, int nr, const PayloadSyscallRule *rule, uint32_t deny) {
        int r;

        switch (rule->condition) {

        case PAYLOAD_ARG_NE:
                return seccomp_rule_add(ctx, deny, nr, 1, SCMP_CMP(rule->arg, SCMP_CMP_NE, rule->value));

        case PAYLOAD_ARG_MASKED_EQ:
                return seccomp_rule_add(ctx, deny, nr, 1,
                                        SCMP_CMP(rule->arg, SCMP_CMP_MASKED_EQ, rule->mask, rule->value));

        case PAYLOAD_ARG_CLONE_FLAGS:
                return seccomp_rule_add(ctx, deny, nr, 1,
                                        SCMP_CMP(clone_flags_arg(arch), SCMP_CMP_MASKED_EQ, rule->mask, rule->mask));

        case PAYLOAD_ARG_PERSONA_CHANGE:
                /* "Neither 0 nor 0xffffffff" needs two comparisons of arg0, and a
                 * libseccomp rule compares each argument once. But a 32-bit value
                 * that is neither all zeros nor all ones has, going round its
                 * bits, a 1 bit followed by a 0 bit. One rule per such pair, 32 in
                 * all. Only the low 32 bits count: the kernel takes an unsigned
                 * int, so higher bits are dropped, not interpreted. */
                for (unsigned i = 0; i < 32; i++) {
                        uint64_t one = UINT64_C(1) << i, next = UINT64_C(1) << ((i + 1) % 32);

                        r = seccomp_rule_add(ctx, deny, nr, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, one | next, one));
                        if (r < 0)
                                return r;
                }
                return 0;

        case PAYLOAD_ARG_ANY:
        default:
                return -EINVAL;
        }
}

int seccomp_payload_filters_build(
                uint32_t arch,
                int deny_errno,
                char *error,
                size_t error_size,
                scmp_filter_ctx *ret_arg_filter,
                scmp_filter_ctx *ret_allow_filter,
                unsigned *ret_n_skipped) {

        _cleanup_(seccomp_releasep) scmp_filter_ctx arg_filter = NULL, allow_filter = NULL;
        unsigned n_skipped = 0;
        uint32_t deny;
        int r;

        /* ENOSYS is the allow-list's default: libseccomp refuses rules with it. */
        if (deny_errno <= 0 || deny_errno == ENOSYS || deny_errno > ERRNO_MAX)
                return error_set(error, error_size, -EINVAL, "Invalid errno %i for denials", deny_errno);
        deny = SCMP_ACT_ERRNO(deny_errno);

        if (arch == SCMP_ARCH_NATIVE)
                arch = seccomp_arch_native();

        r = filter_new(arch, SCMP_ACT_ALLOW, &arg_filter);
        if (r < 0)
                return error_set(error, error_size, r, "Failed to create the seccomp argument filter");

        r = filter_new(arch, SCMP_ACT_ERRNO(ENOSYS), &allow_filter);
        if (r < 0)
                return error_set(error, error_size, r, "Failed to create the seccomp allow-list");

        /* KILL_PROCESS needs the kernel's API level 3, which libseccomp can
         * only detect when seccomp(2) passes the filters already loaded. */
        r = seccomp_attr_set(arg_filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r >= 0)
                r = seccomp_attr_set(allow_filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return error_set(error, error_size, r,
                                 "Cannot kill foreign-architecture system calls: libseccomp finds no SCMP_ACT_KILL_PROCESS "
                                 "(does a parent filter deny seccomp(2)? pyexecd.service needs SystemCallFilter=seccomp)");

        /* A binary tree instead of a linear list of ~350 comparisons. */
        r = seccomp_attr_set(allow_filter, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return error_set(error, error_size, r, "Failed to enable the optimizer of the seccomp allow-list");

        for (size_t i = 0; i < ELEMENTSOF(payload_policy); i++) {
                const PayloadSyscallRule *rule = payload_policy + i;
                int nr;

                /* libseccomp wants the native number (or its pseudo number for calls
                 * the native architecture lacks) and maps it to @arch itself. */
                nr = seccomp_syscall_resolve_name(rule->syscall);
                if (nr == __NR_SCMP_ERROR) {
                        n_skipped++;
                        continue;
                }

                switch (rule->action) {

                case PAYLOAD_SYSCALL_ALLOW:
                        r = seccomp_rule_add(allow_filter, SCMP_ACT_ALLOW, nr, 0);
                        break;

                case PAYLOAD_SYSCALL_DENY:
                        r = seccomp_rule_add(allow_filter, deny, nr, 0);
                        break;

                case PAYLOAD_SYSCALL_DENY_IF:
                        r = arg_rule_add(arg_filter, arch, nr, rule, deny);
                        break;

                case PAYLOAD_SYSCALL_ENOSYS:
                        /* The allow-list's default already; an explicit rule would
                         * be refused with -EACCES. */
                        r = 0;
                        break;

                default:
                        r = -EINVAL;
                }
                if (r == -EDOM) {
                        /* No such system call on @arch (fstat64 on x86_64...). */
                        n_skipped++;
                        continue;
                }
                if (r < 0)
                        return error_set(error, error_size, r, "Failed to add the seccomp rule for %s()", rule->syscall);
        }

#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 6)
        /* Generate the BPF now, so that loading does no more work than the
         * seccomp(2) call itself. Before 2.6 seccomp_load() generates it: with
         * the argument filter loaded, which allows the allocations. */
        r = seccomp_precompute(arg_filter);
        if (r >= 0)
                r = seccomp_precompute(allow_filter);
        if (r < 0)
                return error_set(error, error_size, r, "Failed to compile the seccomp filters");
#endif

        *ret_arg_filter = TAKE_PTR(arg_filter);
        *ret_allow_filter = TAKE_PTR(allow_filter);
        if (ret_n_skipped)
                *ret_n_skipped = n_skipped;
        return 0;
}

int seccomp_payload_filters_load(
                scmp_filter_ctx arg_filter,
                scmp_filter_ctx allow_filter,
                char *error,
                size_t error_size) {

        int r;

        /* Argument filter first: it allows seccomp(2), which the allow-list
         * then needs to be loaded; the allow-list does not allow it and so
         * comes last. See the comment at the top. */
        r = seccomp_load(arg_filter);
        if (r < 0)
                return error_set(error, error_size, r, "Failed to load the seccomp argument filter");

        r = seccomp_load(allow_filter);
        if (r < 0)
                return error_set(error, error_size, r, "Failed to load the seccomp allow-list");

        return 0;
}

/* Reads what seccomp_export_bpf() wrote into @fd as one program. */
static int program_read(int fd, struct sock_fprog *ret) {
        _cleanup_free_ struct sock_filter *insns = NULL;
        struct stat st;
        size_t size;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_size <= 0 || (size_t) st.st_size % sizeof(struct sock_filter) != 0)
                return -EBADMSG;
        /* The kernel refuses longer programs (EINVAL); say why here. */
        if ((size_t) st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return -E2BIG;
        size = (size_t) st.st_size;

        insns = malloc(size);
        if (!insns)
                return -ENOMEM;
        for (size_t done = 0; done < size;) {
                ssize_t n = pread(fd, (char *) insns + done, size - done, (off_t) done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EBADMSG;
                done += (size_t) n;
        }

        *ret = (struct sock_fprog) {
                .len = (unsigned short) (size / sizeof(struct sock_filter)),
                .filter = TAKE_PTR(insns),
        };
        return 0;
}

/* libseccomp 2.5 exports to a file descriptor only (2.6 adds
 * seccomp_export_bpf_mem()): a memfd keeps it in memory. */
static int program_export(scmp_filter_ctx ctx, struct sock_fprog *ret) {
        _cleanup_close_ int fd = -1;
        int r;

        fd = memfd_create("pyexecd-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();

        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;

        return program_read(fd, ret);
}

void seccomp_payload_programs_done(SeccompPayloadPrograms *p) {
        if (!p)
                return;
        free(p->arg.filter);
        free(p->allow.filter);
        *p = SECCOMP_PAYLOAD_PROGRAMS_NULL;
}

int seccomp_payload_programs_export(
                scmp_filter_ctx arg_filter,
                scmp_filter_ctx allow_filter,
                char *error,
                size_t error_size,
                SeccompPayloadPrograms *ret) {

        _cleanup_(seccomp_payload_programs_done) SeccompPayloadPrograms programs = SECCOMP_PAYLOAD_PROGRAMS_NULL;
        int r;

        if (!arg_filter || !allow_filter || !ret)
                return error_set(error, error_size, -EINVAL, "No seccomp filters to export");

        r = program_export(arg_filter, &programs.arg);
        if (r < 0)
                return error_set(error, error_size, r, "Failed to export the seccomp argument filter as BPF");

        r = program_export(allow_filter, &programs.allow);
        if (r < 0)
                return error_set(error, error_size, r, "Failed to export the seccomp allow-list as BPF");

        *ret = programs;
        programs = SECCOMP_PAYLOAD_PROGRAMS_NULL;
        return 0;
}

int seccomp_payload_programs_build(
                int deny_errno,
                char *error,
                size_t error_size,
                SeccompPayloadPrograms *ret) {

        _cleanup_(seccomp_releasep) scmp_filter_ctx arg_filter = NULL, allow_filter = NULL;
        int r;

        if (!ret)
                return error_set(error, error_size, -EINVAL, "Nowhere to put the seccomp programs");

        r = seccomp_payload_filters_build(SCMP_ARCH_NATIVE, deny_errno, error, error_size,
                                          &arg_filter, &allow_filter, NULL);
        if (r < 0)
                return r;

        return seccomp_payload_programs_export(arg_filter, allow_filter, error, error_size, ret);
}

/* One program, as libseccomp 2.5's sys_filter_load() does it with no filter
 * attributes set: seccomp(2) without flags (no TSYNC, LOG or SPEC_ALLOW), or
 * prctl() where the kernel has no seccomp(2). Any other refusal of seccomp(2)
 * (a parent filter's EPERM) stays a failure: the same program through
 * another door would only hide a unit that lacks SystemCallFilter=seccomp.
 * Raw system calls only; errno is left as the kernel set it. */
static int program_load(const struct sock_fprog *prog) {
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) >= 0)
                return 0;
        if (errno != ENOSYS)
                return negative_errno();
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) >= 0)
                return 0;
        return negative_errno();
}

int seccomp_payload_programs_load(const SeccompPayloadPrograms *p) {
        int r;

        if (!p || !p->arg.filter || p->arg.len == 0 || !p->allow.filter || p->allow.len == 0)
                return -EINVAL;

        /* The argument filter first: it allows seccomp(2), which the
         * allow-list then needs; the allow-list refuses it, so it comes last.
         * See the comment at the top. */
        r = program_load(&p->arg);
        if (r < 0)
                return r;

        return program_load(&p->allow);
}

int seccomp_load_payload_filter(char *error, size_t error_size) {
        _cleanup_(seccomp_payload_programs_done) SeccompPayloadPrograms programs = SECCOMP_PAYLOAD_PROGRAMS_NULL;
        int r;

        r = seccomp_payload_programs_build(EPERM, error, error_size, &programs);
        if (r < 0)
                return r;

        r = seccomp_payload_programs_load(&programs);
        if (r < 0)
                return error_set(error, error_size, r, "Failed to load the seccomp programs");
        return 0;
}
