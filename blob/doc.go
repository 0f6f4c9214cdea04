// Package blob stores call recordings: large objects written once by the
// recorder and read back, often a byte range at a time, when staff play a
// recording in the browser.
//
// The package holds the small Store interface every backend implements
// (blob/disk, blob/s3), the key rules all of them share, and the parts
// that sit above any backend: Encrypted, which seals objects at rest with a
// data key per conversation, and Retention, which deletes old recordings
// and destroys the keys of conversations left without any.
//
// blob imports nothing else of this module: the recorder and the API use
// it, and only cmd picks a concrete backend.
package blob
