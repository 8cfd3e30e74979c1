/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * pyexecd's D-Bus API and its authorisation (issue 4), against the real
 * daemon in the testbed (system bus, polkitd, Redis, socket and bus
 * activation): the contract XML against what the daemon introspects;
 * Execute/GetExecution/ListExecutions/Cancel/GetQueueStatus as root with
 * exact property values and the unicast signals in order; polkit denying
 * and (with a rules file) allowing an unprivileged user on both front ends;
 * users not seeing each other's executions; a third client receiving
 * nothing; bus activation; the HTTP bearer token on a TCP listener; polkit
 * gone.
 *
 * Unprivileged callers are forked children that drop to uid 4242 or 4243
 * (users the test adds inside the testbed, outside the sandbox's
 * UIDRange=) and connect as such. They never assert: they print one line
 * of result that the test (as root) checks.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "integ-util.h"

#define SEC USEC_PER_SEC

#define BUS_NAME "org.pyexecd.Executor1"
#define MANAGER_PATH "/org/pyexecd/Executor1"
#define MANAGER_IFACE "org.pyexecd.Executor1.Manager"
#define EXEC_PREFIX "/org/pyexecd/Executor1/execution"
#define EXEC_IFACE "org.pyexecd.Executor1.Execution"
#define ERR_PREFIX "org.pyexecd.Executor1.Error."

#define UID_A 4242
#define UID_B 4243
#define RULES_FILE "/etc/polkit-1/rules.d/50-pyexecd-bus-test.rules"
/* The testbed's own unit folder, first in its SYSTEMD_UNIT_PATH. */
#define POLKIT_UNIT "/run/pyexecd-testbed/units/polkit.service"
#define POLKIT_UNIT_SAVED "/run/pyexecd-testbed/units/polkit.service.saved-by-test-bus"

#define CODE_SLEEPER "import time\nprint(\"started\", flush=True)\ntime.sleep(60)\n"

/* ---- small helpers ---- */

static void ensure_user(uid_t uid) {
        _cleanup_free_ char *name = NULL, *u = NULL;
        int r;

        if (getpwuid(uid))
                return;
        /* The testbed's /etc is an overlay on a tmpfs: this stays inside. */
        name = strprintf("pyexecd-test-%u", (unsigned) uid);
        u = strprintf("%u", (unsigned) uid);
        r = run_commandl(NULL, "useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--uid", u, name, NULL);
        ck_assert_msg(r == 0, "useradd %s failed: %d", name, r);
}

static void setup_users(void) {
        ensure_user(UID_A);
        ensure_user(UID_B);
}

static char *exec_path(const char *id) {
        return strprintf(EXEC_PREFIX "/%s", id);
}

static sd_bus *bus_connect(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        ck_assert_msg(r >= 0, "cannot connect to the system bus: %s", strerror(-r));
        /* Authenticate now: dbus-daemon drops connections that stay
         * unauthenticated for 30 s, and sd-bus would wait for the first call. */
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetId", &e, NULL, NULL);
        ck_assert_msg(r >= 0, "cannot talk on the system bus: %s", e.message ?: strerror(-r));
        return bus;
}

/*
 * Execute(@code, options) on @bus. Options: cell_id and execution_count
 * when given, and the limits of @with_limits. Returns 0 with the id, or the
 * error's errno with its name in @ret_error (malloc'd).
 */
static int bus_execute(sd_bus *bus, const char *code, const char *cell_id, bool with_limits, bool interactive,
                       char **ret_id, char **ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *id, *path;
        int r;

        *ret_id = NULL;
        if (ret_error)
                *ret_error = NULL;

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Execute");
        if (r < 0)
                return r;
        r = sd_bus_message_set_allow_interactive_authorization(m, interactive);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", code);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && cell_id)
                r = sd_bus_message_append(m, "{sv}", "cell_id", "s", cell_id);
        if (r >= 0 && cell_id)
                r = sd_bus_message_append(m, "{sv}", "execution_count", "x", (int64_t) 7);
        if (r >= 0 && with_limits)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}",
                                          "timeout_sec", "d", 20.0,
                                          "memory_max", "t", (uint64_t) 268435456,
                                          "cpu_quota_percent", "u", (uint32_t) 50,
                                          "tasks_max", "t", (uint64_t) 32,
                                          "output_max", "t", (uint64_t) 65536);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        r = sd_bus_call(bus, m, 60 * SEC, &error, &reply);
        if (r < 0) {
                if (ret_error)
                        *ret_error = strdup(error.name ?: "?");
                return r;
        }
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0)
                return r;
        *ret_id = strdup(id);
        return 0;
}

static char *bus_execute_ok(sd_bus *bus, const char *code, const char *cell_id, bool with_limits) {
        _cleanup_free_ char *error = NULL;
        char *id = NULL;
        int r;

        r = bus_execute(bus, code, cell_id, with_limits, false, &id, &error);
        ck_assert_msg(r >= 0, "Execute failed: %s (%s)", error ?: "?", strerror(-r));
        ck_assert_msg(is_exec_id(id), "Execute gave a bad id: %s", id ?: "(null)");
        return id;
}

static char *prop_string(sd_bus *bus, const char *id, const char *prop) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = exec_path(id);
        char *s = NULL;
        int r;

        r = sd_bus_get_property_string(bus, BUS_NAME, path, EXEC_IFACE, prop, &error, &s);
        ck_assert_msg(r >= 0, "Get %s of %s: %s", prop, id, error.message ?: strerror(-r));
        return s;
}

static uint64_t prop_u64(sd_bus *bus, const char *id, const char *prop) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = exec_path(id);
        uint64_t v = 0;
        int r;

        r = sd_bus_get_property_trivial(bus, BUS_NAME, path, EXEC_IFACE, prop, &error, 't', &v);
        ck_assert_msg(r >= 0, "Get %s of %s: %s", prop, id, error.message ?: strerror(-r));
        return v;
}

static int64_t prop_i(sd_bus *bus, const char *id, const char *prop, char type) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = exec_path(id);
        union { int32_t i; int64_t x; uint32_t u; int b; } v = {};
        int r;

        r = sd_bus_get_property_trivial(bus, BUS_NAME, path, EXEC_IFACE, prop, &error, type, &v);
        ck_assert_msg(r >= 0, "Get %s of %s: %s", prop, id, error.message ?: strerror(-r));
        switch (type) {
        case 'i': return v.i;
        case 'x': return v.x;
        case 'u': return v.u;
        default: return v.b;
        }
}

static void assert_prop_string(sd_bus *bus, const char *id, const char *prop, const char *want) {
        _cleanup_free_ char *s = prop_string(bus, id, prop);

        ck_assert_msg(strcmp(s, want) == 0, "%s of %s is \"%s\", want \"%s\"", prop, id, s, want);
}

/* ---- signals ---- */

typedef struct Sig {
        char *path;
        char *member;                   /* "Output" or "PropertiesChanged" */
        char *a;                        /* Output: output_type; PropertiesChanged: State or NULL */
        char *b;                        /* Output: the JSON */
        bool terminal;
} Sig;

typedef struct Collector {
        Sig sigs[1024];
        size_t n;
        char *want_path;                /* the execution to wait for (set after Execute) */
        bool saw_terminal;
} Collector;

