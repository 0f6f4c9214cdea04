// Package testmedia holds a few seconds of real VP8 video and Opus audio
// (made once with ffmpeg, see testdata/README) and the code that plays
// them into Pion tracks at real time and checks what comes out the other
// side. Tests and the load tool use it.
package testmedia

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

var (
	//go:embed testdata/video.ivf
	videoIVF []byte
	//go:embed testdata/audio.ogg
	audioOgg []byte
)

// Frame durations of the embedded files.
const (
	VideoFrameDuration = time.Second / 15
	AudioFrameDuration = 20 * time.Millisecond
)

// VP8Frames returns the embedded video's frames. Only the first is a
// keyframe.
func VP8Frames() ([][]byte, error) {
	r, _, err := ivfreader.NewWith(bytes.NewReader(videoIVF))
	if err != nil {
		return nil, fmt.Errorf("read ivf: %w", err)
	}
	var frames [][]byte
	for {
		f, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read ivf frame: %w", err)
		}
		frames = append(frames, f)
	}
}

// Media returns the embedded video's frames and audio's packets.
func Media() (frames, pkts [][]byte, err error) {
	if frames, err = VP8Frames(); err != nil {
		return nil, nil, err
	}
	pkts, err = OpusPackets()
	return frames, pkts, err
}

// OpusPackets returns the embedded audio's packets, 20 ms each.
func OpusPackets() ([][]byte, error) {
	r, _, err := oggreader.NewWith(bytes.NewReader(audioOgg))
	if err != nil {
		return nil, fmt.Errorf("read ogg: %w", err)
	}
	var pkts [][]byte
	for {
		p, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return pkts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read ogg page: %w", err)
		}
		if bytes.HasPrefix(p, []byte("OpusTags")) {
			continue
		}
		pkts = append(pkts, p)
	}
}

// IsVP8Keyframe reports whether a VP8 frame is a keyframe (RFC 6386 9.1).
func IsVP8Keyframe(frame []byte) bool { return len(frame) > 0 && frame[0]&0x01 == 0 }

// PlayVideo writes frames to t at their real rate, looping, until ctx
// ends. A receive on keyframe restarts from the first frame, the file's
// only keyframe, as an encoder would answer a PLI.
func PlayVideo(ctx context.Context, t *webrtc.TrackLocalStaticSample, frames [][]byte, keyframe <-chan struct{}) error {
	tick := time.NewTicker(VideoFrameDuration)
	defer tick.Stop()
	i := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-keyframe:
			i = 0
		case <-tick.C:
			if err := t.WriteSample(media.Sample{Data: frames[i], Duration: VideoFrameDuration}); err != nil {
				return fmt.Errorf("write video: %w", err)
			}
			i = (i + 1) % len(frames)
		}
	}
}

// PlayAudio writes packets to t at their real rate, looping, until ctx
// ends.
func PlayAudio(ctx context.Context, t *webrtc.TrackLocalStaticSample, pkts [][]byte) error {
	tick := time.NewTicker(AudioFrameDuration)
	defer tick.Stop()
	for i := 0; ; i = (i + 1) % len(pkts) {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := t.WriteSample(media.Sample{Data: pkts[i], Duration: AudioFrameDuration}); err != nil {
				return fmt.Errorf("write audio: %w", err)
			}
		}
	}
}

// KeyframeRequests reads RTCP from a sender until it stops and signals on
// the returned channel for every PLI or FIR.
func KeyframeRequests(s *webrtc.RTPSender) <-chan struct{} {
	ch := make(chan struct{}, 1)
	go func() {
		for {
			pkts, _, err := s.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return ch
}

// ReadVP8 reassembles frames from a received VP8 track and passes each to
// onFrame until the track ends.
func ReadVP8(t *webrtc.TrackRemote, onFrame func([]byte)) {
	sb := samplebuilder.New(64, &codecs.VP8Packet{}, t.Codec().ClockRate)
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		sb.Push(p)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			onFrame(s.Data)
		}
	}
}

// ReadOpus passes every received Opus packet to onPacket until the track
// ends.
func ReadOpus(t *webrtc.TrackRemote, onPacket func([]byte)) {
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		onPacket(p.Payload)
	}
}

// Publisher adds local tracks to a connection and returns their senders,
// as signaling/client.Client.Publish does.
type Publisher func(ctx context.Context, tracks ...webrtc.TrackLocal) ([]*webrtc.RTPSender, error)

// Publish publishes the test video and audio (stream id stream) through
// publish and plays them, answering keyframe requests, until ctx ends.
func Publish(ctx context.Context, publish Publisher, stream string, frames, pkts [][]byte) error {
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", stream)
	if err != nil {
		return err
	}
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", stream)
	if err != nil {
		return err
	}
	senders, err := publish(ctx, video, audio)
	if err != nil {
		return err
	}
	kf := KeyframeRequests(senders[0])
	go KeyframeRequests(senders[1])
	go func() { _ = PlayVideo(ctx, video, frames, kf) }()
	go func() { _ = PlayAudio(ctx, audio, pkts) }()
	return nil
}
