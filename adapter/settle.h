/* settle.h — the renminbi settlement leg of an outbound pacs.008 / pacs.009 (issue #5).
 *
 * Owns: a route's `settle:` options (parsed from its YAML subtree), and the settlement transform
 * of a parsed message: CNH relabelling (opt-in), conversion of every foreign-currency
 * IntrBkSttlmAmt into CNY at the CFETS central parity of its settlement date (the original kept as
 * InstdAmt, the rate as XchgRate), recomputed group totals (NbOfTxs, TtlIntrBkSttlmAmt, CtrlSum),
 * SttlmInf (SttlmMtd, ClrSys/Cd = CIP), agents' ClrSysMmbId (CNCIP / CNAPS) from configuration,
 * the route's purpose / BoP / leasing requirements, and the re-validation (XSD + ISO rules) of the
 * settled message. The details it returns are what the decision record carries.
 * Never: guesses a rate (a missing rate quarantines), uses float/double, performs I/O other than
 * reading the rates file/topic it is told about (xb_settle_rates_load), or lets a message that
 * fails the XSD or the rules after settlement out (it is quarantined instead).
 *
 * Verdicts: a message that is invalid as received (XSD, rules, CNH without map_cnh, CNY with more
 * than 2 decimals) is XB_SETTLE_INVALID; one that is valid but cannot be settled (missing rate,
 * missing settlement date, required purpose/BoP/leasing fields absent, a CNY amount that no longer
 * fits 18 digits, a cross-currency instruction) is XB_SETTLE_QUARANTINE.
 */
#ifndef XB_SETTLE_H
#define XB_SETTLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "iso20022/amount.h"
#include "iso20022/buf.h"
#include "iso20022/error.h"
#include "iso20022/message.h"
#include "valuation/fx.h"

#define XB_SETTLE_MAX_AGENTS 64
#define XB_SETTLE_MAX_CODES 32
#define XB_SETTLE_MAX_FIELDS 16

/* One agent's clearing identities, matched on its BICFI (8-character BICs match "XXX" branches). */
typedef struct xb_settle_agent {
    char bic[12];
    char cips[36];  /* CIPS participant id: ClrSysMmbId with ClrSysId/Cd = CNCIP */
    char cnaps[13]; /* 12-digit CNAPS bank code: ClrSysId/Cd = CNAPS */
} xb_settle_agent;

typedef struct xb_settle_opts {
    char currency[4];     /* "CNY": the only settlement currency this stage supports */
    char clearing[5];     /* "CIP" or "" (SttlmInf/ClrSys untouched) */
    char method[5];       /* SttlmMtd to set ("CLRG", "INDA", "INGA", "COVE"), "" = keep */
    xb_rounding rounding; /* default half-up */
    bool map_cnh;         /* relabel upstream CNH as CNY before validation */

    char rates_file[512];   /* rates.file (relative paths are relative to the config file) */
    char rates_topic[256];  /* rates.topic: a Kafka topic of CSV fixings */
    char rate_source[64];   /* label recorded in the decision (default "CFETS central parity") */
    char status_topic[256]; /* status_topic: pacs.002 produced here on delivery outcomes */

    size_t n_agents;
    xb_settle_agent agents[XB_SETTLE_MAX_AGENTS];

    bool require_purpose;   /* purpose.required: Purp/Cd (or Prtry) on every transaction */
    size_t n_purpose_codes; /* purpose.codes: when non-empty, Purp/Cd must be one of them */
    char purpose_codes[XB_SETTLE_MAX_CODES][36];

    bool require_bop;   /* bop.required: RgltryRptg/Dtls/Cd, a 6-digit BoP code (pacs.008) */
    size_t n_bop_codes; /* bop.codes: when non-empty, the code must be one of them */
    char bop_codes[XB_SETTLE_MAX_CODES][11];

    char leasing_purpose[36]; /* leasing.purpose: Purp/Cd that identifies a leasing transfer */
    size_t n_leasing_fields;  /* leasing.requires: element paths relative to the transaction */
    char leasing_fields[XB_SETTLE_MAX_FIELDS][128];
} xb_settle_opts;

/* Defaults: currency CNY, rounding half-up, everything else off. */
void xb_settle_opts_init(xb_settle_opts *opts);

/* Parses a route's `settle:` subtree (from adapter/yaml_tree.h). `where` is its dotted key
 * ("routes[0].settle"); errors are XB_ECONFIG with err->path naming the exact key. Unknown keys
 * are refused. */
int xb_settle_opts_from_tree(xb_settle_opts *out, const json_t *tree, const char *where,
                             xb_error *err);

typedef enum xb_settle_verdict {
    XB_SETTLE_SETTLED = 0, /* changed and re-validated: may leave */
    XB_SETTLE_UNCHANGED,   /* already settled as the route wants: byte-identical, may leave */
    XB_SETTLE_INVALID,     /* the message as received is invalid */
    XB_SETTLE_QUARANTINE,  /* valid, but cannot be settled: park it */
} xb_settle_verdict;

const char *xb_settle_verdict_name(xb_settle_verdict v);

