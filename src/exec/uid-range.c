/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/uid-range.h"
#include "shared/macro.h"

struct UidAllocator {
        uid_t first, last;
        uid_t next;             /* where the next search starts */
        uid_t *used;            /* the uids in use, unordered: as many as executions run */
        size_t n_used, n_allocated;
};

int uid_allocator_new(UidAllocator **ret, uid_t first, uid_t last, uid_t start) {
        UidAllocator *a;

        if (!ret || first > last)
                return -EINVAL;

        a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;

        a->first = first;
        a->last = last;
        a->next = first + (uid_t) ((uint64_t) start % ((uint64_t) last - first + 1));

        *ret = a;
        return 0;
}

UidAllocator *uid_allocator_free(UidAllocator *a) {
        if (!a)
                return NULL;
        free(a->used);
        free(a);
        return NULL;
}

bool uid_allocator_in_use(const UidAllocator *a, uid_t uid) {
        if (!a)
                return false;
        for (size_t i = 0; i < a->n_used; i++)
                if (a->used[i] == uid)
                        return true;
        return false;
}

unsigned uid_allocator_n_used(const UidAllocator *a) {
        return a ? (unsigned) a->n_used : 0;
}

static uid_t uid_after(const UidAllocator *a, uid_t uid) {
        return uid == a->last ? a->first : uid + 1;
}

int uid_allocator_take(UidAllocator *a, uid_t *ret) {
        uint64_t size;
        uid_t uid;

        if (!a || !ret)
                return -EINVAL;

        size = (uint64_t) a->last - a->first + 1;
        if (a->n_used >= size)
                return -EBUSY;

        if (a->n_used == a->n_allocated) {
                size_t n = MAX(a->n_allocated * 2, (size_t) 16);
                uid_t *u = reallocarray(a->used, n, sizeof(uid_t));
                if (!u)
                        return -ENOMEM;
                a->used = u;
                a->n_allocated = n;
        }

        /* At most n_used uids in a row are taken, so this ends within
         * n_used + 1 steps. */
        uid = a->next;
        while (uid_allocator_in_use(a, uid))
                uid = uid_after(a, uid);

        a->used[a->n_used++] = uid;
        a->next = uid_after(a, uid);
        *ret = uid;
        return 0;
}

int uid_allocator_release(UidAllocator *a, uid_t uid) {
        if (!a)
                return -EINVAL;

        for (size_t i = 0; i < a->n_used; i++)
                if (a->used[i] == uid) {
                        a->used[i] = a->used[--a->n_used];
                        return 0;
                }
        return -ENOENT;
}

static bool in_range(uid_t first, uid_t last, uint32_t id) {
        return id >= first && id <= last;
}

static int found(char **ret_message, const char *what, const char *name, uint32_t id, uid_t first, uid_t last) {
        if (!ret_message)
                return -EEXIST;
        if (asprintf(ret_message,
                     "[Sandbox] UIDRange=%" PRIu32 "-%" PRIu32 " holds %s \"%s\" (%" PRIu32 ") of the user database; "
                     "choose a range no user or group uses",
                     (uint32_t) first, (uint32_t) last, what, name, id) < 0) {
                *ret_message = NULL;
                return -ENOMEM;
        }
        return -EEXIST;
}

int uid_range_check_userdb(uid_t first, uid_t last, char **ret_message) {
        const uid_t ends[] = { first, last };
        struct passwd *pw;
        struct group *gr;
        int r = 0;

        if (ret_message)
                *ret_message = NULL;

        /* The two ends first: NSS modules that cannot enumerate (LDAP set up
         * so, nss-systemd's dynamic users) still answer these. */
        for (size_t i = 0; i < ELEMENTSOF(ends); i++) {
                errno = 0;
                pw = getpwuid(ends[i]);
                if (pw)
                        return found(ret_message, "user", pw->pw_name, (uint32_t) pw->pw_uid, first, last);
                errno = 0;
                gr = getgrgid((gid_t) ends[i]);
                if (gr)
                        return found(ret_message, "group", gr->gr_name, (uint32_t) gr->gr_gid, first, last);
        }

        setpwent();
        while ((pw = getpwent()))
                if (in_range(first, last, (uint32_t) pw->pw_uid)) {
                        r = found(ret_message, "user", pw->pw_name, (uint32_t) pw->pw_uid, first, last);
                        break;
                } else if (in_range(first, last, (uint32_t) pw->pw_gid)) {
                        r = found(ret_message, "the primary group of user", pw->pw_name, (uint32_t) pw->pw_gid,
                                  first, last);
                        break;
                }
        endpwent();
        if (r < 0)
                return r;

        setgrent();
        while ((gr = getgrent()))
                if (in_range(first, last, (uint32_t) gr->gr_gid)) {
                        r = found(ret_message, "group", gr->gr_name, (uint32_t) gr->gr_gid, first, last);
                        break;
                }
        endgrent();

        return r;
}
