-- Events of the assessment service wait here, written in the same transaction as the
-- state change, until the relay has published them to the broker.
CREATE TABLE assessment.outbox (
    id           bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    topic        text NOT NULL,
    key          text NOT NULL,
    envelope     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    kafka_partition integer,
    kafka_offset bigint
);
CREATE INDEX assessment_outbox_unpublished_idx ON assessment.outbox (id) WHERE published_at IS NULL;
CREATE INDEX assessment_outbox_published_idx ON assessment.outbox (topic, published_at) WHERE published_at IS NOT NULL;

-- Events this service's consumers have applied, for idempotency on event_id.
CREATE TABLE assessment.processed_events (
    event_id     uuid NOT NULL,
    consumer     text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
