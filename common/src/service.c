/* service.c — signal handling shared by the services' main() (see service.h). */
#include "tp/service.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

static void stop_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

int tp_service_signals_block(void)
{
    sigset_t set;
    struct sigaction sa;
    stop_set(&set);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return TP_EINTERNAL;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return TP_EINTERNAL;
    return 0;
}

int tp_service_signals_wait(void)
{
    sigset_t set;
    int sig = 0;
    stop_set(&set);
    while (sigwait(&set, &sig) != 0) {
    }
    return sig;
}

int tp_service_signals_wait_ms(int timeout_ms)
{
    sigset_t set;
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    stop_set(&set);
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            return 0;
        /* EINTR: another signal's handler ran; the remaining time is not reported, so wait
         * the full period again — callers use this for coarse periodic work only. */
    }
}

const char *tp_service_signal_name(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case 0: return "timeout";
    default: return "signal";
    }
}
