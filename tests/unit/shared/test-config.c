/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/config.h"
#include "shared/macro.h"

#define MIB (UINT64_C(1024) * 1024)
#define GIB (MIB * 1024)

/* A fresh directory per test, removed afterwards (also under CK_FORK=no). */
static char tmpdir[64];

static void setup(void) {
        strcpy(tmpdir, "/tmp/pyexecd-test-config-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void teardown(void) {
        (void) nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes @text to @name in the test directory; returns the path (static buffer per call site is not
 * needed: the caller frees). */
static char *write_file(const char *name, const char *text) {
        char *path = NULL;
        FILE *f;

        ck_assert_int_ge(asprintf(&path, "%s/%s", tmpdir, name), 0);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fputs(text, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
        return path;
}

static char *make_dir(const char *name) {
        char *path = NULL;

        ck_assert_int_ge(asprintf(&path, "%s/%s", tmpdir, name), 0);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        return path;
}

START_TEST(test_builtin) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *message = NULL;

        ck_assert_int_eq(config_init(&c, 8), 0);
        ck_assert_uint_eq(c.limits_default.timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c.limits_default.memory_max, 512 * MIB);
        ck_assert_uint_eq(c.limits_default.cpu_quota_per_sec_usec, 1000000);
        ck_assert_uint_eq(c.limits_default.tasks_max, 64);
        ck_assert_uint_eq(c.limits_default.output_max, 1 * MIB);
        ck_assert_uint_eq(c.limits_default.file_size_max, 16 * MIB);
        ck_assert_uint_eq(c.limits_max.timeout_usec, 300 * USEC_PER_SEC);
        ck_assert_uint_eq(c.limits_max.memory_max, 4 * GIB);
        ck_assert_uint_eq(c.limits_max.cpu_quota_per_sec_usec, 8000000);
        ck_assert_uint_eq(c.limits_max.tasks_max, 512);
        ck_assert_uint_eq(c.limits_max.output_max, 16 * MIB);
        ck_assert_uint_eq(c.max_concurrent, 8);
        ck_assert_uint_eq(c.max_queued, 100);
        ck_assert_uint_eq(c.result_ttl_usec, 86400 * USEC_PER_SEC);
        ck_assert_str_eq(c.redis_address, "127.0.0.1:6379");
        ck_assert_str_eq(c.key_prefix, "pyexecd:");
        ck_assert_uint_eq(c.idle_exit_usec, 0);
        ck_assert_uint_eq(c.max_request_bytes, 1 * MIB);
        ck_assert_int_eq(c.output_limit_action, OUTPUT_LIMIT_KEEP);
        ck_assert(c.sandbox_enabled);
        ck_assert_uint_eq(c.uid_first, 1879048192);
        ck_assert_uint_eq(c.uid_last, 1879113727);
        ck_assert_int_eq(config_verify(&c, &message), 0);
        ck_assert_ptr_null(message);

        config_done(&c);
        ck_assert_ptr_null(c.redis_address);
        config_done(&c);

        ck_assert_int_eq(config_init(&c, 0), 0);        /* unknown CPU count counts as one */
        ck_assert_uint_eq(c.max_concurrent, 1);
        ck_assert_uint_eq(c.limits_max.cpu_quota_per_sec_usec, 1000000);
}
END_TEST

START_TEST(test_file_every_key) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *message = NULL, *path = NULL;

        path = write_file("pyexecd.conf",
                          "# comment\n"
                          "; another\n"
                          "\n"
                          "[Execution]\n"
                          "TimeoutSec=1min\n"
                          "MemoryMax=256M\n"
                          "CPUQuota=50%\n"
                          "TasksMax=32\n"
                          "OutputMax=64K\n"
                          "FileSizeMax=1G\n"
                          "MaxTimeoutSec=10min\n"
                          "MaxMemoryMax=8G\n"
                          "MaxCPUQuota=150%\n"
                          "MaxTasksMax=1024\n"
                          "MaxOutputMax=32M\n"
                          "\n"
                          "[Queue]\n"
                          "  MaxConcurrent = 3\n"
                          "MaxQueued=7\n"
                          "ResultTTLSec=2h\n"
                          "[Redis]\n"
                          "Address=/run/redis/redis.sock\n"
                          "KeyPrefix=test:\n"
                          "[HTTP]\n"
                          "IdleExitSec=30s\n"
                          "MaxRequestBytes=2M\n"
                          "[Sandbox]\n"
                          "Enabled=no\n"
                          "UIDRange=1879048200-1879048299\n"
                          "[Execution]\n"
                          "OutputLimitAction=kill\n");

        ck_assert_int_eq(config_init(&c, 4), 0);
        ck_assert_int_eq(config_load_file(&c, path, &message), 0);
        ck_assert_ptr_null(message);
        ck_assert_uint_eq(c.limits_default.timeout_usec, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(c.limits_default.memory_max, 256 * MIB);
        ck_assert_uint_eq(c.limits_default.cpu_quota_per_sec_usec, 500000);
        ck_assert_uint_eq(c.limits_default.tasks_max, 32);
        ck_assert_uint_eq(c.limits_default.output_max, 64 * 1024);
        ck_assert_uint_eq(c.limits_default.file_size_max, 1 * GIB);
        ck_assert_uint_eq(c.limits_max.timeout_usec, 600 * USEC_PER_SEC);
        ck_assert_uint_eq(c.limits_max.memory_max, 8 * GIB);
        ck_assert_uint_eq(c.limits_max.cpu_quota_per_sec_usec, 1500000);
        ck_assert_uint_eq(c.limits_max.tasks_max, 1024);
        ck_assert_uint_eq(c.limits_max.output_max, 32 * MIB);
        ck_assert_uint_eq(c.max_concurrent, 3);
        ck_assert_uint_eq(c.max_queued, 7);
        ck_assert_uint_eq(c.result_ttl_usec, 7200 * USEC_PER_SEC);
        ck_assert_str_eq(c.redis_address, "/run/redis/redis.sock");
        ck_assert_str_eq(c.key_prefix, "test:");
        ck_assert_uint_eq(c.idle_exit_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c.max_request_bytes, 2 * MIB);
        ck_assert(!c.sandbox_enabled);
        ck_assert_uint_eq(c.uid_first, 1879048200);
        ck_assert_uint_eq(c.uid_last, 1879048299);
        ck_assert_int_eq(c.output_limit_action, OUTPUT_LIMIT_KILL);
        ck_assert_int_eq(config_verify(&c, &message), 0);
}
END_TEST

/* Loads @text over the built-in values, expects -EINVAL and the file's path
 * followed by @expected, and checks the config did not change. */
static void check_bad_file(const char *text, const char *expected) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *message = NULL, *path = NULL, *want = NULL;

        path = write_file("bad.conf", text);
        ck_assert_int_ge(asprintf(&want, "%s%s", path, expected), 0);

        ck_assert_int_eq(config_init(&c, 4), 0);
        ck_assert_int_eq(config_load_file(&c, path, &message), -EINVAL);
        ck_assert_ptr_nonnull(message);
        ck_assert_str_eq(message, want);
        /* nothing of the bad file took effect, not even the lines before the error */
        ck_assert_uint_eq(c.limits_default.timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c.max_queued, 100);
        ck_assert_str_eq(c.key_prefix, "pyexecd:");
}

START_TEST(test_bad_keys) {
        check_bad_file("[Execution]\nTimeoutSec=5\nTimeOutSec=5\n",
                       ":3: [Execution] TimeOutSec=: unknown key");
        check_bad_file("[Queue]\nMaxQueued=5\nTimeoutSec=5\n",
                       ":3: [Queue] TimeoutSec=: unknown key");
        check_bad_file("[Queue]\nMaxQueued=5\n[Frobnicate]\n",
                       ":3: [Frobnicate]: unknown section (known: [Execution], [Queue], [Redis], [HTTP], [Sandbox])");
        check_bad_file("[Queue]\nMaxQueued=5\n[execution]\nTimeoutSec=1\n",
                       ":3: [execution]: unknown section (known: [Execution], [Queue], [Redis], [HTTP], [Sandbox])");
        check_bad_file("MaxQueued=5\n",
                       ":1: MaxQueued=: assignment outside of a section");
        check_bad_file("[Queue]\nMaxQueued=5\nthis is not an assignment\nMaxQueued=x\n",
                       ":3: syntax error (expected [Section], Key=Value, or a comment starting with # or ;)");
        check_bad_file("[Queue\nMaxQueued=5\n",
                       ":1: syntax error (expected [Section], Key=Value, or a comment starting with # or ;)");
}
END_TEST

START_TEST(test_bad_values) {
        check_bad_file("[Queue]\nMaxQueued=5\n[Execution]\nMemoryMax=12X\n",
                       ":4: [Execution] MemoryMax=: invalid size \"12X\" (bytes, or with K, M, G, T: 512M, 4G)");
        check_bad_file("[Execution]\nTimeoutSec=soon\n",
                       ":2: [Execution] TimeoutSec=: invalid time span \"soon\" (e.g. 30, 500ms, 2min, 1h, 1d)");
        check_bad_file("[Execution]\nCPUQuota=100\n",
                       ":2: [Execution] CPUQuota=: invalid percentage \"100\" (e.g. 100%, 250%)");
        check_bad_file("[Execution]\nTasksMax=-1\n",
                       ":2: [Execution] TasksMax=: invalid number \"-1\" (a decimal integer)");
        check_bad_file("[Queue]\nMaxConcurrent=99999999999\n",
                       ":2: [Queue] MaxConcurrent=: invalid number \"99999999999\", too large (a decimal integer)");
        check_bad_file("[Execution]\nMaxMemoryMax=16E\n",
                       ":2: [Execution] MaxMemoryMax=: invalid size \"16E\", too large (bytes, or with K, M, G, T: 512M, 4G)");
        check_bad_file("[Redis]\nAddress=localhost\n",
                       ":2: [Redis] Address=: invalid address \"localhost\" (an absolute unix socket path of at most 107 bytes, or host:port)");
        check_bad_file("[Redis]\nAddress=localhost:99999\n",
                       ":2: [Redis] Address=: invalid address \"localhost:99999\" (an absolute unix socket path of at most 107 bytes, or host:port)");
        check_bad_file("[Redis]\nAddress=relative/path.sock\n",
                       ":2: [Redis] Address=: invalid address \"relative/path.sock\" (an absolute unix socket path of at most 107 bytes, or host:port)");
        check_bad_file("[Sandbox]\nEnabled=maybe\n",
                       ":2: [Sandbox] Enabled=: invalid boolean \"maybe\" (yes or no)");
        check_bad_file("[Execution]\nOutputLimitAction=stop\n",
                       ":2: [Execution] OutputLimitAction=: invalid action \"stop\" (keep or kill)");
}
END_TEST

START_TEST(test_bad_lines) {
        char text[512];

        /* inih would split a long line in two; we refuse it */
        strcpy(text, "[Redis]\nKeyPrefix=");
        memset(text + strlen(text), 'k', 300);
        strcpy(text + strlen("[Redis]\nKeyPrefix=") + 300, "\n");
        check_bad_file(text, ":2: line too long (at most 198 bytes)");

        /* a NUL byte would cut the line silently */
        {
                _cleanup_(config_done) Config c = {};
                _cleanup_free_ char *message = NULL, *path = NULL, *want = NULL;
                FILE *f;

                ck_assert_int_ge(asprintf(&path, "%s/nul.conf", tmpdir), 0);
                f = fopen(path, "we");
                ck_assert_ptr_nonnull(f);
                ck_assert_uint_eq(fwrite("[Redis]\nKeyPrefix=a\0b\n", 1, 22, f), 22);
                ck_assert_int_eq(fclose(f), 0);
                ck_assert_int_ge(asprintf(&want, "%s:2: line contains a NUL byte", path), 0);

                ck_assert_int_eq(config_init(&c, 1), 0);
                ck_assert_int_eq(config_load_file(&c, path, &message), -EINVAL);
                ck_assert_str_eq(message, want);
        }
}
END_TEST

START_TEST(test_empty_resets) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *message = NULL, *a = NULL, *b = NULL;

        a = write_file("a.conf",
                       "[Execution]\nTimeoutSec=5\nMaxCPUQuota=100%\n"
                       "[Queue]\nMaxConcurrent=2\n"
                       "[Redis]\nKeyPrefix=other:\nAddress=10.0.0.1:7000\n");
        b = write_file("b.conf",
                       "[Execution]\nTimeoutSec=\nMaxCPUQuota=\n"
                       "[Queue]\nMaxConcurrent=\n"
                       "[Redis]\nKeyPrefix=\nAddress=\n");

        ck_assert_int_eq(config_init(&c, 6), 0);
        ck_assert_int_eq(config_load_file(&c, a, &message), 0);
        ck_assert_uint_eq(c.limits_default.timeout_usec, 5 * USEC_PER_SEC);
        ck_assert_uint_eq(c.limits_max.cpu_quota_per_sec_usec, 1000000);
        ck_assert_uint_eq(c.max_concurrent, 2);
        ck_assert_str_eq(c.key_prefix, "other:");
        ck_assert_str_eq(c.redis_address, "10.0.0.1:7000");

        ck_assert_int_eq(config_load_file(&c, b, &message), 0);
        ck_assert_uint_eq(c.limits_default.timeout_usec, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c.limits_max.cpu_quota_per_sec_usec, 6000000);        /* 6 CPUs */
        ck_assert_uint_eq(c.max_concurrent, 6);
        ck_assert_str_eq(c.key_prefix, "pyexecd:");
        ck_assert_str_eq(c.redis_address, "127.0.0.1:6379");
}
END_TEST

