-- Batch imports of households and their period records (Excel/CSV): one job per
-- uploaded file. The importer commits in chunks, each chunk in one transaction
-- together with the job's progress, so processed_rows always says how far the
-- committed part of the file goes; a re-run of the same file is safe because the
-- saves skip unchanged data.

CREATE TABLE alerts.import_jobs (
    id             bigserial PRIMARY KEY,
    filename       text NOT NULL,
    uploaded_by    bigint REFERENCES common.users (id),   -- NULL: the command line without --user
    status         text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total_rows     integer NOT NULL DEFAULT 0,            -- data rows under the header
    processed_rows integer NOT NULL DEFAULT 0,            -- rows of the committed chunks (imported + errors)
    imported_rows  integer NOT NULL DEFAULT 0,
    error_rows     integer NOT NULL DEFAULT 0,
    error_file     bytea,                                 -- the uploaded file with a 错误说明 column
    summary        jsonb,                                 -- counts and the first errors, for the progress page
    message        text,                                  -- why a job failed
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
CREATE INDEX import_jobs_uploader_idx ON alerts.import_jobs (uploaded_by, created_at DESC);
