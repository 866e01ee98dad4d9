/* test_pol_decide.c — the worked pacs.008 table (classification.md §3.7) for both example
 * destinations, fail-closed cases, party typing, transformation and re-validation.
 *
 * Owns: assertions on labels, actions, verdicts, bases and the transformed bytes.
 * Never: touches the state store (test_pol_store.c does) or the CLI (test_pol_cli.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <cmocka.h>

#include "iso20022/schema.h"
#include "test_pol_common.h"

#define WHEN "2026-12-15T10:30:00+08:00"

typedef struct state {
    xb_policy_catalog_set *set;
    xb_policy_destinations *ex, *thr;
} state;

static int setup(void **s)
{
    state *st = calloc(1, sizeof *st);
    st->set = pol_default_catalogs();
    st->ex = pol_destinations(POL_EXAMPLE);
    st->thr = pol_destinations(POL_THRESH);
    *s = st;
    return 0;
}

static int teardown(void **s)
{
    state *st = *s;
    xb_policy_catalog_set_free(st->set);
    xb_policy_destinations_free(st->ex);
    xb_policy_destinations_free(st->thr);
    free(st);
    xb_schema_cleanup();
    return 0;
}

/* One row of the worked table: a path suffix, labels, and the action for column A and B. */
typedef struct row {
    const char *path;
    xb_pi pi;
    int pfi, level;
    xb_action_kind a, b;
} row;

