-- 010_query_api.sql — what tp-query-api needs beyond the reporting contract.
--
-- The query-api answers from the reporting views except where a view's definition is too slow
-- for an interactive answer at scale; for those it reads the helper views of schema `query`,
-- which return the same columns with the same meaning (the query-api's truth test compares them
-- with the simulator's ground truth, like the reporting views'):
--   query.tenants — reporting.tenants, but the current data-set size is the sum of the tenant's
--     daily size changes (rollup.tenant_data_size_daily: one row per tenant-day with dataset
--     events) instead of a sum over every live data set (rollup.datasets: one row per data set,
--     hundreds of thousands for a big tenant). Both are maintained in the same transaction by the
--     stream processor, so they agree. It also shows the tenant's all-time users_added,
--     users_deleted and events (rollup.tenant_totals), so "users so far" needs no scan of the
--     sign-up rollups.
--   query.data_size_changes — the daily size changes without reporting.tenant_data_size_daily's
--     running-sum window (which must scan every row before any filter applies).
-- Indexes: the insights and the summary sum the rollups of a time window over all tenants; the
-- primary keys lead with tenant_id, so a window needs an index leading with the period.
-- Nothing here is for QuickSight: schema `query` is the service's, not granted to tp_reporting.

CREATE SCHEMA IF NOT EXISTS query;
REVOKE ALL ON SCHEMA query FROM PUBLIC;

CREATE OR REPLACE VIEW query.tenants AS
SELECT p.tenant_id,
       p.company_name,
       p.industry,
       p.plan,
       p.sentiment,
       CASE WHEN p.closed_at IS NOT NULL THEN 'closed' ELSE 'active' END AS status,
       p.created_at,
       p.closed_at,
       p.close_reason,
       coalesce(t.users_added, 0) - coalesce(t.users_deleted, 0) AS user_count,
       coalesce(ds.bytes, 0)::bigint AS data_size_bytes,
       t.last_activity_at,
       cs.score AS churn_score,
       cs.scored_at AS churn_scored_at,
       coalesce(t.users_added, 0) AS users_added,
       coalesce(t.users_deleted, 0) AS users_deleted,
       coalesce(t.events, 0) AS events
  FROM rollup.tenants p
  LEFT JOIN rollup.tenant_totals t ON t.tenant_id = p.tenant_id
  -- Grouped, not LATERAL: a list over all tenants sums the table in one pass, while a lookup
  -- of one tenant still reaches only its rows (the tenant_id qual is pushed into the grouping),
  -- and a query that does not read data_size_bytes drops the join altogether.
  LEFT JOIN (SELECT d.tenant_id, sum(d.bytes_delta) AS bytes
               FROM rollup.tenant_data_size_daily d
              GROUP BY d.tenant_id) ds ON ds.tenant_id = p.tenant_id
  LEFT JOIN LATERAL (SELECT c.score, c.scored_at
                       FROM public.churn_scores c
                      WHERE c.tenant_id = p.tenant_id
                      ORDER BY c.scored_at DESC
                      LIMIT 1) cs ON true;

CREATE OR REPLACE VIEW query.data_size_changes AS
SELECT tenant_id, day, bytes_delta FROM rollup.tenant_data_size_daily;

CREATE INDEX IF NOT EXISTS tenant_daily_day_idx ON rollup.tenant_daily (day);
CREATE INDEX IF NOT EXISTS tenant_hourly_hour_idx ON rollup.tenant_hourly (hour);
