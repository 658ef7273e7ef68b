-- Siaran's analytics warehouse (DuckDB). The published tables are documented in
-- docs/warehouse.md; their names and columns are a contract with analysts.
-- Timestamps are TIMESTAMPTZ in UTC; `hour` and `day` are on the campaign's wall clock.

-- Staging: copies of operational rows and the refresh's bookkeeping. They live only in the
-- writer's working file (data/warehouse/work/build.duckdb) and are never published.
CREATE TABLE IF NOT EXISTS stage_messages (
    message_id UUID NOT NULL,
    campaign_id UUID NOT NULL,
    contact_id UUID,
    status VARCHAR NOT NULL,
    attempts BIGINT,
    error_code BIGINT,
    error_category VARCHAR,
    wamid VARCHAR,
    reply_wamid VARCHAR,
    sent_at TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    read_at TIMESTAMPTZ,
    failed_at TIMESTAMPTZ,
    replied_at TIMESTAMPTZ,
    opted_out_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS stage_preferences (
    contact_id UUID NOT NULL,
    opted_out BOOLEAN,
    opted_out_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS stage_events (
    event_id UUID NOT NULL,
    item INTEGER NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    field VARCHAR,
    kind VARCHAR NOT NULL,
    status VARCHAR,
    message_type VARCHAR,
    occurred_at TIMESTAMPTZ,
    wamid VARCHAR,
    message_id UUID,
    context_wamid VARCHAR,
    error_code BIGINT
);

-- Campaigns whose rows in a table must be rebuilt (step = the table's name).
CREATE TABLE IF NOT EXISTS pending (
    step VARCHAR NOT NULL,
    campaign_id UUID NOT NULL
);

CREATE TABLE IF NOT EXISTS pending_events (
    event_id UUID NOT NULL
);

CREATE TABLE IF NOT EXISTS warehouse_state (
    name VARCHAR PRIMARY KEY,
    value VARCHAR
);

-- Published tables.
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id UUID NOT NULL,
    name VARCHAR,
    status VARCHAR,
    message_type VARCHAR,
    timezone VARCHAR NOT NULL,
    created_at TIMESTAMPTZ,
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS message_facts (
    message_id UUID NOT NULL,
    campaign_id UUID NOT NULL,
    contact_id UUID,
    timezone VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    attempts BIGINT,
    error_code BIGINT,
    error_category VARCHAR,
    sent_at TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    read_at TIMESTAMPTZ,
    replied_at TIMESTAMPTZ,
    failed_at TIMESTAMPTZ,
    opted_out_at TIMESTAMPTZ,
    reply_seconds DOUBLE,
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS event_facts (
    event_id UUID NOT NULL,
    item INTEGER NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    field VARCHAR,
    kind VARCHAR NOT NULL,
    status VARCHAR,
    message_type VARCHAR,
    occurred_at TIMESTAMPTZ,
    delay_seconds DOUBLE,
    message_id UUID,
    campaign_id UUID,
    matched_by VARCHAR,
    error_code BIGINT
);

CREATE TABLE IF NOT EXISTS campaign_metrics (
    campaign_id UUID NOT NULL,
    total_recipients BIGINT NOT NULL,
    sent BIGINT NOT NULL,
    delivered BIGINT NOT NULL,
    read BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    replied BIGINT NOT NULL,
    opted_out BIGINT NOT NULL,
    delivery_rate DOUBLE,
    open_rate DOUBLE,
    reply_rate DOUBLE,
    response_rate DOUBLE,
    failure_rate DOUBLE,
    opt_out_rate DOUBLE,
    avg_reply_seconds DOUBLE,
    median_reply_seconds DOUBLE,
    status_pending BIGINT NOT NULL,
    status_sending BIGINT NOT NULL,
    status_sent BIGINT NOT NULL,
    status_delivered BIGINT NOT NULL,
    status_read BIGINT NOT NULL,
    status_failed BIGINT NOT NULL,
    status_expired BIGINT NOT NULL,
    status_cancelled BIGINT NOT NULL,
    first_sent_at TIMESTAMPTZ,
    last_activity_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS engagement_hourly (
    campaign_id UUID NOT NULL,
    hour TIMESTAMP NOT NULL,
    sent BIGINT NOT NULL,
    delivered BIGINT NOT NULL,
    read BIGINT NOT NULL,
    replied BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    opted_out BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS engagement_daily (
    campaign_id UUID NOT NULL,
    day DATE NOT NULL,
    sent BIGINT NOT NULL,
    delivered BIGINT NOT NULL,
    read BIGINT NOT NULL,
    replied BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    opted_out BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS reply_latency (
    campaign_id UUID NOT NULL,
    bucket INTEGER NOT NULL,
    label VARCHAR NOT NULL,
    min_seconds BIGINT NOT NULL,
    max_seconds BIGINT,
    replies BIGINT NOT NULL,
    share DOUBLE
);

CREATE TABLE IF NOT EXISTS warehouse_info (
    refreshed_at TIMESTAMPTZ NOT NULL,
    loaded_at TIMESTAMPTZ,
    messages_through TIMESTAMPTZ,
    events_through TIMESTAMPTZ,
    attribution_hours DOUBLE NOT NULL,
    schema_version INTEGER NOT NULL,
    campaigns BIGINT NOT NULL,
    messages BIGINT NOT NULL,
    events BIGINT NOT NULL
);