static const row table[] = {
    /* GrpHdr MsgId, CreDtTm, NbOfTxs and SttlmInf: general, operational */
    {"/GrpHdr/MsgId", XB_PI_NONE, 0, 2, XB_ACT_PASS, XB_ACT_PASS},
    {"/GrpHdr/CreDtTm", XB_PI_NONE, 0, 2, XB_ACT_PASS, XB_ACT_PASS},
    {"/GrpHdr/NbOfTxs", XB_PI_NONE, 0, 2, XB_ACT_PASS, XB_ACT_PASS},
    {"/GrpHdr/SttlmInf/SttlmMtd", XB_PI_NONE, 0, 2, XB_ACT_PASS, XB_ACT_PASS},
    {"/GrpHdr/SttlmInf/ClrSys/Prtry", XB_PI_NONE, 0, 2, XB_ACT_PASS, XB_ACT_PASS},
    /* agents */
    {"/GrpHdr/InstgAgt/FinInstnId/BICFI", XB_PI_NONE, 0, 1, XB_ACT_PASS, XB_ACT_PASS},
    {"/CdtTrfTxInf/DbtrAgt/FinInstnId/BICFI", XB_PI_NONE, 0, 1, XB_ACT_PASS, XB_ACT_PASS},
    {"/CdtTrfTxInf/CdtrAgt/FinInstnId/BICFI", XB_PI_NONE, 0, 1, XB_ACT_PASS, XB_ACT_PASS},
    {"/CdtTrfTxInf/IntrmyAgt1/FinInstnId/BICFI", XB_PI_NONE, 0, 1, XB_ACT_PASS, XB_ACT_PASS},
    /* payment ids: linkable to a person */
    {"/PmtId/InstrId", XB_PI_PI, 1, 2, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/PmtId/EndToEndId", XB_PI_PI, 1, 2, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/PmtId/TxId", XB_PI_PI, 1, 2, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/PmtId/UETR", XB_PI_PI, 1, 2, XB_ACT_PASS, XB_ACT_PSEUDO},
    /* transaction information */
    {"/CdtTrfTxInf/IntrBkSttlmAmt", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/CdtTrfTxInf/InstdAmt", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/CdtTrfTxInf/XchgRate", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/CdtTrfTxInf/IntrBkSttlmDt", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/CdtTrfTxInf/AccptncDtTm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/CdtTrfTxInf/ChrgBr", XB_PI_NONE, 0, 2, XB_ACT_PASS, XB_ACT_PASS},
    {"/CdtTrfTxInf/ChrgsInf/Amt", XB_PI_NONE, 0, 2, XB_ACT_PASS, XB_ACT_PASS},
    /* debtor identity */
    {"/Dbtr/Nm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/Dbtr/PstlAdr/StrtNm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/Dbtr/PstlAdr/BldgNb", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/Dbtr/PstlAdr/Flr", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/Dbtr/PstlAdr/Room", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/Dbtr/PstlAdr/PstCd", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/Dbtr/PstlAdr/DstrctNm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/Dbtr/PstlAdr/TwnNm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/Dbtr/PstlAdr/CtrySubDvsn", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/Dbtr/PstlAdr/Ctry", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/Dbtr/CtryOfRes", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/Dbtr/Id/PrvtId/DtAndPlcOfBirth/BirthDt", XB_PI_PI, 2, 3, XB_ACT_DROP, XB_ACT_DROP},
    {"/Dbtr/Id/PrvtId/DtAndPlcOfBirth/CityOfBirth", XB_PI_PI, 2, 3, XB_ACT_DROP, XB_ACT_DROP},
    {"/Dbtr/Id/PrvtId/Othr/Id", XB_PI_SPI, 2, 3, XB_ACT_DROP, XB_ACT_DROP},
    {"/Dbtr/CtctDtls/MobNb", XB_PI_PI, 2, 3, XB_ACT_DROP, XB_ACT_DROP},
    {"/Dbtr/CtctDtls/EmailAdr", XB_PI_PI, 2, 3, XB_ACT_DROP, XB_ACT_DROP},
    /* accounts: SPI (PIPL Art. 28) */
    {"/DbtrAcct/Id/Othr/Id", XB_PI_SPI, 2, 3, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/DbtrAcct/Nm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    /* creditor: as the debtor rows */
    {"/Cdtr/Nm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/Cdtr/PstlAdr/StrtNm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/Cdtr/PstlAdr/TwnNm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_GENERALIZE},
    {"/CdtrAcct/Id/IBAN", XB_PI_SPI, 2, 3, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/CdtrAcct/Nm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    /* ultimate parties and initiating party */
    {"/UltmtDbtr/Nm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/UltmtCdtr/Nm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/InitgPty/Nm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_PSEUDO},
    /* purpose, regulatory reporting, tax */
    {"/Purp/Cd", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/RgltryRptg/Dtls/Cd", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/RgltryRptg/Authrty/Nm", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    {"/Tax/Dbtr/TaxId", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    /* free text: scanned and redacted (MASK) in A, dropped in B */
    {"/RmtInf/Ustrd[1]", XB_PI_PI, 2, 3, XB_ACT_MASK, XB_ACT_DROP},
    {"/RmtInf/Ustrd[2]", XB_PI_PI, 2, 3, XB_ACT_MASK, XB_ACT_DROP},
    {"/InstrForCdtrAgt/InstrInf", XB_PI_PI, 2, 3, XB_ACT_PASS, XB_ACT_DROP},
    /* commercial references */
    {"/RmtInf/Strd/RfrdDocInf/Nb", XB_PI_PI, 1, 2, XB_ACT_PASS, XB_ACT_PSEUDO},
    {"/RmtInf/Strd/CdtrRefInf/Ref", XB_PI_PI, 1, 2, XB_ACT_PASS, XB_ACT_PSEUDO},
};

static void check_table(const xb_policy_decision *d, bool column_b)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const row *r = &table[i];
        const xb_policy_field *f = pol_field(d, r->path);
        if (!f)
            fail_msg("row %s: no field in the decision", r->path);
        xb_action_kind want = column_b ? r->b : r->a;
        if (f->action != want || f->pi != r->pi || f->pfi != r->pfi || f->level != r->level)
            fail_msg("row %s: got %s %s C%d L%d, want %s %s C%d L%d", r->path,
                     xb_policy_action_name(f->action), xb_policy_pi_name(f->pi), f->pfi, f->level,
                     xb_policy_action_name(want), xb_policy_pi_name(r->pi), r->pfi, r->level);
        assert_int_equal(f->tier, XB_TIER_GENERAL);
    }
}

/* Re-parses the output and validates it against the XSD: what leaves must be schema-valid. */
static void assert_output_valid(const xb_policy_decision *d)
{
    xb_msg *m = NULL;
    xb_error err;
    assert_true(d->output.len > 0);
    assert_int_equal(xb_msg_parse(&m, d->output.data, d->output.len, NULL, &err), 0);
    if (xb_schema_validate_msg(m, &err))
        fail_msg("output invalid: %s at %s", err.message, err.path);
    xb_msg_free(m);
}

static void test_table_payment_chain(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-individual.xml"), st->set, st->ex,
                                "hk-correspondent", WHEN, NULL),
                     0);
    check_table(&d, false);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    assert_int_equal(d.basis, XB_BASIS_EXEMPT_ART5_1_CONTRACT);
    assert_string_equal(d.scenario, "FIN-XB-REMIT-OUT");
    assert_string_equal(d.basis_ref, "Cross-border remittance agreement CBA-HK-2024-017");
    assert_int_equal(d.tier, XB_TIER_GENERAL);
    assert_int_equal(d.pi, XB_PI_SPI);
    assert_int_equal(d.level, 3);
    /* Exempt transfers are not counted. */
    assert_false(d.counted);
    assert_int_equal(d.n_subjects, 0);
    /* Redaction: detector hits gone, the rest of the text kept. */
    const char *out = d.output.data;
    assert_non_null(strstr(out, "联系 [CN_MOB]"));
    assert_non_null(strstr(out, "身份证 [CN_RIC] 卡号 [PAN]"));
    assert_null(strstr(out, "13812345678"));
    assert_null(strstr(out, "<Issr>"));
    /* Minimised but still a payment: names and accounts go to the correspondent. */
    assert_non_null(strstr(out, "GB82WEST12345698765432"));
    assert_non_null(strstr(out, "张伟 ZHANG Wei"));
    /* DROP of the mandatory Othr/Id writes a schema-valid placeholder. */
    assert_non_null(strstr(out, "<Othr><Id>NOTPROVIDED</Id></Othr>"));
    assert_null(strstr(out, "310115199003071239</Id>"));
    assert_output_valid(&d);
    xb_policy_decision_free(&d);
}

static void test_table_group_ops(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-individual.xml"), st->set, st->ex,
                                "sg-group-ops", WHEN, NULL),
                     0);
    check_table(&d, true);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    /* One account number is SPI: the SCC is needed, and it is what the record names. */
    assert_int_equal(d.basis, XB_BASIS_SCC_FILED);
    assert_string_equal(d.basis_ref, "SH-CAC-SCC-2025-0142");
    assert_true(d.counted);
    /* Debtor and creditor each add one SPI subject. */
    assert_int_equal(d.spi_after, 2);
    assert_true(d.pi_after >= 2);
    const char *out = d.output.data;
    assert_null(strstr(out, "张伟"));
    assert_null(strstr(out, "6222021001123456789"));
    assert_null(strstr(out, "GB82WEST12345698765432"));
    assert_null(strstr(out, "世纪大道"));
    assert_null(strstr(out, "<Ustrd>"));
    assert_null(strstr(out, "EDUC"));
    assert_non_null(strstr(out, "<IBAN>GB")); /* pseudonym keeps the IBAN shape and country */
    assert_non_null(strstr(out, "<IntrBkSttlmAmt Ccy=\"CNY\">10000</IntrBkSttlmAmt>"));
    assert_non_null(strstr(out, "<IntrBkSttlmDt>2026-12-01</IntrBkSttlmDt>"));
    assert_non_null(strstr(out, "<PstlAdr><Ctry>CN</Ctry></PstlAdr>"));
    /* A pseudonymised, generalised message still validates against its XSD. */
    assert_output_valid(&d);
    xb_policy_decision_free(&d);
}

static char *pseudonym_of(const xb_policy_decision *d, const char *open, const char *close)
{
    const char *p = strstr(d->output.data, open);
    assert_non_null(p);
    p += strlen(open);
    const char *e = strstr(p, close);
    return strndup(p, (size_t)(e - p));
}

/* The individual remittance to sg-group-ops with the next epoch's pseudonymisation key. */
static void decide_next_epoch(xb_policy_decision *out, state *st)
{
    xb_msg *m = pol_message(POL_MSG("pacs.008-remit-individual.xml"));
    xb_policy_keys k2 = {pol_counter_key, 32, pol_pseudo_key2, 32};
    xb_policy_counters zero = {.year = 2026};
    assert_int_equal(xb_policy_decide(out, m, st->set,
                                      xb_policy_destination_find(st->ex, "sg-group-ops"),
                                      pol_time(WHEN), &zero, &k2, NULL, NULL),
                     0);
    xb_msg_free(m);
}

static void test_pseudonyms_keyed_and_stable(void **s)
{
    state *st = *s;
    xb_policy_decision d1, d2, d3;
    assert_int_equal(pol_decide(&d1, POL_MSG("pacs.008-remit-individual.xml"), st->set, st->ex,
                                "sg-group-ops", WHEN, NULL),
                     0);
    assert_int_equal(pol_decide(&d2, POL_MSG("pacs.008-remit-prefixed.xml"), st->set, st->ex,
                                "sg-group-ops", WHEN, NULL),
                     0);
    /* A different key (the next epoch) gives different pseudonyms. */
    decide_next_epoch(&d3, st);
    char *a = pseudonym_of(&d1, "<Dbtr><Nm>", "<");
    char *b = pseudonym_of(&d2, "<Dbtr><Nm>", "<"); /* output is written unprefixed */
    char *c = pseudonym_of(&d3, "<Dbtr><Nm>", "<");
    assert_int_equal(strlen(a), 16);
    assert_string_equal(a, b);     /* same key, same person: joins keep working */
    assert_string_not_equal(a, c); /* rotation changes them */
    char *u = pseudonym_of(&d1, "<UETR>", "<");
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[14], '4'); /* still a UUID v4 */
    free(a);
    free(b);
    free(c);
    free(u);
    xb_policy_decision_free(&d1);
    xb_policy_decision_free(&d2);
    xb_policy_decision_free(&d3);
}

/* The pseudonym is HMAC-SHA-256(key, domain || 0 || normalised value), base32, 16 characters:
 * checked against OpenSSL's own HMAC, not against our implementation. */
static void test_pseudonym_is_standard_hmac(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-individual.xml"), st->set, st->ex,
                                "sg-group-ops", WHEN, NULL),
                     0);
    const char msg[] = "party\0张伟 ZHANG WEI"; /* trimmed, ASCII upper-cased */
    unsigned char mac[32];
    unsigned len = 0;
    HMAC(EVP_sha256(), pol_pseudo_key, 32, (const unsigned char *)msg, sizeof msg - 1, mac, &len);
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char want[17];
    for (int i = 0; i < 16; i++) {
        int bit = i * 5, byte = bit / 8, off = bit % 8;
        unsigned v = ((unsigned)mac[byte] << 8 | mac[byte + 1]) >> (11 - off);
        want[i] = alpha[v & 31];
    }
    want[16] = '\0';
    char *got = pseudonym_of(&d, "<Dbtr><Nm>", "<");
    assert_string_equal(got, want);
    free(got);
    xb_policy_decision_free(&d);
}

