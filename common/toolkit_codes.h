/* toolkit_codes.h - the code lists toolkit entries are checked against (ISO 3166-1 alpha-2
 * countries, ISO 639 languages, ISO 15924 scripts), embedded from Debian's iso-codes package by
 * scripts/gen-toolkit-codes.py so that validation never depends on files at run time. */
#ifndef JET_TOOLKIT_CODES_H
#define JET_TOOLKIT_CODES_H

/* 1 when `cc` is an assigned ISO 3166-1 alpha-2 code (two upper-case letters), else 0. */
int jet_toolkit_codes_country(const char *cc);

/* 1 when `code` (lower case) is an ISO 639-1 code (2 letters) or an ISO 639-2/639-3 code
 * (3 letters), else 0. */
int jet_toolkit_codes_language(const char *code);

/* 1 when `code` (title case, "Latn") is an ISO 15924 script code, else 0. */
int jet_toolkit_codes_script(const char *code);

#endif
