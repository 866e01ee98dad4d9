/* sftp_inbox_tool.c — the counterparty's check of an SFTP inbox, for end-to-end tests.
 *
 *   sftp_inbox_tool --inbox DIR --pub PEM [--received OUT] [--final]
 *
 * Verifies every complete batch in DIR (NAME.manifest.json present): the Ed25519 signature of
 * the manifest (NAME.manifest.sig) with PEM, then size, SHA-256, count and keys of NAME.xml.
 * Every final NAME.xml, with or without its manifest yet, must be whole (its SHA-256 starts with
 * the hex in its name). With --received, writes OUT/messages/<key>.xml (empty) for every key, the
 * layout itest_tool check reads. With --final, temporary ".part" files also fail the check.
 * Prints "batches B keys K duplicates D partial P" and exits 0 when everything verified.
 * Duplicates (a key in two batches of one destination) are counted, not failed: after a crash
 * between a batch's rename and the offset commit they are the at-least-once contract (the
 * counterparty deduplicates by idempotency key, as the HTTPS receiver does).
 * Owns nothing outside OUT. Not shipped.
 */
#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adapter/transport/batch_file.h"
#include "iso20022/buf.h"

static const char *arg(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

static int has_suffix(const char *s, const char *x)
{
    size_t a = strlen(s), b = strlen(x);
    return a > b && !strcmp(s + a - b, x);
}

static int read_part(xb_buf *b, const char *dir, const char *name, const char *ext)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s%s", dir, name, ext);
    return xb_buf_read_file(b, p, 0);
}

static int whole(const char *dir, const char *file)
{
    char name[XB_BATCH_NAME_MAX + 1];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(file) - 4), file);
    xb_buf c = XB_BUF_INIT;
    if (read_part(&c, dir, name, ".xml") < 0 || strlen(name) < 32)
        return 0;
    unsigned char md[32];
    unsigned int l = 0;
    char hex[65];
    EVP_Digest(c.data, c.len, md, &l, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    xb_buf_free(&c);
    return !memcmp(hex, name + strlen(name) - 32, 32);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    const char *inbox = arg(argc, argv, "--inbox"), *pub = arg(argc, argv, "--pub");
    const char *out = arg(argc, argv, "--received");
    int final = 0;
    for (int i = 1; i < argc; i++)
        final |= !strcmp(argv[i], "--final");
    if (!inbox || !pub) {
        fprintf(stderr,
                "usage: sftp_inbox_tool --inbox DIR --pub PEM [--received OUT] [--final]\n");
        return 2;
    }
    xb_httpsig_key *key = NULL;
    xb_error err;
    if (xb_httpsig_key_load(&key, pub, &err) < 0) {
        fprintf(stderr, "sftp_inbox_tool: %s\n", err.message);
        return 2;
    }
    char msgs[2048];
    if (out) {
        snprintf(msgs, sizeof msgs, "%s/messages", out);
        mkdir(out, 0755);
        mkdir(msgs, 0755);
    }
    DIR *d = opendir(inbox);
    if (!d) {
        perror(inbox);
        return 2;
    }
    size_t batches = 0, bad = 0, partial = 0, n_keys = 0, cap = 0;
    char **keys = NULL; /* "destination|key" */
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (has_suffix(n, ".part")) {
            partial++;
            continue;
        }
        if (has_suffix(n, ".xml") && n[0] != '.' && !whole(inbox, n)) {
            fprintf(stderr, "sftp_inbox_tool: %s is not whole\n", n);
            bad++;
        }
        if (!has_suffix(n, ".manifest.json"))
            continue;
        char name[XB_BATCH_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(n) - strlen(".manifest.json")), n);
        xb_buf c = XB_BUF_INIT, m = XB_BUF_INIT, s = XB_BUF_INIT;
        xb_batch_manifest_info mi;
        int rc = read_part(&c, inbox, name, ".xml") | read_part(&m, inbox, name, ".manifest.json") |
                 read_part(&s, inbox, name, ".manifest.sig");
        if (rc == 0)
            rc = xb_batch_verify(&mi, name, c.data, c.len, m.data, m.len, s.data, s.len, key, NULL,
                                 &err);
        else
            snprintf(err.message, sizeof err.message, "a file of the batch is missing");
        if (rc) {
            fprintf(stderr, "sftp_inbox_tool: batch %s: %s\n", name, err.message);
            bad++;
        } else {
            batches++;
            for (size_t i = 0; i < mi.count; i++) {
                if (n_keys == cap) {
                    cap = cap ? 2 * cap : 1024;
                    keys = realloc(keys, cap * sizeof *keys);
                }
                size_t l = strlen(mi.destination) + strlen(mi.keys[i]) + 2;
                keys[n_keys] = malloc(l);
                snprintf(keys[n_keys++], l, "%s|%s", mi.destination, mi.keys[i]);
                if (out) {
                    char p[2300];
                    snprintf(p, sizeof p, "%s/%s.xml", msgs, mi.keys[i]);
                    FILE *f = fopen(p, "w");
                    if (f)
                        fclose(f);
                }
            }
            xb_batch_manifest_info_free(&mi);
        }
        xb_buf_free(&c);
        xb_buf_free(&m);
        xb_buf_free(&s);
    }
    closedir(d);
    size_t dups = 0;
    if (n_keys)
        qsort(keys, n_keys, sizeof *keys, cmp_str);
    for (size_t i = 1; i < n_keys; i++)
        dups += !strcmp(keys[i], keys[i - 1]);
    for (size_t i = 0; i < n_keys; i++)
        free(keys[i]);
    free(keys);
    xb_httpsig_key_free(key);
    printf("batches %zu keys %zu duplicates %zu partial %zu bad %zu\n", batches, n_keys, dups,
           partial, bad);
    return bad || (final && partial) ? 1 : 0;
}
