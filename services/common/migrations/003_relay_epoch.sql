-- tansu reports a partition's end offset as the start of its last batch + 1, so
-- comparing offsets cannot tell a restarted broker from a busy one. Instead the
-- relay keeps an epoch marker in the broker (topic xianjie.relay.epoch) and here;
-- when the broker no longer has the marker, it has lost its data.
DROP TABLE common.relay_watermarks;
CREATE TABLE common.relay_epoch (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),  -- one row
    epoch      text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
