package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"videosupport/blob"
	"videosupport/sfu"
	"videosupport/store"
)

// Calls records calls tied to conversations: one store.Recording per
// start, each participant's tracks written only once they consent, and,
// when it stops, one file for the whole call built from the track files,
// sealed into the blob store and attached to the conversation.
//
// Track files are spooled on local disk while the call runs; a server
// killed meanwhile finds them on its next start (Recover), repairs them,
// and attaches the recording marked interrupted.
type Calls struct {
	cfg CallsConfig

	mu     sync.Mutex
	active map[string]*CallRecording // by recording id
	wg     sync.WaitGroup            // finishing recordings
}

// CallsConfig configures Calls.
type CallsConfig struct {
	// Spool is the local folder for track files while recording.
	Spool string
	Store store.Store
	// Blobs keeps finished recordings (encrypted: a blob.Encrypted).
	Blobs blob.Store
	// Announce, when set, tells the live pages and webhooks of an event
	// already stored; hook, when not nil, is the webhook's data.
	Announce func(ctx context.Context, e store.Event, hook map[string]any)
	Logger   *slog.Logger
	// FFmpeg is the ffmpeg binary that builds the call's file; ""
	// means "ffmpeg" on the PATH.
	FFmpeg string
}

// NewCalls checks cfg.
func NewCalls(cfg CallsConfig) (*Calls, error) {
	if cfg.Spool == "" || cfg.Store == nil || cfg.Blobs == nil {
		return nil, errors.New("recording: spool, store and blob store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if err := os.MkdirAll(cfg.Spool, 0o700); err != nil {
		return nil, fmt.Errorf("recording spool: %w", err)
	}
	return &Calls{cfg: cfg, active: map[string]*CallRecording{}}, nil
}

// CallRecording is one recording of a call going on. It is the
// sfu.Recorder of the call's room.
type CallRecording struct {
	Recording store.Recording
	inner     *Recorder
	dir       string

	mu     sync.Mutex
	agreed map[string]string // participant id -> name, while they consent
	named  map[string]string // everyone who agreed at some time: the people in it
	gates  map[string][]*consentGate
	// open counts sinks the room has not closed yet: the room closes
	// them on its own goroutines after the recorder is taken off, and
	// the files are complete only then.
	open sync.WaitGroup
}

// Start begins a recording of a call: the record gets recording.started;
// the returned recorder writes nothing of anyone until SetConsent.
func (c *Calls) Start(ctx context.Context, callID, conversationID string, by store.Actor) (*CallRecording, error) {
	r, e, err := c.cfg.Store.CreateRecording(ctx, store.Recording{ConversationID: conversationID, CallID: callID,
		Status: store.RecordingActive}, store.Event{Type: store.EventRecordingStarted, Actor: by,
		Data: store.EventData(map[string]string{"callId": callID})})
	if err != nil {
		return nil, err
	}
	e.Data = store.EventData(map[string]string{"callId": callID, "recordingId": r.ID})
	dir := filepath.Join(c.cfg.Spool, r.ID)
	inner, err := New(Config{Dir: dir, Logger: c.cfg.Logger.With("recording", r.ID)})
	if err != nil {
		return nil, err
	}
	cr := &CallRecording{Recording: r, inner: inner, dir: dir, agreed: map[string]string{}, named: map[string]string{}, gates: map[string][]*consentGate{}}
	c.mu.Lock()
	c.active[r.ID] = cr
	c.mu.Unlock()
	c.announce(ctx, e, map[string]any{"recording": r})
	return cr, nil
}

// OpenTrack implements sfu.Recorder: each track gets a gate that keeps
// its packets from the writer until its publisher has consented.
func (r *CallRecording) OpenTrack(t sfu.SinkTrack) (sfu.TrackSink, error) {
	r.open.Add(1)
	g := &consentGate{open: func() (sfu.TrackSink, error) { return r.inner.OpenTrack(t) }, keyframe: t.RequestKeyframe,
		closed: r.open.Done}
	r.mu.Lock()
	_, ok := r.agreed[t.PeerID]
	r.gates[t.PeerID] = append(r.gates[t.PeerID], g)
	r.mu.Unlock()
	if ok {
		g.allow(true)
	}
	return g, nil
}

// SetConsent records a participant's answer: agreed, their tracks are
// written from the next keyframe on; declined, nothing of theirs is. An
// answer can change during the call: withdrawn, their files are finished
// at the next packet and nothing more of theirs is written; agreed again,
// new files start (the merged file shows the gap).
func (r *CallRecording) SetConsent(participantID, name string, agreed bool) {
	r.mu.Lock()
	if agreed {
		r.agreed[participantID] = name
		r.named[participantID] = name
	} else {
		delete(r.agreed, participantID)
	}
	gates := append([]*consentGate(nil), r.gates[participantID]...)
	names := maps.Clone(r.named)
	r.mu.Unlock()
	if agreed {
		// Kept beside the track files, so a recording recovered after
		// a crash still says who is in it.
		if err := os.MkdirAll(r.dir, 0o700); err == nil {
			_ = writeJSONFile(filepath.Join(r.dir, participantsFile), names)
		}
	}
	for _, g := range gates {
		g.allow(agreed)
	}
}

// consentGate is the sink the room holds for one track: packets pass to
// a writer only while the publisher agrees. A writer is opened when they
// do, so a participant who never agrees leaves no file at all, and closed
// when they withdraw.
type consentGate struct {
	open     func() (sfu.TrackSink, error)
	keyframe func()
	closed   func() // called once, after the writer is closed

	allowed atomic.Bool
	sink    sfu.TrackSink // opened and closed on the room's sink goroutine
	failed  bool
}

func (g *consentGate) allow(ok bool) {
	if was := g.allowed.Swap(ok); ok && !was && g.keyframe != nil {
		g.keyframe() // the file starts on a keyframe: ask for one now
	}
}

// WriteRTP implements sfu.TrackSink.
func (g *consentGate) WriteRTP(p *rtp.Packet) {
	if s := g.current(); s != nil {
		s.WriteRTP(p)
	}
}

// WriteSenderReport implements sfu.TrackSink.
func (g *consentGate) WriteSenderReport(sr sfu.SenderReport) {
	if s := g.current(); s != nil {
		s.WriteSenderReport(sr)
	}
}

// current opens a writer on the first packet after consent and closes it
// on the first after a withdrawal. All sink calls come from one
// goroutine; only allowed is set from others.
func (g *consentGate) current() sfu.TrackSink {
	if !g.allowed.Load() {
		if g.sink != nil {
			g.sink.Close()
			g.sink = nil
		}
		return nil
	}
	if g.sink != nil || g.failed {
		return g.sink
	}
	s, err := g.open()
	if err != nil || s == nil {
		g.failed = true
		return nil
	}
	g.sink = s
	return s
}

// Close implements sfu.TrackSink.
func (g *consentGate) Close() {
	if g.sink != nil {
		g.sink.Close()
	}
	g.closed()
}

// Stop ends a recording whose recorder is off the room (its sinks
// closed): recording.stopped goes in the record, and the call's file is
// built and attached in the background (recording.ready).
func (c *Calls) Stop(ctx context.Context, r *CallRecording, by store.Actor) {
	c.mu.Lock()
	delete(c.active, r.Recording.ID)
	c.mu.Unlock()
	rec := r.Recording
	r.mu.Lock()
	for _, name := range r.named {
		rec.Participants = append(rec.Participants, name)
	}
	r.mu.Unlock()
	sort.Strings(rec.Participants)
	now := time.Now().UTC()
	rec.Status, rec.EndedAt = store.RecordingProcessing, &now
	e, err := c.cfg.Store.UpdateRecording(ctx, rec, &store.Event{Type: store.EventRecordingStopped, Actor: by,
		Data: store.EventData(map[string]string{"callId": rec.CallID, "recordingId": rec.ID})})
	if err != nil {
		c.cfg.Logger.Error("stop recording", "recording", rec.ID, "err", err)
		return
	}
	c.announce(ctx, e, nil)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		// The files are complete once the room has closed every sink.
		done := make(chan struct{})
		go func() {
			r.open.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.cfg.Logger.Warn("recording: sinks still open after 30 s; finishing with what is written", "recording", rec.ID)
		}
		c.finishLater(rec, false)
	}()
}

