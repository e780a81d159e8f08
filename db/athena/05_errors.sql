-- Records that reached a stream but are not valid events (bad JSON, failed validation, a
-- corrupt KPL aggregate): the reason and the payload in base64, by stream and arrival day.
--   SELECT dt, reason, count(*) FROM tenantpulse_archive.archive_errors
--    WHERE dt >= '2026-01-01' GROUP BY 1, 2;
CREATE EXTERNAL TABLE IF NOT EXISTS tenantpulse_archive.archive_errors (
  reason       string,
  shard        string,
  sequence     string,
  sub_sequence bigint,
  arrival      string,
  data_base64  string
)
PARTITIONED BY (stream string, dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://${BUCKET}/errors/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.stream.type' = 'enum',
  'projection.stream.values' = 'tenants,users,jobs',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2020-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://${BUCKET}/errors/stream=${stream}/dt=${dt}/',
  'classification' = 'json'
);
