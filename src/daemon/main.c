/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon/manager.h"
#include "shared/log.h"

typedef struct Arguments {
        const char *config_file;
        const char *config_dir;
        char **listen;                  /* --listen addresses */
        size_t n_listen;
        const char *redis_address;
        unsigned max_concurrent;
        unsigned max_queued;
        int log_level;
} Arguments;

static void arguments_done(Arguments *a) {
        free(a->listen);
}

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Runs Python notebook cells for other programs, each in its own transient\n"
               "systemd scope with resource limits. Normally started by pyexecd.socket.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --config=FILE          Read this configuration file (default: " PYEXECD_CONF_FILE ")\n"
               "     --config-dir=DIR       Read drop-ins from this folder (default: " PYEXECD_CONF_DIR ")\n"
               "     --listen=ADDRESS       Serve HTTP on a unix socket path or HOST:PORT, when\n"
               "                            not socket-activated (may be repeated)\n"
               "     --redis=ADDRESS        Redis at a unix socket path or HOST:PORT ([Redis] Address=)\n"
               "     --max-concurrent=N     Executions running at once ([Queue] MaxConcurrent=)\n"
               "     --max-queued=N         Queued executions before 429 ([Queue] MaxQueued=)\n"
               "     --log-level=LEVEL      debug, info, notice, warning or err (default: info)\n",
               program_invocation_short_name);
}

static int parse_log_level(const char *s) {
        static const struct { const char *name; int level; } levels[] = {
                { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "err", LOG_ERR }, { "error", LOG_ERR },
        };
        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (strcmp(s, levels[i].name) == 0)
                        return levels[i].level;
        return -EINVAL;
}

static int parse_argv(int argc, char *argv[], Arguments *a) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG,
                ARG_CONFIG_DIR,
                ARG_LISTEN,
                ARG_REDIS,
                ARG_MAX_CONCURRENT,
                ARG_MAX_QUEUED,
                ARG_LOG_LEVEL,
        };
        static const struct option options[] = {
                { "help",           no_argument,       NULL, 'h'                },
                { "version",        no_argument,       NULL, ARG_VERSION        },
                { "config",         required_argument, NULL, ARG_CONFIG         },
                { "config-dir",     required_argument, NULL, ARG_CONFIG_DIR     },
                { "listen",         required_argument, NULL, ARG_LISTEN         },
                { "redis",          required_argument, NULL, ARG_REDIS          },
                { "max-concurrent", required_argument, NULL, ARG_MAX_CONCURRENT },
                { "max-queued",     required_argument, NULL, ARG_MAX_QUEUED     },
                { "log-level",      required_argument, NULL, ARG_LOG_LEVEL      },
                {}
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("pyexecd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CONFIG:
                        a->config_file = optarg;
                        break;
                case ARG_CONFIG_DIR:
                        a->config_dir = optarg;
                        break;
                case ARG_LISTEN: {
                        char **l = realloc(a->listen, (a->n_listen + 1) * sizeof(char *));
                        if (!l)
                                return log_oom();
                        a->listen = l;
                        a->listen[a->n_listen++] = optarg;
                        break;
                }
                case ARG_REDIS:
                        a->redis_address = optarg;
                        break;
                case ARG_MAX_CONCURRENT:
                        r = parse_unsigned(optarg, &a->max_concurrent);
                        if (r < 0 || a->max_concurrent == 0)
                                return log_error_errno(EINVAL, "Invalid --max-concurrent=: %s", optarg);
                        break;
                case ARG_MAX_QUEUED:
                        r = parse_unsigned(optarg, &a->max_queued);
                        if (r < 0)
                                return log_error_errno(EINVAL, "Invalid --max-queued=: %s", optarg);
                        break;
                case ARG_LOG_LEVEL:
                        a->log_level = parse_log_level(optarg);
                        if (a->log_level < 0)
                                return log_error_errno(EINVAL, "Invalid --log-level=: %s", optarg);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(EINVAL, "Unknown option code %c.", c);
                }

        if (optind < argc)
                return log_error_errno(EINVAL, "%s takes no positional arguments.", program_invocation_short_name);
        return 1;
}

