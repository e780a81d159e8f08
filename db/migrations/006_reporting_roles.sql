-- 006_reporting_roles.sql — read-only access to the reporting schema.
--
-- tp_reporting (NOLOGIN) may use schema reporting and select its views, nothing else; the
-- views run with their owner's rights, so it needs no grant on rollup.* itself.
-- tenantpulse_ro is the login QuickSight / SQL users get. Its password here is the local
-- development one; a deployment sets its own (ALTER ROLE tenantpulse_ro PASSWORD ...).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tp_reporting') THEN
        CREATE ROLE tp_reporting NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantpulse_ro') THEN
        CREATE ROLE tenantpulse_ro LOGIN PASSWORD 'tenantpulse_ro';
    END IF;
END
$roles$;

GRANT tp_reporting TO tenantpulse_ro;

-- Internal schemas are closed to everyone but their owner.
REVOKE ALL ON SCHEMA processor FROM PUBLIC;
REVOKE ALL ON SCHEMA rollup FROM PUBLIC;
REVOKE ALL ON SCHEMA reporting FROM PUBLIC;

GRANT USAGE ON SCHEMA reporting TO tp_reporting;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO tp_reporting;
-- Views added by later migrations (run by the same owner) are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO tp_reporting;