// Recover finishes the recordings a previous run of the server left
// unfinished: their track files are repaired, and the recording is
// attached marked interrupted (one that was already being finished is
// just finished again). Call it once at start, before recording.
func (c *Calls) Recover(ctx context.Context) error {
	recs, err := c.cfg.Store.RecordingsByStatus(ctx, store.RecordingActive, store.RecordingProcessing)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		dir := filepath.Join(c.cfg.Spool, rec.ID)
		metas, err := RepairAll(dir)
		if err != nil {
			c.cfg.Logger.Warn("repair recording", "recording", rec.ID, "err", err)
		}
		interrupted := rec.Status == store.RecordingActive || len(metas) > 0
		if rec.EndedAt == nil {
			end := latestEnd(dir, rec.StartedAt)
			rec.EndedAt = &end
		}
		if len(rec.Participants) == 0 {
			rec.Participants = participantsOf(dir)
		}
		c.cfg.Logger.Info("recovering recording", "recording", rec.ID, "interrupted", interrupted, "repaired", len(metas))
		c.finishLater(rec, interrupted)
	}
	return nil
}

// Logger is the logger recordings report to.
func (c *Calls) Logger() *slog.Logger { return c.cfg.Logger }

// Wait waits for recordings being finished (at shutdown).
func (c *Calls) Wait() { c.wg.Wait() }

