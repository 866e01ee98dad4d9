/* rules.h — ISO 20022 business rules that XSD validation cannot express.
 *
 * Owns: ISO 4217 codes and minor units on every amount, the CNH hint, the commodity-currency
 * ban in payments (CBPR+ R41), BAH MsgDefIdr == Document definition, UETR v4 format,
 * group-header totals (NbOfTxs, CtrlSum, TtlIntrBkSttlmAmt = sum of transactions).
 * Never: validates against the XSD (schema.h does) or decides policy.
 */
#ifndef XB_RULES_H
#define XB_RULES_H

#include "iso20022/error.h"
#include "iso20022/message.h"

/* XB_ERULE with err->path at the first offending element. Checks, in order: BAH MsgDefIdr;
 * every Ccy attribute in the Document (active ISO 4217, CNH refused with "use CNY"; in payments
 * pacs/pain/camt also no commodity currency and at most the currency's minor units of
 * significant fraction digits; fund messages reda/semt quote NAVs with more decimals, so only the
 * code is checked there); every UETR/OrgnlUETR; pacs.008/009 NbOfTxs and TtlIntrBkSttlmAmt (same
 * currency, exact sum); pain.001 NbOfTxs and CtrlSum at group and PmtInf level. */
int xb_rules_check(const xb_msg *msg, xb_error *err);

/* 1 if s is a lowercase UUID v4 as ISO's UUIDv4Identifier requires. */
int xb_rules_is_uetr(const char *s);

#endif
