/* fuzz_target.h: what every fuzz target and the replay driver share.
 *
 * A target is one LLVMFuzzerTestOneInput(); it is linked either with libFuzzer
 * (run_fuzz.sh, clang) or with replay_main.c (every normal build, gcc or clang), which
 * feeds it the files of the seed corpus and of the regressions. */
#ifndef PP_FUZZ_TARGET_H
#define PP_FUZZ_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Run one input. Always returns 0 (libFuzzer's convention); a bug is a crash or abort. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: abort (so the fuzzer records the input) when false.
 * Unlike assert() it stays on in release builds, where the replay tests also run. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
