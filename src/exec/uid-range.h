/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The uids of the sandbox ([Sandbox] UIDRange=): one uid (= gid) per running
 * execution, so that executions cannot signal, ptrace or read each other and
 * RLIMIT_NPROC counts one execution only.
 *
 * UidAllocator hands them out round-robin: each allocation starts after the
 * uid given last and skips uids still in use, so a uid freed a moment ago is
 * not given again before the rest of the range was (whatever of an old
 * execution might linger gets time to go). Pure bookkeeping, no I/O.
 */

#include <stdbool.h>
#include <sys/types.h>

typedef struct UidAllocator UidAllocator;

/*
 * A new allocator for [@first, @last] (both included, @first <= @last).
 * The first uid handed out is @start (folded into the range), so that
 * several daemons on one host (test beds) do not all begin with @first.
 * Returns 0, -EINVAL, or -ENOMEM.
 */
int uid_allocator_new(UidAllocator **ret, uid_t first, uid_t last, uid_t start);
UidAllocator *uid_allocator_free(UidAllocator *a);

/* Takes the next free uid. Returns 0, -EBUSY when every uid of the range is
 * in use, or -ENOMEM. */
int uid_allocator_take(UidAllocator *a, uid_t *ret);

/* Gives @uid back. Returns 0, or -ENOENT if it was not in use. */
int uid_allocator_release(UidAllocator *a, uid_t uid);

bool uid_allocator_in_use(const UidAllocator *a, uid_t uid);
unsigned uid_allocator_n_used(const UidAllocator *a);

/*
 * Checks that the user database knows no user and no group whose id lies in
 * [@first, @last]: such an id would give the sandbox someone's files (or
 * theirs to the sandbox). Enumerates passwd and group once
 * (getpwent/getgrent), and asks getpwuid/getgrgid for @first and @last,
 * for NSS modules that do not enumerate. Not thread-safe (getpwent).
 *
 * Returns 0 when none is found; -EEXIST with a message naming the entry in
 * @ret_message (malloc'd) when one is; -ENOMEM. A failing lookup of one id
 * is not an error (the entry is not there).
 */
int uid_range_check_userdb(uid_t first, uid_t last, char **ret_message);
