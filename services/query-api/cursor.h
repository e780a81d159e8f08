/* cursor.h — opaque pagination cursors for keyset pagination of the tenant list.
 *
 * A cursor is base64url (no padding) of "1\t<sort>\t<a|d>\t<tenant_id>\t<sort value>": the sort it
 * was made for and the last row's sort key, so the next page is "rows after this key" rather than
 * an OFFSET (stable under inserts, O(page) instead of O(offset)). Clients must treat it as opaque;
 * decoding checks every part strictly because it comes back from the client, and the sort value
 * is validated for its kind so it binds to its SQL type without error. No allocation. */
#ifndef TP_QUERY_CURSOR_H
#define TP_QUERY_CURSOR_H

#include <stddef.h>

#include "params.h"
#include "tp/err.h"

#define TP_QUERY_CURSOR_MAX 512 /* encoded bytes, NUL included */

typedef enum { TP_QUERY_KEY_INT, TP_QUERY_KEY_NUM, TP_QUERY_KEY_TEXT } tp_query_key_kind;

/* base64url without padding. Returns the length written, or TP_ETOOBIG if cap is too small. */
int tp_query_b64url_encode(const void *data, size_t len, char *out, size_t cap);
/* Returns the decoded length, TP_EINVAL on a bad character/length, TP_ETOOBIG if cap is too small. */
int tp_query_b64url_decode(const char *s, unsigned char *out, size_t cap);

/* Encode the cursor after the row (id, value) under sort (name, desc). */
int tp_query_cursor_encode(const char *sort, int desc, const char *id, const char *value, char *out, size_t cap)
    TP_MUSTCHECK;
/* Decode and validate a client's cursor for the request's sort; fills id (≥ 65 bytes) and value
 * (≥ TP_QUERY_CURSOR_MAX bytes). Errors name the parameter "cursor". */
int tp_query_cursor_decode(const char *cursor, const char *sort, int desc, tp_query_key_kind kind, char *id,
                           size_t idcap, char *value, size_t vcap, tp_query_perr *e) TP_MUSTCHECK;

#endif
