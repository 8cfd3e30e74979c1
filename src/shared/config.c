/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "shared/config.h"
#include "shared/error-message.h"
#include "shared/macro.h"

#define MIB (UINT64_C(1024) * 1024)

/* CPUQuotaPerSecUSec for 1%, as in limits.c. */
#define CPU_USEC_PER_PERCENT UINT64_C(10000)

/* Longest unix socket path (sizeof(sockaddr_un.sun_path) - 1). */
#define UNIX_PATH_MAX_LEN 107

typedef enum ConfigType {
        CONFIG_SEC,             /* uint64_t µs, parse_sec() */
        CONFIG_SIZE,            /* uint64_t bytes, parse_size() */
        CONFIG_PERCENT,         /* uint64_t CPU µs per second, parse_percent() */
        CONFIG_U64,             /* uint64_t, parse_unsigned() */
        CONFIG_UNSIGNED,        /* unsigned, parse_unsigned() */
        CONFIG_ADDRESS,         /* char *, a unix path or host:port */
        CONFIG_STRING,          /* char *, anything non-empty */
        CONFIG_BOOL,            /* bool, parse_boolean() */
        CONFIG_OUTPUT_LIMIT_ACTION, /* OutputLimitAction */
        CONFIG_UID_RANGE,       /* uid_t first, then uid_t last: "FIRST-LAST" */
} ConfigType;

typedef struct ConfigKey {
        const char *section;
        const char *key;
        ConfigType type;
        size_t offset;          /* in Config */
} ConfigKey;

static const ConfigKey config_keys[] = {
        { "Execution", "TimeoutSec",      CONFIG_SEC,      offsetof(Config, limits_default.timeout_usec) },
        { "Execution", "MemoryMax",       CONFIG_SIZE,     offsetof(Config, limits_default.memory_max) },
        { "Execution", "CPUQuota",        CONFIG_PERCENT,  offsetof(Config, limits_default.cpu_quota_per_sec_usec) },
        { "Execution", "TasksMax",        CONFIG_U64,      offsetof(Config, limits_default.tasks_max) },
        { "Execution", "OutputMax",       CONFIG_SIZE,     offsetof(Config, limits_default.output_max) },
        { "Execution", "FileSizeMax",     CONFIG_SIZE,     offsetof(Config, limits_default.file_size_max) },
        { "Execution", "MaxTimeoutSec",   CONFIG_SEC,      offsetof(Config, limits_max.timeout_usec) },
        { "Execution", "MaxMemoryMax",    CONFIG_SIZE,     offsetof(Config, limits_max.memory_max) },
        { "Execution", "MaxCPUQuota",     CONFIG_PERCENT,  offsetof(Config, limits_max.cpu_quota_per_sec_usec) },
        { "Execution", "MaxTasksMax",     CONFIG_U64,      offsetof(Config, limits_max.tasks_max) },
        { "Execution", "MaxOutputMax",    CONFIG_SIZE,     offsetof(Config, limits_max.output_max) },
        { "Execution", "OutputLimitAction", CONFIG_OUTPUT_LIMIT_ACTION, offsetof(Config, output_limit_action) },
        { "Queue",     "MaxConcurrent",   CONFIG_UNSIGNED, offsetof(Config, max_concurrent) },
        { "Queue",     "MaxQueued",       CONFIG_UNSIGNED, offsetof(Config, max_queued) },
        { "Queue",     "ResultTTLSec",    CONFIG_SEC,      offsetof(Config, result_ttl_usec) },
        { "Redis",     "Address",         CONFIG_ADDRESS,  offsetof(Config, redis_address) },
        { "Redis",     "KeyPrefix",       CONFIG_STRING,   offsetof(Config, key_prefix) },
        { "HTTP",      "IdleExitSec",     CONFIG_SEC,      offsetof(Config, idle_exit_usec) },
        { "HTTP",      "MaxRequestBytes", CONFIG_SIZE,     offsetof(Config, max_request_bytes) },
        { "Sandbox",   "Enabled",         CONFIG_BOOL,     offsetof(Config, sandbox_enabled) },
        { "Sandbox",   "UIDRange",        CONFIG_UID_RANGE, offsetof(Config, uid_first) },
};

