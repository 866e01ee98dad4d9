/* vocab.c — the policy vocabulary (names of tiers, PI classes, actions, verdicts, legal bases)
 * and the legal calendar (Asia/Shanghai times and years).
 *
 * Owns: enum <-> name tables and ISO 8601 parsing into UTC seconds.
 * Never: consults the process time zone or the system tz database: China's offset is a fixed
 * +08:00 (no DST since 1991), and decisions must not change with the host's TZ setting.
 */
#include <stdio.h>
#include <string.h>

#include "adapter/policy/policy.h"

#define CN_OFFSET (8 * 3600)

const char *xb_policy_tier_name(xb_tier t)
{
    static const char *n[] = {"GENERAL", "IMPORTANT", "CORE"};
    return (unsigned)t < 3 ? n[t] : "?";
}

const char *xb_policy_pi_name(xb_pi p)
{
    static const char *n[] = {"NONE", "PI", "SPI"};
    return (unsigned)p < 3 ? n[p] : "?";
}

const char *xb_policy_action_name(xb_action_kind a)
{
    static const char *n[] = {"PASS", "MASK",       "PSEUDO", "GENERALIZE",
                              "DROP", "QUARANTINE", "BLOCK"};
    return (unsigned)a < 7 ? n[a] : "?";
}

const char *xb_policy_verdict_name(xb_verdict v)
{
    static const char *n[] = {"DELIVER", "QUARANTINE", "BLOCK"};
    return (unsigned)v < 3 ? n[v] : "?";
}

static const char *const basis_names[] = {
    "NONE",
    "NOT_PI",
    "EXEMPT_ART5_1_CONTRACT",
    "EXEMPT_ART5_2_HR",
    "EXEMPT_ART5_3_EMERGENCY",
    "EXEMPT_ART5_4_DEMINIMIS",
    "FTZ_NOT_ON_NEGATIVE_LIST",
    "SCC_FILED",
    "PIP_CERTIFIED",
    "SEC_ASSESSMENT_APPROVED",
};

const char *xb_policy_basis_name(xb_basis b)
{
    return (unsigned)b < sizeof basis_names / sizeof basis_names[0] ? basis_names[b] : "?";
}

int xb_policy_basis_parse(xb_basis *out, const char *name)
{
    /* NONE and NOT_PI are outcomes, never something a destination can claim. */
    for (unsigned i = 2; i < sizeof basis_names / sizeof basis_names[0]; i++)
        if (name && !strcmp(name, basis_names[i])) {
            *out = (xb_basis)i;
            return 0;
        }
    return XB_EINVAL;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int bad_time(xb_error *err, const char *text)
{
    return xb_error_set(err, XB_EINVAL, NULL,
                        "bad time '%s': expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with Z or "
                        "+hh:mm",
                        text ? text : "(null)");
}

int xb_policy_parse_time(int64_t *out, const char *text, xb_error *err)
{
    int y, mo, d, h = 0, mi = 0, s = 0, off = CN_OFFSET;
    if (!text || strlen(text) < 10 || digits(text, 4, &y) || text[4] != '-' ||
        digits(text + 5, 2, &mo) || text[7] != '-' || digits(text + 8, 2, &d))
        return bad_time(err, text);
    const char *p = text + 10;
    if (*p) {
        if (*p != 'T' || digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi) ||
            p[6] != ':' || digits(p + 7, 2, &s))
            return bad_time(err, text);
        p += 9;
        if (*p == '.') /* fractions of a second do not move a legal date */
            for (p++; *p >= '0' && *p <= '9'; p++)
                ;
        int oh, om;
        if (*p == 'Z' && !p[1])
            off = 0;
        else if ((*p == '+' || *p == '-') && !digits(p + 1, 2, &oh) && p[3] == ':' &&
                 !digits(p + 4, 2, &om) && !p[6])
            off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        else
            return bad_time(err, text);
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return bad_time(err, text);
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off;
    return 0;
}

int xb_policy_year_cn(int64_t t)
{
    int64_t local = t + CN_OFFSET;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    return y;
}

const char *xb_policy_format_time(char *buf, size_t cap, int64_t t)
{
    int64_t local = t + CN_OFFSET;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t sec = local - days * 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, m, d, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60));
    return buf;
}
