/* version.h — `xborder --version`: the program's version and the rule-catalog versions in force.
 *
 * Owns: finding the catalogs to report (--config's policy.catalogs, else the default catalog
 * folder: the build tree's fixtures/catalogs, or the installed share/xborder/catalogs once the
 * build tree is gone) and printing one line per catalog file.
 * Never: changes anything; reads only the config and the catalog files (and their signatures).
 */
#ifndef XB_CLI_VERSION_H
#define XB_CLI_VERSION_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "iso20022/error.h"

/* Prints, for each catalog file, the version in force at `now` (UTC seconds):
 *   catalog cn-finance 2025.04.17 in force since 2025-04-17T00:00:00+08:00 (sha256 0123abcd...,
 * FILE) or "catalog ID: no version in force at TIME (N loaded)". pubkey (may be NULL) is the
 * policy.catalog_pubkey the catalogs must verify against. Returns 0, or the first load error
 * (err names the file; the remaining files are still printed). */
int xb_cli_version_catalogs(FILE *out, const char *const *paths, size_t n, const char *pubkey,
                            int64_t now, xb_error *err);

/* The folder `xborder --version` reads when no --config is given. */
const char *xb_cli_version_default_catalog_dir(void);

#endif
