/* fund_file.h — FUND.yaml -> xb_fund (the valuation library stays free of YAML).
 *
 * Owns: the fund file's shape (keys fund, cash, accrued_income, liabilities, classes; see
 * fixtures/funds/lg-gbf-01.yaml), reading it through adapter/yaml_tree.h, and error messages that
 * name the offending key ("classes[1].units: '12,5' is not a decimal").
 * Never: computes anything or accepts a decimal through a binary float (every value is the
 * YAML scalar's exact text parsed by xb_dec_parse).
 */
#ifndef XB_FUND_FILE_H
#define XB_FUND_FILE_H

#include <stddef.h>

#include "iso20022/error.h"
#include "valuation/fund.h"

/* Loads and validates (xb_fund_validate). On error *out is left empty (nothing to free).
 * XB_ECONFIG / XB_EINVAL with err->path = the key, XB_EIO when the file cannot be read. */
int xb_fund_file_load(xb_fund *out, const char *path, xb_error *err);
int xb_fund_file_load_buffer(xb_fund *out, const char *buf, size_t len, const char *name,
                             xb_error *err);

#endif
