/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "daemon/log.h"
#include "daemon/manager.h"

/* Each command-line setting is a configuration key: it is applied after the
 * file, through the same parser, so both are validated alike. */
typedef struct Option {
        const char *name;
        const char *section;
        const char *key;
        const char *arg;
        const char *help;
} Option;

static const Option options[] = {
        { "socket", "Daemon", "Socket", "PATH", "Listen on PATH when not socket-activated" },
        { "socket-mode", "Daemon", "SocketMode", "MODE", "Access mode of the socket file (octal)" },
        { "socket-group", "Daemon", "SocketGroup", "GROUP", "Group of the socket file (default: admin group)" },
        { "read-only-socket", "Daemon", "ReadOnlySocket", "PATH", "Also serve the read-only methods on PATH" },
        { "read-only-socket-mode", "Daemon", "ReadOnlySocketMode", "MODE", "Access mode of the read-only socket" },
        { "state-dir", "Daemon", "StateDirectory", "DIR", "Keep sandbox records in DIR" },
        { "cgroup-root", "Daemon", "CgroupRoot", "DIR", "Where the cgroup file systems are mounted" },
        { "cgroup-driver", "Daemon", "CgroupDriver", "NAME", "cgroupfs or systemd" },
        { "log-level", "Daemon", "LogLevel", "LEVEL", "err, warning, notice, info or debug" },
        { "allowed-cgroup-parent", "Sandbox", "AllowedCgroupParents", "PARENT",
          "Sandboxes only beneath PARENT (repeatable; \"\" resets)" },
        { "on-vmm-exit", "Sandbox", "OnVmmExit", "POLICY", "keep (the default) or delete a sandbox whose VMM exits" },
        { "admin-group", "Access", "AdminGroup", "GROUP", "Members may call every method" },
        { "read-only-group", "Access", "ReadOnlyGroup", "GROUP", "Members may call the read-only methods" },
        { "attach-descendants-only", "Access", "AttachDescendantsOnly", "BOOL",
          "Callers but root attach only their own descendants (default yes)" },
        { "max-message-size", "Limits", "MaxMessageSize", "SIZE", "Largest accepted frame (at most 4M)" },
        { "max-connections", "Limits", "MaxConnections", "N", "Connections served at once" },
        { "max-connections-per-user", "Limits", "MaxConnectionsPerUser", "N", "Connections of one uid but root" },
        { "max-requests-per-connection", "Limits", "MaxRequestsPerConnection", "N",
          "Answered requests a client has not read yet" },
        { "request-rate", "Limits", "RequestRate", "N", "Requests per second per connection (0: any)" },
        { "request-burst", "Limits", "RequestBurst", "N", "Requests at once above the rate" },
        { "idle-timeout", "Limits", "IdleTimeoutSec", "SEC", "Close connections idle this long (0: never)" },
        { "frame-timeout", "Limits", "FrameTimeoutSec", "SEC", "Close connections stalled mid-frame" },
        { "max-sandboxes", "Limits", "MaxSandboxes", "N", "Sandboxes managed at once" },
};

enum {
        ARG_VERSION = 0x100,
        ARG_CONFIG,
        ARG_FIRST_SETTING, /* options[i] is ARG_FIRST_SETTING + i */
};

static const char *arg_config = CONFIG_FILE_DEFAULT;
static bool arg_config_given;
static char *arg_overrides; /* "[Section]\nKey=value\n" lines from the command line */

