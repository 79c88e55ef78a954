-- Policy documents as uploaded, the measures parsed from them (the draft the office
-- reviews), and the tasks publishing creates: one per measure.

CREATE TABLE tasks.policy_documents (
    id            bigserial PRIMARY KEY,
    region_code   text NOT NULL REFERENCES common.regions (code),
    title         text,
    issuer        text,
    doc_date      text,
    filename      text NOT NULL,
    content_type  text NOT NULL,
    content       bytea NOT NULL,
    content_sha256 text NOT NULL,
    parsed        jsonb NOT NULL,              -- the parser's output as it came
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'superseded')),
    amends_id     bigint REFERENCES tasks.policy_documents (id),  -- the published version this one amends
    uploaded_by   bigint REFERENCES common.users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX policy_documents_region_idx ON tasks.policy_documents (region_code, status);

CREATE TABLE tasks.draft_measures (
    id                bigserial PRIMARY KEY,
    document_id       bigint NOT NULL REFERENCES tasks.policy_documents (id) ON DELETE CASCADE,
    position          integer NOT NULL,
    ref               text NOT NULL,
    title             text NOT NULL,
    text              text NOT NULL,
    lead_units        text[] NOT NULL,      -- 牵头单位, as written (or as corrected by the office)
    responsible_units text[] NOT NULL,      -- 责任单位
    lead_inferred     boolean NOT NULL DEFAULT false,
    and_others        boolean NOT NULL DEFAULT false,
    raw_annotation    text NOT NULL DEFAULT '',
    targets           jsonb NOT NULL DEFAULT '[]',
    deadlines         jsonb NOT NULL DEFAULT '[]',
    edited            boolean NOT NULL DEFAULT false,
    UNIQUE (document_id, position) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE tasks.tasks (
    id                   bigserial PRIMARY KEY,
    document_id          bigint NOT NULL REFERENCES tasks.policy_documents (id),
    measure_id           bigint NOT NULL REFERENCES tasks.draft_measures (id),
    region_code          text NOT NULL REFERENCES common.regions (code),
    ref                  text NOT NULL,
    title                text NOT NULL,
    text                 text NOT NULL,
    lead_units           text[] NOT NULL,
    responsible_units    text[] NOT NULL,
    lead_unit_ids        bigint[] NOT NULL,
    responsible_unit_ids bigint[] NOT NULL,
    targets              jsonb NOT NULL,
    deadlines            jsonb NOT NULL,
    due_at               date,                 -- the task's own completion deadline, when the text gives one
    status               text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    published_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (measure_id)
);
CREATE INDEX tasks_document_idx ON tasks.tasks (document_id);
CREATE INDEX tasks_lead_units_idx ON tasks.tasks USING gin (lead_unit_ids);
CREATE INDEX tasks_responsible_units_idx ON tasks.tasks USING gin (responsible_unit_ids);

-- The reporting calendar each task was published with (签收, 月报, 季度分析, 半年小结,
-- 年终总结 and their due rules), copied from the region's configuration.
ALTER TABLE tasks.tasks ADD COLUMN reporting_calendar jsonb NOT NULL DEFAULT '{}';
