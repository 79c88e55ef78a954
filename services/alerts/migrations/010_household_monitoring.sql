-- What the national monitoring system (全国防止返贫监测信息系统) says about a household,
-- as imported from its 监测对象信息 export: the monitoring category and dates, the
-- risks, whether the risk was eliminated and how, and the assistance given (one list
-- of items per 帮扶 category, as the export writes them). One row per household,
-- replaced by each import that changes it.
CREATE TABLE alerts.household_monitoring (
    household_id        bigint PRIMARY KEY REFERENCES alerts.households (id) ON DELETE CASCADE,
    monitoring_category text,                        -- 监测对象类别 (empty: not monitored)
    identified_month    text CHECK (identified_month ~ '^\d{4}-(0[1-9]|1[0-2])$'),   -- 识别监测时间
    risks               text[] NOT NULL DEFAULT '{}',  -- 致贫/返贫风险1…5
    no_labour_support   boolean NOT NULL DEFAULT false,  -- 整户无劳动能力兜底保障户
    risk_eliminated     boolean,                     -- 风险是否已消除
    elimination_method  text,                        -- 风险消除方式
    eliminated_month    text CHECK (eliminated_month ~ '^\d{4}-(0[1-9]|1[0-2])$'),   -- 消除监测时间
    measures            jsonb NOT NULL DEFAULT '{}',   -- {"产业帮扶": ["其他", "技能培训"], …}
    updated_at          timestamptz NOT NULL DEFAULT now()
);
