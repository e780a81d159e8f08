/* coordinator.h — the lease loop: heartbeat, shard discovery, renewal, balancing, and the
 * reader threads of the leases this instance holds.
 *
 * Run by the main thread: tp_coord_cycle once per renew interval, tp_coord_shutdown once
 * ctx->stopping is set. Balance: each live instance aims for ceil(eligible shards / live
 * instances) leases per consumer; it takes free or expired leases first, and otherwise steals
 * one lease per cycle from the most loaded instance above that target. A shard is eligible
 * when its parents (after a split or merge) are finished for the same consumer.
 * Owns its Kinesis client and the workers; borrows ctx. */
#ifndef TP_COORDINATOR_H
#define TP_COORDINATOR_H

#include "processor.h"
#include "tp/err.h"

typedef struct tp_coord tp_coord;

/* streams: comma-separated stream names; consumers: which sinks run. */
int tp_coord_new(proc_ctx *ctx, const char *streams, const proc_consumer *consumers, size_t nconsumers,
                 tp_coord **out, char *err, size_t errlen) TP_MUSTCHECK;
/* One round. Returns 0 when the database answered (else the error; the next round retries). */
int tp_coord_cycle(tp_coord *c, char *err, size_t errlen);
/* Wait for every reader to finish its batch and checkpoint, release the leases, and remove
 * this instance's heartbeat. ctx->stopping must be set. */
void tp_coord_shutdown(tp_coord *c);
void tp_coord_free(tp_coord *c); /* NULL-safe; after shutdown */
/* Leases held now, per consumer (for /status and tests). */
size_t tp_coord_held(const tp_coord *c, proc_consumer consumer);

#endif
