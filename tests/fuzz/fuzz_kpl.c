/* fuzz_kpl.c — libFuzzer harness for KPL deaggregation (tp_kpl_deaggregate).
 *
 * The input is used twice: as is (exercising the magic/digest checks), and with the magic and a
 * correct MD5 put around it so the protobuf parser itself is reached. Every record delivered must
 * lie inside the input, and a TP_ECORRUPT answer must come before any record is delivered.
 *
 * Build (clang only; not wired into CMake):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I common/include \
 *     tests/fuzz/fuzz_kpl.c common/src/kpl.c -lcrypto -o /tmp/fuzz_kpl
 *   /tmp/fuzz_kpl -max_total_time=60 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tp/kpl.h"

struct bounds {
    const uint8_t *lo, *hi;
    size_t delivered;
};

static int check(void *ctx, size_t index, const char *pkey, size_t pkey_len, const uint8_t *data, size_t len)
{
    struct bounds *b = ctx;
    (void)index;
    if (len && (data < b->lo || data + len > b->hi))
        abort();
    if (pkey_len && pkey != NULL && ((const uint8_t *)pkey < b->lo || (const uint8_t *)pkey + pkey_len > b->hi)) {
        /* a plain record's key is the outer key, which lives outside the input */
        if (strncmp(pkey, "outer", pkey_len) != 0)
            abort();
    }
    b->delivered++;
    return 0;
}

static void run(const uint8_t *d, size_t n)
{
    struct bounds b = {d, d + n, 0};
    int rc = tp_kpl_deaggregate(d, n, "outer", check, &b);
    if (rc != 0 && b.delivered != 0)
        abort(); /* validation must precede delivery */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size);
    uint8_t *agg = malloc(size + 20);
    if (!agg)
        return 0;
    static const uint8_t magic[4] = {0xF3, 0x89, 0x9A, 0xC2};
    unsigned mdl;
    memcpy(agg, magic, 4);
    if (size)
        memcpy(agg + 4, data, size);
    EVP_Digest(data, size, agg + 4 + size, &mdl, EVP_md5(), NULL);
    run(agg, size + 20);
    free(agg);
    return 0;
}
