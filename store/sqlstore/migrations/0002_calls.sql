-- Calls tied to conversations, and the queue of customers asking for one.

CREATE TABLE calls (
	id              TEXT PRIMARY KEY,
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	status          TEXT NOT NULL,
	started_by      TEXT NOT NULL DEFAULT '',
	started_by_name TEXT NOT NULL DEFAULT '',
	started_at      BIGINT NOT NULL,
	ended_at        BIGINT
);
CREATE INDEX calls_by_conversation ON calls (conversation_id, started_at);
-- At most one call going on per conversation.
CREATE UNIQUE INDEX calls_one_active ON calls (conversation_id) WHERE status = 'active';

CREATE TABLE video_requests (
	conversation_id TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
	requested_at    BIGINT NOT NULL,
	-- The wait counted for a callback offer: from the request, or from
	-- the moment the customer chose to keep waiting.
	waiting_since   BIGINT NOT NULL,
	offered_at      BIGINT
);
CREATE INDEX video_requests_by_age ON video_requests (requested_at);
