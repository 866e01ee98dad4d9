/* message.c — secure parsing of ISO 20022 messages and location of AppHdr/Document.
 *
 * Owns: one reusable libxml2 parser context per thread (its dictionary is kept across parses
 * and replaced when it grows too large), the SAX hooks that enforce the depth limit, refuse
 * any DOCTYPE and leave layout whitespace between elements out of the tree while parsing, the
 * wrapper walk that finds AppHdr and Document by namespace, and small tree helpers (child
 * lookup, text, element paths).
 * Never: loads a DTD, substitutes an entity, resolves an external resource or touches the network;
 * never matches an ISO element by prefix or by local name alone.
 */
#include "iso20022/message.h"

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlIO.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct xb_msg {
    xmlDocPtr doc;
    xmlNodePtr document;
    xmlNodePtr body;
    xmlNodePtr apphdr;
    const xb_definition *def;
    const xb_definition *hdr_def;
};

/* NONET: never fetch anything. NOCDATA: CDATA becomes plain text, so the tree (and the canonical
 * bytes) do not depend on how a sender quoted text. COMPACT: smaller, faster trees.
 * Deliberately absent: NOENT, DTDLOAD, DTDATTR, DTDVALID, XINCLUDE, HUGE, RECOVER. */
#define XB_PARSE_OPTIONS                                                                           \
    (XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT | XML_PARSE_NOERROR |                 \
     XML_PARSE_NOWARNING)

/* A per-thread dictionary is reused across parses; names from hostile input could make it grow
 * forever, so the context is replaced once the dictionary holds this many strings. */
#define XB_DICT_MAX_ENTRIES 20000

/* A zero in xb_parse_limits means "the default", never "unlimited". */
#define XB_DEFAULT_MAX_BYTES (4u * 1024u * 1024u)

enum stop_reason { STOP_NONE = 0, STOP_DEPTH, STOP_DOCTYPE };

/* What the SAX hooks of this thread's parse see. Thread-local rather than ctxt->_private so
 * that nothing libxml2 resets between parses can detach it. */
typedef struct parse_state {
    int depth;
    int max_depth;
    enum stop_reason stop;
    int have_error;
    int error_line;
    int error_code;
    char error_msg[256];
} parse_state;

static __thread parse_state tl_state;
static __thread xmlParserCtxtPtr tl_ctxt;
static pthread_key_t ctxt_key;
static pthread_once_t ctxt_key_once = PTHREAD_ONCE_INIT;

static void free_thread_ctxt(void *p)
{
    xmlFreeParserCtxt((xmlParserCtxtPtr)p);
}

static void make_ctxt_key(void)
{
    xmlInitParser();
    /* Belt and braces behind the DOCTYPE refusal: nothing xborder parses may reach the network. */
    xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
    (void)pthread_key_create(&ctxt_key, free_thread_ctxt);
}

static void halt(xmlParserCtxtPtr ctxt, enum stop_reason why)
{
    tl_state.stop = why;
    ctxt->wellFormed = 0; /* a halted parse must never hand back its partial tree */
    xmlStopParser(ctxt);
}

static void hook_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                               const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                               int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    if (++tl_state.depth > tl_state.max_depth) {
        halt(ctxt, STOP_DEPTH);
        return;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
}