/* What happened to one transaction. */
typedef struct xb_settle_tx {
    char uetr[37];
    char end_to_end_id[XB_MAX35_SIZE];
    char tx_id[XB_MAX35_SIZE];
    char counterparty[XB_MAX35_SIZE]; /* instructed agent (tx, else group) BICFI or member id */
    char sttlm_date[11];              /* the date whose rate was used */
    xb_amount original;               /* IntrBkSttlmAmt as received (after any CNH relabel) */
    xb_amount settled;                /* IntrBkSttlmAmt as sent: CNY */
    xb_dec rate;                      /* CNY per ONE unit of original.ccy (1 when already CNY) */
    bool converted;                   /* false when the transaction was already in CNY */
    bool instd_amt_added;             /* InstdAmt was created from the original amount */
    char purpose[XB_MAX35_SIZE];      /* Purp/Cd or Prtry, "" if none */
    bool leasing;
} xb_settle_tx;

typedef struct xb_settle_details {
    xb_settle_verdict verdict;
    char definition[20]; /* "pacs.008.001.08" */
    char msg_id[XB_MAX35_SIZE];
    size_t n_tx;
    xb_settle_tx *tx; /* owned */
    xb_amount total;  /* TtlIntrBkSttlmAmt after settlement (CNY) */
    xb_rounding rounding;
    char rate_source[64];
    char currency[4];
    int cnh_relabelled;    /* how many Ccy="CNH" attributes were relabelled CNY */
    bool clearing_set;     /* SttlmInf/ClrSys/Cd was written */
    int agents_identified; /* ClrSysMmbId elements written */
    char reason[512];      /* why INVALID / QUARANTINE */
    char reason_path[512];
} xb_settle_details;

void xb_settle_details_free(xb_settle_details *d);

/* Settles msg in place for a route. fx may be NULL only if every transaction is already CNY.
 * Returns 0 for SETTLED/UNCHANGED; otherwise a negative code with out->verdict INVALID or
 * QUARANTINE and err/out->reason saying why (err->path at the offending element). The message
 * must not be sent unless 0 is returned. out is always filled as far as processing got; free it
 * with xb_settle_details_free in every case. */
int xb_settle_message(xb_settle_details *out, xb_msg *msg, const xb_settle_opts *opts,
                      const xb_fx_table *fx, xb_error *err);

/* Flags for xb_settle_message_ex. */
enum {
    /* msg's Document has not been validated against its XSD since it was last changed (the
     * pipeline: xb_policy_decide with caller_validates transforms it and leaves the check to this
     * stage, issue #8). The Document is then validated once, after the rewrite, instead of as
     * received and again after. As received only the AppHdr (if any) and the business rules are
     * checked; when they or the read pass refuse the message, the Document is validated at that
     * point, so that one which fails its XSD is reported as such (INVALID as received, the XSD's
     * message), exactly as without the flag. The read pass is safe on any tree the parser
     * accepts (fuzz_settle). */
    XB_SETTLE_DOCUMENT_UNCHECKED = 1u << 0,
};

/* xb_settle_message with flags (0 = the same as xb_settle_message). */
int xb_settle_message_ex(xb_settle_details *out, xb_msg *msg, const xb_settle_opts *opts,
                         const xb_fx_table *fx, unsigned flags, xb_error *err);

/* The details as a JSON object for the decision record and the CLI's stderr (new reference). */
json_t *xb_settle_details_json(const xb_settle_details *d);
/* The same object with "route" (when not NULL) as canonical JSON text, appended to out: the bytes
 * jansson's JSON_SORT_KEYS|JSON_COMPACT dump of it gives, without building a tree (issue #8).
 * A string that is not UTF-8 (a value cut short in its fixed-size field) is written with U+FFFD;
 * json_pack refuses it, so the tree loses that transaction (or is NULL). 0 or XB_ENOMEM. */
int xb_settle_details_write_json(xb_buf *out, const xb_settle_details *d, const char *route);

/* Loads the route's rates into a new table: opts->rates_file (relative to base_dir when not
 * absolute; base_dir may be NULL). Topic sources are read by xb_settle_rates_from_topic. */
int xb_settle_rates_load(xb_fx_table **out, const xb_settle_opts *opts, const char *base_dir,
                         xb_error *err);

/* Reads a whole Kafka topic of CSV fixings (every partition from the beginning to its current
 * end, each record value a CSV buffer) into t. bootstrap is "host:port"; timeout_ms bounds the
 * whole read. */
int xb_settle_rates_from_topic(xb_fx_table *t, const char *bootstrap, const char *topic,
                               int timeout_ms, xb_error *err);

/* Called once per record by xb_settle_topic_read; name is "topic[partition]@offset". A negative
 * return stops the read with that error. */
typedef int (*xb_settle_record_fn)(void *ctx, const char *data, size_t len, const char *name,
                                   xb_error *err);

/* Reads every record of every partition of topic, from the beginning to the end offsets seen at
 * the start, with a short-lived consumer that commits nothing. timeout_ms bounds the whole read. */
int xb_settle_topic_read(const char *bootstrap, const char *topic, int timeout_ms,
                         xb_settle_record_fn cb, void *ctx, xb_error *err);

#endif
