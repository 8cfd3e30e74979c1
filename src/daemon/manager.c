/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "bus/bus-frontend.h"
#include "daemon/manager.h"
#include "shared/log.h"
#include "shared/time-util.h"

/* Polling the queue covers executions queued by other nodes and wake-ups
 * lost while Redis was away; local submissions claim at once. */
#define CLAIM_POLL_USEC (1 * USEC_PER_SEC)
/* Running executions get this long to be ended and recorded on SIGTERM
 * (pyexecd.service has TimeoutStopSec=30s). */
#define STOP_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define IDLE_CHECK_USEC (1 * USEC_PER_SEC)
/* The registry holds this many executions (objects on the bus) at most. */
#define REGISTRY_MAX 4096
#define REGISTRY_EXPIRE_USEC (60 * USEC_PER_SEC)
/* The longest bearer token we read. */
#define HTTP_TOKEN_MAX 4096

char *manager_redis_problem(Manager *m, int r) {
        const char *why = redis_store_last_error(m->store);
        char *s;

        if (why && strncmp(why, "Redis at ", strlen("Redis at ")) == 0)
                return strdup(why);
        if (asprintf(&s, "Redis at %s is unreachable: %s", m->config.redis_address,
                     why ?: (r < 0 ? strerror(-r) : "not connected yet")) < 0)
                return NULL;
        return s;
}

void manager_update_status(Manager *m) {
        if (m->stopping)
                (void) sd_notifyf(false, "STATUS=Stopping: %u execution(s) still running.", m->n_running);
        else if (!redis_store_is_connected(m->store))
                (void) sd_notifyf(false, "STATUS=Waiting for Redis at %s: %s", m->config.redis_address,
                                  redis_store_last_error(m->store) ?: "connecting");
        else
                (void) sd_notifyf(false, "STATUS=%u of %u execution slots busy.", m->n_running,
                                  m->config.max_concurrent);
}

static bool manager_may_exit(Manager *m) {
        return m->n_running == 0 && !m->unfinished && m->n_pending_store == 0 && !m->claiming;
}

/* Called whenever something the shutdown waits for has settled. */
void manager_check_stopped(Manager *m) {
        if (!m->stopping || !manager_may_exit(m))
                return;

        log_info("All executions ended; exiting.");
        ops_abort_all(m);
        /* Only now: the subscribers of the executions just ended got their
         * last signals from us. Calls from here on start the successor. */
        bus_frontend_release_name(m);
        manager_abort_subscriptions(m);
        http_server_abort_pending(m->http);
        (void) sd_event_exit(m->event, m->exit_code);
}

static void manager_on_store_state(RedisStore *s, bool connected, void *userdata) {
        Manager *m = userdata;

        if (connected) {
                log_info("Connected to Redis at %s.", m->config.redis_address);
                if (!m->recovered)
                        manager_recover(m);
                manager_retry_unfinished(m);
                manager_claim(m);
        } else
                log_warning("Lost Redis at %s: %s", m->config.redis_address,
                            redis_store_last_error(s) ?: "disconnected");

        manager_update_status(m);
        manager_check_stopped(m);
}

static int manager_on_claim_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        manager_claim(m);
        manager_check_stopped(m);

        r = sd_event_source_set_time_relative(s, CLAIM_POLL_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to re-arm the queue timer: %m");
        return 0;
}

static int manager_on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_warning("Shutdown deadline reached with %u execution(s) not recorded; exiting anyway.",
                    m->n_running);
        bus_frontend_release_name(m);
        manager_abort_subscriptions(m);
        http_server_abort_pending(m->http);
        return sd_event_exit(m->event, m->exit_code);
}