static void hook_end_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                             const xmlChar *uri)
{
    tl_state.depth--;
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

/* True when the text is layout between elements ("\n    " after an element or before a start
 * tag): all blanks, not the continuation of a text node, and its parent has an element child
 * (the last child so far, or the start tag that follows in the input). ISO 20022 has no mixed
 * content; write.c drops exactly such text from the canonical form and the output, and XSD
 * validation ignores it in element-only content. Anything else (a blank leaf, blanks around a
 * comment in a leaf, text next to other text) is kept exactly. */
/* XML's four blank characters. */
static const unsigned char xml_blank[256] = {[' '] = 1, ['\n'] = 1, ['\t'] = 1, ['\r'] = 1};

/* True when ch[0..len) is all blanks. Indentation is a newline and then runs of spaces, so
 * eight spaces are compared at once; every other byte goes through the table. */
static int all_blank(const xmlChar *ch, int len)
{
    static const uint64_t spaces = 0x2020202020202020u;
    int i = 0;
    while (i < len) {
        uint64_t w;
        if (len - i >= 8 && (memcpy(&w, ch + i, 8), w == spaces)) {
            i += 8;
            continue;
        }
        if (!xml_blank[ch[i]])
            return 0;
        i++;
    }
    return 1;
}

static int is_layout(xmlParserCtxtPtr ctxt, const xmlChar *ch, int len)
{
    const xmlNode *parent = ctxt->node;
    if (!parent || (parent->last && parent->last->type == XML_TEXT_NODE))
        return 0;
    if (!all_blank(ch, len))
        return 0;
    if (parent->last && parent->last->type == XML_ELEMENT_NODE)
        return 1;
    const xmlParserInput *in = ctxt->input;
    if (!in || !in->cur || !in->end || in->end - in->cur < 2 || in->cur[0] != '<')
        return 0;
    xmlChar c = in->cur[1];
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
}

/* An indented message has as many layout text nodes as elements: not building them roughly
 * halves the tree, and with it the cost of building, walking, validating and freeing it. */
static void hook_characters(void *ctx, const xmlChar *ch, int len)
{
    if (!is_layout(ctx, ch, len))
        xmlSAX2Characters(ctx, ch, len);
}

/* Called as soon as "<!DOCTYPE" is read, before any entity declaration is. */
static void hook_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                                 const xmlChar *system_id)
{
    halt(ctx, STOP_DOCTYPE);
}

static xmlParserInputPtr hook_resolve_entity(void *ctx, const xmlChar *public_id,
                                             const xmlChar *system_id)
{
    halt(ctx, STOP_DOCTYPE);
    return NULL; /* nothing external is ever opened */
}

static void hook_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                             const xmlChar *system_id, xmlChar *content)
{
    halt(ctx, STOP_DOCTYPE);
}

/* Records the first error; warnings (e.g. the relative namespace URI of SWIFTNet's
 * <Request xmlns="SWIFTNetBusinessEnvelope">) are not errors. */
static void hook_structured_error(void *user, xmlErrorPtr e)
{
    if (!e || e->level < XML_ERR_ERROR || tl_state.have_error)
        return;
    tl_state.have_error = 1;
    tl_state.error_line = e->line;
    tl_state.error_code = e->code;
    snprintf(tl_state.error_msg, sizeof tl_state.error_msg, "%s", e->message ? e->message : "");
    size_t n = strlen(tl_state.error_msg);
    while (n > 0 && (tl_state.error_msg[n - 1] == '\n' || tl_state.error_msg[n - 1] == ' '))
        tl_state.error_msg[--n] = '\0';
}

static xmlParserCtxtPtr new_ctxt(void)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return NULL;
    ctxt->sax->startElementNs = hook_start_element;
    ctxt->sax->endElementNs = hook_end_element;
    /* Both, so that libxml2's own blank heuristics (areBlanks) stay off: is_layout decides. */
    ctxt->sax->characters = hook_characters;
    ctxt->sax->ignorableWhitespace = hook_characters;
    ctxt->sax->internalSubset = hook_internal_subset;
    ctxt->sax->externalSubset = hook_internal_subset;
    ctxt->sax->resolveEntity = hook_resolve_entity;
    ctxt->sax->entityDecl = hook_entity_decl;
    ctxt->sax->serror = hook_structured_error;
    return ctxt;
}

static xmlParserCtxtPtr thread_ctxt(void)
{
    pthread_once(&ctxt_key_once, make_ctxt_key);
    if (tl_ctxt && tl_ctxt->dict && xmlDictSize(tl_ctxt->dict) > XB_DICT_MAX_ENTRIES) {
        /* Documents already parsed hold their own reference to the old dictionary. */
        xmlFreeParserCtxt(tl_ctxt);
        tl_ctxt = NULL;
    }
    if (!tl_ctxt) {
        tl_ctxt = new_ctxt();
        if (tl_ctxt)
            (void)pthread_setspecific(ctxt_key, tl_ctxt);
    }
    return tl_ctxt;
}

