/* holdings.h — a fund's holdings read from a semt.003 statement (v04, v11 or v12).
 *
 * Owns: the xb_holdings list (per balance: instrument id, signed quantity, the statement's
 * price or market value with its currency, accrued income) and its extraction from a parsed,
 * XSD-valid semt.003 Document.
 * Never: values anything (nav.c does), looks up prices or rates, or accepts a statement that
 * failed XSD validation.
 */
#ifndef XB_VAL_HOLDINGS_H
#define XB_VAL_HOLDINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "iso20022/amount.h"
#include "iso20022/error.h"
#include "iso20022/message.h"

typedef enum xb_qty_kind {
    XB_QTY_UNIT,     /* number of units: value = units × price */
    XB_QTY_FACE,     /* face amount: value = face × price rate / 100 */
    XB_QTY_AMORTISED /* amortised value: as face */
} xb_qty_kind;

typedef enum xb_stmt_price_kind {
    XB_STMT_PRICE_NONE,   /* UknwnInd, or no usable price */
    XB_STMT_PRICE_AMOUNT, /* price per unit in price_ccy */
    XB_STMT_PRICE_RATE    /* percentage of face (bonds); currency from the denomination */
} xb_stmt_price_kind;

typedef struct xb_holding {
    char instrument[36]; /* ISIN, else the first OthrId/Id: key into the price table */
    char isin[13];
    char desc[141];
    xb_dec quantity; /* negative for a short position (ShrtLngInd SHOR) */
    xb_qty_kind qty_kind;
    xb_stmt_price_kind price_kind;
    xb_dec price;
    char price_ccy[4];      /* for AMOUNT; for RATE the denomination currency or "" */
    bool has_market_value;  /* InstrmCcyAmts/HldgVal: value in the instrument's currency */
    xb_amount market_value; /* signed value */
    bool has_accrued;       /* AcrdIntrstAmt (instrument currency first, else base) */
    xb_amount accrued;      /* signed value */
    char path[96];          /* /Document/SctiesBalAcctgRpt/BalForAcct[3], for messages */
} xb_holding;

typedef struct xb_holdings {
    char definition[16]; /* "semt.003.001.12" */
    char stmt_date[11];  /* StmtDtTm as YYYY-MM-DD */
    char account[36];    /* SfkpgAcct/Id or "" */
    size_t n;
    xb_holding *items;
} xb_holdings;

/* Default parse limits for statements: 10,000 holdings are some 8 MiB of XML. */
#define XB_HOLDINGS_LIMITS_DEFAULT                                                                 \
    {                                                                                              \
        256u * 1024u * 1024u, 64                                                                   \
    }

/* Extracts holdings from a parsed semt.003 (XB_EUNSUPPORTED for any other message). Does not
 * validate; xb_holdings_parse does. */
int xb_holdings_from_msg(xb_holdings *out, const xb_msg *msg, xb_error *err);

/* Parses buf, XSD-validates the Document (unless validate is false: the benchmark's baseline
 * only), and extracts. lim NULL = XB_HOLDINGS_LIMITS_DEFAULT. */
int xb_holdings_parse(xb_holdings *out, const char *buf, size_t len, const xb_parse_limits *lim,
                      bool validate, xb_error *err);
int xb_holdings_load_file(xb_holdings *out, const char *path, xb_error *err);

void xb_holdings_free(xb_holdings *h);

#endif
