// Bridges libmongoc/libbson 1.23 (Debian's libmongoc-dev, libbson-dev) into Swift.
#ifndef CONVEYOR_CMONGOC_SHIM_H
#define CONVEYOR_CMONGOC_SHIM_H
#include <mongoc/mongoc.h>
#include <bson/bson.h>
#endif
