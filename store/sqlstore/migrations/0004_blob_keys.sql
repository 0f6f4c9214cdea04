-- Each conversation's recording key, wrapped by the master key (the
-- blob.KeyStore of a cluster: every node reads the same keys). wrapped is
-- hex. No foreign key to conversations: the key belongs to the recording
-- store, and DeleteConversation deletes it in the same transaction.

CREATE TABLE blob_keys (
	conversation_id TEXT PRIMARY KEY,
	wrapped         TEXT NOT NULL,
	created_at      BIGINT NOT NULL
);