void manager_stop(Manager *m) {
        int r;

        if (m->stopping)
                return;
        m->stopping = true;

        /* Let systemd queue new start requests rather than assume we run. */
        (void) sd_notify(false, "STOPPING=1");
        log_info("Stopping: ending %u running execution(s); queued ones stay queued.", m->n_running);

        /* New connections wait in the socket's backlog for the next start.
         * The bus name stays until the running executions' ends are stored
         * and announced (manager_check_stopped()). */
        http_server_quiesce(m->http);

        LIST_FOREACH(running, re, m->running)
                if (re->execution && !re->ended) {
                        r = execution_interrupt(re->execution);
                        if (r < 0)
                                log_warning_errno(r, "Failed to interrupt execution %s: %m", re->record.id);
                }

        r = sd_event_add_time_relative(m->event, &m->stop_timer, CLOCK_MONOTONIC, STOP_TIMEOUT_USEC, 0,
                                       manager_on_stop_timer, m);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the shutdown deadline: %m");

        manager_update_status(m);
        manager_check_stopped(m);
}

static int manager_on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s.", signal_to_string((int) si->ssi_signo) ?: "a signal");
        manager_stop(m);
        return 0;
}

static bool manager_is_idle(Manager *m) {
        return m->n_running == 0 && !m->running && !m->unfinished && !m->subscriptions &&
               m->queue_empty && http_server_get_n_connections(m->http) == 0 && ops_get_n_pending(m) == 0;
}

static int manager_on_idle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        if (!manager_is_idle(m))
                m->idle_since_usec = now;
        else if (now >= m->idle_since_usec + m->config.idle_exit_usec) {
                log_info("Idle for %llu s; exiting (IdleExitSec=).",
                         (unsigned long long) (m->config.idle_exit_usec / USEC_PER_SEC));
                manager_stop(m);
                return 0;
        }

        r = sd_event_source_set_time_relative(s, IDLE_CHECK_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to re-arm the idle timer: %m");
        return 0;
}

/* One uid per running execution, from a range nobody else uses. */
static int manager_setup_uids(Manager *m) {
        _cleanup_free_ char *message = NULL;
        uint32_t start = 0;
        int r;

        if (!m->config.sandbox_enabled) {
                log_warning("The sandbox is off ([Sandbox] Enabled=no): executions run as root with only a PID "
                            "namespace of their own. Use this for measurements and debugging only.");
                return 0;
        }

        r = uid_range_check_userdb(m->config.uid_first, m->config.uid_last, &message);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Refusing to start: %s.", message ?: "the uid range is in use");

        /* A random first uid: several daemons on one host (test beds) then
         * rarely share uids, whose processes RLIMIT_NPROC counts together. */
        if (getrandom(&start, sizeof start, GRND_NONBLOCK) != (ssize_t) sizeof start)
                start = (uint32_t) getpid();

        r = uid_allocator_new(&m->uids, m->config.uid_first, m->config.uid_last, (uid_t) start);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the uid range: %m");

        log_debug("Executions run as uids %" PRIu32 "-%" PRIu32 ".", (uint32_t) m->config.uid_first,
                  (uint32_t) m->config.uid_last);
        return 0;
}

/*
 * The bearer token that TCP listeners require, from the systemd credential
 * "http-token" (LoadCredential=http-token:/etc/pyexecd/http-token). Without
 * it, TCP callers get 401: there is no other way to tell who they are.
 */
static int manager_load_http_token(Manager *m) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        const char *dir;
        size_t n;
        FILE *f;

        dir = getenv("CREDENTIALS_DIRECTORY");
        if (!dir || !*dir)
                return 0;
        if (asprintf(&path, "%s/http-token", dir) < 0)
                return log_oom();
        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "Failed to read the credential %s: %m", path);
        }
        buf = malloc(HTTP_TOKEN_MAX + 1);
        if (!buf) {
                fclose(f);
                return log_oom();
        }
        n = fread(buf, 1, HTTP_TOKEN_MAX + 1, f);
        fclose(f);
        if (n > HTTP_TOKEN_MAX)
                return log_error_errno(EINVAL, "The credential %s is longer than %d bytes.", path, HTTP_TOKEN_MAX);
        /* A trailing newline (echo > file) is not part of the token. */
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
                n--;
        buf[n] = 0;
        if (n == 0 || strlen(buf) != n) {
                log_warning("The credential %s is empty or holds a NUL byte; TCP callers will get 401.", path);
                return 0;
        }
        m->http_token = TAKE_PTR(buf);
        log_debug("Loaded the HTTP bearer token from %s.", path);
        return 0;
}