static void collector_done(Collector *c) {
        for (size_t i = 0; i < c->n; i++) {
                free(c->sigs[i].path);
                free(c->sigs[i].member);
                free(c->sigs[i].a);
                free(c->sigs[i].b);
        }
        free(c->want_path);
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Collector *c = userdata;
        const char *member = sd_bus_message_get_member(m), *path = sd_bus_message_get_path(m);
        Sig *s;

        if (c->n >= ELEMENTSOF(c->sigs) || !member || !path)
                return 0;
        s = &c->sigs[c->n];
        *s = (Sig) {};

        if (strcmp(member, "Output") == 0) {
                const char *a, *b;

                if (sd_bus_message_read(m, "ss", &a, &b) < 0)
                        return 0;
                s->a = strdup(a);
                s->b = strdup(b);
        } else if (strcmp(member, "PropertiesChanged") == 0) {
                const char *iface;

                if (sd_bus_message_read(m, "s", &iface) < 0 || strcmp(iface, EXEC_IFACE) != 0)
                        return 0;
                if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                        return 0;
                while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                        const char *name, *state;

                        if (sd_bus_message_read(m, "s", &name) < 0)
                                return 0;
                        if (strcmp(name, "State") == 0) {
                                if (sd_bus_message_read(m, "v", "s", &state) < 0)
                                        return 0;
                                s->a = strdup(state);
                                s->terminal = state_is_terminal(state);
                        } else if (sd_bus_message_skip(m, "v") < 0)
                                return 0;
                        if (sd_bus_message_exit_container(m) < 0)
                                return 0;
                }
        } else
                return 0;

        s->path = strdup(path);
        s->member = strdup(member);
        c->n++;
        if (s->terminal && c->want_path && strcmp(path, c->want_path) == 0)
                c->saw_terminal = true;
        return 0;
}

static void collector_attach(sd_bus *bus, Collector *c, sd_bus_slot **slot_output, sd_bus_slot **slot_props) {
        int r;

        r = sd_bus_match_signal(bus, slot_output, NULL, NULL, EXEC_IFACE, "Output", on_signal, c);
        ck_assert_msg(r >= 0, "match Output: %s", strerror(-r));
        r = sd_bus_match_signal(bus, slot_props, NULL, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                on_signal, c);
        ck_assert_msg(r >= 0, "match PropertiesChanged: %s", strerror(-r));
}

/* Processes @bus until @pred(c) or the deadline. */
static bool bus_wait_for(sd_bus *bus, Collector *c, bool (*pred)(Collector *c), uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        while (!pred(c)) {
                int r = sd_bus_process(bus, NULL);

                ck_assert_msg(r >= 0, "sd_bus_process: %s", strerror(-r));
                if (r > 0)
                        continue;
                if (now_usec() >= deadline)
                        return false;
                (void) sd_bus_wait(bus, 100 * USEC_PER_MSEC);
        }
        return true;
}

static bool pred_terminal(Collector *c) {
        return c->saw_terminal;
}

static bool pred_started(Collector *c) {
        for (size_t i = 0; i < c->n; i++)
                if (c->want_path && strcmp(c->sigs[i].path, c->want_path) == 0 && strcmp(c->sigs[i].member, "Output") == 0 &&
                    c->sigs[i].b && strstr(c->sigs[i].b, "started"))
                        return true;
        return false;
}

/* ---- acting as another user ---- */

/* Runs in a child as the user: one line of result on @out. Exit 0 when it could act. */
typedef int (*user_action_t)(const char *arg, FILE *out);

/* Runs @action as @uid in a child; returns its output (malloc'd, trailing newline cut). */
static char *run_as(uid_t uid, user_action_t action, const char *arg) {
        int pipefd[2], status;
        char *out = NULL;
        size_t size = 0;
        FILE *f;
        pid_t pid;

        ck_assert(pipe2(pipefd, O_CLOEXEC) == 0);
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        ck_assert(pid >= 0);
        if (pid == 0) {
                FILE *o;
                int r;

                (void) close(pipefd[0]);
                if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(90);
                o = fdopen(pipefd[1], "w");
                if (!o)
                        _exit(91);
                r = action(arg, o);
                fclose(o);
                _exit(r == 0 ? 0 : 1);
        }
        (void) close(pipefd[1]);
        f = fdopen(pipefd[0], "r");
        ck_assert(f);
        {
                char buf[4096];
                size_t n;

                while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
                        out = realloc(out, size + n + 1);
                        ck_assert(out);
                        memcpy(out + size, buf, n);
                        size += n;
                }
        }
        fclose(f);
        ck_assert(waitpid(pid, &status, 0) == pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) < 90, "child as uid %u failed to start: status %d",
                      (unsigned) uid, status);
        if (!out)
                out = strdup("");
        else
                out[size] = 0;
        while (size > 0 && out[size - 1] == '\n')
                out[--size] = 0;
        return out;
}

static void print_error(FILE *out, const sd_bus_error *e, int r) {
        fprintf(out, "err %s\n", e->name ?: strerror(-r));
}

/* "ok ID" or "err NAME". @arg "interactive" sets the flag. */
static int user_execute(const char *arg, FILE *out) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *id = NULL, *error = NULL;
        int r;

        if (sd_bus_open_system(&bus) < 0)
                return 1;
        r = bus_execute(bus, "print('hi')", NULL, false, arg && strcmp(arg, "interactive") == 0, &id, &error);
        if (r < 0)
                fprintf(out, "err %s\n", error ?: strerror(-r));
        else
                fprintf(out, "ok %s\n", id);
        return 0;
}

/* Manager method with an id: "get ID", "cancel ID". */
static int user_manager_call(const char *arg, FILE *out) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char verb[16], id[64];
        int r;

        if (sscanf(arg, "%15s %63s", verb, id) != 2 || sd_bus_open_system(&bus) < 0)
                return 1;
        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE,
                               strcmp(verb, "get") == 0 ? "GetExecution" : "Cancel", &e, &reply, "s", id);
        if (r < 0)
                print_error(out, &e, r);
        else
                fprintf(out, "ok\n");
        return 0;
}

/* Get State on the execution's object: "ok STATE" or "err NAME". */
static int user_get_state(const char *id, FILE *out) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *s = NULL;
        int r;

        if (sd_bus_open_system(&bus) < 0)
                return 1;
        path = strprintf(EXEC_PREFIX "/%s", id);
        r = sd_bus_get_property_string(bus, BUS_NAME, path, EXEC_IFACE, "State", &e, &s);
        if (r < 0)
                print_error(out, &e, r);
        else
                fprintf(out, "ok %s\n", s);
        return 0;
}

/* The ids of ListExecutions(), space separated. */
static int user_list(const char *arg, FILE *out) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *id, *state, *path;
        uint64_t created;
        uint32_t owner;
        int r;

        if (sd_bus_open_system(&bus) < 0)
                return 1;
        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListExecutions", &e, &reply, NULL);
        if (r < 0) {
                print_error(out, &e, r);
                return 0;
        }
        fprintf(out, "ok");
        if (sd_bus_message_enter_container(reply, 'a', "(ssotu)") < 0)
                return 1;
        while ((r = sd_bus_message_read(reply, "(ssotu)", &id, &state, &path, &created, &owner)) > 0)
                fprintf(out, " %s:%u", id, (unsigned) owner);
        fprintf(out, "\n");
        return r < 0;
}