/* The most attributes (namespace declarations included) one start tag may carry. libxml2
 * compares each attribute of a tag with every earlier one, so n attributes cost n^2: a 730 KB
 * message with 50,000 attributes held the pipeline's worker for minutes, long enough to be thrown
 * out of its consumer group (found by tests/reliability/security-test hostile). ISO 20022
 * elements carry a handful. */
#define XB_MAX_ATTRIBUTES 256

/* The characters that end a run inside a tag: quotes, '=', and the ends of the tag. */
static const unsigned char tag_stop[256] = {['"'] = 1, ['\''] = 1, ['='] = 1, ['<'] = 1, ['>'] = 1};

/* Offset of the first start tag with more than XB_MAX_ATTRIBUTES attributes, or SIZE_MAX.
 * One linear pass: '=' outside quotes inside a tag counts one attribute; comments, CDATA and
 * processing instructions are skipped whole. */
static size_t attribute_flood_at(const char *buf, size_t len)
{
    /* Every attribute needs an '=': a message with no more of them than one tag may carry
     * cannot have a flooded tag, and that is every real message (a few xmlns and Ccy). */
    unsigned eq = 0;
    for (const char *p = buf, *end = buf + len; eq <= XB_MAX_ATTRIBUTES; p++, eq++)
        if (!(p = memchr(p, '=', (size_t)(end - p))))
            return SIZE_MAX;
    size_t i = 0;
    while (i < len) {
        const char *lt = memchr(buf + i, '<', len - i);
        if (!lt)
            break;
        size_t at = (size_t)(lt - buf);
        const char *end = NULL;
        if (len - at >= 4 && !memcmp(lt, "<!--", 4))
            end = memmem(lt + 4, len - at - 4, "-->", 3);
        else if (len - at >= 9 && !memcmp(lt, "<![CDATA[", 9))
            end = memmem(lt + 9, len - at - 9, "]]>", 3);
        else if (len - at >= 2 && lt[1] == '?')
            end = memmem(lt + 2, len - at - 2, "?>", 2);
        if (end || (len - at >= 2 && (lt[1] == '!' || lt[1] == '?'))) {
            if (!end)
                end = memchr(lt, '>', len - at);
            if (!end)
                break;
            i = (size_t)(end - buf) + 1;
            continue;
        }
        /* A tag with no '=' before its first '>' has no attributes (the usual case): two
         * vectorised searches instead of a walk through its bytes. */
        const char *gt = memchr(lt + 1, '>', len - at - 1);
        size_t tag_len = gt ? (size_t)(gt - lt) : len - at;
        if (!memchr(lt + 1, '=', tag_len - 1)) {
            i = at + tag_len + (gt ? 1 : 0);
            continue;
        }
        unsigned attrs = 0;
        for (i = at + 1; i < len; i++) {
            /* Skips in one step what cannot matter (names, blanks): this loop sees every tag
             * of every message. */
            while (i < len && !tag_stop[(unsigned char)buf[i]])
                i++;
            if (i == len)
                break;
            char c = buf[i];
            if (c == '"' || c == '\'') {
                const char *close = memchr(buf + i + 1, c, len - i - 1);
                if (!close) {
                    i = len;
                    break;
                }
                i = (size_t)(close - buf);
            } else if (c == '=') {
                if (++attrs > XB_MAX_ATTRIBUTES)
                    return at;
            } else { /* '>' or '<' */
                break;
            }
        }
        if (i < len && buf[i] == '>')
            i++;
    }
    return SIZE_MAX;
}