START_TEST(test_dropins) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *message = NULL, *main_path = NULL, *dir = NULL;
        _cleanup_free_ char *f1 = NULL, *f2 = NULL, *f3 = NULL, *f4 = NULL, *f5 = NULL, *masked = NULL, *sub = NULL;

        main_path = write_file("pyexecd.conf", "[Queue]\nMaxQueued=10\nMaxConcurrent=2\n[Execution]\nTasksMax=10\n");
        dir = make_dir("pyexecd.conf.d");
        /* sorted by name: 10-… before 20-… before 9-… (strcmp order) */
        f1 = write_file("pyexecd.conf.d/20-b.conf", "[Queue]\nMaxQueued=20\n");
        f2 = write_file("pyexecd.conf.d/10-a.conf", "[Queue]\nMaxQueued=15\nMaxConcurrent=5\n");
        f3 = write_file("pyexecd.conf.d/9-z.conf", "[Execution]\nTasksMax=99\n");
        /* not drop-ins: wrong suffix, hidden, a directory, masked by /dev/null */
        f4 = write_file("pyexecd.conf.d/30-c.conf.bak", "[Queue]\nMaxQueued=1\n");
        f5 = write_file("pyexecd.conf.d/.40-hidden.conf", "[Queue]\nMaxQueued=2\n");
        sub = make_dir("pyexecd.conf.d/50-dir.conf");
        ck_assert_int_ge(asprintf(&masked, "%s/pyexecd.conf.d/60-masked.conf", tmpdir), 0);
        ck_assert_int_eq(symlink("/dev/null", masked), 0);

        ck_assert_int_eq(config_init(&c, 4), 0);
        ck_assert_int_eq(config_load(&c, main_path, dir, &message), 0);
        ck_assert_ptr_null(message);
        ck_assert_uint_eq(c.max_queued, 20);
        ck_assert_uint_eq(c.max_concurrent, 5);
        ck_assert_uint_eq(c.limits_default.tasks_max, 99);
}
END_TEST

