-- 003_rollup_tables.sql — the rollups the stream processor maintains.
--
-- Written only by tp-stream-processor's rollup sink, each batch in one transaction together
-- with its checkpoint. Periods are UTC event time (occurred_at), so late events land in the
-- hour they happened. Derived counters (sessions, dataset_actions, jobs_terminated,
-- session_minutes) are computed in the reporting views, not stored. Read through the
-- reporting schema (005), never directly by other services.

CREATE SCHEMA IF NOT EXISTS rollup;

-- Tenant profile from the tenants stream. Each profile field carries the event time that set
-- it, so an out-of-order tenant.updated never overwrites a newer value.
CREATE TABLE IF NOT EXISTS rollup.tenants (
    tenant_id       text PRIMARY KEY,
    company_name    text,
    company_name_at timestamptz,
    industry        text,
    industry_at     timestamptz,
    plan            text,
    plan_at         timestamptz,
    sentiment       double precision,
    sentiment_at    timestamptz,
    created_at      timestamptz,
    closed_at       timestamptz,
    close_reason    text
);

-- Per-tenant totals from the users and jobs streams (kept apart from the profile so the
-- streams do not contend for one row).
CREATE TABLE IF NOT EXISTS rollup.tenant_totals (
    tenant_id        text PRIMARY KEY,
    users_added      bigint NOT NULL DEFAULT 0,
    users_deleted    bigint NOT NULL DEFAULT 0,
    last_activity_at timestamptz,
    events           bigint NOT NULL DEFAULT 0
);

-- One row per tenant per UTC hour with any valid event.
CREATE TABLE IF NOT EXISTS rollup.tenant_hourly (
    tenant_id        text NOT NULL,
    hour             timestamptz NOT NULL,
    logins           bigint NOT NULL DEFAULT 0,
    logoffs          bigint NOT NULL DEFAULT 0,
    session_timeouts bigint NOT NULL DEFAULT 0,
    session_seconds  bigint NOT NULL DEFAULT 0,
    datasets_created bigint NOT NULL DEFAULT 0,
    datasets_updated bigint NOT NULL DEFAULT 0,
    datasets_deleted bigint NOT NULL DEFAULT 0,
    jobs_submitted   bigint NOT NULL DEFAULT 0,
    jobs_succeeded   bigint NOT NULL DEFAULT 0,
    jobs_failed      bigint NOT NULL DEFAULT 0,
    jobs_cancelled   bigint NOT NULL DEFAULT 0,
    servers_used     bigint NOT NULL DEFAULT 0,
    job_data_bytes   bigint NOT NULL DEFAULT 0,
    users_added      bigint NOT NULL DEFAULT 0,
    users_deleted    bigint NOT NULL DEFAULT 0,
    tenants_created  bigint NOT NULL DEFAULT 0,
    events           bigint NOT NULL DEFAULT 0,
    active_users     bigint NOT NULL DEFAULT 0, -- = rows in active_users_hourly for the key
    PRIMARY KEY (tenant_id, hour)
);

-- The same per UTC day.
CREATE TABLE IF NOT EXISTS rollup.tenant_daily (
    tenant_id        text NOT NULL,
    day              date NOT NULL,
    logins           bigint NOT NULL DEFAULT 0,
    logoffs          bigint NOT NULL DEFAULT 0,
    session_timeouts bigint NOT NULL DEFAULT 0,
    session_seconds  bigint NOT NULL DEFAULT 0,
    datasets_created bigint NOT NULL DEFAULT 0,
    datasets_updated bigint NOT NULL DEFAULT 0,
    datasets_deleted bigint NOT NULL DEFAULT 0,
    jobs_submitted   bigint NOT NULL DEFAULT 0,
    jobs_succeeded   bigint NOT NULL DEFAULT 0,
    jobs_failed      bigint NOT NULL DEFAULT 0,
    jobs_cancelled   bigint NOT NULL DEFAULT 0,
    servers_used     bigint NOT NULL DEFAULT 0,
    job_data_bytes   bigint NOT NULL DEFAULT 0,
    users_added      bigint NOT NULL DEFAULT 0,
    users_deleted    bigint NOT NULL DEFAULT 0,
    tenants_created  bigint NOT NULL DEFAULT 0,
    events           bigint NOT NULL DEFAULT 0,
    active_users     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);

