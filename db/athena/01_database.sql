-- The Glue database for the archive tables.
CREATE DATABASE IF NOT EXISTS tenantpulse_archive
  COMMENT 'tenantpulse raw events archived by tp-stream-processor (gzipped NDJSON)';
