/* error.c - messages and names for the codes in error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <uv.h>

const char *jet_strerror(int code) {
    switch (code) {
    case 0: return "success";
#define JET__ERR_MSG(name, off, msg)                                                               \
    case name: return msg;
        JET_ERRORS(JET__ERR_MSG)
#undef JET__ERR_MSG
    default: return uv_strerror(code);
    }
}

const char *jet_errname(int code) {
    switch (code) {
    case 0: return "OK";
#define JET__ERR_NAME(name, off, msg)                                                              \
    case name: return #name;
        JET_ERRORS(JET__ERR_NAME)
#undef JET__ERR_NAME
    default: return uv_err_name(code);
    }
}

void jet_one_line(char *text) {
    for (char *c = text; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

int jet_diag_fail(jet_diag *d, int code, const char *fmt, ...) {
    if (d != NULL) {
        va_list ap;
        va_start(ap, fmt);
        d->code = code;
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
        /* A diagnostic is one line, whatever the input it quotes (a JSON parser's message
         * may carry a newline from the file). */
        jet_one_line(d->msg);
    }
    return code;
}

void jet_diag_clear(jet_diag *d) {
    if (d != NULL) {
        d->code = 0;
        d->msg[0] = '\0';
    }
}

const char *jet_diag_message(const jet_diag *d, int code) {
    if (d != NULL && d->msg[0] != '\0')
        return d->msg;
    return jet_strerror(code);
}