START_TEST(test_dropins_missing_and_bad) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *message = NULL, *missing = NULL, *nodir = NULL, *dir = NULL;
        _cleanup_free_ char *good = NULL, *bad = NULL, *want = NULL, *main_path = NULL;

        ck_assert_int_ge(asprintf(&missing, "%s/none.conf", tmpdir), 0);
        ck_assert_int_ge(asprintf(&nodir, "%s/none.conf.d", tmpdir), 0);

        ck_assert_int_eq(config_init(&c, 4), 0);
        /* nothing there at all is fine */
        ck_assert_int_eq(config_load(&c, missing, nodir, &message), 0);
        ck_assert_ptr_null(message);
        ck_assert_int_eq(config_load(&c, missing, nodir, NULL), 0);      /* also without a message */
        ck_assert_int_eq(config_load(&c, NULL, NULL, &message), 0);
        ck_assert_uint_eq(c.max_queued, 100);

        /* but config_load_file() says so */
        ck_assert_int_eq(config_load_file(&c, missing, &message), -ENOENT);
        free(message);
        message = NULL;

        /* a bad drop-in fails the whole load, naming its file and line; nothing applies */
        main_path = write_file("main.conf", "[Queue]\nMaxQueued=10\n");
        dir = make_dir("d");
        good = write_file("d/10-good.conf", "[Queue]\nMaxConcurrent=3\n");
        bad = write_file("d/20-bad.conf", "[HTTP]\n\nMaxRequestBytes=lots\n");
        ck_assert_int_ge(asprintf(&want, "%s:3: [HTTP] MaxRequestBytes=: invalid size \"lots\" "
                                         "(bytes, or with K, M, G, T: 512M, 4G)", bad), 0);
        ck_assert_int_eq(config_load(&c, main_path, dir, &message), -EINVAL);
        ck_assert_str_eq(message, want);
        ck_assert_uint_eq(c.max_queued, 100);
        ck_assert_uint_eq(c.max_concurrent, 4);
}
END_TEST

