/* keys.h — the key fields the adapter needs from a payment or fund message.
 *
 * Owns: extraction of message id, creation time, and per transaction the UETR, end-to-end id,
 * settlement amount/currency/date, instructing and instructed agents.
 * Never: validates (call schema/rules first) or allocates per field beyond the tx array.
 */
#ifndef XB_KEYS_H
#define XB_KEYS_H

#include <stddef.h>

#include "iso20022/amount.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

typedef struct xb_tx_keys {
    char uetr[37];
    char end_to_end_id[XB_MAX35_SIZE];
    char tx_id[XB_MAX35_SIZE];
    xb_amount sttlm_amt; /* IntrBkSttlmAmt (pacs), InstdAmt/Amt (pain), Amt (camt entries) */
    int has_sttlm_amt;
    char sttlm_date[11];           /* YYYY-MM-DD or "" */
    char instg_agt[XB_MAX35_SIZE]; /* BICFI or ClrSysMmbId/MmbId */
    char instd_agt[XB_MAX35_SIZE];
} xb_tx_keys;

typedef struct xb_msg_keys {
    char msg_id[XB_MAX35_SIZE];
    char cre_dt_tm[36];
    size_t n_tx;
    xb_tx_keys *tx; /* n_tx entries, owned */
} xb_msg_keys;

/* One tx per: CdtTrfTxInf (pacs.008/009, pain.001 across PmtInf), TxInfAndSts (pacs.002: the
 * Orgnl* ids and OrgnlTxRef amount), Ntry (camt.053/054: ids from the first TxDtls/Refs),
 * PricValtnDtls (reda.001: tx_id = ISIN, amount = NAV per unit as written, date = NAV date),
 * BalForAcct (semt.003: tx_id = ISIN, amount = holding value). msg_id/cre_dt_tm come from the
 * body (GrpHdr, MsgId, StmtGnlDtls), else from the BAH. Agents fall back to the group header. */
int xb_keys_extract(xb_msg_keys *out, const xb_msg *msg, xb_error *err);
void xb_keys_free(xb_msg_keys *keys);

#endif