func (c *Calls) finishLater(rec store.Recording, interrupted bool) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		// Not the caller's context: the call is over, the work is not.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		if err := c.finish(ctx, rec, interrupted); err != nil {
			c.cfg.Logger.Error("finish recording", "recording", rec.ID, "err", err)
			rec.Status, rec.Error = store.RecordingFailed, err.Error()
			e, uerr := c.cfg.Store.UpdateRecording(ctx, rec, &store.Event{Type: store.EventRecordingFailed,
				Actor: systemActor, Data: store.EventData(map[string]string{"recordingId": rec.ID, "error": err.Error()})})
			if uerr == nil {
				c.announce(ctx, e, map[string]any{"recording": rec})
			}
		}
	}()
}

var systemActor = store.Actor{Name: "system", Role: store.RoleSystem}

// finish builds the call's file from the track files, seals it and the
// track files into the blob store, and marks the recording ready.
func (c *Calls) finish(ctx context.Context, rec store.Recording, interrupted bool) error {
	dir := filepath.Join(c.cfg.Spool, rec.ID)
	tracks, err := spooledTracks(dir)
	if err != nil {
		return err
	}
	rec.Interrupted = interrupted
	if len(tracks) == 0 {
		// Nobody agreed, or nothing was published: an empty recording
		// is still part of the record.
		rec.Status, rec.Progress = store.RecordingReady, 1
		return c.ready(ctx, rec, dir)
	}
	out := filepath.Join(dir, "call.webm")
	paths := make([]string, len(tracks))
	for i, t := range tracks {
		paths[i] = t.path
	}
	var last float64
	err = Merge(ctx, out, paths, MergeConfig{FFmpeg: c.cfg.FFmpeg, Progress: func(p MergeProgress) {
		if p.Total <= 0 {
			return
		}
		f := min(float64(p.Done)/float64(p.Total), 0.99)
		if f-last < 0.05 { // a write every 5%
			return
		}
		last, rec.Progress = f, f
		if _, err := c.cfg.Store.UpdateRecording(ctx, rec, nil); err != nil {
			c.cfg.Logger.Warn("recording progress", "recording", rec.ID, "err", err)
		}
	}})
	if err != nil {
		return err
	}
	dur := callLength(paths)
	prefix := blob.ConversationPrefix(rec.ConversationID) + "recordings/" + rec.ID + "/"
	size, sum, err := c.seal(ctx, out, prefix+"call.webm")
	if err != nil {
		return err
	}
	for _, t := range tracks {
		if _, _, err := c.seal(ctx, t.path, prefix+"tracks/"+filepath.Base(t.path)); err != nil {
			return err
		}
	}
	rec.Status, rec.Progress, rec.DurationMs, rec.Size, rec.SHA256 = store.RecordingReady, 1, dur.Milliseconds(), size, sum
	rec.BlobKey = prefix + "call.webm"
	return c.ready(ctx, rec, dir)
}

