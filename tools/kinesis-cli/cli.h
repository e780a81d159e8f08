/* cli.h — what tp-kinesis's files share. */
#ifndef TP_KINESIS_CLI_H
#define TP_KINESIS_CLI_H

#include <jansson.h>

#include "tp/kinesis.h"

/* Exit codes: 0 ok, 1 a call failed, 2 usage, 3 PutRecords answered with some entries failed. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_PARTIAL = 3 };

/* Sleep before retry attempt and return 1 if rc is retryable and attempts remain. */
int cli_should_retry(int rc, unsigned *attempt);
/* Print a JSON object as one line on stdout; takes ownership of obj. */
void cli_print(json_t *obj);
/* Print {"error": "<TP_E name>", "message": msg} and return CLI_FAIL. */
int cli_fail(int rc, const char *msg);

int cmd_dump(tp_kinesis *k, int argc, char **argv);

#endif
