/* report.c — aggregation into report.json and the self-contained report.html (see report.h).
 *
 * Owns: the report's JSON shape, the Asia/Shanghai day of a transfer, and the HTML/SVG drawing
 * (integer arithmetic only; every string from a record is HTML-escaped).
 * Never: emits <script>, external URLs, fonts or images; reads anything but its inputs.
 */
#include "adapter/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "adapter/policy/policy.h"

struct xb_report {
    json_t *countries; /* destination -> country */
    json_t *run;
    json_t *totals, *by_dest, *by_verdict, *by_basis, *by_day, *dlq, *subjects;
    json_t *mismatch_rows;
    unsigned long long mismatches, replayed;
    json_t *chain;
};

static void inc(json_t *obj, const char *key, json_int_t n)
{
    json_t *v = json_object_get(obj, key);
    if (v)
        json_integer_set(v, json_integer_value(v) + n);
    else
        json_object_set_new(obj, key, json_integer(n));
}

static json_t *child(json_t *obj, const char *key)
{
    json_t *c = json_object_get(obj, key);
    if (!c) {
        c = json_object();
        json_object_set_new(obj, key, c);
    }
    return c;
}

int xb_report_new(xb_report **out, xb_error *err)
{
    xb_report *r = calloc(1, sizeof *r);
    if (!r)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    r->countries = json_object();
    r->run = json_object();
    r->totals = json_pack("{sI,sI}", "records", (json_int_t)0, "outcomes", (json_int_t)0);
    r->by_dest = json_object();
    r->by_verdict = json_object();
    r->by_basis = json_object();
    r->by_day = json_object();
    r->dlq = json_object();
    r->subjects = json_object();
    r->mismatch_rows = json_array();
    *out = r;
    return 0;
}

void xb_report_free(xb_report *r)
{
    if (!r)
        return;
    json_decref(r->countries);
    json_decref(r->run);
    json_decref(r->totals);
    json_decref(r->by_dest);
    json_decref(r->by_verdict);
    json_decref(r->by_basis);
    json_decref(r->by_day);
    json_decref(r->dlq);
    json_decref(r->subjects);
    json_decref(r->mismatch_rows);
    json_decref(r->chain);
    free(r);
}

void xb_report_set_country(xb_report *r, const char *destination, const char *country)
{
    json_object_set_new(r->countries, destination, json_string(country ? country : "??"));
}

void xb_report_set_run(xb_report *r, const char *key, json_t *value)
{
    json_object_set_new(r->run, key, value ? value : json_null());
}

