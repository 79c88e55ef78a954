-- The household register: households down to the village, their members (ID numbers
-- stored, never shown unmasked), and one record per household and period with the
-- figures the early-warning rules read. Every record keeps who entered it and when.

CREATE TABLE alerts.households (
    id                 bigserial PRIMARY KEY,
    household_no       text NOT NULL UNIQUE,          -- 户编号
    county_code        text NOT NULL,
    township_code      text NOT NULL,
    village_code       text NOT NULL REFERENCES common.regions (code),
    head_name          text NOT NULL,                 -- 户主姓名
    head_id_number     text,                          -- 户主证件号码 (masked in every response)
    phone              text,                          -- masked in every response
    category           text NOT NULL CHECK (category IN ('脱贫户', '脱贫不稳定户', '边缘易致贫户', '突发严重困难户', '一般农户')),
    members            integer NOT NULL CHECK (members BETWEEN 1 AND 30),
    labourers          integer NOT NULL DEFAULT 0 CHECK (labourers >= 0),
    no_labour_capacity boolean NOT NULL DEFAULT false,  -- 整户无劳动能力
    under_assistance   boolean NOT NULL DEFAULT false,  -- 有在实施的帮扶计划
    entered_by         bigint REFERENCES common.users (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (labourers <= members)
);
CREATE INDEX households_village_idx ON alerts.households (village_code text_pattern_ops);
CREATE INDEX households_category_idx ON alerts.households (village_code, category);

CREATE TABLE alerts.household_members (
    id           bigserial PRIMARY KEY,
    household_id bigint NOT NULL REFERENCES alerts.households (id) ON DELETE CASCADE,
    name         text NOT NULL,
    id_number    text,                 -- 证件号码: 18-digit resident ID or a 20/22-character disability certificate
    id_type      text NOT NULL DEFAULT '居民身份证',
    relation     text NOT NULL,        -- 与户主关系
    labour_skill text,                 -- 劳动技能
    health       text,                 -- 健康状况
    UNIQUE (household_id, id_number)
);

CREATE TABLE alerts.household_records (
    id                      bigserial PRIMARY KEY,
    household_id            bigint NOT NULL REFERENCES alerts.households (id),
    period                  text NOT NULL CHECK (period ~ '^\d{4}(-(0[1-9]|1[0-2]))?$'),
    per_capita_income       numeric(12, 2) CHECK (per_capita_income >= 0),
    wage_income             numeric(12, 2) CHECK (wage_income >= 0),
    business_income         numeric(12, 2),                         -- may be negative (a loss)
    property_income         numeric(12, 2) CHECK (property_income >= 0),
    transfer_income         numeric(12, 2) CHECK (transfer_income >= 0),
    medical_expense         numeric(12, 2) CHECK (medical_expense >= 0),
    education_expense       numeric(12, 2) CHECK (education_expense >= 0),
    disaster_loss           numeric(12, 2) CHECK (disaster_loss >= 0),
    accident_loss           numeric(12, 2) CHECK (accident_loss >= 0),
    labourers               integer CHECK (labourers >= 0),
    employed                integer CHECK (employed >= 0),
    compulsory_education_ok boolean,
    basic_medical_ok        boolean,
    housing_ok              boolean,
    drinking_water_ok       boolean,
    entered_by              bigint REFERENCES common.users (id),
    entered_at              timestamptz NOT NULL DEFAULT now(),
    source                  text NOT NULL DEFAULT 'api',   -- api | import:<job id>
    UNIQUE (household_id, period)
);