/* The child nodes the enumerator shows under EXEC_PREFIX, space separated. */
static int user_nodes(const char *arg, FILE *out) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *xml, *p;
        int r;

        if (sd_bus_open_system(&bus) < 0)
                return 1;
        r = sd_bus_call_method(bus, BUS_NAME, EXEC_PREFIX, "org.freedesktop.DBus.Introspectable", "Introspect", &e,
                               &reply, NULL);
        if (r < 0) {
                print_error(out, &e, r);
                return 0;
        }
        if (sd_bus_message_read(reply, "s", &xml) < 0)
                return 1;
        fprintf(out, "ok");
        for (p = xml; (p = strstr(p, "<node name=\"")); ) {
                p += strlen("<node name=\"");
                fprintf(out, " %.*s", (int) strcspn(p, "\""), p);
        }
        fprintf(out, "\n");
        return 0;
}

/* "METHOD PATH": HTTP over the unix socket; prints "STATUS CODE" (CODE: the error code or "-"). */
static int user_http(const char *arg, FILE *out) {
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        char method[16], path[256];
        const char *code = NULL;
        json_t *err;

        if (sscanf(arg, "%15s %255s", method, path) != 2)
                return 1;
        if (strcmp(method, "POST") == 0)
                r = http_request("POST", path, "application/json", "{\"code\":\"print(1)\"}",
                                 strlen("{\"code\":\"print(1)\"}"), NULL);
        else
                r = http_request(method, path, NULL, NULL, 0, NULL);
        err = r->json ? json_object_get(r->json, "error") : NULL;
        if (err)
                code = json_string_value(json_object_get(err, "code"));
        fprintf(out, "%ld %s %s\n", r->status, code ?: "-",
                err ? json_string_value(json_object_get(err, "message")) ?: "" :
                      (r->json && json_object_get(r->json, "execution_id") ?
                       json_string_value(json_object_get(r->json, "execution_id")) : ""));
        return 0;
}

static char *as_user(uid_t uid, user_action_t action, const char *fmt, ...) _printf_(3, 4);
static char *as_user(uid_t uid, user_action_t action, const char *fmt, ...) {
        _cleanup_free_ char *arg = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&arg, fmt, ap);
        va_end(ap);
        ck_assert(n >= 0);
        return run_as(uid, action, arg);
}

static void assert_prefix(const char *got, const char *want, const char *what) {
        ck_assert_msg(strncmp(got, want, strlen(want)) == 0, "%s: got \"%s\", want \"%s…\"", what, got, want);
}

/* ---- polkit rules ---- */

static void rules_write(const char *js) {
        FILE *f = fopen(RULES_FILE, "we");

        ck_assert_msg(f, "open %s: %m", RULES_FILE);
        fputs(js, f);
        ck_assert(fclose(f) == 0);
        (void) chmod(RULES_FILE, 0644);
}

static void rules_allow_execute(void) {
        rules_write("polkit.addRule(function(action, subject) {\n"
                    "        if (action.id == \"org.pyexecd.execute\" &&\n"
                    "            (subject.user == \"pyexecd-test-4242\" || subject.user == \"pyexecd-test-4243\"))\n"
                    "                return polkit.Result.YES;\n"
                    "});\n");
}

/* polkitd reloads rules when the folder changes; wait until it allows 4242. */
static void rules_wait_allowed(void) {
        uint64_t deadline = now_usec() + 30 * SEC;

        for (;;) {
                _cleanup_free_ char *o = as_user(UID_A, user_execute, "plain");

                if (strncmp(o, "ok ", 3) == 0)
                        return;
                ck_assert_msg(now_usec() < deadline, "polkitd did not apply %s within 30 s: %s", RULES_FILE, o);
                sleep_usec(200 * USEC_PER_MSEC);
        }
}

/* ---- tests ---- */

static void compare_interface(const char *path, const char *iface) {
        _cleanup_free_ char *xml = NULL, *file = NULL, *script = NULL, *contract = NULL, *out = NULL;
        const char *root = getenv("PYEXECD_SOURCE_ROOT");
        FILE *f;
        int r;

        ck_assert_msg(root, "PYEXECD_SOURCE_ROOT is not set");
        r = run_commandl(&xml, "busctl", "--system", "introspect", "--xml-interface", BUS_NAME, path, NULL);
        ck_assert_msg(r == 0, "busctl introspect %s failed: %d", path, r);

        file = strprintf("/tmp/introspect-%d.xml", (int) getpid());
        f = fopen(file, "we");
        ck_assert(f);
        fputs(xml, f);
        ck_assert(fclose(f) == 0);

        script = strprintf("%s/tests/integration/bus/compare-introspection.py", root);
        contract = strprintf("%s/dbus/org.pyexecd.Executor1.xml", root);
        r = run_commandl(&out, "/usr/bin/python3", script, contract, iface, file, NULL);
        (void) unlink(file);
        ck_assert_msg(r == 0, "%s on %s differs from the contract:\n%s", iface, path, out);
}

START_TEST(test_introspection_matches_contract) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bus_connect();
        _cleanup_free_ char *id = NULL, *path = NULL;

        compare_interface(MANAGER_PATH, MANAGER_IFACE);

        id = bus_execute_ok(bus, "pass", NULL, false);
        path = exec_path(id);
        compare_interface(path, EXEC_IFACE);
}
END_TEST

/* Output signals of @id merged like stored outputs: "stream:stdout", "execute_result", … */
static char *output_sequence(const Collector *c, const char *path, size_t *ret_last_output, size_t *ret_first_output) {
        _cleanup_free_ char *seq = strdup("");
        const char *prev = NULL;

        *ret_last_output = *ret_first_output = SIZE_MAX;
        for (size_t i = 0; i < c->n; i++) {
                const Sig *s = &c->sigs[i];
                _cleanup_(json_decrefp) json_t *j = NULL;
                _cleanup_free_ char *kind = NULL;
                char *n;

                if (strcmp(s->path, path) != 0 || strcmp(s->member, "Output") != 0)
                        continue;
                if (*ret_first_output == SIZE_MAX)
                        *ret_first_output = i;
                *ret_last_output = i;
                j = json_loads(s->b, 0, NULL);
                ck_assert_msg(json_is_object(j), "Output carries no JSON object: %s", s->b);
                ck_assert_msg(strcmp(json_object_get_string(j, "output_type") ?: "", s->a) == 0,
                              "Output's output_type \"%s\" differs from its item: %s", s->a, s->b);
                if (strcmp(s->a, "stream") == 0)
                        kind = strprintf("stream:%s", json_object_get_string(j, "name") ?: "?");
                else
                        kind = strdup(s->a);
                if (prev && strcmp(prev, kind) == 0 && strncmp(kind, "stream:", 7) == 0)
                        continue;
                n = strprintf("%s%s%s", seq, *seq ? " " : "", kind);
                free(seq);
                seq = n;
                free((char *) prev);
                prev = strdup(kind);
        }
        free((char *) prev);
        return TAKE_PTR(seq);
}