START_TEST(test_set) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL;

        ck_assert_int_eq(config_init(&c, 2), 0);
        ck_assert_int_eq(config_set(&c, "Execution", "MemoryMax", "1G", NULL), 0);
        ck_assert_uint_eq(c.limits_default.memory_max, 1 * GIB);
        ck_assert_int_eq(config_set(&c, "Execution", "MemoryMax", "", NULL), 0);
        ck_assert_uint_eq(c.limits_default.memory_max, 512 * MIB);
        ck_assert_int_eq(config_set(&c, "HTTP", "IdleExitSec", "1min 30s", NULL), 0);
        ck_assert_uint_eq(c.idle_exit_usec, 90 * USEC_PER_SEC);

        ck_assert_int_eq(config_set(&c, "HTTP", "Nope", "1", &m1), -EINVAL);
        ck_assert_str_eq(m1, "[HTTP] Nope=: unknown key");
        ck_assert_int_eq(config_set(&c, "Nope", "IdleExitSec", "1", &m2), -EINVAL);
        ck_assert_str_eq(m2, "[Nope]: unknown section (known: [Execution], [Queue], [Redis], [HTTP], [Sandbox])");
        ck_assert_int_eq(config_set(&c, "Queue", "MaxQueued", "many", &m3), -EINVAL);
        ck_assert_str_eq(m3, "[Queue] MaxQueued=: invalid number \"many\" (a decimal integer)");
}
END_TEST

