/* write.c — canonical bytes, their SHA-256, and normal output of AppHdr + Document.
 *
 * Owns: xborder's canonical form of a message, which is the exclusive-C14N text rules (UTF-8, no
 * XML declaration, no comments or PIs, empty elements as start+end tags, attributes sorted,
 * C14N escaping) applied with one extra normalisation so that the same business message always
 * hashes the same whatever its sender's serialiser did:
 *  - prefixes are not significant: every element is written unprefixed, with xmlns="uri" where
 *    its namespace differs from its parent's (xmlns="" when it has none); namespaced attributes
 *    get generated prefixes n0, n1 ... declared on their element;
 *  - whitespace-only text between elements is dropped (ISO 20022 has no mixed content), while
 *    the text of a leaf is kept exactly;
 *  - the AppHdr (when present) is written first, then the Document; the wrapper is never part
 *    of it.
 * Never: changes the tree, or emits anything that depends on prefixes, attribute order,
 * whitespace inside tags, or indentation.
 */
#include "iso20022/write.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

typedef struct attr_ref {
    const xmlAttr *a;
    const char *uri; /* "" when none */
} attr_ref;

static const char *ns_uri(const xmlNs *ns)
{
    return ns && ns->href ? (const char *)ns->href : "";
}

/* xml:lang and friends keep their reserved prefix, which must never be declared. */
static int is_xml_ns(const char *uri)
{
    return !strcmp(uri, (const char *)XML_XML_NAMESPACE);
}

static int put_escaped(xb_buf *out, const char *s, int in_attr)
{
    /* Most values need no escaping: one strcspn (vectorised in libc) finds the first character
     * that does, and the rest of the loop starts there. */
    const char *run = s;
    s += strcspn(s, in_attr ? "&<\"\t\n\r" : "&<>\r");
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = in_attr ? NULL : "&gt;";
            break;
        case '"':
            rep = in_attr ? "&quot;" : NULL;
            break;
        case '\t':
            rep = in_attr ? "&#x9;" : NULL;
            break;
        case '\n':
            rep = in_attr ? "&#xA;" : NULL;
            break;
        case '\r':
            rep = "&#xD;";
            break;
        default:
            break;
        }
        if (!rep)
            continue;
        if (xb_buf_append(out, run, (size_t)(s - run)) || xb_buf_puts(out, rep))
            return XB_ENOMEM;
        run = s + 1;
    }
    return xb_buf_append(out, run, (size_t)(s - run));
}

/* "<" name / "</" name ">": tags are written with appends, not printf (the profile of the hot
 * path had vsnprintf as its largest single cost here). */
static int put_open(xb_buf *out, const char *name)
{
    size_t n = strlen(name);
    if (xb_buf_reserve(out, n + 1))
        return XB_ENOMEM;
    out->data[out->len++] = '<';
    memcpy(out->data + out->len, name, n + 1);
    out->len += n;
    return 0;
}

static int put_close(xb_buf *out, const char *name)
{
    size_t n = strlen(name);
    if (xb_buf_reserve(out, n + 3))
        return XB_ENOMEM;
    char *p = out->data + out->len;
    p[0] = '<', p[1] = '/';
    memcpy(p + 2, name, n);
    p[n + 2] = '>', p[n + 3] = '\0';
    out->len += n + 3;
    return 0;
}