START_TEST(test_execute_root_signals_and_properties) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bus_connect();
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *s1 = NULL, *s2 = NULL;
        _cleanup_(json_decrefp) json_t *st = NULL;
        _cleanup_free_ char *id = NULL, *path = NULL, *seq = NULL, *stdout_text = NULL, *outputs_json = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Collector c = {};
        size_t first_out, last_out, terminal = SIZE_MAX, running = SIZE_MAX;
        uint64_t t;
        const char *json;
        json_t *res;

        collector_attach(bus, &c, &s1, &s2);

        id = bus_execute_ok(bus,
                            "import sys\n"
                            "print('one')\n"
                            "sys.stderr.write('two\\n')\n"
                            "print('three')\n"
                            "40 + 2\n",
                            "bus-cell", true);
        path = exec_path(id);
        c.want_path = strdup(path);
        ck_assert_msg(bus_wait_for(bus, &c, pred_terminal, 90 * SEC), "no terminal PropertiesChanged for %s", id);

        seq = output_sequence(&c, path, &last_out, &first_out);
        ck_assert_msg(strcmp(seq, "stream:stdout stream:stderr stream:stdout execute_result") == 0,
                      "Output signals in this order: %s", seq);
        for (size_t i = 0; i < c.n; i++)
                if (strcmp(c.sigs[i].path, path) == 0 && strcmp(c.sigs[i].member, "PropertiesChanged") == 0 && c.sigs[i].a) {
                        if (strcmp(c.sigs[i].a, "running") == 0 && running == SIZE_MAX)
                                running = i;
                        if (c.sigs[i].terminal && terminal == SIZE_MAX)
                                terminal = i;
                }
        ck_assert_msg(running != SIZE_MAX && running < first_out, "State=running must come before the first Output");
        ck_assert_msg(terminal != SIZE_MAX && terminal > last_out,
                      "the terminal PropertiesChanged (#%zu) must follow the last Output (#%zu)", terminal, last_out);
        ck_assert_str_eq(c.sigs[terminal].a, "succeeded");

        /* The properties after the end, exactly as HTTP reports them. */
        st = get_status(id);
        assert_prop_string(bus, id, "Id", id);
        assert_prop_string(bus, id, "State", "succeeded");
        assert_prop_string(bus, id, "CellId", "bus-cell");
        assert_prop_string(bus, id, "NotebookId", "");
        assert_prop_string(bus, id, "Signal", "");
        assert_prop_string(bus, id, "Error", "");
        ck_assert_int_eq(prop_i(bus, id, "ExitCode", 'i'), 0);
        ck_assert_int_eq(prop_i(bus, id, "ExecutionCount", 'x'), 7);
        ck_assert_int_eq(prop_i(bus, id, "Owner", 'u'), 0);
        ck_assert_int_eq(prop_i(bus, id, "Truncated", 'b'), 0);
        ck_assert_uint_eq(prop_u64(bus, id, "TimeoutUSec"), 20 * SEC);
        ck_assert_uint_eq(prop_u64(bus, id, "MemoryMax"), 268435456);
        ck_assert_uint_eq(prop_u64(bus, id, "CPUQuotaPerSecUSec"), 500000);
        ck_assert_uint_eq(prop_u64(bus, id, "TasksMax"), 32);
        ck_assert_uint_eq(prop_u64(bus, id, "OutputMax"), 65536);
        ck_assert(rfc3339_parse(json_object_get_string(st, "created_at"), &t));
        ck_assert_uint_eq(prop_u64(bus, id, "CreatedUSec"), t);
        ck_assert(rfc3339_parse(json_object_get_string(st, "started_at"), &t));
        ck_assert_uint_eq(prop_u64(bus, id, "StartedUSec"), t);
        ck_assert(rfc3339_parse(json_object_get_string(st, "finished_at"), &t));
        ck_assert_uint_eq(prop_u64(bus, id, "FinishedUSec"), t);
        ck_assert(prop_u64(bus, id, "CreatedUSec") <= prop_u64(bus, id, "StartedUSec"));
        ck_assert(prop_u64(bus, id, "StartedUSec") <= prop_u64(bus, id, "FinishedUSec"));
        res = json_object_get(st, "resources");
        ck_assert_uint_eq(prop_u64(bus, id, "WallUSec"), (uint64_t) json_integer_value(json_object_get(res, "wall_usec")));
        ck_assert_uint_eq(prop_u64(bus, id, "CPUUsageNSec"),
                          (uint64_t) json_integer_value(json_object_get(res, "cpu_usec")) * 1000);
        ck_assert_uint_eq(prop_u64(bus, id, "MemoryPeak"),
                          (uint64_t) json_integer_value(json_object_get(res, "memory_peak_bytes")));
        ck_assert(prop_u64(bus, id, "WallUSec") > 0 && prop_u64(bus, id, "MemoryPeak") > 0);

        /* GetOutputs() is the stored outputs list. */
        ck_assert(sd_bus_call_method(bus, BUS_NAME, path, EXEC_IFACE, "GetOutputs", &e, &reply, NULL) >= 0);
        ck_assert(sd_bus_message_read(reply, "s", &json) >= 0);
        {
                _cleanup_(json_decrefp) json_t *o = json_loads(json, 0, NULL);
                outputs_json = json_describe(json_object_get(st, "outputs"));
                ck_assert_msg(json_equal(o, json_object_get(st, "outputs")), "GetOutputs %s, status %s", json,
                              outputs_json);
        }
        stdout_text = outputs_stream_text(json_object_get(st, "outputs"), "stdout");
        ck_assert_str_eq(stdout_text, "one\nthree\n");

        collector_done(&c);
}
END_TEST

START_TEST(test_running_properties_and_cancel) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bus_connect();
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *s1 = NULL, *s2 = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(json_decrefp) json_t *st = NULL;
        _cleanup_free_ char *id = NULL, *path = NULL, *sig = NULL;
        Collector c = {};
        json_t *v;

        collector_attach(bus, &c, &s1, &s2);
        id = bus_execute_ok(bus, CODE_SLEEPER, NULL, false);
        path = exec_path(id);
        c.want_path = strdup(path);
        ck_assert_msg(bus_wait_for(bus, &c, pred_started, 90 * SEC), "%s did not print \"started\"", id);

        assert_prop_string(bus, id, "State", "running");
        ck_assert(prop_u64(bus, id, "StartedUSec") >= prop_u64(bus, id, "CreatedUSec"));
        ck_assert(prop_u64(bus, id, "CreatedUSec") > 0);
        ck_assert_uint_eq(prop_u64(bus, id, "FinishedUSec"), 0);
        ck_assert_int_eq(prop_i(bus, id, "ExitCode", 'i'), -1);
        assert_prop_string(bus, id, "Signal", "");
        assert_prop_string(bus, id, "Error", "");
        assert_prop_string(bus, id, "CellId", "");
        ck_assert_int_eq(prop_i(bus, id, "ExecutionCount", 'x'), -1);
        ck_assert_uint_eq(prop_u64(bus, id, "WallUSec"), UINT64_MAX);
        ck_assert_uint_eq(prop_u64(bus, id, "CPUUsageNSec"), UINT64_MAX);
        ck_assert_uint_eq(prop_u64(bus, id, "MemoryPeak"), UINT64_MAX);

        /* Execution.Cancel() answers once the end is recorded. */
        ck_assert_msg(sd_bus_call_method(bus, BUS_NAME, path, EXEC_IFACE, "Cancel", &e, NULL, NULL) >= 0,
                      "Cancel: %s", e.message ?: "?");
        assert_prop_string(bus, id, "State", "cancelled");
        ck_assert_msg(bus_wait_for(bus, &c, pred_terminal, 30 * SEC), "no terminal PropertiesChanged after Cancel");

        st = get_status(id);
        ck_assert_str_eq(json_object_get_string(st, "status"), "cancelled");
        v = json_object_get(st, "exit_code");
        ck_assert_int_eq(prop_i(bus, id, "ExitCode", 'i'), json_is_integer(v) ? json_integer_value(v) : -1);
        sig = prop_string(bus, id, "Signal");
        ck_assert_str_eq(sig, json_object_get_string(st, "signal") ?: "");
        ck_assert(prop_u64(bus, id, "FinishedUSec") >= prop_u64(bus, id, "StartedUSec"));

        /* Cancelling again: it ended. */
        sd_bus_error_free(&e);
        ck_assert(sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Cancel", &e, NULL, "s", id) < 0);
        ck_assert_str_eq(e.name, ERR_PREFIX "WrongState");
        collector_done(&c);
}
END_TEST

