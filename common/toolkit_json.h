/* toolkit_json.h - the JSON form of toolkit entries: the file `jetsync toolkit publish` reads
 * and the objects `toolkit list/show/search --json` print.
 *
 * The file is one JSON object with the fields of ../shared/SPEC.md section 4 (see
 * examples/toolkit/ and README): id, title, summary, body, category, type, country, region,
 * languages, school_level, intervention_level (a string or an array), intensity, funding,
 * target_age {"from", "to"}, outcomes (a string, or {"text", "key_figures": [{"label",
 * "value"}]}), contacts [{"organisation", "role", "address", "email", "url"}], links (URLs, or
 * {"url", "title"}), translations {"<lang>": {"title", "summary", "body"}}. Optional fields may
 * be absent or null. Enumerated values and codes are accepted in any case and stored in their
 * canonical case (country "it" -> "IT", language "EN-gb" -> "en-GB"). The output-only members
 * author, version, published, withdrawn and score are ignored on input, so what `show --json`
 * prints can be published again; any other unknown member is an error (it is usually a typo). */
#ifndef JET_TOOLKIT_JSON_H
#define JET_TOOLKIT_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"
#include "toolkit.h"

/* Reads and validates an entry from text[0..len), naming it `name` in messages. On failure
 * returns JET_EVALIDATE (or JET_ETOOBIG, JET_ENOMEM) with the one-line message
 * "NAME:LINE:COLUMN: field 'F': rule" in diag (line and column of the offending value, or of
 * the object that lacks a required field). Nothing is stored anywhere. */
int jet_toolkit_json_read(const char *name, const char *text, size_t len, jet_toolkit_entry **out,
                          jet_diag *diag);

/* Reads the file at `path` (at most JET_TOOLKIT_MAX_FILE bytes) as jet_toolkit_json_read().
 * Also returns JET_EIO / JET_ENOTFOUND for an unreadable file. */
int jet_toolkit_json_read_file(const char *path, jet_toolkit_entry **out, jet_diag *diag);

/* The JSON object of an entry: every field of the model (absent strings and objects as null,
 * absent lists as []), plus "author" (node id), "version" and "published" (UTC, ISO 8601); for
 * a withdrawal only id, author, version, published and "withdrawn": true. Returns a new
 * reference or NULL when out of memory. */
json_t *jet_toolkit_json_from_entry(const jet_toolkit_entry *e);

#endif
