/* version.c — `xborder --version [--config FILE]`: the program version, the libraries it runs
 * on, the schema folder, and the rule-catalog version in force for each catalog.
 *
 * Owns: the catalog lookup order (--config's policy.catalogs; else XB_CATALOG_DIR_DEFAULT when it
 * exists; else the installed XB_CATALOG_DIR_INSTALLED) and the output format (see version.h).
 * Never: writes anything, or prints a config value other than file names.
 */
#include "adapter/cli/version.h"

#include <curl/curl.h>
#include <dirent.h>
#include <libxml/xmlversion.h>
#include <librdkafka/rdkafka.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter/catalog_store.h"
#include "adapter/cli/cli.h"
#include "adapter/config.h"
#include "adapter/policy/policy.h"
#include "iso20022/schema.h"

#ifndef XB_VERSION
#define XB_VERSION "0.0.0"
#endif
#ifndef XB_CATALOG_DIR_DEFAULT
#define XB_CATALOG_DIR_DEFAULT "fixtures/catalogs"
#endif
#ifndef XB_CATALOG_DIR_INSTALLED
#define XB_CATALOG_DIR_INSTALLED "/usr/share/xborder/catalogs"
#endif

#define MAX_CATALOG_FILES 64

const char *xb_cli_version_default_catalog_dir(void)
{
    /* Same rule as the schema folder: the build tree while it exists, the installed copy after. */
    if (access(XB_CATALOG_DIR_DEFAULT, R_OK) != 0 && access(XB_CATALOG_DIR_INSTALLED, R_OK) == 0)
        return XB_CATALOG_DIR_INSTALLED;
    return XB_CATALOG_DIR_DEFAULT;
}

static int print_one(FILE *out, const char *path, const char *pubkey, int64_t now, xb_error *err)
{
    xb_policy_catalog_set *set = NULL;
    int rc = xb_policy_catalog_set_new(&set, err);
    if (rc < 0)
        return rc;
    if ((rc = xb_catalog_store_load(set, path, pubkey, err)) < 0) {
        fprintf(out, "catalog %s: NOT LOADED: %s\n", path, err ? err->message : "error");
        xb_policy_catalog_set_free(set);
        return rc;
    }
    const xb_policy_catalog *cat = NULL;
    char when[40];
    xb_error sel;
    if (xb_policy_catalog_select(&cat, set, NULL, now, &sel) < 0) {
        fprintf(out, "catalog %s: no version in force at %s (%zu loaded; check effective_from)\n",
                path, xb_policy_format_time(when, sizeof when, now),
                xb_policy_catalog_set_count(set));
    } else {
        fprintf(out, "catalog %s %s in force since %s (sha256 %.16s..., %s)\n",
                xb_policy_catalog_id(cat), xb_policy_catalog_version(cat),
                xb_policy_format_time(when, sizeof when, xb_policy_catalog_effective_from(cat)),
                xb_policy_catalog_sha256(cat), path);
    }
    xb_policy_catalog_set_free(set);
    return 0;
}

int xb_cli_version_catalogs(FILE *out, const char *const *paths, size_t n, const char *pubkey,
                            int64_t now, xb_error *err)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        xb_error e;
        xb_error_clear(&e);
        int rc = print_one(out, paths[i], pubkey, now, &e);
        if (rc < 0 && !first) {
            first = rc;
            if (err)
                *err = e;
        }
    }
    return first;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every *.yaml in dir, sorted, as malloc'd full paths. */
static size_t list_catalogs(char **paths, size_t cap, const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0 || e->d_name[0] == '.')
            continue;
        size_t sz = strlen(dir) + len + 2;
        paths[n] = malloc(sz);
        if (!paths[n])
            break;
        snprintf(paths[n], sz, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    qsort(paths, n, sizeof *paths, cmp_str);
    return n;
}