static const char *const config_sections[] = { "Execution", "Queue", "Redis", "HTTP", "Sandbox" };
#define KNOWN_SECTIONS "(known: [Execution], [Queue], [Redis], [HTTP], [Sandbox])"

static const char *const output_limit_action_table[_OUTPUT_LIMIT_ACTION_MAX] = {
        [OUTPUT_LIMIT_KEEP] = "keep",
        [OUTPUT_LIMIT_KILL] = "kill",
};

const char *output_limit_action_to_string(OutputLimitAction a) {
        if (a < 0 || a >= _OUTPUT_LIMIT_ACTION_MAX)
                return NULL;
        return output_limit_action_table[a];
}

OutputLimitAction output_limit_action_from_string(const char *s) {
        if (!s)
                return _OUTPUT_LIMIT_ACTION_INVALID;
        for (OutputLimitAction a = 0; a < _OUTPUT_LIMIT_ACTION_MAX; a++)
                if (strcmp(output_limit_action_table[a], s) == 0)
                        return a;
        return _OUTPUT_LIMIT_ACTION_INVALID;
}

/* Uids that a UIDRange= must not hold, with the reason given in the error. */
static const struct {
        uint32_t first, last;
        const char *what;
} uid_forbidden[] = {
        { 0,                 0,                 "root" },
        { 60001,             60577,             "systemd-homed users and container host users" },
        { 61184,             65519,             "systemd's DynamicUser= range" },
        { 65534,             65534,             "nobody" },
        { 65535,             65535,             "the 16-bit (uid_t) -1" },
        { 524288,            1879048191,        "systemd-nspawn's container ranges" },
        { 2147352576,        2147418111,        "systemd's foreign uid range" },
        { 4294967295,        4294967295,        "(uid_t) -1" },
};

#define config_field(c, k, type) ((type *) ((uint8_t *) (c) + (k)->offset))

int config_init(Config *c, unsigned ncpus) {
        ncpus = MAX(ncpus, 1u);

        *c = (Config) {
                .output_limit_action = OUTPUT_LIMIT_KEEP,
                .sandbox_enabled = true,
                .uid_first = CONFIG_UID_RANGE_FIRST_DEFAULT,
                .uid_last = CONFIG_UID_RANGE_LAST_DEFAULT,
                .max_concurrent = ncpus,
                .max_queued = 100,
                .result_ttl_usec = 86400 * USEC_PER_SEC,
                .idle_exit_usec = 0,
                .max_request_bytes = 1 * MIB,
                .ncpus = ncpus,
        };
        limits_default(&c->limits_default);
        limits_maximum(&c->limits_max, ncpus);

        c->redis_address = strdup("127.0.0.1:6379");
        c->key_prefix = strdup("pyexecd:");
        if (!c->redis_address || !c->key_prefix) {
                config_done(c);
                return -ENOMEM;
        }

        return 0;
}

void config_done(Config *c) {
        if (!c)
                return;

        free(c->redis_address);
        free(c->key_prefix);
        *c = (Config) {};
}

static int config_copy(Config *dst, const Config *src) {
        *dst = *src;
        dst->redis_address = src->redis_address ? strdup(src->redis_address) : NULL;
        dst->key_prefix = src->key_prefix ? strdup(src->key_prefix) : NULL;
        if ((src->redis_address && !dst->redis_address) || (src->key_prefix && !dst->key_prefix)) {
                config_done(dst);
                return -ENOMEM;
        }
        return 0;
}

static bool address_is_valid(const char *s) {
        const char *colon;
        unsigned port;

        if (s[0] == '/')
                return strlen(s) <= UNIX_PATH_MAX_LEN;

        /* host:port, the host possibly "[v6]" */
        colon = strrchr(s, ':');
        if (!colon || colon == s)
                return false;
        if (parse_unsigned(colon + 1, &port) < 0 || port == 0 || port > 65535)
                return false;
        return true;
}

static const ConfigKey *config_key_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (strcmp(config_keys[i].section, section) == 0 && strcmp(config_keys[i].key, key) == 0)
                        return &config_keys[i];
        return NULL;
}

