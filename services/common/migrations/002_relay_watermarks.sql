-- The highest offset the relay has published per partition. When the broker's end
-- offset falls below it, the broker has lost data (tansu restarted) and the relay
-- publishes the recent outbox rows again.
CREATE TABLE common.relay_watermarks (
    topic           text NOT NULL,
    kafka_partition integer NOT NULL,
    max_offset      bigint NOT NULL,
    PRIMARY KEY (topic, kafka_partition)
);
