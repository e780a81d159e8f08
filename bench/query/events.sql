-- bench/query/events.sql — BENCH ONLY: the seed's approach, a raw events table holding every
-- event, which the "full-scan SQL" side of the benchmark queries. Loaded from the simulator's
-- NDJSON with COPY (one JSON document per line into events_raw, then typed columns).
\set ON_ERROR_STOP on
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.events_raw, bench.events;
CREATE UNLOGGED TABLE bench.events_raw (doc jsonb NOT NULL);
CREATE TABLE bench.events (
    event_id    uuid NOT NULL,
    type        text NOT NULL,
    tenant_id   text NOT NULL,
    user_id     text,
    occurred_at timestamptz NOT NULL,
    attributes  jsonb
);
