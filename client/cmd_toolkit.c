/* cmd_toolkit.c - jetsync toolkit publish|withdraw|list|show|search: toolkit entries. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "encoding.h"
#include "toolkit.h"
#include "toolkit_json.h"

static const char toolkit_usage[] =
    "usage: jetsync toolkit publish --home DIR FILE      validate, sign and store an entry (a new\n"
    "                                                     version when its id exists)\n"
    "       jetsync toolkit withdraw --home DIR ENTRY_ID\n"
    "       jetsync toolkit list --home DIR [--category prevention|intervention|compensation]\n"
    "                    [--lang LANG] [--country CC] [--school-level L]\n"
    "                    [--intervention-level universal|targeted|individual] [--json]\n"
    "       jetsync toolkit show --home DIR ENTRY_ID [--json] [--history]\n"
    "       jetsync toolkit search --home DIR TEXT [--json]\n"
    "ENTRY_ID is the entry's id, or AUTHOR_NODE_ID/id when several authors use the same id.\n"
    "Entry files are JSON; see examples/toolkit/.\n";

typedef struct tk_args {
    const char *home;
    int json, history;
    jet_toolkit_filter filter;
} tk_args;

/* Parses the options of a subcommand (argv[0] = its name). Returns -1 to go on, else the
 * exit status. Positional arguments are left at argv[optind..]. */
