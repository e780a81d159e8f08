/* jscan.h — a strict JSON checker and reader that allocates nothing per value, for hot paths
 * (every POST /v1/events body). jansson builds a tree with one allocation per value and a hash
 * table per object; for a 230-byte event that costs more than everything else ingest-api does.
 *
 * tp_jscan_value accepts exactly the texts jansson's json_loadb accepts with
 * JSON_REJECT_DUPLICATES (and JSON_DECODE_ANY for a bare scalar): valid UTF-8 everywhere, no
 * control characters or \u0000 in strings, paired surrogates, integers within 64 bits, reals
 * that do not overflow, at most 2048 nested values, no duplicate keys in any object (one
 * deliberate difference: a NUL byte is always refused, where jansson skips one that follows a
 * number or a literal, reading "[3\0]" as [3]). So every
 * event ingest-api stores parses the same way for every jansson-based consumer downstream;
 * tests/fuzz/fuzz_ingest_body.c checks the two agree. Errors give the offset of the first byte
 * that cannot be part of valid JSON (the end of the text when it stops early).
 *
 * The readers (iterate an object's members, decode a string or number) trust their input:
 * call them only on text tp_jscan_value accepted. */
#ifndef TP_JSCAN_H
#define TP_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "tp/err.h"

#define TP_JSCAN_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct tp_jscan_error {
    size_t offset;
    char message[96];
} tp_jscan_error;

/* Scratch space for one checker (nesting and object keys). Lives on the caller's stack; only
 * deep or key-heavy texts spill to the heap, so call tp_jscan_done when finished with it. */
typedef struct tp_jscan {
    struct tp_jscan_frame { uint32_t key_base; uint8_t object; } *frames, frames_inline[32];
    struct tp_jscan_key { uint32_t off, len; uint32_t hash; uint8_t escaped; } *keys, keys_inline[64];
    size_t frames_cap, keys_cap;
    size_t base_depth; /* values enclosing the one checked (0 unless the caller walks a container) */
    size_t ws;         /* out: whitespace bytes inside the last value checked */
} tp_jscan;

void tp_jscan_init(tp_jscan *js);
void tp_jscan_done(tp_jscan *js); /* frees any spill; js may be reused after tp_jscan_init */

/* Check one JSON value starting at s[*pos] (leading whitespace skipped). On 0, *pos is just
 * past the value and js->ws says how much whitespace it holds outside strings (0: it is
 * already compact). TP_EINVAL with err filled (offsets count from s) when the text is not JSON,
 * TP_ENOMEM when the scratch could not grow. top_container: the value must be an object or an
 * array, as json_loadb requires without JSON_DECODE_ANY. */
int tp_jscan_value(tp_jscan *js, const char *s, size_t len, size_t *pos, int top_container,
                   tp_jscan_error *err) TP_MUSTCHECK;
/* Index of the first byte at or after pos that is not JSON whitespace (len if none). */
size_t tp_jscan_skip_ws(const char *s, size_t len, size_t pos);

typedef enum {
    TP_JSON_STRING,
    TP_JSON_INTEGER,
    TP_JSON_REAL,
    TP_JSON_OBJECT,
    TP_JSON_ARRAY,
    TP_JSON_TRUE,
    TP_JSON_FALSE,
    TP_JSON_NULL,
} tp_json_kind;

/* A checked value's span, as the readers hand it out. */
typedef struct tp_jvalue {
    const char *p; /* first byte (a quote for strings) */
    size_t len;
} tp_jvalue;

tp_json_kind tp_jvalue_kind(tp_jvalue v);

/* Members of a checked object, in document order. */
typedef struct tp_jiter {
    const char *p, *end;
} tp_jiter;
void tp_jiter_init(tp_jiter *it, tp_jvalue obj);
/* 1 and the next member (key as a string value, quotes included), or 0 at the end. */
int tp_jiter_next(tp_jiter *it, tp_jvalue *key, tp_jvalue *val);

/* Decode a checked string value into out (NUL-terminated, at most cap-1 bytes). Returns the
 * decoded length in bytes even when it did not fit (then out holds a prefix cut at a
 * character boundary). *codepoints (may be NULL) gets the length in Unicode code points. */
size_t tp_jvalue_string(tp_jvalue v, char *out, size_t cap, size_t *codepoints);
/* 1 if the decoded string equals lit (lit_len bytes). */
int tp_jvalue_string_is(tp_jvalue v, const char *lit, size_t lit_len);
/* Values of checked numbers (an integer's value always fits, jscan checked it). */
long long tp_jvalue_integer(tp_jvalue v);
double tp_jvalue_real(tp_jvalue v); /* integers too, as jansson's json_number_value */

#endif
