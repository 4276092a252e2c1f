// Bridges hiredis (Debian's libhiredis-dev, 0.14) into Swift.
#ifndef CONVEYOR_CHIREDIS_SHIM_H
#define CONVEYOR_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <sys/time.h>

// redisCommand is variadic; Swift calls the argv form. These wrappers expose the
// pieces of redisContext and redisReply that Swift reads without touching layout.
static inline int conveyor_redis_err(const redisContext *c) { return c->err; }
static inline const char *conveyor_redis_errstr(const redisContext *c) { return c->errstr; }
static inline int conveyor_redis_fd(const redisContext *c) { return c->fd; }

static inline int conveyor_redis_set_timeout_ms(redisContext *c, long ms) {
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return redisSetTimeout(c, tv);
}

static inline redisContext *conveyor_redis_connect_tcp(const char *host, int port, long timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return redisConnectWithTimeout(host, port, tv);
}

static inline redisContext *conveyor_redis_connect_unix(const char *path, long timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return redisConnectUnixWithTimeout(path, tv);
}

#endif
