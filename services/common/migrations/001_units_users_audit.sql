-- Shared plumbing: regions, units, unit groups, users and the audit log.
-- No business rules live here; the services refer to these rows by id or code.

CREATE TABLE common.regions (
    code        text PRIMARY KEY,             -- 12-digit administrative code (统计用区划代码)
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('nation', 'province', 'city', 'county', 'township', 'village')),
    parent_code text REFERENCES common.regions (code),
    rural_population integer CHECK (rural_population >= 0)   -- 乡村人口, for the village-level rule
);
CREATE INDEX regions_parent_idx ON common.regions (parent_code);

CREATE TABLE common.units (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,                -- full name as in official documents
    aliases     text[] NOT NULL DEFAULT '{}', -- short names and former names (县人社局, 县扶贫办)
    kind        text NOT NULL CHECK (kind IN ('office', 'department', 'township', 'village',
                                              'party_committee', 'government', 'enterprise', 'other')),
    region_code text NOT NULL REFERENCES common.regions (code),
    confirmed   boolean NOT NULL DEFAULT true, -- false: proposed by the parser, awaiting the office
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (region_code, name)
);
CREATE INDEX units_aliases_idx ON common.units USING gin (aliases);

-- A group name stands for many units: 各乡镇党委、政府 = every township's committee and government.
CREATE TABLE common.unit_groups (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    aliases     text[] NOT NULL DEFAULT '{}',
    region_code text NOT NULL REFERENCES common.regions (code),
    UNIQUE (region_code, name)
);
CREATE TABLE common.unit_group_members (
    group_id bigint NOT NULL REFERENCES common.unit_groups (id) ON DELETE CASCADE,
    unit_id  bigint NOT NULL REFERENCES common.units (id),
    PRIMARY KEY (group_id, unit_id)
);

CREATE TABLE common.users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    full_name     text NOT NULL,
    unit_id       bigint NOT NULL REFERENCES common.units (id),
    roles         text[] NOT NULL CHECK (roles <@ ARRAY['office_admin', 'unit_staff', 'unit_head',
                                                        'leader', 'data_entry', 'ops']::text[]
                                         AND cardinality(roles) > 0),
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Every change, written in the same transaction as the change itself.
CREATE TABLE common.audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    service     text NOT NULL,
    user_id     bigint,
    username    text,
    unit_id     bigint,
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_id   text,
    before      jsonb,
    after       jsonb,
    request_id  text
);
CREATE INDEX audit_log_entity_idx ON common.audit_log (entity, entity_id);
CREATE INDEX audit_log_at_idx ON common.audit_log (at);

-- The audit log is append-only: the database refuses updates and deletes.
CREATE FUNCTION common.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON common.audit_log
    FOR EACH ROW EXECUTE FUNCTION common.audit_log_append_only();
