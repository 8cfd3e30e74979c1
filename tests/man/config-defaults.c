/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * config-defaults: checks values that documentation calls a key's default.
 *
 * Reads lines "NCPUS<TAB>SECTION<TAB>KEY<TAB>VALUE" on stdin. For each, it
 * applies KEY=VALUE with config_set() to the built-in configuration of a
 * machine with NCPUS CPUs and compares the result with the built-in
 * configuration itself: they must be equal, or the documented value is not
 * the default. A line starting with "!" must instead give a different
 * configuration (the caller's proof that this check can fail).
 *
 * Prints one line per mismatch and a summary; exits 0 when every line
 * held, 1 otherwise, 2 on bad input. Used by check-doc-coverage.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/config.h"
#include "shared/macro.h"

static bool str_eq(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool limits_eq(const Limits *a, const Limits *b) {
        return a->timeout_usec == b->timeout_usec &&
               a->memory_max == b->memory_max &&
               a->cpu_quota_per_sec_usec == b->cpu_quota_per_sec_usec &&
               a->tasks_max == b->tasks_max &&
               a->output_max == b->output_max &&
               a->file_size_max == b->file_size_max;
}

/* Field by field: Config holds pointers and padding. A field added to
 * Config must be added here too. */
static bool config_eq(const Config *a, const Config *b) {
        return limits_eq(&a->limits_default, &b->limits_default) &&
               limits_eq(&a->limits_max, &b->limits_max) &&
               a->max_concurrent == b->max_concurrent &&
               a->max_queued == b->max_queued &&
               a->result_ttl_usec == b->result_ttl_usec &&
               str_eq(a->redis_address, b->redis_address) &&
               str_eq(a->key_prefix, b->key_prefix) &&
               a->idle_exit_usec == b->idle_exit_usec &&
               a->max_request_bytes == b->max_request_bytes &&
               a->ncpus == b->ncpus &&
               a->output_limit_action == b->output_limit_action &&
               a->sandbox_enabled == b->sandbox_enabled &&
               a->uid_first == b->uid_first &&
               a->uid_last == b->uid_last;
}

/* Splits @line at tabs into exactly @n fields (in place). */
static int split_fields(char *line, char **fields, size_t n) {
        char *p = line;

        for (size_t i = 0; i < n; i++) {
                char *tab = i + 1 < n ? strchr(p, '\t') : NULL;

                if (i + 1 < n && !tab)
                        return -EINVAL;
                if (tab)
                        *tab = '\0';
                fields[i] = p;
                p = tab ? tab + 1 : NULL;
        }
        return strchr(fields[n - 1], '\t') ? -EINVAL : 0;
}

static int check_line(char *line) {
        _cleanup_(config_done) Config builtin = {}, set = {};
        _cleanup_free_ char *message = NULL;
        char *f[4];
        unsigned ncpus;
        bool expect_equal = true;
        int r;

        if (line[0] == '!') {
                expect_equal = false;
                line++;
        }

        if (split_fields(line, f, ELEMENTSOF(f)) < 0 || parse_unsigned(f[0], &ncpus) < 0 || ncpus == 0) {
                fprintf(stderr, "config-defaults: bad input line: %s\n", line);
                return -EINVAL;
        }

        if (config_init(&builtin, ncpus) < 0 || config_init(&set, ncpus) < 0) {
                fprintf(stderr, "config-defaults: out of memory\n");
                return -ENOMEM;
        }

        r = config_set(&set, f[1], f[2], f[3], &message);
        if (r < 0) {
                printf("[%s] %s=%s: refused by config_set(): %s\n", f[1], f[2], f[3], message ?: strerror(-r));
                return 0;
        }

        if (config_eq(&builtin, &set) != expect_equal) {
                printf("[%s] %s=%s (%u CPUs): %s\n", f[1], f[2], f[3], ncpus,
                       expect_equal ? "is not the built-in default" : "unexpectedly equals the built-in default");
                return 0;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned n_lines = 0, n_ok = 0;
        ssize_t n;

        while ((n = getline(&line, &size, stdin)) >= 0) {
                int r;

                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                if (n == 0)
                        continue;

                n_lines++;
                r = check_line(line);
                if (r < 0)
                        return 2;
                if (r > 0)
                        n_ok++;
        }

        printf("config-defaults: %u of %u values as documented\n", n_ok, n_lines);
        return n_lines > 0 && n_ok == n_lines ? 0 : 1;
}