/* "2026-03-01" in Asia/Shanghai (UTC+8, no DST since 1991) of an RFC 3339 time. */
static int cn_day(char out[11], const char *when)
{
    int64_t t;
    if (!when || xb_policy_parse_time(&t, when, NULL) < 0)
        return -1;
    time_t local = (time_t)(t + 8 * 3600);
    struct tm tm;
    gmtime_r(&local, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
    return 0;
}

static void add_outcome(xb_report *r, const json_t *o)
{
    const char *dest = json_string_value(json_object_get(o, "destination"));
    const json_t *d = json_object_get(o, "decision");
    const char *verdict = json_string_value(json_object_get(o, "verdict"));
    if (!dest)
        dest = "(none)";
    if (!verdict)
        verdict = "ERROR"; /* policy or state error: no decision was made */
    inc(r->totals, "outcomes", 1);
    json_t *bd = child(r->by_dest, dest);
    inc(bd, "outcomes", 1);
    inc(child(bd, "verdicts"), verdict, 1);
    inc(r->by_verdict, verdict, 1);
    const char *basis = json_string_value(json_object_get(d, "basis"));
    inc(r->by_basis, basis ? basis : "NONE", 1);
    const char *dlq = json_string_value(json_object_get(o, "dlq"));
    if (dlq)
        inc(r->dlq, dlq, 1);
    char day[11];
    if (cn_day(day, json_string_value(json_object_get(d, "transfer_time"))) == 0) {
        json_t *dd = child(r->by_day, day);
        inc(dd, "total", 1);
        inc(child(dd, "destinations"), dest, 1);
        inc(child(dd, "verdicts"), verdict, 1);
    }
    const json_t *c = json_object_get(d, "counters");
    json_int_t year = json_integer_value(json_object_get(c, "year"));
    if (c && year > 0) {
        char y[24];
        snprintf(y, sizeof y, "%lld", (long long)year);
        json_t *s = child(r->subjects, y);
        json_int_t pi = json_integer_value(json_object_get(c, "pi_after"));
        json_int_t spi = json_integer_value(json_object_get(c, "spi_after"));
        /* The counters are institution-wide and only grow within a year: the largest "after"
         * seen is the count at the end of the window. */
        if (pi > json_integer_value(json_object_get(s, "pi")))
            json_object_set_new(s, "pi", json_integer(pi));
        if (spi > json_integer_value(json_object_get(s, "spi")))
            json_object_set_new(s, "spi", json_integer(spi));
        inc(s, "new_pi_in_window", json_integer_value(json_object_get(c, "new_pi_subjects")));
        inc(s, "new_spi_in_window", json_integer_value(json_object_get(c, "new_spi_subjects")));
    }
}

int xb_report_add_record(xb_report *r, const json_t *record, xb_error *err)
{
    if (!json_is_object(record))
        return xb_error_set(err, XB_EINVAL, NULL, "report: a record must be an object");
    inc(r->totals, "records", 1);
    const json_t *outcomes = json_object_get(record, "outcomes");
    size_t i;
    json_t *o;
    json_array_foreach(outcomes, i, o) add_outcome(r, o);
    const char *whole =
        json_string_value(json_object_get(json_object_get(record, "dlq"), "reason"));
    if (whole) {
        inc(r->dlq, whole, 1);
        inc(r->totals, "not_decided", 1); /* invalid, unsupported, no route */
    }
    return 0;
}

void xb_report_add_mismatch(xb_report *r, const char *record_id, const char *destination,
                            const char *what, const char *recorded, const char *replayed)
{
    r->mismatches++;
    if (json_array_size(r->mismatch_rows) >= XB_REPORT_MAX_MISMATCH_ROWS)
        return;
    json_array_append_new(r->mismatch_rows,
                          json_pack("{ss,ss,ss,ss,ss}", "record", record_id ? record_id : "",
                                    "destination", destination ? destination : "", "what",
                                    what ? what : "", "recorded", recorded ? recorded : "",
                                    "replayed", replayed ? replayed : ""));
}

void xb_report_count_replayed(xb_report *r, unsigned long long n)
{
    r->replayed = n;
}

void xb_report_set_chain(xb_report *r, const xb_audit_verify_result *res)
{
    json_decref(r->chain);
    r->chain = json_pack("{ss,ss,sI,ss,ss,sI,sI,sI,sI,sb,ss,ss}", "status",
                         res->fault == XB_AUDIT_INTACT ? "intact" : "broken", "fault",
                         xb_audit_fault_name(res->fault), "seq", (json_int_t)res->seq, "reason",
                         res->reason, "where", res->where, "entries", (json_int_t)res->entries,
                         "decisions", (json_int_t)res->decisions, "checkpoints",
                         (json_int_t)res->checkpoints, "signed_upto", (json_int_t)res->signed_upto,
                         "signatures_checked", res->signatures_checked, "head", res->head, "root",
                         res->root);
}

json_t *xb_report_json(const xb_report *r)
{
    json_t *by_country = json_object();
    json_t *by_dest = json_deep_copy(r->by_dest);
    const char *k;
    json_t *v;
    json_object_foreach(by_dest, k, v)
    {
        const char *c = json_string_value(json_object_get(r->countries, k));
        json_object_set_new(v, "country", json_string(c ? c : "??"));
        inc(by_country, c ? c : "??", json_integer_value(json_object_get(v, "outcomes")));
    }
    json_t *subjects = json_deep_copy(r->subjects);
    json_object_foreach(subjects, k, v)
    {
        json_object_set_new(v, "thresholds",
                            json_pack("{si,si,si,si}", "pi_scc", XB_REPORT_PI_SCC, "pi_assessment",
                                      XB_REPORT_PI_ASSESS, "spi_scc", XB_REPORT_SPI_SCC,
                                      "spi_assessment", XB_REPORT_SPI_ASSESS));
        if (!json_object_get(v, "pi"))
            json_object_set_new(v, "pi", json_integer(0));
        if (!json_object_get(v, "spi"))
            json_object_set_new(v, "spi", json_integer(0));
    }
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{ss,sO,sO,so,so,sO,sO,sO,sO,so,s{sI,sO,sb},sI,sO}", "generated", now, "run",
                     r->run, "totals", r->totals, "by_destination", by_dest, "by_country",
                     by_country, "by_verdict", r->by_verdict, "by_basis", r->by_basis, "by_day",
                     r->by_day, "dlq", r->dlq, "subjects", subjects, "mismatches", "count",
                     (json_int_t)r->mismatches, "rows", r->mismatch_rows, "truncated",
                     r->mismatches > json_array_size(r->mismatch_rows), "replayed",
                     (json_int_t)r->replayed, "audit_chain",
                     r->chain ? r->chain : json_pack("{ss}", "status", "not checked"));
}