START_TEST(test_manager_methods_root) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bus_connect();
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL, *m = NULL;
        _cleanup_(http_response_freep) HttpResponse *hr = NULL;
        _cleanup_free_ char *id = NULL, *unknown = NULL, *maxq = NULL;
        const char *path, *lid, *lstate, *lpath;
        uint64_t queued, running, created;
        uint32_t max_concurrent, max_queued, owner;
        bool found = false;
        int r;

        id = bus_execute_ok(bus, "print(1)", NULL, false);
        wait_terminal(id, 60 * SEC);

        /* GetExecution: the object path. */
        ck_assert(sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetExecution", &e, &reply, "s", id) >= 0);
        ck_assert(sd_bus_message_read(reply, "o", &path) >= 0);
        {
                _cleanup_free_ char *want = exec_path(id);
                ck_assert_str_eq(path, want);
        }
        reply = sd_bus_message_unref(reply);

        /* Unknown and malformed ids: NotFound. */
        unknown = random_hex(32);
        ck_assert(sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetExecution", &e, NULL, "s", unknown) < 0);
        ck_assert_str_eq(e.name, ERR_PREFIX "NotFound");
        sd_bus_error_free(&e);
        ck_assert(sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetExecution", &e, NULL, "s", "../x") < 0);
        ck_assert_str_eq(e.name, ERR_PREFIX "NotFound");
        sd_bus_error_free(&e);
        ck_assert(sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Cancel", &e, NULL, "s", unknown) < 0);
        ck_assert_str_eq(e.name, ERR_PREFIX "NotFound");
        sd_bus_error_free(&e);

        /* ListExecutions: ours is there, with its state and owner. */
        ck_assert(sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListExecutions", &e, &reply, NULL) >= 0);
        ck_assert(sd_bus_message_enter_container(reply, 'a', "(ssotu)") >= 0);
        while ((r = sd_bus_message_read(reply, "(ssotu)", &lid, &lstate, &lpath, &created, &owner)) > 0)
                if (strcmp(lid, id) == 0) {
                        found = true;
                        ck_assert_str_eq(lstate, "succeeded");
                        ck_assert_uint_eq(owner, 0);
                        ck_assert(created > 0);
                        ck_assert_uint_eq(created, prop_u64(bus, id, "CreatedUSec"));
                }
        ck_assert(r >= 0);
        ck_assert_msg(found, "ListExecutions lacks %s", id);
        reply = sd_bus_message_unref(reply);

        /* GetQueueStatus and the properties agree with GET /queue/status. */
        ck_assert(sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetQueueStatus", &e, &reply, NULL) >= 0);
        ck_assert(sd_bus_message_read(reply, "ttuu", &queued, &running, &max_concurrent, &max_queued) >= 0);
        hr = http_get(API_BASE "/queue/status");
        ck_assert_int_eq(hr->status, 200);
        ck_assert_uint_eq(max_concurrent, json_integer_value(json_object_get(hr->json, "max_concurrent")));
        ck_assert_uint_eq(max_queued, json_integer_value(json_object_get(hr->json, "max_queued")));
        ck_assert_uint_eq(queued, json_integer_value(json_object_get(hr->json, "queued")));
        {
                uint32_t p = 0;
                ck_assert(sd_bus_get_property_trivial(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "MaxQueued", &e, 'u', &p) >= 0);
                ck_assert_uint_eq(p, max_queued);
                ck_assert(sd_bus_get_property_trivial(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "MaxConcurrent", &e, 'u', &p) >= 0);
                ck_assert_uint_eq(p, max_concurrent);
                ck_assert(sd_bus_get_property_string(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Version", &e, &maxq) >= 0);
                ck_assert(strlen(maxq) > 0);
        }

        /* Named errors for bad options. */
        ck_assert(sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Execute") >= 0);
        ck_assert(sd_bus_message_append(m, "sa{sv}", "pass", 1, "memory_max", "t", (uint64_t) 1) >= 0);
        ck_assert(sd_bus_call(bus, m, 0, &e, NULL) < 0);
        ck_assert_str_eq(e.name, ERR_PREFIX "InvalidLimits");
        sd_bus_error_free(&e);
        m = sd_bus_message_unref(m);
        ck_assert(sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Execute") >= 0);
        ck_assert(sd_bus_message_append(m, "sa{sv}", "pass", 1, "colour", "s", "blue") >= 0);
        ck_assert(sd_bus_call(bus, m, 0, &e, NULL) < 0);
        ck_assert_str_eq(e.name, ERR_PREFIX "InvalidArgument");
        sd_bus_error_free(&e);
        m = sd_bus_message_unref(m);
        ck_assert(sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Execute") >= 0);
        ck_assert(sd_bus_message_append(m, "sa{sv}", "pass", 1, "cell_id", "u", (uint32_t) 3) >= 0);
        ck_assert(sd_bus_call(bus, m, 0, &e, NULL) < 0);
        ck_assert_str_eq(e.name, ERR_PREFIX "InvalidArgument");
        sd_bus_error_free(&e);
}
END_TEST

START_TEST(test_unprivileged_denied_without_rule) {
        _cleanup_free_ char *o1 = NULL, *o2 = NULL, *o3 = NULL;

        (void) unlink(RULES_FILE);

        /* Without a rule polkit could only allow it after authentication. */
        o1 = as_user(UID_A, user_execute, "plain");
        ck_assert_msg(strcmp(o1, "err org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") == 0,
                      "Execute as uid %d without a rule: %s", UID_A, o1);
        /* Allowed to ask, but there is no agent to ask with: denied. */
        o2 = as_user(UID_A, user_execute, "interactive");
        ck_assert_msg(strcmp(o2, "err " ERR_PREFIX "AccessDenied") == 0, "Execute (interactive) as uid %d: %s", UID_A,
                      o2);
        /* HTTP on the unix socket: 403 naming the action. */
        o3 = as_user(UID_A, user_http, "POST " API_BASE "/execute");
        assert_prefix(o3, "403 forbidden ", "POST /execute as uid 4242");
        ck_assert_msg(strstr(o3, "org.pyexecd.execute"), "the 403 must name the action: %s", o3);
}
END_TEST

START_TEST(test_users_see_only_their_own) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bus_connect();
        _cleanup_free_ char *root_id = NULL, *a_id = NULL, *b_id = NULL, *a_http = NULL, *o = NULL;
        _cleanup_free_ char *list_root = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        static const char *const http_ops[] = { "GET " API_BASE "/status/", "GET " API_BASE "/stream/",
                                                "DELETE " API_BASE "/cancel/" };

        rules_allow_execute();
        rules_wait_allowed();

        /* Allowed on both front ends now. */
        o = as_user(UID_A, user_execute, "plain");
        assert_prefix(o, "ok ", "Execute as uid 4242 with the rule");
        a_id = strdup(o + 3);
        free(o);
        o = as_user(UID_A, user_http, "POST " API_BASE "/execute");
        assert_prefix(o, "202 - ", "POST /execute as uid 4242 with the rule");
        a_http = strdup(o + strlen("202 - "));
        ck_assert(is_exec_id(a_http));
        free(o);
        o = as_user(UID_B, user_execute, "plain");
        assert_prefix(o, "ok ", "Execute as uid 4243 with the rule");
        b_id = strdup(o + 3);
        free(o);
        o = NULL;

        root_id = bus_execute_ok(bus, CODE_SLEEPER, NULL, false);
        wait_running(root_id, "started", 60 * SEC);
        wait_terminal(a_id, 60 * SEC);
        wait_terminal(b_id, 60 * SEC);

        /* 4242 sees its own … */
        o = as_user(UID_A, user_manager_call, "get %s", a_id);
        ck_assert_str_eq(o, "ok");
        free(o);
        o = as_user(UID_A, user_get_state, "%s", a_id);
        ck_assert_str_eq(o, "ok succeeded");
        free(o);
        o = as_user(UID_A, user_http, "GET " API_BASE "/status/%s", a_http);
        assert_prefix(o, "200 ", "own status over HTTP");
        free(o);

        /* … and nothing of root's or 4243's: like unknown ids. */
        const char *others[] = { root_id, b_id };
        for (size_t i = 0; i < ELEMENTSOF(others); i++) {
                o = as_user(UID_A, user_manager_call, "get %s", others[i]);
                ck_assert_msg(strcmp(o, "err " ERR_PREFIX "NotFound") == 0, "GetExecution(%s) as 4242: %s", others[i], o);
                free(o);
                o = as_user(UID_A, user_manager_call, "cancel %s", others[i]);
                ck_assert_msg(strcmp(o, "err " ERR_PREFIX "NotFound") == 0, "Cancel(%s) as 4242: %s", others[i], o);
                free(o);
                o = as_user(UID_A, user_get_state, "%s", others[i]);
                ck_assert_msg(strcmp(o, "err org.freedesktop.DBus.Error.UnknownObject") == 0,
                              "State of %s as 4242: %s", others[i], o);
                free(o);
                for (size_t k = 0; k < ELEMENTSOF(http_ops); k++) {
                        o = as_user(UID_A, user_http, "%s%s", http_ops[k], others[i]);
                        assert_prefix(o, "404 not_found ", http_ops[k]);
                        free(o);
                }
        }
        o = NULL;

        /* Listing and the object tree: own only. */
        o = as_user(UID_A, user_list, "%s", "-");
        ck_assert_msg(strstr(o, a_id) && strstr(o, a_http) && !strstr(o, root_id) && !strstr(o, b_id),
                      "ListExecutions as 4242 (own: %s %s; not %s %s): %s", a_id, a_http, root_id, b_id, o);
        free(o);
        o = as_user(UID_A, user_nodes, "%s", "-");
        ck_assert_msg(strstr(o, a_id) && !strstr(o, root_id) && !strstr(o, b_id),
                      "execution objects enumerated for 4242 (own %s; not %s %s): %s", a_id, root_id, b_id, o);
        free(o);
        o = NULL;

        /* The execution still runs: nobody but root cancelled it. */
        assert_prop_string(bus, root_id, "State", "running");

        /* Root sees all of them. */
        o = as_user(0, user_list, "%s", "-");
        list_root = TAKE_PTR(o);
        ck_assert_msg(strstr(list_root, a_id) && strstr(list_root, b_id) && strstr(list_root, root_id),
                      "ListExecutions as root: %s", list_root);
        {
                _cleanup_free_ char *want = strprintf("%s:%d", a_id, UID_A);
                ck_assert_msg(strstr(list_root, want), "owner of %s is not 4242: %s", a_id, list_root);
        }
        ck_assert(sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetExecution", &e, NULL, "s", b_id) >= 0);
        ck_assert_int_eq(prop_i(bus, b_id, "Owner", 'u'), UID_B);

        /* Root cancels: HTTP answers for any id. */
        cancel_ok(root_id);
}
END_TEST

/* The monitor: a client (uid 4243) that asks for every signal it can get,
 * then reports, once told to stop, what it got from pyexecd. */
static int user_monitor(const char *arg, FILE *out) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int ready_fd = -1, stop_fd = -1;
        unsigned n = 0;
        const char *owner = NULL;
        sd_bus_message *m;
        int r;

        if (sscanf(arg, "%d %d", &ready_fd, &stop_fd) != 2 || sd_bus_open_system(&bus) < 0)
                return 1;
        /* Everything a non-root client may subscribe to (eavesdropping is
         * refused by the bus for it; a broadcast would still arrive). */
        r = sd_bus_add_match(bus, NULL, "type='signal'", NULL, NULL);
        if (r >= 0)
                r = sd_bus_add_match(bus, NULL, "type='signal',interface='" EXEC_IFACE "'", NULL, NULL);
        if (r >= 0)
                (void) sd_bus_add_match(bus, NULL, "type='signal',eavesdrop='true'", NULL, NULL);
        if (r < 0)
                return 1;
        {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

                if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetNameOwner", &e, &reply, "s", BUS_NAME) < 0 ||
                    sd_bus_message_read(reply, "s", &owner) < 0)
                        return 1;
                owner = strdup(owner);
        }
        (void) write(ready_fd, "r", 1);

        for (;;) {
                struct pollfd p = { .fd = stop_fd, .events = POLLIN };

                while ((r = sd_bus_process(bus, &m)) > 0) {
                        if (m) {
                                const char *sender = sd_bus_message_get_sender(m);
                                if (sd_bus_message_is_signal(m, NULL, NULL) && sender && strcmp(sender, owner) == 0)
                                        n++;
                                sd_bus_message_unref(m);
                        }
                }
                if (poll(&p, 1, 0) > 0)
                        break;
                (void) sd_bus_wait(bus, 50 * USEC_PER_MSEC);
        }

        /* Anything pyexecd sent us before answering this came before the answer. */
        if (sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL, NULL, NULL) < 0)
                return 1;
        while ((r = sd_bus_process(bus, &m)) > 0)
                if (m) {
                        const char *sender = sd_bus_message_get_sender(m);
                        if (sd_bus_message_is_signal(m, NULL, NULL) && sender && strcmp(sender, owner) == 0)
                                n++;
                        sd_bus_message_unref(m);
                }
        fprintf(out, "%u\n", n);
        return 0;
}

START_TEST(test_third_client_gets_no_signals) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bus_connect();
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *s1 = NULL, *s2 = NULL;
        _cleanup_free_ char *id = NULL, *arg = NULL, *out = NULL;
        int ready[2], stop[2], status;
        Collector c = {};
        size_t n_output = 0;
        pid_t pid;
        char ch;

        ck_assert(pipe(ready) == 0 && pipe(stop) == 0);
        arg = strprintf("%d %d", ready[1], stop[0]);

        /* run_as() waits for the child; here it must run alongside: fork by hand. */
        fflush(stdout);
        pid = fork();
        ck_assert(pid >= 0);
        if (pid == 0) {
                (void) close(ready[0]);
                (void) close(stop[1]);
                out = run_as(UID_B, user_monitor, arg);
                printf("monitor: %s\n", out);
                _exit(strcmp(out, "0") == 0 ? 0 : 10 + (int) MIN(strtoul(out, NULL, 10), 100UL));
        }
        (void) close(ready[1]);
        (void) close(stop[0]);
        ck_assert_msg(read(ready[0], &ch, 1) == 1, "the monitor did not start");

        collector_attach(bus, &c, &s1, &s2);
        id = bus_execute_ok(bus, "for i in range(5):\n    print(i, flush=True)\n", NULL, false);
        c.want_path = exec_path(id);
        ck_assert(bus_wait_for(bus, &c, pred_terminal, 90 * SEC));
        for (size_t i = 0; i < c.n; i++)
                n_output += strcmp(c.sigs[i].member, "Output") == 0 && strcmp(c.sigs[i].path, c.want_path) == 0;
        ck_assert_msg(n_output >= 1, "the submitter got no Output signals");

        ck_assert(write(stop[1], "s", 1) == 1);
        ck_assert(waitpid(pid, &status, 0) == pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "the third client (uid 4243) received %d signal(s) of pyexecd meant for root (status %d)",
                      WIFEXITED(status) ? WEXITSTATUS(status) - 10 : -1, status);
        collector_done(&c);
}
END_TEST

START_TEST(test_bus_activation) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bus_connect();
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL, *pid_before = NULL, *pid_after = NULL, *nrestarts = NULL;
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        uint64_t queued, running;
        uint32_t mc, mq;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        daemon_wait_ready(60 * SEC);
        pid_before = unit_property("pyexecd.service", "MainPID");
        systemctl_ok("stop", "pyexecd.service");
        state = unit_property("pyexecd.service", "ActiveState");
        ck_assert_str_eq(state, "inactive");
        free(state);

        /* A call to the name starts the service. */
        ck_assert_msg(sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetQueueStatus", &e, &reply,
                                         NULL) >= 0,
                      "GetQueueStatus with the daemon stopped: %s", e.message ?: "?");
        ck_assert(sd_bus_message_read(reply, "ttuu", &queued, &running, &mc, &mq) >= 0);
        state = unit_property("pyexecd.service", "ActiveState");
        ck_assert_str_eq(state, "active");
        pid_after = unit_property("pyexecd.service", "MainPID");
        ck_assert_msg(strcmp(pid_after, "0") != 0 && strcmp(pid_after, pid_before) != 0,
                      "MainPID before %s, after %s", pid_before, pid_after);
        nrestarts = unit_property("pyexecd.service", "NRestarts");
        ck_assert_str_eq(nrestarts, "0");

        /* The socket still leads to the same daemon. */
        r = http_request("POST", API_BASE "/initialize", NULL, NULL, 0, NULL);
        ck_assert_int_eq(r->status, 200);
        free(pid_before);
        pid_before = unit_property("pyexecd.service", "MainPID");
        ck_assert_str_eq(pid_before, pid_after);
}
END_TEST

/* ---- the bearer token on TCP ---- */

#define TCP_URL "http://127.0.0.1:8470" API_BASE
#define TOKEN "t0ken-for-the-bus-test"

typedef struct TcpAnswer {
        long status;
        char *body;
        char *www_authenticate;
        json_t *json;
} TcpAnswer;

static size_t tcp_on_body(char *p, size_t size, size_t n, void *userdata) {
        TcpAnswer *a = userdata;
        size_t old = a->body ? strlen(a->body) : 0;

        a->body = realloc(a->body, old + size * n + 1);
        ck_assert(a->body);
        memcpy(a->body + old, p, size * n);
        a->body[old + size * n] = 0;
        return size * n;
}

static size_t tcp_on_header(char *p, size_t size, size_t n, void *userdata) {
        TcpAnswer *a = userdata;

        if (size * n > 17 && strncasecmp(p, "WWW-Authenticate:", 17) == 0) {
                free(a->www_authenticate);
                a->www_authenticate = strndup(p + 17, strcspn(p + 17, "\r\n"));
        }
        return size * n;
}

static void tcp_answer_done(TcpAnswer *a) {
        free(a->body);
        free(a->www_authenticate);
        json_decref(a->json);
}

static void tcp_request(const char *method, const char *path, const char *token, TcpAnswer *ret) {
        _cleanup_free_ char *url = strprintf(TCP_URL "%s", path), *auth = NULL;
        struct curl_slist *headers = NULL;
        CURL *curl = curl_easy_init();
        CURLcode cc;

        *ret = (TcpAnswer) {};
        ck_assert(curl);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        if (token) {
                auth = strprintf("Authorization: Bearer %s", token);
                headers = curl_slist_append(headers, auth);
        }
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "POST") == 0)
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "{\"code\":\"print(1)\"}");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, tcp_on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, ret);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, tcp_on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, ret);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
        cc = curl_easy_perform(curl);
        ck_assert_msg(cc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(cc));
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ret->status);
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        ret->json = ret->body ? json_loads(ret->body, 0, NULL) : NULL;
}

