/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * supervisor_spawn() (src/exec/spawn.c): the child it starts with
 * clone(CLONE_VM | CLONE_VFORK) gets exactly fds 0–6, no blocked or ignored
 * signals and an empty environment, whatever the caller has; the caller's
 * own signal mask is back as it was; and an executable that cannot be
 * started is reported on fd 6 with the protocol's fixed line and exit 127.
 * ls, grep and env stand in for the supervisor.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/sandbox-protocol.h"
#include "exec/spawn.h"
#include "shared/macro.h"

typedef struct Child {
        int out[2];             /* its fd 1 */
        int report[2];          /* its fd 6 */
        int null_fd;            /* its other fds */
} Child;

static void child_fds(Child *c, int fds[static _SANDBOX_FD_MAX]) {
        ck_assert_int_eq(pipe2(c->out, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(c->report, O_CLOEXEC), 0);
        c->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        ck_assert_int_ge(c->null_fd, 0);

        for (int i = 0; i < _SANDBOX_FD_MAX; i++)
                fds[i] = c->null_fd;
        fds[SANDBOX_FD_STDOUT] = c->out[1];
        fds[SANDBOX_FD_REPORT] = c->report[1];
}

/* Closes the parent's copies of the child's ends, reads @fd to EOF. */
static char *read_all(int fd) {
        static char buf[8192];
        size_t n = 0;

        for (;;) {
                ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);

                if (k < 0 && errno == EINTR)
                        continue;
                ck_assert_int_ge(k, 0);
                if (k == 0)
                        break;
                n += (size_t) k;
                ck_assert_uint_lt(n, sizeof buf - 1);
        }
        buf[n] = 0;
        return buf;
}

static int wait_exit(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                ck_assert_int_eq(errno, EINTR);
        ck_assert_msg(WIFEXITED(status), "child died of signal %d", WTERMSIG(status));
        return WEXITSTATUS(status);
}

/* Spawns @path with @argv and returns what it wrote to fd 1 (static
 * buffer); it must exit 0 and write nothing to fd 6. */
static char *spawn_output(const char *path, char *const argv[]) {
        _cleanup_free_ char *report = NULL;
        int fds[_SANDBOX_FD_MAX];
        Child c;
        char *out;
        pid_t pid;

        child_fds(&c, fds);
        ck_assert_int_eq(supervisor_spawn(path, argv, fds, &pid), 0);
        ck_assert_int_gt(pid, 0);

        /* The caller keeps its fds; the child's ends are the child's. */
        ck_assert_int_ge(fcntl(c.out[1], F_GETFD), 0);
        safe_close(c.out[1]);
        safe_close(c.report[1]);
        safe_close(c.null_fd);

        report = strdup(read_all(c.report[0]));
        out = read_all(c.out[0]);
        ck_assert_int_eq(wait_exit(pid), 0);
        ck_assert_str_eq(report, "");

        safe_close(c.out[0]);
        safe_close(c.report[0]);
        return out;
}

START_TEST(test_spawn_clean_child) {
        /* Programs that show what they got, exec'd directly (a shell would
         * reset its signal mask itself). ls's own directory fd is the
         * lowest free one, 7, when exactly fds 0–6 came along. Blocked and
         * ignored signals survive execve(), so grep sees what the child
         * left them as. */
        char *const ls[] = { (char *) "ls", (char *) "/proc/self/fd", NULL };
        char *const grep[] = {
                (char *) "grep", (char *) "-E", (char *) "^Sig(Blk|Ign):", (char *) "/proc/self/status", NULL
        };
        char *const env[] = { (char *) "env", NULL };
        sigset_t mask, before, after;
        char *out;

        /* As the daemon: SIGCHLD blocked, SIGPIPE ignored; and a variable
         * in the environment that must not reach the child. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGUSR1);
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
        ck_assert_ptr_ne(signal(SIGPIPE, SIG_IGN), SIG_ERR);
        ck_assert_ptr_ne(signal(SIGHUP, SIG_IGN), SIG_ERR);
        ck_assert_int_eq(setenv("PYEXECD_TEST_MARKER", "leaked", 1), 0);
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &before), 0);

        out = spawn_output("/bin/ls", ls);
        ck_assert_msg(strcmp(out, "0\n1\n2\n3\n4\n5\n6\n7\n") == 0, "fds: %s", out);

        out = spawn_output("/bin/grep", grep);
        ck_assert_msg(strcmp(out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n") == 0, "signals: %s", out);

        out = spawn_output("/usr/bin/env", env);
        ck_assert_msg(strcmp(out, "") == 0, "environment: %s", out);

        /* The caller's mask is as it was (spawn blocks everything around
         * the clone only). */
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &after), 0);
        for (int sig = 1; sig < NSIG; sig++)
                ck_assert_int_eq(sigismember(&before, sig), sigismember(&after, sig));
}
END_TEST

START_TEST(test_spawn_exec_fails) {
        char *const argv[] = { (char *) "pyexecd-sandbox", NULL };
        int fds[_SANDBOX_FD_MAX];
        Child c;
        pid_t pid;

        child_fds(&c, fds);
        /* The clone itself works; the child reports and exits. */
        ck_assert_int_eq(supervisor_spawn("/nonexistent/pyexecd-sandbox", argv, fds, &pid), 0);
        safe_close(c.out[1]);
        safe_close(c.report[1]);
        safe_close(c.null_fd);

        ck_assert_str_eq(read_all(c.report[0]), SANDBOX_REPORT_EXEC_FAILED);
        ck_assert_str_eq(read_all(c.out[0]), "");
        ck_assert_int_eq(wait_exit(pid), 127);

        safe_close(c.out[0]);
        safe_close(c.report[0]);
}
END_TEST

START_TEST(test_spawn_invalid) {
        char *const argv[] = { (char *) "true", NULL };
        int fds[_SANDBOX_FD_MAX];
        Child c;
        pid_t pid = 0;

        child_fds(&c, fds);
        fds[SANDBOX_FD_CODE] = -1;
        ck_assert_int_eq(supervisor_spawn("/bin/true", argv, fds, &pid), -EBADF);
        ck_assert_int_eq(pid, 0);
        ck_assert_int_eq(supervisor_spawn(NULL, argv, fds, &pid), -EINVAL);
        /* Nothing was started. */
        ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
        ck_assert_int_eq(errno, ECHILD);

        safe_close(c.out[0]);
        safe_close(c.out[1]);
        safe_close(c.report[0]);
        safe_close(c.report[1]);
        safe_close(c.null_fd);
}
END_TEST

static Suite *spawn_suite(void) {
        Suite *s = suite_create("spawn");
        TCase *tc = tcase_create("spawn");

        tcase_add_test(tc, test_spawn_clean_child);
        tcase_add_test(tc, test_spawn_exec_fails);
        tcase_add_test(tc, test_spawn_invalid);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(spawn_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
