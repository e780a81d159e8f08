-- bench/query/events_finish.sql — BENCH ONLY: typed rows from the raw NDJSON documents.
\set ON_ERROR_STOP on
INSERT INTO bench.events
SELECT (doc->>'event_id')::uuid, doc->>'type', doc->>'tenant_id', doc->>'user_id',
       (doc->>'occurred_at')::timestamptz, doc->'attributes'
  FROM bench.events_raw;
DROP TABLE bench.events_raw;
VACUUM ANALYZE bench.events;
