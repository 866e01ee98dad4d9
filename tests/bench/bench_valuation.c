/* bench_valuation.c — a semt.003.001.12 statement with 10,000 holdings, valued end to end
 * (parse + XSD validation + extraction + pricing + FX + NAV + reda.001 write + XSD check),
 * against parsing the same bytes alone, in the same run.
 *
 * Prints: BENCH parse_10k_holdings <ms> ms, BENCH valuation_10k_holdings <ms> ms,
 *         RATIO valuation_vs_parse <x>. The best of several rounds is kept for each.
 * Never: a test; it asserts only that the valuation succeeded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/progress.h"
#include "iso20022/buf.h"
#include "iso20022/message.h"
#include "iso20022/schema.h"
#include "valuation/valuation.h"

#define N_HOLDINGS 10000
#define ROUNDS 5

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6; /* timing only, never money */
}

/* Holding i: a CNY A-share, an HKD H-share or a USD bond-like unit, prices with 2-4 decimals. */
static void holding(xb_buf *b, int i)
{
    static const char *ccy[] = {"CNY", "HKD", "USD"};
    const char *c = ccy[i % 3];
    xb_buf_printf(b,
                  "<BalForAcct><FinInstrmId><ISIN>CNB%08d%d</ISIN><Desc>证券 %d</Desc>"
                  "</FinInstrmId><AggtBal><ShrtLngInd>LONG</ShrtLngInd><Qty><Qty><Qty>"
                  "<Unit>%d</Unit></Qty></Qty></Qty></AggtBal><PricDtls><Tp><Cd>MRKT</Cd></Tp>"
                  "<Val><Amt Ccy=\"%s\">%d.%04d</Amt></Val><ValTp><Yldd>false</Yldd></ValTp>"
                  "</PricDtls><AcctBaseCcyAmts><HldgVal><Amt Ccy=\"CNY\">0</Amt><Sgn>true</Sgn>"
                  "</HldgVal></AcctBaseCcyAmts></BalForAcct>\n",
                  i, i % 10, i, 100 + (i * 37) % 100000, c, 1 + (i * 13) % 200, (i * 7919) % 10000);
}

static void statement(xb_buf *b)
{
    xb_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:"
                   "20022:tech:xsd:semt.003.001.12\"><SctiesBalAcctgRpt><Pgntn><PgNb>1</PgNb>"
                   "<LastPgInd>true</LastPgInd></Pgntn><StmtGnlDtls><StmtDtTm><Dt>2025-01-02</Dt>"
                   "</StmtDtTm><Frqcy><Cd>DAIL</Cd></Frqcy><UpdTp><Cd>COMP</Cd></UpdTp><StmtBsis>"
                   "<Cd>TRAD</Cd></StmtBsis><ActvtyInd>true</ActvtyInd><AudtdInd>false</AudtdInd>"
                   "<SubAcctInd>false</SubAcctInd></StmtGnlDtls><SfkpgAcct><Id>BENCH-10K</Id>"
                   "</SfkpgAcct>\n");
    for (int i = 0; i < N_HOLDINGS; i++)
        holding(b, i);
    xb_buf_puts(b, "</SctiesBalAcctgRpt></Document>\n");
}

static void fund(xb_fund *f)
{
    xb_error err;
    xb_fund_init(f);
    strcpy(f->id, "BENCH-10K");
    strcpy(f->base_ccy, "CNY");
    xb_fund_class a, u;
    memset(&a, 0, sizeof a);
    strcpy(a.id, "A-CNY");
    strcpy(a.isin, "CNE1000XB001");
    strcpy(a.ccy, "CNY");
    xb_dec_parse_cstr(&a.units, "500000000", &err);
    xb_dec_parse_cstr(&a.mgmt_fee_pa, "0.0120", &err);
    xb_dec_parse_cstr(&a.custody_fee_pa, "0.0020", &err);
    a.day_count = 365;
    a.days = 1;
    a.cum_dividend = true;
    u = a;
    strcpy(u.id, "I-USD");
    strcpy(u.isin, "CNE1000XB019");
    strcpy(u.ccy, "USD");
    xb_dec_parse_cstr(&u.units, "20000000", &err);
    xb_fund_add_class(f, &a, &err);
    xb_fund_add_class(f, &u, &err);
}

static double parse_only(const xb_buf *stmt)
{
    xb_parse_limits lim = XB_HOLDINGS_LIMITS_DEFAULT;
    xb_error err;
    xb_msg *msg = NULL;
    double t0 = now_ms();
    if (xb_msg_parse(&msg, stmt->data, stmt->len, &lim, &err)) {
        fprintf(stderr, "parse failed: %s\n", err.message);
        exit(1);
    }
    double t = now_ms() - t0;
    xb_msg_free(msg);
    return t;
}

/* *stage = the share spent reading the statement (parse + XSD + extraction). */
static double end_to_end(const xb_buf *stmt, const xb_fund *f, const xb_fx_table *fx,
                         size_t *out_len, double *stage)
{
    xb_error err;
    xb_holdings h;
    xb_buf out = XB_BUF_INIT;
    double t0 = now_ms();
    int rc = xb_holdings_parse(&h, stmt->data, stmt->len, NULL, true, &err);
    double t1 = now_ms();
    if (rc || xb_valuation_run(&out, f, &h, NULL, fx, "2025-01-02", NULL, &err)) {
        fprintf(stderr, "valuation failed: %s %s\n", err.message, err.path);
        exit(1);
    }
    double t = now_ms() - t0;
    *stage = t1 - t0;
    *out_len = out.len;
    xb_holdings_free(&h);
    xb_buf_free(&out);
    return t;
}

int main(void)
{
    xb_buf stmt = XB_BUF_INIT;
    statement(&stmt);
    xb_fund f;
    fund(&f);
    xb_fx_table *fx = NULL;
    xb_error err;
    const char *rates = "2025-01-02,USD,7.1879\n2025-01-02,HKD,0.92604\n";
    if (xb_fx_new(&fx, &err) || xb_fx_load_buffer(fx, rates, strlen(rates), "bench", &err))
        return 1;
    size_t report_len = 0;
    double stage = 0, best_stage = 1e18;
    end_to_end(&stmt, &f, fx, &report_len, &stage); /* warm-up: compiles the XSDs once */
    double best_parse = 1e18, best_val = 1e18;
    xb_progress prog; /* on a terminal only: piped BENCH lines stay clean */
    xb_progress_start(&prog, "bench_valuation", "rounds", ROUNDS);
    for (int r = 0; r < ROUNDS; r++) {
        xb_progress_update(&prog, (uint64_t)r);
        double p = parse_only(&stmt), v = end_to_end(&stmt, &f, fx, &report_len, &stage);
        best_parse = p < best_parse ? p : best_parse;
        if (v < best_val) {
            best_val = v;
            best_stage = stage;
        }
    }
    xb_progress_finish(&prog, ROUNDS);
    printf("BENCH statement_bytes %zu bytes\n", stmt.len);
    printf("BENCH parse_10k_holdings %.2f ms\n", best_parse);
    printf("BENCH valuation_10k_holdings %.2f ms\n", best_val);
    printf("BENCH valuation_10k_read_statement %.2f ms\n", best_stage);
    printf("BENCH valuation_10k_nav_and_report %.2f ms\n", best_val - best_stage);
    printf("RATIO valuation_vs_parse %.2f\n", best_val / best_parse);
    xb_fx_free(fx);
    xb_fund_free(&f);
    xb_buf_free(&stmt);
    xb_schema_cleanup();
    return 0;
}