static bool config_section_is_known(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(config_sections); i++)
                if (strcmp(config_sections[i], section) == 0)
                        return true;
        return false;
}

/* Restores @k's built-in value in @c. */
static int config_reset_key(Config *c, const ConfigKey *k) {
        _cleanup_(config_done) Config builtin = {};
        int r;

        r = config_init(&builtin, c->ncpus);
        if (r < 0)
                return r;

        switch (k->type) {
        case CONFIG_UNSIGNED:
                *config_field(c, k, unsigned) = *config_field(&builtin, k, unsigned);
                break;
        case CONFIG_BOOL:
                *config_field(c, k, bool) = *config_field(&builtin, k, bool);
                break;
        case CONFIG_OUTPUT_LIMIT_ACTION:
                *config_field(c, k, OutputLimitAction) = *config_field(&builtin, k, OutputLimitAction);
                break;
        case CONFIG_UID_RANGE:
                c->uid_first = builtin.uid_first;
                c->uid_last = builtin.uid_last;
                break;
        case CONFIG_ADDRESS:
        case CONFIG_STRING:
                free(*config_field(c, k, char *));
                *config_field(c, k, char *) = TAKE_PTR(*config_field(&builtin, k, char *));
                break;
        default:
                *config_field(c, k, uint64_t) = *config_field(&builtin, k, uint64_t);
        }

        return 0;
}

/* systemd's boolean words. */
static int parse_boolean(const char *s) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

/* One uid: decimal digits, at most 4294967295. */
static int parse_uid(const char *s, size_t n, uid_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 10)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uid_t) v;
        return 0;
}

/* "FIRST-LAST", both included; FIRST <= LAST is config_verify()'s. */
static int parse_uid_range(const char *s, uid_t *ret_first, uid_t *ret_last) {
        const char *dash = strchr(s, '-');
        uid_t first, last;
        int r;

        if (!dash)
                return -EINVAL;
        r = parse_uid(s, (size_t) (dash - s), &first);
        if (r < 0)
                return r;
        r = parse_uid(dash + 1, strlen(dash + 1), &last);
        if (r < 0)
                return r;

        *ret_first = first;
        *ret_last = last;
        return 0;
}

/* Parses @value for @k into @c. Returns 0, -ENOMEM, or another negative
 * errno with a description (without the key) in @ret_message. */
