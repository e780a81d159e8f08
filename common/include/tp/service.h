/* service.h — what every service's main() shares: signal handling for a clean stop.
 *
 * The pattern: main() calls tp_service_signals_block() before it starts any thread, so every
 * thread inherits a mask with SIGTERM/SIGINT blocked and no worker is ever interrupted by
 * them; SIGPIPE is ignored (a peer closing a socket is an error return, not a death). After
 * start-up, main() parks in tp_service_signals_wait() and, when it returns, stops its parts in
 * order. Nothing here allocates or owns anything. */
#ifndef TP_SERVICE_H
#define TP_SERVICE_H

#include "tp/err.h"

/* Block SIGTERM and SIGINT in the calling thread (and so in threads it creates later) and
 * ignore SIGPIPE. Call first thing in main(). 0 or TP_EINTERNAL. */
int tp_service_signals_block(void) TP_MUSTCHECK;
/* Wait for SIGTERM or SIGINT (blocked by tp_service_signals_block); returns the signal number. */
int tp_service_signals_wait(void);
/* Like tp_service_signals_wait, giving up after timeout_ms: returns 0 then. */
int tp_service_signals_wait_ms(int timeout_ms);
/* Name of a signal number for logs ("SIGTERM"), never NULL. */
const char *tp_service_signal_name(int sig);

#endif
