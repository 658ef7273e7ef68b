-- Webhook events matched to campaign messages, for the events listed in `todo_events`.
-- A status names our message id (biz_opaque_callback_data) or carries its wamid; an inbound
-- message is the reply the receiver recorded on a message (reply_wamid) or answers one by
-- context (the customer used "reply"). Unmatched events keep NULL ids.
SELECT
    e.event_id,
    e.item,
    e.received_at,
    e.field,
    e.kind,
    e.status,
    e.message_type,
    e.occurred_at,
    (epoch_us(e.received_at) - epoch_us(e.occurred_at)) / 1e6 AS delay_seconds,
    coalesce(by_id.message_id, by_wamid.message_id, by_reply.message_id, by_context.message_id)
        AS message_id,
    coalesce(by_id.campaign_id, by_wamid.campaign_id, by_reply.campaign_id, by_context.campaign_id)
        AS campaign_id,
    CASE
        WHEN by_id.message_id IS NOT NULL THEN 'callback'
        WHEN by_wamid.message_id IS NOT NULL THEN 'wamid'
        WHEN by_reply.message_id IS NOT NULL THEN 'reply'
        WHEN by_context.message_id IS NOT NULL THEN 'context'
    END AS matched_by,
    e.error_code
FROM stage_events AS e
SEMI JOIN todo_events AS t ON t.event_id = e.event_id
LEFT JOIN stage_messages AS by_id ON e.kind = 'status' AND by_id.message_id = e.message_id
LEFT JOIN stage_messages AS by_wamid ON e.kind = 'status' AND by_wamid.wamid = e.wamid
LEFT JOIN stage_messages AS by_reply ON e.kind = 'message' AND by_reply.reply_wamid = e.wamid
LEFT JOIN stage_messages AS by_context ON e.kind = 'message' AND by_context.wamid = e.context_wamid
QUALIFY row_number() OVER (
    PARTITION BY e.event_id, e.item ORDER BY by_reply.replied_at NULLS LAST
) = 1