static int config_parse_value(Config *c, const ConfigKey *k, const char *value, char **ret_message) {
        uint64_t u64;
        unsigned u;
        char *s;
        int r;

        switch (k->type) {
        case CONFIG_SEC:
                r = parse_sec(value, &u64);
                if (r < 0)
                        return error_message_set(ret_message, -EINVAL, "invalid time span \"%s\"%s (e.g. 30, 500ms, 2min, 1h, 1d)",
                                                 value, r == -ERANGE ? ", too large" : "");
                *config_field(c, k, uint64_t) = u64;
                return 0;

        case CONFIG_SIZE:
                r = parse_size(value, &u64);
                if (r < 0)
                        return error_message_set(ret_message, -EINVAL, "invalid size \"%s\"%s (bytes, or with K, M, G, T: 512M, 4G)",
                                                 value, r == -ERANGE ? ", too large" : "");
                *config_field(c, k, uint64_t) = u64;
                return 0;

        case CONFIG_PERCENT:
                r = parse_percent(value, &u);
                if (r < 0)
                        return error_message_set(ret_message, -EINVAL, "invalid percentage \"%s\"%s (e.g. 100%%, 250%%)",
                                                 value, r == -ERANGE ? ", too large" : "");
                *config_field(c, k, uint64_t) = (uint64_t) u * CPU_USEC_PER_PERCENT;
                return 0;

        case CONFIG_U64:
        case CONFIG_UNSIGNED:
                r = parse_unsigned(value, &u);
                if (r < 0)
                        return error_message_set(ret_message, -EINVAL, "invalid number \"%s\"%s (a decimal integer)",
                                                 value, r == -ERANGE ? ", too large" : "");
                if (k->type == CONFIG_U64)
                        *config_field(c, k, uint64_t) = u;
                else
                        *config_field(c, k, unsigned) = u;
                return 0;

        case CONFIG_BOOL:
                r = parse_boolean(value);
                if (r < 0)
                        return error_message_set(ret_message, -EINVAL, "invalid boolean \"%s\" (yes or no)", value);
                *config_field(c, k, bool) = r;
                return 0;

        case CONFIG_OUTPUT_LIMIT_ACTION: {
                OutputLimitAction a = output_limit_action_from_string(value);
                if (a < 0)
                        return error_message_set(ret_message, -EINVAL, "invalid action \"%s\" (keep or kill)", value);
                *config_field(c, k, OutputLimitAction) = a;
                return 0;
        }

        case CONFIG_UID_RANGE: {
                uid_t first, last;

                r = parse_uid_range(value, &first, &last);
                if (r < 0)
                        return error_message_set(ret_message, -EINVAL,
                                                 "invalid uid range \"%s\"%s (FIRST-LAST, decimal, e.g. 1879048192-1879113727)",
                                                 value, r == -ERANGE ? ", too large" : "");
                c->uid_first = first;
                c->uid_last = last;
                return 0;
        }

        case CONFIG_ADDRESS:
                if (!address_is_valid(value))
                        return error_message_set(ret_message, -EINVAL,
                                                 "invalid address \"%s\" (an absolute unix socket path of at most %d bytes, or host:port)",
                                                 value, UNIX_PATH_MAX_LEN);
                __attribute__((fallthrough));
        case CONFIG_STRING:
                s = strdup(value);
                if (!s)
                        return -ENOMEM;
                free(*config_field(c, k, char *));
                *config_field(c, k, char *) = s;
                return 0;
        }

        return -EINVAL;
}

int config_set(Config *c, const char *section, const char *key, const char *value, char **ret_message) {
        _cleanup_free_ char *m = NULL;
        const ConfigKey *k;
        int r;

        if (ret_message)
                *ret_message = NULL;

        if (!config_section_is_known(section))
                return error_message_set(ret_message, -EINVAL, "[%s]: unknown section " KNOWN_SECTIONS, section);

        k = config_key_find(section, key);
        if (!k)
                return error_message_set(ret_message, -EINVAL, "[%s] %s=: unknown key", section, key);

        if (!value || value[0] == '\0')
                return config_reset_key(c, k);

        r = config_parse_value(c, k, value, &m);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return error_message_set(ret_message, r, "[%s] %s=: %s", section, key, m ?: "invalid value");
        return 0;
}

/*
 * inih's handler has no line number in Debian's build (INI_HANDLER_LINENO is
 * a compile-time option of the library), so we feed inih through our own
 * reader: it hands over one whole line per call, as inih counts them, and
 * the handler runs before the next line is read, so the reader's count is
 * the line the handler sees. The reader also refuses what inih would quietly
 * misread: over-long lines (split into two), NUL bytes (cut), and unknown
 * sections (the handler never hears of an empty one). It strips leading
 * whitespace, so an indented "Key=" is an assignment and never inih's
 * Python-style continuation of the previous value.
 */
typedef struct ConfigParser {
        Config *config;
        FILE *f;
        const char *path;
        char *buf;
        size_t buf_size;
        unsigned line;          /* of the last line handed to inih */
        int error;              /* first error, or 0 */
        unsigned error_line;
        char *message;          /* its description, without "FILE:LINE: " */
} ConfigParser;

static void config_parser_fail(ConfigParser *p, int error, char *message) {
        if (p->error < 0) {
                free(message);
                return;
        }
        p->error = error;
        p->error_line = p->line;
        p->message = message;
}

