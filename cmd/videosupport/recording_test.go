package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"videosupport/blob"
	"videosupport/blob/disk"
	"videosupport/internal/testenv"
	"videosupport/internal/testmedia"
	"videosupport/signaling"
	"videosupport/signaling/client"
	"videosupport/store"
)

// inCall is an escalated call with the agent and the customer in it, both
// publishing the test media.
type inCall struct {
	base, convID, callID string
	agent, customer      *apiClient // the agent's session; the customer's chat token
	agentWS, custWS      *client.Client
	custID               string // the customer's participant id
	app                  *app   // the server, when it runs in the test
	stop                 func() // shuts it down early
}

// recordingCall starts a server on a new data directory (with args) and
// brings the agent and the customer into a call, both publishing.
func recordingCall(t *testing.T, args ...string) (call *inCall, ctx context.Context, dir string) {
	t.Helper()
	testenv.LookTool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	dir = t.TempDir()
	base, a, stop := startAppIn(t, dir, args...)
	call = startRecordedCall(ctx, t, base, a)
	call.app, call.stop = a, stop
	return call, ctx, dir
}

// startRecordedCall escalates a conversation and brings both people into
// the call, publishing video and audio until ctx ends.
func startRecordedCall(ctx context.Context, t *testing.T, base string, a *app) *inCall {
	t.Helper()
	addStaff(t, a, "amira@example.com", "Amira", store.RoleAgent)
	return enterCall(ctx, t, base)
}

// enterCall is startRecordedCall with the agent amira@example.com added.
func enterCall(ctx context.Context, t *testing.T, base string) *inCall {
	t.Helper()
	agent, _ := login(t, base, "amira@example.com")
	convID, customer := startConversation(t, base, "Wei", "please look at my rash")
	var started startedCall
	if code := agent.do("POST", "/api/v1/conversations/"+convID+"/calls", nil, &started); code != 201 {
		t.Fatalf("escalate: %d", code)
	}
	callID, token := splitLink(t, started.CustomerLink.URL)
	phone := newCallBrowser(t, base)
	if code, _ := phone.exchange(callID, token); code != 200 {
		t.Fatalf("exchange: %d", code)
	}
	if code := agent.do("POST", "/api/v1/calls/"+callID+"/join", map[string]string{}, nil); code != 200 {
		t.Fatalf("agent joins: %d", code)
	}
	agentWS := (&callBrowser{apiClient: agent, base: base}).dial(ctx)
	if m := joinSignal(ctx, t, agentWS, callID); m.Type != signaling.TypeJoined {
		t.Fatalf("agent join: %+v", m)
	}
	custWS := phone.dial(ctx)
	w := joinSignal(ctx, t, custWS, callID)
	_ = agentWS.Send(signaling.Message{Type: signaling.TypeAdmit, Participant: &signaling.Participant{ID: w.You.ID}})
	waitMsg(ctx, t, custWS, signaling.TypeAdmitted, nil)
	cj := joinSignal(ctx, t, custWS, callID)
	if cj.Type != signaling.TypeJoined {
		t.Fatalf("customer join: %+v", cj)
	}
	frames, pkts, err := testmedia.Media()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{agentWS, custWS} {
		publishTestMedia(ctx, t, c, frames, pkts)
	}
	return &inCall{base: base, convID: convID, callID: callID, agent: agent, customer: customer, agentWS: agentWS, custWS: custWS,
		custID: cj.You.ID}
}

func publishTestMedia(ctx context.Context, t *testing.T, c *client.Client, frames, pkts [][]byte) {
	t.Helper()
	if err := testmedia.Publish(ctx, c.Publish, "v", frames, pkts); err != nil {
		t.Fatal(err)
	}
}

func (c *inCall) record(t *testing.T, on bool) {
	t.Helper()
	if err := c.agentWS.Send(signaling.Message{Type: signaling.TypeRecord, On: &on}); err != nil {
		t.Fatal(err)
	}
}

