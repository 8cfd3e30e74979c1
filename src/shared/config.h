/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * pyexecd.conf: INI in systemd's style, parsed with inih. The main file is
 * read first, then pyexecd.conf.d/\*.conf in lexical order; later
 * assignments win. Sections and keys (DESIGN.md "Configuration"):
 *
 *   [Execution] TimeoutSec= MemoryMax= CPUQuota= TasksMax= OutputMax= FileSizeMax=
 *               MaxTimeoutSec= MaxMemoryMax= MaxCPUQuota= MaxTasksMax= MaxOutputMax=
 *               OutputLimitAction=
 *   [Queue]     MaxConcurrent= MaxQueued= ResultTTLSec=
 *   [Redis]     Address= KeyPrefix=
 *   [HTTP]      IdleExitSec= MaxRequestBytes=
 *   [Sandbox]   Enabled= UIDRange=
 *
 * An empty assignment ("TimeoutSec=") resets the key to its built-in value.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/limits.h"

/* What happens at OutputMax: output is dropped either way; "kill" also ends
 * the payload (the execution ends "failed"). */
typedef enum OutputLimitAction {
        OUTPUT_LIMIT_KEEP,
        OUTPUT_LIMIT_KILL,
        _OUTPUT_LIMIT_ACTION_MAX,
        _OUTPUT_LIMIT_ACTION_INVALID = -EINVAL,
} OutputLimitAction;

/* "keep", "kill"; NULL for an invalid value. */
const char *output_limit_action_to_string(OutputLimitAction a);
/* The inverse; _OUTPUT_LIMIT_ACTION_INVALID for anything else (or NULL). */
OutputLimitAction output_limit_action_from_string(const char *s);

/* The built-in [Sandbox] UIDRange=: the 64 K block at 0x70000000, which
 * systemd's docs/UIDS-GIDS.md leaves unused (between the container ranges
 * and the foreign range). */
#define CONFIG_UID_RANGE_FIRST_DEFAULT ((uid_t) UINT32_C(0x70000000))
#define CONFIG_UID_RANGE_LAST_DEFAULT ((uid_t) UINT32_C(0x7000FFFF))

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
        OutputLimitAction output_limit_action;
        bool sandbox_enabled;           /* [Sandbox] Enabled=; no: PID namespace only, as root */
        uid_t uid_first, uid_last;      /* [Sandbox] UIDRange=FIRST-LAST, both included: one uid = gid
                                         * per running execution */
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
 * non-empty; UIDRange= with FIRST <= LAST, at least MaxConcurrent uids, and
 * none of the uids that are never ours (0, 65534, 65535, 4294967295, and
 * systemd's ranges: 60001–60577 homed and container host users,
 * 61184–65519 DynamicUser=, 524288–1879048191 nspawn containers,
 * 2147352576–2147418111 foreign). Whether the user database holds a uid of
 * the range is not checked here (that is I/O: src/exec/uid-range.h).
 * Returns 0, or -EINVAL with a message in @ret_message (malloc'd), or
 * -ENOMEM.
 */
int config_verify(const Config *c, char **ret_message);