/* Cheap checks on the raw bytes that libxml2 would report less clearly. */
static int precheck_bytes(const char *buf, size_t len, const xb_parse_limits *lim, xb_error *err)
{
    if (!buf || len == 0)
        return xb_error_set(err, XB_EINVAL, NULL, "empty message");
    size_t max = lim->max_bytes ? lim->max_bytes : XB_DEFAULT_MAX_BYTES;
    if (len > max || len > (size_t)INT_MAX)
        return xb_error_set(err, XB_ELIMIT, NULL,
                            "message is %zu bytes, over the %zu-byte limit (max_bytes)", len, max);
    const char *nul = memchr(buf, '\0', len);
    if (nul)
        return xb_error_set(err, XB_EINVAL, NULL,
                            "NUL byte at offset %zu: ISO 20022 messages are UTF-8 text",
                            (size_t)(nul - buf));
    size_t flood = attribute_flood_at(buf, len);
    if (flood != SIZE_MAX)
        return xb_error_set(err, XB_ELIMIT, NULL,
                            "element at offset %zu has more than %d attributes", flood,
                            XB_MAX_ATTRIBUTES);
    return 0;
}

static int parse_failure(xb_error *err)
{
    switch (tl_state.stop) {
    case STOP_DEPTH:
        return xb_error_set(err, XB_ELIMIT, NULL,
                            "elements nested deeper than %d levels (max_depth)",
                            tl_state.max_depth);
    case STOP_DOCTYPE:
        return xb_error_set(err, XB_EINVAL, NULL,
                            "DOCTYPE not allowed: ISO 20022 messages never use one");
    case STOP_NONE:
        break;
    }
    if (tl_state.have_error) {
        /* libxml2's UTF-8 check reports XML_ERR_INVALID_CHAR / XML_ERR_INVALID_ENCODING. */
        const char *what = (tl_state.error_code == XML_ERR_INVALID_ENCODING ||
                            tl_state.error_code == XML_ERR_INVALID_CHAR)
                               ? "invalid UTF-8 or character"
                               : "not well-formed XML";
        return xb_error_set(err, XB_EINVAL, NULL, "%s (line %d): %s", what, tl_state.error_line,
                            tl_state.error_msg);
    }
    return xb_error_set(err, XB_EINVAL, NULL, "not well-formed XML");
}

/* Messages up to this size are parsed from a per-thread copy (see read_doc); larger ones, rare,
 * take libxml2's own buffer, so that no thread keeps a large copy. */
#define XB_INPUT_COPY_MAX (256u * 1024u)

typedef struct input_copy {
    char *data;
    size_t cap;
} input_copy;

static __thread input_copy tl_input;
static pthread_key_t input_key;
static pthread_once_t input_key_once = PTHREAD_ONCE_INIT;

static void free_thread_input(void *p)
{
    input_copy *c = p;
    free(c->data);
    c->data = NULL;
    c->cap = 0;
}

static void make_input_key(void)
{
    (void)pthread_key_create(&input_key, free_thread_input);
}

/* The bytes, NUL-terminated, in this thread's buffer (which only ever grows, to the largest
 * message under XB_INPUT_COPY_MAX); NULL when the message is too large or memory is short. */
static const char *input_copy_of(const char *buf, size_t len)
{
    if (len >= XB_INPUT_COPY_MAX)
        return NULL;
    if (tl_input.cap < len + 1) {
        size_t cap = tl_input.cap ? tl_input.cap : 16384;
        while (cap < len + 1)
            cap *= 2;
        char *p = realloc(tl_input.data, cap);
        if (!p)
            return NULL;
        if (!tl_input.data) {
            pthread_once(&input_key_once, make_input_key);
            (void)pthread_setspecific(input_key, &tl_input);
        }
        tl_input.data = p;
        tl_input.cap = cap;
    }
    memcpy(tl_input.data, buf, len);
    tl_input.data[len] = '\0';
    return tl_input.data;
}

/* True when libxml2 reads these bytes as UTF-8 without converting them: no byte-order mark or
 * UTF-16/UCS-4/EBCDIC signature, and an XML declaration that names no encoding or UTF-8 (every
 * ISO 20022 message). Anything else, or a declaration this does not plainly understand, is
 * read by xmlCtxtReadMemory, which converts encodings; a string input would not. */
