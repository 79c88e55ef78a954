-- Rule files the office edits through the API. They take precedence over the files of
-- the same region and year in the repository; each save is a new version, kept.
CREATE TABLE alerts.rule_files (
    id          bigserial PRIMARY KEY,
    region_code text NOT NULL,
    year        integer NOT NULL CHECK (year BETWEEN 2015 AND 2100),
    data        jsonb NOT NULL,
    created_by  bigint REFERENCES common.users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rule_files_latest_idx ON alerts.rule_files (region_code, year, id DESC);
