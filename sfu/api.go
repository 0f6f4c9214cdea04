package sfu

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"
)

// NetworkConfig says where the SFU's media sockets live and how peers
// reach them.
type NetworkConfig struct {
	// UDPPort, when not zero, carries all media of all peers on this one
	// UDP port (an ICE UDP mux), the easy choice behind a firewall.
	UDPPort int
	// UDPPortMin and UDPPortMax bound the ephemeral ports used when
	// UDPPort is zero. Zero means any port.
	UDPPortMin, UDPPortMax uint16
	// NAT1To1IPs are public addresses announced instead of the host's own
	// when the server sits behind a 1:1 NAT (a cloud VM's public IP).
	NAT1To1IPs []string
	// Loopback offers 127.0.0.1 candidates: needed when browser and server
	// share a machine (development, tests).
	Loopback bool
	// MaxStreams is the server's capacity in forwarded streams (one
	// published track sent to one subscriber is one stream), the unit its
	// CPU cost grows with. Past it Full reports true and new joins are
	// refused; calls already running go on. Zero means no limit.
	MaxStreams int
}

// Transport is the configured Pion API plus the sockets it owns.
type Transport struct {
	API        *webrtc.API
	mux        ice.UDPMux
	batch      *sendBatcher                                      // with mux: batches forwarders' writes
	codecs     map[webrtc.RTPCodecType]webrtc.RTPCodecCapability // the one codec of each kind
	open       atomic.Int64                                      // peer connections not yet closed
	streams    atomic.Int64                                      // downTracks attached to a forwarder
	maxStreams int64
}

// PeerConnections returns how many peer connections are open.
func (t *Transport) PeerConnections() int { return int(t.open.Load()) }

// Streams returns how many streams are being forwarded: the sum over
// published tracks of their subscribers.
func (t *Transport) Streams() int { return int(t.streams.Load()) }

// Full reports whether the configured capacity is reached, so that the
// caller refuses new participants before running calls suffer.
func (t *Transport) Full() bool {
	return t.maxStreams > 0 && t.streams.Load() >= t.maxStreams
}

// Close releases a shared UDP port, if one was opened.
func (t *Transport) Close() error {
	t.batch.stop()
	if t.mux != nil {
		return t.mux.Close()
	}
	return nil
}

// NewTransport builds the Pion API every peer connection of this server
// uses: VP8 and Opus, NACK in both directions, RTCP sender and receiver
// reports, and transport-wide congestion control feedback to publishers.
//
// Subscribers' NACKs are answered by the forwarder from one cache per
// published track (see retransmit.go), not by Pion's NACK responder,
// which keeps a copy of every packet for every subscriber. With a shared
// UDP port, writes to subscribers are batched (see batch.go).
func NewTransport(nc NetworkConfig) (*Transport, error) {
	m := &webrtc.MediaEngine{}
	codecs, err := registerCodecs(m)
	if err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	nackGen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, fmt.Errorf("configure nack: %w", err)
	}
	reg.Add(nackGen)
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("configure rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return nil, fmt.Errorf("configure twcc: %w", err)
	}

	s := webrtc.SettingEngine{}
	// AES-GCM encrypts and authenticates in one pass with the CPU's AES
	// and carry-less multiply instructions: the cheapest profile per
	// packet. 128-bit keys take fewer rounds than 256.
	s.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	// mDNS host names cannot be resolved by a server, and hiding our own
	// address is pointless: it is public.
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIncludeLoopbackCandidate(nc.Loopback)
	s.SetInterfaceFilter(func(name string) bool {
		// Docker and VPN bridges only add useless candidates.
		return !strings.HasPrefix(name, "docker") && !strings.HasPrefix(name, "br-")
	})
	if len(nc.NAT1To1IPs) > 0 {
		for _, ip := range nc.NAT1To1IPs {
			if net.ParseIP(ip) == nil {
				return nil, fmt.Errorf("NAT 1:1 address %q is not an IP address", ip)
			}
		}
		if err := s.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        nc.NAT1To1IPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
		}); err != nil {
			return nil, fmt.Errorf("NAT 1:1 addresses: %w", err)
		}
	}
	if nc.MaxStreams < 0 {
		return nil, fmt.Errorf("capacity of %d streams is negative", nc.MaxStreams)
	}
	t := &Transport{maxStreams: int64(nc.MaxStreams), codecs: codecs}
	switch {
	case nc.UDPPort != 0:
		t.batch = newSendBatcher()
		bn, err := newBatchNet(t.batch)
		if err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
		opts := []ice.UDPMuxFromPortOption{ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4), ice.UDPMuxFromPortWithNet(bn)}
		if nc.Loopback {
			opts = append(opts, ice.UDPMuxFromPortWithLoopback())
		}
		mux, err := ice.NewMultiUDPMuxFromPort(nc.UDPPort, opts...)
		if err != nil {
			return nil, fmt.Errorf("open UDP port %d: %w", nc.UDPPort, err)
		}
		s.SetICEUDPMux(mux)
		t.mux = mux
	case nc.UDPPortMin != 0 || nc.UDPPortMax != 0:
		if err := s.SetEphemeralUDPPortRange(nc.UDPPortMin, nc.UDPPortMax); err != nil {
			return nil, fmt.Errorf("UDP port range %d-%d: %w", nc.UDPPortMin, nc.UDPPortMax, err)
		}
	}
	t.API = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(s))
	return t, nil
}

// registerCodecs limits the SFU to codecs every browser decodes, so a
// forwarded track never needs transcoding: one of each kind, which it
// returns, so that a track's codec is known from the offer that
// announces it.
func registerCodecs(m *webrtc.MediaEngine) (map[webrtc.RTPCodecType]webrtc.RTPCodecCapability, error) {
	videoFB := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	codecs := []struct {
		p    webrtc.RTPCodecParameters
		kind webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
			PayloadType:        111,
		}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB},
			PayloadType:        96,
		}, webrtc.RTPCodecTypeVideo},
	}
	byKind := map[webrtc.RTPCodecType]webrtc.RTPCodecCapability{}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.p, c.kind); err != nil {
			return nil, fmt.Errorf("register codec %s: %w", c.p.MimeType, err)
		}
		byKind[c.kind] = c.p.RTPCodecCapability
	}
	return byKind, nil
}