/* ---- HTML ---------------------------------------------------------------------------------- */

static void esc(xb_buf *b, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '<':
            xb_buf_puts(b, "&lt;");
            break;
        case '>':
            xb_buf_puts(b, "&gt;");
            break;
        case '&':
            xb_buf_puts(b, "&amp;");
            break;
        case '"':
            xb_buf_puts(b, "&quot;");
            break;
        case '\'':
            xb_buf_puts(b, "&#39;");
            break;
        default:
            xb_buf_append(b, s, 1);
        }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of obj, sorted (the pointers live as long as obj). */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    *n = json_object_size(obj);
    const char **v = calloc(*n ? *n : 1, sizeof *v);
    size_t i = 0;
    const char *k;
    json_t *x;
    json_t *o; /* jansson's iterator API is not const-correct; it does not modify */
    memcpy(&o, &obj, sizeof o);
    json_object_foreach(o, k, x) v[i++] = k;
    qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define PALETTE_N (sizeof palette / sizeof palette[0])

static const char *verdict_color(const char *v, size_t i)
{
    if (!strcmp(v, "DELIVER"))
        return "#2ca02c";
    if (!strcmp(v, "QUARANTINE"))
        return "#ff7f0e";
    if (!strcmp(v, "BLOCK"))
        return "#d62728";
    return palette[(i + 4) % PALETTE_N];
}

