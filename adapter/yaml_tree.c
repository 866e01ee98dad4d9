/* yaml_tree.c — YAML (libyaml events) into a jansson tree; typed getters naming the exact key.
 *
 * Owns: the event-to-tree builder and the getters. Every scalar stays a string so that decimal
 * values never pass through a binary float.
 * Never: follows aliases, honours tags, or reads anything but the one file it is given.
 */
#include "adapter/yaml_tree.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "iso20022/buf.h"

#define XB_YAML_MAX_BYTES (16u * 1024u * 1024u)
#define XB_YAML_MAX_DEPTH 64

typedef struct builder {
    yaml_parser_t parser;
    const char *name;
    xb_error *err;
    int depth;
} builder;

static int build_node(json_t **out, builder *b, yaml_event_t *ev);

static int event_error(builder *b, const yaml_event_t *ev, const char *what)
{
    return xb_error_set(b->err, XB_ECONFIG, NULL, "%s:%zu:%zu: %s", b->name,
                        ev->start_mark.line + 1, ev->start_mark.column + 1, what);
}

static int next_event(builder *b, yaml_event_t *ev)
{
    if (yaml_parser_parse(&b->parser, ev))
        return 0;
    return xb_error_set(b->err, XB_ECONFIG, NULL, "%s:%zu:%zu: YAML syntax error: %s", b->name,
                        b->parser.problem_mark.line + 1, b->parser.problem_mark.column + 1,
                        b->parser.problem ? b->parser.problem : "unknown");
}

static int is_plain_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)ev->data.scalar.value;
    return ev->data.scalar.length == 0 || !strcmp(v, "~") || !strcmp(v, "null") ||
           !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int build_scalar(json_t **out, builder *b, yaml_event_t *ev)
{
    if (ev->data.scalar.tag && ev->data.scalar.plain_implicit == 0 &&
        ev->data.scalar.quoted_implicit == 0)
        return event_error(b, ev, "YAML tags are not supported in xborder files");
    if (ev->data.scalar.anchor)
        return event_error(b, ev, "YAML anchors are not supported in xborder files");
    if (is_plain_null(ev)) {
        *out = json_null();
        return 0;
    }
    *out = json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
    if (!*out)
        return event_error(b, ev, "scalar is not valid UTF-8");
    return 0;
}

static int build_sequence(json_t **out, builder *b)
{
    json_t *arr = json_array();
    if (!arr)
        return xb_error_set(b->err, XB_ENOMEM, NULL, "out of memory");
    for (;;) {
        yaml_event_t ev;
        if (next_event(b, &ev)) {
            json_decref(arr);
            return b->err ? b->err->code : XB_ECONFIG;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        json_t *item = NULL;
        int rc = build_node(&item, b, &ev);
        yaml_event_delete(&ev);
        if (rc || json_array_append_new(arr, item)) {
            json_decref(arr);
            return rc ? rc : xb_error_set(b->err, XB_ENOMEM, NULL, "out of memory");
        }
    }
    *out = arr;
    return 0;
}

static int build_mapping_entry(json_t *obj, builder *b, yaml_event_t *key_ev)
{
    if (key_ev->type != YAML_SCALAR_EVENT)
        return event_error(b, key_ev, "mapping keys must be plain scalars");
    char *key = strndup((const char *)key_ev->data.scalar.value, key_ev->data.scalar.length);
    if (!key)
        return xb_error_set(b->err, XB_ENOMEM, NULL, "out of memory");
    int rc = 0;
    if (json_object_get(obj, key)) {
        char msg[300];
        snprintf(msg, sizeof msg, "duplicate key '%.200s'", key);
        rc = event_error(b, key_ev, msg);
    }
    yaml_event_t val_ev;
    if (!rc && (rc = next_event(b, &val_ev)) == 0) {
        json_t *val = NULL;
        rc = build_node(&val, b, &val_ev);
        yaml_event_delete(&val_ev);
        if (!rc && json_object_set_new(obj, key, val))
            rc = xb_error_set(b->err, XB_ENOMEM, NULL, "out of memory");
    }
    free(key);
    return rc;
}

static int build_mapping(json_t **out, builder *b)
{
    json_t *obj = json_object();
    if (!obj)
        return xb_error_set(b->err, XB_ENOMEM, NULL, "out of memory");
    for (;;) {
        yaml_event_t ev;
        if (next_event(b, &ev)) {
            json_decref(obj);
            return b->err ? b->err->code : XB_ECONFIG;
        }
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        int rc = build_mapping_entry(obj, b, &ev);
        yaml_event_delete(&ev);
        if (rc) {
            json_decref(obj);
            return rc;
        }
    }
    *out = obj;
    return 0;
}

static int build_node(json_t **out, builder *b, yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return build_scalar(out, b, ev);
    case YAML_ALIAS_EVENT:
        return event_error(b, ev, "YAML aliases are not supported in xborder files");
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        const yaml_char_t *anchor = ev->type == YAML_SEQUENCE_START_EVENT
                                        ? ev->data.sequence_start.anchor
                                        : ev->data.mapping_start.anchor;
        if (anchor)
            return event_error(b, ev, "YAML anchors are not supported in xborder files");
        if (++b->depth > XB_YAML_MAX_DEPTH)
            return event_error(b, ev, "nesting deeper than 64 levels");
        int rc =
            ev->type == YAML_SEQUENCE_START_EVENT ? build_sequence(out, b) : build_mapping(out, b);
        b->depth--;
        return rc;
    }
    default:
        return event_error(b, ev, "unexpected YAML event");
    }
}

