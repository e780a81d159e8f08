-- bench/query/fullscan.sql — BENCH ONLY: the seed's approach to the query-api's questions, as
-- full-scan SQL over the raw table bench.events (one row per event, no index: "all of them are a
-- full table scan"). run.sh runs each statement (separated by "-- q: <name>" lines) with psql
-- variables tenant, from_30d, from_7d, to_ts, month_start, day_start and times it.

-- q: summary
SELECT count(*) FILTER (WHERE type = 'tenant.created') AS tenants_total,
       count(*) FILTER (WHERE type = 'tenant.created') - count(*) FILTER (WHERE type = 'tenant.closed') AS tenants_active,
       count(*) FILTER (WHERE type = 'user.added') - count(*) FILTER (WHERE type = 'user.deleted') AS users_total,
       count(*) FILTER (WHERE type = 'user.added') AS users_added_total,
       count(*) FILTER (WHERE type = 'tenant.created' AND occurred_at >= :'month_start') AS tenants_created_this_month,
       count(*) FILTER (WHERE type = 'user.added' AND occurred_at >= :'month_start') AS users_added_this_month,
       count(*) FILTER (WHERE type = 'job.submitted' AND occurred_at >= :'day_start') AS jobs_submitted_today
  FROM bench.events;

-- q: signups
SELECT date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AS hour,
       count(*) FILTER (WHERE type = 'tenant.created') AS tenants_created,
       count(*) FILTER (WHERE type = 'user.added') AS users_added
  FROM bench.events
 WHERE type IN ('tenant.created', 'user.added') AND occurred_at >= :'from_30d' AND occurred_at < :'to_ts'
 GROUP BY 1 ORDER BY 1;

-- q: tenants
WITH ds AS (SELECT DISTINCT ON (tenant_id, attributes->>'dataset_id') tenant_id, type,
                   (attributes->>'size_bytes')::bigint AS size
              FROM bench.events WHERE type LIKE 'dataset.%'
             ORDER BY tenant_id, attributes->>'dataset_id', occurred_at DESC),
     sz AS (SELECT tenant_id, sum(size) FILTER (WHERE type <> 'dataset.deleted') AS data_size_bytes
              FROM ds GROUP BY tenant_id),
     t AS (SELECT tenant_id, max(attributes->>'company_name') AS company_name,
                  count(*) FILTER (WHERE type = 'user.added') - count(*) FILTER (WHERE type = 'user.deleted') AS user_count,
                  max(occurred_at) FILTER (WHERE user_id IS NOT NULL) AS last_activity_at
             FROM bench.events GROUP BY tenant_id)
SELECT t.*, coalesce(sz.data_size_bytes, 0) AS data_size_bytes
  FROM t LEFT JOIN sz USING (tenant_id) ORDER BY tenant_id LIMIT 100;

-- q: tenant
SELECT count(*) FILTER (WHERE type = 'user.login') AS logins,
       count(*) FILTER (WHERE type LIKE 'dataset.%') AS dataset_actions,
       count(*) FILTER (WHERE type = 'job.submitted') AS jobs_submitted,
       count(*) FILTER (WHERE type = 'job.cancelled') AS jobs_cancelled,
       count(*) FILTER (WHERE type = 'user.added') - count(*) FILTER (WHERE type = 'user.deleted') AS user_count,
       count(*) AS events, max(occurred_at) FILTER (WHERE user_id IS NOT NULL) AS last_activity_at
  FROM bench.events WHERE tenant_id = :'tenant';

-- q: activity_day
SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day,
       count(*) FILTER (WHERE type = 'user.login') AS logins,
       count(*) FILTER (WHERE type IN ('user.logoff', 'user.session_timeout')) AS sessions,
       count(*) FILTER (WHERE type LIKE 'dataset.%') AS dataset_actions,
       count(*) FILTER (WHERE type = 'job.submitted') AS jobs_submitted,
       count(DISTINCT user_id) FILTER (WHERE type IN ('user.login', 'user.logoff', 'user.session_timeout')
                                         OR type LIKE 'dataset.%' OR type LIKE 'job.%') AS active_users,
       count(*) AS events
  FROM bench.events
 WHERE tenant_id = :'tenant' AND occurred_at >= :'from_30d' AND occurred_at < :'to_ts'
 GROUP BY 1 ORDER BY 1;

-- q: activity_hour
SELECT date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AS hour,
       count(*) FILTER (WHERE type = 'user.login') AS logins,
       count(*) FILTER (WHERE type IN ('user.logoff', 'user.session_timeout')) AS sessions,
       count(*) FILTER (WHERE type LIKE 'dataset.%') AS dataset_actions,
       count(*) FILTER (WHERE type = 'job.submitted') AS jobs_submitted,
       count(DISTINCT user_id) FILTER (WHERE type IN ('user.login', 'user.logoff', 'user.session_timeout')
                                         OR type LIKE 'dataset.%' OR type LIKE 'job.%') AS active_users,
       count(*) AS events
  FROM bench.events
 WHERE tenant_id = :'tenant' AND occurred_at >= :'from_7d' AND occurred_at < :'to_ts'
 GROUP BY 1 ORDER BY 1;

-- q: jobs_day
SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day,
       count(*) FILTER (WHERE type = 'job.submitted') AS jobs_submitted,
       count(*) FILTER (WHERE type = 'job.terminated') AS jobs_terminated,
       count(*) FILTER (WHERE type = 'job.terminated' AND attributes->>'status' = 'failed') AS jobs_failed,
       count(*) FILTER (WHERE type = 'job.cancelled') AS jobs_cancelled
  FROM bench.events
 WHERE tenant_id = :'tenant' AND type LIKE 'job.%' AND occurred_at >= :'from_30d' AND occurred_at < :'to_ts'
 GROUP BY 1 ORDER BY 1;

-- q: engagement
SELECT tenant_id, logins, dataset_actions, jobs_submitted,
       (dataset_actions + jobs_submitted)::float8 / nullif(logins, 0) AS actions_per_login
  FROM (SELECT tenant_id, count(*) FILTER (WHERE type = 'user.login') AS logins,
               count(*) FILTER (WHERE type LIKE 'dataset.%') AS dataset_actions,
               count(*) FILTER (WHERE type = 'job.submitted') AS jobs_submitted
          FROM bench.events WHERE occurred_at >= :'from_7d' AND occurred_at < :'to_ts'
         GROUP BY tenant_id) a
 ORDER BY actions_per_login ASC NULLS LAST, logins DESC, tenant_id LIMIT 100;

-- q: least_active
SELECT tenant_id, logins + dataset_actions + jobs_submitted AS activity, logins, dataset_actions, jobs_submitted,
       events, active_days
  FROM (SELECT tenant_id, count(*) FILTER (WHERE type = 'user.login') AS logins,
               count(*) FILTER (WHERE type LIKE 'dataset.%') AS dataset_actions,
               count(*) FILTER (WHERE type = 'job.submitted') AS jobs_submitted, count(*) AS events,
               count(DISTINCT date_trunc('day', occurred_at AT TIME ZONE 'UTC')) AS active_days
          FROM bench.events WHERE occurred_at >= :'from_30d' AND occurred_at < :'to_ts'
         GROUP BY tenant_id) a
 ORDER BY activity, events, tenant_id LIMIT 10;

-- q: data_size
WITH d AS (SELECT tenant_id, attributes->>'dataset_id' AS ds, occurred_at,
                  CASE WHEN type = 'dataset.deleted' THEN 0 ELSE (attributes->>'size_bytes')::bigint END AS size
             FROM bench.events WHERE type LIKE 'dataset.%' AND occurred_at < :'to_ts'),
     e AS (SELECT DISTINCT ON (tenant_id, ds) tenant_id, size FROM d ORDER BY tenant_id, ds, occurred_at DESC),
     s AS (SELECT DISTINCT ON (tenant_id, ds) tenant_id, size FROM d WHERE occurred_at < :'from_30d'
            ORDER BY tenant_id, ds, occurred_at DESC)
SELECT tenant_id, coalesce(e.bytes, 0) AS data_size_bytes, coalesce(s.bytes, 0) AS data_size_bytes_start,
       coalesce(e.bytes, 0) - coalesce(s.bytes, 0) AS growth_bytes
  FROM (SELECT tenant_id, sum(size) AS bytes FROM e GROUP BY 1) e
  FULL JOIN (SELECT tenant_id, sum(size) AS bytes FROM s GROUP BY 1) s USING (tenant_id)
 ORDER BY data_size_bytes DESC LIMIT 100;
