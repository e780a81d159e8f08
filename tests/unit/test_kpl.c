/* test_kpl.c — the KPL aggregated-record encoder against a hand-derived vector, deaggregation of
 * good and corrupt input, and randomized round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "tp/kpl.h"

/* Two user records, two partition keys: ("a", "x") and ("b", "yz"). Derived by hand from the
 * protobuf encoding rules (field key = field_number << 3 | wire_type; wire type 2 = varint length
 * + bytes, wire type 0 = varint):
 *
 *   F3 89 9A C2                 magic
 *   0A 01 61                    AggregatedRecord.partition_key_table (1, type 2) = "a"
 *   0A 01 62                    partition_key_table = "b"
 *   1A 05                       AggregatedRecord.records (3, type 2), 5 bytes:
 *      08 00                       Record.partition_key_index (1, type 0) = 0
 *      1A 01 78                    Record.data (3, type 2) = "x"
 *   1A 06                       records, 6 bytes:
 *      08 01                       partition_key_index = 1
 *      1A 02 79 7A                 data = "yz"
 *   <16 bytes>                  MD5 of the 21 protobuf bytes, from python3:
 *                               hashlib.md5(bytes.fromhex("0A01610A01621A0508001A01781A0608011A02797A"))
 *                               = 6fe1bc1407aabc41e3e0c88f3f668baf */
static const uint8_t vector[] = {
    0xF3, 0x89, 0x9A, 0xC2,                                                   /* magic */
    0x0A, 0x01, 0x61, 0x0A, 0x01, 0x62,                                       /* keys */
    0x1A, 0x05, 0x08, 0x00, 0x1A, 0x01, 0x78,                                 /* record 0 */
    0x1A, 0x06, 0x08, 0x01, 0x1A, 0x02, 0x79, 0x7A,                           /* record 1 */
    0x6f, 0xe1, 0xbc, 0x14, 0x07, 0xaa, 0xbc, 0x41, 0xe3, 0xe0, 0xc8, 0x8f, 0x3f, 0x66, 0x8b, 0xaf, /* MD5 */
};
#define PB_OFF 4
#define PB_LEN 21

struct got {
    size_t n;
    size_t index[64];
    char pkey[64][300];
    uint8_t data[64][256];
    size_t len[64];
    int stop_at; /* return 7 at this index, -1 never */
};

static int collect(void *ctx, size_t index, const char *pkey, size_t pkey_len, const uint8_t *data, size_t len)
{
    struct got *g = ctx;
    if ((int)index == g->stop_at)
        return 7;
    assert_true(g->n < 64 && pkey_len < 300 && len <= 256);
    g->index[g->n] = index;
    memcpy(g->pkey[g->n], pkey, pkey_len);
    g->pkey[g->n][pkey_len] = '\0';
    if (len)
        memcpy(g->data[g->n], data, len);
    g->len[g->n] = len;
    g->n++;
    return 0;
}

/* Wrap protobuf bytes as an aggregate with a correct MD5, to reach the parser past the digest. */
static size_t wrap(const uint8_t *pb, size_t n, uint8_t *out)
{
    unsigned mdl;
    memcpy(out, vector, 4);
    memcpy(out + 4, pb, n);
    EVP_Digest(pb, n, out + 4 + n, &mdl, EVP_md5(), NULL);
    return 4 + n + 16;
}

static void test_encoder_vector(void **state)
{
    (void)state;
    tp_kpl_builder *b = NULL;
    const uint8_t *out;
    size_t len;
    assert_int_equal(tp_kpl_builder_new(&b), 0);
    assert_int_equal(tp_kpl_builder_finish(b, &out, &len), TP_EINVAL); /* nothing to encode */
    assert_int_equal(tp_kpl_builder_add(b, "a", "x", 1), 0);
    assert_int_equal(tp_kpl_builder_size_with(b, "b", 2), sizeof vector);
    assert_int_equal(tp_kpl_builder_add(b, "b", "yz", 2), 0);
    assert_int_equal(tp_kpl_builder_count(b), 2);
    assert_int_equal(tp_kpl_builder_finish(b, &out, &len), 0);
    assert_int_equal(len, sizeof vector);
    assert_memory_equal(out, vector, sizeof vector);
    assert_true(tp_kpl_is_aggregated(out, len));

    /* A repeated key reuses its table entry: only the record (2 + 2 + 3 = 7 + 2 framing) grows. */
    assert_int_equal(tp_kpl_builder_size_with(b, "a", 1), sizeof vector + 7);
    assert_int_equal(tp_kpl_builder_add(b, "a", "q", 1), 0);
    assert_int_equal(tp_kpl_builder_finish(b, &out, &len), 0);
    assert_int_equal(len, sizeof vector + 7);
    struct got g = {.stop_at = -1};
    assert_int_equal(tp_kpl_deaggregate(out, len, "outer", collect, &g), 0);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.pkey[2], "a");
    assert_memory_equal(g.data[2], "q", 1);

    tp_kpl_builder_reset(b);
    assert_int_equal(tp_kpl_builder_count(b), 0);
    assert_int_equal(tp_kpl_builder_add(b, "a", "x", 1), 0);
    assert_int_equal(tp_kpl_builder_add(b, "b", "yz", 2), 0);
    assert_int_equal(tp_kpl_builder_finish(b, &out, &len), 0);
    assert_memory_equal(out, vector, sizeof vector); /* reset leaves no trace */
    assert_int_equal(tp_kpl_builder_add(b, "", "x", 1), TP_EINVAL);
    tp_kpl_builder_free(b);
    tp_kpl_builder_free(NULL);
}