static int plain_utf8(const char *buf, size_t len)
{
    if (len < 4)
        return 0;
    xmlCharEncoding enc = xmlDetectCharEncoding((const unsigned char *)buf, 4);
    if (enc != XML_CHAR_ENCODING_NONE && enc != XML_CHAR_ENCODING_UTF8)
        return 0;
    if (buf[0] == '\xEF') /* a UTF-8 byte-order mark: left to libxml2 */
        return 0;
    if (len < 6 || memcmp(buf, "<?xml", 5))
        return 1; /* no declaration: UTF-8 by definition */
    size_t scan = len < 512 ? len : 512;
    const char *end = memmem(buf, scan, "?>", 2);
    if (!end)
        return 0;
    size_t decl = (size_t)(end - buf);
    const char *enc_at = memmem(buf, decl, "encoding", 8);
    if (!enc_at)
        return 1;
    const char *p = enc_at + 8, *stop = end;
    if (memmem(p, (size_t)(stop - p), "encoding", 8))
        return 0; /* twice: not a declaration to second-guess */
    while (p < stop && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (p == stop || *p++ != '=')
        return 0;
    while (p < stop && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (p == stop || (*p != '"' && *p != '\''))
        return 0;
    char quote = *p++;
    const char *close = memchr(p, quote, (size_t)(stop - p));
    if (!close)
        return 0;
    size_t n = (size_t)(close - p);
    return (n == 5 && !strncasecmp(p, "UTF-8", 5)) || (n == 4 && !strncasecmp(p, "UTF8", 4));
}

/* The parse itself. A plain UTF-8 message is copied into this thread's NUL-terminated buffer
 * and read with xmlCtxtReadDoc, which parses a string in place; xmlCtxtReadMemory would
 * allocate an 8 KB+ input buffer per message and copy into it. That large malloc made glibc
 * consolidate every small chunk the previous message's tree had freed, and the new tree was
 * then carved out of the unsorted bins (~10% of the hot path was malloc). The context, its
 * SAX hooks and the options are the same either way; the string cannot be cut short by a NUL
 * byte, because precheck_bytes refuses those. */
static xmlDocPtr read_doc(xmlParserCtxtPtr ctxt, const char *buf, size_t len)
{
    const char *copy = plain_utf8(buf, len) ? input_copy_of(buf, len) : NULL;
    if (copy)
        return xmlCtxtReadDoc(ctxt, (const xmlChar *)copy, NULL, NULL, XB_PARSE_OPTIONS);
    return xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL, XB_PARSE_OPTIONS);
}

static int parse_tree(xmlDocPtr *out, const char *buf, size_t len, const xb_parse_limits *lim,
                      xb_error *err)
{
    *out = NULL;
    xmlParserCtxtPtr ctxt = thread_ctxt();
    if (!ctxt)
        return xb_error_set(err, XB_ENOMEM, NULL, "cannot allocate an XML parser context");
    memset(&tl_state, 0, sizeof tl_state);
    tl_state.max_depth = lim->max_depth > 0 ? lim->max_depth : 64;

    xmlDocPtr doc = read_doc(ctxt, buf, len);
    int ns_ok = ctxt->nsWellFormed;
    if (doc && tl_state.stop == STOP_NONE && ns_ok && !tl_state.have_error) {
        *out = doc;
        return 0;
    }
    xmlFreeDoc(doc);
    if (doc && !ns_ok && tl_state.stop == STOP_NONE)
        return xb_error_set(err, XB_EINVAL, NULL, "namespace error (line %d): %s",
                            tl_state.error_line, tl_state.error_msg);
    return parse_failure(err);
}

/* ---- locating AppHdr and Document ---- */

static int is_named(const xmlNode *n, const char *local)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, local);
}

static const char *ns_of(const xmlNode *n)
{
    return n->ns && n->ns->href ? (const char *)n->ns->href : NULL;
}

static int is_iso_document(const xmlNode *n)
{
    return is_named(n, "Document") && xb_registry_is_iso_ns(ns_of(n));
}

