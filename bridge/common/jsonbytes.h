/*
 * jsonbytes.h: the 8-bytes-at-a-time test shared by the JSON scanner (jscan.c) and the
 * envelope writer (envelope.c): where, in a word of string bytes, the first one is that
 * either of them must look at (pure).
 */
#ifndef PP_JSONBYTES_H
#define PP_JSONBYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* How many of the 8 bytes at s need no look in a string (no quote, backslash, control
 * character or non-ASCII byte) before the first that does; 8 when none does. Bit tricks
 * on a 64-bit word: a byte's high bit is set when it is special, and a borrow only runs
 * upwards, so the lowest flagged byte is exact (later ones may be false alarms, which the
 * careful loop then passes over). */
static inline size_t json_plain_prefix8(const unsigned char *s)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t x, q, b, m;

	memcpy(&x, s, sizeof(x));
	q = x ^ (ones * '"');
	b = x ^ (ones * '\\');
	m = ((x - ones * 0x20) | ((q - ones) & ~q) | ((b - ones) & ~b) | x) & highs;
	if (m == 0)
		return 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t)__builtin_ctzll(m) >> 3; /* byte 0 is the least significant */
#else
	return 0;
#endif
}

#endif