/*
 * The Redis password, from the systemd credential "redis-password"
 * (LoadCredential=redis-password:/etc/pyexecd/redis-password): "PASSWORD"
 * or "USER PASSWORD" on one line (redis-store.h). Without it no AUTH is
 * sent. A credential that is there but unusable stops the start: running
 * without the password would only fail later, less clearly.
 */
static int manager_load_redis_password(Manager *m) {
        _cleanup_free_ char *path = NULL;
        const char *dir;
        int r;

        dir = getenv("CREDENTIALS_DIRECTORY");
        if (!dir || !*dir)
                return 0;
        if (asprintf(&path, "%s/%s", dir, REDIS_PASSWORD_CREDENTIAL) < 0)
                return log_oom();
        r = redis_store_load_auth(m->store, path);
        switch (r) {
        case 0:
                log_debug("Authenticating to Redis with the credential %s.", path);
                return 0;
        case -ENOENT:
                return 0;
        case -ENODATA:
                return log_error_errno(r, "The credential %s is empty: it must hold the Redis password, "
                                       "or \"USER PASSWORD\".", path);
        case -EBADMSG:
                return log_error_errno(r, "The credential %s must be one line: the Redis password, "
                                       "or \"USER PASSWORD\" (neither part empty).", path);
        case -E2BIG:
                return log_error_errno(r, "The credential %s is longer than %d bytes.", path, REDIS_PASSWORD_MAX);
        default:
                return log_error_errno(r, "Failed to read the credential %s: %m", path);
        }
}

void manager_record_changed(Manager *m, const ExecRecord *rec) {
        ExecEntry *e = NULL;
        int r;

        r = registry_put(m->registry, rec, &e);
        if (r < 0) {
                log_warning_errno(r, "Execution %s: cannot keep its state in memory: %m", rec->id);
                return;
        }
        /* Executions running here stay: their objects must not vanish mid-run. */
        e->pinned = e->record.state == EXEC_STATE_RUNNING && e->record.node && strcmp(e->record.node, m->node) == 0;
}

static int manager_on_expire_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        registry_expire(m->registry, now_usec(CLOCK_REALTIME));
        r = sd_event_source_set_time_relative(s, REGISTRY_EXPIRE_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to re-arm the expiry timer: %m");
        return 0;
}

void manager_ready(Manager *m) {
        if (m->ready)
                return;
        m->ready = true;
        (void) sd_notify(false, "READY=1");
        manager_update_status(m);
}