/* The base32 pseudonym OpenSSL's own HMAC gives for domain || 0 || value under a key. */
static void expected_pseudonym(char want[17], const uint8_t *key, size_t klen, const char *domain,
                               const char *value)
{
    unsigned char msg[512], mac[32];
    size_t dl = strlen(domain) + 1, vl = strlen(value);
    assert_true(dl + vl <= sizeof msg);
    memcpy(msg, domain, dl);
    memcpy(msg + dl, value, vl);
    unsigned len = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)klen, msg, dl + vl, mac, &len));
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    for (int i = 0; i < 16; i++) {
        int bit = i * 5, byte = bit / 8, off = bit % 8;
        unsigned v = ((unsigned)mac[byte] << 8 | mac[byte + 1]) >> (11 - off);
        want[i] = alpha[v & 31];
    }
    want[16] = '\0';
}

static void assert_pseudonym_at(const xb_policy_decision *d, const char *open, const char *want)
{
    char *got = pseudonym_of(d, open, "<");
    assert_string_equal(got, want);
    free(got);
}

/* A value that appears more than once in a message (the debtor's name under UltmtDbtr and
 * InitgPty, the creditor's under Cdtr, CdtrAcct and UltmtCdtr) is hashed once per decision:
 * every occurrence still gets exactly the standard HMAC, distinct values keep distinct
 * pseudonyms, and so does the next decision under another key (nothing is carried over). */
