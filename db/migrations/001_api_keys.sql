-- 001_api_keys.sql — API keys for ingest-api and query-api (see common/include/tp/auth.h).
-- A key is "tp_<key_id>_<secret>"; only the SHA-256 (hex) of the secret is stored.
-- tenant_id NULL = the key may act on every tenant. Revocation sets revoked_at; rows are kept
-- for the audit trail.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id        text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    secret_sha256 text NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
    tenant_id     text NULL,
    scopes        text[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_at    timestamptz DEFAULT now(),
    revoked_at    timestamptz NULL,
    description   text
);

CREATE INDEX IF NOT EXISTS api_keys_tenant_idx ON api_keys (tenant_id);