-- Distinct active users: membership rows. A new row is what increments active_users above,
-- in the same statement, so the counter and the set cannot disagree.
CREATE TABLE IF NOT EXISTS rollup.active_users_hourly (
    tenant_id text NOT NULL,
    hour      timestamptz NOT NULL,
    user_id   text NOT NULL,
    PRIMARY KEY (tenant_id, hour, user_id)
);
CREATE TABLE IF NOT EXISTS rollup.active_users_daily (
    tenant_id text NOT NULL,
    day       date NOT NULL,
    user_id   text NOT NULL,
    PRIMARY KEY (tenant_id, day, user_id)
);

-- Sign-ups per hour for all tenants, one row per (hour, source shard): every shard writes
-- only its own rows, so no single hot row serializes the streams. Summed in the views.
CREATE TABLE IF NOT EXISTS rollup.signups_hourly (
    hour            timestamptz NOT NULL,
    source          text NOT NULL, -- "<stream>/<shard_id>"
    tenants_created bigint NOT NULL DEFAULT 0,
    users_added     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, source)
);

-- Current membership. Times are the latest of each kind seen, so the state does not depend
-- on arrival order: a user is deleted when deleted_at is at or after added_at.
CREATE TABLE IF NOT EXISTS rollup.users (
    tenant_id        text NOT NULL,
    user_id          text NOT NULL,
    added_at         timestamptz,
    deleted_at       timestamptz,
    last_activity_at timestamptz,
    PRIMARY KEY (tenant_id, user_id)
);

-- Current size per dataset, applied in event-time order: state_at is the occurred_at of the
-- event the state reflects, and an older event than that is not applied.
CREATE TABLE IF NOT EXISTS rollup.datasets (
    tenant_id  text NOT NULL,
    dataset_id text NOT NULL,
    size_bytes bigint NOT NULL DEFAULT 0,
    live       boolean NOT NULL DEFAULT false,
    state_at   timestamptz NOT NULL,
    created_at timestamptz,
    deleted_at timestamptz,
    PRIMARY KEY (tenant_id, dataset_id)
);

-- Net change of the tenant's data size per UTC day, from the dataset events applied.
CREATE TABLE IF NOT EXISTS rollup.tenant_data_size_daily (
    tenant_id   text NOT NULL,
    day         date NOT NULL,
    bytes_delta bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);

-- Apply one batch of dataset events (arrays of equal length, already in the order to apply:
-- event time, then stream order). Returns one row per applied event with the size change it
-- caused (0 for a stale one: the day still had a dataset event), which the caller sums into
-- tenant_data_size_daily. Row-at-a-time on purpose: each
-- event depends on the state the previous one left, and dataset events are a small share.
CREATE OR REPLACE FUNCTION rollup.apply_dataset_events(p_tenant text[], p_dataset text[], p_kind smallint[],
                                                       p_size bigint[], p_at timestamptz[])
RETURNS TABLE (tenant_id text, day date, delta bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    i      int;
    cur    rollup.datasets%ROWTYPE;
    d      bigint;
BEGIN
    -- kind: 1 created, 2 updated, 3 deleted
    FOR i IN 1 .. coalesce(array_length(p_tenant, 1), 0) LOOP
        INSERT INTO rollup.datasets AS ds (tenant_id, dataset_id, size_bytes, live, state_at)
        VALUES (p_tenant[i], p_dataset[i], 0, false, '-infinity')
        ON CONFLICT DO NOTHING;
        SELECT * INTO cur FROM rollup.datasets ds
         WHERE ds.tenant_id = p_tenant[i] AND ds.dataset_id = p_dataset[i] FOR UPDATE;
        IF p_at[i] < cur.state_at THEN
            d := 0; -- older than what the row reflects: applying it would undo a newer event
        ELSIF p_kind[i] = 3 THEN
            d := CASE WHEN cur.live THEN -cur.size_bytes ELSE 0 END;
            UPDATE rollup.datasets ds SET size_bytes = 0, live = false, state_at = p_at[i], deleted_at = p_at[i]
             WHERE ds.tenant_id = p_tenant[i] AND ds.dataset_id = p_dataset[i];
        ELSE
            d := p_size[i] - CASE WHEN cur.live THEN cur.size_bytes ELSE 0 END;
            UPDATE rollup.datasets ds SET size_bytes = p_size[i], live = true, state_at = p_at[i],
                   created_at = CASE WHEN p_kind[i] = 1 THEN coalesce(ds.created_at, p_at[i]) ELSE ds.created_at END
             WHERE ds.tenant_id = p_tenant[i] AND ds.dataset_id = p_dataset[i];
        END IF;
        tenant_id := p_tenant[i];
        day := (p_at[i] AT TIME ZONE 'UTC')::date;
        delta := d;
        RETURN NEXT;
    END LOOP;
END
$fn$;