static void test_repeated_values_same_pseudonym(void **s)
{
    state *st = *s;
    xb_policy_decision d, d2;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-individual.xml"), st->set, st->ex,
                                "sg-group-ops", WHEN, NULL),
                     0);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    char zhang[17], li[17], zhang_wei[17];
    expected_pseudonym(zhang, pol_pseudo_key, 32, "party", "张伟");
    expected_pseudonym(li, pol_pseudo_key, 32, "party", "LI NA");
    expected_pseudonym(zhang_wei, pol_pseudo_key, 32, "party", "张伟 ZHANG WEI");
    assert_pseudonym_at(&d, "<UltmtDbtr><Nm>", zhang);
    assert_pseudonym_at(&d, "<InitgPty><Nm>", zhang);
    assert_pseudonym_at(&d, "<Dbtr><Nm>", zhang_wei);
    assert_pseudonym_at(&d, "<Cdtr><Nm>", li);
    assert_pseudonym_at(&d, "<UltmtCdtr><Nm>", li);
    assert_string_not_equal(zhang, zhang_wei);

    decide_next_epoch(&d2, st);
    char zhang2[17];
    expected_pseudonym(zhang2, pol_pseudo_key2, 32, "party", "张伟");
    assert_pseudonym_at(&d2, "<UltmtDbtr><Nm>", zhang2);
    assert_pseudonym_at(&d2, "<InitgPty><Nm>", zhang2);
    xb_policy_decision_free(&d);
    xb_policy_decision_free(&d2);
}

/* Keys longer than a SHA-256 block are hashed first (RFC 2104), and values too long to be
 * remembered within a decision (> 64 bytes) are hashed every time: both still give the
 * standard HMAC, twice over for a repeated long name. */
static void test_long_key_and_long_value_pseudonyms(void **s)
{
    state *st = *s;
    static const char long_name[] = "欧阳晓明 OUYANG Xiaoming of the Lujiazui Finance and Trade "
                                    "Zone Branch";
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, POL_MSG("pacs.008-remit-individual.xml"), 0), 0);
    xb_buf src = XB_BUF_INIT;
    /* "LI Na" is the creditor's name under Cdtr, CdtrAcct and UltmtCdtr. */
    for (const char *p = b.data, *hit; p; p = hit ? hit + 5 : NULL) {
        hit = strstr(p, "LI Na");
        assert_int_equal(xb_buf_append(&src, p, hit ? (size_t)(hit - p) : strlen(p)), 0);
        if (hit)
            assert_int_equal(xb_buf_puts(&src, long_name), 0);
    }
    xb_msg *m = NULL;
    assert_int_equal(xb_msg_parse(&m, src.data, src.len, NULL, NULL), 0);
    uint8_t long_key[100];
    for (size_t i = 0; i < sizeof long_key; i++)
        long_key[i] = (uint8_t)(i * 7 + 1);
    xb_policy_keys k = {pol_counter_key, 32, long_key, sizeof long_key};
    xb_policy_counters zero = {.year = 2026};
    xb_policy_decision d;
    assert_int_equal(xb_policy_decide(&d, m, st->set,
                                      xb_policy_destination_find(st->ex, "sg-group-ops"),
                                      pol_time(WHEN), &zero, &k, NULL, NULL),
                     0);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    char want_long[17], want_zhang[17];
    char upper[sizeof long_name];
    for (size_t i = 0; i < sizeof long_name; i++)
        upper[i] =
            (char)(long_name[i] >= 'a' && long_name[i] <= 'z' ? long_name[i] - 32 : long_name[i]);
    assert_true(strlen(upper) > 64);
    expected_pseudonym(want_long, long_key, sizeof long_key, "party", upper);
    expected_pseudonym(want_zhang, long_key, sizeof long_key, "party", "张伟");
    assert_pseudonym_at(&d, "<Cdtr><Nm>", want_long);
    assert_pseudonym_at(&d, "<UltmtCdtr><Nm>", want_long);
    assert_pseudonym_at(&d, "<UltmtDbtr><Nm>", want_zhang);
    xb_policy_decision_free(&d);
    xb_msg_free(m);
    xb_buf_free(&src);
    xb_buf_free(&b);
}

static void test_prefix_does_not_matter(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-prefixed.xml"), st->set, st->ex,
                                "hk-correspondent", WHEN, NULL),
                     0);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    const xb_policy_field *f = pol_field(&d, "/CdtrAcct/Id/IBAN");
    assert_non_null(f);
    assert_int_equal(f->pi, XB_PI_SPI);
    assert_string_equal(f->rule_id, "pacs.008:CdtTrfTxInf/CdtrAcct/Id/IBAN");
    xb_policy_decision_free(&d);
}

