-- bench/query/rollups.sql — BENCH ONLY: fill the stream processor's rollup tables (rollup.*,
-- migration 003) straight from the raw table bench.events, so the query-api can be measured on
-- 30 days × 1M events/day without pushing 30M events through Kinesis. The definitions are the
-- reporting contract's (the same ones the simulator's ground truth uses); run.sh checks the
-- result against the truth file before measuring. Never applied outside a benchmark database.
\set ON_ERROR_STOP on
BEGIN;
TRUNCATE rollup.tenants, rollup.tenant_totals, rollup.tenant_hourly, rollup.tenant_daily,
         rollup.active_users_hourly, rollup.active_users_daily, rollup.signups_hourly, rollup.users,
         rollup.datasets, rollup.tenant_data_size_daily;

-- Profile: tenant.created, then the latest tenant.updated value of each field.
INSERT INTO rollup.tenants (tenant_id, company_name, industry, plan, sentiment, created_at, closed_at, close_reason)
SELECT tenant_id,
       (array_agg(attributes->>'company_name' ORDER BY occurred_at DESC) FILTER (WHERE attributes ? 'company_name'))[1],
       (array_agg(attributes->>'industry' ORDER BY occurred_at DESC) FILTER (WHERE attributes ? 'industry'))[1],
       (array_agg(attributes->>'plan' ORDER BY occurred_at DESC) FILTER (WHERE attributes ? 'plan'))[1],
       (array_agg((attributes->>'sentiment')::float8 ORDER BY occurred_at DESC) FILTER (WHERE attributes ? 'sentiment'))[1],
       min(occurred_at) FILTER (WHERE type = 'tenant.created'),
       max(occurred_at) FILTER (WHERE type = 'tenant.closed'),
       (array_agg(attributes->>'reason' ORDER BY occurred_at DESC) FILTER (WHERE type = 'tenant.closed'))[1]
  FROM bench.events WHERE type LIKE 'tenant.%' GROUP BY tenant_id;

CREATE TEMP TABLE per_hour AS
SELECT tenant_id,
       date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
       count(*) FILTER (WHERE type = 'user.login') AS logins,
       count(*) FILTER (WHERE type = 'user.logoff') AS logoffs,
       count(*) FILTER (WHERE type = 'user.session_timeout') AS session_timeouts,
       coalesce(sum((attributes->>'session_seconds')::bigint)
                FILTER (WHERE type IN ('user.logoff', 'user.session_timeout')), 0) AS session_seconds,
       count(*) FILTER (WHERE type = 'dataset.created') AS datasets_created,
       count(*) FILTER (WHERE type = 'dataset.updated') AS datasets_updated,
       count(*) FILTER (WHERE type = 'dataset.deleted') AS datasets_deleted,
       count(*) FILTER (WHERE type = 'job.submitted') AS jobs_submitted,
       count(*) FILTER (WHERE type = 'job.terminated' AND attributes->>'status' = 'succeeded') AS jobs_succeeded,
       count(*) FILTER (WHERE type = 'job.terminated' AND attributes->>'status' = 'failed') AS jobs_failed,
       count(*) FILTER (WHERE type = 'job.cancelled') AS jobs_cancelled,
       coalesce(sum((attributes->>'servers')::bigint) FILTER (WHERE type = 'job.submitted'), 0) AS servers_used,
       coalesce(sum((attributes->>'data_size_bytes')::bigint) FILTER (WHERE type = 'job.submitted'), 0) AS job_data_bytes,
       count(*) FILTER (WHERE type = 'user.added') AS users_added,
       count(*) FILTER (WHERE type = 'user.deleted') AS users_deleted,
       count(*) FILTER (WHERE type = 'tenant.created') AS tenants_created,
       count(*) AS events,
       count(DISTINCT user_id) FILTER (WHERE type IN ('user.login', 'user.logoff', 'user.session_timeout')
                                         OR type LIKE 'dataset.%' OR type LIKE 'job.%') AS active_users
  FROM bench.events GROUP BY 1, 2;

INSERT INTO rollup.tenant_hourly (tenant_id, hour, logins, logoffs, session_timeouts, session_seconds,
       datasets_created, datasets_updated, datasets_deleted, jobs_submitted, jobs_succeeded, jobs_failed,
       jobs_cancelled, servers_used, job_data_bytes, users_added, users_deleted, tenants_created, events,
       active_users)
