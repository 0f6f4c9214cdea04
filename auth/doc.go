// Package auth decides who is calling and what they may enter.
//
// Three kinds of callers: staff members (a password login sets a session
// cookie, and requests that change something carry a CSRF token), programs
// (API keys, "vsk_…"), and customers (a token for their one conversation,
// "vsc_…"). Secrets are random, shown once and stored only as hashes;
// passwords are hashed with argon2id.
//
// Calls: today a room's unguessable id is the credential for joining it
// (OpenRooms); signed join links build on the same signaling.Authorizer
// seam.
package auth
