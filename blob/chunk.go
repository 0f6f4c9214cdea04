package blob

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The sealed object format, version 1:
//
//	header  "VSBE" | version 1 | key id (16) | salt (32)
//	chunks  AES-256-GCM(plaintext chunk) | tag (16), one after another
//
// Every chunk but the last holds ChunkSize bytes of plaintext; the last
// holds 0 to ChunkSize, so even an empty object has one chunk and a
// truncated object misses its final one. Each object has its own key,
// HKDF-SHA256(conversation key, salt, object key), so the nonce can be
// the chunk's place: its index (8 bytes, big-endian) and a final flag
// (1 byte), padded to 12. A chunk moved, repeated or cut, a final chunk
// dropped, an object copied to another key, or a header changed (it is
// the additional data of every chunk) fails authentication.
//
// Chunks are independent, so ReadAt decrypts only those it covers.
const (
	// ChunkSize is the plaintext size of every chunk but the last.
	ChunkSize = 64 << 10

	tagSize     = 16
	saltSize    = 32
	headerSize  = 4 + 1 + keyIDSize + saltSize
	formatMagic = "VSBE"
	formatV1    = 1
)

// ErrCorrupt: the stored bytes are not an intact sealed object: damaged,
// truncated, reordered or tampered with. No plaintext comes out of it.
var ErrCorrupt = errors.New("blob: recording damaged or tampered with")

// sealer seals and opens the chunks of one object.
type sealer struct {
	aead   cipher.AEAD
	header []byte
	chunk  int
}

// newSealer derives the object key from the conversation key and the
// header's salt, bound to the object's key (its name).
func newSealer(dk dataKey, header []byte, objectKey string, chunk int) (*sealer, error) {
	salt := header[4+1+keyIDSize : headerSize]
	k, err := hkdf.Key(sha256.New, dk.key[:], salt, "videosupport blob object v1\x00"+objectKey, 32)
	if err != nil {
		return nil, fmt.Errorf("blob: derive object key: %w", err)
	}
	b, err := aes.NewCipher(k)
	clear(k)
	if err != nil {
		return nil, fmt.Errorf("blob: object cipher: %w", err)
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("blob: object cipher: %w", err)
	}
	return &sealer{aead: aead, header: header, chunk: chunk}, nil
}

func chunkNonce(index int64, final bool) []byte {
	nonce := make([]byte, 12)
	binary.BigEndian.PutUint64(nonce, uint64(index))
	if final {
		nonce[8] = 1
	}
	return nonce
}

func (s *sealer) seal(dst, plain []byte, index int64, final bool) []byte {
	return s.aead.Seal(dst, chunkNonce(index, final), plain, s.header)
}

func (s *sealer) open(dst, sealed []byte, index int64, final bool) ([]byte, error) {
	return s.aead.Open(dst, chunkNonce(index, final), sealed, s.header)
}

// newHeader makes the header of a new object sealed with dk.
func newHeader(dk dataKey, salt []byte) []byte {
	h := make([]byte, 0, headerSize)
	h = append(h, formatMagic...)
	h = append(h, formatV1)
	h = append(h, dk.id[:]...)
	return append(h, salt...)
}

// parseHeader checks magic and version and returns the key id.
func parseHeader(h []byte) (id [keyIDSize]byte, err error) {
	if len(h) < headerSize || !bytes.Equal(h[:4], []byte(formatMagic)) || h[4] != formatV1 {
		return id, fmt.Errorf("not a sealed recording (bad header): %w", ErrCorrupt)
	}
	copy(id[:], h[5:])
	return id, nil
}

// layout is where the chunks of a sealed object of a given stored size
// lie. The stored size alone gives it: every chunk but the last is full.
type layout struct {
	chunk  int   // plaintext bytes of a full chunk
	chunks int64 // number of chunks, at least 1
	size   int64 // plaintext size
}

func newLayout(stored int64, chunk int) (layout, error) {
	body := stored - headerSize
	if body < tagSize {
		return layout{}, fmt.Errorf("stored size %d too short: %w", stored, ErrCorrupt)
	}
	full := int64(chunk) + tagSize
	n := (body + full - 1) / full
	last := body - (n-1)*full
	// The writer holds a full chunk back until it knows whether it is the
	// last, so only an empty object ends in an empty chunk.
	if last < tagSize || (n > 1 && last == tagSize) {
		return layout{}, fmt.Errorf("stored size %d is not a whole number of chunks: %w", stored, ErrCorrupt)
	}
	return layout{chunk: chunk, chunks: n, size: (n-1)*int64(chunk) + last - tagSize}, nil
}

// sealedSize is the plaintext size of an object stored in stored bytes,
// or 0 when no sealed object has that size (List and Stat show such an
// object; Open reports it damaged).
func sealedSize(stored int64, chunk int) int64 {
	l, err := newLayout(stored, chunk)
	if err != nil {
		return 0
	}
	return l.size
}

// span is where chunk i lies in the stored object and its plaintext size.
func (l layout) span(i int64) (off int64, sealedLen int, plainLen int) {
	off = headerSize + i*(int64(l.chunk)+tagSize)
	plainLen = l.chunk
	if i == l.chunks-1 {
		plainLen = int(l.size - i*int64(l.chunk))
	}
	return off, plainLen + tagSize, plainLen
}

// chunkWriter seals a stream into chunks. A full chunk is held back until
// more data arrives, because only Commit knows which chunk is the last.
type chunkWriter struct {
	dst   io.Writer
	s     *sealer
	buf   []byte
	out   []byte
	index int64
}

func newChunkWriter(dst io.Writer, s *sealer) *chunkWriter {
	return &chunkWriter{dst: dst, s: s, buf: make([]byte, 0, s.chunk), out: make([]byte, 0, s.chunk+tagSize)}
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if len(w.buf) == w.s.chunk {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		m := copy(w.buf[len(w.buf):w.s.chunk], p)
		w.buf = w.buf[:len(w.buf)+m]
		p = p[m:]
		n += m
	}
	return n, nil
}

func (w *chunkWriter) flush(final bool) error {
	w.out = w.s.seal(w.out[:0], w.buf, w.index, final)
	if _, err := w.dst.Write(w.out); err != nil {
		return err
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}

// finish seals the final chunk.
func (w *chunkWriter) finish() error { return w.flush(true) }