static int cmp_attr(const void *x, const void *y)
{
    const attr_ref *a = x, *b = y;
    int c = strcmp(a->uri, b->uri);
    return c ? c : strcmp((const char *)a->a->name, (const char *)b->a->name);
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

static int has_element_child(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return 1;
    return 0;
}

/* Writes attribute value text (attributes hold text and, without entities, nothing else). */
static int put_attr_value(xb_buf *out, const xmlAttr *a)
{
    for (const xmlNode *t = a->children; t; t = t->next)
        if (t->content && put_escaped(out, (const char *)t->content, 1))
            return XB_ENOMEM;
    return 0;
}

/* Start tag: xmlns first, then generated prefix declarations, then sorted attributes. */
static int put_start_tag(xb_buf *out, const xmlNode *n, const char *parent_uri)
{
    const char *uri = ns_uri(n->ns);
    if (put_open(out, (const char *)n->name))
        return XB_ENOMEM;
    /* Children share their parent's xmlNs, so the pointers are usually equal. */
    if (uri != parent_uri && strcmp(uri, parent_uri)) {
        if (xb_buf_puts(out, " xmlns=\"") || put_escaped(out, uri, 1) || xb_buf_puts(out, "\""))
            return XB_ENOMEM;
    }
    size_t count = 0;
    for (const xmlAttr *a = n->properties; a; a = a->next)
        count++;
    if (count == 0)
        return xb_buf_puts(out, ">");
    attr_ref stack_refs[8];
    attr_ref *refs = count <= 8 ? stack_refs : malloc(count * sizeof *refs);
    if (!refs)
        return XB_ENOMEM;
    size_t i = 0;
    for (const xmlAttr *a = n->properties; a; a = a->next, i++) {
        refs[i].a = a;
        refs[i].uri = ns_uri(a->ns);
    }
    qsort(refs, count, sizeof *refs, cmp_attr);
    int rc = 0;
    /* generated prefixes follow the sorted order, so they depend only on the URIs */
    int next_prefix = 0;
    for (i = 0; i < count && !rc; i++)
        if (refs[i].uri[0] && !is_xml_ns(refs[i].uri) &&
            (i == 0 || strcmp(refs[i].uri, refs[i - 1].uri)))
            rc = xb_buf_printf(out, " xmlns:n%d=\"", next_prefix++) ||
                 put_escaped(out, refs[i].uri, 1) || xb_buf_puts(out, "\"");
    int prefix = -1;
    for (i = 0; i < count && !rc; i++) {
        if (refs[i].uri[0] && !is_xml_ns(refs[i].uri) &&
            (i == 0 || strcmp(refs[i].uri, refs[i - 1].uri)))
            prefix++;
        if (is_xml_ns(refs[i].uri))
            rc = xb_buf_printf(out, " xml:%s=\"", (const char *)refs[i].a->name);
        else if (refs[i].uri[0])
            rc = xb_buf_printf(out, " n%d:%s=\"", prefix, (const char *)refs[i].a->name);
        else
            rc = xb_buf_puts(out, " ") || xb_buf_puts(out, (const char *)refs[i].a->name) ||
                 xb_buf_puts(out, "=\"");
        rc = rc || put_attr_value(out, refs[i].a) || xb_buf_puts(out, "\"");
    }
    if (refs != stack_refs)
        free(refs);
    return rc || xb_buf_puts(out, ">") ? XB_ENOMEM : 0;
}

/* Iterative walk of one part (AppHdr or Document). */
static int put_part(xb_buf *out, const xmlNode *root)
{
    const xmlNode *n = root;
    while (n) {
        int descended = 0;
        if (n->type == XML_ELEMENT_NODE) {
            const char *parent_uri = n == root || !n->parent || n->parent->type != XML_ELEMENT_NODE
                                         ? ""
                                         : ns_uri(n->parent->ns);
            if (put_start_tag(out, n, parent_uri))
                return XB_ENOMEM;
            if (n->children) {
                n = n->children;
                descended = 1;
            } else if (put_close(out, (const char *)n->name)) {
                return XB_ENOMEM;
            }
        } else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            const char *t = (const char *)n->content;
            if (t && !(is_blank(t) && has_element_child(n->parent)) && put_escaped(out, t, 0))
                return XB_ENOMEM;
        }
        if (descended)
            continue;
        /* climb, closing elements, until a next sibling exists */
        while (n != root && !n->next) {
            n = n->parent;
            if (put_close(out, (const char *)n->name))
                return XB_ENOMEM;
        }
        if (n == root)
            break;
        n = n->next;
    }
    return 0;
}

int xb_write_canonical(xb_buf *out, const xb_msg *msg, xb_error *err)
{
    if (!msg)
        return xb_error_set(err, XB_EINVAL, NULL, "no message");
    if (xb_msg_apphdr(msg) && put_part(out, xb_msg_apphdr(msg)))
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory writing canonical bytes");
    if (put_part(out, xb_msg_document(msg)))
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory writing canonical bytes");
    return 0;
}

int xb_write_canonical_sha256(uint8_t out[32], const xb_msg *msg, xb_error *err)
{
    xb_buf b = XB_BUF_INIT;
    int rc = xb_write_canonical(&b, msg, err);
    unsigned int len = 0;
    if (!rc && EVP_Digest(b.data ? b.data : "", b.len, out, &len, EVP_sha256(), NULL) != 1)
        rc = xb_error_set(err, XB_ECRYPTO, NULL, "SHA-256 failed");
    xb_buf_free(&b);
    return rc;
}

int xb_write_message(xb_buf *out, const xb_msg *msg, xb_error *err)
{
    if (!msg)
        return xb_error_set(err, XB_EINVAL, NULL, "no message");
    int has_hdr = xb_msg_apphdr(msg) != NULL;
    /* One allocation for a usual message instead of doubling up from 256 bytes. */
    int rc = xb_buf_reserve(out, 4096) ||
             xb_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (!rc && has_hdr)
        rc = xb_buf_puts(out, "<Envelope>\n") || put_part(out, xb_msg_apphdr(msg)) ||
             xb_buf_puts(out, "\n");
    if (!rc)
        rc = put_part(out, xb_msg_document(msg));
    if (!rc && has_hdr)
        rc = xb_buf_puts(out, "\n</Envelope>");
    if (!rc)
        rc = xb_buf_puts(out, "\n");
    return rc ? xb_error_set(err, XB_ENOMEM, NULL, "out of memory writing the message") : 0;
}

void xb_hex(char *out, const uint8_t *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}
