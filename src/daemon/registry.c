/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/registry.h"
#include "shared/exec-id.h"
#include "shared/time-util.h"

/* Ids are random hex: their first two digits spread them evenly. */
#define N_BUCKETS 256

struct Registry {
        ExecEntry *buckets[N_BUCKETS];
        ExecEntry *lru;                 /* head: most recently used */
        ExecEntry *lru_tail;
        size_t n_entries;
        size_t max_entries;
        uint64_t ttl_usec;
        RegistryHandlers handlers;
        void *userdata;
};

static unsigned hex_value(char c) {
        return c >= 'a' ? (unsigned) (c - 'a' + 10) : (unsigned) (c - '0');
}

static unsigned bucket_of(const char *id) {
        return (hex_value(id[0]) << 4 | hex_value(id[1])) % N_BUCKETS;
}

static unsigned state_rank(ExecState s) {
        if (s == EXEC_STATE_QUEUED)
                return 0;
        if (s == EXEC_STATE_RUNNING)
                return 1;
        return 2;
}

int name_list_add(char ***l, const char *name) {
        size_t n = 0;
        char **c, *d;

        if (name_list_contains(*l, name))
                return 0;
        while (*l && (*l)[n])
                n++;
        d = strdup(name);
        if (!d)
                return -ENOMEM;
        c = reallocarray(*l, n + 2, sizeof(char *));
        if (!c) {
                free(d);
                return -ENOMEM;
        }
        c[n] = d;
        c[n + 1] = NULL;
        *l = c;
        return 1;
}

int name_list_remove(char ***l, const char *name) {
        size_t n = 0, i;

        if (!*l)
                return 0;
        while ((*l)[n])
                n++;
        for (i = 0; i < n; i++)
                if (strcmp((*l)[i], name) == 0)
                        break;
        if (i == n)
                return 0;
        free((*l)[i]);
        memmove(*l + i, *l + i + 1, (n - i) * sizeof(char *));
        if (n == 1) {
                free(*l);
                *l = NULL;
        }
        return 1;
}

bool name_list_contains(char **l, const char *name) {
        for (char **i = l; i && *i; i++)
                if (strcmp(*i, name) == 0)
                        return true;
        return false;
}

int registry_new(Registry **ret, size_t max_entries, uint64_t ttl_usec, const RegistryHandlers *handlers,
                 void *userdata) {
        Registry *r;

        if (!ret || max_entries == 0)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->max_entries = max_entries;
        r->ttl_usec = ttl_usec;
        if (handlers)
                r->handlers = *handlers;
        r->userdata = userdata;
        *ret = r;
        return 0;
}

static void lru_unlink(Registry *r, ExecEntry *e) {
        if (r->lru_tail == e)
                r->lru_tail = e->lru_prev;
        LIST_REMOVE(lru, r->lru, e);
}

static void lru_push_front(Registry *r, ExecEntry *e) {
        LIST_PREPEND(lru, r->lru, e);
        if (!r->lru_tail)
                r->lru_tail = e;
}

static void entry_free(Registry *r, ExecEntry *e, bool notify) {
        if (notify && r->handlers.removed)
                r->handlers.removed(e, r->userdata);
        LIST_REMOVE(bucket, r->buckets[bucket_of(e->record.id)], e);
        lru_unlink(r, e);
        r->n_entries--;
        exec_record_done(&e->record);
        strv_free(e->subscribers);
        strv_free(e->viewers);
        free(e);
}

Registry *registry_free(Registry *r) {
        if (!r)
                return NULL;
        while (r->lru)
                entry_free(r, r->lru, false);
        free(r);
        return NULL;
}

static bool entry_expired(Registry *r, const ExecEntry *e, uint64_t now_usec) {
        return exec_state_is_terminal(e->record.state) && e->record.finished_usec > 0 &&
               e->record.finished_usec + r->ttl_usec <= now_usec;
}

ExecEntry *registry_get(Registry *r, const char *id) {
        if (!r || !exec_id_is_valid(id))
                return NULL;

        LIST_FOREACH(bucket, e, r->buckets[bucket_of(id)])
                if (strcmp(e->record.id, id) == 0) {
                        if (entry_expired(r, e, now_usec(CLOCK_REALTIME))) {
                                entry_free(r, e, true);
                                return NULL;
                        }
                        return e;
                }
        return NULL;
}

/* Makes room for one more: the least recently used entry goes first. */
static void registry_evict(Registry *r) {
        ExecEntry *e = r->lru_tail;

        while (r->n_entries >= r->max_entries && e) {
                ExecEntry *prev = e->lru_prev;

                if (!e->pinned)
                        entry_free(r, e, true);
                e = prev;
        }
}

int registry_put(Registry *r, const ExecRecord *rec, ExecEntry **ret) {
        _cleanup_(exec_record_done) ExecRecord old = EXEC_RECORD_INIT;
        ExecEntry *e;
        int k;

        if (!r || !rec || !exec_id_is_valid(rec->id))
                return -EINVAL;

        e = registry_get(r, rec->id);
        if (e) {
                lru_unlink(r, e);
                lru_push_front(r, e);
                if (ret)
                        *ret = e;

                /* An older view (a read that was answered before the last
                 * change was stored) never replaces a newer one. */
                if (state_rank(rec->state) < state_rank(e->record.state))
                        return 0;
                if (state_rank(rec->state) == 2 && e->record.finished_usec > 0 &&
                    rec->finished_usec < e->record.finished_usec)
                        return 0;

                old = e->record;
                k = exec_record_copy(&e->record, rec);
                if (k < 0) {
                        /* Keep what we had. */
                        e->record = old;
                        old = (ExecRecord) EXEC_RECORD_INIT;
                        return k;
                }
                if (r->handlers.changed)
                        r->handlers.changed(e, &old, r->userdata);
                return 0;
        }

        registry_evict(r);

        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        k = exec_record_copy(&e->record, rec);
        if (k < 0) {
                free(e);
                return k;
        }
        e->registry = r;
        LIST_PREPEND(bucket, r->buckets[bucket_of(rec->id)], e);
        lru_push_front(r, e);
        r->n_entries++;

        if (ret)
                *ret = e;
        return 0;
}

void registry_expire(Registry *r, uint64_t now_usec) {
        if (!r)
                return;
        LIST_FOREACH_SAFE(lru, e, n, r->lru)
                if (entry_expired(r, e, now_usec))
                        entry_free(r, e, true);
}

ExecEntry *registry_entries(Registry *r) {
        return r ? r->lru : NULL;
}

void *registry_get_userdata(Registry *r) {
        return r ? r->userdata : NULL;
}