static int parse(int *argc, char ***argv, tk_args *a) {
    static const struct option opts[] = {{"home", required_argument, NULL, 'H'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"history", no_argument, NULL, 'y'},
                                         {"category", required_argument, NULL, 'c'},
                                         {"lang", required_argument, NULL, 'l'},
                                         {"country", required_argument, NULL, 'C'},
                                         {"school-level", required_argument, NULL, 's'},
                                         {"intervention-level", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    memset(a, 0, sizeof *a);
    optind = 1;
    cli_dash_positionals(argc, argv, opts); /* an AUTHOR/ENTRY_ID may start with '-' */
    while ((c = getopt_long(*argc, *argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': a->home = optarg; break;
        case 'j': a->json = 1; break;
        case 'y': a->history = 1; break;
        case 'c': a->filter.category = optarg; break;
        case 'l': a->filter.lang = optarg; break;
        case 'C': a->filter.country = optarg; break;
        case 's': a->filter.school_level = optarg; break;
        case 'i': a->filter.intervention_level = optarg; break;
        case 'h': fputs(toolkit_usage, stdout); return 0;
        default: return cli_usage(toolkit_usage);
        }
    }
    return -1;
}

static int one_of(const char *v, const char *const *set) {
    for (; *set; set++)
        if (strcasecmp(v, *set) == 0)
            return 1;
    return 0;
}

static void format_time(int64_t when, char *buf, size_t len) {
    time_t t = (time_t)when;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
    else
        snprintf(buf, len, "%lld", (long long)when);
}

/* ---- publish ---------------------------------------------------------------------------- */

static int do_publish(int argc, char **argv) {
    tk_args a;
    jet_toolkit_entry *e = NULL;
    jet_diag diag;
    jet_node *node;
    char nid[JET_NODE_ID_BUF];
    int rc = parse(&argc, &argv, &a);
    if (rc >= 0)
        return rc;
    if (optind != argc - 1 || a.json || a.history)
        return cli_usage(toolkit_usage);
    jet_diag_clear(&diag);
    rc = jet_toolkit_json_read_file(argv[optind], &e, &diag);
    if (rc)
        return cli_fail("%s", jet_diag_message(&diag, rc));
    node = cli_open_node(a.home);
    if (!node) {
        jet_toolkit_entry_free(e);
        return 1;
    }
    rc = jet_toolkit_publish(jet_node_store(node), jet_node_secret_key(node), e,
                             (int64_t)time(NULL), &diag);
    if (rc) {
        rc = cli_fail("%s: %s", argv[optind], jet_diag_message(&diag, rc));
    } else {
        jet_node_id_format(jet_toolkit_entry_author(e), nid);
        printf("published %s version %llu (author %s)\n", jet_toolkit_entry_id(e),
               (unsigned long long)jet_toolkit_entry_version(e), nid);
    }
    jet_toolkit_entry_free(e);
    jet_node_free(node);
    return rc;
}

/* ---- withdraw --------------------------------------------------------------------------- */

static int do_withdraw(int argc, char **argv) {
    tk_args a;
    jet_diag diag;
    jet_node *node;
    const char *ref, *slash;
    uint64_t version = 0;
    int rc = parse(&argc, &argv, &a);
    if (rc >= 0)
        return rc;
    if (optind != argc - 1 || a.json || a.history)
        return cli_usage(toolkit_usage);
    ref = argv[optind];
    node = cli_open_node(a.home);
    if (!node)
        return 1;
    slash = strchr(ref, '/');
    if (slash) {
        /* AUTHOR_NODE_ID/slug: only this node's own entries can be withdrawn here. */
        size_t n = (size_t)(slash - ref);
        if (n != strlen(jet_node_id(node)) || strncmp(ref, jet_node_id(node), n) != 0) {
            rc = cli_fail("withdraw %s: only the author can withdraw an entry, and %.*s is "
                          "not this node (%s)",
                          ref, (int)n, ref, jet_node_id(node));
            jet_node_free(node);
            return rc;
        }
        ref = slash + 1;
    }
    jet_diag_clear(&diag);
    rc = jet_toolkit_withdraw(jet_node_store(node), jet_node_secret_key(node), ref,
                              (int64_t)time(NULL), &version, &diag);
    if (rc)
        rc = cli_fail("withdraw %s: %s", ref, jet_diag_message(&diag, rc));
    else
        printf("withdrew %s (version %llu)\n", ref, (unsigned long long)version);
    jet_node_free(node);
    return rc;
}

/* ---- human-readable output -------------------------------------------------------------- */

static void print_line(const jet_toolkit_entry *e, const double *score) {
    printf("%-32s v%-3llu %-12s %-2s ", jet_toolkit_entry_id(e),
           (unsigned long long)jet_toolkit_entry_version(e), jet_toolkit_entry_category(e),
           jet_toolkit_entry_country(e)[0] ? jet_toolkit_entry_country(e) : "--");
    if (score)
        printf("%6.2f ", *score);
    printf("%s\n", jet_toolkit_entry_title(e));
}

static void print_text(const char *label, const char *text) {
    const char *p = text;
    int indent = (int)strspn(label, " ") + 4;
    printf("%s:\n", label);
    while (*p) {
        size_t n = strcspn(p, "\n");
        printf("%*s%.*s\n", indent, "", (int)n, p);
        p += n;
        if (*p == '\n')
            p++;
    }
}

/* Prints a JSON value on one line: strings bare, arrays joined with ", ", objects as k: v. */
static void print_inline(const json_t *v) {
    if (json_is_string(v)) {
        fputs(json_string_value(v), stdout);
    } else if (json_is_integer(v)) {
        printf("%lld", (long long)json_integer_value(v));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                fputs(", ", stdout);
            print_inline(json_array_get(v, i));
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        int first = 1;
        json_object_foreach((json_t *)v, k, m) {
            if (json_is_null(m) || (json_is_array(m) && json_array_size(m) == 0))
                continue;
            printf("%s%s: ", first ? "" : "; ", k);
            print_inline(m);
            first = 0;
        }
    }
}

static void print_entry(const jet_toolkit_entry *e) {
    json_t *o = jet_toolkit_json_from_entry(e), *v;
    const char *k;
    if (!o)
        return;
    json_object_foreach(o, k, v) {
        if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
            (json_is_object(v) && json_object_size(v) == 0))
            continue;
        if (strcmp(k, "body") == 0 || strcmp(k, "summary") == 0) {
            print_text(k, json_string_value(v));
        } else if (strcmp(k, "contacts") == 0 || strcmp(k, "links") == 0) {
            printf("%s:\n", k);
            for (size_t i = 0; i < json_array_size(v); i++) {
                fputs("  - ", stdout);
                print_inline(json_array_get(v, i));
                fputc('\n', stdout);
            }
        } else if (strcmp(k, "translations") == 0) {
            const char *lang;
            json_t *t;
            printf("translations:\n");
            json_object_foreach(v, lang, t) {
                json_t *f;
                const char *fk;
                printf("  [%s]\n", lang);
                json_object_foreach(t, fk, f) {
                    char label[32];
                    snprintf(label, sizeof label, "    %s", fk);
                    if (strcmp(fk, "title") == 0)
                        printf("    title: %s\n", json_string_value(f));
                    else
                        print_text(label, json_string_value(f));
                }
            }
        } else if (strcmp(k, "outcomes") == 0 && json_is_object(v)) {
            json_t *text = json_object_get(v, "text"), *figs = json_object_get(v, "key_figures");
            if (json_is_string(text))
                print_text("outcomes", json_string_value(text));
            else
                printf("outcomes:\n");
            for (size_t i = 0; i < json_array_size(figs); i++) {
                json_t *f = json_array_get(figs, i);
                printf("  - %s: %s\n", json_string_value(json_object_get(f, "label")),
                       json_string_value(json_object_get(f, "value")));
            }
        } else if (strcmp(k, "outcomes") == 0) {
            print_text("outcomes", json_string_value(v));
        } else if (strcmp(k, "target_age") == 0) {
            printf("target_age: %lld-%lld\n",
                   (long long)json_integer_value(json_object_get(v, "from")),
                   (long long)json_integer_value(json_object_get(v, "to")));
        } else {
            printf("%s: ", k);
            print_inline(v);
            fputc('\n', stdout);
        }
    }
    json_decref(o);
}

/* ---- list, show, search ------------------------------------------------------------------ */

typedef struct out_ctx {
    int json;
    json_t *array;
    size_t count;
} out_ctx;

static int collect(const jet_toolkit_entry *e, void *arg) {
    out_ctx *o = arg;
    o->count++;
    if (o->json) {
        json_t *j = jet_toolkit_json_from_entry(e);
        if (!j || json_array_append_new(o->array, j) != 0)
            return JET_ENOMEM;
    } else {
        print_line(e, NULL);
    }
    return 0;
}

static int collect_hit(const jet_toolkit_entry *e, double score, void *arg) {
    out_ctx *o = arg;
    o->count++;
    if (o->json) {
        json_t *j = jet_toolkit_json_from_entry(e);
        if (!j)
            return JET_ENOMEM;
        json_object_set_new(j, "score", json_real((double)(long long)(score * 1000) / 1000.0));
        if (json_array_append_new(o->array, j) != 0)
            return JET_ENOMEM;
    } else {
        print_line(e, &score);
    }
    return 0;
}

static int check_filter(const jet_toolkit_filter *f) {
    static const char *const categories[] = {"prevention", "intervention", "compensation", NULL};
    static const char *const levels[] = {"universal", "targeted", "individual", NULL};
    if (f->category && !one_of(f->category, categories))
        return cli_fail("--category: unknown category '%s' (prevention, intervention or "
                        "compensation)",
                        f->category);
    if (f->intervention_level && !one_of(f->intervention_level, levels))
        return cli_fail("--intervention-level: unknown level '%s' (universal, targeted or "
                        "individual)",
                        f->intervention_level);
    if (f->lang && !jet_toolkit_lang_tag_valid(f->lang))
        return cli_fail("--lang: '%s' is not a BCP 47 language tag (such as sv, it, fi)", f->lang);
    if (f->country && (strlen(f->country) != 2))
        return cli_fail("--country: '%s' is not an ISO 3166-1 alpha-2 code (such as SE, IT)",
                        f->country);
    if (f->school_level && strncasecmp(f->school_level, "ISCED", 5) != 0)
        return cli_fail("--school-level: '%s' is not an ISCED level (ISCED0..ISCED8, ISCED3G, "
                        "ISCED3V, ...)",
                        f->school_level);
    return 0;
}

static int do_list(int argc, char **argv) {
    tk_args a;
    out_ctx o = {0, NULL, 0};
    jet_node *node;
    int rc = parse(&argc, &argv, &a);
    if (rc >= 0)
        return rc;
    if (optind != argc || a.history)
        return cli_usage(toolkit_usage);
    if (check_filter(&a.filter))
        return 1;
    node = cli_open_node(a.home);
    if (!node)
        return 1;
    o.json = a.json;
    o.array = a.json ? json_array() : NULL;
    rc = jet_toolkit_list(jet_node_store(node), &a.filter, collect, &o);
    jet_node_free(node);
    if (rc) {
        json_decref(o.array);
        return cli_fail_code("toolkit list", rc, NULL);
    }
    if (a.json)
        return cli_print_json(o.array);
    return 0;
}

static int print_history_json(jet_store *store, const uint8_t author[32], const char *id) {
    out_ctx o = {1, json_array(), 0};
    int rc = jet_toolkit_history(store, author, id, collect, &o);
    if (rc) {
        json_decref(o.array);
        return cli_fail_code("toolkit show --history", rc, NULL);
    }
    return cli_print_json(o.array);
}

static int history_line(const jet_toolkit_entry *e, void *arg) {
    char when[40];
    (void)arg;
    format_time(jet_toolkit_entry_published(e), when, sizeof when);
    if (jet_toolkit_entry_withdrawn(e))
        printf("version %-4llu %s  withdrawn\n", (unsigned long long)jet_toolkit_entry_version(e),
               when);
    else
        printf("version %-4llu %s  %s\n", (unsigned long long)jet_toolkit_entry_version(e), when,
               jet_toolkit_entry_title(e));
    return 0;
}

static int do_show(int argc, char **argv) {
    tk_args a;
    jet_diag diag;
    jet_node *node;
    jet_toolkit_entry *e = NULL, *w = NULL;
    uint8_t author[32];
    char id[JET_TOOLKIT_MAX_ID + 1];
    int rc = parse(&argc, &argv, &a);
    if (rc >= 0)
        return rc;
    if (optind != argc - 1)
        return cli_usage(toolkit_usage);
    node = cli_open_node(a.home);
    if (!node)
        return 1;
    jet_diag_clear(&diag);
    rc = jet_toolkit_resolve(jet_node_store(node), argv[optind], author, id, &diag);
    if (rc) {
        rc = cli_fail("show %s: %s", argv[optind], jet_diag_message(&diag, rc));
        goto out;
    }
    if (a.history) {
        if (a.json)
            rc = print_history_json(jet_node_store(node), author, id);
        else
            rc = jet_toolkit_history(jet_node_store(node), author, id, history_line, NULL)
                     ? cli_fail("show %s: cannot read the history", argv[optind])
                     : 0;
        goto out;
    }
    rc = jet_toolkit_get(jet_node_store(node), author, id, &e, &w);
    if (rc) {
        rc = cli_fail_code(argv[optind], rc, NULL);
        goto out;
    }
    if (w) {
        char when[40];
        format_time(jet_toolkit_entry_published(w), when, sizeof when);
        rc = cli_fail("show %s: withdrawn by its author on %s (version %llu); --history shows "
                      "its versions",
                      argv[optind], when, (unsigned long long)jet_toolkit_entry_version(w));
        goto out;
    }
    if (a.json)
        rc = cli_print_json(jet_toolkit_json_from_entry(e));
    else
        print_entry(e);
out:
    jet_toolkit_entry_free(e);
    jet_toolkit_entry_free(w);
    jet_node_free(node);
    return rc;
}

static int do_search(int argc, char **argv) {
    tk_args a;
    out_ctx o = {0, NULL, 0};
    jet_node *node;
    char text[4096];
    size_t len = 0;
    int rc = parse(&argc, &argv, &a);
    if (rc >= 0)
        return rc;
    if (optind >= argc || a.history)
        return cli_usage(toolkit_usage);
    text[0] = 0;
    for (int i = optind; i < argc; i++) {
        int n = snprintf(text + len, sizeof text - len, "%s%s", len ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof text - len)
            return cli_fail("search: the search text is too long");
        len += (size_t)n;
    }
    node = cli_open_node(a.home);
    if (!node)
        return 1;
    o.json = a.json;
    o.array = a.json ? json_array() : NULL;
    rc = jet_toolkit_search(jet_node_store(node), text, collect_hit, &o);
    jet_node_free(node);
    if (rc == JET_EINVAL) {
        json_decref(o.array);
        return cli_fail("search: '%s' has no word to search for", text);
    }
    if (rc) {
        json_decref(o.array);
        return cli_fail_code("toolkit search", rc, NULL);
    }
    if (a.json)
        return cli_print_json(o.array);
    return 0;
}

int cmd_toolkit_main(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {{"publish", do_publish},
                {"withdraw", do_withdraw},
                {"list", do_list},
                {"show", do_show},
                {"search", do_search}};
    if (argc < 2)
        return cli_usage(toolkit_usage);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(toolkit_usage, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(argc - 1, argv + 1);
    cli_fail("toolkit: unknown subcommand '%s'", argv[1]);
    return cli_usage(toolkit_usage);
}