static void assert_unauthorized(const TcpAnswer *a, const char *message_part) {
        json_t *err = json_object_get(a->json, "error");

        ck_assert_msg(a->status == 401, "want 401, got %ld %s", a->status, a->body ?: "");
        ck_assert_str_eq(json_object_get_string(err, "code") ?: "", "unauthorized");
        ck_assert_msg(strstr(json_object_get_string(err, "message") ?: "", message_part), "401 message: %s",
                      a->body);
        ck_assert_msg(a->www_authenticate && strstr(a->www_authenticate, "Bearer"),
                      "WWW-Authenticate: Bearer missing: %s", a->www_authenticate ?: "(none)");
}

static void write_file(const char *path, const char *text, mode_t mode) {
        FILE *f = fopen(path, "we");

        ck_assert_msg(f, "open %s: %m", path);
        fputs(text, f);
        ck_assert(fclose(f) == 0);
        ck_assert(chmod(path, mode) == 0);
}

/* Restarts the socket (and so the service) with the current drop-ins. */
static void restart_units(void) {
        int r = run_commandl(NULL, "systemctl", "stop", "pyexecd.service", "pyexecd.socket", NULL);
        ck_assert_int_eq(r, 0);
        r = run_commandl(NULL, "systemctl", "daemon-reload", NULL);
        ck_assert_int_eq(r, 0);
        systemctl_ok("start", "pyexecd.socket");
        daemon_wait_ready(60 * SEC);
}