static void test_organisation_parties(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-corporate.xml"), st->set, st->ex,
                                "sg-group-ops", WHEN, NULL),
                     0);
    const xb_policy_field *f = pol_field(&d, "/Dbtr/Id/OrgId/LEI");
    assert_non_null(f);
    assert_int_equal(f->action, XB_ACT_PASS);
    f = pol_field(&d, "/DbtrAcct/Id/Othr/Id");
    assert_non_null(f);
    assert_true(f->organisation);
    assert_int_equal(f->pi, XB_PI_NONE);
    f = pol_field(&d, "/CdtTrfTxInf/IntrBkSttlmAmt"); /* no person: not PI */
    assert_int_equal(f->pi, XB_PI_NONE);
    /* Free text is PI, assumed; group ops drops it, so nothing personal leaves. */
    assert_int_equal(d.pi, XB_PI_NONE);
    assert_int_equal(d.basis, XB_BASIS_NOT_PI);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    assert_false(d.counted);
    xb_policy_decision_free(&d);
}

static void test_secret_blocks(void **s)
{
    state *st = *s;
    const char *dests[] = {"hk-correspondent", "sg-group-ops"};
    for (int i = 0; i < 2; i++) {
        xb_policy_decision d;
        assert_int_equal(
            pol_decide(&d, POL_MSG("pacs.008-secret.xml"), st->set, st->ex, dests[i], WHEN, NULL),
            0);
        assert_int_equal(d.verdict, XB_VERDICT_BLOCK);
        assert_int_equal(pol_field(&d, "/RmtInf/Ustrd[1]")->action, XB_ACT_BLOCK);
        assert_int_equal(d.output.len, 0);
        assert_int_equal(d.n_subjects, 0);
        xb_policy_decision_free(&d);
    }
}

static void test_uncovered_supplementary_data_quarantines(void **s)
{
    state *st = *s;
    const char *dests[] = {"hk-correspondent", "sg-group-ops"};
    for (int i = 0; i < 2; i++) {
        xb_policy_decision d;
        assert_int_equal(
            pol_decide(&d, POL_MSG("pacs.008-splmtry.xml"), st->set, st->ex, dests[i], WHEN, NULL),
            0);
        assert_int_equal(d.verdict, XB_VERDICT_QUARANTINE);
        const xb_policy_field *f = pol_field(&d, "/SplmtryData/Envlp/Note");
        assert_non_null(f);
        assert_null(f->rule_id);
        assert_int_equal(f->action, XB_ACT_QUARANTINE);
        assert_non_null(strstr(d.reason, "no rule covers"));
        assert_int_equal(d.output.len, 0);
        xb_policy_decision_free(&d);
    }
}

/* Decides pacs.008-splmtry.xml for hk-correspondent under the default catalog plus `rules`
 * (pacs.008 field lines; the alias bankx is declared). Returns the verdict; *note_ruled says
 * whether the bankx Note element was covered by a rule. */
static xb_verdict splmtry_with_rules(const state *st, const char *rules, bool *note_ruled)
{
    xb_buf cat = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&cat, POL_CATALOG, 0), 0);
    const char *anchor = "    base: FIToFICstmrCdtTrf\n    fields:\n";
    char *at = strstr(cat.data, anchor);
    assert_non_null(at);
    char path[] = "/tmp/xb-pol-wild-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    size_t head = (size_t)(at - cat.data) + strlen(anchor);
    char *ns = strstr(cat.data, "namespaces:\n");
    fwrite(cat.data, 1, (size_t)(ns - cat.data) + 12, f);
    fputs("  bankx: urn:example:bank:extension:1\n", f);
    fwrite(ns + 12, 1, head - (size_t)(ns + 12 - cat.data), f);
    fputs(rules, f);
    fputs(cat.data + head, f);
    fclose(f);
    xb_buf_free(&cat);
    xb_policy_catalog_set *set = NULL;
    xb_error err;
    assert_int_equal(xb_policy_catalog_set_new(&set, &err), 0);
    if (xb_policy_catalog_set_load(set, path, NULL, &err))
        fail_msg("%s", err.message);
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-splmtry.xml"), set, st->ex,
                                "hk-correspondent", WHEN, NULL),
                     0);
    const xb_policy_field *note = pol_field(&d, "/SplmtryData/Envlp/Note");
    assert_non_null(note);
    *note_ruled = note->rule_id != NULL;
    xb_verdict v = d.verdict;
    xb_policy_decision_free(&d);
    xb_policy_catalog_set_free(set);
    unlink(path);
    return v;
}

/* A catalog that names the supplementary data's content lets it through (by namespace URI):
 * the alias "bankx" is resolved to its URI; the message uses no prefix at all. */
static void test_catalogued_supplementary_data_passes(void **s)
{
    state *st = *s;
    bool note_ruled = false;
    assert_int_equal(
        splmtry_with_rules(st,
                           "      - {path: CdtTrfTxInf/SplmtryData/PlcAndNm, class: ops}\n"
                           "      - {path: CdtTrfTxInf/SplmtryData/Envlp/bankx:Note, class: "
                           "freetext, scan: true}\n",
                           &note_ruled),
        XB_VERDICT_DELIVER);
    assert_true(note_ruled);
}

static void count_unnamed(void *ctx, const char *path, const char *rule, const json_t *labels)
{
    (void)rule;
    (void)labels;
    *(size_t *)ctx += path == NULL;
}

