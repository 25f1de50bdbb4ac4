/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers shared by the daemon, the client library and the tests:
 * cleanup attributes and ownership transfer in the style of systemd. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _pure_ __attribute__((pure))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define SWAP(a, b)                                 \
        do {                                       \
                __typeof__(a) _t_ = (a);           \
                (a) = (b);                         \
                (b) = _t_;                         \
        } while (0)

/* Take ownership of a pointer or fd, leaving the source empty. */
#define TAKE_PTR(p)                                \
        ({                                         \
                __typeof__(p) _ptr_ = (p);         \
                (p) = NULL;                        \
                _ptr_;                             \
        })
#define TAKE_FD(fd)                                \
        ({                                         \
                int _fd_ = (fd);                   \
                (fd) = -EBADF;                     \
                _fd_;                              \
        })

static inline void freep(void *p)
{
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd)
{
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d)
{
        if (*d)
                (void) closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Declare foop() that calls foo(*p) when *p is not NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)    \
        static inline void func##p(type *p)        \
        {                                          \
                if (*p)                            \
                        func(*p);                  \
        }

/* errno as a negative return value, never 0 (so a caller that forgot to set
 * errno still sees a failure). */
static inline int negative_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}

static inline const char *strna(const char *s)
{
        return s ? s : "n/a";
}

static inline const char *strempty(const char *s)
{
        return s ? s : "";
}

static inline int streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return __builtin_strcmp(a, b) == 0;
}
#define streq(a, b) (__builtin_strcmp((a), (b)) == 0)
