-- Rectification ledgers (整改台账): 问题清单、责任清单、时限清单和任务清单, 按期销号.
--
-- A ledger item is a task: publishing a ledger gives every item a tasks.tasks row
-- with the rectification reporting calendar, so the task workflow, the inbox, the
-- step actions and sign-off (销号) apply unchanged. A task needs a document and a
-- measure (NOT NULL foreign keys that the inbox and step detail join on), so a
-- published ledger is also a policy document of kind 'ledger' with one measure
-- per item; both are written when the ledger is published, never before, so the
-- policy review routes find nothing to edit or publish in them.
ALTER TABLE tasks.policy_documents
    ADD COLUMN kind text NOT NULL DEFAULT 'policy' CHECK (kind IN ('policy', 'ledger'));

CREATE TABLE tasks.ledgers (
    id              bigserial PRIMARY KEY,
    region_code     text NOT NULL REFERENCES common.regions (code),
    title           text NOT NULL,
    source          text NOT NULL DEFAULT '',        -- where the problems come from: 巡视反馈, 成效考核反馈, …
    year            integer NOT NULL,                -- completes dates written without a year (6月底)
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'closed')),
    document_id     bigint UNIQUE REFERENCES tasks.policy_documents (id),  -- set when published
    filename        text,                            -- the imported workbook, when imported
    content_type    text,
    content         bytea,
    content_sha256  text,
    created_by      bigint NOT NULL REFERENCES common.users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    closed_at       timestamptz
);
CREATE INDEX ledgers_region_idx ON tasks.ledgers (region_code text_pattern_ops, id);

CREATE TABLE tasks.ledger_items (
    id                  bigserial PRIMARY KEY,
    ledger_id           bigint NOT NULL REFERENCES tasks.ledgers (id) ON DELETE CASCADE,
    position            integer NOT NULL,            -- 1, 2, … in ledger order
    ref                 text NOT NULL,               -- 序号 as written
    problem             text NOT NULL,               -- 问题清单
    measure             text NOT NULL,               -- 整改措施
    responsible_unit_id bigint NOT NULL REFERENCES common.units (id),  -- 责任清单
    responsible_unit_written text NOT NULL,          -- the unit's name as the ledger writes it
    responsible_person  text NOT NULL DEFAULT '',    -- 责任人
    deadline            date NOT NULL,               -- 时限清单
    task_list           text NOT NULL DEFAULT '',    -- 任务清单
    progress            text NOT NULL DEFAULT '',    -- 整改进展 as created or imported
    source_row          integer,                     -- the Excel row it was imported from
    measure_id          bigint UNIQUE REFERENCES tasks.draft_measures (id),
    task_id             bigint UNIQUE REFERENCES tasks.tasks (id),       -- once published
    UNIQUE (ledger_id, position)
);
CREATE INDEX ledger_items_unit_idx ON tasks.ledger_items (responsible_unit_id);
