/* policy.h — the data-classification engine: what of an ISO 20022 message may leave China.
 *
 * Owns: the public API of adapter/policy — rule catalogs (load, verify, select by transfer time),
 * destinations and their legal bases, the decision (labels per field, actions, verdict, counter
 * deltas, transformed message) and its JSON record.
 * Never: touches Kafka, HTTP, the state store or any file but the catalog (and its signature and
 * public key) it is handed. Counter state comes in as a snapshot and leaves as deltas; keys come
 * in as bytes. Same inputs, same decision (replay depends on it).
 */
#ifndef XB_POLICY_H
#define XB_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "iso20022/buf.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

/* ---- vocabulary (classification.md §3.2) ------------------------------------------------- */

typedef enum xb_tier { XB_TIER_GENERAL = 0, XB_TIER_IMPORTANT, XB_TIER_CORE } xb_tier;
typedef enum xb_pi { XB_PI_NONE = 0, XB_PI_PI, XB_PI_SPI } xb_pi;

/* Ordered by severity: when several rules hit, the larger value wins. */
typedef enum xb_action_kind {
    XB_ACT_PASS = 0,
    XB_ACT_MASK,
    XB_ACT_PSEUDO,
    XB_ACT_GENERALIZE,
    XB_ACT_DROP,
    XB_ACT_QUARANTINE,
    XB_ACT_BLOCK,
} xb_action_kind;

typedef enum xb_verdict {
    XB_VERDICT_DELIVER = 0,
    XB_VERDICT_QUARANTINE,
    XB_VERDICT_BLOCK,
} xb_verdict;

typedef enum xb_basis {
    XB_BASIS_NONE = 0,
    XB_BASIS_NOT_PI,
    XB_BASIS_EXEMPT_ART5_1_CONTRACT,
    XB_BASIS_EXEMPT_ART5_2_HR,
    XB_BASIS_EXEMPT_ART5_3_EMERGENCY,
    XB_BASIS_EXEMPT_ART5_4_DEMINIMIS,
    XB_BASIS_FTZ_NOT_ON_NEGATIVE_LIST,
    XB_BASIS_SCC_FILED,
    XB_BASIS_PIP_CERTIFIED,
    XB_BASIS_SEC_ASSESSMENT_APPROVED,
} xb_basis;

const char *xb_policy_tier_name(xb_tier t); /* "GENERAL" ... */
const char *xb_policy_pi_name(xb_pi p);     /* "NONE", "PI", "SPI" */
const char *xb_policy_action_name(xb_action_kind a);
const char *xb_policy_verdict_name(xb_verdict v); /* "DELIVER", "QUARANTINE", "BLOCK" */
const char *xb_policy_basis_name(xb_basis b);
/* 0 or XB_EINVAL for an unknown name. */
int xb_policy_basis_parse(xb_basis *out, const char *name);

/* ---- time: transfer times are UTC seconds; the legal calendar is Asia/Shanghai (UTC+8) ---- */

/* Parses "2026-12-31T23:59:59+08:00", "...Z", "...Z" with fraction, or a date "2026-12-31"
 * (midnight Asia/Shanghai). A time without a zone is refused: it would be ambiguous. */
int xb_policy_parse_time(int64_t *out, const char *text, xb_error *err);
/* Calendar year of t in Asia/Shanghai (China has kept UTC+8 without DST since 1991). */
int xb_policy_year_cn(int64_t t);
/* "2026-12-31T23:59:59+08:00" into buf (>= 26 bytes). */
const char *xb_policy_format_time(char *buf, size_t cap, int64_t t);

/* ---- catalogs ---------------------------------------------------------------------------- */

typedef struct xb_policy_catalog xb_policy_catalog;         /* one effective-dated version */
typedef struct xb_policy_catalog_set xb_policy_catalog_set; /* every version loaded */

typedef struct xb_policy_catalog_opts {
    /* PEM Ed25519 public key. When set, "<path>.sig" (64 raw bytes, Ed25519 over the catalog
     * file bytes) must exist and verify, else the catalog is refused. NULL: no signing.
     * The adapter reads the key file and passes its bytes in pubkey_pem (xb_catalog_store_load,
     * adapter/catalog_store.h); pubkey_path only names the key in messages. A path without
     * bytes refuses the catalog, as a bad key does. */
    const char *pubkey_path;
    const uint8_t *pubkey_pem;
    size_t pubkey_pem_len;
} xb_policy_catalog_opts;

int xb_policy_catalog_set_new(xb_policy_catalog_set **out, xb_error *err);
void xb_policy_catalog_set_free(xb_policy_catalog_set *set);

/* Loads a catalog file (all its versions) into the set. All-or-nothing: a file that fails to
 * parse, compile or verify, or whose windows overlap a loaded version of the same catalog id,
 * leaves the set exactly as it was (the catalog in force stays in force). */
int xb_policy_catalog_set_load(xb_policy_catalog_set *set, const char *path,
                               const xb_policy_catalog_opts *opts, xb_error *err);

