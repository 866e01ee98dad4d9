/* schema.c — XSD validation of AppHdr and Document subtrees with cached compiled schemas.
 *
 * Owns: one compiled xmlSchema per supported definition, compiled lazily once per process under
 * a mutex; one validation context per definition per thread (created on first use, freed at
 * thread exit); the schema directory (XB_SCHEMA_DIR, else XB_SCHEMA_DIR_DEFAULT).
 * Never: fetches anything over the network (the external entity loader is libxml2's no-network
 * one, and the XSDs are local single files), validates the wrapper, or changes the tree.
 */
#include "iso20022/schema.h"

#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlschemas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef XB_SCHEMA_DIR_DEFAULT
#define XB_SCHEMA_DIR_DEFAULT "iso20022/schemas"
#endif

#define MAX_DEFS 32

typedef struct compiled {
    int tried; /* compile attempted (success or not): never retried per message */
    xmlSchemaPtr schema;
    char error[256]; /* why compiling failed */
} compiled;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static compiled cache[MAX_DEFS];
/* Bumped by xb_schema_cleanup so that threads drop validation contexts of freed schemas. */
static unsigned cache_generation;

typedef struct thread_ctxts {
    unsigned generation;
    xmlSchemaValidCtxtPtr v[MAX_DEFS];
} thread_ctxts;

static __thread thread_ctxts *tl_ctxts;
static pthread_key_t ctxts_key;
static pthread_once_t ctxts_once = PTHREAD_ONCE_INIT;

static void free_thread_ctxts(void *p)
{
    thread_ctxts *t = p;
    if (!t)
        return;
    for (int i = 0; i < MAX_DEFS; i++)
        xmlSchemaFreeValidCtxt(t->v[i]);
    free(t);
}

static void init_once(void)
{
    xmlInitParser();
    /* Process-wide: no XML read by xborder may ever reach the network. */
    xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
    (void)pthread_key_create(&ctxts_key, free_thread_ctxts);
}

const char *xb_schema_dir(void)
{
    const char *env = getenv("XB_SCHEMA_DIR");
    if (env && *env)
        return env;
#ifdef XB_SCHEMA_DIR_INSTALLED
    /* An installed binary whose build tree is gone uses the copy `cmake --install` put in place. */
    if (access(XB_SCHEMA_DIR_DEFAULT, R_OK) != 0 && access(XB_SCHEMA_DIR_INSTALLED, R_OK) == 0)
        return XB_SCHEMA_DIR_INSTALLED;
#endif
    return XB_SCHEMA_DIR_DEFAULT;
}

static int def_index(const xb_definition *def)
{
    unsigned n = 0;
    const xb_definition *all = xb_registry_all(&n);
    if (def < all || def >= all + n || n > MAX_DEFS)
        return -1;
    return (int)(def - all);
}

/* Schema-compiler diagnostics: keep the first error for the ECONFIG message. */
static void on_compile_error(void *user, xmlErrorPtr e)
{
    compiled *c = user;
    if (!e || e->level < XML_ERR_ERROR || c->error[0])
        return;
    snprintf(c->error, sizeof c->error, "%s", e->message ? e->message : "unknown error");
    c->error[strcspn(c->error, "\n")] = '\0';
}

static void compile_locked(compiled *c, const xb_definition *def)
{
    char path[1024];
    c->tried = 1;
    snprintf(path, sizeof path, "%s/%s", xb_schema_dir(), def->xsd);
    xmlSchemaParserCtxtPtr pctxt = xmlSchemaNewParserCtxt(path);
    if (!pctxt) {
        snprintf(c->error, sizeof c->error, "out of memory");
        return;
    }
    xmlSchemaSetParserStructuredErrors(pctxt, on_compile_error, c);
    c->schema = xmlSchemaParse(pctxt);
    xmlSchemaFreeParserCtxt(pctxt);
    if (!c->schema && !c->error[0])
        snprintf(c->error, sizeof c->error, "cannot read %.200s", path);
}

static int get_schema(xmlSchemaPtr *out, const xb_definition *def, int idx, xb_error *err)
{
    pthread_mutex_lock(&cache_lock);
    compiled *c = &cache[idx];
    if (!c->tried)
        compile_locked(c, def);
    *out = c->schema;
    int rc = 0;
    if (!c->schema)
        rc = xb_error_set(err, XB_ECONFIG, NULL,
                          "cannot compile schema %s from %s (set XB_SCHEMA_DIR): %s", def->xsd,
                          xb_schema_dir(), c->error);
    pthread_mutex_unlock(&cache_lock);
    return rc;
}

