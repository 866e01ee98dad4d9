/* metrics.c — metric registry and the /metrics, /healthz endpoint.
 *
 * Owns: a small table of series (tens, not thousands: labels are destinations, DLQ reasons and
 * partitions), rendering, and the libmicrohttpd daemon. Latencies are integer microseconds;
 * rendering prints seconds with six decimals from integers (no float in the data path).
 * Never: binds anything but the loopback host the config allowed.
 */
#include "adapter/metrics.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "iso20022/buf.h"

typedef enum fam_type { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM } fam_type;

typedef struct fam_def {
    const char *name;
    fam_type type;
    const char *label_name; /* NULL: no label; "" : pre-rendered label text */
    const char *help;
} fam_def;

static const fam_def families[] = {
    {"consumed_total", FAM_COUNTER, NULL, "Kafka records consumed"},
    {"delivered_total", FAM_COUNTER, "destination", "Messages acknowledged (2xx) by a destination"},
    {"duplicates_total", FAM_COUNTER, "destination", "Messages a destination already had (409)"},
    {"dlq_total", FAM_COUNTER, "reason", "Records parked in the DLQ, by reason"},
    {"retries_total", FAM_COUNTER, "destination", "HTTP requests that were retries"},
    {"in_flight", FAM_GAUGE, "destination", "Messages submitted to a destination, not completed"},
    {"delivery_latency_seconds", FAM_HISTOGRAM, "destination",
     "Submit-to-acknowledgement latency per destination"},
    {"consumer_lag", FAM_GAUGE, "", "High watermark minus committed position"},
    {"paused_partitions", FAM_GAUGE, NULL, "Partitions paused for backpressure"},
    {"outstanding_bytes", FAM_GAUGE, NULL,
     "Bytes of the records taken from Kafka and not finished (pipeline.max_outstanding_kbytes)"},
    {"kafka_fetch_wakes_total", FAM_COUNTER, NULL,
     "Wake-ups of librdkafka's fetcher asked for a partition starving behind its prefetch limit"},
    {"audit_records_total", FAM_COUNTER, NULL, "Decision records written to the audit log"},
    {"config_reloads_total", FAM_COUNTER, "result", "SIGHUP reloads, by result"},
    /* issue #11: what the alerting rules in docs/ops/alerts.yaml watch */
    {"circuit_open", FAM_GAUGE, "destination",
     "1 while the circuit breaker to a destination is open"},
    {"audit_write_failures_total", FAM_COUNTER, NULL,
     "Audit records that could not be written or sent"},
    {"audit_blocked", FAM_GAUGE, NULL,
     "1 while the audit log refuses writes (disk full): consumption paused, retrying"},
    {"subjects_counted", FAM_GAUGE, "",
     "Distinct persons counted this calendar year (Asia/Shanghai)"},
    {"subjects_threshold", FAM_GAUGE, "",
     "CAC threshold of the catalog in force, by class and kind"},
    /* issue #6: the valuation route (its parks are in dlq_total{reason}) */
    {"valuation_reports_total", FAM_COUNTER, "function",
     "reda.001 price reports made from holdings statements, by function (NEWP, REPL)"},
    {"valuation_held", FAM_GAUGE, NULL,
     "Holdings statements waiting for a rate or price they need"},
};
#define N_FAMILIES (sizeof families / sizeof families[0])

