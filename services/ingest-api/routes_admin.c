/* routes_admin.c — API key management on ingest-api (openapi/ingest.yaml, tag admin):
 *   POST   /v1/admin/keys           {"tenant_id": id|null, "scopes": [..], "description"?} → 201
 *   DELETE /v1/admin/keys/{key_id}  → 204, revoked at once on this service
 * Both need the admin scope; a tenant-scoped admin key acts only within its tenant. These
 * calls wait on PostgreSQL in the HTTP worker thread: they are rare and short. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "tp/log.h"

#define DESCRIPTION_MAX 200

static int require_admin(struct ingest *ing, tp_http_req *req, tp_principal *who)
{
    if (ingest_authenticate(ing, req, who) != 0)
        return -1;
    if (!tp_principal_has(who, TP_SCOPE_ADMIN)) {
        tp_http_respond_error(req, 403, "forbidden", NULL, "this key lacks the admin scope");
        return -1;
    }
    return 0;
}

static void store_failed(tp_http_req *req, int rc, const char *err)
{
    if (rc == TP_EUNAVAIL || rc == TP_ETIMEDOUT || tp_err_retryable(rc)) {
        tp_http_req_add_header(req, "Retry-After", INGEST_RETRY_AFTER_S);
        tp_http_respond_error(req, 503, "unavailable", NULL, "the key store is unavailable");
        return;
    }
    tp_log_error("admin: key store error", "req_id", tp_http_req_id(req), "error", err);
    tp_http_respond_error(req, 500, "internal", NULL, "the key store failed");
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Read the key request; on failure answer 400/415 and return non-zero. */
static int parse_key_request(tp_http_req *req, json_t **root_out, const char **tenant, unsigned *scopes,
                             const char **description)
{
    size_t len;
    json_error_t jerr;
    const char *key;
    json_t *v;
    *root_out = NULL;
    if (!ingest_media_is(tp_http_req_header(req, "Content-Type"), "application/json")) {
        tp_http_respond_error(req, 415, "unsupported_media_type", NULL, "send application/json");
        return -1;
    }
    const char *body = tp_http_req_body(req, &len);
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        json_t *o = json_pack("{s:s,s:s,s:I}", "error", "malformed_json", "message", jerr.text, "offset",
                              (json_int_t)(jerr.position < 0 ? 0 : jerr.position));
        tp_http_respond_json(req, 400, o);
        return -1;
    }
    *root_out = root;
    if (!json_is_object(root)) {
        tp_http_respond_error(req, 400, "invalid_request", NULL, "the body must be a JSON object");
        return -1;
    }
    json_object_foreach(root, key, v) {
        if (strcmp(key, "tenant_id") && strcmp(key, "scopes") && strcmp(key, "description")) {
            tp_http_respond_error(req, 400, "invalid_request", key,
                                  "is not a key request field (allowed: tenant_id, scopes, description)");
            return -1;
        }
    }
    v = json_object_get(root, "tenant_id");
    if (!v || !(json_is_null(v) || json_is_string(v))) {
        tp_http_respond_error(req, 400, "invalid_request", "tenant_id",
                              "is required: a tenant id, or null for all tenants");
        return -1;
    }
    *tenant = json_string_value(v); /* NULL for null */
    v = json_object_get(root, "scopes");
    *scopes = 0;
    if (!json_is_array(v) || json_array_size(v) == 0) {
        tp_http_respond_error(req, 400, "invalid_request", "scopes",
                              "must be a non-empty array of events:write, read, admin");
        return -1;
    }
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        unsigned bit;
        if (!json_is_string(s) || tp_scope_from_name(json_string_value(s), &bit) != 0) {
            tp_http_respond_error(req, 400, "invalid_request", "scopes",
                                  "unknown scope '%.40s'; use events:write, read or admin",
                                  json_is_string(s) ? json_string_value(s) : "(not a string)");
            return -1;
        }
        *scopes |= bit;
    }
    v = json_object_get(root, "description");
    *description = NULL;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || utf8_chars(json_string_value(v)) > DESCRIPTION_MAX) {
            tp_http_respond_error(req, 400, "invalid_request", "description", "must be text of at most %d characters",
                                  DESCRIPTION_MAX);
            return -1;
        }
        *description = json_string_value(v);
    }
    return 0;
}

static void h_create_key(tp_http_req *req, void *ctx)
{
    struct ingest *ing = ctx;
    tp_principal who;
    json_t *root = NULL;
    const char *tenant = NULL, *desc = NULL;
    unsigned scopes = 0;
    char key_id[17], key[96], err[256];

    if (require_admin(ing, req, &who) != 0)
        return;
    if (parse_key_request(req, &root, &tenant, &scopes, &desc) != 0)
        goto out;
    if (who.tenant_id[0] && (!tenant || strcmp(tenant, who.tenant_id) != 0)) {
        tp_http_respond_error(req, 403, "forbidden", "tenant_id",
                              "a tenant-scoped admin key can only create keys for its own tenant '%s'", who.tenant_id);
        goto out;
    }
    int rc = tp_auth_create_key_desc(ing->auth, tenant, scopes, desc, key_id, key, err, sizeof err);
    if (rc == TP_EINVAL) {
        tp_http_respond_error(req, 400, "invalid_request", "tenant_id", "must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
        goto out;
    }
    if (rc) {
        store_failed(req, rc, err);
        goto out;
    }
    json_t *names = json_array();
    for (unsigned bit = 1; names && bit <= TP_SCOPE_ADMIN; bit <<= 1)
        if (scopes & bit)
            json_array_append_new(names, json_string(tp_scope_name(bit)));
    json_t *o = json_pack("{s:s,s:s,s:o,s:o}", "key_id", key_id, "key", key, "tenant_id",
                          tenant ? json_string(tenant) : json_null(), "scopes", names);
    explicit_bzero(key, sizeof key);
    tp_log_info("admin: key issued", "req_id", tp_http_req_id(req), "by", who.key_id, "key_id", key_id);
    tp_http_respond_json(req, 201, o);
out:
    json_decref(root);
}

static void h_revoke_key(tp_http_req *req, void *ctx)
{
    struct ingest *ing = ctx;
    tp_principal who;
    char err[256];
    if (require_admin(ing, req, &who) != 0)
        return;
    const char *id = tp_http_req_param(req, "key_id");
    int rc = tp_auth_revoke_as(ing->auth, &who, id, err, sizeof err);
    if (rc == 0) {
        tp_log_info("admin: key revoked", "req_id", tp_http_req_id(req), "by", who.key_id, "key_id", id);
        tp_http_respond(req, 204, NULL, "", 0);
    } else if (rc == TP_ENOTFOUND) {
        /* Echo the id only when it looks like one: it is client text. */
        int sane = strlen(id) == 16 && strspn(id, "0123456789abcdef") == 16;
        tp_http_respond_error(req, 404, "not_found", NULL, "no active key %s", sane ? id : "with that id");
    } else {
        store_failed(req, rc, err);
    }
}

int ingest_routes_admin(tp_http_server *s, struct ingest *ing)
{
    int rc = tp_http_route(s, "POST", "/v1/admin/keys", h_create_key, ing);
    if (rc == 0)
        rc = tp_http_route(s, "DELETE", "/v1/admin/keys/{key_id}", h_revoke_key, ing);
    return rc;
}