/* Skips stream/document start, builds the root node, and refuses a second document. */
static int build_document(json_t **out, builder *b)
{
    yaml_event_t ev;
    json_t *root = NULL;
    int rc = 0;
    while (!rc && !root) {
        if ((rc = next_event(b, &ev)))
            break;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            /* an empty file is an empty mapping; the stream has ended, so return now: libyaml
             * answers every later parse with YAML_NO_EVENT, and waiting for a second
             * STREAM_END would spin forever (found by tests/fuzz/fuzz_catalog) */
            *out = json_object();
            return *out ? 0 : xb_error_set(b->err, XB_ENOMEM, NULL, "out of memory");
        }
        if (ev.type != YAML_STREAM_START_EVENT && ev.type != YAML_DOCUMENT_START_EVENT)
            rc = build_node(&root, b, &ev);
        yaml_event_delete(&ev);
    }
    if (rc)
        return rc;
    while (!rc) {
        if ((rc = next_event(b, &ev)))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_DOCUMENT_START_EVENT)
            rc = event_error(b, &ev, "only one YAML document per file");
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT || t == YAML_NO_EVENT)
            break;
    }
    if (rc) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

int xb_yaml_load_buffer(json_t **out, const char *buf, size_t len, const char *name, xb_error *err)
{
    builder b = {.name = name ? name : "<buffer>", .err = err};
    if (!yaml_parser_initialize(&b.parser))
        return xb_error_set(err, XB_ENOMEM, NULL, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)buf, len);
    int rc = build_document(out, &b);
    yaml_parser_delete(&b.parser);
    return rc;
}

int xb_yaml_load_file(json_t **out, const char *path, xb_error *err)
{
    xb_buf data = XB_BUF_INIT;
    int rc = xb_buf_read_file(&data, path, XB_YAML_MAX_BYTES);
    if (rc == XB_ELIMIT)
        rc = xb_error_set(err, XB_ECONFIG, NULL, "%s: larger than 16 MiB", path);
    else if (rc)
        rc = xb_error_set(
            err, XB_EIO, NULL,
            "%s: cannot read: %s (check the path, and that the user running xborder may read it)",
            path, strerror(errno));
    else
        rc = xb_yaml_load_buffer(out, data.data, data.len, path, err);
    xb_buf_free(&data);
    return rc;
}

char *xb_yaml_canonical(const json_t *tree)
{
    return json_dumps(tree, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- typed getters ------------------------------------------------------------------------ */

static void key_path(char *buf, size_t cap, const char *where, const char *key)
{
    if (where && *where)
        snprintf(buf, cap, "%s.%s", where, key);
    else
        snprintf(buf, cap, "%s", key);
}

static int wrong_type(const char *where, const char *key, const char *expected, xb_error *err)
{
    char path[512];
    key_path(path, sizeof path, where, key);
    return xb_error_set(err, XB_ECONFIG, path, "%s: expected %s", path, expected);
}

int xb_yaml_str_opt(const char **out, const json_t *obj, const char *key, const char *where,
                    xb_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return wrong_type(where, key, "a string", err);
    *out = json_string_value(v);
    return 0;
}

int xb_yaml_str(const char **out, const json_t *obj, const char *key, const char *where,
                xb_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        char path[512];
        key_path(path, sizeof path, where, key);
        return xb_error_set(err, XB_ECONFIG, path, "%s: required key is missing", path);
    }
    return xb_yaml_str_opt(out, obj, key, where, err);
}

static int parse_int(int64_t *out, const char *s)
{
    if (!*s)
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int xb_yaml_int_opt(int64_t *out, const json_t *obj, const char *key, const char *where,
                    xb_error *err)
{
    const char *s = NULL;
    int rc = xb_yaml_str_opt(&s, obj, key, where, err);
    if (rc || !s)
        return rc;
    if (parse_int(out, s))
        return wrong_type(where, key, "a whole number", err);
    return 0;
}

int xb_yaml_int(int64_t *out, const json_t *obj, const char *key, const char *where, xb_error *err)
{
    const char *s = NULL;
    int rc = xb_yaml_str(&s, obj, key, where, err);
    if (rc)
        return rc;
    if (parse_int(out, s))
        return wrong_type(where, key, "a whole number", err);
    return 0;
}

int xb_yaml_bool_opt(bool *out, const json_t *obj, const char *key, const char *where,
                     xb_error *err)
{
    const char *s = NULL;
    int rc = xb_yaml_str_opt(&s, obj, key, where, err);
    if (rc || !s)
        return rc;
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
        *out = false;
    else
        return wrong_type(where, key, "true or false", err);
    return 0;
}

int xb_yaml_array_opt(const json_t **out, const json_t *obj, const char *key, const char *where,
                      xb_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return wrong_type(where, key, "a list", err);
    *out = v;
    return 0;
}

int xb_yaml_object_opt(const json_t **out, const json_t *obj, const char *key, const char *where,
                       xb_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return wrong_type(where, key, "a mapping", err);
    *out = v;
    return 0;
}

int xb_yaml_only_keys(const json_t *obj, const char *const *allowed, const char *where,
                      xb_error *err)
{
    const char *key;
    json_t *value;
    json_t *mutable_obj = (json_t *)(uintptr_t)obj; /* jansson's iterator API is not const */
    json_object_foreach(mutable_obj, key, value)
    {
        int known = 0;
        for (const char *const *a = allowed; *a && !known; a++)
            known = !strcmp(*a, key);
        if (!known) {
            char path[512];
            key_path(path, sizeof path, where, key);
            return xb_error_set(err, XB_ECONFIG, path, "%s: unknown key (check the spelling)",
                                path);
        }
    }
    return 0;
}
