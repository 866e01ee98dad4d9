/* catalog.c — rule catalogs: read, verify, hash, and the set of versions selected by time.
 *
 * Owns: reading one catalog file, the optional detached Ed25519 signature over the file bytes,
 * the SHA-256 of the canonical JSON form, the set of loaded versions (sorted; overlapping
 * windows per catalog id refused; all-or-nothing loads) and selection by transfer time. The
 * field rules are compiled by compile.c, profiles and versions read by versions.c.
 * Never: reads the public key file (the adapter reads it and hands over its bytes:
 * xb_catalog_store_load), reads any file but the catalog and its .sig, or changes a set on
 * failure (the catalog in force stays in force).
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/policy/detect.h"
#include "adapter/policy/internal.h"
#include "adapter/yaml_tree.h"
#include "iso20022/write.h"

#define MAX_CATALOG_BYTES (4u * 1024u * 1024u)

int pol_oom(xb_error *err)
{
    return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
}

/* A catalog error that names the key (err->path) and says what was expected. */
int pol_cfg(xb_error *err, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xb_error_set(err, XB_ECONFIG, path, "%s", msg);
}

/* ---- file lifetime ---------------------------------------------------------------------- */

void pol_free_node(pol_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        pol_free_node(n->kids[i]);
    free(n->kids);
    free(n->kid_hash);
    free(n->slot);
    free(n->anchor_role);
    free(n->local);
    free(n);
}

void pol_free_file(pol_file *f)
{
    if (!f || --f->refs > 0)
        return;
    free(f->id);
    json_decref(f->tree);
    for (size_t i = 0; i < f->nns; i++)
        free(f->ns_intern[i]);
    free(f->ns_intern);
    for (size_t i = 0; i < f->nclasses; i++)
        free(f->classes[i].name);
    free(f->classes);
    for (size_t i = 0; i < f->nmaps; i++)
        pol_free_node(f->maps[i].root);
    free(f->maps);
    for (size_t i = 0; i < f->nrules; i++) {
        free(f->rules[i]->id);
        free(f->rules[i]->role);
        free(f->rules[i]->placeholder);
        free(f->rules[i]);
    }
    free(f->rules);
    for (size_t i = 0; i < f->nprofiles; i++) {
        free(f->profiles[i].name);
        for (size_t k = 0; k < f->profiles[i].nby; k++)
            free(f->profiles[i].by[k].key);
        free(f->profiles[i].by);
        free(f->profiles[i].by_rule);
    }
    free(f->profiles);
    xb_detect_words_free(f->secret_ix);
    for (size_t i = 0; f->secret_words && f->secret_words[i]; i++)
        free(f->secret_words[i]);
    free(f->secret_words);
    free(f);
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void pol_free_catalog(xb_policy_catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nscenarios; i++) {
        free(c->scenarios[i].id);
        free(c->scenarios[i].guideline);
        free_strv(c->scenarios[i].messages, c->scenarios[i].nmessages);
    }
    free(c->scenarios);
    free_strv(c->important, c->nimportant);
    free_strv(c->core, c->ncore);
    free_strv(c->negative, c->nnegative);
    free(c->version);
    pol_free_file(c->file);
    free(c);
}

/* ---- reading, verifying, hashing ---------------------------------------------------------- */

/* The Ed25519 public key from its PEM bytes (the adapter reads the file: see
 * xb_catalog_store_read_pubkey); NULL when they are not one. */
static EVP_PKEY *pubkey_from_pem(const uint8_t *pem, size_t len)
{
    if (!pem || !len || len > INT32_MAX)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (key && EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    return key;
}

static int verify_signature(const xb_buf *data, const char *path,
                            const xb_policy_catalog_opts *opts, xb_error *err)
{
    char sig_path[1024];
    xb_buf sig = XB_BUF_INIT;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    int rc = 0;
    const char *key_name = opts->pubkey_path ? opts->pubkey_path : "(given as bytes)";
    snprintf(sig_path, sizeof sig_path, "%s.sig", path);
    if (xb_buf_read_file(&sig, sig_path, 4096)) {
        rc = xb_error_set(err, XB_ECRYPTO, sig_path,
                          "catalog %s: signature %s missing or unreadable (signing is required)",
                          path, sig_path);
        goto out;
    }
    /* A path without bytes is refused like a bad key: the adapter reads the key file
     * (xb_catalog_store_load), this engine never does. */
    if (!(key = pubkey_from_pem(opts->pubkey_pem, opts->pubkey_pem_len))) {
        rc = xb_error_set(err, XB_ECRYPTO, key_name,
                          "catalog public key %s: not a readable PEM Ed25519 public key", key_name);
        goto out;
    }
    if (sig.len != 64 || !(md = EVP_MD_CTX_new()) ||
        EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestVerify(md, (const unsigned char *)sig.data, sig.len,
                         (const unsigned char *)data->data, data->len) != 1)
        rc = xb_error_set(err, XB_ECRYPTO, sig_path,
                          "catalog %s: Ed25519 signature does not verify; catalog refused", path);
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    xb_buf_free(&sig);
    return rc;
}

static int hash_canonical(pol_file *f, xb_error *err)
{
    char *canon = xb_yaml_canonical(f->tree);
    unsigned char md[32];
    unsigned mdlen = 0;
    if (!canon)
        return pol_oom(err);
    int ok = EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL);
    free(canon);
    if (ok != 1)
        return xb_error_set(err, XB_ECRYPTO, NULL, "SHA-256 failed");
    xb_hex(f->sha256, md, 32);
    return 0;
}