static char *config_reader(char *str, int num, void *userdata) {
        ConfigParser *p = userdata;
        const char *s;
        ssize_t n;
        size_t len;

        if (p->error < 0)
                return NULL;

        errno = 0;
        n = getline(&p->buf, &p->buf_size, p->f);
        if (n < 0) {
                if (errno == ENOMEM)
                        config_parser_fail(p, -ENOMEM, NULL);
                else if (ferror(p->f))
                        config_parser_fail(p, errno > 0 ? -errno : -EIO, strdup("read error"));
                return NULL;
        }
        p->line++;

        if (memchr(p->buf, '\0', (size_t) n)) {
                config_parser_fail(p, -EINVAL, strdup("line contains a NUL byte"));
                return NULL;
        }

        s = p->buf + strspn(p->buf, " \t");
        len = strlen(s);
        if (len + 1 > (size_t) num) {
                char *m = NULL;

                if (asprintf(&m, "line too long (at most %d bytes)", num - 2) < 0)
                        m = NULL;
                config_parser_fail(p, -EINVAL, m);
                return NULL;
        }

        if (s[0] == '[') {
                const char *end = strchr(s, ']');

                /* A "[" without "]" is left to inih, which calls it a syntax error. */
                if (end) {
                        _cleanup_free_ char *name = strndup(s + 1, (size_t) (end - s - 1));
                        char *m = NULL;

                        if (!name) {
                                config_parser_fail(p, -ENOMEM, NULL);
                                return NULL;
                        }
                        if (!config_section_is_known(name)) {
                                if (asprintf(&m, "[%s]: unknown section " KNOWN_SECTIONS, name) < 0)
                                        m = NULL;
                                config_parser_fail(p, -EINVAL, m);
                                return NULL;
                        }
                }
        }

        memcpy(str, s, len + 1);
        return str;
}

static int config_handler(void *userdata, const char *section, const char *name, const char *value) {
        ConfigParser *p = userdata;
        char *m = NULL;
        int r;

        if (p->error < 0)
                return 0;

        if (!section || section[0] == '\0') {
                if (asprintf(&m, "%s=: assignment outside of a section", name) < 0)
                        m = NULL;
                config_parser_fail(p, -EINVAL, m);
                return 0;
        }

        r = config_set(p->config, section, name, value, &m);
        if (r < 0) {
                config_parser_fail(p, r, m);
                return 0;
        }

        return 1;
}

int config_load_file(Config *c, const char *path, char **ret_message) {
        _cleanup_(config_done) Config work = {};
        ConfigParser p = { .path = path };
        int r;

        if (ret_message)
                *ret_message = NULL;

        p.f = fopen(path, "re");
        if (!p.f) {
                r = negative_errno();
                return error_message_set(ret_message, r, "%s: %s", path, strerror(-r));
        }

        r = config_copy(&work, c);
        if (r < 0) {
                fclose(p.f);
                return r;
        }
        p.config = &work;

        r = ini_parse_stream(config_reader, &p, config_handler, &p);
        fclose(p.f);
        free(p.buf);

        if (r == -2 || p.error == -ENOMEM) {
                free(p.message);
                return -ENOMEM;
        }

        /* inih goes on after a syntax error, so an error of ours may come
         * from a later line than the one inih reports: the earlier wins. */
        if (r > 0 && (p.error == 0 || (unsigned) r < p.error_line)) {
                free(p.message);
                return error_message_set(ret_message, -EINVAL,
                                         "%s:%d: syntax error (expected [Section], Key=Value, or a comment starting with # or ;)",
                                         path, r);
        }

        if (p.error < 0) {
                r = error_message_set(ret_message, p.error, "%s:%u: %s", path, p.error_line,
                                      p.message ?: "invalid line");
                free(p.message);
                return r;
        }

        config_done(c);
        *c = work;
        work = (Config) {};
        return 0;
}

static int conf_name_compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool conf_name_is_dropin(const char *name) {
        size_t n = strlen(name);

        return name[0] != '.' && n > strlen(".conf") && strcmp(name + n - strlen(".conf"), ".conf") == 0;
}