/* Opens a listening socket for --listen: a path (unix) or HOST:PORT (TCP). */
static int listen_address(const char *address, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        int r;

        if (address[0] == '/') {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                struct stat st;

                if (strlen(address) >= sizeof(sa.sun_path))
                        return log_error_errno(ENAMETOOLONG, "Socket path too long: %s", address);
                strcpy(sa.sun_path, address);

                /* A stale socket of an earlier run would make bind() fail. */
                if (lstat(address, &st) >= 0 && S_ISSOCK(st.st_mode))
                        (void) unlink(address);

                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to create a socket: %m");
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        return log_error_errno(errno, "Failed to bind %s: %m", address);
        } else {
                _cleanup_free_ char *host = NULL;
                struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
                struct addrinfo *ai = NULL;
                const char *colon, *port;
                int one = 1;

                colon = strrchr(address, ':');
                if (!colon)
                        return log_error_errno(EINVAL, "--listen=%s is neither a path nor HOST:PORT.", address);
                host = strndup(address, colon - address);
                if (!host)
                        return log_oom();
                port = colon + 1;
                /* "[::1]:8470" */
                if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                        memmove(host, host + 1, strlen(host));
                        host[strlen(host) - 1] = '\0';
                }

                r = getaddrinfo(host, port, &hints, &ai);
                if (r != 0)
                        return log_error_errno(EINVAL, "Cannot resolve %s: %s", address, gai_strerror(r));
                fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        freeaddrinfo(ai);
                        return log_error_errno(errno, "Failed to create a socket: %m");
                }
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                r = bind(fd, ai->ai_addr, ai->ai_addrlen);
                freeaddrinfo(ai);
                if (r < 0)
                        return log_error_errno(errno, "Failed to bind %s: %m", address);
        }

        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Failed to listen on %s: %m", address);

        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int add_listeners(Manager *m, const Arguments *a, int **ret_fds, size_t *ret_n) {
        _cleanup_strv_free_ char **names = NULL;
        int *fds = NULL;
        size_t n_fds = 0;
        int n, r;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by systemd: %m");

        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                const char *name = names && names[i] ? names[i] : "unknown";

                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
                        log_warning("Passed file descriptor %d (%s) is not a listening stream socket; closing it.", fd, name);
                        (void) close(fd);
                        continue;
                }
                r = manager_add_http_listener(m, fd, name);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < a->n_listen; i++) {
                int fd = -1;

                r = listen_address(a->listen[i], &fd);
                if (r < 0)
                        return r;
                int *f = realloc(fds, (n_fds + 1) * sizeof(int));
                if (!f) {
                        (void) close(fd);
                        return log_oom();
                }
                fds = f;
                fds[n_fds++] = fd;
                *ret_fds = fds;
                *ret_n = n_fds;
                r = manager_add_http_listener(m, fd, a->listen[i]);
                if (r < 0)
                        return r;
        }

        if (n <= 0 && a->n_listen == 0)
                return log_error_errno(EINVAL, "No socket to listen on: start pyexecd through pyexecd.socket, or give --listen=.");
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(arguments_done) Arguments a = { .log_level = -1 };
        _cleanup_(config_done) Config config = {};
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *message = NULL;
        _cleanup_free_ int *fds = NULL;
        size_t n_fds = 0;
        sigset_t ss;
        long ncpus;
        int r;

        log_open();

        r = parse_argv(argc, argv, &a);
        if (r <= 0)
                return r;
        if (a.log_level >= 0)
                log_set_max_level(a.log_level);

        ncpus = sysconf(_SC_NPROCESSORS_ONLN);
        r = config_init(&config, ncpus > 0 ? (unsigned) ncpus : 1);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the configuration: %m");
        r = config_load(&config, a.config_file ?: PYEXECD_CONF_FILE, a.config_dir ?: PYEXECD_CONF_DIR, &message);
        if (r < 0)
                return log_error_errno(r, "Bad configuration: %s", message ?: strerror(-r));

        /* Command-line options override the files. */
        if (a.redis_address) {
                free(config.redis_address);
                config.redis_address = strdup(a.redis_address);
                if (!config.redis_address)
                        return log_oom();
        }
        if (a.max_concurrent > 0)
                config.max_concurrent = a.max_concurrent;
        if (a.max_queued > 0)
                config.max_queued = a.max_queued;

        free(message);
        message = NULL;
        r = config_verify(&config, &message);
        if (r < 0)
                return log_error_errno(r, "Bad configuration: %s", message ?: strerror(-r));

        /* Signals arrive through sd-event; SIGCHLD must be blocked for its child sources. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        /* A client that goes away mid-write must not kill us. */
        (void) signal(SIGPIPE, SIG_IGN);

        r = sd_event_default(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        (void) sd_event_set_watchdog(event, true);

        ManagerPaths paths = {
                .sandbox = PYEXECD_SANDBOX_PATH,
                .runner = PYEXECD_RUNNER_PATH,
                .python = PYEXECD_PYTHON,
        };
        r = manager_new(&m, event, &config, &paths);
        if (r < 0)
                return r;

        r = add_listeners(m, &a, &fds, &n_fds);
        if (r < 0)
                goto finish;

        r = manager_start(m);
        if (r < 0)
                goto finish;

        log_info("pyexecd %s running: up to %u executions at once, Redis at %s.",
                 PACKAGE_VERSION, config.max_concurrent, config.redis_address);

        r = sd_event_loop(event);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");

finish:
        m = manager_free(m);
        for (size_t i = 0; i < n_fds; i++)
                (void) close(fds[i]);
        return r;
}

int main(int argc, char *argv[]) {
        int r;

        r = run(argc, argv);
        if (r < 0)
                (void) sd_notifyf(false, "ERRNO=%d", -r);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