func (c *Calls) ready(ctx context.Context, rec store.Recording, dir string) error {
	e, err := c.cfg.Store.UpdateRecording(ctx, rec, &store.Event{Type: store.EventRecordingReady, Actor: systemActor,
		Data: store.EventData(map[string]any{"recordingId": rec.ID, "callId": rec.CallID, "durationMs": rec.DurationMs,
			"participants": rec.Participants, "size": rec.Size, "sha256": rec.SHA256, "interrupted": rec.Interrupted})})
	if err != nil {
		return err
	}
	c.cfg.Logger.Info("recording ready", "recording", rec.ID, "conversation", rec.ConversationID,
		"duration_ms", rec.DurationMs, "size", rec.Size, "interrupted", rec.Interrupted)
	c.announce(ctx, e, map[string]any{"recording": rec})
	// The spool held plain media: gone once sealed.
	if err := os.RemoveAll(dir); err != nil {
		c.cfg.Logger.Warn("clear recording spool", "recording", rec.ID, "err", err)
	}
	return nil
}

// seal copies a file into the blob store and returns its size and the
// SHA-256 of its plain bytes.
func (c *Calls) seal(ctx context.Context, path, key string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	w, err := c.cfg.Blobs.Create(ctx, key)
	if err != nil {
		return 0, "", fmt.Errorf("store recording: %w", err)
	}
	defer w.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), f)
	if err != nil {
		return 0, "", fmt.Errorf("store recording: %w", err)
	}
	if err := w.Commit(); err != nil {
		return 0, "", fmt.Errorf("store recording: %w", err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Open opens a ready recording's call file for reading.
func (c *Calls) Open(ctx context.Context, rec store.Recording) (blob.Reader, error) {
	if rec.Status != store.RecordingReady || rec.BlobKey == "" {
		return nil, fmt.Errorf("recording %s is not ready: %w", rec.ID, blob.ErrNotFound)
	}
	return c.cfg.Blobs.Open(ctx, rec.BlobKey)
}

// Active returns the recording going on with id, if any.
func (c *Calls) Active(id string) (*CallRecording, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.active[id]
	return r, ok
}

func (c *Calls) announce(ctx context.Context, e store.Event, hook map[string]any) {
	if c.cfg.Announce != nil {
		c.cfg.Announce(ctx, e, hook)
	}
}

// callLength is how long the call's file is: from the first track's
// start to the last one's end.
func callLength(paths []string) time.Duration {
	ins, total, err := placeTracks(paths)
	if err != nil || len(ins) == 0 {
		return 0
	}
	return total
}

// trackFile is a finished track file and its sidecar.
type trackFile struct {
	path string
	meta *Meta
}

// spooledTracks lists the track files under dir (all of a recording's
// rooms and segments), in start order.
func spooledTracks(dir string) ([]trackFile, error) {
	var out []trackFile
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".webm") || filepath.Base(p) == "call.webm" {
			return nil
		}
		m, err := ReadMeta(p)
		if err != nil || m.Frames == 0 {
			return nil // no sidecar or no frame: nothing to play
		}
		out = append(out, trackFile{path: p, meta: m})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].meta.Started.Before(out[j].meta.Started) })
	return out, err
}

