/* lease.c — lease and heartbeat statements (see lease.h). */
#include "lease.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgarr.h"
#include "tp/db.h"

/* Classify a failed result and prefix the message with what was being done. A deadlock or
 * serialization failure becomes TP_EUNAVAIL: in this module TP_ECONFLICT means only "the
 * fence did not hold", which callers act on differently (drop the shard, do not retry). */
static int fail(PGconn *c, PGresult *res, const char *what, char *err, size_t errlen)
{
    char msg[384];
    int rc = tp_db_classify(c, res, msg, sizeof msg);
    PQclear(res);
    if (rc == TP_ECONFLICT)
        rc = TP_EUNAVAIL;
    return tp_errf(err, errlen, rc ? rc : TP_EINTERNAL, "%s: %s", what, msg);
}

static void i64s(char out[24], int64_t v) { snprintf(out, 24, "%" PRId64, v); }

static void copy_field(char *dst, size_t cap, const PGresult *res, int row, int col)
{
    const char *v = PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col);
    snprintf(dst, cap, "%s", v);
}

int tp_lease_exec(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return fail(c, res, sql, err, errlen);
    PQclear(res);
    return 0;
}

/* Run a fenced UPDATE and turn "0 rows" into TP_ECONFLICT. */
static int exec_fenced(PGconn *c, const char *sql, int n, const char *const *params, const char *what, char *err,
                       size_t errlen)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return fail(c, res, what, err, errlen);
    int rows = atoi(PQcmdTuples(res));
    PQclear(res);
    if (rows == 0)
        return tp_errf(err, errlen, TP_ECONFLICT, "%s: lease lost", what);
    return 0;
}

/* Run a parameterised command whose row count does not matter. */
static int exec_params(PGconn *c, const char *sql, int n, const char *const *params, const char *what, char *err,
                       size_t errlen)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return fail(c, res, what, err, errlen);
    PQclear(res);
    return 0;
}

int tp_lease_heartbeat(PGconn *c, const char *instance_id, char *err, size_t errlen)
{
    const char *p[1] = {instance_id};
    return exec_params(c,
                       "INSERT INTO processor.instances (instance_id) VALUES ($1) "
                       "ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = now()",
                       1, p, "heartbeat", err, errlen);
}

int tp_lease_deregister(PGconn *c, const char *instance_id, char *err, size_t errlen)
{
    const char *p[1] = {instance_id};
    return exec_params(c, "DELETE FROM processor.instances WHERE instance_id = $1", 1, p, "deregister", err, errlen);
}

