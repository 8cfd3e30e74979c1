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
} Config;

/* Fills @c with the built-in defaults for a machine with @ncpus CPUs. Returns 0 or -ENOMEM. */
int config_init(Config *c, unsigned ncpus);

/* Frees what @c owns; @c may be zeroed or initialised. */
void config_done(Config *c);

/*
 * Reads one INI file into @c. Returns 0, -ENOENT when the file does not
 * exist, or -EINVAL for a syntax error, an unknown section or key, or a bad
 * value, with "FILE:LINE: message" in @ret_message (malloc'd).
 */
int config_load_file(Config *c, const char *path, char **ret_message);

/* Reads @main_path (missing is fine) and then @dropin_dir/\*.conf (sorted; missing dir is fine). */
int config_load(Config *c, const char *main_path, const char *dropin_dir, char **ret_message);

/* Checks cross-field rules (defaults <= maxima, non-zero counts). -EINVAL with a message. */
int config_verify(const Config *c, char **ret_message);