// waitRecording polls the conversation's recordings until one is ready
// (or failed).
func waitRecording(t *testing.T, c *apiClient, convID string, d time.Duration) store.Recording {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var list struct {
			Recordings []store.Recording `json:"recordings"`
		}
		if code := c.do("GET", "/api/v1/conversations/"+convID+"/recordings", nil, &list); code != 200 {
			t.Fatalf("list recordings: %d", code)
		}
		for _, r := range list.Recordings {
			if r.Status == store.RecordingReady || r.Status == store.RecordingFailed {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recording ready after %v: %+v", d, list.Recordings)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fetch GETs a URL with the client's cookies and returns status, headers
// and body.
func (c *apiClient) fetch(path string, header map[string]string) (int, http.Header, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type probe struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func ffprobe(t *testing.T, path string) probe {
	t.Helper()
	out, err := exec.Command(testenv.LookTool(t, "ffprobe"), "-v", "error", "-show_streams", "-show_format", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRecordingWithConsent: the agent starts recording; the customer is
// asked and agrees a moment later; the agent stops. The recording lands in
// the record, sealed on disk (no plain media left), plays with range
// requests for the agent after an audit event, downloads as a file that
// ffprobe reads with one video and one audio stream, and stays out of the
// customer's reach.
func TestRecordingWithConsent(t *testing.T) {
	call, ctx, dir := recordingCall(t)

	call.record(t, true)
	m := waitMsg(ctx, t, call.custWS, signaling.TypeRecording, nil)
	if !m.Recording.On || m.Recording.By != "Amira" || m.Recording.Version != consentVersion {
		t.Fatalf("the customer is told %+v", m.Recording)
	}
	time.Sleep(time.Second) // the customer reads the prompt; nothing of theirs is recorded yet
	spooled := func(participant string) []string {
		files, _ := filepath.Glob(filepath.Join(dir, "spool", "*", "*", participant+"_*.webm"))
		return files
	}
	if files := spooled(call.custID); len(files) != 0 {
		t.Fatalf("the customer's media was written before they agreed: %v", files)
	}
	agreedAt := time.Now()
	_ = call.custWS.Send(signaling.Message{Type: signaling.TypeConsent, Consent: "agree", Version: consentVersion})
	waitMsg(ctx, t, call.agentWS, signaling.TypeConsent, func(m signaling.Message) bool { return m.Participant.Consent == signaling.ConsentAgreed })
	time.Sleep(3 * time.Second)
	if files := spooled(call.custID); len(files) != 2 {
		t.Errorf("after agreeing, the customer's tracks being written: %v, want audio and video", files)
	}
	call.record(t, false)
	stoppedAt := time.Now()
	waitMsg(ctx, t, call.custWS, signaling.TypeRecording, func(m signaling.Message) bool { return !m.Recording.On })

	rec := waitRecording(t, call.agent, call.convID, 60*time.Second)
	if rec.Status != store.RecordingReady {
		t.Fatalf("recording %+v", rec)
	}
	if strings.Join(rec.Participants, ",") != "Amira,Wei" || rec.Size == 0 || len(rec.SHA256) != 64 || rec.Interrupted {
		t.Fatalf("recording %+v", rec)
	}
	recorded := time.Duration(rec.DurationMs) * time.Millisecond
	if want := stoppedAt.Sub(agreedAt); recorded < want-1500*time.Millisecond || recorded > stoppedAt.Sub(agreedAt.Add(-time.Second))+time.Second {
		t.Errorf("recording lasts %v; the agent was recorded about %v, the customer %v", recorded, stoppedAt.Sub(agreedAt.Add(-time.Second)), want)
	}

	// The record holds every step, consents included, in order.
	var steps []string
	for _, e := range timeline(t, call.agent, call.convID) {
		if strings.HasPrefix(e.Type, "recording.") {
			s := e.Type
			if e.Type == store.EventConsent {
				d := eventData(e)
				s += " " + e.Actor.Name + " " + d["choice"].(string) + " v" + d["version"].(string)
			}
			steps = append(steps, s)
		}
	}
	want := []string{"recording.started", "recording.consent Amira agreed v" + consentVersion,
		"recording.consent Wei agreed v" + consentVersion, "recording.stopped", "recording.ready"}
	if strings.Join(steps, "|") != strings.Join(want, "|") {
		t.Errorf("record: %q\nwant %q", steps, want)
	}

	// On disk: sealed objects only, the spool cleared.
	if spooled, _ := filepath.Glob(filepath.Join(dir, "spool", rec.ID, "*")); len(spooled) != 0 {
		t.Errorf("plain media left in the spool: %v", spooled)
	}
	sealed, _ := filepath.Glob(filepath.Join(dir, "recordings", "objects", "conversations", call.convID, "recordings", rec.ID, "call.webm"))
	if len(sealed) != 1 {
		t.Fatalf("no sealed call file on disk")
	}
	if raw, _ := os.ReadFile(sealed[0]); len(raw) > 4 && string(raw[:4]) == "\x1a\x45\xdf\xa3" {
		t.Fatal("the call file on disk is plain WebM")
	}

	// Media needs a grant, bound to the one who asked.
	if code, _, _ := call.agent.fetch("/api/v1/recordings/"+rec.ID+"/media", nil); code != 403 {
		t.Errorf("media without a grant: %d", code)
	}
	var grant struct{ URL string }
	if code := call.agent.do("POST", "/api/v1/recordings/"+rec.ID+"/play", nil, &grant); code != 200 {
		t.Fatalf("play: %d", code)
	}
	code, h, part := call.agent.fetch(grant.URL, map[string]string{"Range": "bytes=100-199"})
	if code != 206 || len(part) != 100 || h.Get("Content-Range") != "bytes 100-199/"+strconv.FormatInt(rec.Size, 10) {
		t.Fatalf("range request: %d %q %d bytes", code, h.Get("Content-Range"), len(part))
	}
	// A colleague who never worked this conversation, and anonymous
	// requests, are refused, grant or not.
	addStaff(t, call.app, "bo@example.com", "Bo", store.RoleAgent)
	bo, _ := login(t, call.base, "bo@example.com")
	if code, _, _ := bo.fetch(grant.URL, nil); code != 404 {
		t.Errorf("another staff member using the agent's grant: %d", code)
	}
	if code := bo.do("GET", "/api/v1/conversations/"+call.convID+"/recordings", nil, nil); code != 403 {
		t.Errorf("another staff member listing: %d", code)
	}
	if code := bo.do("POST", "/api/v1/recordings/"+rec.ID+"/play", nil, nil); code != 404 {
		t.Errorf("another staff member playing: %d", code)
	}
	anon := newAPIClient(t, call.base)
	if code, _, _ := anon.fetch(grant.URL, nil); code != 401 {
		t.Errorf("anonymous media request: %d", code)
	}
	if code := call.agent.do("POST", "/api/v1/recordings/"+rec.ID+"/download", nil, &grant); code != 200 {
		t.Fatalf("download: %d", code)
	}
	code, h, file := call.agent.fetch(grant.URL, nil)
	if sum := sha256.Sum256(file); code != 200 || hex.EncodeToString(sum[:]) != rec.SHA256 || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d, %d bytes, sha256 %x, want %s", code, len(file), sum, rec.SHA256)
	}
	if string(file[100:200]) != string(part) {
		t.Error("the range request's bytes differ from the file's")
	}
	path := filepath.Join(t.TempDir(), "call.webm")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	p := ffprobe(t, path)
	kinds := map[string]string{}
	for _, s := range p.Streams {
		kinds[s.CodecType] = s.CodecName
	}
	if len(p.Streams) != 2 || kinds["video"] != "vp8" || kinds["audio"] != "opus" {
		t.Errorf("the call file has streams %+v, want one VP8 video and one Opus audio", p.Streams)
	}
	if d, _ := strconv.ParseFloat(p.Format.Duration, 64); d < recorded.Seconds()-0.5 || d > recorded.Seconds()+0.5 {
		t.Errorf("the call file lasts %.2f s, the record says %v", d, recorded)
	}

	// Every playback and download is in the record (for staff only).
	audit := map[string]int{}
	for _, e := range timeline(t, call.agent, call.convID) {
		if e.Type == store.EventRecordingPlayed || e.Type == store.EventRecordingFetched {
			audit[e.Type+" "+e.Actor.Name]++
		}
	}
	if audit["recording.played Amira"] != 1 || audit["recording.downloaded Amira"] != 1 || len(audit) != 2 {
		t.Errorf("audit trail %v", audit)
	}
	for _, e := range timeline(t, call.customer, call.convID) {
		if e.Type == store.EventRecordingPlayed || e.Type == store.EventRecordingFetched {
			t.Errorf("the customer sees %s", e.Type)
		}
	}
	// Refused requests left no audit event; the allowed ones did (above).
	// Customers have no access unless an admin allows it.
	if code := call.customer.do("GET", "/api/v1/conversations/"+call.convID+"/recordings", nil, nil); code != 403 {
		t.Errorf("customer listing recordings: %d", code)
	}
	if code := call.customer.do("POST", "/api/v1/recordings/"+rec.ID+"/play", nil, nil); code != 404 {
		t.Errorf("customer playing: %d", code)
	}

	// With the conversation's key destroyed, playback fails with a clear
	// answer, not garbage.
	keys, err := disk.OpenKeys(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	if err := keys.Destroy(ctx, call.convID); err != nil {
		t.Fatal(err)
	}
	call.agent.do("POST", "/api/v1/recordings/"+rec.ID+"/play", nil, &grant)
	var gone apiError
	code, _, body := call.agent.fetch(grant.URL, nil)
	_ = json.Unmarshal(body, &gone)
	if code != 410 || gone.Error.Code != "gone" || gone.Error.Message == "" {
		t.Errorf("media after the key was destroyed: %d %s", code, body)
	}
}

// TestRecordingDeclined: a customer who declines is not recorded; the
// call goes on and the recording holds only the agent.
func TestRecordingDeclined(t *testing.T) {
	call, ctx, dataDir := recordingCall(t)
	call.record(t, true)
	waitMsg(ctx, t, call.custWS, signaling.TypeRecording, nil)
	_ = call.custWS.Send(signaling.Message{Type: signaling.TypeConsent, Consent: "decline", Version: consentVersion})
	waitMsg(ctx, t, call.agentWS, signaling.TypeConsent, func(m signaling.Message) bool { return m.Participant.Consent == signaling.ConsentDeclined })
	time.Sleep(2 * time.Second)
	call.record(t, false)
	rec := waitRecording(t, call.agent, call.convID, 60*time.Second)
	if rec.Status != store.RecordingReady || strings.Join(rec.Participants, ",") != "Amira" {
		t.Fatalf("recording %+v, want the agent alone", rec)
	}
	// The decliner's tracks are absent: the sealed track files are the
	// agent's two.
	tracks, _ := filepath.Glob(filepath.Join(dataDir, "recordings", "objects", "conversations", call.convID, "recordings", rec.ID, "tracks", "*.webm"))
	if len(tracks) != 2 {
		t.Errorf("sealed track files %v, want the agent's audio and video", tracks)
	}
	for _, f := range tracks {
		if strings.HasPrefix(filepath.Base(f), call.custID) {
			t.Errorf("the customer who declined was recorded: %s", f)
		}
	}
	var grant struct{ URL string }
	call.agent.do("POST", "/api/v1/recordings/"+rec.ID+"/download", nil, &grant)
	_, _, file := call.agent.fetch(grant.URL, nil)
	path := filepath.Join(t.TempDir(), "call.webm")
	_ = os.WriteFile(path, file, 0o600)
	if p := ffprobe(t, path); len(p.Streams) != 2 {
		t.Errorf("streams %+v: want the agent's video and audio", p.Streams)
	}
	// The call went on: the customer is still in it.
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	if _, err := call.custWS.WaitFor(short, func(m signaling.Message) bool { return m.Type == signaling.TypeBye }); err == nil {
		t.Error("the customer was sent away for declining")
	}
}

// TestRecordingWithdrawn: a customer who agreed changes their mind; from
// then on nothing more of theirs is written (their files are finished and
// stop growing) while the call and the agent's recording go on. Agreeing
// again starts new files. The record holds each answer in order.
func TestRecordingWithdrawn(t *testing.T) {
	call, ctx, dataDir := recordingCall(t)
	call.record(t, true)
	waitMsg(ctx, t, call.custWS, signaling.TypeRecording, nil)
	answer := func(consent, state string) {
		t.Helper()
		_ = call.custWS.Send(signaling.Message{Type: signaling.TypeConsent, Consent: consent, Version: consentVersion})
		waitMsg(ctx, t, call.agentWS, signaling.TypeConsent, func(m signaling.Message) bool { return m.Participant.Consent == state })
	}
	// sizes is what is on disk of the customer's tracks, and of the agent's.
	sizes := func() (customer, agent map[string]int64) {
		customer, agent = map[string]int64{}, map[string]int64{}
		files, _ := filepath.Glob(filepath.Join(dataDir, "spool", "*", "*", "*.webm"))
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				continue
			}
			if strings.HasPrefix(filepath.Base(f), call.custID+"_") {
				customer[filepath.Base(f)] = fi.Size()
			} else {
				agent[filepath.Base(f)] = fi.Size()
			}
		}
		return customer, agent
	}
	answer("agree", signaling.ConsentAgreed)
	time.Sleep(2 * time.Second)
	answer("decline", signaling.ConsentDeclined)
	time.Sleep(time.Second) // the next packets close the files
	custAt, agentAt := sizes()
	if len(custAt) != 2 {
		t.Fatalf("the customer's files while they agreed: %v, want audio and video", custAt)
	}
	time.Sleep(2 * time.Second)
	custLater, agentLater := sizes()
	for f, n := range custAt {
		if custLater[f] != n {
			t.Errorf("%s grew from %d to %d bytes after the customer withdrew", f, n, custLater[f])
		}
	}
	grew := false
	for f, n := range agentLater {
		grew = grew || n > agentAt[f]
	}
	if !grew {
		t.Errorf("the agent's recording stopped too: %v then %v", agentAt, agentLater)
	}
	answer("agree", signaling.ConsentAgreed)
	time.Sleep(2 * time.Second)
	if again, _ := sizes(); len(again) != 4 {
		t.Errorf("after agreeing again, the customer's files: %v, want two new ones beside the first two", again)
	}
	call.record(t, false)
	rec := waitRecording(t, call.agent, call.convID, 60*time.Second)
	if rec.Status != store.RecordingReady || strings.Join(rec.Participants, ",") != "Amira,Wei" {
		t.Fatalf("recording %+v", rec)
	}
	var choices []string
	for _, e := range timeline(t, call.agent, call.convID) {
		if e.Type == store.EventConsent && e.Actor.Name == "Wei" {
			choices = append(choices, eventData(e)["choice"].(string))
		}
	}
	if strings.Join(choices, ",") != "agreed,declined,agreed" {
		t.Errorf("the customer's answers on record: %v", choices)
	}
}

// TestDeletedConversationIsUnreadable: an admin deletes a conversation;
// its recordings' key is destroyed, so even a backup of the recording
// files, put back, can never be read.
func TestDeletedConversationIsUnreadable(t *testing.T) {
	call, ctx, dir := recordingCall(t)
	call.record(t, true)
	time.Sleep(2 * time.Second)
	call.record(t, false)
	rec := waitRecording(t, call.agent, call.convID, 60*time.Second)
	if rec.Status != store.RecordingReady {
		t.Fatalf("recording %+v", rec)
	}
	objects := filepath.Join(dir, "recordings", "objects", "conversations", call.convID)
	backup := filepath.Join(t.TempDir(), "backup")
	if out, err := exec.Command("cp", "-a", objects, backup).CombinedOutput(); err != nil {
		t.Fatalf("backup: %v %s", err, out)
	}

	addStaff(t, call.app, "admin@example.com", "Admin", store.RoleAdmin)
	admin, _ := login(t, call.base, "admin@example.com")
	if code := call.agent.do("DELETE", "/api/v1/conversations/"+call.convID, nil, nil); code != 403 {
		t.Fatalf("an agent deleting: %d, want 403", code)
	}
	if code := admin.do("DELETE", "/api/v1/conversations/"+call.convID, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := admin.do("GET", "/api/v1/conversations/"+call.convID, nil, nil); code != 404 {
		t.Fatalf("conversation after delete: %d", code)
	}
	if _, err := os.Stat(objects); !os.IsNotExist(err) {
		t.Errorf("recording files left after delete: %v", err)
	}
	if keys, _ := filepath.Glob(filepath.Join(dir, "keys", "*"+call.convID+"*")); len(keys) != 0 {
		t.Errorf("key files left: %v", keys)
	}
	// The backup goes back in place: it cannot be read.
	_ = os.MkdirAll(filepath.Dir(objects), 0o700)
	if out, err := exec.Command("cp", "-a", backup, objects).CombinedOutput(); err != nil {
		t.Fatalf("restore: %v %s", err, out)
	}
	rec.BlobKey = blob.ConversationPrefix(call.convID) + "recordings/" + rec.ID + "/call.webm" // not sent out by the API
	r, err := call.app.recordings.Open(ctx, rec)
	if err == nil {
		buf := make([]byte, 16)
		_, err = r.ReadAt(buf, 0)
		r.Close()
	}
	if !errors.Is(err, blob.ErrKeyDestroyed) {
		t.Fatalf("reading a restored backup: %v, want ErrKeyDestroyed", err)
	}
}

// TestRecordingKeyRotation: a server that made its own master key is
// given one with -recording-key; its recordings still play, every key is
// wrapped anew at start, and after that the old key file can go.
func TestRecordingKeyRotation(t *testing.T) {
	call, ctx, dir := recordingCall(t)
	call.record(t, true)
	waitMsg(ctx, t, call.custWS, signaling.TypeRecording, nil)
	time.Sleep(2 * time.Second)
	call.record(t, false)
	rec := waitRecording(t, call.agent, call.convID, 60*time.Second)
	if rec.Status != store.RecordingReady {
		t.Fatalf("recording %+v", rec)
	}
	keyBefore, err := os.ReadFile(filepath.Join(dir, "keys", call.convID+".key"))
	if err != nil {
		t.Fatal(err)
	}
	call.stop()

	// plays downloads the recording as the agent and checks it is the
	// file that was made.
	plays := func(base, when string) {
		t.Helper()
		agent, _ := login(t, base, "amira@example.com")
		var grant struct{ URL string }
		if code := agent.do("POST", "/api/v1/recordings/"+rec.ID+"/download", nil, &grant); code != 200 {
			t.Fatalf("%s: download: %d", when, code)
		}
		code, _, file := agent.fetch(grant.URL, nil)
		if sum := sha256.Sum256(file); code != 200 || hex.EncodeToString(sum[:]) != rec.SHA256 {
			t.Fatalf("%s: download %d, %d bytes, sha256 %x, want %s", when, code, len(file), sum, rec.SHA256)
		}
	}
	master := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	base, _, stop := startAppIn(t, dir, "-recording-key", master)
	plays(base, "with the new master key and the made one in the data directory")
	stop()
	if keyAfter, _ := os.ReadFile(filepath.Join(dir, "keys", call.convID+".key")); bytes.Equal(keyAfter, keyBefore) {
		t.Fatal("the conversation's key was not wrapped anew at start")
	}
	if err := os.Remove(filepath.Join(dir, "recording.key")); err != nil {
		t.Fatal(err)
	}
	base, _, _ = startAppIn(t, dir, "-recording-key", master)
	plays(base, "with the new master key alone")
}