int tp_lease_live_instances(PGconn *c, int64_t window_ms, int *out, char *err, size_t errlen)
{
    char w[24];
    i64s(w, window_ms);
    const char *p[1] = {w};
    PGresult *res = PQexecParams(c,
                                 "SELECT count(*) FROM processor.instances "
                                 "WHERE heartbeat_at > now() - $1::bigint * interval '1 millisecond'",
                                 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return fail(c, res, "counting instances", err, errlen);
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    *out = n > 0 ? n : 1;
    return 0;
}

int tp_lease_sync_shards(PGconn *c, const char *const *consumers, size_t nconsumers, const char *stream,
                         const tp_shard_list *shards, char *err, size_t errlen)
{
    tp_pgarr cons, ids, parents;
    tp_pgarr_init(&cons);
    tp_pgarr_init(&ids);
    tp_pgarr_init(&parents);
    int rc = 0;
    for (size_t k = 0; k < nconsumers; k++) {
        for (size_t i = 0; i < shards->n; i++) {
            const tp_shard *s = &shards->shards[i];
            tp_pgarr_add_str(&cons, consumers[k]);
            tp_pgarr_add_str(&ids, s->shard_id);
            /* Parents travel as one comma-joined string: unnest cannot carry an array per row. */
            char joined[2 * PROC_SHARD_MAX + 2];
            snprintf(joined, sizeof joined, "%s%s%s", s->parent_shard_id,
                     s->parent_shard_id[0] && s->adjacent_parent_shard_id[0] ? "," : "",
                     s->adjacent_parent_shard_id);
            tp_pgarr_add_str(&parents, joined);
        }
    }
    const char *p[4] = {stream};
    if (tp_pgarr_finish(&cons, &p[1]) || tp_pgarr_finish(&ids, &p[2]) || tp_pgarr_finish(&parents, &p[3])) {
        rc = tp_errf(err, errlen, TP_ENOMEM, "out of memory syncing shards");
        goto out;
    }
    PGresult *res = PQexecParams(
        c,
        "INSERT INTO processor.leases (consumer, stream, shard_id, parent_shard_ids) "
        "SELECT x.consumer, $1, x.shard_id, "
        "       CASE WHEN x.parents = '' THEN '{}'::text[] ELSE string_to_array(x.parents, ',') END "
        "  FROM unnest($2::text[], $3::text[], $4::text[]) AS x(consumer, shard_id, parents) "
        "ON CONFLICT (consumer, stream, shard_id) DO NOTHING",
        4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = fail(c, res, "syncing shards", err, errlen);
        goto out;
    }
    PQclear(res);
out:
    tp_pgarr_free(&cons);
    tp_pgarr_free(&ids);
    tp_pgarr_free(&parents);
    return rc;
}

void tp_lease_rows_free(tp_lease_rows *r)
{
    if (!r)
        return;
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}

int tp_lease_list_eligible(PGconn *c, const char *consumer, tp_lease_rows *out, char *err, size_t errlen)
{
    out->rows = NULL;
    out->n = 0;
    const char *p[1] = {consumer};
    PGresult *res = PQexecParams(
        c,
        "SELECT l.stream, l.shard_id, coalesce(l.owner, ''), l.lease_counter, "
        "       (l.owner IS NULL OR l.lease_expires_at IS NULL OR l.lease_expires_at < now()) "
        "  FROM processor.leases l "
        " WHERE l.consumer = $1 AND NOT l.finished "
        "   AND NOT EXISTS (SELECT 1 FROM processor.leases p "
        "                    WHERE p.consumer = l.consumer AND p.stream = l.stream "
        "                      AND p.shard_id = ANY (l.parent_shard_ids) AND NOT p.finished) "
        " ORDER BY l.stream, l.shard_id",
        1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return fail(c, res, "listing leases", err, errlen);
    int n = PQntuples(res);
    if (n > 0) {
        out->rows = calloc((size_t)n, sizeof *out->rows);
        if (!out->rows) {
            PQclear(res);
            return tp_errf(err, errlen, TP_ENOMEM, "out of memory listing leases");
        }
    }
    for (int i = 0; i < n; i++) {
        tp_lease_row *r = &out->rows[i];
        copy_field(r->stream, sizeof r->stream, res, i, 0);
        copy_field(r->shard_id, sizeof r->shard_id, res, i, 1);
        copy_field(r->owner, sizeof r->owner, res, i, 2);
        r->counter = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        r->available = PQgetvalue(res, i, 4)[0] == 't';
    }
    out->n = (size_t)n;
    PQclear(res);
    return 0;
}

int tp_lease_take(PGconn *c, const char *consumer, const char *stream, const char *shard_id, int64_t expected_counter,
                  const char *victim, const char *me, int64_t lease_ms, tp_lease_resume *out, char *err,
                  size_t errlen)
{
    char cnt[24], ms[24];
    i64s(cnt, expected_counter);
    i64s(ms, lease_ms);
    const char *p[7] = {consumer, stream, shard_id, cnt, me, ms, victim};
    /* A free or expired lease is taken outright; a steal must still find the victim in place.
     * Either way the counter moves, which is what fences the previous owner out. */
    PGresult *res = PQexecParams(
        c,
        "UPDATE processor.leases "
        "   SET owner = $5, lease_counter = lease_counter + 1, "
        "       lease_expires_at = now() + $6::bigint * interval '1 millisecond', updated_at = now() "
        " WHERE consumer = $1 AND stream = $2 AND shard_id = $3 AND lease_counter = $4::bigint AND NOT finished "
        "   AND (CASE WHEN $7::text IS NULL "
        "             THEN owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at < now() "
        "             ELSE owner = $7::text END) "
        "RETURNING lease_counter, coalesce(checkpoint_seq, ''), checkpoint_sub, coalesce(pending_seq, ''), "
        "          coalesce(pending_sub, -1)",
        7, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return fail(c, res, "taking lease", err, errlen);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tp_errf(err, errlen, TP_ECONFLICT, "lease %s/%s moved", stream, shard_id);
    }
    memset(out, 0, sizeof *out);
    out->counter = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    copy_field(out->checkpoint_seq, sizeof out->checkpoint_seq, res, 0, 1);
    out->checkpoint_sub = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    copy_field(out->pending_seq, sizeof out->pending_seq, res, 0, 3);
    out->pending_sub = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    PQclear(res);
    return 0;
}

int tp_lease_renew(PGconn *c, const tp_lease_fence *f, int64_t lease_ms, char *err, size_t errlen)
{
    char cnt[24], ms[24];
    i64s(cnt, f->counter);
    i64s(ms, lease_ms);
    const char *p[6] = {f->consumer, f->stream, f->shard_id, f->owner, cnt, ms};
    return exec_fenced(c,
                       "UPDATE processor.leases "
                       "   SET lease_expires_at = now() + $6::bigint * interval '1 millisecond' "
                       " WHERE consumer = $1 AND stream = $2 AND shard_id = $3 AND owner = $4 "
                       "   AND lease_counter = $5::bigint",
                       6, p, "renewing lease", err, errlen);
}

int tp_lease_release(PGconn *c, const tp_lease_fence *f, char *err, size_t errlen)
{
    char cnt[24];
    i64s(cnt, f->counter);
    const char *p[5] = {f->consumer, f->stream, f->shard_id, f->owner, cnt};
    return exec_fenced(c,
                       "UPDATE processor.leases SET owner = NULL, lease_expires_at = NULL, updated_at = now() "
                       " WHERE consumer = $1 AND stream = $2 AND shard_id = $3 AND owner = $4 "
                       "   AND lease_counter = $5::bigint",
                       5, p, "releasing lease", err, errlen);
}

int tp_lease_checkpoint(PGconn *c, const tp_lease_fence *f, const char *seq, int64_t sub, int finished, char *err,
                        size_t errlen)
{
    char cnt[24], s[24];
    i64s(cnt, f->counter);
    i64s(s, sub);
    const char *p[8] = {f->consumer, f->stream, f->shard_id, f->owner, cnt, seq, s, finished ? "t" : "f"};
    return exec_fenced(c,
                       "UPDATE processor.leases "
                       "   SET checkpoint_seq = coalesce($6, checkpoint_seq), "
                       "       checkpoint_sub = CASE WHEN $6 IS NULL THEN checkpoint_sub ELSE $7::bigint END, "
                       "       pending_seq = NULL, pending_sub = NULL, "
                       "       finished = finished OR $8::boolean, updated_at = now() "
                       " WHERE consumer = $1 AND stream = $2 AND shard_id = $3 AND owner = $4 "
                       "   AND lease_counter = $5::bigint",
                       8, p, "checkpointing", err, errlen);
}

int tp_lease_set_pending(PGconn *c, const tp_lease_fence *f, const char *seq, int64_t sub, char *err,
                         size_t errlen)
{
    char cnt[24], s[24];
    i64s(cnt, f->counter);
    i64s(s, sub);
    const char *p[7] = {f->consumer, f->stream, f->shard_id, f->owner, cnt, seq, s};
    return exec_fenced(c,
                       "UPDATE processor.leases SET pending_seq = $6, pending_sub = $7::bigint, updated_at = now() "
                       " WHERE consumer = $1 AND stream = $2 AND shard_id = $3 AND owner = $4 "
                       "   AND lease_counter = $5::bigint",
                       7, p, "announcing flush", err, errlen);
}

int tp_lease_prune(PGconn *c, int64_t retention_h, int64_t batch, int64_t *deleted, char *err, size_t errlen)
{
    char h[24], b[24];
    i64s(h, retention_h);
    i64s(b, batch);
    const char *p[2] = {h, b};
    *deleted = 0;
    /* Bounded by batch so a large backlog never holds locks for long; the caller comes back. */
    PGresult *res = PQexecParams(c,
                                 "DELETE FROM processor.seen_events WHERE event_id IN ("
                                 "  SELECT event_id FROM processor.seen_events "
                                 "   WHERE seen_at < now() - $1::bigint * interval '1 hour' LIMIT $2::bigint)",
                                 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return fail(c, res, "pruning seen_events", err, errlen);
    *deleted = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    res = PQexec(c, "DELETE FROM processor.instances WHERE heartbeat_at < now() - interval '1 hour'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return fail(c, res, "pruning instances", err, errlen);
    PQclear(res);
    return 0;
}