static void help(void)
{
        char left[ELEMENTSOF(options)][64];
        int width = (int) strlen("--config PATH");

        for (size_t i = 0; i < ELEMENTSOF(options); i++) {
                (void) snprintf(left[i], sizeof left[i], "--%s %s", options[i].name, options[i].arg);
                width = MAX(width, (int) strlen(left[i]));
        }

        printf("%s [OPTIONS...]\n\n"
               "Owns the host cgroups of VM sandboxes and serves sandboxcg.v1 over ttrpc.\n\n"
               "  -h %-*s Show this help\n"
               "     %-*s Show the package version\n"
               "     %-*s Read PATH instead of %s\n",
               program_invocation_short_name, width, "--help", width, "--version", width, "--config PATH",
               CONFIG_FILE_DEFAULT);
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                printf("     %-*s %s (%s=)\n", width, left[i], options[i].help, options[i].key);
        printf("\nSettings given here override the configuration file (see sandboxcgd.conf(5)).\n"
               "SIGHUP re-reads the file; SIGTERM and SIGINT stop the daemon without touching sandboxes.\n");
}

static int add_override(const Option *o, const char *value)
{
        if (strchr(value, '\n'))
                return -EINVAL;
        char *s = NULL;
        if (asprintf(&s, "%s[%s]\n%s=%s\n", strempty(arg_overrides), o->section, o->key, value) < 0)
                return -ENOMEM;
        free(arg_overrides);
        arg_overrides = s;
        return 0;
}

static int parse_argv(int argc, char *argv[])
{
        struct option longopts[ELEMENTSOF(options) + 4] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, ARG_CONFIG },
        };
        size_t n = 3;
        int c;

        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                longopts[n++] = (struct option){ options[i].name, required_argument, NULL,
                                                 ARG_FIRST_SETTING + (int) i };
        longopts[n] = (struct option){};

        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("sandboxcgd %s (API %s)\n", PACKAGE_VERSION, SANDBOXCG_API_VERSION);
                        return 0;
                case ARG_CONFIG:
                        arg_config = optarg;
                        arg_config_given = true;
                        break;
                case '?':
                        return -EINVAL;
                default: {
                        const Option *o = &options[c - ARG_FIRST_SETTING];
                        int r = add_override(o, optarg);
                        if (r < 0) {
                                fprintf(stderr, "Invalid value for --%s\n", o->name);
                                return r;
                        }
                        break;
                }
                }
        }
        if (optind < argc) {
                fprintf(stderr, "%s takes no positional arguments\n", program_invocation_short_name);
                return -EINVAL;
        }
        return 1;
}

/* Defaults, then the file (which must exist if named with --config), then
 * the command line. */
static int load_config(Config *ret)
{
        Config c;
        Error e = {};
        int r;

        r = config_init(&c);
        if (r < 0)
                return log_error_errno(r, "Failed to initialize configuration: %m");
        r = config_parse_file(&c, arg_config, !arg_config_given, &e);
        if (r >= 0 && arg_overrides)
                r = config_parse_string(&c, arg_overrides, "command line", &e);
        if (r < 0) {
                config_done(&c);
                if (error_is_set(&e))
                        return log_error_errno(r, "%s", e.message);
                return log_error_errno(r, "Failed to read %s: %m", arg_config);
        }
        *ret = c;
        return 0;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;
        Config c;

        (void) sd_notify(false, "RELOADING=1");
        if (load_config(&c) < 0)
                log_warning("Keeping the previous configuration");
        else {
                (void) manager_reload(m, &c);
                config_done(&c);
        }
        (void) sd_notify(false, "READY=1");
        return 0;
}

static int run(int argc, char *argv[])
{
        _cleanup_(manager_freep) Manager *m = NULL;
        Config c;
        int r;

        log_setup();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        r = load_config(&c);
        if (r < 0)
                return r;
        log_set_max_level(c.log_level);

        r = manager_new(&c, &m);
        if (r < 0) {
                config_done(&c);
                return log_error_errno(r, "Failed to allocate manager: %m");
        }

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_reload, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");

        r = manager_start(m);
        if (r < 0)
                return r;

        (void) sd_notify(false, "READY=1\nSTATUS=Serving sandboxcg.v1");
        log_info("sandboxcgd %s ready", PACKAGE_VERSION);

        r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        log_info("Stopping; sandboxes and their cgroups are left as they are");
        return 0;
}

int main(int argc, char *argv[])
{
        int r = run(argc, argv);
        free(arg_overrides);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