/* The version in force at t: effective_from <= t < effective_to. catalog_id may be NULL when
 * the set holds one catalog id. XB_ENOTFOUND when none is in force. */
int xb_policy_catalog_select(const xb_policy_catalog **out, const xb_policy_catalog_set *set,
                             const char *catalog_id, int64_t t, xb_error *err);

const char *xb_policy_catalog_id(const xb_policy_catalog *cat);
const char *xb_policy_catalog_version(const xb_policy_catalog *cat);
const char *xb_policy_catalog_sha256(const xb_policy_catalog *cat); /* hex of canonical JSON */
int64_t xb_policy_catalog_effective_from(const xb_policy_catalog *cat);
int64_t xb_policy_catalog_effective_to(const xb_policy_catalog *cat); /* INT64_MAX: open */
size_t xb_policy_catalog_set_count(const xb_policy_catalog_set *set);

/* The CAC thresholds of a catalog version (distinct persons per calendar year): `scc` needs a
 * filed standard contract, `sa` a security assessment; for PI and for SPI. For /metrics. */
typedef struct xb_policy_thresholds {
    int64_t scc_pi, sa_pi, scc_spi, sa_spi;
} xb_policy_thresholds;
void xb_policy_catalog_thresholds(xb_policy_thresholds *out, const xb_policy_catalog *cat);

/* ---- destinations (config `destinations:`) ------------------------------------------------ */

typedef struct xb_policy_destinations xb_policy_destinations;
typedef struct xb_policy_destination xb_policy_destination;

/* Reads the `destinations:` mapping (name -> settings). `where` names it in errors
 * ("destinations"). Unknown keys are XB_ECONFIG naming the key. */
int xb_policy_destinations_from_tree(xb_policy_destinations **out, const json_t *tree,
                                     const char *where, xb_error *err);
void xb_policy_destinations_free(xb_policy_destinations *d);
const xb_policy_destination *xb_policy_destination_find(const xb_policy_destinations *d,
                                                        const char *name);
const char *xb_policy_destination_name(const xb_policy_destination *d);
const char *xb_policy_destination_scenario(const xb_policy_destination *d);
/* Pseudonymisation key file name "<key_id>.<epoch>.key" (the caller reads it); NULL if none. */
const char *xb_policy_destination_key_file(const xb_policy_destination *d);

/* ---- counters: a snapshot in, deltas out ------------------------------------------------- */

#define XB_POLICY_DIGEST_LEN 16

/* Answers "is this subject already counted in `year` for class (PI or SPI)?" from durable
 * state. Returns 0 with *seen set, or an error (the message is then quarantined). */
typedef int (*xb_policy_seen_fn)(void *ctx, int year, xb_pi cls,
                                 const uint8_t digest[XB_POLICY_DIGEST_LEN], bool *seen,
                                 xb_error *err);

typedef struct xb_policy_counters {
    int year;        /* must equal xb_policy_year_cn(transfer time) */
    int64_t pi, spi; /* distinct natural persons counted so far this year, institution-wide */
    xb_policy_seen_fn seen;
    void *ctx;
} xb_policy_counters;

typedef struct xb_policy_subject {
    xb_pi cls; /* XB_PI_PI or XB_PI_SPI */
    uint8_t digest[XB_POLICY_DIGEST_LEN];
} xb_policy_subject;

/* Key material, as bytes the caller read from files (policy never opens key files). */
typedef struct xb_policy_keys {
    const uint8_t *counter_key; /* HMAC key for subject digests; required */
    size_t counter_key_len;
    const uint8_t *pseudo_key; /* the destination's key for its current epoch; NULL if none */
    size_t pseudo_key_len;
} xb_policy_keys;

typedef struct xb_policy_opts {
    /* Warn at this fraction of each threshold, as per-mille (800 = 80%). 0 means 800. */
    int warn_permille;
    /* The caller rewrites the transformed tree further and validates the final message itself
     * (the settlement stage: issue #8, one XSD pass per settled copy instead of two): the policy
     * then neither validates nor serialises, and `output` stays empty. Nothing that leaves goes
     * unvalidated: the caller's check is the one that decides what may leave. */
    bool caller_validates;
    /* Lowercase hex SHA-256 of the message bytes as received, when the caller has them; NULL:
     * the SHA-256 of the canonical form (exclusive C14N) is recorded instead. */
    const char *msg_sha256;
} xb_policy_opts;

/* ---- the decision ------------------------------------------------------------------------ */

typedef struct xb_policy_field {
    char path[256];      /* /Document/FIToFICstmrCdtTrf/CdtTrfTxInf/Dbtr/Nm */
    const char *rule_id; /* catalog rule ("pacs.008:CdtTrfTxInf/Dbtr/Nm"); NULL if uncovered */
    const char *cls;     /* catalog class ("party.name") */
    xb_tier tier;
    xb_pi pi;
    int pfi;           /* JR/T 0171: 0 = n/a, 1..3 = C1..C3 */
    int level;         /* JR/T 0197: 1..5 */
    bool organisation; /* party field of an organisation (Id/OrgId): PI lifted */
    xb_action_kind action;
    char detail[96]; /* "amount_bucket", "placeholder", "redacted CN_MOB", ... */
} xb_policy_field;