/* "*" matches any local name, but only in its own namespace; a named step still wins. */
static void test_wildcard_step_matches_by_namespace(void **s)
{
    state *st = *s;
    bool ruled = false;
    assert_int_equal(
        splmtry_with_rules(st,
                           "      - {path: CdtTrfTxInf/SplmtryData/PlcAndNm, class: ops}\n"
                           "      - {path: CdtTrfTxInf/SplmtryData/Envlp/bankx:*, class: freetext, "
                           "scan: true}\n",
                           &ruled),
        XB_VERDICT_DELIVER);
    assert_true(ruled);
    /* "*" in the message's namespace does not cover the bank's element: fail closed. */
    assert_int_equal(
        splmtry_with_rules(st,
                           "      - {path: CdtTrfTxInf/SplmtryData/PlcAndNm, class: ops}\n"
                           "      - {path: CdtTrfTxInf/SplmtryData/Envlp/*, class: freetext, "
                           "scan: true}\n",
                           &ruled),
        XB_VERDICT_QUARANTINE);
    assert_false(ruled);
}

static void test_unknown_scenario_and_message_quarantine(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    /* reda.001 is not in the payment-chain scenario's message list. */
    xb_msg *m = NULL;
    xb_buf b = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&b, POL_MSG("pacs.008-corporate.xml"), 0), 0);
    xb_buf_free(&b);
    json_t *tree = json_pack("{s:{s:s, s:[s]}}", "nowhere", "scenario", "NO-SUCH-SCENARIO", "bases",
                             "SCC_FILED");
    xb_policy_destinations *ds = NULL;
    xb_error err;
    /* A filed contract without its reference is refused. */
    assert_int_equal(xb_policy_destinations_from_tree(&ds, tree, "destinations", &err), XB_ECONFIG);
    assert_non_null(strstr(err.message, "filing reference"));
    json_decref(tree);
    tree = json_pack("{s:{s:s}}", "nowhere", "scenario", "NO-SUCH-SCENARIO");
    assert_int_equal(xb_policy_destinations_from_tree(&ds, tree, "destinations", &err), 0);
    json_decref(tree);
    m = pol_message(POL_MSG("pacs.008-corporate.xml"));
    xb_policy_keys k = pol_keys();
    xb_policy_counters zero = {.year = 2026};
    assert_int_equal(xb_policy_decide(&d, m, st->set, xb_policy_destination_find(ds, "nowhere"),
                                      pol_time(WHEN), &zero, &k, NULL, &err),
                     0);
    assert_int_equal(d.verdict, XB_VERDICT_QUARANTINE);
    assert_non_null(strstr(d.reason, "scenario"));
    xb_policy_decision_free(&d);
    xb_msg_free(m);
    xb_policy_destinations_free(ds);
}

static void test_destination_unknown_key_named(void **s)
{
    (void)s;
    json_t *tree = json_pack("{s:{s:s, s:s}}", "hk", "scenario", "X", "sceanrio", "typo");
    xb_policy_destinations *ds = NULL;
    xb_error err;
    assert_int_equal(xb_policy_destinations_from_tree(&ds, tree, "destinations", &err), XB_ECONFIG);
    assert_non_null(strstr(err.path, "destinations.hk.sceanrio"));
    json_decref(tree);
}

static void test_no_pseudo_key_quarantines(void **s)
{
    state *st = *s;
    xb_msg *m = pol_message(POL_MSG("pacs.008-remit-individual.xml"));
    xb_policy_keys k = {pol_counter_key, 32, NULL, 0};
    xb_policy_counters zero = {.year = 2026};
    xb_policy_decision d;
    assert_int_equal(xb_policy_decide(&d, m, st->set,
                                      xb_policy_destination_find(st->ex, "sg-group-ops"),
                                      pol_time(WHEN), &zero, &k, NULL, NULL),
                     0);
    assert_int_equal(d.verdict, XB_VERDICT_QUARANTINE);
    assert_non_null(strstr(d.reason, "pseudonymisation key"));
    assert_int_equal(d.n_subjects, 0);
    xb_policy_decision_free(&d);
    xb_msg_free(m);
}

static void test_basis_validity_dates(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    /* The SCC of sg-group-ops is valid from 2025-05-06: the day before, SPI cannot leave. */
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-one-spi.xml"), st->set, st->ex,
                                "sg-group-ops", "2025-05-05T23:59:59+08:00", NULL),
                     0);
    assert_int_equal(d.verdict, XB_VERDICT_QUARANTINE);
    assert_non_null(strstr(d.reason, "standard contract"));
    xb_policy_decision_free(&d);
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-one-spi.xml"), st->set, st->ex,
                                "sg-group-ops", "2025-05-06T00:00:00+08:00", NULL),
                     0);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    assert_int_equal(d.basis, XB_BASIS_SCC_FILED);
    xb_policy_decision_free(&d);
}

