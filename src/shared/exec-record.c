/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/exec-record.h"
#include "shared/macro.h"
#include "shared/time-util.h"

ExecOwnerKind exec_record_owner_kind(const ExecRecord *r) {
        if (r->owner_kind == EXEC_OWNER_TOKEN)
                return EXEC_OWNER_TOKEN;
        if (r->owner_uid != (uid_t) -1)
                return EXEC_OWNER_UID;
        return EXEC_OWNER_NONE;
}

static int strdup_or_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int exec_record_copy(ExecRecord *dst, const ExecRecord *src) {
        if (!dst || !src)
                return -EINVAL;
        *dst = *src;
        dst->cell_id = dst->notebook_id = dst->error = dst->node = dst->queue_entry = NULL;
        if (strdup_or_null(src->cell_id, &dst->cell_id) < 0 ||
            strdup_or_null(src->notebook_id, &dst->notebook_id) < 0 ||
            strdup_or_null(src->error, &dst->error) < 0 ||
            strdup_or_null(src->node, &dst->node) < 0 ||
            strdup_or_null(src->queue_entry, &dst->queue_entry) < 0) {
                exec_record_done(dst);
                return -ENOMEM;
        }
        return 0;
}

void exec_record_done(ExecRecord *r) {
        if (!r)
                return;
        free(r->cell_id);
        free(r->notebook_id);
        free(r->error);
        free(r->node);
        free(r->queue_entry);
        *r = (ExecRecord) EXEC_RECORD_INIT;
}

/* ---- to fields ---- */

typedef struct FieldList {
        char **l;
        size_t n, allocated;
} FieldList;

static int field_list_push(FieldList *f, char *s) {
        if (!s)
                return -ENOMEM;
        /* +1 keeps the array NULL-terminated at all times. */
        if (f->n + 1 >= f->allocated) {
                size_t k = MAX(f->allocated * 2, (size_t) 64);
                char **l = reallocarray(f->l, k, sizeof(char *));

                if (!l) {
                        free(s);
                        return -ENOMEM;
                }
                f->l = l;
                f->allocated = k;
        }
        f->l[f->n++] = s;
        f->l[f->n] = NULL;
        return 0;
}

static int field_add(FieldList *f, const char *field, const char *value) {
        int r;

        r = field_list_push(f, strdup(field));
        if (r < 0)
                return r;
        return field_list_push(f, strdup(value));
}

static int field_add_u64(FieldList *f, const char *field, uint64_t v) {
        char buf[sizeof("18446744073709551615")];

        (void) snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return field_add(f, field, buf);
}

static int field_add_i64(FieldList *f, const char *field, int64_t v) {
        char buf[sizeof("-9223372036854775808")];

        (void) snprintf(buf, sizeof(buf), "%" PRIi64, v);
        return field_add(f, field, buf);
}

