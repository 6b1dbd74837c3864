/* log.h - one line per event on stderr, as key=value pairs, so journald keeps them whole.
 *
 *   jet_log(JET_LOG_INFO, "event=accept peer=%s addr=%s", name, addr);
 *
 * prints "ts=2026-11-24T05:40:01Z level=info event=accept ...". The level threshold comes from
 * $JETSYNC_LOG (debug, info, warn, error; default info). */
#ifndef JET_LOG_H
#define JET_LOG_H

typedef enum { JET_LOG_DEBUG, JET_LOG_INFO, JET_LOG_WARN, JET_LOG_ERROR } jet_log_level;

void jet_log(jet_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the threshold below which lines are dropped. */
void jet_log_set_level(jet_log_level level);

#endif