/* A stacked bar chart: one bar per day, one coloured series per name (destination/verdict). */
static void stacked_chart(xb_buf *b, const char *id, const char *title, const json_t *by_day,
                          const char *part, const json_t *series_src, bool verdicts)
{
    enum { W = 760, H = 280, L = 56, R = 16, T = 16, B = 56 };
    size_t nd, ns;
    const char **days = sorted_keys(by_day, &nd);
    const char **series = sorted_keys(series_src, &ns);
    json_int_t max = 1;
    for (size_t i = 0; i < nd; i++) {
        json_int_t t =
            json_integer_value(json_object_get(json_object_get(by_day, days[i]), "total"));
        if (t > max)
            max = t;
    }
    xb_buf_printf(b, "<figure><figcaption>");
    esc(b, title);
    xb_buf_printf(
        b,
        "</figcaption><svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
        "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
        id, W, H, W, H);
    int pw = W - L - R, ph = H - T - B;
    xb_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", L, T + ph,
                  L + pw, T + ph);
    xb_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", L, T, L,
                  T + ph);
    xb_buf_printf(b, "<text x=\"%d\" y=\"%d\" class=\"axis\" text-anchor=\"end\">%lld</text>",
                  L - 4, T + 10, (long long)max);
    xb_buf_printf(b, "<text x=\"%d\" y=\"%d\" class=\"axis\" text-anchor=\"end\">0</text>", L - 4,
                  T + ph);
    int bw = nd ? pw / (int)nd : pw;
    int gap = bw > 6 ? bw / 6 : 0;
    json_int_t *base = calloc(nd ? nd : 1, sizeof *base);
    for (size_t s = 0; s < ns; s++) {
        const char *color = verdicts ? verdict_color(series[s], s) : palette[s % PALETTE_N];
        xb_buf_printf(b, "<g class=\"series\" data-series=\"");
        esc(b, series[s]);
        xb_buf_printf(b, "\" fill=\"%s\">", color);
        for (size_t i = 0; i < nd; i++) {
            json_int_t n = json_integer_value(json_object_get(
                json_object_get(json_object_get(by_day, days[i]), part), series[s]));
            if (n <= 0)
                continue;
            int y0 = T + ph - (int)(base[i] * ph / max);
            int h = (int)((base[i] + n) * ph / max - base[i] * ph / max);
            if (h < 1)
                h = 1;
            base[i] += n;
            xb_buf_printf(b, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\">",
                          L + (int)i * bw + gap / 2, y0 - h, bw - gap > 1 ? bw - gap : 1, h);
            xb_buf_puts(b, "<title>");
            esc(b, days[i]);
            xb_buf_puts(b, " ");
            esc(b, series[s]);
            xb_buf_printf(b, ": %lld</title></rect>", (long long)n);
        }
        xb_buf_puts(b, "</g>");
    }
    size_t every = nd > 12 ? (nd + 11) / 12 : 1;
    for (size_t i = 0; i < nd; i += every) {
        xb_buf_printf(b, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
                      L + (int)i * bw + bw / 2, T + ph + 16);
        esc(b, days[i] + 5); /* MM-DD */
        xb_buf_puts(b, "</text>");
    }
    /* legend */
    for (size_t s = 0; s < ns; s++) {
        const char *color = verdicts ? verdict_color(series[s], s) : palette[s % PALETTE_N];
        int x = L + (int)(s % 4) * 170, y = T + ph + 32 + (int)(s / 4) * 14;
        xb_buf_printf(b,
                      "<rect class=\"legend\" x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" "
                      "fill=\"%s\"/><text class=\"axis\" x=\"%d\" y=\"%d\">",
                      x, y - 9, color, x + 14, y);
        esc(b, series[s]);
        xb_buf_puts(b, "</text>");
    }
    xb_buf_puts(b, "</svg></figure>\n");
    free(base);
    free(days);
    free(series);
}

static void progress_bar(xb_buf *b, int row, const char *id, const char *label, json_int_t value,
                         json_int_t limit)
{
    enum { X = 230, W = 460 };
    json_int_t shown = value > limit ? limit : value;
    int w = (int)(shown * W / limit);
    if (value > 0 && w < 2)
        w = 2; /* a single SPI subject must be visible */
    const char *color = value >= limit            ? "#d62728"
                        : value * 10 >= limit * 8 ? "#ff7f0e"
                                                  : "#2ca02c";
    int y = 10 + row * 34;
    xb_buf_printf(b, "<text class=\"axis\" x=\"0\" y=\"%d\">", y + 14);
    esc(b, label);
    xb_buf_printf(b,
                  "</text><rect class=\"track\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"18\" "
                  "fill=\"#eee\" stroke=\"#999\"/>"
                  "<rect class=\"progress\" data-threshold=\"%s\" data-value=\"%lld\" "
                  "data-limit=\"%lld\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"18\" fill=\"%s\">"
                  "<title>%lld of %lld</title></rect>"
                  "<text class=\"axis\" x=\"%d\" y=\"%d\">%lld / %lld (%lld.%lld%%)</text>",
                  X, y, W, id, (long long)value, (long long)limit, X, y, w, color, (long long)value,
                  (long long)limit, X + W + 8, y + 14, (long long)value, (long long)limit,
                  (long long)(value * 100 / limit), (long long)(value * 1000 / limit % 10));
}