int exec_record_to_fields(const ExecRecord *r, char ***ret_fields) {
        _cleanup_strv_free_ char **l = NULL;
        FieldList f = {};
        const char *state;
        int k;

        if (!r || !ret_fields)
                return -EINVAL;
        state = exec_state_to_string(r->state);
        if (!state)
                return -EINVAL;

        /* The order of the header's list; unknown values are left out. */
        k = field_add(&f, "state", state);
        if (k >= 0 && r->cell_id)
                k = field_add(&f, "cell_id", r->cell_id);
        if (k >= 0 && r->notebook_id)
                k = field_add(&f, "notebook_id", r->notebook_id);
        if (k >= 0 && r->has_execution_count)
                k = field_add_i64(&f, "execution_count", r->execution_count);
        if (k >= 0 && r->created_usec > 0)
                k = field_add_u64(&f, "created_usec", r->created_usec);
        if (k >= 0 && r->started_usec > 0)
                k = field_add_u64(&f, "started_usec", r->started_usec);
        if (k >= 0 && r->finished_usec > 0)
                k = field_add_u64(&f, "finished_usec", r->finished_usec);
        if (k >= 0 && r->has_exit_code)
                k = field_add_i64(&f, "exit_code", r->exit_code);
        if (k >= 0 && r->signal > 0)
                k = field_add_i64(&f, "signal", r->signal);
        if (k >= 0 && r->error)
                k = field_add(&f, "error", r->error);
        if (k >= 0)
                k = field_add(&f, "truncated", r->truncated ? "1" : "0");
        if (k >= 0 && r->has_resources)
                k = field_add_u64(&f, "wall_usec", r->wall_usec);
        if (k >= 0 && r->has_resources)
                k = field_add_u64(&f, "cpu_usec", r->cpu_usec);
        if (k >= 0 && r->has_resources)
                k = field_add_u64(&f, "memory_peak_bytes", r->memory_peak_bytes);
        if (k >= 0)
                k = field_add_u64(&f, "timeout_usec", r->limits.timeout_usec);
        if (k >= 0)
                k = field_add_u64(&f, "memory_max", r->limits.memory_max);
        if (k >= 0)
                k = field_add_u64(&f, "cpu_quota_per_sec_usec", r->limits.cpu_quota_per_sec_usec);
        if (k >= 0)
                k = field_add_u64(&f, "tasks_max", r->limits.tasks_max);
        if (k >= 0)
                k = field_add_u64(&f, "output_max", r->limits.output_max);
        if (k >= 0 && exec_record_owner_kind(r) == EXEC_OWNER_UID)
                k = field_add_u64(&f, "owner_uid", r->owner_uid);
        if (k >= 0 && exec_record_owner_kind(r) == EXEC_OWNER_TOKEN)
                k = field_add(&f, "owner_kind", "token");
        if (k >= 0 && r->node)
                k = field_add(&f, "node", r->node);
        if (k >= 0 && r->queue_entry)
                k = field_add(&f, "queue_entry", r->queue_entry);
        if (k >= 0)
                k = field_add(&f, "has_stdin", r->has_stdin ? "1" : "0");
        l = f.l;
        if (k < 0)
                return k;

        *ret_fields = TAKE_PTR(l);
        return 0;
}

/* ---- from fields ---- */