int manager_new(Manager **ret, sd_event *event, const Config *config, const ManagerPaths *paths) {
        _cleanup_(manager_freep) Manager *m = NULL;
        char hostname[256];
        long n;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_oom();
        m->event = sd_event_ref(event);
        m->paths = *paths;
        m->queue_empty = true;

        n = sysconf(_SC_NPROCESSORS_ONLN);
        m->ncpus = n > 0 ? (unsigned) n : 1;

        /* A shallow copy: the strings now belong to the manager. */
        m->config = *config;
        m->config.redis_address = strdup(config->redis_address);
        m->config.key_prefix = strdup(config->key_prefix);
        if (!m->config.redis_address || !m->config.key_prefix)
                return log_oom();

        r = manager_setup_uids(m);
        if (r < 0)
                return r;

        if (gethostname(hostname, sizeof(hostname)) < 0)
                return log_error_errno(errno, "Failed to read the host name: %m");
        hostname[sizeof(hostname) - 1] = '\0';
        m->node = strdup(hostname);
        if (!m->node)
                return log_oom();

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_attach_event(m->bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");

        r = polkit_client_new(&m->polkit, m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the polkit client: %m");

        r = registry_new(&m->registry, REGISTRY_MAX, m->config.result_ttl_usec,
                         &(const RegistryHandlers) {
                                 .changed = bus_execution_on_changed,
                                 .removed = bus_execution_on_removed,
                         },
                         m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the registry: %m");

        r = manager_load_http_token(m);
        if (r < 0)
                return r;

        r = http_server_new(&m->http, event, manager_http_routes, manager_n_http_routes,
                            m->config.max_request_bytes, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the HTTP server: %m");

        r = redis_store_new(&m->store, event, m->config.redis_address, m->config.key_prefix, m->node);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the Redis connection to %s: %m", m->config.redis_address);
        redis_store_set_state_handler(m->store, manager_on_store_state, m);
        /* Before the loop runs: the store's first attempt starts from there. */
        r = manager_load_redis_password(m);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

int manager_add_http_listener(Manager *m, int fd, const char *description) {
        int r;

        r = http_server_add_listener(m->http, fd, description);
        if (r < 0)
                return log_error_errno(r, "Failed to serve HTTP on %s: %m", description);
        log_debug("Serving HTTP on %s.", description);
        return 0;
}

int manager_start(Manager *m) {
        int r;

        r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, manager_on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGTERM: %m");
        r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, manager_on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGINT: %m");

        r = sd_event_add_time_relative(m->event, &m->claim_timer, CLOCK_MONOTONIC, CLAIM_POLL_USEC, 0,
                                       manager_on_claim_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the queue timer: %m");
        r = sd_event_source_set_enabled(m->claim_timer, SD_EVENT_ON);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the queue timer: %m");

        if (m->config.idle_exit_usec > 0) {
                m->idle_since_usec = now_usec(CLOCK_MONOTONIC);
                r = sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC, IDLE_CHECK_USEC, 0,
                                               manager_on_idle_timer, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to arm the idle timer: %m");
                r = sd_event_source_set_enabled(m->idle_timer, SD_EVENT_ON);
                if (r < 0)
                        return log_error_errno(r, "Failed to enable the idle timer: %m");
        }

        r = sd_event_add_time_relative(m->event, &m->expire_timer, CLOCK_MONOTONIC, REGISTRY_EXPIRE_USEC, 0,
                                       manager_on_expire_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the expiry timer: %m");
        r = sd_event_source_set_enabled(m->expire_timer, SD_EVENT_ON);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the expiry timer: %m");

        /* Ready once the listeners are up and the bus name is ours (the
         * reply of the name request calls manager_ready()), whether Redis
         * answers or not: without it requests get 503 until it is back. */
        r = bus_frontend_start(m);
        if (r < 0)
                return r;
        manager_update_status(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        /* Executions still running are killed without a record: only reached
         * when the shutdown deadline passed or start-up failed. */
        while (m->running) {
                RunningExecution *re = m->running;
                LIST_REMOVE(running, m->running, re);
                running_execution_free(re);
        }
        while (m->unfinished) {
                RunningExecution *re = m->unfinished;
                LIST_REMOVE(running, m->unfinished, re);
                running_execution_free(re);
        }

        /* Operations waiting for polkit end now (with "unavailable"); those
         * waiting for Redis end when the store goes, below. */
        ops_abort_all(m);
        m->polkit = polkit_client_free(m->polkit);

        m->http = http_server_free(m->http);
        /* Subscriptions end with their streams, freed by the HTTP server above. */
        m->store = redis_store_free(m->store);

        bus_frontend_done(m);
        m->registry = registry_free(m->registry);

        m->sigterm_source = sd_event_source_disable_unref(m->sigterm_source);
        m->sigint_source = sd_event_source_disable_unref(m->sigint_source);
        m->claim_timer = sd_event_source_disable_unref(m->claim_timer);
        m->idle_timer = sd_event_source_disable_unref(m->idle_timer);
        m->stop_timer = sd_event_source_disable_unref(m->stop_timer);
        m->expire_timer = sd_event_source_disable_unref(m->expire_timer);

        sd_bus_flush_close_unref(m->bus);
        if (m->http_token)
                explicit_bzero(m->http_token, strlen(m->http_token));
        free(m->http_token);
        m->uids = uid_allocator_free(m->uids);
        config_done(&m->config);
        free(m->node);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