static void check_verify(Config *c, const char *expected) {
        _cleanup_free_ char *message = NULL;

        ck_assert_int_eq(config_verify(c, &message), -EINVAL);
        ck_assert_ptr_nonnull(message);
        ck_assert_str_eq(message, expected);
}

START_TEST(test_verify) {
        _cleanup_(config_done) Config c = {};

        ck_assert_int_eq(config_init(&c, 2), 0);

        /* exactly the maximum is fine */
        c.limits_default.timeout_usec = c.limits_max.timeout_usec;
        c.limits_default.cpu_quota_per_sec_usec = c.limits_max.cpu_quota_per_sec_usec;
        ck_assert_int_eq(config_verify(&c, NULL), 0);

        c.limits_default.timeout_usec = c.limits_max.timeout_usec + 500000;
        check_verify(&c, "[Execution] TimeoutSec=300.5s is above MaxTimeoutSec=300s");
        c.limits_default.timeout_usec = 0;
        check_verify(&c, "[Execution] TimeoutSec= must be greater than 0");
        c.limits_default.timeout_usec = 30 * USEC_PER_SEC;

        c.limits_default.memory_max = 5 * GIB;
        check_verify(&c, "[Execution] MemoryMax=5368709120 is above MaxMemoryMax=4294967296");
        /* below what a request could ask for: nothing could run */
        c.limits_default.memory_max = 16 * MIB;
        check_verify(&c, "[Execution] MemoryMax=16777216 is below the minimum 33554432");
        c.limits_default.memory_max = 512 * MIB;
        c.limits_default.tasks_max = 7;
        check_verify(&c, "[Execution] TasksMax=7 is below the minimum 8");
        c.limits_default.tasks_max = 64;

        c.limits_default.cpu_quota_per_sec_usec = 3000000;
        check_verify(&c, "[Execution] CPUQuota=300% is above MaxCPUQuota=200%");
        c.limits_default.cpu_quota_per_sec_usec = 1000000;

        c.limits_max.tasks_max = 10;
        check_verify(&c, "[Execution] TasksMax=64 is above MaxTasksMax=10");
        c.limits_max.tasks_max = 0;
        c.limits_default.tasks_max = 0;
        check_verify(&c, "[Execution] TasksMax= must be greater than 0");
        c.limits_default.tasks_max = 64;
        check_verify(&c, "[Execution] MaxTasksMax= must be greater than 0");
        c.limits_max.tasks_max = 512;

        c.limits_default.output_max = 17 * MIB;
        check_verify(&c, "[Execution] OutputMax=17825792 is above MaxOutputMax=16777216");
        c.limits_default.output_max = 1 * MIB;

        c.limits_default.file_size_max = 0;
        check_verify(&c, "[Execution] FileSizeMax= must be greater than 0");
        c.limits_default.file_size_max = 64 * GIB;     /* no maximum for this one */
        ck_assert_int_eq(config_verify(&c, NULL), 0);

        c.max_concurrent = 0;
        check_verify(&c, "[Queue] MaxConcurrent= must be at least 1");
        c.max_concurrent = 1;
        c.max_queued = 0;
        check_verify(&c, "[Queue] MaxQueued= must be at least 1");
        c.max_queued = 1;
        c.result_ttl_usec = 0;
        check_verify(&c, "[Queue] ResultTTLSec= must be greater than 0");
        c.result_ttl_usec = 1;

        c.key_prefix[0] = '\0';
        check_verify(&c, "[Redis] KeyPrefix= must not be empty");
        c.key_prefix[0] = 'p';
        c.redis_address[0] = '\0';
        check_verify(&c, "[Redis] Address= must not be empty");
        c.redis_address[0] = '1';
        c.max_request_bytes = 0;
        check_verify(&c, "[HTTP] MaxRequestBytes= must be greater than 0");
        c.max_request_bytes = 1;

        ck_assert_int_eq(config_verify(&c, NULL), 0);
}
END_TEST

