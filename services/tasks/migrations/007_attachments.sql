-- Files a unit attaches to a report or as evidence for 销号, kept in PostgreSQL so a
-- backup of the database is a backup of everything.
CREATE TABLE tasks.attachments (
    id           bigserial PRIMARY KEY,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size         integer NOT NULL CHECK (size > 0),
    sha256       text NOT NULL,
    content      bytea NOT NULL,
    unit_id      bigint NOT NULL REFERENCES common.units (id),
    uploaded_by  bigint NOT NULL REFERENCES common.users (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_unit_idx ON tasks.attachments (unit_id);