static void test_decision_record_json(void **s)
{
    state *st = *s;
    xb_policy_decision d;
    assert_int_equal(pol_decide(&d, POL_MSG("pacs.008-remit-individual.xml"), st->set, st->ex,
                                "sg-group-ops", WHEN, NULL),
                     0);
    json_t *j = xb_policy_decision_to_json(&d);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "DELIVER");
    assert_string_equal(json_string_value(json_object_get(j, "uetr")),
                        "8a562c67-ca16-48ba-b074-65581be6f001");
    assert_string_equal(json_string_value(json_object_get(j, "msg_id")), "XB-POL-20261215-0001");
    assert_string_equal(json_string_value(json_object_get(j, "definition")), "pacs.008.001.08");
    assert_string_equal(json_string_value(json_object_get(j, "transfer_time")), WHEN);
    json_t *cat = json_object_get(j, "catalog");
    assert_string_equal(json_string_value(json_object_get(cat, "ref")), "cn-finance@2025.04.17");
    assert_int_equal(strlen(json_string_value(json_object_get(cat, "sha256"))), 64);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "message_sha256"))), 64);
    assert_string_equal(json_string_value(json_object_get(j, "filing_ref")),
                        "SH-CAC-SCC-2025-0142");
    /* formats 3 and 4 (issue #8): every field once, in groups that share labels and action,
     * under one entry per rule, each path given whole */
    assert_int_equal(json_integer_value(json_object_get(j, "n_fields")), d.n_fields);
    size_t unnamed = 0;
    assert_int_equal(xb_policy_record_fields(j, count_unnamed, &unnamed), d.n_fields);
    assert_int_equal(unnamed, 0);
    json_t *ctr = json_object_get(j, "counters");
    assert_int_equal(json_integer_value(json_object_get(ctr, "new_spi_subjects")), 2);
    /* The record carries no personal values. */
    char *text = json_dumps(j, 0);
    assert_null(strstr(text, "张伟"));
    assert_null(strstr(text, "6222021001123456789"));
    free(text);
    json_decref(j);
    xb_policy_decision_free(&d);
}

/* Every valid message fixture of the project, to both destinations: the default catalog covers
 * every element (no "no rule covers"), and whatever is delivered validates. */
static void test_catalog_covers_valid_fixtures(void **s)
{
    state *st = *s;
    const char *dir = XB_FIXTURES "/messages/valid";
    DIR *d = opendir(dir);
    assert_non_null(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".xml"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        const char *dests[] = {"hk-correspondent", "sg-group-ops"};
        for (int k = 0; k < 2; k++) {
            xb_policy_decision dec;
            xb_buf b = XB_BUF_INIT;
            xb_msg *m = NULL;
            assert_int_equal(xb_buf_read_file(&b, path, 0), 0);
            if (xb_msg_parse(&m, b.data, b.len, NULL, NULL)) {
                xb_buf_free(&b);
                continue; /* not a message this area decides on (parse tests own it) */
            }
            xb_buf_free(&b);
            xb_policy_keys keys = pol_keys();
            xb_policy_counters zero = {.year = 2026};
            assert_int_equal(xb_policy_decide(&dec, m, st->set,
                                              xb_policy_destination_find(st->ex, dests[k]),
                                              pol_time(WHEN), &zero, &keys, NULL, NULL),
                             0);
            for (size_t i = 0; i < dec.n_fields; i++)
                if (!dec.fields[i].rule_id)
                    fail_msg("%s: no rule covers %s", e->d_name, dec.fields[i].path);
            if (dec.verdict == XB_VERDICT_DELIVER)
                assert_output_valid(&dec);
            else if (strstr(dec.reason, "XSD"))
                fail_msg("%s to %s: %s", e->d_name, dests[k], dec.reason);
            xb_policy_decision_free(&dec);
            xb_msg_free(m);
        }
        files++;
    }
    closedir(d);
    assert_true(files > 0);
}

/* A redacted value is put back as text, not markup: "&" and "<" in free text survive the
 * in-place rewrite of the leaf and are escaped once in the output. */
static void test_redacted_text_keeps_markup_characters(void **s)
{
    state *st = *s;
    xb_buf src = XB_BUF_INIT, in = XB_BUF_INIT;
    assert_int_equal(xb_buf_read_file(&src, POL_MSG("pacs.008-remit-individual.xml"), 0), 0);
    const char *at = strstr(src.data, "学费 UCL 2026");
    assert_non_null(at);
    assert_int_equal(xb_buf_append(&in, src.data, (size_t)(at - src.data)), 0);
    assert_int_equal(xb_buf_puts(&in, "学费 A&amp;B &lt;UCL&gt; 2026"), 0);
    assert_int_equal(xb_buf_puts(&in, at + strlen("学费 UCL 2026")), 0);
    xb_msg *m = NULL, *out = NULL;
    assert_int_equal(xb_msg_parse(&m, in.data, in.len, NULL, NULL), 0);
    int64_t t = pol_time(WHEN);
    xb_policy_counters zero = {.year = xb_policy_year_cn(t)};
    xb_policy_keys keys = pol_keys();
    xb_policy_decision d;
    assert_int_equal(xb_policy_decide(&d, m, st->set,
                                      xb_policy_destination_find(st->ex, "hk-correspondent"), t,
                                      &zero, &keys, NULL, NULL),
                     0);
    assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
    assert_non_null(strstr(d.output.data, "A&amp;B &lt;UCL&gt; 2026"));
    assert_null(strstr(d.output.data, "13812345678")); /* the phone number was redacted */
    assert_int_equal(xb_msg_parse(&out, d.output.data, d.output.len, NULL, NULL), 0);
    const char *u = xb_xml_text(xb_xml_find(xb_msg_body(out), "CdtTrfTxInf/RmtInf/Ustrd"));
    assert_non_null(u);
    assert_non_null(strstr(u, "学费 A&B <UCL> 2026"));
    xb_msg_free(out);
    xb_msg_free(m);
    xb_policy_decision_free(&d);
    xb_buf_free(&src);
    xb_buf_free(&in);
}

