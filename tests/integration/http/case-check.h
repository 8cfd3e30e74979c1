/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The checks of /work/shared/tools/run-cases (the corpus checker, Python)
 * ported to C, key for key, so that tests/cases.jsonl holds the same way in
 * the integration suite as it does for that tool. See case_check().
 */

#include <jansson.h>
#include <stddef.h>

/*
 * Checks the final status object @status of a case against its "expect"
 * object @expect; @wall_s is how long the case took, from before POST
 * /execute to the poll that saw the terminal state. Every fault found is
 * appended to @ret_faults (a NULL-terminated, malloc'd strv; *ret_faults
 * may be NULL at first). Returns the number of faults found by this call.
 *
 * Keys: status, exit_code, signal, truncated, stdout, stderr, *_ws,
 * *_contains, *_lacks, *_regex (POSIX extended, whole text, '.' matching
 * newlines), ename, evalue_contains, traceback_contains, error_contains,
 * no_error, result_text, result_text_ws, has_png, png_count, has_html,
 * sequence, cpu_usec_range, max_wall_s, outputs_max_bytes. A key this
 * port does not know is a fault too: a check silently skipped would let a
 * case pass that the corpus meant to fail.
 */
size_t case_check(const json_t *status, const json_t *expect, double wall_s, char ***ret_faults);

/*
 * Size of the dump Python's json.dumps(@j) (default separators ", " and
 * ": ", ensure_ascii) gives, which run-cases compares with
 * outputs_max_bytes. Returns (size_t) -1 on OOM.
 */
size_t python_json_dumps_size(const json_t *j);
