/* csv.c — splits feed lines into fields. Owns no memory; never interprets a field. */
#include "valuation/csv.h"

#include <string.h>

#include "iso20022/error.h"

static int is_blank_or_comment(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i == n || s[i] == '#';
}

static int split(xb_csv_line *line, const char *s, size_t n)
{
    line->nfields = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] == '"')
            return XB_EINVAL;
        if (i < n && s[i] != ',')
            continue;
        if (line->nfields == XB_CSV_MAX_FIELDS)
            return XB_ELIMIT;
        size_t a = start, b = i;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r'))
            b--;
        if (b - a >= XB_CSV_MAX_FIELD)
            return XB_ELIMIT;
        memcpy(line->field[line->nfields], s + a, b - a);
        line->field[line->nfields][b - a] = '\0';
        line->nfields++;
        start = i + 1;
    }
    return 0;
}

int xb_csv_next(xb_csv_line *line, const char *buf, size_t len, size_t *pos, int *lineno)
{
    while (*pos < len) {
        const char *s = buf + *pos;
        const char *nl = memchr(s, '\n', len - *pos);
        size_t n = nl ? (size_t)(nl - s) : len - *pos;
        *pos += n + (nl ? 1 : 0);
        (*lineno)++;
        if (memchr(s, '\0', n))
            return XB_EINVAL;
        if (is_blank_or_comment(s, n))
            continue;
        int rc = split(line, s, n);
        return rc ? rc : 1;
    }
    return 0;
}
