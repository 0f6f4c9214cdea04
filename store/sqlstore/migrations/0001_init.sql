-- One schema for SQLite and PostgreSQL: times are Unix microseconds,
-- hashes are hex text, ids are text made by the server.

CREATE TABLE conversations (
	id                  TEXT PRIMARY KEY,
	customer_name       TEXT NOT NULL,
	customer_contact    TEXT NOT NULL DEFAULT '',
	channel             TEXT NOT NULL,
	status              TEXT NOT NULL,
	handler             TEXT NOT NULL,
	assigned_to         TEXT NOT NULL DEFAULT '',
	assigned_name       TEXT NOT NULL DEFAULT '',
	customer_token_hash TEXT NOT NULL DEFAULT '',
	created_at          BIGINT NOT NULL,
	updated_at          BIGINT NOT NULL,
	last_seq            BIGINT NOT NULL DEFAULT 0,
	last_message        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX conversations_by_activity ON conversations (updated_at);

CREATE TABLE events (
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq             BIGINT NOT NULL,
	id              TEXT NOT NULL UNIQUE,
	type            TEXT NOT NULL,
	actor_id        TEXT NOT NULL DEFAULT '',
	actor_name      TEXT NOT NULL DEFAULT '',
	actor_role      TEXT NOT NULL DEFAULT '',
	body            TEXT NOT NULL DEFAULT '',
	client_id       TEXT,
	data            TEXT,
	created_at      BIGINT NOT NULL,
	PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX events_by_client_id ON events (conversation_id, client_id) WHERE client_id IS NOT NULL;

CREATE TABLE reads (
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	staff_id        TEXT NOT NULL,
	seq             BIGINT NOT NULL,
	PRIMARY KEY (conversation_id, staff_id)
);

CREATE TABLE staff (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	role          TEXT NOT NULL,
	availability  TEXT NOT NULL,
	disabled      BOOLEAN NOT NULL DEFAULT FALSE,
	password_hash TEXT NOT NULL,
	created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	staff_id   TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
	csrf_token TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	hash       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	revoked_at BIGINT
);

CREATE TABLE webhooks (
	id         TEXT PRIMARY KEY,
	url        TEXT NOT NULL,
	events     TEXT NOT NULL,
	secret     TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE deliveries (
	id           TEXT PRIMARY KEY,
	webhook_id   TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event        TEXT NOT NULL,
	payload      TEXT NOT NULL,
	status       TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_status  INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	next_attempt BIGINT NOT NULL,
	created_at   BIGINT NOT NULL,
	delivered_at BIGINT
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt);
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, created_at);