/* An AppHdr counts only in a head.* namespace: an <AppHdr> in a proprietary namespace is not one.
 */
static int is_iso_apphdr(const xmlNode *n)
{
    if (!is_named(n, "AppHdr") || !xb_registry_is_iso_ns(ns_of(n)))
        return 0;
    const char *ns = ns_of(n);
    const char *last_colon = strrchr(ns, ':');
    return last_colon && !strncmp(last_colon + 1, "head.", 5);
}

/* Pre-order walk of the wrapper, not descending into a found AppHdr or Document. The tree is
 * at most max_depth deep, and the walk is iterative anyway. */
static void find_parts(xmlNodePtr root, xmlNodePtr *document, xmlNodePtr *apphdr)
{
    *document = NULL;
    *apphdr = NULL;
    xmlNodePtr n = root;
    while (n) {
        int descend = 1;
        if (n->type != XML_ELEMENT_NODE) {
            descend = 0;
        } else if (is_iso_document(n)) {
            if (!*document)
                *document = n;
            descend = 0;
        } else if (is_iso_apphdr(n)) {
            if (!*apphdr)
                *apphdr = n;
            descend = 0;
        }
        if (*document && *apphdr)
            return;
        if (descend && n->children) {
            n = n->children;
            continue;
        }
        while (n && n != root && !n->next)
            n = n->parent;
        if (!n || n == root)
            return;
        n = n->next;
    }
}

