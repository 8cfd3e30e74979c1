/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis-test-util.h"
#include "shared/macro.h"

#define START_TIMEOUT_USEC (10 * USEC_PER_SEC)

static char base_dir[PATH_MAX];

uint64_t test_now_usec(void) {
        struct timespec ts;

        ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

void test_base_dir_setup(void) {
        const char *tmp = getenv("TMPDIR");

        /* Unix socket paths have 108 bytes: stay short. */
        if (!tmp || !tmp[0] || strlen(tmp) > 40)
                tmp = "/tmp";
        (void) snprintf(base_dir, sizeof(base_dir), "%s/pyexecd-redis-test.XXXXXX", tmp);
        if (!mkdtemp(base_dir)) {
                fprintf(stderr, "mkdtemp(%s): %m\n", base_dir);
                abort();
        }
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

void test_base_dir_teardown(void) {
        if (!base_dir[0])
                return;
        (void) nftw(base_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        base_dir[0] = 0;
}

static void redis_spawn(TestRedis *t) {
        char log[PATH_MAX + 16];
        const char *argv[64];
        size_t n = 0;
        pid_t parent = getpid(), pid;

        (void) snprintf(log, sizeof(log), "%s/redis.log", t->dir);

        /* Built before fork(): the child only execs. A config file must
         * come first; command-line options override it. */
        argv[n++] = REDIS_SERVER_PATH;
        if (t->conf[0])
                argv[n++] = t->conf;
        {
                static const char *const base[] = {
                        "--port", "0",
                        "--unixsocketperm", "700",
                        "--save", "",
                        "--appendonly", "no",
                        "--daemonize", "no",
                        "--logfile", "",
                };
                for (size_t i = 0; i < ELEMENTSOF(base); i++)
                        argv[n++] = base[i];
        }
        argv[n++] = "--unixsocket";
        argv[n++] = t->socket;
        argv[n++] = "--dir";
        argv[n++] = t->dir;
        for (size_t i = 0; t->extra && t->extra[i]; i++) {
                ck_assert_uint_lt(n, ELEMENTSOF(argv) - 1);
                argv[n++] = t->extra[i];
        }
        argv[n] = NULL;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fd;

                /* Dies with the test even when the test never cleans up. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
                        _exit(127);
                fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                execv(REDIS_SERVER_PATH, (char *const *) argv);
                _exit(127);
        }
        t->pid = pid;

        /* Ready when it answers PING on its socket. */
        for (uint64_t deadline = test_now_usec() + START_TIMEOUT_USEC;;) {
                struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
                redisContext *c;
                int status;

                ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "redis-server exited early, see %s", log);

                c = redisConnectUnixWithTimeout(t->socket, tv);
                if (c && !c->err) {
                        redisReply *reply = redisCommand(c, "PING");
                        bool pong = reply &&
                                ((reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0) ||
                                 (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOAUTH", 6) == 0));

                        freeReplyObject(reply);
                        redisFree(c);
                        if (pong)
                                return;
                } else if (c)
                        redisFree(c);

                ck_assert_msg(test_now_usec() < deadline, "redis-server did not answer PING, see %s", log);
                (void) usleep(10000);
        }
}

void test_redis_start_full(TestRedis *t, const char *conf, const char *const *extra) {
        int n;

        ck_assert_msg(base_dir[0], "no base directory");
        *t = (TestRedis) { .pid = 0, .extra = extra };
        n = snprintf(t->dir, sizeof(t->dir), "%s/t.XXXXXX", base_dir);
        ck_assert(n > 0 && (size_t) n < sizeof(t->dir));
        ck_assert_ptr_nonnull(mkdtemp(t->dir));
        n = snprintf(t->socket, sizeof(t->socket), "%s/redis.sock", t->dir);
        /* sun_path has 108 bytes. */
        ck_assert(n > 0 && n < 108);
        if (conf) {
                FILE *f;

                n = snprintf(t->conf, sizeof(t->conf), "%s/redis.conf", t->dir);
                ck_assert(n > 0 && (size_t) n < sizeof(t->conf));
                f = fopen(t->conf, "we");
                ck_assert_ptr_nonnull(f);
                ck_assert_int_ge(fputs(conf, f), 0);
                ck_assert_int_eq(fclose(f), 0);
        }
        redis_spawn(t);
}

void test_redis_start(TestRedis *t) {
        test_redis_start_full(t, NULL, NULL);
}

void test_redis_restart(TestRedis *t) {
        ck_assert_int_eq(t->pid, 0);
        redis_spawn(t);
}

void test_redis_kill(TestRedis *t) {
        if (t->pid <= 0)
                return;
        (void) kill(t->pid, SIGKILL);
        while (waitpid(t->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        t->pid = 0;
}

void test_redis_pause(TestRedis *t) {
        int status;

        ck_assert_int_gt(t->pid, 0);
        ck_assert_int_eq(kill(t->pid, SIGSTOP), 0);
        ck_assert_int_eq(waitpid(t->pid, &status, WUNTRACED), t->pid);
        ck_assert(WIFSTOPPED(status));
}

void test_redis_resume(TestRedis *t) {
        ck_assert_int_gt(t->pid, 0);
        ck_assert_int_eq(kill(t->pid, SIGCONT), 0);
}

void test_redis_stop(TestRedis *t) {
        test_redis_kill(t);
        if (t->dir[0]) {
                (void) nftw(t->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
                t->dir[0] = 0;
        }
}

redisContext *test_redis_connect(TestRedis *t) {
        redisContext *c = redisConnectUnix(t->socket);

        ck_assert_ptr_nonnull(c);
        ck_assert_msg(!c->err, "connect to %s: %s", t->socket, c->errstr);
        return c;
}

redisContext *test_redis_connect_auth(TestRedis *t, const char *user, const char *password) {
        redisContext *c = test_redis_connect(t);
        redisReply *reply;

        if (user)
                reply = test_redis_command(c, "AUTH %s %s", user, password);
        else
                reply = test_redis_command(c, "AUTH %s", password);
        ck_assert_msg(reply->type == REDIS_REPLY_STATUS, "AUTH: %s", reply->str);
        freeReplyObject(reply);
        return c;
}

redisReply *test_redis_command(redisContext *c, const char *format, ...) {
        redisReply *reply;
        va_list ap;

        va_start(ap, format);
        reply = redisvCommand(c, format, ap);
        va_end(ap);
        ck_assert_msg(reply, "redis command failed: %s", c->errstr);
        return reply;
}

void test_run_idle(sd_event *e) {
        for (int i = 0; i < 10; i++)
                ck_assert_int_ge(sd_event_run(e, 0), 0);
}
