-- When a bulletin's named units were last told about it (通报印发后通知被点名单位).
-- A regenerated bulletin (created_at moves) is announced again.
ALTER TABLE assessment.bulletins ADD COLUMN notified_at timestamptz;
