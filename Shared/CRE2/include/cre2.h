// A C interface to RE2 (Debian's libre2-dev), the linear-time regular expression engine regex rules run on.
// Swift imports this header as the module CRE2; the C++ behind it is in cre2.cpp. Nothing here throws.
#ifndef FLOWTALK_CRE2_H
#define FLOWTALK_CRE2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A compiled pattern (an RE2 object). Immutable after compilation, so safe to match from many threads at once.
typedef struct cre2_regex cre2_regex;

/// Compiles `length` bytes of UTF-8 `pattern` (RE2 syntax; not NUL-terminated) with longest_match off and errors not
/// logged. `case_insensitive` non-zero folds case; `max_mem` bounds the memory of the compiled program and of the
/// matching automaton (RE2's option of that name). Returns NULL only when memory runs out; otherwise check
/// cre2_error_code, and free it with cre2_free whatever the outcome.
cre2_regex *cre2_new(const char *pattern, size_t length, int case_insensitive, int64_t max_mem);

/// CRE2_NO_ERROR when the pattern compiled; otherwise one of the CRE2_ERROR_* kinds below.
int cre2_error_code(const cre2_regex *regex);

/// RE2's description of the compile error ("" when none), NUL-terminated, valid until cre2_free.
const char *cre2_error(const cre2_regex *regex);

/// The fragment of the pattern the error is about ("" when none), NUL-terminated, valid until cre2_free.
const char *cre2_error_arg(const cre2_regex *regex);

/// The size of the compiled program (instructions), a measure of how costly the pattern is; -1 if it did not compile.
int cre2_program_size(const cre2_regex *regex);

/// 1 when the pattern matches somewhere in `length` bytes of UTF-8 `text` (unanchored), 0 otherwise or if it did
/// not compile. Time is linear in the length of the text.
int cre2_partial_match(const cre2_regex *regex, const char *text, size_t length);

/// Frees what cre2_new returned (NULL is fine).
void cre2_free(cre2_regex *regex);

/// The kinds of compile error this project tells apart (RE2's ErrorCode, mapped in cre2.cpp). Macros, so that Swift
/// sees them as Int32 like cre2_error_code's result.
#define CRE2_NO_ERROR 0
#define CRE2_ERROR_OTHER 1              /* any other syntax error */
#define CRE2_ERROR_BAD_ESCAPE 2         /* e.g. a backreference \1 */
#define CRE2_ERROR_BAD_PERL_OP 3        /* e.g. a lookaround (?= */
#define CRE2_ERROR_BAD_NAMED_CAPTURE 4
#define CRE2_ERROR_PATTERN_TOO_LARGE 5  /* the program outgrew max_mem */

#ifdef __cplusplus
}
#endif

#endif
