-- 005_reporting_views.sql — the reporting schema: what QuickSight, SQL users and the
-- query-api read (the contract is in docs/stream-processing.md).
--
-- Views only, over the rollup tables, so a question never scans raw events. Times are
-- timestamptz (UTC instants), days are UTC dates, counters are bigint and never NULL, and only
-- periods with data have rows. Derived counters are computed here from stored ones.

CREATE SCHEMA IF NOT EXISTS reporting;

CREATE OR REPLACE VIEW reporting.tenants AS
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
       cs.scored_at AS churn_scored_at
  FROM rollup.tenants p
  LEFT JOIN rollup.tenant_totals t ON t.tenant_id = p.tenant_id
  LEFT JOIN LATERAL (SELECT sum(d.size_bytes) AS bytes
                       FROM rollup.datasets d
                      WHERE d.tenant_id = p.tenant_id AND d.live) ds ON true
  LEFT JOIN LATERAL (SELECT c.score, c.scored_at
                       FROM public.churn_scores c
                      WHERE c.tenant_id = p.tenant_id
                      ORDER BY c.scored_at DESC
                      LIMIT 1) cs ON true;

CREATE OR REPLACE VIEW reporting.tenant_activity_hourly AS
SELECT tenant_id,
       hour,
       logins,
       logoffs,
       session_timeouts,
       logoffs + session_timeouts AS sessions,
       session_seconds,
       session_seconds / 60.0 AS session_minutes,
       datasets_created + datasets_updated + datasets_deleted AS dataset_actions,
       datasets_created,
       datasets_updated,
       datasets_deleted,
       jobs_submitted,
       jobs_succeeded + jobs_failed AS jobs_terminated,
       jobs_succeeded,
       jobs_failed,
       jobs_cancelled,
       servers_used,
       job_data_bytes,
       active_users,
       users_added,
       users_deleted,
       events
  FROM rollup.tenant_hourly;

CREATE OR REPLACE VIEW reporting.tenant_activity_daily AS
SELECT tenant_id,
       day,
       logins,
       logoffs,
       session_timeouts,
       logoffs + session_timeouts AS sessions,
       session_seconds,
       session_seconds / 60.0 AS session_minutes,
       datasets_created + datasets_updated + datasets_deleted AS dataset_actions,
       datasets_created,
       datasets_updated,
       datasets_deleted,
       jobs_submitted,
       jobs_succeeded + jobs_failed AS jobs_terminated,
       jobs_succeeded,
       jobs_failed,
       jobs_cancelled,
       servers_used,
       job_data_bytes,
       active_users,
       users_added,
       users_deleted,
       events
  FROM rollup.tenant_daily;

CREATE OR REPLACE VIEW reporting.jobs_daily AS
SELECT tenant_id,
       day,
       jobs_submitted,
       jobs_succeeded + jobs_failed AS jobs_terminated,
       jobs_succeeded,
       jobs_failed,
       jobs_cancelled,
       servers_used,
       job_data_bytes
  FROM rollup.tenant_daily
 WHERE jobs_submitted + jobs_succeeded + jobs_failed + jobs_cancelled > 0;

CREATE OR REPLACE VIEW reporting.signups_hourly AS
SELECT hour,
       sum(tenants_created)::bigint AS tenants_created,
       sum(users_added)::bigint AS users_added
  FROM rollup.signups_hourly
 GROUP BY hour
HAVING sum(tenants_created) + sum(users_added) > 0;

CREATE OR REPLACE VIEW reporting.signups_daily AS
SELECT (hour AT TIME ZONE 'UTC')::date AS day,
       sum(tenants_created)::bigint AS tenants_created,
       sum(users_added)::bigint AS users_added
  FROM rollup.signups_hourly
 GROUP BY 1
HAVING sum(tenants_created) + sum(users_added) > 0;

CREATE OR REPLACE VIEW reporting.users AS
SELECT tenant_id,
       user_id,
       added_at,
       CASE WHEN is_deleted THEN deleted_at END AS deleted_at,
       CASE WHEN is_deleted THEN 'deleted' ELSE 'active' END AS status,
       last_activity_at
  FROM (SELECT u.*, (u.deleted_at IS NOT NULL AND (u.added_at IS NULL OR u.deleted_at >= u.added_at)) AS is_deleted
          FROM rollup.users u) s;

CREATE OR REPLACE VIEW reporting.tenant_data_size_daily AS
SELECT tenant_id,
       day,
       bytes_delta,
       (sum(bytes_delta) OVER (PARTITION BY tenant_id ORDER BY day))::bigint AS data_size_bytes
  FROM rollup.tenant_data_size_daily;
