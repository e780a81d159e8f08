/* jscan.c — the strict JSON checker (see jscan.h). Readers are in jscan_read.c.
 *
 * Iterative, so a hostile nesting depth costs scratch entries, not C stack. Each rule below
 * mirrors one of jansson's (load.c): the checker must never accept a text jansson refuses,
 * or an event acknowledged by ingest-api could be unreadable downstream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan_priv.h"

void tp_jscan_init(tp_jscan *js)
{
    js->frames = js->frames_inline;
    js->frames_cap = sizeof js->frames_inline / sizeof js->frames_inline[0];
    js->keys = js->keys_inline;
    js->keys_cap = sizeof js->keys_inline / sizeof js->keys_inline[0];
    js->base_depth = 0;
    js->ws = 0;
}

void tp_jscan_done(tp_jscan *js)
{
    if (js->frames != js->frames_inline)
        free(js->frames);
    if (js->keys != js->keys_inline)
        free(js->keys);
    size_t base = js->base_depth;
    tp_jscan_init(js);
    js->base_depth = base;
}

/* Grow an inline-or-heap array to hold need entries. */
static int grow(void **arr, void *inline_arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap * 2;
    while (ncap < need)
        ncap *= 2;
    void *n = malloc(ncap * size);
    if (!n)
        return TP_ENOMEM;
    memcpy(n, *arr, *cap * size);
    if (*arr != inline_arr)
        free(*arr);
    *arr = n;
    *cap = ncap;
    return 0;
}

static int fail(tp_jscan_error *err, size_t off, const char *msg)
{
    err->offset = off;
    snprintf(err->message, sizeof err->message, "%s", msg);
    return TP_EINVAL;
}

size_t tp_jscan_skip_ws(const char *s, size_t len, size_t pos)
{
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
        pos++;
    return pos;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the valid UTF-8 sequence at s (2..4), 0 if invalid or cut short: no overlong
 * forms, no surrogates, nothing above U+10FFFF (jansson's utf8_check_full). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return n;
}

int tp_jscan__hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 1;
}

/* s[*pos] is the opening quote; on 0 *pos is past the closing one. */
static int scan_string(const char *s, size_t len, size_t *pos, int *escaped, tp_jscan_error *err)
{
    size_t i = *pos + 1;
    *escaped = 0;
    for (;;) {
        while (i < len) {
            unsigned char c = (unsigned char)s[i];
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
                break;
            i++;
        }
        if (i >= len)
            return fail(err, len, "premature end of input inside a string");
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            *pos = i + 1;
            return 0;
        }
        if (c < 0x20)
            return fail(err, i, "control character in a string (it must be escaped)");
        if (c >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)s + i, len - i);
            if (!n)
                return fail(err, i, "invalid UTF-8");
            i += n;
            continue;
        }
        *escaped = 1;
        if (i + 1 >= len)
            return fail(err, len, "premature end of input inside a string");
        switch (s[i + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            i += 2;
            continue;
        case 'u':
            break;
        default:
            return fail(err, i, "invalid escape");
        }
        unsigned u, lo;
        if (len - i < 6 || !tp_jscan__hex4(s + i + 2, &u))
            return fail(err, i, "invalid \\u escape (four hex digits expected)");
        if (u == 0)
            return fail(err, i, "\\u0000 is not allowed in a string");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(err, i, "invalid Unicode escape (a low surrogate without a high one)");
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (len - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' || !tp_jscan__hex4(s + i + 8, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return fail(err, i, "invalid Unicode escape (a high surrogate without a low one)");
            i += 12;
            continue;
        }
        i += 6;
    }
}

/* JSON number grammar (no leading zeros, digits after '.' and 'e'); integers must fit in
 * 64 bits and reals must not overflow, as jansson refuses both. */
static int scan_number(const char *s, size_t len, size_t *pos, tp_jscan_error *err)
{
    size_t i = *pos, start = i, int_digits;
    int real = 0, exp = 0;
    if (s[i] == '-')
        i++;
    size_t d0 = i;
    if (i >= len || !is_digit(s[i]))
        return fail(err, i, "invalid number");
    if (s[i] == '0') {
        i++;
        if (i < len && is_digit(s[i]))
            return fail(err, i, "invalid number (leading zero)");
    } else {
        while (i < len && is_digit(s[i]))
            i++;
    }
    int_digits = i - d0;
    if (i < len && s[i] == '.') {
        real = 1;
        i++;
        if (i >= len || !is_digit(s[i]))
            return fail(err, i, "invalid number (digits expected after '.')");
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        real = exp = 1;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || !is_digit(s[i]))
            return fail(err, i, "invalid number (digits expected in the exponent)");
        while (i < len && is_digit(s[i]))
            i++;
    }
    /* Only numbers that could overflow pay for a conversion. */
    if ((!real && int_digits >= 19) || (real && (exp || int_digits > 300))) {
        int overflow = 0;
        if (tp_jscan__convert(s + start, i - start, real, NULL, NULL, &overflow) != 0)
            return TP_ENOMEM;
        if (overflow)
            return fail(err, start, real ? "real number overflow" : "integer too big (64 bits at most)");
    }
    *pos = i;
    return 0;
}

static int scan_literal(const char *s, size_t len, size_t *pos, tp_jscan_error *err)
{
    size_t i = *pos, n = 0;
    while (i + n < len && ((s[i + n] >= 'a' && s[i + n] <= 'z') || (s[i + n] >= 'A' && s[i + n] <= 'Z')))
        n++;
    if ((n == 4 && (memcmp(s + i, "true", 4) == 0 || memcmp(s + i, "null", 4) == 0)) ||
        (n == 5 && memcmp(s + i, "false", 5) == 0)) {
        *pos = i + n;
        return 0;
    }
    return fail(err, i, "invalid token");
}

