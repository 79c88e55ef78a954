-- The fact ledger: what happened to each unit in each month, each fact keeping the
-- events it comes from, so every point of a score can be traced back.
CREATE TABLE assessment.facts (
    id          bigserial PRIMARY KEY,
    unit_id     bigint NOT NULL,
    region_code text NOT NULL,            -- the region of the task or alert (its county or city)
    period      text NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
    kind        text NOT NULL,
    value       numeric NOT NULL DEFAULT 1,
    event_ids   uuid[] NOT NULL,
    task_id     bigint,
    step_id     bigint,
    ref         text NOT NULL DEFAULT '',
    source      text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX facts_period_idx ON assessment.facts (period, region_code text_pattern_ops);
CREATE INDEX facts_unit_idx ON assessment.facts (unit_id, period);

-- Bulletins (月通报, 季分析, 半年小结, 年终总结): stored as generated, with their files.
CREATE TABLE assessment.bulletins (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('monthly', 'quarterly', 'half_year', 'annual')),
    region_code  text NOT NULL,
    period       text NOT NULL,
    title        text NOT NULL,
    data         jsonb NOT NULL,
    html         text NOT NULL,
    xlsx         bytea NOT NULL,
    generated_by text NOT NULL DEFAULT 'schedule',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, region_code, period)
);