static thread_ctxts *thread_state(void)
{
    pthread_once(&ctxts_once, init_once);
    if (!tl_ctxts) {
        tl_ctxts = calloc(1, sizeof *tl_ctxts);
        if (!tl_ctxts)
            return NULL;
        (void)pthread_setspecific(ctxts_key, tl_ctxts);
    }
    pthread_mutex_lock(&cache_lock);
    unsigned gen = cache_generation;
    pthread_mutex_unlock(&cache_lock);
    if (tl_ctxts->generation != gen) {
        for (int i = 0; i < MAX_DEFS; i++) {
            xmlSchemaFreeValidCtxt(tl_ctxts->v[i]);
            tl_ctxts->v[i] = NULL;
        }
        tl_ctxts->generation = gen;
    }
    return tl_ctxts;
}

/* What one validation run found first. */
typedef struct capture {
    int have;
    xmlNodePtr node;
    int line;
    char message[400];
} capture;

/* Removes "{namespace}" from libxml2's messages: the path already says where we are, and the
 * namespace would push the useful part out of the 512-byte message. */
static void strip_namespaces(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (*r == '{') {
            /* only "{uri}" groups: "{8}" in a quoted pattern is not a namespace */
            const char *close = strchr(r, '}');
            const char *colon = strchr(r, ':');
            if (close && colon && colon < close) {
                r = close + 1;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static void on_validation_error(void *user, xmlErrorPtr e)
{
    capture *cap = user;
    if (!e || e->level < XML_ERR_ERROR || cap->have)
        return;
    cap->have = 1;
    cap->node = e->node;
    cap->line = e->line;
    snprintf(cap->message, sizeof cap->message, "%s", e->message ? e->message : "invalid");
    strip_namespaces(cap->message);
}

int xb_schema_validate_node(const xb_definition *def, xmlNodePtr node, xb_error *err)
{
    if (!def || !node)
        return xb_error_set(err, XB_EINVAL, NULL, "nothing to validate");
    int idx = def_index(def);
    if (idx < 0)
        return xb_error_set(err, XB_EINVAL, NULL, "definition %s is not in the registry", def->id);
    thread_ctxts *t = thread_state();
    if (!t)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    xmlSchemaPtr schema = NULL;
    int rc = get_schema(&schema, def, idx, err);
    if (rc)
        return rc;
    if (!t->v[idx]) {
        t->v[idx] = xmlSchemaNewValidCtxt(schema);
        if (!t->v[idx])
            return xb_error_set(err, XB_ENOMEM, NULL, "cannot create a validation context");
    }
    capture cap = {0};
    xmlSchemaSetValidStructuredErrors(t->v[idx], on_validation_error, &cap);
    int res = xmlSchemaValidateOneElement(t->v[idx], node);
    xmlSchemaSetValidStructuredErrors(t->v[idx], NULL, NULL);
    if (res == 0)
        return 0;
    char path[512];
    xb_msg_node_path(cap.node ? cap.node : node, path, sizeof path);
    if (res < 0)
        return xb_error_set(err, XB_ESCHEMA, path, "%s: internal validation error %d", def->id,
                            res);
    return xb_error_set(err, XB_ESCHEMA, path, "%s",
                        cap.have ? cap.message : "schema validation failed");
}

int xb_schema_validate_msg(const xb_msg *msg, xb_error *err)
{
    if (!msg)
        return xb_error_set(err, XB_EINVAL, NULL, "no message");
    if (xb_msg_apphdr(msg)) {
        int rc = xb_schema_validate_node(xb_msg_hdr_definition(msg), xb_msg_apphdr(msg), err);
        if (rc)
            return rc;
    }
    return xb_schema_validate_node(xb_msg_definition(msg), xb_msg_document(msg), err);
}

void xb_schema_cleanup(void)
{
    pthread_once(&ctxts_once, init_once);
    if (tl_ctxts) {
        free_thread_ctxts(tl_ctxts);
        tl_ctxts = NULL;
        (void)pthread_setspecific(ctxts_key, NULL);
    }
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < MAX_DEFS; i++) {
        xmlSchemaFree(cache[i].schema);
        memset(&cache[i], 0, sizeof cache[i]);
    }
    cache_generation++;
    pthread_mutex_unlock(&cache_lock);
}
