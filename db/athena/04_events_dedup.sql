-- One row per event_id. The archive is a faithful copy of the streams, so an event a producer
-- sent twice (a retry after a lost answer) is archived twice; the rollups count it once, and
-- this view does the same for SQL users of the archive.
CREATE OR REPLACE VIEW tenantpulse_archive.events_dedup AS
SELECT event_id, type, tenant_id, user_id, occurred_at, attributes, tenant, "user", dt, hour
  FROM (SELECT e.*, row_number() OVER (PARTITION BY event_id ORDER BY dt, hour) AS rn
          FROM tenantpulse_archive.events e)
 WHERE rn = 1;
