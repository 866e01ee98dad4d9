/* yaml_tree.h — YAML files read into a jansson tree, the one YAML reader in xborder.
 *
 * Owns: turning a YAML document (libyaml) into json_t: mappings -> objects, sequences -> arrays,
 * every scalar -> a JSON string (so "0.0120" and "365" keep their exact text; callers convert).
 * A plain `null`/`~` or empty plain scalar becomes json null. Anchors/aliases and tags are refused
 * (a config has no need of them and aliases are a billion-laughs vector). Duplicate keys are
 * refused. Errors name the file, line and column.
 * Also: typed getters that report the exact dotted key on error ("destinations.hk.tls.ca").
 */
#ifndef XB_YAML_TREE_H
#define XB_YAML_TREE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "iso20022/error.h"

/* Reads and parses a YAML file (at most 16 MiB). On success *out is a new reference. */
int xb_yaml_load_file(json_t **out, const char *path, xb_error *err);
int xb_yaml_load_buffer(json_t **out, const char *buf, size_t len, const char *name, xb_error *err);

/* Canonical JSON (sorted keys, compact, UTF-8) of a tree: stable bytes for hashing. Caller frees.
 */
char *xb_yaml_canonical(const json_t *tree);

/* Typed access. `where` is the dotted key path of obj, used in error messages. Each returns 0, or
 * XB_ECONFIG with err->path = "<where>.<key>" and a message that says what was expected.
 * The *_opt variants leave *out untouched and return 0 when the key is absent or null. */
int xb_yaml_str(const char **out, const json_t *obj, const char *key, const char *where,
                xb_error *err);
int xb_yaml_str_opt(const char **out, const json_t *obj, const char *key, const char *where,
                    xb_error *err);
int xb_yaml_int(int64_t *out, const json_t *obj, const char *key, const char *where, xb_error *err);
int xb_yaml_int_opt(int64_t *out, const json_t *obj, const char *key, const char *where,
                    xb_error *err);
int xb_yaml_bool_opt(bool *out, const json_t *obj, const char *key, const char *where,
                     xb_error *err);
/* Arrays/objects: NULL-safe; return XB_ECONFIG when present but of the wrong shape. */
int xb_yaml_array_opt(const json_t **out, const json_t *obj, const char *key, const char *where,
                      xb_error *err);
int xb_yaml_object_opt(const json_t **out, const json_t *obj, const char *key, const char *where,
                       xb_error *err);
/* Refuses keys of obj that are not in the NULL-terminated `allowed` list (typos in config). */
int xb_yaml_only_keys(const json_t *obj, const char *const *allowed, const char *where,
                      xb_error *err);

#endif