/* Paths of every element below n that has text, by xb_msg_node_path (the oracle). */
/* A transformed message that fails its XSD is quarantined by the policy; with caller_validates
 * (the settlement stage validates what leaves, issue #8) the same decision is DELIVER, nothing
 * is written, and the tree carries the transformation for the caller to finish. */
static void test_caller_validates_defers_the_xsd_check(void **s)
{
    state *st = *s;
    const xb_policy_destination *de = xb_policy_destination_find(st->ex, "sg-group-ops");
    int64_t t = pol_time(WHEN);
    xb_policy_counters ctr = {.year = xb_policy_year_cn(t)};
    xb_policy_keys keys = pol_keys();
    xb_error err;
    for (int deferred = 0; deferred < 2; deferred++) {
        xb_msg *m = pol_message(POL_MSG("pacs.008-remit-individual.xml"));
        /* invalid where the policy does not look: a second NbOfTxs */
        xmlNodePtr grp = xb_xml_child(xb_msg_body(m), "GrpHdr");
        xmlNodePtr nb = xb_xml_child(grp, "NbOfTxs");
        xmlAddNextSibling(nb, xmlCopyNode(nb, 1));
        xb_policy_opts opts = {.caller_validates = deferred};
        xb_policy_decision d;
        assert_int_equal(xb_policy_decide(&d, m, st->set, de, t, &ctr, &keys, &opts, &err), 0);
        const char *dbtr =
            xb_xml_text(xb_xml_find(xb_xml_child(xb_msg_body(m), "CdtTrfTxInf"), "Dbtr/Nm"));
        if (!deferred) {
            assert_int_equal(d.verdict, XB_VERDICT_QUARANTINE);
            assert_non_null(strstr(d.reason, "transformed message fails its XSD"));
        } else {
            assert_int_equal(d.verdict, XB_VERDICT_DELIVER);
            assert_int_equal(d.output.len, 0);
            assert_non_null(dbtr); /* pseudonymised in the tree, not the name as received */
            assert_null(strstr(dbtr, "张伟"));
        }
        xb_policy_decision_free(&d);
        xb_msg_free(m);
    }
}

static void collect_paths(const xmlNode *n, char (*out)[256], size_t *count, size_t cap)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const char *t = xb_xml_text(c);
        if (t && strspn(t, " \t\r\n") < strlen(t) && *count < cap)
            xb_msg_node_path(c, out[(*count)++], 256);
        collect_paths(c, out, count, cap);
    }
}

/* The field paths of the record (built incrementally, reusing the previous field's steps) are
 * exactly the paths xb_msg_node_path gives for the same elements: repeated siblings indexed
 * ([1], [2]), single ones not, AppHdr and Document both anchors. */
static void test_field_paths_match_node_paths(void **s)
{
    state *st = *s;
    static const char *const msgs[] = {POL_MSG("pacs.008-remit-individual.xml"),
                                       POL_MSG("pacs.008-corporate.xml")};
    for (size_t k = 0; k < 2; k++) {
        xb_policy_decision d;
        assert_int_equal(pol_decide(&d, msgs[k], st->set, st->ex, "sg-group-ops", WHEN, NULL), 0);
        static char want[512][256];
        size_t nwant = 0;
        xb_msg *m = pol_message(msgs[k]);
        if (xb_msg_apphdr(m))
            collect_paths(xb_msg_apphdr(m), want, &nwant, 512);
        collect_paths(xb_msg_document(m), want, &nwant, 512);
        assert_true(nwant > 20);
        assert_int_equal(d.n_fields, nwant);
        for (size_t i = 0; i < d.n_fields; i++) {
            bool found = false;
            for (size_t j = 0; j < nwant && !found; j++)
                found = !strcmp(d.fields[i].path, want[j]);
            if (!found)
                fail_msg("%s: field path %s is not a node path", msgs[k], d.fields[i].path);
        }
        assert_non_null(pol_field(&d, "/Document/FIToFICstmrCdtTrf/GrpHdr/MsgId"));
        xb_msg_free(m);
        xb_policy_decision_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_payment_chain),
        cmocka_unit_test(test_table_group_ops),
        cmocka_unit_test(test_pseudonyms_keyed_and_stable),
        cmocka_unit_test(test_pseudonym_is_standard_hmac),
        cmocka_unit_test(test_repeated_values_same_pseudonym),
        cmocka_unit_test(test_long_key_and_long_value_pseudonyms),
        cmocka_unit_test(test_prefix_does_not_matter),
        cmocka_unit_test(test_organisation_parties),
        cmocka_unit_test(test_secret_blocks),
        cmocka_unit_test(test_uncovered_supplementary_data_quarantines),
        cmocka_unit_test(test_catalogued_supplementary_data_passes),
        cmocka_unit_test(test_unknown_scenario_and_message_quarantine),
        cmocka_unit_test(test_destination_unknown_key_named),
        cmocka_unit_test(test_no_pseudo_key_quarantines),
        cmocka_unit_test(test_basis_validity_dates),
        cmocka_unit_test(test_decision_record_json),
        cmocka_unit_test(test_catalog_covers_valid_fixtures),
        cmocka_unit_test(test_field_paths_match_node_paths),
        cmocka_unit_test(test_caller_validates_defers_the_xsd_check),
        cmocka_unit_test(test_wildcard_step_matches_by_namespace),
        cmocka_unit_test(test_redacted_text_keeps_markup_characters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