SELECT * FROM per_hour;

INSERT INTO rollup.tenant_daily (tenant_id, day, logins, logoffs, session_timeouts, session_seconds,
       datasets_created, datasets_updated, datasets_deleted, jobs_submitted, jobs_succeeded, jobs_failed,
       jobs_cancelled, servers_used, job_data_bytes, users_added, users_deleted, tenants_created, events,
       active_users)
SELECT h.tenant_id, h.day, sum(logins), sum(logoffs), sum(session_timeouts), sum(session_seconds),
       sum(datasets_created), sum(datasets_updated), sum(datasets_deleted), sum(jobs_submitted),
       sum(jobs_succeeded), sum(jobs_failed), sum(jobs_cancelled), sum(servers_used), sum(job_data_bytes),
       sum(users_added), sum(users_deleted), sum(tenants_created), sum(events), coalesce(max(a.n), 0)
  FROM (SELECT *, (hour AT TIME ZONE 'UTC')::date AS day FROM per_hour) h
  LEFT JOIN (SELECT tenant_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, count(DISTINCT user_id) AS n
               FROM bench.events
              WHERE type IN ('user.login', 'user.logoff', 'user.session_timeout')
                 OR type LIKE 'dataset.%' OR type LIKE 'job.%'
              GROUP BY 1, 2) a ON a.tenant_id = h.tenant_id AND a.day = h.day
 GROUP BY h.tenant_id, h.day;

INSERT INTO rollup.signups_hourly (hour, source, tenants_created, users_added)
SELECT hour, 'bench', sum(tenants_created), sum(users_added) FROM per_hour
 GROUP BY hour HAVING sum(tenants_created) + sum(users_added) > 0;

INSERT INTO rollup.tenant_totals (tenant_id, users_added, users_deleted, last_activity_at, events)
SELECT tenant_id, count(*) FILTER (WHERE type = 'user.added'), count(*) FILTER (WHERE type = 'user.deleted'),
       max(occurred_at) FILTER (WHERE user_id IS NOT NULL), count(*)
  FROM bench.events GROUP BY tenant_id;

INSERT INTO rollup.users (tenant_id, user_id, added_at, deleted_at, last_activity_at)
SELECT tenant_id, user_id, max(occurred_at) FILTER (WHERE type = 'user.added'),
       max(occurred_at) FILTER (WHERE type = 'user.deleted'), max(occurred_at)
  FROM bench.events WHERE user_id IS NOT NULL GROUP BY tenant_id, user_id;

-- Data sets: each event's size change relative to the data set's previous state, in time order.
CREATE TEMP TABLE ds AS
SELECT tenant_id, attributes->>'dataset_id' AS dataset_id, type, occurred_at,
       CASE WHEN type = 'dataset.deleted' THEN 0 ELSE (attributes->>'size_bytes')::bigint END AS size_after
  FROM bench.events WHERE type LIKE 'dataset.%';

INSERT INTO rollup.tenant_data_size_daily (tenant_id, day, bytes_delta)
SELECT tenant_id, (occurred_at AT TIME ZONE 'UTC')::date, sum(size_after - prev)
  FROM (SELECT *, lag(size_after, 1, 0::bigint) OVER (PARTITION BY tenant_id, dataset_id ORDER BY occurred_at) AS prev
          FROM ds) x
 GROUP BY 1, 2;

INSERT INTO rollup.datasets (tenant_id, dataset_id, size_bytes, live, state_at, created_at, deleted_at)
SELECT DISTINCT ON (tenant_id, dataset_id) tenant_id, dataset_id, size_after, type <> 'dataset.deleted',
       occurred_at, NULL::timestamptz, CASE WHEN type = 'dataset.deleted' THEN occurred_at END
  FROM ds ORDER BY tenant_id, dataset_id, occurred_at DESC;
COMMIT;
ANALYZE rollup.tenants, rollup.tenant_totals, rollup.tenant_hourly, rollup.tenant_daily, rollup.signups_hourly,
        rollup.users, rollup.datasets, rollup.tenant_data_size_daily;
