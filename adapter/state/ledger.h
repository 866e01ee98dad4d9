/* ledger.h — the settlement ledger: one durable row per transfer (UETR) and its status history.
 *
 * Owns: the ledger section of the state store (tables settlement_ledger, settlement_events,
 * settlement_unmatched), the status machine
 *     SENT -> ACSP -> ACSC -> ACCC        (any of them may be skipped)
 *     SENT | ACSP -> RJCT (with reason)
 * (ACCC and RJCT are final; a later contradicting status is kept in the history as "refused"
 * and never overwrites), ingest of pacs.002 reports, and the per-day settlement report.
 * Amounts are stored as exact decimal text and summed with xb_dec, never in SQL.
 * Never: decides whether a message may leave, or deletes history.
 */
#ifndef XB_LEDGER_H
#define XB_LEDGER_H

#include <jansson.h>
#include <stddef.h>

#include "adapter/settle.h"
#include "adapter/state/store.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

/* A ledger row's key: the UETR, else "msg_id/end_to_end_id" (two Max35Text values). */
#define XB_LEDGER_KEY_SIZE (2 * XB_MAX35_SIZE)

typedef enum xb_ledger_outcome {
    XB_LEDGER_APPLIED = 0, /* the status changed */
    XB_LEDGER_SAME,        /* the transfer already had this status (redelivery) */
    XB_LEDGER_REFUSED,     /* not a legal transition (e.g. RJCT after ACCC): history only */
    XB_LEDGER_UNMATCHED,   /* no transfer with this UETR / message id: kept as unmatched */
} xb_ledger_outcome;

const char *xb_ledger_outcome_name(xb_ledger_outcome o);

/* Records every transaction of a settled message as SENT to destination, in one transaction.
 * A transfer already in the ledger (a redelivery) keeps its row and status. Durable on return. */
int xb_settle_ledger_record_sent(xb_store *st, const xb_settle_details *d, const char *destination,
                                 xb_error *err);

/* The same for n settled messages (ds[k] sent to destinations[k]) in one transaction: one commit
 * instead of n (issue #8: a commit per message was a tenth of a settled message's CPU). All or
 * none are recorded. */
int xb_settle_ledger_record_sent_many(xb_store *st, const xb_settle_details *const *ds,
                                      const char *const *destinations, size_t n, xb_error *err);

/* Applies one status to a transfer (uetr; for transfers without one, the key the ledger gave it:
 * "MSGID/E2EID"). reason may be NULL. source says where it came from ("pacs.002 MSGID",
 * "destination hk-correspondent"). */
int xb_settle_ledger_set_status(xb_ledger_outcome *out, xb_store *st, const char *uetr,
                                const char *status, const char *reason, const char *source,
                                xb_error *err);

/* One status for one transfer, as xb_settle_ledger_set_status takes it. */
typedef struct xb_ledger_update {
    const char *key, *status, *reason, *source;
} xb_ledger_update;

/* Applies n statuses in order, in one transaction (group commit: the delivery outcomes of a
 * commit interval cost one durable commit, not one each). Same outcome per row as n calls of
 * xb_settle_ledger_set_status; on an error nothing of the batch is applied. */
int xb_settle_ledger_set_statuses(xb_store *st, const xb_ledger_update *u, size_t n, xb_error *err);

/* Applies every status row of a parsed pacs.002 (group-level rows to every transfer of the
 * original message). Counts go to the out parameters (any may be NULL). One transaction. */
int xb_settle_ledger_apply_status(size_t *applied, size_t *unmatched, size_t *refused, xb_store *st,
                                  const xb_msg *pacs002, xb_error *err);

/* The report for one interbank settlement date (YYYY-MM-DD):
 *   {"date", "currency":"CNY", "counterparties":[{"counterparty", "transfers", "cny_total",
 *    "by_status":{"SENT":{"count","cny"},...}}], "totals":{...same...},
 *    "pending":[{uetr,counterparty,status,cny,sent_at}], "rejected":[{...,reason}],
 *    "unmatched":[{uetr,orgnl_msg_id,end_to_end_id,status,reason,received_at}],
 *    "balanced": true|false}
 * balanced: per counterparty and overall, the per-status CNY sums add up to the totals, and the
 * counterparties add up to the grand total. */
int xb_settle_ledger_report(json_t **out, xb_store *st, const char *date, xb_error *err);

/* Current status of a transfer into status[8] (XB_ENOTFOUND when unknown). */
int xb_settle_ledger_status(char status[8], xb_store *st, const char *uetr, xb_error *err);

#endif