static int parse_u64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *e;

        /* strtoull() takes "-1" and leading blanks; the hash holds neither. */
        if (s[0] < '0' || s[0] > '9')
                return -EBADMSG;
        errno = 0;
        v = strtoull(s, &e, 10);
        if (errno != 0 || *e != 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int parse_i64(const char *s, int64_t *ret) {
        long long v;
        char *e;

        if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
                return -EBADMSG;
        errno = 0;
        v = strtoll(s, &e, 10);
        if (errno != 0 || *e != 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int parse_int(const char *s, int *ret) {
        int64_t v;
        int r;

        r = parse_i64(s, &v);
        if (r < 0)
                return r;
        if (v < INT32_MIN || v > INT32_MAX)
                return -EBADMSG;
        *ret = (int) v;
        return 0;
}

static int parse_flag(const char *s, bool *ret) {
        if (strcmp(s, "0") == 0)
                *ret = false;
        else if (strcmp(s, "1") == 0)
                *ret = true;
        else
                return -EBADMSG;
        return 0;
}

static int set_string(char **p, const char *s) {
        char *c = strdup(s);

        if (!c)
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

static int record_set_field(ExecRecord *r, const char *field, const char *value, bool *have_resource) {
        static const struct {
                const char *name;
                size_t offset;
        } u64_fields[] = {
                { "created_usec",           offsetof(ExecRecord, created_usec) },
                { "started_usec",           offsetof(ExecRecord, started_usec) },
                { "finished_usec",          offsetof(ExecRecord, finished_usec) },
                { "timeout_usec",           offsetof(ExecRecord, limits.timeout_usec) },
                { "memory_max",             offsetof(ExecRecord, limits.memory_max) },
                { "cpu_quota_per_sec_usec", offsetof(ExecRecord, limits.cpu_quota_per_sec_usec) },
                { "tasks_max",              offsetof(ExecRecord, limits.tasks_max) },
                { "output_max",             offsetof(ExecRecord, limits.output_max) },
        };
        static const struct {
                const char *name;
                size_t offset;
                unsigned bit;
        } resource_fields[] = {
                { "wall_usec",         offsetof(ExecRecord, wall_usec),         0 },
                { "cpu_usec",          offsetof(ExecRecord, cpu_usec),          1 },
                { "memory_peak_bytes", offsetof(ExecRecord, memory_peak_bytes), 2 },
        };
        int k;

        for (size_t i = 0; i < ELEMENTSOF(u64_fields); i++)
                if (strcmp(field, u64_fields[i].name) == 0)
                        return parse_u64(value, (uint64_t *) ((uint8_t *) r + u64_fields[i].offset));

        for (size_t i = 0; i < ELEMENTSOF(resource_fields); i++)
                if (strcmp(field, resource_fields[i].name) == 0) {
                        have_resource[resource_fields[i].bit] = true;
                        return parse_u64(value, (uint64_t *) ((uint8_t *) r + resource_fields[i].offset));
                }

        if (strcmp(field, "state") == 0) {
                ExecState s = exec_state_from_string(value);

                if (s < 0)
                        return -EBADMSG;
                r->state = s;
                return 0;
        }
        if (strcmp(field, "cell_id") == 0)
                return set_string(&r->cell_id, value);
        if (strcmp(field, "notebook_id") == 0)
                return set_string(&r->notebook_id, value);
        if (strcmp(field, "error") == 0)
                return set_string(&r->error, value);
        if (strcmp(field, "node") == 0)
                return set_string(&r->node, value);
        if (strcmp(field, "queue_entry") == 0)
                return set_string(&r->queue_entry, value);
        if (strcmp(field, "execution_count") == 0) {
                k = parse_i64(value, &r->execution_count);
                if (k >= 0)
                        r->has_execution_count = true;
                return k;
        }
        if (strcmp(field, "exit_code") == 0) {
                k = parse_int(value, &r->exit_code);
                if (k >= 0)
                        r->has_exit_code = true;
                return k;
        }
        if (strcmp(field, "signal") == 0) {
                k = parse_int(value, &r->signal);
                if (k >= 0 && r->signal < 0)
                        return -EBADMSG;
                return k;
        }
        if (strcmp(field, "truncated") == 0)
                return parse_flag(value, &r->truncated);
        if (strcmp(field, "has_stdin") == 0)
                return parse_flag(value, &r->has_stdin);
        if (strcmp(field, "owner_uid") == 0) {
                uint64_t u;

                k = parse_u64(value, &u);
                if (k < 0)
                        return k;
                if (u >= (uid_t) -1)
                        return -EBADMSG;
                if (r->owner_kind == EXEC_OWNER_TOKEN)
                        return 0;
                r->owner_uid = (uid_t) u;
                r->owner_kind = EXEC_OWNER_UID;
                return 0;
        }
        if (strcmp(field, "owner_kind") == 0) {
                /* A kind this version does not know owns it: nobody we know of. */
                r->owner_kind = strcmp(value, "token") == 0 ? EXEC_OWNER_TOKEN :
                                strcmp(value, "uid") == 0 ? EXEC_OWNER_UID : EXEC_OWNER_NONE;
                if (r->owner_kind != EXEC_OWNER_UID)
                        r->owner_uid = (uid_t) -1;
                return 0;
        }

        /* Unknown fields: written by a newer version, perhaps. */
        return 0;
}

int exec_record_from_fields(ExecRecord *r, const char *id, char *const *fields, size_t n) {
        bool have_state = false, have_resource[3] = {};
        int k;

        if (!r || !id || (!fields && n > 0))
                return -EINVAL;
        if (!exec_id_is_valid(id))
                return -EINVAL;
        if (n % 2 != 0)
                return -EBADMSG;

        exec_record_done(r);
        memcpy(r->id, id, EXEC_ID_LEN + 1);

        for (size_t i = 0; i < n; i += 2) {
                if (!fields[i] || !fields[i + 1]) {
                        k = -EBADMSG;
                        goto fail;
                }
                if (strcmp(fields[i], "state") == 0)
                        have_state = true;
                k = record_set_field(r, fields[i], fields[i + 1], have_resource);
                if (k < 0)
                        goto fail;
        }
        if (!have_state) {
                k = -EBADMSG;
                goto fail;
        }

        /* Resources are written together, when the execution ends. */
        r->has_resources = have_resource[0] && have_resource[1] && have_resource[2];
        return 0;

fail:
        exec_record_done(r);
        return k;
}

/* ---- status JSON ---- */

static json_t *json_string_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

static json_t *json_time_or_null(uint64_t usec) {
        char buf[RFC3339_MAX];

        if (usec == 0)
                return json_null();
        if (!format_rfc3339(buf, sizeof(buf), usec))
                return NULL;
        return json_string(buf);
}

static json_t *json_u64(uint64_t v) {
        /* JSON integers here are signed 64-bit; nothing we count gets near. */
        return json_integer((json_int_t) MIN(v, (uint64_t) INT64_MAX));
}

static json_t *json_signal_or_null(int sig) {
        const char *name;
        char buf[sizeof("SIGRTMIN+-2147483648")];

        if (sig <= 0)
                return json_null();
        name = signal_to_string(sig);
        if (name)
                return json_string(name);
        /* Real-time signals have no abbreviation of their own. */
        if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
                (void) snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
                return json_string(buf);
        }
        return json_null();
}

/* json_object_set_new() that remembers a failure, so that the builder
 * below checks once. It takes NULL (a failed allocation) as a failure and
 * drops @v when it fails. */
static void object_set(json_t *o, const char *key, json_t *v, bool *failed) {
        if (json_object_set_new(o, key, v) < 0)
                *failed = true;
}

json_t *exec_record_to_status_json(const ExecRecord *r, json_t *outputs) {
        json_auto_t *o = NULL;
        json_t *resources;
        bool failed = false;

        if (!r)
                return NULL;

        o = json_object();
        resources = json_object();
        if (!o || !resources) {
                json_decref(resources);
                return NULL;
        }

        object_set(o, "execution_id", json_string(r->id), &failed);
        object_set(o, "status", json_string_or_null(exec_state_to_string(r->state)), &failed);
        object_set(o, "cell_id", json_string_or_null(r->cell_id), &failed);
        object_set(o, "notebook_id", json_string_or_null(r->notebook_id), &failed);
        object_set(o, "execution_count",
                   r->has_execution_count ? json_integer(r->execution_count) : json_null(), &failed);
        object_set(o, "created_at", json_time_or_null(r->created_usec), &failed);
        object_set(o, "started_at", json_time_or_null(r->started_usec), &failed);
        object_set(o, "finished_at", json_time_or_null(r->finished_usec), &failed);
        /* A signal ended it: there is no exit code (DESIGN.md). */
        object_set(o, "exit_code",
                   r->has_exit_code && r->signal <= 0 ? json_integer(r->exit_code) : json_null(), &failed);
        object_set(o, "signal", json_signal_or_null(r->signal), &failed);
        object_set(o, "error", json_string_or_null(r->error), &failed);
        object_set(o, "truncated", json_boolean(r->truncated), &failed);
        object_set(o, "outputs", outputs ? json_incref(outputs) : json_array(), &failed);

        object_set(resources, "wall_usec", r->has_resources ? json_u64(r->wall_usec) : json_null(), &failed);
        object_set(resources, "cpu_usec", r->has_resources ? json_u64(r->cpu_usec) : json_null(), &failed);
        object_set(resources, "memory_peak_bytes",
                   r->has_resources ? json_u64(r->memory_peak_bytes) : json_null(), &failed);
        object_set(o, "resources", resources, &failed);

        object_set(o, "limits", limits_to_json(&r->limits), &failed);

        if (failed)
                return NULL;
        return TAKE_PTR(o);
}
