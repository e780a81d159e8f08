-- Raw events of all tenants, partitions in the Glue catalog (Hive-style key=value paths):
--   MSCK REPAIR TABLE tenantpulse_archive.events;   -- or a Glue crawler on a schedule
-- "user" is a reserved word in Athena: quote it in queries, e.g.
--   SELECT dt, count(DISTINCT "user") FROM tenantpulse_archive.events
--    WHERE dt >= '2026-01-01' AND "user" <> '_tenant' GROUP BY 1;
CREATE EXTERNAL TABLE IF NOT EXISTS tenantpulse_archive.events (
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
PARTITIONED BY (tenant string, `user` string, dt string, hour string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://${BUCKET}/'
TBLPROPERTIES ('classification' = 'json', 'compressionType' = 'gzip');
