/* jscan_priv.h — what the checker (jscan.c) and the readers (jscan_read.c) share. */
#ifndef TP_JSCAN_PRIV_H
#define TP_JSCAN_PRIV_H

#include "tp/jscan.h"

/* 1 and *out if s[0..4) are hex digits. */
int tp_jscan__hex4(const char *s, unsigned *out);
/* Compare / hash two checked string values by their decoded bytes ("a" == "\u0061"). */
int tp_jscan__strings_equal(tp_jvalue a, tp_jvalue b);
int tp_jscan__strings_cmp(tp_jvalue a, tp_jvalue b); /* <0, 0, >0 by decoded bytes */
uint32_t tp_jscan__string_hash(tp_jvalue v);

#endif