START_TEST(test_verify_after_file) {
        /* a file may lower a maximum below the built-in default: verify catches it */
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *message = NULL, *path = NULL;

        path = write_file("lower.conf", "[Execution]\nMaxTimeoutSec=10s\n");
        ck_assert_int_eq(config_init(&c, 1), 0);
        ck_assert_int_eq(config_load_file(&c, path, &message), 0);
        check_verify(&c, "[Execution] TimeoutSec=30s is above MaxTimeoutSec=10s");
}
END_TEST

/* @value for [Sandbox] UIDRange=: refused by the parser with @message. */
static void check_bad_uid_range(const char *value, const char *message) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *m = NULL, *want = NULL;

        ck_assert_int_eq(config_init(&c, 1), 0);
        ck_assert_int_eq(config_set(&c, "Sandbox", "UIDRange", value, &m), -EINVAL);
        ck_assert_int_ge(asprintf(&want, "[Sandbox] UIDRange=: invalid uid range \"%s\"%s", value, message), 0);
        ck_assert_str_eq(m, want);
        /* unchanged */
        ck_assert_uint_eq(c.uid_first, 1879048192);
        ck_assert_uint_eq(c.uid_last, 1879113727);
}

START_TEST(test_uid_range_syntax) {
        _cleanup_(config_done) Config c = {};
        static const char help[] = " (FIRST-LAST, decimal, e.g. 1879048192-1879113727)";

        ck_assert_int_eq(config_init(&c, 1), 0);
        ck_assert_int_eq(config_set(&c, "Sandbox", "UIDRange", "1879048192-1879048192", NULL), 0);
        ck_assert_uint_eq(c.uid_first, 1879048192);
        ck_assert_uint_eq(c.uid_last, 1879048192);
        ck_assert_int_eq(config_set(&c, "Sandbox", "UIDRange", "4294967294-4294967294", NULL), 0);
        ck_assert_uint_eq(c.uid_first, 4294967294u);
        ck_assert_uint_eq(c.uid_last, 4294967294u);
        /* parsed, refused later by config_verify() */
        ck_assert_int_eq(config_set(&c, "Sandbox", "UIDRange", "2000000000-1900000000", NULL), 0);
        ck_assert_uint_eq(c.uid_first, 2000000000);
        ck_assert_uint_eq(c.uid_last, 1900000000);
        /* empty: the built-in range again */
        ck_assert_int_eq(config_set(&c, "Sandbox", "UIDRange", "", NULL), 0);
        ck_assert_uint_eq(c.uid_first, 1879048192);
        ck_assert_uint_eq(c.uid_last, 1879113727);

        check_bad_uid_range("1879048192", help);
        check_bad_uid_range("1879048192-", help);
        check_bad_uid_range("-1879048192", help);
        check_bad_uid_range("1879048192 - 1879048300", help);
        check_bad_uid_range("+1879048192-1879048300", help);
        check_bad_uid_range("1879048192-1879048300-1879048400", help);
        check_bad_uid_range("0x70000000-0x7000ffff", help);
        check_bad_uid_range("1879048192-4294967296", ", too large (FIRST-LAST, decimal, e.g. 1879048192-1879113727)");
        check_bad_uid_range("1879048192-18790483000", help);
}
END_TEST