/* The regular *.conf files of @dir, sorted; an empty list if @dir is missing. */
static int dropin_list(const char *dir, char ***ret, char **ret_message) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = calloc(1, sizeof(char *));
                        return *ret ? 0 : -ENOMEM;
                }
                r = negative_errno();
                return error_message_set(ret_message, r, "%s: %s", dir, strerror(-r));
        }

        for (;;) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0) {
                                r = negative_errno();
                                r = error_message_set(ret_message, r, "%s: %s", dir, strerror(-r));
                        }
                        break;
                }

                if (!conf_name_is_dropin(de->d_name))
                        continue;

                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        path = NULL;
                        r = -ENOMEM;
                        break;
                }
                /* Follows symlinks: one to /dev/null masks a drop-in, as in systemd. */
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;

                if (n + 2 > allocated) {
                        size_t a = MAX(allocated * 2, (size_t) 8);
                        char **l = reallocarray(names, a, sizeof(char *));

                        if (!l) {
                                r = -ENOMEM;
                                break;
                        }
                        names = l;
                        allocated = a;
                }
                names[n++] = TAKE_PTR(path);
                names[n] = NULL;
        }
        closedir(d);
        if (r < 0)
                return r;

        if (!names) {
                names = calloc(1, sizeof(char *));
                if (!names)
                        return -ENOMEM;
        }

        /* Same directory for all, so sorting the paths sorts the names. */
        qsort(names, n, sizeof(char *), conf_name_compare);
        *ret = TAKE_PTR(names);
        return 0;
}

int config_load(Config *c, const char *main_path, const char *dropin_dir, char **ret_message) {
        _cleanup_(config_done) Config work = {};
        _cleanup_strv_free_ char **dropins = NULL;
        int r;

        if (ret_message)
                *ret_message = NULL;

        r = config_copy(&work, c);
        if (r < 0)
                return r;

        if (main_path) {
                r = config_load_file(&work, main_path, ret_message);
                if (r == -ENOENT) {
                        if (ret_message) {
                                free(*ret_message);
                                *ret_message = NULL;
                        }
                } else if (r < 0)
                        return r;
        }

        if (dropin_dir) {
                r = dropin_list(dropin_dir, &dropins, ret_message);
                if (r < 0)
                        return r;

                for (char **i = dropins; *i; i++) {
                        r = config_load_file(&work, *i, ret_message);
                        if (r == -ENOENT) {
                                /* removed since we listed it */
                                if (ret_message) {
                                        free(*ret_message);
                                        *ret_message = NULL;
                                }
                        } else if (r < 0)
                                return r;
                }
        }

        config_done(c);
        *c = work;
        work = (Config) {};
        return 0;
}

static void format_value(const ConfigKey *k, uint64_t v, char *buf, size_t size) {
        switch (k->type) {
        case CONFIG_SEC:
                (void) snprintf(buf, size, "%.15gs", (double) v / (double) USEC_PER_SEC);
                break;
        case CONFIG_PERCENT:
                (void) snprintf(buf, size, "%" PRIu64 "%%", v / CPU_USEC_PER_PERCENT);
                break;
        default:
                (void) snprintf(buf, size, "%" PRIu64, v);
        }
}

