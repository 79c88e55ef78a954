-- Alert cases (监测帮扶案件): the read model the case workflows (AlertCaseWorkflow, id
-- `case-<id>`) mirror into PostgreSQL for lists, counts and the case page. One case per
-- household at a time: the first alert group of a household without an open case
-- opens it (its id is that group's id); later groups of the household join it; a group
-- arriving after the case closed reopens it as a new run.

CREATE TABLE alerts.cases (
    id               bigint PRIMARY KEY,          -- the alert group that opened it
    household_id     bigint NOT NULL REFERENCES alerts.households (id),
    village_code     text NOT NULL,
    township_code    text NOT NULL,
    county_code      text NOT NULL,
    township_unit_id bigint REFERENCES common.units (id),   -- who verifies and visits (核查、回访)
    run              integer NOT NULL DEFAULT 1,  -- 2, 3, … after each reopening
    fast_path        boolean NOT NULL DEFAULT false,         -- 绿色通道
    stage            text NOT NULL DEFAULT 'verify'
                     CHECK (stage IN ('verify', 'notice', 'confirm', 'plan', 'follow_up', 'elimination_proposed', 'closed')),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'rejected', 'eliminated')),
    alerted_at       timestamptz NOT NULL,        -- the alert that opened (or reopened) this run
    due_at           timestamptz,                 -- the current stage's deadline
    amber_days       integer NOT NULL DEFAULT 2,  -- from the case configuration, for the SLA colour
    overdue          boolean NOT NULL DEFAULT false,
    escalation_level integer NOT NULL DEFAULT 0,
    monitoring_kind  text,                        -- 认定 as 脱贫不稳定户 / 边缘易致贫户 / 突发严重困难户
    basic_support    boolean NOT NULL DEFAULT false,        -- 整户无劳动能力, kept with 兜底
    stable_months    integer NOT NULL DEFAULT 0,
    notice_ends_at   timestamptz,
    verified_at      timestamptz,
    confirmed_at     timestamptz,
    plan_made_at     timestamptz,
    closed_at        timestamptz,
    workflow_started_at timestamptz,              -- of this run; the starter picks up runs without one
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX cases_open_household_idx ON alerts.cases (household_id) WHERE status = 'open';
CREATE INDEX cases_household_idx ON alerts.cases (household_id, id);
CREATE INDEX cases_region_idx ON alerts.cases (village_code text_pattern_ops, status, stage);
CREATE INDEX cases_not_started_idx ON alerts.cases (id) WHERE workflow_started_at IS NULL;

-- Which case each alert group belongs to; groups without one are picked up by the starter.
ALTER TABLE alerts.alert_groups ADD COLUMN case_id bigint REFERENCES alerts.cases (id);
CREATE INDEX alert_groups_without_case_idx ON alerts.alert_groups (id)
    WHERE case_id IS NULL AND household_id IS NOT NULL AND status = 'open' AND severity <> 'info';

-- The case's timeline: opened, verified (with the visit record), notice_published,
-- notice_ended, confirmed, rejected, plan_made, visited, elimination_proposed,
-- risk_eliminated, reminded, overdue, escalated, alert_added, reopened, …
CREATE TABLE alerts.case_events (
    id            bigserial PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES alerts.cases (id),
    run           integer NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    kind          text NOT NULL,
    stage         text NOT NULL,
    actor_user_id bigint REFERENCES common.users (id),
    detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case_idx ON alerts.case_events (case_id, id);

-- A missed deadline that climbed the ladder: township head, county leader, office.
CREATE TABLE alerts.case_escalations (
    id          bigserial PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES alerts.cases (id),
    run         integer NOT NULL,
    stage       text NOT NULL,
    level       integer NOT NULL,
    to_role     text NOT NULL CHECK (to_role IN ('unit_head', 'leader', 'office')),
    county_code text NOT NULL,
    at          timestamptz NOT NULL,
    UNIQUE (case_id, run, stage, level)
);
CREATE INDEX case_escalations_county_idx ON alerts.case_escalations (county_code, at);

-- The 一户一策 measures; each is a task (tasks.tasks, kind 'case_plan' document) whose
-- single step sits in the department's inbox.
CREATE TABLE alerts.case_measures (
    id        bigserial PRIMARY KEY,
    case_id   bigint NOT NULL REFERENCES alerts.cases (id),
    run       integer NOT NULL,
    position  integer NOT NULL,
    kind      text NOT NULL,
    label     text NOT NULL,
    unit_id   bigint NOT NULL REFERENCES common.units (id),
    due_date  date NOT NULL,
    content   text NOT NULL,
    task_id   bigint,                 -- tasks.tasks (id) of the measure
    UNIQUE (case_id, run, position)
);

-- Idempotency keys of case actions: repeating one changes nothing.
CREATE TABLE alerts.case_action_keys (
    idempotency_key text PRIMARY KEY,
    case_id         bigint NOT NULL REFERENCES alerts.cases (id),
    action          text NOT NULL,
    result          jsonb NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL DEFAULT now()
);
