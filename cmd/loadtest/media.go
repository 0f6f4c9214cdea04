package main

import (
	"encoding/binary"
	"fmt"
	"time"

	"videosupport/internal/testmedia"
)

// Every payload the load tool sends ends in a trailer: which track it
// belongs to, its number on that track and when it was sent. The SFU
// forwards payloads untouched, so the receiver reads the trailer back to
// count losses and time the trip.
const trailerLen = 20

var trailerMagic = [4]byte{'V', 'S', 'L', 'T'}

// putTrailer writes the trailer into the last trailerLen bytes of p.
func putTrailer(p []byte, key, counter uint32, sent int64) {
	t := p[len(p)-trailerLen:]
	copy(t, trailerMagic[:])
	binary.BigEndian.PutUint32(t[4:], key)
	binary.BigEndian.PutUint32(t[8:], counter)
	binary.BigEndian.PutUint64(t[12:], uint64(sent))
}

// readTrailer reads the trailer at the end of p.
func readTrailer(p []byte) (key, counter uint32, sent int64, ok bool) {
	if len(p) < trailerLen {
		return 0, 0, 0, false
	}
	t := p[len(p)-trailerLen:]
	if [4]byte(t[:4]) != trailerMagic {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint32(t[4:]), binary.BigEndian.Uint32(t[8:]), int64(binary.BigEndian.Uint64(t[12:])), true
}

// maxPayload keeps packets under a 1200-byte path MTU with RTP and SRTP
// overhead, as browsers do.
const maxPayload = 1100

// mediaSet is the test media scaled to one bitrate, shared by every
// publisher of a run.
type mediaSet struct {
	fps    int
	frames [][]byte // VP8 frames; frames[0] is the only keyframe
	opus   [][]byte
}

// newMediaSet scales the embedded VP8 file to bitrate bits per second at
// fps frames per second. Each frame keeps its real first bytes (so a
// keyframe is still one) and its size relative to the others, and is
// padded by repeating its bytes: the sizes and rates are those of a real
// encoder, the content is not decodable past the real bytes. Nobody
// decodes it: the SFU never looks past the RTP header.
func newMediaSet(bitrate, fps int) (*mediaSet, error) {
	if fps <= 0 || bitrate <= 0 {
		return nil, fmt.Errorf("bitrate %d and fps %d must be positive", bitrate, fps)
	}
	real, err := testmedia.VP8Frames()
	if err != nil {
		return nil, err
	}
	opus, err := testmedia.OpusPackets()
	if err != nil {
		return nil, err
	}
	total := 0
	for _, f := range real {
		total += len(f)
	}
	mean := float64(total) / float64(len(real))
	want := float64(bitrate) / 8 / float64(fps)
	scale := want / mean
	frames := make([][]byte, len(real))
	for i, f := range real {
		n := max(int(float64(len(f))*scale), 1)
		b := make([]byte, n)
		for off := 0; off < n; off += copy(b[off:], f) {
		}
		frames[i] = b
	}
	return &mediaSet{fps: fps, frames: frames, opus: opus}, nil
}

// packetsPerSecond is the video and audio packet rate of one publisher.
func (m *mediaSet) packetsPerSecond() float64 {
	n := 0
	for _, f := range m.frames[1:] {
		n += (len(f) + maxPayload - 1) / maxPayload
	}
	video := float64(n) / float64(len(m.frames)-1) * float64(m.fps)
	return video + float64(time.Second/testmedia.AudioFrameDuration)
}

// packet is one RTP packet's worth of a track, before the trailer.
type packet struct {
	marker    bool
	timestamp uint32
	payload   []byte // with room for the trailer at the end
}

// videoSource cuts frames into RTP payloads (a one-byte VP8 payload
// descriptor, then the data) and loops over the delta frames; restart
// goes back to the keyframe, as an encoder answers a PLI.
type videoSource struct {
	m    *mediaSet
	next int
	ts   uint32
}

func (v *videoSource) restart() { v.next = 0 }

// frame appends the packets of the next frame to out.
func (v *videoSource) frame(out []packet) []packet {
	f := v.m.frames[v.next]
	v.next++
	if v.next == len(v.m.frames) {
		v.next = 1
	}
	v.ts += uint32(90000 / v.m.fps)
	for off := 0; off < len(f); {
		n := min(len(f)-off, maxPayload)
		p := make([]byte, 1+n+trailerLen)
		if off == 0 {
			p[0] = 0x10 // S: start of a VP8 partition
		}
		copy(p[1:], f[off:off+n])
		off += n
		out = append(out, packet{marker: off == len(f), timestamp: v.ts, payload: p})
	}
	return out
}

// audioSource loops over the Opus packets, one every 20 ms.
type audioSource struct {
	m    *mediaSet
	next int
	ts   uint32
}

func (a *audioSource) packet() packet {
	o := a.m.opus[a.next]
	a.next = (a.next + 1) % len(a.m.opus)
	a.ts += 960
	p := make([]byte, len(o)+trailerLen)
	copy(p, o)
	return packet{timestamp: a.ts, payload: p}
}