static const uint64_t bucket_us[] = {1000,   2500,   5000,    10000,   25000,   50000,   100000,
                                     250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define N_BUCKETS (sizeof bucket_us / sizeof bucket_us[0])

typedef struct series {
    unsigned fam;
    char *label; /* rendered: destination="hk" */
    char *raw;   /* the value as callers pass it ("hk"), what lookups compare */
    int64_t value;
    uint64_t buckets[N_BUCKETS];
    uint64_t count, sum_us;
} series;

struct xb_metrics {
    pthread_mutex_t lock;
    series *s;
    size_t n, cap;
    struct MHD_Daemon *daemon;
    int port;
    bool healthy;
    char reason[256];
};

int xb_metrics_new(xb_metrics **out, xb_error *err)
{
    xb_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return xb_error_set(err, XB_ENOMEM, NULL, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    m->healthy = true;
    *out = m;
    return 0;
}

static int fam_index(const char *name)
{
    for (unsigned i = 0; i < N_FAMILIES; i++)
        if (!strcmp(families[i].name, name))
            return (int)i;
    return -1;
}

static void escape_into(xb_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            xb_buf_append(b, "\\", 1);
        if (*v == '\n')
            xb_buf_puts(b, "\\n");
        else
            xb_buf_append(b, v, 1);
    }
}

static char *render_label(unsigned fam, const char *value)
{
    if (!families[fam].label_name || !value)
        return NULL;
    if (!*families[fam].label_name)
        return strdup(value);
    xb_buf b = XB_BUF_INIT;
    xb_buf_printf(&b, "%s=\"", families[fam].label_name);
    escape_into(&b, value);
    xb_buf_puts(&b, "\"");
    return xb_buf_steal(&b);
}

/* Finds or creates a series; called with the lock held. */
static series *get_series(xb_metrics *m, const char *family_name, const char *label)
{
    int fam = fam_index(family_name);
    if (fam < 0)
        return NULL;
    if (!families[fam].label_name)
        label = NULL;
    /* Compared on the value as given: rendering the label (two allocations and a printf) for
     * every counter update was on the per-message path (issue #8); it is done once per series. */
    for (size_t i = 0; i < m->n; i++)
        if (m->s[i].fam == (unsigned)fam &&
            ((!label && !m->s[i].raw) || (label && m->s[i].raw && !strcmp(label, m->s[i].raw))))
            return &m->s[i];
    char *rendered = render_label((unsigned)fam, label);
    char *raw = label ? strdup(label) : NULL;
    if ((label && (!rendered || !raw))) {
        free(rendered);
        free(raw);
        return NULL;
    }
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 32;
        series *ns = realloc(m->s, ncap * sizeof *ns);
        if (!ns) {
            free(rendered);
            free(raw);
            return NULL;
        }
        m->s = ns;
        m->cap = ncap;
    }
    series *s = &m->s[m->n++];
    memset(s, 0, sizeof *s);
    s->fam = (unsigned)fam;
    s->label = rendered;
    s->raw = raw;
    return s;
}

void xb_metrics_add(xb_metrics *m, const char *family, const char *label, uint64_t by)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    series *s = get_series(m, family, label);
    if (s)
        s->value += (int64_t)by;
    pthread_mutex_unlock(&m->lock);
}

void xb_metrics_set(xb_metrics *m, const char *family, const char *label, int64_t value)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    series *s = get_series(m, family, label);
    if (s)
        s->value = value;
    pthread_mutex_unlock(&m->lock);
}

void xb_metrics_set_lag(xb_metrics *m, const char *topic, int32_t partition, int64_t lag)
{
    if (!m)
        return;
    xb_buf b = XB_BUF_INIT;
    xb_buf_puts(&b, "topic=\"");
    escape_into(&b, topic);
    xb_buf_printf(&b, "\",partition=\"%" PRId32 "\"", partition);
    xb_metrics_set(m, "consumer_lag", b.data, lag);
    xb_buf_free(&b);
}

void xb_metrics_observe_us(xb_metrics *m, const char *destination, uint64_t us)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    series *s = get_series(m, "delivery_latency_seconds", destination);
    if (s) {
        for (size_t i = 0; i < N_BUCKETS; i++)
            if (us <= bucket_us[i])
                s->buckets[i]++;
        s->count++;
        s->sum_us += us;
    }
    pthread_mutex_unlock(&m->lock);
}

int64_t xb_metrics_get(xb_metrics *m, const char *family, const char *label)
{
    int64_t v = 0;
    pthread_mutex_lock(&m->lock);
    int fam = fam_index(family);
    char *rendered = fam >= 0 ? render_label((unsigned)fam, label) : NULL;
    for (size_t i = 0; fam >= 0 && i < m->n; i++)
        if (m->s[i].fam == (unsigned)fam &&
            ((!rendered && !m->s[i].label) ||
             (rendered && m->s[i].label && !strcmp(rendered, m->s[i].label))))
            v = families[fam].type == FAM_HISTOGRAM ? (int64_t)m->s[i].count : m->s[i].value;
    free(rendered);
    pthread_mutex_unlock(&m->lock);
    return v;
}