int config_verify(const Config *c, char **ret_message) {
        /* Each default limit and the maximum it must not exceed (FileSizeMax=
         * has no maximum: requests cannot set it). */
        static const struct {
                const char *key, *max_key;
                uint64_t min;           /* what a request may ask for at least (limits.h) */
        } pairs[] = {
                { "TimeoutSec", "MaxTimeoutSec", 1 },
                { "MemoryMax",  "MaxMemoryMax",  LIMITS_MEMORY_MIN },
                { "CPUQuota",   "MaxCPUQuota",   1 },
                { "TasksMax",   "MaxTasksMax",   LIMITS_TASKS_MIN },
                { "OutputMax",  "MaxOutputMax",  LIMITS_OUTPUT_MIN },
                { "FileSizeMax", NULL,           1 },
        };
        char a[64], b[64];

        if (ret_message)
                *ret_message = NULL;

        for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
                const ConfigKey *k = config_key_find("Execution", pairs[i].key);
                const ConfigKey *mk = pairs[i].max_key ? config_key_find("Execution", pairs[i].max_key) : NULL;
                uint64_t v = *config_field(c, k, const uint64_t);

                if (v == 0)
                        return error_message_set(ret_message, -EINVAL, "[Execution] %s= must be greater than 0", k->key);
                if (v < pairs[i].min) {
                        format_value(k, v, a, sizeof(a));
                        format_value(k, pairs[i].min, b, sizeof(b));
                        return error_message_set(ret_message, -EINVAL, "[Execution] %s=%s is below the minimum %s",
                                                 k->key, a, b);
                }
                /* Limits travel as JSON integers (signed 64 bit). */
                if (v > INT64_MAX)
                        return error_message_set(ret_message, -EINVAL, "[Execution] %s= is too large", k->key);
                if (!mk)
                        continue;

                uint64_t max = *config_field(c, mk, const uint64_t);
                if (max == 0)
                        return error_message_set(ret_message, -EINVAL, "[Execution] %s= must be greater than 0", mk->key);
                if (max > INT64_MAX)
                        return error_message_set(ret_message, -EINVAL, "[Execution] %s= is too large", mk->key);
                if (v > max) {
                        format_value(k, v, a, sizeof(a));
                        format_value(mk, max, b, sizeof(b));
                        return error_message_set(ret_message, -EINVAL, "[Execution] %s=%s is above %s=%s",
                                                 k->key, a, mk->key, b);
                }
        }

        if (c->max_concurrent < 1)
                return error_message_set(ret_message, -EINVAL, "[Queue] MaxConcurrent= must be at least 1");
        if (c->max_queued < 1)
                return error_message_set(ret_message, -EINVAL, "[Queue] MaxQueued= must be at least 1");
        if (c->result_ttl_usec == 0)
                return error_message_set(ret_message, -EINVAL, "[Queue] ResultTTLSec= must be greater than 0");
        if (!c->redis_address || c->redis_address[0] == '\0')
                return error_message_set(ret_message, -EINVAL, "[Redis] Address= must not be empty");
        if (!c->key_prefix || c->key_prefix[0] == '\0')
                return error_message_set(ret_message, -EINVAL, "[Redis] KeyPrefix= must not be empty");
        if (c->max_request_bytes == 0)
                return error_message_set(ret_message, -EINVAL, "[HTTP] MaxRequestBytes= must be greater than 0");
        if (c->output_limit_action < 0 || c->output_limit_action >= _OUTPUT_LIMIT_ACTION_MAX)
                return error_message_set(ret_message, -EINVAL, "[Execution] OutputLimitAction= is invalid");

        /* Checked whether the sandbox is on or not: turning it back on must
         * not be what makes a configuration invalid. */
        if (c->uid_first > c->uid_last)
                return error_message_set(ret_message, -EINVAL, "[Sandbox] UIDRange=%" PRIu32 "-%" PRIu32 ": FIRST is above LAST",
                                         (uint32_t) c->uid_first, (uint32_t) c->uid_last);
        for (size_t i = 0; i < ELEMENTSOF(uid_forbidden); i++)
                if (c->uid_first <= uid_forbidden[i].last && uid_forbidden[i].first <= c->uid_last) {
                        if (uid_forbidden[i].first == uid_forbidden[i].last)
                                return error_message_set(ret_message, -EINVAL,
                                                         "[Sandbox] UIDRange=%" PRIu32 "-%" PRIu32 " holds uid %" PRIu32 " (%s)",
                                                         (uint32_t) c->uid_first, (uint32_t) c->uid_last,
                                                         uid_forbidden[i].first, uid_forbidden[i].what);
                        return error_message_set(ret_message, -EINVAL,
                                                 "[Sandbox] UIDRange=%" PRIu32 "-%" PRIu32 " overlaps %" PRIu32 "-%" PRIu32 " (%s)",
                                                 (uint32_t) c->uid_first, (uint32_t) c->uid_last,
                                                 uid_forbidden[i].first, uid_forbidden[i].last, uid_forbidden[i].what);
                }
        /* One uid per running execution. */
        if ((uint64_t) c->uid_last - c->uid_first + 1 < c->max_concurrent)
                return error_message_set(ret_message, -EINVAL,
                                         "[Sandbox] UIDRange=%" PRIu32 "-%" PRIu32 " holds fewer uids than MaxConcurrent=%u",
                                         (uint32_t) c->uid_first, (uint32_t) c->uid_last, c->max_concurrent);

        return 0;
}