// latestEnd is when the last track file under dir ended, for a recording
// cut short by a crash.
func latestEnd(dir string, started time.Time) time.Time {
	end := started
	tracks, _ := spooledTracks(dir)
	for _, t := range tracks {
		if e := t.meta.Started.Add(time.Duration(t.meta.DurationMs) * time.Millisecond); e.After(end) {
			end = e
		}
	}
	return end.UTC()
}

// participantsFile names those who agreed to be recorded, by participant
// id, in a recording's spool folder.
const participantsFile = "participants.json"

// participantsOf lists the names of those who agreed to be recorded.
func participantsOf(dir string) []string {
	var names map[string]string
	b, err := os.ReadFile(filepath.Join(dir, participantsFile))
	if err != nil || json.Unmarshal(b, &names) != nil {
		return nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// writeJSONFile replaces path atomically.
func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// keyDestroyer is what Expire needs of an encrypting blob store.
type keyDestroyer interface {
	DestroyKeyIfEmpty(ctx context.Context, conversationID string) (bool, error)
}

// Expire deletes the ready recordings whose call ended more than maxAge
// before now: their objects go, the record says so (recording.deleted),
// and a conversation left with no recording loses its key, so copies of
// its recordings in backups can never be read. It returns how many it
// deleted.
func (c *Calls) Expire(ctx context.Context, maxAge time.Duration, now time.Time) (int, error) {
	recs, err := c.cfg.Store.RecordingsByStatus(ctx, store.RecordingReady, store.RecordingFailed)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	convs := map[string]bool{}
	for _, rec := range recs {
		end := rec.StartedAt
		if rec.EndedAt != nil {
			end = *rec.EndedAt
		}
		if now.Sub(end) <= maxAge {
			continue
		}
		prefix := blob.ConversationPrefix(rec.ConversationID) + "recordings/" + rec.ID + "/"
		objs, err := c.cfg.Blobs.List(ctx, prefix)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, o := range objs {
			if err := c.cfg.Blobs.Delete(ctx, o.Key); err != nil {
				errs = append(errs, err)
			}
		}
		rec.Status, rec.BlobKey = store.RecordingDeleted, ""
		e, err := c.cfg.Store.UpdateRecording(ctx, rec, &store.Event{Type: store.EventRecordingDeleted, Actor: systemActor,
			Data: store.EventData(map[string]any{"recordingId": rec.ID, "reason": "retention", "maxAgeDays": int(maxAge.Hours() / 24)})})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.announce(ctx, e, nil)
		convs[rec.ConversationID] = true
		n++
	}
	if kd, ok := c.cfg.Blobs.(keyDestroyer); ok {
		for id := range convs {
			if _, err := kd.DestroyKeyIfEmpty(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return n, errors.Join(errs...)
}

// keyEraser is what Forget needs of an encrypting blob store.
type keyEraser interface {
	DestroyKey(ctx context.Context, conversationID string) error
}

// Forget erases a conversation's recordings for good: its key is
// destroyed first (from then on no copy of them, backups included, can be
// read), then its objects and any spooled track files are deleted.
func (c *Calls) Forget(ctx context.Context, conversationID string) error {
	if err := blob.ValidConversationID(conversationID); err != nil {
		return err
	}
	if ke, ok := c.cfg.Blobs.(keyEraser); ok {
		if err := ke.DestroyKey(ctx, conversationID); err != nil {
			return err
		}
	}
	recs, err := c.cfg.Store.ListRecordings(ctx, conversationID)
	if err != nil {
		return err
	}
	var errs []error
	for _, rec := range recs {
		if err := os.RemoveAll(filepath.Join(c.cfg.Spool, rec.ID)); err != nil {
			errs = append(errs, err)
		}
	}
	objs, err := c.cfg.Blobs.List(ctx, blob.ConversationPrefix(conversationID))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, o := range objs {
		if err := c.cfg.Blobs.Delete(ctx, o.Key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