typedef struct xb_policy_decision {
    xb_verdict verdict;
    char reason[320];
    char msg_sha256[65];
    bool msg_hash_of_bytes; /* true: of the bytes received; false: of the canonical form */
    char definition[32];
    char msg_id[XB_MAX35_SIZE];
    char uetr[37];
    char destination[64];
    int64_t transfer_time;
    char catalog_id[64];
    char catalog_version[32];
    char catalog_sha256[65];
    char scenario[64];
    xb_basis basis;
    char basis_ref[96];
    xb_tier tier; /* max over fields */
    xb_pi pi;     /* max over exported fields */
    int level;    /* max JR/T 0197 level */
    xb_policy_field *fields;
    size_t n_fields;
    /* Counters: year of the transfer; totals before and with this message (judged on, even when
     * the verdict stops it); new subjects, only when counted (delivered and not exempt). */
    int year;
    int64_t pi_before, spi_before, pi_after, spi_after;
    bool counted; /* false for exempt / non-PI / undelivered transfers */
    xb_policy_subject *subjects;
    size_t n_subjects;
    char warnings[4][160];
    int n_warnings;
    xb_buf output; /* transformed message (UTF-8 XML) when verdict is DELIVER */
} xb_policy_decision;

/* Classifies msg for dest at transfer_time and, when it may leave, transforms it IN PLACE and
 * serialises it into out->output (re-validated against the XSD first). A QUARANTINE or BLOCK
 * verdict is a normal result (return 0). Errors (< 0) are for broken inputs: no counter key, a
 * failing seen() callback, out of memory. out must be released with xb_policy_decision_free. */
int xb_policy_decide(xb_policy_decision *out, xb_msg *msg, const xb_policy_catalog_set *set,
                     const xb_policy_destination *dest, int64_t transfer_time,
                     const xb_policy_counters *counters, const xb_policy_keys *keys,
                     const xb_policy_opts *opts, xb_error *err);
void xb_policy_decision_free(xb_policy_decision *d);

/* The decision record (classification.md §3.5). New reference. */
json_t *xb_policy_decision_to_json(const xb_policy_decision *d);
/* The same record as canonical JSON text (sorted keys, compact: the bytes jansson's
 * JSON_SORT_KEYS|JSON_COMPACT dump of xb_policy_decision_to_json gives), appended to out
 * without building a tree (record.c; issue #8). 0 or XB_ENOMEM. */
int xb_policy_decision_write_json(xb_buf *out, const xb_policy_decision *d);
/* That text inside a JSON string, to be put under "decision" in an element of a record's
 * "outcomes" and written by xb_policy_record_write. New reference. */
json_t *xb_policy_decision_json_text(const xb_policy_decision *d);
/* Canonical JSON (as above) of a record envelope, appended to out: like json_dumps with
 * JSON_SORT_KEYS|JSON_COMPACT, except that in an element of "outcomes" a "decision" or
 * "settlement" string holding an object's JSON text (xb_policy_decision_json_text, the settlement
 * stage's details) is written as the JSON it holds. 0, XB_EINVAL or XB_ENOMEM. */
int xb_policy_record_write(xb_buf *out, const json_t *record);
/* s (n bytes) appended to out as a JSON string, escaped exactly as jansson's compact dump escapes
 * it; invalid UTF-8 becomes U+FFFD (record.c). For other canonical text that goes into a record.
 * 0 or XB_ENOMEM. */
int xb_policy_json_string(xb_buf *out, const char *s, size_t n);
/* Frees what the calling thread remembers of the message shapes it wrote records for (record.c;
 * a thread's is freed when it ends). For tests, and for a main thread before it exits. */
void xb_policy_record_cleanup(void);
/* Records the calling thread wrote from a remembered shape since its last cleanup (tests). */
unsigned long xb_policy_record_memo_hits(void);
/* Called once per field a decision record names: its path (NULL when the record does not give
 * it whole: a malformed entry, a short entry whose message has no "path_roots"), its rule (NULL
 * for a field no rule covers) and the JSON object holding its labels and "action" (its group;
 * in format 1 the field's own object). */
typedef void (*xb_policy_record_field_fn)(void *ctx, const char *path, const char *rule,
                                          const json_t *labels);
/* Walks the fields of a decision record of any format (record.c: 1 "fields", 2 groups of [path,
 * rule], 3 groups of [rule, base, rest...] entries, 4 the same with the short forms and
 * "path_roots") in the order written. Returns the number of fields. */
size_t xb_policy_record_fields(const json_t *decision, xb_policy_record_field_fn fn, void *ctx);
/* A readable table: path -> labels -> action, then the verdict line. */
void xb_policy_decision_print_table(const xb_policy_decision *d, FILE *out);

#endif
