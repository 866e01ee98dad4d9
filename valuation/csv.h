/* csv.h — the tiny CSV line splitter the price and FX feeds share.
 *
 * Owns: splitting one line into at most N comma-separated fields (trimmed of spaces and CR).
 * Never: handles quoting (the feeds carry dates, codes and decimals only; a quote character is
 * refused so that a malformed feed fails loudly instead of being half-read).
 */
#ifndef XB_VAL_CSV_H
#define XB_VAL_CSV_H

#include <stddef.h>

#define XB_CSV_MAX_FIELDS 8
#define XB_CSV_MAX_FIELD 64

typedef struct xb_csv_line {
    int nfields;
    char field[XB_CSV_MAX_FIELDS][XB_CSV_MAX_FIELD];
} xb_csv_line;

/* Iterates lines of buf: returns 1 with *line filled (blank and '#' lines skipped), 0 at the
 * end, or a negative XB_EINVAL / XB_ELIMIT (field too long, too many fields, quote). *pos is the
 * cursor; *lineno counts physical lines from 1. */
int xb_csv_next(xb_csv_line *line, const char *buf, size_t len, size_t *pos, int *lineno);

#endif
