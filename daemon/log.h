/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging, for the top layers only (main, manager, server, dispatch): lower
 * layers return -errno and fill an Error instead.
 *
 * Lines go to the journal with structured fields (SANDBOX_ID=, ERRNO=) when
 * stderr is connected to it ($JOURNAL_STREAM), else to stderr with a
 * "<N>" priority prefix that journald and systemd understand. */

#include <syslog.h>

#include "common/macro.h"

void log_setup(void);
void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Returns -abs(error) (or 0 when error is 0), so that callers can write
 * "return log_error_errno(r, ...)". %m prints strerror(error). */
int log_internal(int level, int error, const char *sandbox_id, const char *func, const char *format, ...)
        _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal((level), (error), NULL, __func__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)
#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)

/* Lines about one sandbox carry its id: as "sandbox ID: " on stderr and as
 * SANDBOX_ID= in the journal. */
#define log_sandbox_full_errno(level, error, id, ...) log_internal((level), (error), (id), __func__, __VA_ARGS__)
#define log_sandbox_info(id, ...) log_sandbox_full_errno(LOG_INFO, 0, (id), __VA_ARGS__)
#define log_sandbox_warning_errno(id, error, ...) log_sandbox_full_errno(LOG_WARNING, (error), (id), __VA_ARGS__)
#define log_sandbox_error_errno(id, error, ...) log_sandbox_full_errno(LOG_ERR, (error), (id), __VA_ARGS__)
