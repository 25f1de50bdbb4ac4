/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "daemon/log.h"

static int max_level = LOG_INFO;
static bool use_journal;

static const char *const level_table[] = {
        [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",         [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",       [LOG_DEBUG] = "debug",
};

const char *log_level_to_string(int level)
{
        if (level < 0 || (size_t) level >= ELEMENTSOF(level_table))
                return NULL;
        return level_table[level];
}

int log_level_from_string(const char *s)
{
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_table); i++)
                if (streq(s, level_table[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

/* stderr goes to the journal when $JOURNAL_STREAM names its device and inode
 * (systemd.exec(5)); then structured fields are worth sending directly. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(void)
{
        use_journal = stderr_is_journal();
}

void log_set_max_level(int level)
{
        if (level >= LOG_EMERG && level <= LOG_DEBUG)
                max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

int log_internal(int level, int error, const char *sandbox_id, const char *func, const char *format, ...)
{
        char msg[2048];
        va_list ap;

        error = abs(error);
        if (level > max_level)
                return -error;

        /* %m prints the error we were given, not whatever errno holds. */
        int saved_errno = errno;
        errno = error;
        va_start(ap, format);
        (void) vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);
        errno = saved_errno;

        if (use_journal) {
                char message[2400], priority[16], func_field[128], errno_field[32], id_field[300];
                struct iovec iov[5];
                size_t n = 0;

                (void) snprintf(message, sizeof message, "MESSAGE=%s%s%s%s", sandbox_id ? "sandbox " : "",
                                strempty(sandbox_id), sandbox_id ? ": " : "", msg);
                iov[n++] = (struct iovec){ message, strlen(message) };
                (void) snprintf(priority, sizeof priority, "PRIORITY=%d", level);
                iov[n++] = (struct iovec){ priority, strlen(priority) };
                (void) snprintf(func_field, sizeof func_field, "CODE_FUNC=%s", func);
                iov[n++] = (struct iovec){ func_field, strlen(func_field) };
                if (error > 0) {
                        (void) snprintf(errno_field, sizeof errno_field, "ERRNO=%d", error);
                        iov[n++] = (struct iovec){ errno_field, strlen(errno_field) };
                }
                if (sandbox_id) {
                        (void) snprintf(id_field, sizeof id_field, "SANDBOX_ID=%s", sandbox_id);
                        iov[n++] = (struct iovec){ id_field, strlen(id_field) };
                }
                (void) sd_journal_sendv(iov, (int) n);
        } else if (sandbox_id)
                fprintf(stderr, "%s: sandbox %s: %s\n", log_level_to_string(level), sandbox_id, msg);
        else
                fprintf(stderr, "%s: %s\n", log_level_to_string(level), msg);
        return -error;
}