static const char *const top_keys[] = {"catalog_id",   "title",    "sources",  "namespaces",
                                       "classes",      "groups",   "messages", "profiles",
                                       "secret_words", "versions", "note",     NULL};

static int load_file(pol_file **out, const char *path, const xb_policy_catalog_opts *opts,
                     xb_error *err)
{
    xb_buf data = XB_BUF_INIT;
    pol_file *f = NULL;
    const char *id = NULL;
    int rc = xb_buf_read_file(&data, path, MAX_CATALOG_BYTES);
    if (rc) {
        rc = xb_error_set(err, rc == XB_ELIMIT ? XB_ELIMIT : XB_ECONFIG, path,
                          "catalog %s: cannot read (missing, unreadable or over 4 MiB)", path);
        goto out;
    }
    /* Verify the exact bytes we then parse: no window between check and use. */
    if (opts && (opts->pubkey_pem || opts->pubkey_path) &&
        (rc = verify_signature(&data, path, opts, err)))
        goto out;
    if (!(f = calloc(1, sizeof *f))) {
        rc = pol_oom(err);
        goto out;
    }
    f->refs = 1;
    if ((rc = xb_yaml_load_buffer(&f->tree, data.data, data.len, path, err)))
        goto out;
    if (!json_is_object(f->tree)) {
        rc = pol_cfg(err, path, "catalog %s: expected a mapping at the top", path);
        goto out;
    }
    if ((rc = xb_yaml_only_keys(f->tree, top_keys, "", err)) ||
        (rc = xb_yaml_str(&id, f->tree, "catalog_id", "", err)))
        goto out;
    if (!(f->id = strdup(id))) {
        rc = pol_oom(err);
        goto out;
    }
    if ((rc = hash_canonical(f, err)) || (rc = pol_load_classes(f, err)) ||
        (rc = pol_load_messages(f, err)) || (rc = pol_load_profiles(f, err)) ||
        (rc = pol_load_secret_words(f, err)) || (rc = pol_resolve_profiles(f, err)))
        goto out;
out:
    xb_buf_free(&data);
    if (rc) {
        pol_free_file(f);
        return rc;
    }
    *out = f;
    return 0;
}

/* ---- the set ------------------------------------------------------------------------------ */

int xb_policy_catalog_set_new(xb_policy_catalog_set **out, xb_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : pol_oom(err);
}

void xb_policy_catalog_set_free(xb_policy_catalog_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        pol_free_catalog(set->v[i]);
    free(set->v);
    free(set);
}

static bool overlaps(const xb_policy_catalog *a, const xb_policy_catalog *b)
{
    return !strcmp(a->file->id, b->file->id) && a->from < b->to && b->from < a->to;
}

static int by_id_from(const void *x, const void *y)
{
    const xb_policy_catalog *a = *(xb_policy_catalog *const *)x;
    const xb_policy_catalog *b = *(xb_policy_catalog *const *)y;
    int c = strcmp(a->file->id, b->file->id);
    return c ? c : (a->from > b->from) - (a->from < b->from);
}

static int check_overlaps(xb_policy_catalog **fresh, size_t n, const xb_policy_catalog_set *set,
                          const char *path, xb_error *err)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = i + 1; k < n; k++)
            if (overlaps(fresh[i], fresh[k]))
                return xb_error_set(err, XB_ECONFIG, path,
                                    "catalog %s: versions %s and %s of %s overlap in time", path,
                                    fresh[i]->version, fresh[k]->version, fresh[i]->file->id);
        for (size_t k = 0; k < set->n; k++)
            if (overlaps(fresh[i], set->v[k]))
                return xb_error_set(err, XB_ECONFIG, path,
                                    "catalog %s: version %s of %s overlaps loaded version %s", path,
                                    fresh[i]->version, fresh[i]->file->id, set->v[k]->version);
    }
    return 0;
}

