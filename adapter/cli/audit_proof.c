/* audit_proof.c — `xborder audit-proof`: an inclusion proof for one audit entry, and its check.
 *
 *   xborder audit-proof --audit FILE [--audit FILE...] --seq N [--pub KEY]  > proof.json
 *   xborder audit-proof --verify proof.json [--pub KEY]
 *
 * Owns: the proof file format (version 1): the entry's line, the first signed checkpoint that
 * covers it (its line), and the RFC 6962 audit path from the entry's leaf to that checkpoint's
 * root. A regulator holding only the public key, one entry and the proof can check that the
 * entry is in the log the operator signed, as in Certificate Transparency.
 * Never: builds a proof from a log that does not verify; prints anything but the proof.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/cli/cli.h"
#include "adapter/state/audit_verify.h"
#include "adapter/state/merkle.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xborder audit-proof --audit FILE [--audit FILE...] --seq N [--pub KEY]\n"
            "       xborder audit-proof --verify PROOF.json [--pub KEY]\n\n"
            "Prints (as JSON) a Merkle inclusion proof of audit entry N against the first\n"
            "signed checkpoint covering it, or checks such a proof: the entry's own hash, the\n"
            "audit path to the checkpoint's root and, with --pub, the checkpoint signature.\n"
            "exit: 0 proof printed / valid; 1 not provable / invalid; 2 usage.\n"
            "example: xborder audit-proof --audit /var/lib/xborder/audit.log --seq 1042 "
            "> proof.json\n");
}

typedef struct collect {
    uint64_t seq;
    char *entry_line;
    char *ckpt_line;
    uint64_t ckpt_size;
} collect;

static int on_entry(void *ctx, const xb_audit_entry *e, const char *line, size_t len)
{
    collect *c = ctx;
    if (e->seq == c->seq)
        c->entry_line = strndup(line, len);
    if (!c->ckpt_line && !strcmp(e->type, "checkpoint")) {
        uint64_t size = (uint64_t)json_integer_value(json_object_get(e->record, "tree_size"));
        if (size >= c->seq) {
            c->ckpt_line = strndup(line, len);
            c->ckpt_size = size;
        }
    }
    return 0;
}

static int make_proof(const char *const *files, size_t n, uint64_t seq, const char *pub)
{
    collect c = {.seq = seq};
    xb_audit_verify_opts o = {.pubkey_path = pub,
                              .keep_leaves = true,
                              .on_entry = on_entry,
                              .ctx = &c,
                              .allow_unsigned_tail = true};
    xb_audit_verifier *v;
    xb_error err;
    int status = 1;
    if (xb_audit_verifier_new(&v, &o, &err) < 0) {
        fprintf(stderr, "audit-proof: %s\n", err.message);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f) {
            fprintf(stderr, "audit-proof: cannot open %s\n", files[i]);
            goto out;
        }
        ssize_t got;
        unsigned long ln = 0;
        while ((got = getline(&line, &cap, f)) > 0) {
            char where[300];
            snprintf(where, sizeof where, "%s:%lu", files[i], ++ln);
            if (line[got - 1] == '\n')
                got--;
            if (xb_audit_verifier_feed(v, line, (size_t)got, where))
                break;
        }
        fclose(f);
    }
    xb_audit_verify_result r;
    xb_audit_verifier_finish(v, &r);
    if (r.fault != XB_AUDIT_INTACT) {
        fprintf(stderr, "audit-proof: the log does not verify (seq %llu: %s)\n",
                (unsigned long long)r.seq, r.reason);
        goto out;
    }
    if (!c.entry_line || !c.ckpt_line) {
        fprintf(stderr, "audit-proof: entry %llu %s\n", (unsigned long long)seq,
                c.entry_line ? "is not yet covered by a signed checkpoint" : "is not in the log");
        goto out;
    }
    size_t nl;
    const uint8_t(*leaves)[XB_MERKLE_HASH] = xb_audit_verifier_leaves(v, &nl);
    uint8_t(*path)[XB_MERKLE_HASH] = NULL;
    size_t plen = 0;
    if (xb_merkle_proof(&path, &plen, leaves, c.ckpt_size, seq - 1, &err) < 0) {
        fprintf(stderr, "audit-proof: %s\n", err.message);
        goto out;
    }
    json_t *hashes = json_array();
    for (size_t i = 0; i < plen; i++) {
        char hex[65];
        xb_merkle_hex(hex, path[i], 32);
        json_array_append_new(hashes, json_string(hex));
    }
    free(path);
    json_t *proof =
        json_pack("{si,sI,sI,sI,ss,ss,so}", "version", 1, "seq", (json_int_t)seq, "leaf_index",
                  (json_int_t)(seq - 1), "tree_size", (json_int_t)c.ckpt_size, "entry",
                  c.entry_line, "checkpoint", c.ckpt_line, "path", hashes);
    json_dumpf(proof, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(proof);
    status = 0;
out:
    free(line);
    free(c.entry_line);
    free(c.ckpt_line);
    xb_audit_verifier_free(v);
    return status;
}

static int bad(const char *why)
{
    printf("INVALID: %s\n", why);
    return 1;
}

static int check_proof(const char *proof_path, const char *pub)
{
    json_error_t jerr;
    json_t *p = json_load_file(proof_path, 0, &jerr);
    if (!p) {
        fprintf(stderr, "audit-proof: %s: %s\n", proof_path, jerr.text);
        return 1;
    }
    int status = 1;
    const char *eline = json_string_value(json_object_get(p, "entry"));
    const char *cline = json_string_value(json_object_get(p, "checkpoint"));
    json_t *hashes = json_object_get(p, "path");
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(p, "seq"));
    xb_audit_entry e = {0}, ck = {0};
    xb_audit_pubkey *key = NULL;
    xb_error err;
    if (!eline || !cline || !json_is_array(hashes) || json_array_size(hashes) > 64) {
        status = bad("proof lacks entry, checkpoint or path");
        goto out;
    }
    if (xb_audit_entry_parse(&e, eline, strlen(eline), NULL) < 0 || e.seq != seq ||
        !xb_audit_entry_hash_ok(&e)) {
        status = bad("the entry's hash is not SHA-256(prev || record): the entry was altered");
        goto out;
    }
    if (xb_audit_entry_parse(&ck, cline, strlen(cline), NULL) < 0 ||
        strcmp(ck.type, "checkpoint") || !xb_audit_entry_hash_ok(&ck)) {
        status = bad("the checkpoint line is not an intact checkpoint entry");
        goto out;
    }
    uint64_t size = (uint64_t)json_integer_value(json_object_get(ck.record, "tree_size"));
    uint8_t root[32], leaf[32], path[64][32];
    if (xb_merkle_unhex(root, json_string_value(json_object_get(ck.record, "root")), 32) < 0) {
        status = bad("checkpoint has no root");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(hashes); i++)
        if (xb_merkle_unhex(path[i], json_string_value(json_array_get(hashes, i)), 32) < 0) {
            status = bad("path holds a non-hash");
            goto out;
        }
    xb_merkle_leaf_hash(leaf, e.hash, 32);
    if (xb_merkle_verify(leaf, seq - 1, size, (const uint8_t(*)[32])path, json_array_size(hashes),
                         root, &err) < 0) {
        status = bad(err.message);
        goto out;
    }
    if (pub) {
        if (xb_audit_pubkey_load(&key, pub, &err) < 0 ||
            xb_audit_ckpt_check_sig(ck.record, key, &err) < 0) {
            status = bad(err.message);
            goto out;
        }
    }
    printf("VALID: entry %llu is leaf %llu of the log of %llu entries signed at %s%s\n",
           (unsigned long long)seq, (unsigned long long)seq - 1, (unsigned long long)size,
           json_string_value(json_object_get(ck.record, "time")),
           pub ? " (signature checked)" : " (signature NOT checked: no --pub)");
    status = 0;
out:
    xb_audit_pubkey_free(key);
    xb_audit_entry_clear(&e);
    xb_audit_entry_clear(&ck);
    json_decref(p);
    return status;
}

int xb_cli_audit_proof(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *files[256], *pub = NULL, *verify = NULL;
    size_t n = 0;
    long long seq = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--audit") && i + 1 < argc && n < 256)
            files[n++] = argv[++i];
        else if (!strcmp(argv[i], "--seq") && i + 1 < argc)
            seq = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--pub") && i + 1 < argc)
            pub = argv[++i];
        else if (!strcmp(argv[i], "--verify") && i + 1 < argc)
            verify = argv[++i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (verify)
        return n || seq ? (usage(stderr), 2) : check_proof(verify, pub);
    if (!n || seq < 1) {
        usage(stderr);
        return 2;
    }
    return make_proof(files, n, (uint64_t)seq, pub);
}
