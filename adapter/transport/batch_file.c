/* batch_file.c — XML batch container, manifest and manifest signature (see batch_file.h).
 *
 * Owns: the container bytes and name, the manifest JSON, the detached signature text and their
 * verification. Never: touches files or the network, logs bodies or keys, or reads the clock
 * (the caller passes `created`), so a rebuilt batch is byte-identical.
 */
#include "adapter/transport/batch_file.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_ITEM (16u * 1024u * 1024u)
#define DEST_MAX 64

static const char SIG_PATH_SUFFIX[] = ".manifest.json";

/* ---- small helpers ----------------------------------------------------------------------- */

int xb_batch_key_valid(const char *key)
{
    if (!key || !*key || strlen(key) > XB_BATCH_KEY_MAX)
        return 0;
    for (const char *p = key; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    return 1;
}

/* Destination names end up in file names: letters, digits, '.', '_' and '-' only. */
static int dest_valid(const char *d)
{
    size_t n = d ? strlen(d) : 0;
    if (n == 0 || n > DEST_MAX || d[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        switch (*s) {
        case '&':
            n += 5; /* &amp; */
            break;
        case '<':
        case '>':
            n += 4; /* &lt; &gt; */
            break;
        case '"':
        case '\'':
            n += 6; /* &quot; &apos; */
            break;
        default:
            n++;
        }
    return n;
}

static int append_escaped(xb_buf *b, const char *s)
{
    int rc = 0;
    for (; *s && rc == 0; s++)
        switch (*s) {
        case '&':
            rc = xb_buf_puts(b, "&amp;");
            break;
        case '<':
            rc = xb_buf_puts(b, "&lt;");
            break;
        case '>':
            rc = xb_buf_puts(b, "&gt;");
            break;
        case '"':
            rc = xb_buf_puts(b, "&quot;");
            break;
        case '\'':
            rc = xb_buf_puts(b, "&apos;");
            break;
        default:
            rc = xb_buf_append(b, s, 1);
        }
    return rc;
}

static int sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return XB_ECRYPTO;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- one message ------------------------------------------------------------------------- */

/* Finds the encoding pseudo-attribute of an XML declaration [decl, end) and checks it is UTF-8. */
static int decl_encoding_ok(const char *decl, size_t n)
{
    const char *p = memmem(decl, n, "encoding", 8);
    if (!p)
        return 1; /* no encoding = UTF-8 by the XML spec */
    p += 8;
    const char *end = decl + n;
    while (p < end && (is_space(*p) || *p == '='))
        p++;
    if (p >= end || (*p != '"' && *p != '\''))
        return 0;
    char q = *p++;
    const char *v = p;
    while (p < end && *p != q)
        p++;
    size_t vl = (size_t)(p - v);
    return (vl == 5 && !strncasecmp(v, "UTF-8", 5)) || (vl == 4 && !strncasecmp(v, "UTF8", 4));
}

int xb_batch_item_prepare(xb_buf *out, const void *xml, size_t len, size_t max_bytes, xb_error *err)
{
    if (!max_bytes)
        max_bytes = DEFAULT_MAX_ITEM;
    if (len > max_bytes)
        return xb_error_set(err, XB_ELIMIT, NULL, "batch: message of %zu bytes exceeds %zu", len,
                            max_bytes);
    const char *p = xml, *end = p + len;
    if (!xml || len == 0)
        return xb_error_set(err, XB_EINVAL, NULL, "batch: empty message");
    if (memchr(p, 0, len))
        return xb_error_set(err, XB_EINVAL, NULL, "batch: message contains a NUL byte");
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    while (p < end && is_space(*p))
        p++;
    if (end - p >= 5 && !memcmp(p, "<?xml", 5) && (end - p == 5 || is_space(p[5]))) {
        const char *q = memmem(p, (size_t)(end - p), "?>", 2);
        if (!q)
            return xb_error_set(err, XB_EINVAL, NULL, "batch: unterminated XML declaration");
        if (!decl_encoding_ok(p, (size_t)(q - p)))
            return xb_error_set(err, XB_EINVAL, NULL,
                                "batch: message declares an encoding other than UTF-8");
        p = q + 2;
    }
    while (p < end && is_space(*p))
        p++;
    while (end > p && is_space(end[-1]))
        end--;
    if (p == end)
        return xb_error_set(err, XB_EINVAL, NULL, "batch: message has no element");
    /* A DOCTYPE could declare entities the counterparty's parser would expand: ISO 20022 never
     * uses one, so refuse before libxml2 even sees it. */
    if (memmem(p, (size_t)(end - p), "<!DOCTYPE", 9))
        return xb_error_set(err, XB_EINVAL, NULL, "batch: message contains a DOCTYPE");

    xmlInitParser();
    xmlDocPtr doc = xmlReadMemory(p, (int)(end - p), NULL, "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int ok = doc && xmlDocGetRootElement(doc) && !doc->intSubset && !doc->extSubset;
    xmlFreeDoc(doc);
    if (!ok)
        return xb_error_set(err, XB_EINVAL, NULL, "batch: message is not well-formed XML");

    xb_buf_reset(out);
    if (xb_buf_append(out, p, (size_t)(end - p)) < 0)
        return xb_error_set(err, XB_ENOMEM, NULL, "batch: out of memory");
    return 0;
}

/* ---- container --------------------------------------------------------------------------- */

#define MSG_OPEN_A "<xb:Msg seq=\""
#define MSG_OPEN_B "\" key=\""
#define MSG_OPEN_C "\">\n"
#define MSG_CLOSE "\n</xb:Msg>\n"
#define HEAD_A                                                                                     \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xb:Batch xmlns:xb=\"" XB_BATCH_NS                \
    "\" destination=\""
#define HEAD_B "\" count=\""
#define HEAD_C "\">\n"
#define FOOT "</xb:Batch>\n"

size_t xb_batch_entry_size(size_t fragment_len, const char *key, size_t seq)
{
    return sizeof MSG_OPEN_A - 1 + digits(seq) + sizeof MSG_OPEN_B - 1 + escaped_len(key) +
           sizeof MSG_OPEN_C - 1 + fragment_len + sizeof MSG_CLOSE - 1;
}

size_t xb_batch_overhead(const char *destination, size_t count)
{
    return sizeof HEAD_A - 1 + strlen(destination) + sizeof HEAD_B - 1 + digits(count) +
           sizeof HEAD_C - 1 + sizeof FOOT - 1;
}

void xb_batch_file_free(xb_batch_file *f)
{
    if (f)
        xb_buf_free(&f->data);
}

int xb_batch_file_build(xb_batch_file *out, const char *destination, const xb_batch_item *items,
                        size_t n, xb_error *err)
{
    memset(out, 0, sizeof *out);
    if (!dest_valid(destination))
        return xb_error_set(err, XB_EINVAL, NULL,
                            "batch: destination name must be 1-64 of [A-Za-z0-9._-]");
    if (n == 0)
        return xb_error_set(err, XB_EINVAL, NULL, "batch: no messages");
    size_t total = xb_batch_overhead(destination, n);
    for (size_t i = 0; i < n; i++) {
        if (!xb_batch_key_valid(items[i].key))
            return xb_error_set(err, XB_EINVAL, NULL, "batch: message %zu has an invalid key",
                                i + 1);
        if (!items[i].xml || !items[i].len)
            return xb_error_set(err, XB_EINVAL, NULL, "batch: message %zu is empty", i + 1);
        total += xb_batch_entry_size(items[i].len, items[i].key, i + 1);
    }
    xb_buf *b = &out->data;
    int rc = xb_buf_reserve(b, total + 1);
    rc = rc ? rc : xb_buf_printf(b, HEAD_A "%s" HEAD_B "%zu" HEAD_C, destination, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = xb_buf_printf(b, MSG_OPEN_A "%zu" MSG_OPEN_B, i + 1);
        rc = rc ? rc : append_escaped(b, items[i].key);
        rc = rc ? rc : xb_buf_puts(b, MSG_OPEN_C);
        rc = rc ? rc : xb_buf_append(b, items[i].xml, items[i].len);
        rc = rc ? rc : xb_buf_puts(b, MSG_CLOSE);
    }
    rc = rc ? rc : xb_buf_puts(b, FOOT);
    if (rc) {
        xb_batch_file_free(out);
        return xb_error_set(err, XB_ENOMEM, NULL, "batch: out of memory");
    }
    if (sha256_hex(out->sha256, b->data, b->len) < 0) {
        xb_batch_file_free(out);
        return xb_error_set(err, XB_ECRYPTO, NULL, "batch: SHA-256 failed");
    }
    out->count = n;
    snprintf(out->name, sizeof out->name, "%s-%.32s", destination, out->sha256);
    return 0;
}

/* ---- manifest ---------------------------------------------------------------------------- */

int xb_batch_manifest(xb_buf *out, const xb_batch_file *f, const char *destination,
                      const xb_batch_item *items, size_t n, xb_error *err)
{
    if (n != f->count)
        return xb_error_set(err, XB_EINVAL, NULL, "batch: manifest for %zu keys, file has %zu", n,
                            f->count);
    char file[XB_BATCH_NAME_MAX + 8];
    snprintf(file, sizeof file, "%s.xml", f->name);
    json_t *keys = json_array();
    json_t *m = json_object();
    int bad = !keys || !m;
    for (size_t i = 0; i < n && !bad; i++)
        bad = json_array_append_new(keys, json_string(items[i].key)) != 0;
    /* Field order is part of the byte-identical promise: JSON_PRESERVE_ORDER keeps it. */
    bad = bad || json_object_set_new(m, "format", json_string(XB_BATCH_FORMAT)) ||
          json_object_set_new(m, "destination", json_string(destination)) ||
          json_object_set_new(m, "file", json_string(file)) ||
          json_object_set_new(m, "content_type", json_string("application/xml")) ||
          json_object_set_new(m, "count", json_integer((json_int_t)n)) ||
          json_object_set_new(m, "bytes", json_integer((json_int_t)f->data.len)) ||
          json_object_set_new(m, "sha256", json_string(f->sha256)) ||
          json_object_set(m, "keys", keys);
    char *s = bad ? NULL : json_dumps(m, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(keys);
    json_decref(m);
    if (!s)
        return xb_error_set(err, XB_ENOMEM, NULL, "batch: cannot build manifest");
    xb_buf_reset(out);
    int rc = xb_buf_puts(out, s);
    rc = rc ? rc : xb_buf_puts(out, "\n");
    free(s);
    return rc ? xb_error_set(err, XB_ENOMEM, NULL, "batch: out of memory") : 0;
}

static void sig_message(xb_httpsig_message *m, char *path, size_t pathsz, const char *batch_name,
                        const void *manifest, size_t len)
{
    snprintf(path, pathsz, "/%s%s", batch_name, SIG_PATH_SUFFIX);
    memset(m, 0, sizeof *m);
    m->method = "PUT";
    m->path = path;
    m->content_type = "application/json";
    m->idempotency_key = batch_name;
    m->body = manifest;
    m->body_len = len;
}

int xb_batch_manifest_sign(xb_buf *out, const char *batch_name, const void *manifest, size_t len,
                           const xb_httpsig_key *key, const char *keyid, int64_t created,
                           xb_error *err)
{
    char path[XB_BATCH_NAME_MAX + 32];
    xb_httpsig_message m;
    xb_httpsig_headers h;
    sig_message(&m, path, sizeof path, batch_name, manifest, len);
    int rc = xb_httpsig_sign(&h, &m, key, keyid, created, 0, err);
    if (rc)
        return rc;
    xb_buf_reset(out);
    if (xb_buf_printf(out, "Content-Digest: %s\nSignature-Input: %s\nSignature: %s\n",
                      h.content_digest, h.signature_input, h.signature) < 0)
        return xb_error_set(err, XB_ENOMEM, NULL, "batch: out of memory");
    return 0;
}

void xb_batch_manifest_info_free(xb_batch_manifest_info *m)
{
    if (!m || !m->keys)
        return;
    for (size_t i = 0; i < m->count; i++)
        free(m->keys[i]);
    free(m->keys);
    m->keys = NULL;
}

static int copy_str(char *dst, size_t dstsz, json_t *o, const char *field, xb_error *err)
{
    const char *s = json_string_value(json_object_get(o, field));
    if (!s || !*s || strlen(s) >= dstsz)
        return xb_error_set(err, XB_EINVAL, field, "batch manifest: '%s' missing or too long",
                            field);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int parse_keys(xb_batch_manifest_info *out, json_t *keys, xb_error *err)
{
    if (!json_is_array(keys) || json_array_size(keys) != out->count)
        return xb_error_set(err, XB_EINVAL, "keys",
                            "batch manifest: 'keys' must be an array of 'count' keys");
    out->keys = calloc(out->count ? out->count : 1, sizeof *out->keys);
    if (!out->keys)
        return xb_error_set(err, XB_ENOMEM, NULL, "batch: out of memory");
    for (size_t i = 0; i < out->count; i++) {
        const char *k = json_string_value(json_array_get(keys, i));
        if (!xb_batch_key_valid(k))
            return xb_error_set(err, XB_EINVAL, "keys", "batch manifest: key %zu is invalid", i);
        if (!(out->keys[i] = strdup(k)))
            return xb_error_set(err, XB_ENOMEM, NULL, "batch: out of memory");
    }
    return 0;
}

int xb_batch_manifest_parse(xb_batch_manifest_info *out, const void *manifest, size_t len,
                            xb_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(manifest, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return xb_error_set(err, XB_EINVAL, NULL, "batch manifest: not a JSON object");
    }
    int rc = 0;
    const char *fmt = json_string_value(json_object_get(o, "format"));
    json_t *count = json_object_get(o, "count"), *bytes = json_object_get(o, "bytes");
    if (!fmt || strcmp(fmt, XB_BATCH_FORMAT) != 0)
        rc = xb_error_set(err, XB_EINVAL, "format", "batch manifest: format is not %s",
                          XB_BATCH_FORMAT);
    else if (!json_is_integer(count) || json_integer_value(count) < 1 || !json_is_integer(bytes) ||
             json_integer_value(bytes) < 1)
        rc = xb_error_set(err, XB_EINVAL, "count", "batch manifest: count/bytes must be positive");
    if (rc == 0) {
        out->count = (size_t)json_integer_value(count);
        out->bytes = (size_t)json_integer_value(bytes);
        if ((rc = copy_str(out->destination, sizeof out->destination, o, "destination", err)) ==
                0 &&
            (rc = copy_str(out->file, sizeof out->file, o, "file", err)) == 0 &&
            (rc = copy_str(out->sha256, sizeof out->sha256, o, "sha256", err)) == 0)
            rc = parse_keys(out, json_object_get(o, "keys"), err);
    }
    if (rc == 0 && strspn(out->sha256, "0123456789abcdef") != 64)
        rc = xb_error_set(err, XB_EINVAL, "sha256", "batch manifest: sha256 is not 64 hex digits");
    json_decref(o);
    if (rc)
        xb_batch_manifest_info_free(out);
    return rc;
}

/* ---- verification (counterparty side) ---------------------------------------------------- */

/* Copies the value of the line starting with `name: ` into out. */
static int sig_line(char *out, size_t outsz, const char *sig, size_t len, const char *name)
{
    size_t nl = strlen(name);
    const char *p = sig, *end = sig + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl + 2 && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && *v == ' ')
                v++;
            size_t vl = (size_t)(eol - v);
            if (vl >= outsz)
                return -1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return 0;
        }
        p = eol + 1;
    }
    return -1;
}

static int verify_signature(const char *batch_name, const void *manifest, size_t manifest_len,
                            const char *sig, size_t sig_len, const xb_httpsig_key *key,
                            const char *keyid, xb_error *err)
{
    char cd[128], si[1024], sv[256], path[XB_BATCH_NAME_MAX + 32];
    if (sig_line(cd, sizeof cd, sig, sig_len, "Content-Digest") < 0 ||
        sig_line(si, sizeof si, sig, sig_len, "Signature-Input") < 0 ||
        sig_line(sv, sizeof sv, sig, sig_len, "Signature") < 0)
        return xb_error_set(err, XB_ECRYPTO, NULL, "batch: signature file lacks a header line");
    xb_httpsig_message m;
    sig_message(&m, path, sizeof path, batch_name, manifest, manifest_len);
    return xb_httpsig_verify(&m, cd, si, sv, key, keyid, 0, 0, err);
}

/* Walks <xb:Msg> children of the container root and compares their keys with the manifest. */
static int check_container_keys(const xb_batch_manifest_info *m, const void *c, size_t len,
                                xb_error *err)
{
    xmlInitParser();
    xmlDocPtr doc =
        xmlReadMemory(c, (int)len, NULL, "UTF-8",
                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    int rc = 0;
    if (!root || !root->ns || strcmp((const char *)root->ns->href, XB_BATCH_NS) != 0 ||
        strcmp((const char *)root->name, "Batch") != 0 || doc->intSubset)
        rc = xb_error_set(err, XB_EINVAL, NULL, "batch: container is not an xb:Batch document");
    size_t i = 0;
    for (xmlNodePtr n = root ? root->children : NULL; n && rc == 0; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        xmlChar *k = xmlGetProp(n, (const xmlChar *)"key");
        if (i >= m->count || !k || strcmp((const char *)k, m->keys[i]) != 0)
            rc = xb_error_set(err, XB_EINVAL, NULL, "batch: message %zu key differs from manifest",
                              i + 1);
        xmlFree(k);
        i++;
    }
    if (rc == 0 && i != m->count)
        rc = xb_error_set(err, XB_EINVAL, NULL, "batch: container holds %zu messages, manifest %zu",
                          i, m->count);
    xmlFreeDoc(doc);
    return rc;
}

int xb_batch_verify(xb_batch_manifest_info *out, const char *batch_name, const void *container,
                    size_t container_len, const void *manifest, size_t manifest_len,
                    const char *sig, size_t sig_len, const xb_httpsig_key *key,
                    const char *expected_keyid, xb_error *err)
{
    xb_batch_manifest_info m;
    char file[XB_BATCH_NAME_MAX + 8], sha[65];
    int rc = verify_signature(batch_name, manifest, manifest_len, sig, sig_len, key, expected_keyid,
                              err);
    if (rc)
        return rc;
    if ((rc = xb_batch_manifest_parse(&m, manifest, manifest_len, err)) < 0)
        return rc;
    snprintf(file, sizeof file, "%s.xml", batch_name);
    if (strcmp(m.file, file) != 0)
        rc = xb_error_set(err, XB_EINVAL, "file", "batch: manifest names %s, expected %s", m.file,
                          file);
    else if (m.bytes != container_len)
        rc = xb_error_set(err, XB_ECRYPTO, "bytes", "batch: file is %zu bytes, manifest says %zu",
                          container_len, m.bytes);
    else if (sha256_hex(sha, container, container_len) < 0 || strcmp(sha, m.sha256) != 0)
        rc = xb_error_set(err, XB_ECRYPTO, "sha256", "batch: SHA-256 of %s does not match", file);
    else
        rc = check_container_keys(&m, container, container_len, err);
    if (rc == 0 && out)
        *out = m;
    else
        xb_batch_manifest_info_free(&m);
    return rc;
}
