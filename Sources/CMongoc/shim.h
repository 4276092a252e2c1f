// Bridges libmongoc/libbson 1.23 (Debian's libmongoc-dev, libbson-dev) into Swift.
#ifndef CONVEYOR_CMONGOC_SHIM_H
#define CONVEYOR_CMONGOC_SHIM_H
#include <mongoc/mongoc.h>
#include <bson/bson.h>

// bson_error_t's message is a char[504], which Swift sees as a 504-element tuple.
static inline const char *conveyor_bson_error_message(const bson_error_t *error) { return error->message; }

// bson_t is 128-byte aligned, so Swift only sees `bson_t *` as an opaque pointer: read its length here.
static inline uint32_t conveyor_bson_length(const bson_t *bson) { return bson->len; }
#endif