static int keys_equal(const char *s, const struct tp_jscan_key *a, const struct tp_jscan_key *b)
{
    if (!a->escaped && !b->escaped)
        return a->len == b->len && memcmp(s + a->off, s + b->off, a->len) == 0;
    tp_jvalue va = {s + a->off, a->len}, vb = {s + b->off, b->len};
    return tp_jscan__strings_equal(va, vb);
}

/* Sort order for big objects: hash, then decoded key, then position, so equal keys end up
 * next to each other (whatever their hashes collide with) with the first one first. */
static int by_key(const void *x, const void *y, void *ctx)
{
    const struct tp_jscan_key *a = x, *b = y;
    const char *s = ctx;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    int c = tp_jscan__strings_cmp((tp_jvalue){s + a->off, a->len}, (tp_jvalue){s + b->off, b->len});
    if (c)
        return c;
    return a->off < b->off ? -1 : a->off > b->off;
}

/* Offset of a repeated key among keys[0..n), or (size_t)-1. Small objects (every event) are
 * compared pairwise; big ones are sorted so a hostile object stays O(n log n). */
static size_t find_duplicate(const char *s, struct tp_jscan_key *keys, size_t n)
{
    size_t found = (size_t)-1;
    if (n <= 16) {
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++)
                if (keys_equal(s, &keys[a], &keys[b]) && keys[b].off < found)
                    found = keys[b].off;
        return found;
    }
    for (size_t k = 0; k < n; k++)
        keys[k].hash = tp_jscan__string_hash((tp_jvalue){s + keys[k].off, keys[k].len});
    qsort_r(keys, n, sizeof *keys, by_key, (void *)s);
    for (size_t k = 1; k < n; k++)
        if (keys[k].hash == keys[k - 1].hash && keys_equal(s, &keys[k - 1], &keys[k]) && keys[k].off < found)
            found = keys[k].off; /* the later of two equal keys */
    return found;
}

/* skip_ws that counts what it skipped inside the value (so callers know when a copy of the
 * value needs no compaction). */
static size_t ws_in(tp_jscan *js, const char *s, size_t len, size_t i)
{
    size_t j = tp_jscan_skip_ws(s, len, i);
    js->ws += j - i;
    return j;
}

int tp_jscan_value(tp_jscan *js, const char *s, size_t len, size_t *pos, int top_container, tp_jscan_error *err)
{
    size_t i = tp_jscan_skip_ws(s, len, *pos);
    size_t depth = 0, nkeys = 0;
    js->ws = 0;
    int escaped, rc;

    if (len > UINT32_MAX)
        return fail(err, 0, "text too long");
    if (top_container && (i >= len || (s[i] != '{' && s[i] != '[')))
        return fail(err, i, "'[' or '{' expected");
value:
    if (depth)
        i = ws_in(js, s, len, i);
    if (i >= len)
        return fail(err, len, "premature end of input (a value was expected)");
    if (js->base_depth + depth + 1 > TP_JSCAN_MAX_DEPTH)
        return fail(err, i, "maximum nesting depth (2048) reached");
    switch (s[i]) {
    case '{':
    case '[': {
        if (grow((void **)&js->frames, js->frames_inline, &js->frames_cap, depth + 1, sizeof *js->frames))
            return TP_ENOMEM;
        int object = s[i] == '{';
        js->frames[depth++] = (struct tp_jscan_frame){(uint32_t)nkeys, (uint8_t)object};
        i = ws_in(js, s, len, i + 1);
        if (i < len && s[i] == (object ? '}' : ']')) {
            depth--;
            i++;
            goto after;
        }
        if (object)
            goto key;
        goto value;
    }
    case '"':
        if ((rc = scan_string(s, len, &i, &escaped, err)))
            return rc;
        break;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        if ((rc = scan_number(s, len, &i, err)))
            return rc;
        break;
    default:
        if ((rc = scan_literal(s, len, &i, err)))
            return rc;
        break;
    }
after:
    if (depth == 0) {
        *pos = i;
        return 0;
    }
    i = ws_in(js, s, len, i);
    struct tp_jscan_frame *f = &js->frames[depth - 1];
    if (i < len && s[i] == ',') {
        i++;
        if (f->object)
            goto key;
        goto value;
    }
    if (i < len && s[i] == (f->object ? '}' : ']')) {
        if (f->object) {
            size_t dup = find_duplicate(s, js->keys + f->key_base, nkeys - f->key_base);
            if (dup != (size_t)-1)
                return fail(err, dup, "duplicate object key");
            nkeys = f->key_base;
        }
        depth--;
        i++;
        goto after;
    }
    return fail(err, i, f->object ? "',' or '}' expected" : "',' or ']' expected");
key:
    i = ws_in(js, s, len, i);
    if (i >= len || s[i] != '"')
        return fail(err, i, "string (an object key) expected");
    size_t kstart = i;
    if ((rc = scan_string(s, len, &i, &escaped, err)))
        return rc;
    if (grow((void **)&js->keys, js->keys_inline, &js->keys_cap, nkeys + 1, sizeof *js->keys))
        return TP_ENOMEM;
    js->keys[nkeys++] = (struct tp_jscan_key){(uint32_t)kstart, (uint32_t)(i - kstart), 0, (uint8_t)escaped};
    i = ws_in(js, s, len, i);
    if (i >= len || s[i] != ':')
        return fail(err, i, "':' expected");
    i++;
    goto value;
}
