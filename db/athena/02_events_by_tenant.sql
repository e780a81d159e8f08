-- Raw events of one tenant, with partition projection: nothing to register, ever.
-- Queries must name the tenant (injected projection), e.g.
--   SELECT type, count(*) FROM tenantpulse_archive.events_by_tenant
--    WHERE tenant = 'acme' AND dt BETWEEN '2026-01-01' AND '2026-01-31' GROUP BY 1;
-- uid is the user part of the key: a user id, or '_tenant' for tenant.* events.
CREATE EXTERNAL TABLE IF NOT EXISTS tenantpulse_archive.events_by_tenant (
  event_id    string,
  type        string,
  tenant_id   string,
  user_id     string,
  occurred_at string,
  attributes  struct<
    company_name: string, industry: string, sentiment: double, plan: string, reason: string,
    role: string, session_id: string, session_seconds: bigint,
    dataset_id: string, size_bytes: bigint,
    job_id: string, servers: int, data_size_bytes: bigint, status: string, duration_seconds: double>
)
PARTITIONED BY (tenant string, uid string, dt string, hour string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'false')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://${BUCKET}/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.tenant.type' = 'injected',
  'projection.uid.type' = 'injected',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2020-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = 's3://${BUCKET}/tenant=${tenant}/user=${uid}/dt=${dt}/hour=${hour}/',
  'classification' = 'json',
  'compressionType' = 'gzip'
);
