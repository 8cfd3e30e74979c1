/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * pyexecd.conf: INI in systemd's style, parsed with inih. The main file is
 * read first, then pyexecd.conf.d/\*.conf in lexical order; later
 * assignments win. Sections and keys (DESIGN.md "Configuration"):
 *
 *   [Execution] TimeoutSec= MemoryMax= CPUQuota= TasksMax= OutputMax= FileSizeMax=
 *               MaxTimeoutSec= MaxMemoryMax= MaxCPUQuota= MaxTasksMax= MaxOutputMax=
 *   [Queue]     MaxConcurrent= MaxQueued= ResultTTLSec=
 *   [Redis]     Address= KeyPrefix=
 *   [HTTP]      IdleExitSec= MaxRequestBytes=
 *
 * An empty assignment ("TimeoutSec=") resets the key to its built-in value.
 */

#include <stdint.h>

#include "shared/limits.h"

typedef struct Config {
        Limits limits_default;          /* used when a request names no limit */
        Limits limits_max;              /* requests above these get 400 */
        unsigned max_concurrent;        /* executions running at once on this node (default: CPUs) */
        unsigned max_queued;            /* queued executions before 429 */
        uint64_t result_ttl_usec;       /* finished executions expire after this, µs */
        char *redis_address;            /* "/path/to/socket" or "host:port" */
        char *key_prefix;               /* "pyexecd:" */
        uint64_t idle_exit_usec;        /* exit after this long idle, µs; 0 = never */
        uint64_t max_request_bytes;     /* request bodies above get 413 */
        unsigned ncpus;                 /* as given to config_init(): the built-in MaxConcurrent= and
                                         * MaxCPUQuota= that an empty assignment restores */
} Config;

/* Fills @c with the built-in defaults for a machine with @ncpus CPUs. Returns 0 or -ENOMEM. */
int config_init(Config *c, unsigned ncpus);

/* Frees what @c owns; @c may be zeroed or initialised. */
void config_done(Config *c);

/*
 * Reads one INI file into @c. Returns 0, -ENOENT when the file does not
 * exist, or -EINVAL for a syntax error, an unknown section or key, or a bad
 * value, with "FILE:LINE: message" in @ret_message (malloc'd), e.g.
 * "/etc/pyexecd/pyexecd.conf:3: [Execution] MemoryMax=: invalid size \"12X\" …".
 * Other errors (-ENOMEM, -EACCES, -EIO, …) are passed on. Every error
 * sets @ret_message (also -ENOENT's "FILE: No such file or directory"),
 * except -ENOMEM, which may leave it NULL; success sets it to NULL. On any
 * error @c is left as it was: no half-read file takes effect.
 */
int config_load_file(Config *c, const char *path, char **ret_message);

/*
 * Reads @main_path (missing is fine) and then @dropin_dir/\*.conf (regular
 * files, sorted by name with strcmp(); a missing dir is fine); later
 * assignments win. Either may be NULL. Errors as config_load_file(); on
 * error @c is left as it was.
 */
int config_load(Config *c, const char *main_path, const char *dropin_dir, char **ret_message);

/*
 * Applies one assignment as if it appeared in a file, e.g. ("Execution",
 * "TimeoutSec", "1min") for a command-line override; "" restores the
 * built-in value. Returns 0, or -EINVAL with "[Section] Key=: message" in
 * @ret_message (malloc'd), or -ENOMEM.
 */
int config_set(Config *c, const char *section, const char *key, const char *value, char **ret_message);

/*
 * Checks cross-field rules: every default <= its maximum, limits and counts
 * non-zero (TimeoutSec=0 would mean "no limit" to systemd), MaxConcurrent,
 * MaxQueued, ResultTTLSec and MaxRequestBytes >= 1, Address and KeyPrefix
 * non-empty. Returns 0, or -EINVAL with a message in @ret_message (malloc'd),
 * or -ENOMEM.
 */
int config_verify(const Config *c, char **ret_message);