START_TEST(test_uid_range_verify) {
        _cleanup_(config_done) Config c = {};
        static const struct {
                const char *range, *message;
        } bad[] = {
                { "0-100",              "[Sandbox] UIDRange=0-100 holds uid 0 (root)" },
                { "60000-60001",        "[Sandbox] UIDRange=60000-60001 overlaps 60001-60577 (systemd-homed users and container host users)" },
                { "60577-60600",        "[Sandbox] UIDRange=60577-60600 overlaps 60001-60577 (systemd-homed users and container host users)" },
                { "61000-61184",        "[Sandbox] UIDRange=61000-61184 overlaps 61184-65519 (systemd's DynamicUser= range)" },
                { "65519-65519",        "[Sandbox] UIDRange=65519-65519 overlaps 61184-65519 (systemd's DynamicUser= range)" },
                { "65534-65534",        "[Sandbox] UIDRange=65534-65534 holds uid 65534 (nobody)" },
                { "65520-65600",        "[Sandbox] UIDRange=65520-65600 holds uid 65534 (nobody)" },
                { "65535-65600",        "[Sandbox] UIDRange=65535-65600 holds uid 65535 (the 16-bit (uid_t) -1)" },
                { "524287-524288",      "[Sandbox] UIDRange=524287-524288 overlaps 524288-1879048191 (systemd-nspawn's container ranges)" },
                { "1879048191-1879048300", "[Sandbox] UIDRange=1879048191-1879048300 overlaps 524288-1879048191 (systemd-nspawn's container ranges)" },
                { "2147352000-2147352576", "[Sandbox] UIDRange=2147352000-2147352576 overlaps 2147352576-2147418111 (systemd's foreign uid range)" },
                { "2147418111-2147418200", "[Sandbox] UIDRange=2147418111-2147418200 overlaps 2147352576-2147418111 (systemd's foreign uid range)" },
                { "4294967000-4294967295", "[Sandbox] UIDRange=4294967000-4294967295 holds uid 4294967295 ((uid_t) -1)" },
                { "1879048300-1879048200", "[Sandbox] UIDRange=1879048300-1879048200: FIRST is above LAST" },
                { "1-1000000",          "[Sandbox] UIDRange=1-1000000 overlaps 60001-60577 (systemd-homed users and container host users)" },
        };

        ck_assert_int_eq(config_init(&c, 4), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_int_eq(config_set(&c, "Sandbox", "UIDRange", bad[i].range, NULL), 0);
                check_verify(&c, bad[i].message);
        }
        /* refused whether the sandbox is on or not */
        c.sandbox_enabled = false;
        check_verify(&c, bad[ELEMENTSOF(bad) - 1].message);
        c.sandbox_enabled = true;

        /* right next to the forbidden blocks is fine */
        static const char *const good[] = {
                "1-60000", "60578-61183", "65536-524287", "1879048192-2147352575", "2147418112-4294967294",
                "1879048192-1879113727", "1879048195-1879048198",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ck_assert_int_eq(config_set(&c, "Sandbox", "UIDRange", good[i], NULL), 0);
                ck_assert_msg(config_verify(&c, NULL) == 0, "%s refused", good[i]);
        }

        /* one uid per running execution */
        ck_assert_int_eq(config_set(&c, "Sandbox", "UIDRange", "1879048195-1879048197", NULL), 0);
        check_verify(&c, "[Sandbox] UIDRange=1879048195-1879048197 holds fewer uids than MaxConcurrent=4");
        c.max_concurrent = 3;
        ck_assert_int_eq(config_verify(&c, NULL), 0);
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("files");
        TCase *tv = tcase_create("verify");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_file_every_key);
        tcase_add_test(tc, test_bad_keys);
        tcase_add_test(tc, test_bad_values);
        tcase_add_test(tc, test_bad_lines);
        tcase_add_test(tc, test_empty_resets);
        tcase_add_test(tc, test_dropins);
        tcase_add_test(tc, test_dropins_missing_and_bad);
        tcase_add_test(tc, test_verify_after_file);
        suite_add_tcase(s, tc);

        tcase_add_test(tv, test_builtin);
        tcase_add_test(tv, test_set);
        tcase_add_test(tv, test_verify);
        tcase_add_test(tv, test_uid_range_syntax);
        tcase_add_test(tv, test_uid_range_verify);
        suite_add_tcase(s, tv);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
