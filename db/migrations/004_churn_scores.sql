-- 004_churn_scores.sql — churn scores per tenant (created empty here; a later
-- issue's scorer fills it). reporting.tenants shows the latest score of each tenant.
CREATE TABLE IF NOT EXISTS public.churn_scores (
    tenant_id     text NOT NULL,
    scored_at     timestamptz NOT NULL,
    score         double precision NOT NULL,
    model_version text NOT NULL,
    PRIMARY KEY (tenant_id, scored_at)
);
