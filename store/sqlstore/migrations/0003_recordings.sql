-- Recordings of calls, attached to their conversation.

CREATE TABLE recordings (
	id              TEXT PRIMARY KEY,
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	call_id         TEXT NOT NULL,
	status          TEXT NOT NULL,
	interrupted     BOOLEAN NOT NULL DEFAULT FALSE,
	started_at      BIGINT NOT NULL,
	ended_at        BIGINT,
	duration_ms     BIGINT NOT NULL DEFAULT 0,
	participants    TEXT NOT NULL DEFAULT '[]',
	size            BIGINT NOT NULL DEFAULT 0,
	sha256          TEXT NOT NULL DEFAULT '',
	blob_key        TEXT NOT NULL DEFAULT '',
	progress        DOUBLE PRECISION NOT NULL DEFAULT 0,
	error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX recordings_by_conversation ON recordings (conversation_id, started_at);
CREATE INDEX recordings_by_status ON recordings (status);