void xb_metrics_set_health(xb_metrics *m, bool healthy, const char *reason)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->healthy = healthy;
    snprintf(m->reason, sizeof m->reason, "%s", reason ? reason : "");
    pthread_mutex_unlock(&m->lock);
}

static void seconds(char *buf, size_t cap, uint64_t us)
{
    snprintf(buf, cap, "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);
}

static void render_histogram(xb_buf *b, const char *name, const series *s)
{
    const char *lab = s->label ? s->label : "";
    const char *sep = s->label ? "," : "";
    char le[32];
    for (size_t i = 0; i < N_BUCKETS; i++) {
        seconds(le, sizeof le, bucket_us[i]);
        xb_buf_printf(b, "xborder_%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, lab, sep, le,
                      s->buckets[i]);
    }
    xb_buf_printf(b, "xborder_%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, lab, sep, s->count);
    seconds(le, sizeof le, s->sum_us);
    xb_buf_printf(b, "xborder_%s_sum{%s} %s\n", name, lab, le);
    xb_buf_printf(b, "xborder_%s_count{%s} %" PRIu64 "\n", name, lab, s->count);
}

char *xb_metrics_render(xb_metrics *m)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    xb_buf b = XB_BUF_INIT;
    pthread_mutex_lock(&m->lock);
    for (unsigned f = 0; f < N_FAMILIES; f++) {
        xb_buf_printf(&b, "# HELP xborder_%s %s\n# TYPE xborder_%s %s\n", families[f].name,
                      families[f].help, families[f].name, type_names[families[f].type]);
        int any = 0;
        for (size_t i = 0; i < m->n; i++) {
            const series *s = &m->s[i];
            if (s->fam != f)
                continue;
            any = 1;
            if (families[f].type == FAM_HISTOGRAM)
                render_histogram(&b, families[f].name, s);
            else if (s->label)
                xb_buf_printf(&b, "xborder_%s{%s} %" PRId64 "\n", families[f].name, s->label,
                              s->value);
            else
                xb_buf_printf(&b, "xborder_%s %" PRId64 "\n", families[f].name, s->value);
        }
        if (!any && !families[f].label_name)
            xb_buf_printf(&b, "xborder_%s 0\n", families[f].name);
    }
    pthread_mutex_unlock(&m->lock);
    if (!b.data)
        return strdup("");
    return xb_buf_steal(&b);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls)
{
    xb_metrics *m = cls;
    unsigned status = MHD_HTTP_OK;
    char *body;
    const char *ctype = "text/plain; version=0.0.4; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = strdup("method not allowed\n");
    } else if (!strcmp(url, "/metrics")) {
        body = xb_metrics_render(m);
    } else if (!strcmp(url, "/healthz")) {
        pthread_mutex_lock(&m->lock);
        status = m->healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        xb_buf t = XB_BUF_INIT;
        xb_buf_printf(&t, "%s%s%s\n", m->healthy ? "ok" : "unhealthy", m->reason[0] ? ": " : "",
                      m->reason);
        pthread_mutex_unlock(&m->lock);
        body = xb_buf_steal(&t);
        ctype = "text/plain; charset=utf-8";
    } else {
        status = MHD_HTTP_NOT_FOUND;
        body = strdup("not found\n");
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", ctype);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

int xb_metrics_serve(xb_metrics *m, const char *host, int port, xb_error *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    const char *h = strcmp(host, "localhost") ? host : "127.0.0.1";
    if (strchr(h, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, h, &a6->sin6_addr) != 1)
            return xb_error_set(err, XB_ECONFIG, "metrics.listen", "metrics.listen: bad address");
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, h, &a4->sin_addr) != 1)
            return xb_error_set(err, XB_ECONFIG, "metrics.listen", "metrics.listen: bad address");
    }
    m->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, answer, m, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!m->daemon)
        return xb_error_set(err, XB_EIO, "metrics.listen",
                            "metrics.listen: cannot listen on %s:%d (in use?)", host, port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    m->port = info ? info->port : port;
    return 0;
}

int xb_metrics_port(const xb_metrics *m)
{
    return m->port;
}

void xb_metrics_free(xb_metrics *m)
{
    if (!m)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].label);
        free(m->s[i].raw);
    }
    free(m->s);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
