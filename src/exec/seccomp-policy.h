/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The system call policy of the payload (python3 -I -B runner), loaded as the
 * last step before execve(). The whole policy is one table, in
 * seccomp-policy.c; this header only exposes it and the functions that turn it
 * into libseccomp filters and ready BPF programs.
 *
 * The sandbox builds the programs in the supervisor, before it is released
 * (libseccomp allocates and takes about 2 ms for it), and the payload only
 * loads them between fork() and execve(): two system calls, no allocation
 * (STYLE.md 29-30).
 */

#include <linux/filter.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release);

typedef enum PayloadSyscallAction {
        PAYLOAD_SYSCALL_ALLOW,          /* allowed */
        PAYLOAD_SYSCALL_DENY,           /* always fails with EPERM */
        PAYLOAD_SYSCALL_ENOSYS,         /* fails with ENOSYS, as on a kernel without it */
        PAYLOAD_SYSCALL_DENY_IF,        /* allowed (it has an ALLOW entry too), but fails
                                         * with EPERM when the argument condition holds */
} PayloadSyscallAction;

typedef enum PayloadArgCondition {
        PAYLOAD_ARG_ANY,                /* no condition */
        PAYLOAD_ARG_NE,                 /* args[arg] != value, compared on the whole register */
        PAYLOAD_ARG_MASKED_EQ,          /* (args[arg] & mask) == value */
        PAYLOAD_ARG_CLONE_FLAGS,        /* clone()'s flags hold all bits of mask; the flags
                                         * are arg0, or arg1 on s390 and s390x */
        PAYLOAD_ARG_PERSONA_CHANGE,     /* the low 32 bits of arg0 are neither PER_LINUX (0)
                                         * nor the query 0xffffffff */
} PayloadArgCondition;

typedef struct PayloadSyscallRule {
        const char *syscall;            /* libseccomp's name of the system call */
        PayloadSyscallAction action;
        PayloadArgCondition condition;  /* only for PAYLOAD_SYSCALL_DENY_IF */
        unsigned arg;
        uint64_t mask;
        uint64_t value;
        const char *reason;             /* one line, for the man page and for reviewers */
} PayloadSyscallRule;

/* The policy table; static storage, @ret_n receives the number of entries. */
const PayloadSyscallRule *seccomp_payload_policy(size_t *ret_n);

/* Builds the payload's programs (seccomp_payload_programs_build() with EPERM) and loads them into
 * the calling thread (inherited by its children and across execve): the path the sandbox takes, in
 * one process. Needs PR_SET_NO_NEW_PRIVS or CAP_SYS_ADMIN. Returns 0 or a negative errno with a
 * message in @error. */
int seccomp_load_payload_filter(char *error, size_t error_size);

/* Builds the two filters of the policy without loading them, for @arch (SCMP_ARCH_NATIVE, or
 * another SCMP_ARCH_* to inspect a foreign architecture's filters with seccomp_export_pfc()).
 * Denials fail with @deny_errno (EPERM in production; tests pass a value no system call
 * returns, to tell the filter's answer from the kernel's). Ioctl numbers are the build
 * host's, so only native filters are meant to be loaded.
 *
 * *ret_arg_filter is the default-allow filter with the argument checks, *ret_allow_filter
 * the allow-list; the caller owns both (seccomp_release()). *ret_n_skipped (may be NULL)
 * receives how many table names this libseccomp does not know or @arch does not have.
 * Returns 0, or a negative errno with a message in @error. */
int seccomp_payload_filters_build(
                uint32_t arch,
                int deny_errno,
                char *error,
                size_t error_size,
                scmp_filter_ctx *ret_arg_filter,
                scmp_filter_ctx *ret_allow_filter,
                unsigned *ret_n_skipped);

/* Loads filters made by seccomp_payload_filters_build() in the order that works (see the
 * comment in seccomp-policy.c). On failure the thread may hold the first filter only: do
 * not run the payload then. Returns 0, or a negative errno with a message in @error. */
int seccomp_payload_filters_load(
                scmp_filter_ctx arg_filter,
                scmp_filter_ctx allow_filter,
                char *error,
                size_t error_size);

/* The payload's two filters as classic BPF programs, exactly what libseccomp's seccomp_load()
 * would hand to the kernel, in the order they must be loaded. Each .filter is malloc'd. */
typedef struct SeccompPayloadPrograms {
        struct sock_fprog arg;          /* the default-allow argument filter: loaded FIRST */
        struct sock_fprog allow;        /* the allow-list: loaded LAST (it refuses seccomp(2)) */
} SeccompPayloadPrograms;

#define SECCOMP_PAYLOAD_PROGRAMS_NULL ((SeccompPayloadPrograms) {})

/* Exports filters made by seccomp_payload_filters_build() as BPF programs (seccomp_export_bpf()
 * through a memfd). The filters stay the caller's. On success *ret owns the programs (free them
 * with seccomp_payload_programs_done()); on failure *ret is left untouched. Returns 0, or a
 * negative errno with a message in @error (-E2BIG: a program longer than the kernel's
 * BPF_MAXINSNS). */
int seccomp_payload_programs_export(
                scmp_filter_ctx arg_filter,
                scmp_filter_ctx allow_filter,
                char *error,
                size_t error_size,
                SeccompPayloadPrograms *ret);

/* seccomp_payload_filters_build() for the native architecture, then
 * seccomp_payload_programs_export(): the ready programs of the policy, denials failing with
 * @deny_errno. Allocates: call it before fork(). Returns 0, or a negative errno with a message
 * in @error. */
int seccomp_payload_programs_build(
                int deny_errno,
                char *error,
                size_t error_size,
                SeccompPayloadPrograms *ret);

/* Frees the programs and resets *p to SECCOMP_PAYLOAD_PROGRAMS_NULL; NULL and empty are fine. */
void seccomp_payload_programs_done(SeccompPayloadPrograms *p);

/* Loads the programs into the calling thread, the argument filter first, with seccomp(2)
 * (prctl(PR_SET_SECCOMP) only where seccomp(2) answers ENOSYS) and no flags, as seccomp_load()
 * does. Async-signal-safe, no allocation: meant for the child between fork() and execve(). Needs
 * PR_SET_NO_NEW_PRIVS or CAP_SYS_ADMIN. Returns 0, -EINVAL for missing programs (nothing
 * loaded), or the kernel's negative errno; if the second load failed the thread holds the first
 * filter only: do not run the payload then. */
int seccomp_payload_programs_load(const SeccompPayloadPrograms *p);
