/* pacs002.h — pacs.002.001.10 FIToFIPaymentStatusReport: building one and reading one.
 *
 * Owns: the builder of a status report for transfers we sent (ACSC / ACCC / ACSP / RJCT with a
 * reason, original message id and name, UETR, end-to-end id), laid out the CBPR+ way
 * (OrgnlGrpInf inside each TxInfAndSts), and the reader that turns a received pacs.002 into
 * per-transaction status rows (group-level statuses become rows with group_level set).
 * Never: decides what a status means for a ledger (adapter/state does), or touches the network.
 */
#ifndef XB_PACS002_H
#define XB_PACS002_H

#include <stdbool.h>
#include <stddef.h>

#include "iso20022/amount.h"
#include "iso20022/buf.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

/* One transaction's status. Strings may be NULL when optional. */
typedef struct xb_pacs002_tx_status {
    const char *orgnl_instr_id;
    const char *orgnl_end_to_end_id;
    const char *orgnl_tx_id;
    const char *orgnl_uetr;        /* lowercase UUID v4 */
    const char *status;            /* ACSC, ACCC, ACSP or RJCT (required) */
    const char *reason_code;       /* ExternalStatusReason1Code, e.g. AC04; required for RJCT */
    const char *reason_info;       /* AddtlInf, at most 105 characters */
    const xb_amount *orgnl_amount; /* OrgnlTxRef/IntrBkSttlmAmt, optional */
    const char *orgnl_sttlm_date;  /* OrgnlTxRef/IntrBkSttlmDt, optional */
} xb_pacs002_tx_status;

typedef struct xb_pacs002_report {
    const char *msg_id;        /* required, at most 35 characters */
    const char *cre_dt_tm;     /* ISODateTime; NULL = now, UTC */
    const char *instg_agt_bic; /* optional GrpHdr agents */
    const char *instd_agt_bic;
    const char *orgnl_msg_id;    /* required */
    const char *orgnl_msg_nm_id; /* required, e.g. "pacs.008.001.08" */
    const char *orgnl_cre_dt_tm; /* optional */
    size_t n_tx;                 /* at least 1 */
    const xb_pacs002_tx_status *tx;
} xb_pacs002_report;

/* True for the four statuses the builder writes. */
bool xb_pacs002_is_status(const char *s);

/* Writes a UTF-8 XML pacs.002.001.10 Document into out (appended). XB_EINVAL naming the field
 * when a required value is missing or too long. The result is XSD-valid for valid inputs. */
int xb_pacs002_build(xb_buf *out, const xb_pacs002_report *r, xb_error *err);

/* One status row read from a received pacs.002. */
typedef struct xb_pacs002_status {
    char orgnl_msg_id[XB_MAX35_SIZE];
    char orgnl_msg_nm_id[XB_MAX35_SIZE];
    char orgnl_end_to_end_id[XB_MAX35_SIZE];
    char orgnl_tx_id[XB_MAX35_SIZE];
    char orgnl_uetr[37];
    char status[8]; /* TxSts, or GrpSts for group-level rows (longer text never fits a code) */
    char reason_code[XB_MAX35_SIZE]; /* StsRsnInf/Rsn/Cd or Prtry */
    char reason_info[XB_MAX105_SIZE];
    char orgnl_sttlm_date[11]; /* OrgnlTxRef/IntrBkSttlmDt, "" when absent */
    bool group_level;          /* applies to every transaction of orgnl_msg_id */
} xb_pacs002_status;

/* Reads every TxInfAndSts (and OrgnlGrpInfAndSts with a GrpSts) of a parsed pacs.002.
 * XB_EINVAL when msg is not a pacs.002. *out (caller frees) may be NULL when *n is 0. */
int xb_pacs002_read(xb_pacs002_status **out, size_t *n, const xb_msg *msg, xb_error *err);

#endif