static void test_decode_vector(void **state)
{
    (void)state;
    struct got g = {.stop_at = -1};
    assert_int_equal(tp_kpl_deaggregate(vector, sizeof vector, "outer", collect, &g), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.index[0], 0);
    assert_string_equal(g.pkey[0], "a");
    assert_int_equal(g.len[0], 1);
    assert_memory_equal(g.data[0], "x", 1);
    assert_int_equal(g.index[1], 1);
    assert_string_equal(g.pkey[1], "b");
    assert_int_equal(g.len[1], 2);
    assert_memory_equal(g.data[1], "yz", 2);

    /* The callback can stop the walk; its value comes back. */
    struct got s = {.stop_at = 1};
    assert_int_equal(tp_kpl_deaggregate(vector, sizeof vector, "outer", collect, &s), 7);
    assert_int_equal(s.n, 1);

    /* Unknown fields (a Record tag, field 4) are skipped. Record 0 with a tag appended:
     * 22 03 0A 01 74 = tags (4, type 2), 3 bytes: Tag.key (1, type 2) = "t". */
    const uint8_t pb[] = {0x0A, 0x01, 0x61, 0x1A, 0x0A, 0x08, 0x00, 0x1A, 0x01, 0x78, 0x22, 0x03, 0x0A, 0x01, 0x74};
    uint8_t agg[64];
    size_t n = wrap(pb, sizeof pb, agg);
    struct got t = {.stop_at = -1};
    assert_int_equal(tp_kpl_deaggregate(agg, n, NULL, collect, &t), 0);
    assert_int_equal(t.n, 1);
    assert_memory_equal(t.data[0], "x", 1);
}

