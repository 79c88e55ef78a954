-- Alerts as Alertmanager handles them: one alert per subject (household or village),
-- rule and period, updated rather than repeated; one group per household and period
-- listing every rule it tripped; silences set by the office; routing to unit inboxes.

CREATE TABLE alerts.alert_groups (
    id            bigserial PRIMARY KEY,
    subject_key   text NOT NULL,              -- 户编号, or the village code for village alerts
    household_id  bigint REFERENCES alerts.households (id),
    village_code  text NOT NULL,
    township_code text NOT NULL,
    county_code   text NOT NULL,
    period        text NOT NULL,
    severity      text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    routed_unit_ids bigint[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subject_key, period)
);
CREATE INDEX alert_groups_region_idx ON alerts.alert_groups (village_code text_pattern_ops, status);
CREATE INDEX alert_groups_units_idx ON alerts.alert_groups USING gin (routed_unit_ids);

CREATE TABLE alerts.alerts (
    id              bigserial PRIMARY KEY,
    group_id        bigint NOT NULL REFERENCES alerts.alert_groups (id),
    subject_key     text NOT NULL,
    rule_id         text NOT NULL,
    rule_name       text NOT NULL,
    cause           text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    period          text NOT NULL,
    status          text NOT NULL CHECK (status IN ('firing', 'inhibited', 'silenced', 'resolved')),
    detail          jsonb NOT NULL DEFAULT '{}',
    source          text NOT NULL DEFAULT '',
    rule_set        text NOT NULL DEFAULT '',   -- which rule file and year decided it
    routed_unit_ids bigint[] NOT NULL DEFAULT '{}',
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    times_seen      integer NOT NULL DEFAULT 1,
    last_event_id   uuid,
    UNIQUE (subject_key, rule_id, period)
);
CREATE INDEX alerts_group_idx ON alerts.alerts (group_id);
CREATE INDEX alerts_rule_idx ON alerts.alerts (rule_id, status);

CREATE TABLE alerts.silences (
    id            bigserial PRIMARY KEY,
    region_code   text NOT NULL,              -- silences apply inside this region
    rule_id       text,                       -- null: every rule
    subject_key   text,                       -- null: every household
    reason        text NOT NULL CHECK (length(reason) > 0),
    starts_at     timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    created_by    bigint REFERENCES common.users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (rule_id IS NOT NULL OR subject_key IS NOT NULL),
    CHECK (expires_at > starts_at)
);
CREATE INDEX silences_active_idx ON alerts.silences (expires_at);