/* jemalloc's control interface: defined when the program was linked with it (XB_JEMALLOC), and
 * weak so that the tests and tools that link this library without jemalloc still link. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

static void print_allocator(void)
{
    const char *v = NULL;
    size_t len = sizeof v;
    ssize_t decay = -1;
    size_t dlen = sizeof decay;
    if (!mallctl || mallctl("version", (void *)&v, &len, NULL, 0) != 0 || !v) {
        printf("allocator libc malloc\n");
        return;
    }
    /* how soon freed pages go back to the kernel (main.c sets 1000) */
    if (mallctl("opt.dirty_decay_ms", &decay, &dlen, NULL, 0) == 0)
        printf("allocator jemalloc %s (dirty_decay_ms %zd)\n", v, decay);
    else
        printf("allocator jemalloc %s\n", v);
}

static void print_header(void)
{
    printf("xborder %s\n", XB_VERSION);
    printf("built with libxml2 %s, %s, librdkafka %s, libcurl %s\n", LIBXML_DOTTED_VERSION,
           OpenSSL_version(OPENSSL_VERSION), rd_kafka_version_str(),
           curl_version_info(CURLVERSION_NOW)->version);
    print_allocator();
    printf("schemas %s\n", xb_schema_dir());
}

static int usage(FILE *out)
{
    fprintf(out,
            "usage: xborder --version [--config FILE]\n\n"
            "Prints the xborder version, the libraries it runs on, its memory allocator\n"
            "(jemalloc and the delay after which it returns freed pages, 1000 ms unless\n"
            "MALLOC_CONF says otherwise; libc malloc in sanitizer builds), the XSD folder and,\n"
            "for each rule catalog, the version in force now (id, version, effective date,\n"
            "digest).\n"
            "Catalogs are those of --config FILE (policy.catalogs, verified against\n"
            "policy.catalog_pubkey when set); without it every *.yaml in %s.\n\n"
            "  --config FILE   report the catalogs this configuration names\n\n"
            "exit: 0 printed; 1 a catalog or the config could not be loaded (named on\n"
            "stdout/stderr); 2 usage.\n"
            "example: xborder --version --config /etc/xborder/xborder.yaml\n",
            xb_cli_version_default_catalog_dir());
    return out == stdout ? 0 : 2;
}

static int from_config(const char *file, int64_t now)
{
    xb_config *cfg = NULL;
    xb_error err;
    xb_error_clear(&err);
    if (xb_config_load(&cfg, file, &err) < 0) {
        fprintf(stderr,
                "xborder --version: %s: %s\n  fix the config (see `xborder check-config %s`)\n",
                file, err.message, file);
        return 1;
    }
    int rc = xb_cli_version_catalogs(stdout, cfg->policy.catalogs, cfg->policy.n_catalogs,
                                     cfg->policy.catalog_pubkey, now, &err);
    xb_config_free(cfg);
    return rc < 0 ? 1 : 0;
}

static int from_dir(int64_t now)
{
    const char *dir = xb_cli_version_default_catalog_dir();
    char *paths[MAX_CATALOG_FILES];
    size_t n = list_catalogs(paths, MAX_CATALOG_FILES, dir);
    if (n == 0) {
        printf("catalog: none found in %s (name them with --version --config FILE)\n", dir);
        return 1;
    }
    xb_error err;
    int rc = xb_cli_version_catalogs(stdout, (const char *const *)paths, n, NULL, now, &err);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    return rc < 0 ? 1 : 0;
}

int xb_cli_version(int argc, char **argv)
{
    const char *config = NULL;
    if (xb_cli_wants_help(argc, argv))
        return usage(stdout);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strncmp(argv[i], "--config=", 9))
            config = argv[i] + 9;
        else {
            fprintf(stderr, "xborder --version: unexpected argument '%s'\n", argv[i]);
            return usage(stderr);
        }
    }
    int64_t now = (int64_t)time(NULL);
    print_header();
    return config ? from_config(config, now) : from_dir(now);
}
