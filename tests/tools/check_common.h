/* check_common.h — what the parts of tp-producer-check share: a deterministic generator of
 * valid events (every type, all three streams) and the command-line options. */
#ifndef TP_CHECK_COMMON_H
#define TP_CHECK_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "tp/event.h"

struct gen_event {
    tp_stream stream;
    char pkey[TP_PARTITION_KEY_MAX + 1];
    char id[TP_UUID_LEN + 1];
    char *json; /* compact JSON, no newline; malloc'd */
    size_t len;
};

/* n events; event i of seed s is always the same. NULL on out-of-memory. */
struct gen_event *gen_events(unsigned seed, size_t n);
void gen_events_free(struct gen_event *evs, size_t n);

struct opts {
    size_t count, batch, inflight;
    unsigned seed;
    const char *acked, *spool;
    int aggregate, linger, senders, max_attempt, agg_max, batch_max;
    uint64_t spool_max;
    double pace;
    int wait_drain;
    int has_exact;
};
/* argv[0] is the subcommand. Returns 0, or 2 after printing what is wrong. */
int parse_opts(int argc, char **argv, struct opts *o);

/* The verify subcommand. */
int verify_main(int argc, char **argv);

#endif