static void test_plain_passthrough(void **state)
{
    (void)state;
    struct got g = {.stop_at = -1};
    assert_int_equal(tp_kpl_deaggregate("{\"a\":1}", 7, "outer-key", collect, &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.index[0], 0);
    assert_string_equal(g.pkey[0], "outer-key");
    assert_memory_equal(g.data[0], "{\"a\":1}", 7);
    assert_false(tp_kpl_is_aggregated("{\"a\":1}", 7));

    /* A damaged magic byte means "not aggregated": the bytes are delivered whole, undecoded. */
    uint8_t bad[sizeof vector];
    memcpy(bad, vector, sizeof vector);
    bad[1] ^= 0xFF;
    struct got h = {.stop_at = -1};
    assert_false(tp_kpl_is_aggregated(bad, sizeof bad));
    assert_int_equal(tp_kpl_deaggregate(bad, sizeof bad, "k", collect, &h), 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.len[0], sizeof vector);
    /* Three magic bytes are too short to be the magic: plain as well. */
    struct got i = {.stop_at = -1};
    assert_int_equal(tp_kpl_deaggregate(vector, 3, "k", collect, &i), 0);
    assert_int_equal(i.n, 1);
}

static void expect_corrupt(const uint8_t *agg, size_t n, const char *what)
{
    struct got g = {.stop_at = -1};
    int rc = tp_kpl_deaggregate(agg, n, "k", collect, &g);
    if (rc != TP_ECORRUPT)
        fail_msg("%s: got %s, want TP_ECORRUPT", what, tp_errname(rc));
    if (g.n != 0)
        fail_msg("%s: callback ran %zu times before the error", what, g.n);
}

static void test_corrupt(void **state)
{
    (void)state;
    uint8_t buf[128];
    /* Bad digest: flip each byte of the protobuf or the digest in turn. */
    for (size_t i = PB_OFF; i < sizeof vector; i++) {
        memcpy(buf, vector, sizeof vector);
        buf[i] ^= 0x01;
        expect_corrupt(buf, sizeof vector, "flipped byte");
    }
    /* Truncation of the whole record: any length from the magic up is corrupt. */
    for (size_t n = 4; n < sizeof vector; n++)
        expect_corrupt(vector, n, "truncated record");
    /* Truncated protobuf with a valid digest: corrupt unless the cut falls between fields
     * (after key "a" = 3, after both keys = 6, after record 0 = 13), which is a valid message. */
    for (size_t n = 1; n < PB_LEN; n++) {
        size_t len = wrap(vector + PB_OFF, n, buf);
        if (n == 3 || n == 6 || n == 13) {
            struct got g = {.stop_at = -1};
            assert_int_equal(tp_kpl_deaggregate(buf, len, "k", collect, &g), 0);
            assert_int_equal(g.n, n == 13 ? 1 : 0);
        } else {
            expect_corrupt(buf, len, "truncated protobuf");
        }
    }
    static const struct {
        const char *what;
        uint8_t pb[24];
        size_t n;
    } bad[] = {
        /* record 1 points at key 2 of 2; record 0 is valid, yet nothing may be delivered */
        {"index out of range", {0x0A, 0x01, 0x61, 0x0A, 0x01, 0x62, 0x1A, 0x05, 0x08, 0x00, 0x1A, 0x01, 0x78,
                                0x1A, 0x05, 0x08, 0x02, 0x1A, 0x01, 0x79}, 20},
        {"explicit hash key index with empty table", {0x0A, 0x01, 0x61, 0x1A, 0x07, 0x08, 0x00, 0x10, 0x00, 0x1A,
                                                      0x01, 0x78}, 12},
        {"record without data", {0x0A, 0x01, 0x61, 0x1A, 0x02, 0x08, 0x00}, 7},
        {"record without key index", {0x0A, 0x01, 0x61, 0x1A, 0x03, 0x1A, 0x01, 0x78}, 8},
        {"key index as bytes", {0x0A, 0x01, 0x61, 0x1A, 0x05, 0x0A, 0x00, 0x1A, 0x01, 0x78}, 10},
        {"key table as varint", {0x08, 0x01}, 2},
        {"group wire type", {0x0B, 0x0C}, 2},
        {"field number 0", {0x02, 0x00}, 2},
        {"length past the end", {0x0A, 0x7F, 0x61}, 3},
        {"varint overlong", {0x28, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 12},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = wrap(bad[i].pb, bad[i].n, buf);
        expect_corrupt(buf, len, bad[i].what);
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_random_round_trips(void **state)
{
    (void)state;
    static const char *keys[] = {"tenant-1", "tenant-2", "u", "\xc3\xbc-key", "k5", "a-much-longer-partition-key-42"};
    tp_kpl_builder *b = NULL;
    assert_int_equal(tp_kpl_builder_new(&b), 0);
    static struct got want, got;
    for (int round = 0; round < 1000; round++) {
        tp_kpl_builder_reset(b);
        memset(&want, 0, sizeof want);
        size_t n = 1 + next_rand() % 40;
        size_t predicted = 0;
        for (size_t i = 0; i < n; i++) {
            const char *k = keys[next_rand() % 6];
            size_t len = next_rand() % 257;
            for (size_t j = 0; j < len; j++)
                want.data[i][j] = (uint8_t)next_rand();
            if (len >= 4 && next_rand() % 4 == 0)
                memcpy(want.data[i], vector, 4); /* user data that itself looks aggregated */
            predicted = tp_kpl_builder_size_with(b, k, len);
            assert_int_equal(tp_kpl_builder_add(b, k, want.data[i], len), 0);
            snprintf(want.pkey[i], sizeof want.pkey[i], "%s", k);
            want.len[i] = len;
        }
        const uint8_t *out;
        size_t outlen;
        assert_int_equal(tp_kpl_builder_finish(b, &out, &outlen), 0);
        assert_int_equal(outlen, predicted);
        memset(&got, 0, sizeof got);
        got.stop_at = -1;
        assert_int_equal(tp_kpl_deaggregate(out, outlen, "outer", collect, &got), 0);
        assert_int_equal(got.n, n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(got.index[i], i);
            assert_string_equal(got.pkey[i], want.pkey[i]);
            assert_int_equal(got.len[i], want.len[i]);
            assert_memory_equal(got.data[i], want.data[i], want.len[i]);
        }
        /* Mutate one protobuf byte and re-digest: must decode or fail cleanly, never crash. */
        uint8_t *m = malloc(outlen);
        assert_non_null(m);
        memcpy(m, out, outlen);
        size_t pblen = outlen - 20;
        m[4 + next_rand() % pblen] = (uint8_t)next_rand();
        unsigned mdl;
        EVP_Digest(m + 4, pblen, m + 4 + pblen, &mdl, EVP_md5(), NULL);
        memset(&got, 0, sizeof got);
        got.stop_at = -1;
        int rc = tp_kpl_deaggregate(m, outlen, "outer", collect, &got);
        assert_true(rc == 0 || (rc == TP_ECORRUPT && got.n == 0));
        free(m);
    }
    tp_kpl_builder_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_vector),    cmocka_unit_test(test_decode_vector),
        cmocka_unit_test(test_plain_passthrough), cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_random_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