static xmlNodePtr first_element(xmlNodePtr n)
{
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

static int identify_parts(xb_msg *msg, xb_error *err)
{
    xmlNodePtr root = xmlDocGetRootElement(msg->doc);
    if (!root)
        return xb_error_set(err, XB_EINVAL, NULL, "no root element");
    find_parts(root, &msg->document, &msg->apphdr);
    if (!msg->document)
        return xb_error_set(err, XB_EINVAL, NULL, "no ISO 20022 Document found in <%.100s>",
                            (const char *)root->name);

    int rc = xb_registry_identify(&msg->def, ns_of(msg->document), err);
    if (rc)
        return rc;
    if (msg->def->kind == XB_KIND_HEAD001)
        return xb_error_set(err, XB_EINVAL, "/Document",
                            "Document is in the %s namespace, which is a header, not a message",
                            msg->def->id);
    msg->body = first_element(msg->document->children);
    if (!msg->body)
        return xb_error_set(err, XB_EINVAL, "/Document", "Document %s has no message element",
                            msg->def->id);
    if (msg->apphdr) {
        rc = xb_registry_identify(&msg->hdr_def, ns_of(msg->apphdr), err);
        if (rc) {
            if (err)
                snprintf(err->path, sizeof err->path, "/AppHdr");
            return rc;
        }
    }
    return 0;
}

int xb_msg_parse(xb_msg **out, const char *buf, size_t len, const xb_parse_limits *lim,
                 xb_error *err)
{
    static const xb_parse_limits defaults = XB_PARSE_LIMITS_DEFAULT;
    *out = NULL;
    if (!lim)
        lim = &defaults;
    int rc = precheck_bytes(buf, len, lim, err);
    if (rc)
        return rc;

    xb_msg *msg = calloc(1, sizeof *msg);
    if (!msg)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    rc = parse_tree(&msg->doc, buf, len, lim, err);
    if (!rc)
        rc = identify_parts(msg, err);
    if (rc) {
        xb_msg_free(msg);
        return rc;
    }
    *out = msg;
    return 0;
}

void xb_msg_free(xb_msg *msg)
{
    if (!msg)
        return;
    xmlFreeDoc(msg->doc);
    free(msg);
}

xmlDocPtr xb_msg_doc(const xb_msg *msg)
{
    return msg->doc;
}
xmlNodePtr xb_msg_document(const xb_msg *msg)
{
    return msg->document;
}
xmlNodePtr xb_msg_body(const xb_msg *msg)
{
    return msg->body;
}
xmlNodePtr xb_msg_apphdr(const xb_msg *msg)
{
    return msg->apphdr;
}
const xb_definition *xb_msg_definition(const xb_msg *msg)
{
    return msg->def;
}
const xb_definition *xb_msg_hdr_definition(const xb_msg *msg)
{
    return msg->hdr_def;
}

/* ---- tree helpers ---- */

static int same_ns(const xmlNode *a, const xmlNode *b)
{
    const char *x = ns_of(a), *y = ns_of(b);
    if (!x || !y)
        return x == y;
    return x == y || !strcmp(x, y);
}

xmlNodePtr xb_xml_child(const xmlNode *parent, const char *local)
{
    if (!parent)
        return NULL;
    for (xmlNodePtr c = parent->children; c; c = c->next)
        if (is_named(c, local) && same_ns(c, parent))
            return c;
    return NULL;
}

xmlNodePtr xb_xml_find(const xmlNode *parent, const char *path)
{
    const xmlNode *n = parent;
    char step[128];
    while (n && path && *path) {
        const char *slash = strchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : strlen(path);
        if (len == 0 || len >= sizeof step)
            return NULL;
        memcpy(step, path, len);
        step[len] = '\0';
        n = xb_xml_child(n, step);
        path = slash ? slash + 1 : NULL;
    }
    /* The tree is the caller's; const here only promises this walk does not change it. */
    return (xmlNodePtr)(uintptr_t)n;
}

const char *xb_xml_text(const xmlNode *node)
{
    if (!node || node->type != XML_ELEMENT_NODE)
        return NULL;
    const xmlNode *c = node->children;
    /* The parser merges adjacent text (and CDATA, with NOCDATA) into one node. */
    if (c && !c->next && c->type == XML_TEXT_NODE)
        return (const char *)c->content;
    return NULL;
}

/* True when n is where paths start: an ISO Document/AppHdr, or the root element. */
static int is_path_anchor(const xmlNode *n)
{
    return is_iso_document(n) || is_iso_apphdr(n) || !n->parent ||
           n->parent->type != XML_ELEMENT_NODE;
}

/* 1-based position among same-named siblings, or 0 when the name does not repeat. */
static int sibling_index(const xmlNode *n)
{
    int before = 0, total = 0;
    if (!n->parent)
        return 0;
    for (const xmlNode *s = n->parent->children; s; s = s->next) {
        if (s->type != XML_ELEMENT_NODE || strcmp((const char *)s->name, (const char *)n->name) ||
            !same_ns(s, n))
            continue;
        total++;
        if (s == n)
            before = total;
    }
    return total > 1 ? before : 0;
}

const char *xb_msg_node_path(const xmlNode *node, char *buf, size_t cap)
{
    enum { MAX_STEPS = 96 };
    const xmlNode *steps[MAX_STEPS];
    int n_steps = 0, truncated = 0;
    const char *attr = NULL;
    if (!buf || cap == 0)
        return buf;
    buf[0] = '\0';
    if (node && node->type == XML_ATTRIBUTE_NODE) {
        attr = (const char *)node->name;
        node = node->parent;
    }
    while (node && node->type != XML_ELEMENT_NODE)
        node = node->parent;
    for (const xmlNode *n = node; n && n->type == XML_ELEMENT_NODE; n = n->parent) {
        if (n_steps == MAX_STEPS) {
            truncated = 1;
            break;
        }
        steps[n_steps++] = n;
        if (is_path_anchor(n))
            break;
    }
    size_t used = 0;
    if (truncated)
        used += (size_t)snprintf(buf, cap, "/...");
    for (int i = n_steps - 1; i >= 0 && used < cap; i--) {
        int idx = sibling_index(steps[i]);
        if (idx)
            used += (size_t)snprintf(buf + used, cap - used, "/%s[%d]",
                                     (const char *)steps[i]->name, idx);
        else
            used += (size_t)snprintf(buf + used, cap - used, "/%s", (const char *)steps[i]->name);
    }
    if (attr && used < cap)
        snprintf(buf + used, cap - used, "/@%s", attr);
    return buf;
}