START_TEST(test_http_token_on_tcp) {
        TcpAnswer a;
        _cleanup_free_ char *id = NULL, *root_id = NULL, *o = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bus_connect();

        ck_assert(mkdir("/run/systemd/system/pyexecd.socket.d", 0755) == 0 || errno == EEXIST);
        ck_assert(mkdir("/run/systemd/system/pyexecd.service.d", 0755) == 0 || errno == EEXIST);
        ck_assert(mkdir("/run/pyexecd-bus-test", 0700) == 0 || errno == EEXIST);
        write_file("/run/systemd/system/pyexecd.socket.d/50-tcp.conf",
                   "[Socket]\nListenStream=127.0.0.1:8470\nFileDescriptorName=http-tcp\n", 0644);

        /* No token configured: 401 that says so. */
        (void) unlink("/run/systemd/system/pyexecd.service.d/50-token.conf");
        restart_units();
        tcp_request("POST", "/execute", TOKEN, &a);
        assert_unauthorized(&a, "none is configured");
        tcp_answer_done(&a);

        /* The admin's way: LoadCredential=http-token:FILE. (systemd moves
         * the credentials mount into /run/credentials from a child's mount
         * namespace; the testbed's mounts are private, so give that folder
         * shared propagation, as on a booted host.) */
        ck_assert(mkdir("/run/credentials", 0755) == 0 || errno == EEXIST);
        if (mount("/run/credentials", "/run/credentials", NULL, MS_BIND, NULL) == 0)
                ck_assert_msg(mount(NULL, "/run/credentials", NULL, MS_SHARED, NULL) == 0, "make-shared: %m");
        write_file("/run/pyexecd-bus-test/http-token", TOKEN "\n", 0600);
        write_file("/run/systemd/system/pyexecd.service.d/50-token.conf",
                   "[Service]\nLoadCredential=http-token:/run/pyexecd-bus-test/http-token\n", 0644);
        restart_units();

        tcp_request("POST", "/execute", NULL, &a);
        assert_unauthorized(&a, "bearer token is required");
        tcp_answer_done(&a);
        tcp_request("POST", "/execute", "wrong-token", &a);
        assert_unauthorized(&a, "not valid");
        tcp_answer_done(&a);
        tcp_request("POST", "/execute", TOKEN "x", &a);
        assert_unauthorized(&a, "not valid");
        tcp_answer_done(&a);
        tcp_request("GET", "/queue/status", NULL, &a);
        ck_assert_int_eq(a.status, 401);
        tcp_answer_done(&a);

        tcp_request("POST", "/execute", TOKEN, &a);
        ck_assert_msg(a.status == 202, "right token: %ld %s", a.status, a.body ?: "");
        id = strdup(json_object_get_string(a.json, "execution_id"));
        tcp_answer_done(&a);
        wait_terminal(id, 60 * SEC);

        /* The token owns what it submitted … */
        tcp_request("GET", strprintf("/status/%s", id), TOKEN, &a);
        ck_assert_msg(a.status == 200, "status with the token: %ld %s", a.status, a.body ?: "");
        tcp_answer_done(&a);
        /* … and nothing else. */
        root_id = bus_execute_ok(bus, "pass", NULL, false);
        tcp_request("GET", strprintf("/status/%s", root_id), TOKEN, &a);
        ck_assert_msg(a.status == 404, "root's execution with the token: %ld %s", a.status, a.body ?: "");
        tcp_answer_done(&a);
        tcp_request("DELETE", strprintf("/cancel/%s", root_id), TOKEN, &a);
        ck_assert_msg(a.status == 404, "cancel root's with the token: %ld", a.status);
        tcp_answer_done(&a);
        /* A user on the unix socket does not see the token's execution. */
        o = as_user(UID_A, user_http, "GET " API_BASE "/status/%s", id);
        assert_prefix(o, "404 not_found ", "the token's execution as uid 4242");

        /* Back to the testbed's units. */
        (void) unlink("/run/systemd/system/pyexecd.service.d/50-token.conf");
        (void) unlink("/run/systemd/system/pyexecd.socket.d/50-tcp.conf");
        restart_units();
}
END_TEST