static void thresholds(xb_buf *b, const json_t *subjects)
{
    size_t ny;
    const char **years = sorted_keys(subjects, &ny);
    for (size_t i = 0; i < ny; i++) {
        const json_t *s = json_object_get(subjects, years[i]);
        json_int_t pi = json_integer_value(json_object_get(s, "pi"));
        json_int_t spi = json_integer_value(json_object_get(s, "spi"));
        xb_buf_puts(b, "<figure><figcaption>Natural persons whose information left, ");
        esc(b, years[i]);
        xb_buf_printf(b,
                      " (institution-wide, CAC 2024 thresholds)</figcaption>"
                      "<svg id=\"thresholds-%s\" class=\"thresholds\" "
                      "xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"146\">",
                      years[i]);
        progress_bar(b, 0, "pi_scc", "PI vs 100,000 (SCC / certification)", pi, XB_REPORT_PI_SCC);
        progress_bar(b, 1, "pi_assessment", "PI vs 1,000,000 (security assessment)", pi,
                     XB_REPORT_PI_ASSESS);
        progress_bar(b, 2, "spi_scc", "SPI vs 1 (SCC / certification)", spi, XB_REPORT_SPI_SCC);
        progress_bar(b, 3, "spi_assessment", "SPI vs 10,000 (security assessment)", spi,
                     XB_REPORT_SPI_ASSESS);
        xb_buf_puts(b, "</svg></figure>\n");
    }
    free(years);
}

static void count_table(xb_buf *b, const char *id, const char *title, const json_t *obj)
{
    size_t n;
    const char **keys = sorted_keys(obj, &n);
    xb_buf_printf(b, "<table id=\"%s\"><caption>", id);
    esc(b, title);
    xb_buf_puts(b, "</caption><tr><th>name</th><th>count</th></tr>");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(obj, keys[i]);
        json_int_t c = json_is_integer(v) ? json_integer_value(v)
                                          : json_integer_value(json_object_get(v, "outcomes"));
        xb_buf_puts(b, "<tr><td>");
        esc(b, keys[i]);
        if (json_is_object(v) && json_object_get(v, "country")) {
            xb_buf_puts(b, " (");
            esc(b, json_string_value(json_object_get(v, "country")));
            xb_buf_puts(b, ")");
        }
        xb_buf_printf(b, "</td><td class=\"num\">%lld</td></tr>", (long long)c);
    }
    xb_buf_puts(b, "</table>\n");
    free(keys);
}

static void mismatch_table(xb_buf *b, const json_t *m)
{
    const json_t *rows = json_object_get(m, "rows");
    xb_buf_printf(b,
                  "<table id=\"mismatches\"><caption>Replay mismatches: %lld%s</caption>"
                  "<tr><th>record</th><th>destination</th><th>what</th><th>recorded</th>"
                  "<th>replayed</th></tr>",
                  (long long)json_integer_value(json_object_get(m, "count")),
                  json_is_true(json_object_get(m, "truncated")) ? " (report.json keeps the first "
                                                                  "100,000)"
                                                                : "");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (i == XB_REPORT_HTML_MISMATCH_ROWS) {
            xb_buf_printf(b, "<tr><td colspan=\"5\">... %zu more in report.json</td></tr>",
                          json_array_size(rows) - i);
            break;
        }
        xb_buf_puts(b, "<tr class=\"mismatch\">");
        static const char *const cols[] = {"record", "destination", "what", "recorded", "replayed"};
        for (size_t c = 0; c < 5; c++) {
            xb_buf_puts(b, "<td>");
            esc(b, json_string_value(json_object_get(r, cols[c])));
            xb_buf_puts(b, "</td>");
        }
        xb_buf_puts(b, "</tr>");
    }
    xb_buf_puts(b, "</table>\n");
}

static void chain_box(xb_buf *b, const json_t *c)
{
    const char *status = json_string_value(json_object_get(c, "status"));
    bool ok = status && !strcmp(status, "intact");
    xb_buf_printf(b, "<section id=\"chain\" class=\"%s\"><h2>Audit chain: ", ok ? "ok" : "bad");
    esc(b, status ? status : "unknown");
    xb_buf_puts(b, "</h2><p>");
    if (json_object_get(c, "entries"))
        xb_buf_printf(b,
                      "%lld entries, %lld decisions, %lld signed checkpoints (signed up to "
                      "entry %lld; signatures %s). ",
                      (long long)json_integer_value(json_object_get(c, "entries")),
                      (long long)json_integer_value(json_object_get(c, "decisions")),
                      (long long)json_integer_value(json_object_get(c, "checkpoints")),
                      (long long)json_integer_value(json_object_get(c, "signed_upto")),
                      json_is_true(json_object_get(c, "signatures_checked")) ? "checked"
                                                                             : "NOT checked");
    if (!ok && json_string_value(json_object_get(c, "reason"))) {
        xb_buf_puts(b, "First fault: ");
        esc(b, json_string_value(json_object_get(c, "reason")));
    }
    if (json_string_value(json_object_get(c, "root")) &&
        *json_string_value(json_object_get(c, "root"))) {
        xb_buf_puts(b, "<br>Merkle root <code>");
        esc(b, json_string_value(json_object_get(c, "root")));
        xb_buf_puts(b, "</code>");
    }
    xb_buf_puts(b, "</p></section>\n");
}

