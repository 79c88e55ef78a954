-- The read model of the task workflows: every unit's steps with their state, as the
-- workflow activities mirror them. The inbox, progress and escalation lists read
-- these tables, never Temporal.

CREATE TABLE tasks.steps (
    id              bigserial PRIMARY KEY,
    step_key        text NOT NULL UNIQUE,      -- "<task>:<unit>:<kind>:<period>", the workflow's own key
    task_id         bigint NOT NULL REFERENCES tasks.tasks (id),
    unit_id         bigint NOT NULL REFERENCES common.units (id),
    kind            text NOT NULL CHECK (kind IN ('acknowledge', 'monthly_report', 'quarterly_analysis',
                                                   'half_year_summary', 'annual_summary', 'completion_report')),
    period          text NOT NULL,              -- 2023-05, 2023-Q2, 2023-H1, 2023, or '' for one-off steps
    label           text NOT NULL,              -- 签收, 月报 (2023年5月), …
    opened_at       timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,       -- 23:59:59 of the due day, Asia/Shanghai
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'submitted', 'approved', 'returned')),
    overdue         boolean NOT NULL DEFAULT false,
    escalation_level integer NOT NULL DEFAULT 0,  -- 0 none, 1 unit head, 2 分管领导, 3 office
    reminders_sent  integer NOT NULL DEFAULT 0,
    extension_requested boolean NOT NULL DEFAULT false,
    submission      jsonb,                      -- the last submission: text, progress, achieved values, attachments
    submitted_at    timestamptz,
    approved_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX steps_unit_due_idx ON tasks.steps (unit_id, due_at);
CREATE INDEX steps_task_idx ON tasks.steps (task_id);
CREATE INDEX steps_open_due_idx ON tasks.steps (due_at) WHERE status IN ('open', 'returned');

-- What happened to a step, oldest first: opened, reminded, overdue, escalated,
-- acknowledged, submitted, approved, returned, extension requested / granted / refused.
CREATE TABLE tasks.step_history (
    id            bigserial PRIMARY KEY,
    step_id       bigint NOT NULL REFERENCES tasks.steps (id),
    at            timestamptz NOT NULL DEFAULT now(),
    action        text NOT NULL,
    actor_user_id bigint REFERENCES common.users (id),
    detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX step_history_step_idx ON tasks.step_history (step_id, id);

-- A step that reached someone above the unit (the escalation ladder), and the
-- leader's instruction on it (批示), which is sent to the unit's inbox.
CREATE TABLE tasks.escalations (
    id              bigserial PRIMARY KEY,
    step_id         bigint NOT NULL REFERENCES tasks.steps (id),
    level           integer NOT NULL,
    to_role         text NOT NULL CHECK (to_role IN ('unit_head', 'leader', 'office')),
    region_code     text NOT NULL,
    at              timestamptz NOT NULL,
    instruction     text,
    instructed_by   bigint REFERENCES common.users (id),
    instructed_at   timestamptz,
    UNIQUE (step_id, level)
);
CREATE INDEX escalations_region_idx ON tasks.escalations (region_code, at);

-- In-app notifications per unit (every user of the unit sees them) or per user.
CREATE TABLE tasks.notifications (
    id          bigserial PRIMARY KEY,
    unit_id     bigint REFERENCES common.units (id),
    user_id     bigint REFERENCES common.users (id),
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL DEFAULT '',
    step_id     bigint REFERENCES tasks.steps (id),
    read_at     timestamptz,
    CHECK (unit_id IS NOT NULL OR user_id IS NOT NULL)
);
CREATE INDEX notifications_unit_idx ON tasks.notifications (unit_id, at DESC);
CREATE INDEX notifications_user_idx ON tasks.notifications (user_id, at DESC);

-- Idempotency keys of department and office actions: repeating one changes nothing.
CREATE TABLE tasks.action_keys (
    idempotency_key text PRIMARY KEY,
    step_id         bigint REFERENCES tasks.steps (id),
    action          text NOT NULL,
    result          jsonb NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL DEFAULT now()
);
