// The C interface of include/cre2.h over RE2. Kept tiny: no exceptions thrown or caught, no state beyond the RE2 object.
#include "cre2.h"

#include <new>

#include <re2/re2.h>

struct cre2_regex {
    re2::RE2 re;
    cre2_regex(const re2::StringPiece &pattern, const re2::RE2::Options &options) : re(pattern, options) {}
};


extern "C" cre2_regex *cre2_new(const char *pattern, size_t length, int case_insensitive, int64_t max_mem) {
    re2::RE2::Options options;
    options.set_encoding(re2::RE2::Options::EncodingUTF8);
    options.set_case_sensitive(case_insensitive == 0);
    options.set_longest_match(false);
    options.set_log_errors(false);
    options.set_max_mem(max_mem);
    return new (std::nothrow) cre2_regex(re2::StringPiece(pattern, length), options);
}

extern "C" int cre2_error_code(const cre2_regex *regex) {
    switch (regex->re.error_code()) {
    case re2::RE2::NoError: return CRE2_NO_ERROR;
    case re2::RE2::ErrorBadEscape: return CRE2_ERROR_BAD_ESCAPE;
    case re2::RE2::ErrorBadPerlOp: return CRE2_ERROR_BAD_PERL_OP;
    case re2::RE2::ErrorBadNamedCapture: return CRE2_ERROR_BAD_NAMED_CAPTURE;
    case re2::RE2::ErrorPatternTooLarge: return CRE2_ERROR_PATTERN_TOO_LARGE;
    default: return CRE2_ERROR_OTHER;
    }
}

extern "C" const char *cre2_error(const cre2_regex *regex) { return regex->re.error().c_str(); }

extern "C" const char *cre2_error_arg(const cre2_regex *regex) { return regex->re.error_arg().c_str(); }

extern "C" int cre2_program_size(const cre2_regex *regex) { return regex->re.ok() ? regex->re.ProgramSize() : -1; }

extern "C" int cre2_partial_match(const cre2_regex *regex, const char *text, size_t length) {
    if (!regex->re.ok()) return 0;
    return re2::RE2::PartialMatch(re2::StringPiece(text, length), regex->re) ? 1 : 0;
}

extern "C" void cre2_free(cre2_regex *regex) { delete regex; }