int xb_policy_catalog_set_load(xb_policy_catalog_set *set, const char *path,
                               const xb_policy_catalog_opts *opts, xb_error *err)
{
    pol_file *f = NULL;
    int rc = load_file(&f, path, opts, err);
    if (rc)
        return rc;
    const json_t *versions = NULL;
    xb_policy_catalog **fresh = NULL;
    size_t n = 0;
    if ((rc = xb_yaml_array_opt(&versions, f->tree, "versions", "", err)))
        goto fail;
    if (!versions || !json_array_size(versions)) {
        rc = pol_cfg(err, "versions", "catalog %s: no versions", path);
        goto fail;
    }
    if (!(fresh = calloc(json_array_size(versions), sizeof *fresh))) {
        rc = pol_oom(err);
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(versions); i++) {
        char where[64];
        snprintf(where, sizeof where, "versions[%zu]", i);
        if ((rc = pol_load_version(&fresh[n], f, json_array_get(versions, i), where, err)))
            goto fail;
        n++;
    }
    if ((rc = check_overlaps(fresh, n, set, path, err)))
        goto fail;
    xb_policy_catalog **v = realloc(set->v, (set->n + n) * sizeof *v);
    if (!v) {
        rc = pol_oom(err);
        goto fail;
    }
    memcpy(v + set->n, fresh, n * sizeof *fresh);
    set->v = v;
    set->n += n;
    qsort(set->v, set->n, sizeof *set->v, by_id_from);
    free(fresh);
    pol_free_file(f); /* the versions hold their own references */
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        pol_free_catalog(fresh[i]);
    free(fresh);
    pol_free_file(f);
    return rc;
}

int xb_policy_catalog_select(const xb_policy_catalog **out, const xb_policy_catalog_set *set,
                             const char *catalog_id, int64_t t, xb_error *err)
{
    *out = NULL;
    const char *only = NULL;
    for (size_t i = 0; i < set->n && !catalog_id; i++) {
        if (only && strcmp(only, set->v[i]->file->id))
            return xb_error_set(err, XB_ECONFIG, NULL,
                                "several catalogs loaded (%s, %s): the destination must name one",
                                only, set->v[i]->file->id);
        only = set->v[i]->file->id;
    }
    const char *id = catalog_id ? catalog_id : only;
    /* Versions of one id are sorted by effective_from and never overlap. */
    for (size_t i = 0; id && i < set->n; i++) {
        const xb_policy_catalog *c = set->v[i];
        if (!strcmp(c->file->id, id) && c->from <= t && t < c->to) {
            *out = c;
            return 0;
        }
    }
    char when[40];
    return xb_error_set(err, XB_ENOTFOUND, NULL, "no version of catalog %s in force at %s",
                        id ? id : "(none loaded)", xb_policy_format_time(when, sizeof when, t));
}

const char *xb_policy_catalog_id(const xb_policy_catalog *c)
{
    return c->file->id;
}

const char *xb_policy_catalog_version(const xb_policy_catalog *c)
{
    return c->version;
}

const char *xb_policy_catalog_sha256(const xb_policy_catalog *c)
{
    return c->file->sha256;
}

int64_t xb_policy_catalog_effective_from(const xb_policy_catalog *c)
{
    return c->from;
}

int64_t xb_policy_catalog_effective_to(const xb_policy_catalog *c)
{
    return c->to;
}

size_t xb_policy_catalog_set_count(const xb_policy_catalog_set *set)
{
    return set->n;
}

const pol_msgmap *pol_catalog_map(const xb_policy_catalog *cat, const char *ns)
{
    for (size_t i = 0; ns && i < cat->file->nmaps; i++)
        if (!strcmp(cat->file->maps[i].ns, ns))
            return &cat->file->maps[i];
    return NULL;
}

const pol_scenario *pol_catalog_scenario(const xb_policy_catalog *cat, const char *id)
{
    for (size_t i = 0; id && i < cat->nscenarios; i++)
        if (!strcmp(cat->scenarios[i].id, id))
            return &cat->scenarios[i];
    return NULL;
}

bool pol_catalog_listed(char *const *list, size_t n, const pol_rule *r)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], r->id) || !strcmp(list[i], r->cls->name))
            return true;
    return false;
}

void xb_policy_catalog_thresholds(xb_policy_thresholds *out, const xb_policy_catalog *cat)
{
    out->scc_pi = cat->thr.scc_pi;
    out->sa_pi = cat->thr.sa_pi;
    out->scc_spi = cat->thr.scc_spi;
    out->sa_spi = cat->thr.sa_spi;
}
