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
/* Convert the number text s[0..n) (grammar already checked) with strtod (real) or strtoll:
 * value into *d or *i (either may be NULL), *overflow (NULL-safe) set when it does not fit
 * (underflow to 0 is fine, as jansson has it). TP_ENOMEM if a very long text cannot be copied. */
int tp_jscan__convert(const char *s, size_t n, int real, double *d, long long *i, int *overflow);

#endif
