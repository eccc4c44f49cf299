/*
 * rollmap library: the session library (SQLite index of session files with
 * their analysis summaries), comparison of client sessions, and exports
 * (EDF+, CSV folders). docs/LIBRARY.md.
 *
 * The only public header of library/. It sits above analysis and below
 * daemon and cli: core <- hw, analysis <- library <- daemon, cli.
 */
#ifndef ROLLMAP_LIBRARY_H
#define ROLLMAP_LIBRARY_H

#include "rollmap_core.h"
#include "rollmap_analysis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */
/* ------------------------------------------------------------------------ */

/** The default database: $XDG_DATA_HOME/rollmap/library.db (rm_data_path). */
rm_status rm_library_default_db(char *out, size_t cap, rm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ROLLMAP_LIBRARY_H */
