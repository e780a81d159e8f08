-- 002_processor_leases.sql — the stream processor's coordination state.
--
-- Each sink ("rollup", "archive") is a consumer with its own leases and checkpoints, so one
-- sink's outage never holds back the other. A lease row is the unit of ownership: whoever
-- holds (owner, lease_counter) may advance the checkpoint; every checkpoint update is fenced
-- on both, and lease_counter only grows when ownership changes hands, so a stalled former
-- owner can never commit after a take-over. Times come from the database clock only.
-- See docs/stream-processing.md.

CREATE SCHEMA IF NOT EXISTS processor;

-- Live processor instances (a heartbeat every renew interval). Used to size each
-- instance's fair share: ceil(eligible shards / live instances).
CREATE TABLE IF NOT EXISTS processor.instances (
    instance_id  text PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS processor.leases (
    consumer         text NOT NULL,              -- 'rollup' | 'archive'
    stream           text NOT NULL,
    shard_id         text NOT NULL,
    parent_shard_ids text[] NOT NULL DEFAULT '{}', -- read this shard only after these are finished
    owner            text,                        -- instance_id, NULL when free
    lease_expires_at timestamptz,
    lease_counter    bigint NOT NULL DEFAULT 0,   -- the fence: bumped on every change of owner
    -- Last user record fully processed: the Kinesis record checkpoint_seq and, inside a KPL
    -- aggregated record, the index checkpoint_sub. NULL seq = nothing yet (TRIM_HORIZON).
    checkpoint_seq   text,
    checkpoint_sub   bigint NOT NULL DEFAULT -1,
    -- Archive only: the end of a flush that was announced but not yet confirmed written.
    -- A new owner re-flushes exactly (checkpoint, pending] first, so S3 keys come out the same.
    pending_seq      text,
    pending_sub      bigint,
    finished         boolean NOT NULL DEFAULT false, -- shard closed and fully processed
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream, shard_id)
);

-- Producer retries put the same event_id into a stream more than once; the rollup counts
-- an event_id once. Rows are pruned by seen_at after the dedupe retention (BRIN: the table
-- is append-ordered by seen_at, so the index costs next to nothing on the hot insert path).
CREATE TABLE IF NOT EXISTS processor.seen_events (
    event_id    uuid PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS seen_events_seen_at_brin ON processor.seen_events USING brin (seen_at);
