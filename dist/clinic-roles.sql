-- Roles for a clinic's rollmap library on PostgreSQL (docs/CLINIC.md).
-- Run as the library's owner after `rollmap library migrate`:
--
--   psql 'postgresql://rollmap_owner@db.clinic.lan/rollmap' -f clinic-roles.sql
--
-- and then give each login one of the two roles:
--
--   CREATE ROLE room1 LOGIN PASSWORD '...' IN ROLE rollmap_recorder;
--   CREATE ROLE dr_lee LOGIN PASSWORD '...' IN ROLE rollmap_therapist;
--
-- rollmap_recorder (each room's rollmapd): adds the sessions it records
-- and their analysis rows, and may see of the sessions only what adding
-- needs (ids, session ids, file paths, sizes, times and checksums): not
-- client codes, display names, notes, tags or figures.
-- rollmap_therapist (rollmap, rollmap serve): reads everything and edits
-- metadata (client codes, names, tags, notes), removes sessions.
-- Run again after a migration that adds tables or columns.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rollmap_recorder') THEN
        CREATE ROLE rollmap_recorder NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rollmap_therapist') THEN
        CREATE ROLE rollmap_therapist NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO rollmap_recorder, rollmap_therapist;
GRANT SELECT ON rollmap_schema TO rollmap_recorder, rollmap_therapist;

-- Recorder: a session row is inserted or updated in place by its
-- session id; reading is limited to the columns that decide whether the
-- file is already indexed.
GRANT INSERT, UPDATE ON sessions TO rollmap_recorder;
GRANT SELECT (id, session_id, path, file_size, file_mtime_ns, file_crc32c)
    ON sessions TO rollmap_recorder;
GRANT SELECT (session), INSERT, DELETE ON dwells, spots, marks, profile
    TO rollmap_recorder;
GRANT SELECT (session, key), INSERT, UPDATE (value) ON tags TO rollmap_recorder;

-- Recorder: uploads session files' bytes; it reads only which chunks are
-- there (index, length, checksum), never their bytes.
GRANT INSERT, UPDATE (content_length, content_crc32c, chunk_bytes, complete,
                      uploaded_us)
    ON session_data TO rollmap_recorder;
GRANT SELECT (session_id, content_length, content_crc32c, chunk_bytes,
              complete)
    ON session_data TO rollmap_recorder;
GRANT INSERT, UPDATE (crc32c, nbytes, bytes), DELETE ON session_chunks
    TO rollmap_recorder;
GRANT SELECT (session_id, idx, crc32c, nbytes) ON session_chunks
    TO rollmap_recorder;

-- Therapist: everything about the sessions and clients, and the sessions'
-- bytes (reports on any machine; 'rollmap library sync' from a laptop).
GRANT SELECT, INSERT, UPDATE, DELETE
    ON sessions, dwells, spots, marks, profile, tags, clients,
       session_data, session_chunks
    TO rollmap_therapist;