START_TEST(test_polkit_absent) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bus_connect();
        _cleanup_free_ char *o = NULL, *o2 = NULL, *id = NULL;
        _cleanup_(http_response_freep) HttpResponse *r = NULL;
        int k;

        rules_allow_execute();
        rules_wait_allowed();

        /* Stopped and masked, so that bus activation cannot start it again.
         * "systemctl mask" would have no effect in the testbed: its unit
         * folder comes first in SYSTEMD_UNIT_PATH, before any mask. So the
         * mask goes into that folder (this instance's own /run), in place
         * of the unit, which is put back afterwards. */
        ck_assert(rename(POLKIT_UNIT, POLKIT_UNIT_SAVED) == 0);
        ck_assert(symlink("/dev/null", POLKIT_UNIT) == 0);
        k = run_commandl(NULL, "systemctl", "daemon-reload", NULL);
        ck_assert_int_eq(k, 0);
        k = run_commandl(NULL, "systemctl", "stop", "polkit.service", NULL);
        ck_assert_int_eq(k, 0);
        o2 = unit_property("polkit.service", "LoadState");
        ck_assert_str_eq(o2, "masked");
        free(o2);
        o2 = NULL;

        /* Even with the rule: no polkit, no answer, no. */
        o = as_user(UID_A, user_execute, "plain");
        ck_assert_msg(strcmp(o, "err " ERR_PREFIX "AccessDenied") == 0, "Execute as 4242 without polkit: %s", o);
        free(o);
        o = as_user(UID_A, user_http, "POST " API_BASE "/execute");
        assert_prefix(o, "403 forbidden ", "POST /execute as 4242 without polkit");

        /* Root is never asked about. */
        id = bus_execute_ok(bus, "print(1)", NULL, false);
        wait_terminal(id, 60 * SEC);
        {
                _cleanup_(json_decrefp) json_t *req = json_pack("{s:s}", "code", "print(2)");
                r = http_post_json(API_BASE "/execute", req, 0);
        }
        ck_assert_int_eq(r->status, 202);

        /* polkitd really was gone all along. */
        o2 = unit_property("polkit.service", "ActiveState");
        ck_assert_msg(strcmp(o2, "active") != 0, "polkit.service is %s", o2);

        ck_assert(unlink(POLKIT_UNIT) == 0);
        ck_assert(rename(POLKIT_UNIT_SAVED, POLKIT_UNIT) == 0);
        (void) run_commandl(NULL, "systemctl", "daemon-reload", NULL);
        (void) run_commandl(NULL, "systemctl", "start", "polkit.service", NULL);
}
END_TEST

static void setup(void) {
        setup_users();
}

static Suite *bus_suite(void) {
        Suite *s = suite_create("bus");
        TCase *tc;

        tc = tcase_create("root");
        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_introspection_matches_contract);
        tcase_add_test(tc, test_execute_root_signals_and_properties);
        tcase_add_test(tc, test_running_properties_and_cancel);
        tcase_add_test(tc, test_manager_methods_root);
        suite_add_tcase(s, tc);

        tc = tcase_create("authorisation");
        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, test_unprivileged_denied_without_rule);
        tcase_add_test(tc, test_users_see_only_their_own);
        tcase_add_test(tc, test_third_client_gets_no_signals);
        suite_add_tcase(s, tc);

        tc = tcase_create("activation");
        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, test_bus_activation);
        tcase_add_test(tc, test_http_token_on_tcp);
        tcase_add_test(tc, test_polkit_absent);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return run_suite(bus_suite());
}