int xb_report_html(xb_buf *b, const json_t *rep, xb_error *err)
{
    xb_buf_reset(b);
    const json_t *totals = json_object_get(rep, "totals");
    const json_t *by_day = json_object_get(rep, "by_day");
    xb_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<title>xborder regulator report</title><style>"
                   "body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}"
                   "h1{font-size:22px}h2{font-size:17px}table{border-collapse:collapse;margin:12px "
                   "24px 12px 0;display:inline-table;vertical-align:top}td,th{border:1px solid "
                   "#bbb;padding:3px 8px;font-size:13px}caption{font-weight:bold;text-align:left}"
                   ".num{text-align:right}.axis{font-size:11px;fill:#333}figure{margin:16px 0}"
                   "figcaption{font-weight:bold;margin-bottom:4px}#chain{padding:6px 12px;"
                   "border-radius:4px}#chain.ok{background:#e6f4ea}#chain.bad{background:#fde8e8}"
                   "code{font-size:11px}</style></head><body>\n");
    xb_buf_puts(b, "<h1>What left the country: xborder regulator report</h1>\n<p>");
    xb_buf_printf(b,
                  "%lld records, %lld decisions (one per destination); %lld replayed. "
                  "Generated ",
                  (long long)json_integer_value(json_object_get(totals, "records")),
                  (long long)json_integer_value(json_object_get(totals, "outcomes")),
                  (long long)json_integer_value(json_object_get(rep, "replayed")));
    esc(b, json_string_value(json_object_get(rep, "generated")));
    xb_buf_puts(b, ". Days are Asia/Shanghai calendar days.</p>\n");
    chain_box(b, json_object_get(rep, "audit_chain"));
    stacked_chart(b, "chart-destination", "Volume per day by destination", by_day, "destinations",
                  json_object_get(rep, "by_destination"), false);
    stacked_chart(b, "chart-verdict", "Volume per day by verdict", by_day, "verdicts",
                  json_object_get(rep, "by_verdict"), true);
    thresholds(b, json_object_get(rep, "subjects"));
    count_table(b, "t-destination", "By destination (country)",
                json_object_get(rep, "by_destination"));
    count_table(b, "t-country", "By country", json_object_get(rep, "by_country"));
    count_table(b, "t-verdict", "By verdict", json_object_get(rep, "by_verdict"));
    count_table(b, "t-basis", "By legal basis", json_object_get(rep, "by_basis"));
    count_table(b, "t-dlq", "Parked in the DLQ, by reason", json_object_get(rep, "dlq"));
    xb_buf_puts(b, "<br>");
    mismatch_table(b, json_object_get(rep, "mismatches"));
    xb_buf_puts(b, "</body></html>\n");
    return 0;
}

static int write_file(const char *dir, const char *name, const char *data, size_t len,
                      xb_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, len, f) != len) {
        if (f)
            fclose(f);
        return xb_error_set(err, XB_EIO, path, "report: cannot write %s", path);
    }
    return fclose(f) == 0 ? 0 : xb_error_set(err, XB_EIO, path, "report: cannot write %s", path);
}

int xb_report_write(const xb_report *r, const char *dir, xb_error *err)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return xb_error_set(err, XB_EIO, dir, "report: cannot create %s: %s", dir, strerror(errno));
    json_t *j = xb_report_json(r);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = text ? write_file(dir, "report.json", text, strlen(text), err)
                  : xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    free(text);
    xb_buf html = XB_BUF_INIT;
    if (rc == 0)
        rc = xb_report_html(&html, j, err);
    if (rc == 0)
        rc = write_file(dir, "report.html", html.data, html.len, err);
    xb_buf_free(&html);
    json_decref(j);
    return rc;
}
