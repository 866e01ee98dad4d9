/* ledger_schema.h — the settlement ledger's tables, one definition for every backend.
 *
 * Owns: the DDL text. ledger.c runs it before each public call (idempotent); store_pg.c also runs
 * it under its schema lock so that instances starting together do not race on CREATE TABLE.
 * Never: anything but constant SQL.
 */
#ifndef XB_LEDGER_SCHEMA_H
#define XB_LEDGER_SCHEMA_H

#include <stddef.h>

static const char *const xb_ledger_ddl[] = {
    "CREATE TABLE IF NOT EXISTS settlement_ledger ("
    " uetr TEXT PRIMARY KEY, msg_id TEXT NOT NULL, msg_def TEXT NOT NULL,"
    " end_to_end_id TEXT NOT NULL, tx_id TEXT NOT NULL, counterparty TEXT NOT NULL,"
    " destination TEXT NOT NULL, sttlm_date TEXT NOT NULL, orig_ccy TEXT NOT NULL,"
    " orig_amount TEXT NOT NULL, cny_amount TEXT NOT NULL, rate TEXT NOT NULL,"
    " rate_source TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
    " sent_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS settlement_ledger_date ON settlement_ledger(sttlm_date)",
    "CREATE INDEX IF NOT EXISTS settlement_ledger_msg ON settlement_ledger(msg_id)",
    "CREATE TABLE IF NOT EXISTS settlement_events ("
    " uetr TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL,"
    " outcome TEXT NOT NULL, at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS settlement_events_uetr ON settlement_events(uetr)",
    "CREATE TABLE IF NOT EXISTS settlement_unmatched ("
    " uetr TEXT NOT NULL, orgnl_msg_id TEXT NOT NULL, end_to_end_id TEXT NOT NULL,"
    " status TEXT NOT NULL, reason TEXT NOT NULL, sttlm_date TEXT NOT NULL, source TEXT NOT NULL,"
    " at TEXT NOT NULL, UNIQUE (uetr, orgnl_msg_id, end_to_end_id, status, source))",
};

#define XB_LEDGER_DDL_COUNT (sizeof xb_ledger_ddl / sizeof xb_ledger_ddl[0])

#endif
