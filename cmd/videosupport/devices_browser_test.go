package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// These tests change camera and microphone in the middle of a call, in
// headless Chromium. The customer's browser has two fake cameras (and two
// microphones besides the default one); the agent's has Chromium's usual
// one camera. With VS_SHOTS=<dir> they save phone-sized screenshots of
// the control bar and the Devices dialog, in VS_SHOTS_LANG.

// depthCameraJS hides Chromium's second fake camera from the page. With
// --use-fake-device-for-media-stream=device-count=N, fake_device_1 is a
// depth camera (Y16 frames: a <video> shows it, but WebRTC's encoder gets
// nothing it can encode, so a call switched to it freezes), fake_device_2
// an MJPEG one like a USB webcam, the rest I420 like fake_device_0
// (Chromium's media/capture/video/fake_video_capture_device_factory.cc;
// checked here with framesEncoded after replaceTrack). No flag value gives
// two ordinary cameras, so the page of a two-camera person is shown
// device-count=3 without the depth camera: fake_device_0 and
// fake_device_2. The page's own code runs unchanged.
const depthCameraJS = `(() => {
	const md = navigator.mediaDevices;
	if (!md) return;
	const list = md.enumerateDevices.bind(md);
	md.enumerateDevices = async () => (await list()).filter(d => d.label !== 'fake_device_1');
})()`

// newTwoCameraBrowser is newBrowser for a person with two cameras: its
// first tab, which sees fake_device_0 and fake_device_2 (depthCameraJS).
func newTwoCameraBrowser(t *testing.T, lang string) context.Context {
	t.Helper()
	ctx := newBrowser(t, lang, chromedp.Flag("use-fake-device-for-media-stream", "device-count=3"))
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: depthCameraJS})
		return err
	}))
	if err != nil {
		t.Fatalf("hide the depth camera: %v", err)
	}
	return ctx
}

// sentTrack is what the publish connection sends of one kind.
type sentTrack struct {
	DeviceID string `json:"deviceId"`
	Label    string `json:"label"`
	Live     bool   `json:"live"`
	Enabled  bool   `json:"enabled"`
	Preview  bool   `json:"preview"` // the local tile shows this very track
}

// sent reads the track the page's publish connection sends of kind.
func sent(t *testing.T, ctx context.Context, kind string) sentTrack {
	t.Helper()
	return eval[sentTrack](t, ctx, fmt.Sprintf(`(() => {
		const s = window.videosupport.publish.getSenders().find(s => s.track && s.track.kind === %s);
		if (!s) return {};
		const v = document.querySelector('.tile[data-participant="local"] video');
		const shown = v && v.srcObject ? v.srcObject.getVideoTracks() : [];
		return {deviceId: s.track.getSettings().deviceId, label: s.track.label, live: s.track.readyState === 'live',
			enabled: s.track.enabled, preview: shown.includes(s.track)};
	})()`, jsStr(kind)))
}

// sentDeviceIs is the JS for "the page sends kind from a live track of
// device id".
func sentDeviceIs(kind, id string) string {
	return fmt.Sprintf(`(() => {
		const s = window.videosupport.publish.getSenders().find(s => s.track && s.track.kind === %s);
		return !!s && s.track.readyState === 'live' && s.track.getSettings().deviceId === %s;
	})()`, jsStr(kind), jsStr(id))
}

// shown is the JS for "the element #id is on the page and not hidden".
func shown(id string) string {
	return fmt.Sprintf(`(() => { const e = document.getElementById(%s); return !!e && !e.hidden && e.checkVisibility() })()`, jsStr(id))
}

// statusIs is the JS for "the page's live region says text".
func statusIs(text string) string {
	return `document.getElementById('status').textContent === ` + jsStr(text)
}

const (
	devicesOpenJS = `document.getElementById('devices-dialog').open`
	// customerMicOffJS: the agent's tile of the customer shows the
	// microphone off, as the server told the agent.
	customerMicOffJS = `(() => { const b = document.querySelector('.tile:not([data-participant="local"]) .badge-mic'); return !!b && !b.hidden })()`
	audioEnergyJS    = `(async () => {
		let e = 0;
		(await window.videosupport.subscribe.getStats()).forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'audio') e += s.totalAudioEnergy || 0; });
		return e;
	})()`
)

// chooseOther picks, in the select #id, a device other than the one it
// shows, as a person would, and returns the device's id.
func chooseOther(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return eval[string](t, ctx, fmt.Sprintf(`(() => {
		const s = document.getElementById(%s);
		const other = [...s.options].find(o => o.value !== s.value);
		if (!other) return '';
		s.value = other.value;
		s.dispatchEvent(new Event('change'));
		return other.value;
	})()`, jsStr(id)))
}

// TestBrowserSwitchCamera: a customer on a phone with two cameras, in a
// call with the agent, mutes the microphone and presses Switch camera;
// the call now sends the other camera, the preview shows it, the agent
// goes on decoding video and still sees the microphone off. In the
// Devices dialog the customer then picks the other microphone and camera,
// and a camera that will not open leaves the old one working, with a
// message in plain words. The agent, with one camera, has no Switch
// camera.
func TestBrowserSwitchCamera(t *testing.T) {
	c := enterBrowserCall(t, newTwoCameraBrowser)
	cust, agent := c.cust, c.agent

	waitJS(t, cust, slow, "the customer has Switch camera", shown("switch-cam"))
	waitJS(t, agent, slow, "the agent has Devices", shown("devices"))
	if eval[bool](t, agent, shown("switch-cam")) {
		t.Error("the agent, with one camera, is offered Switch camera")
	}
	for _, id := range []string{"switch-cam", "devices"} {
		got := eval[string](t, cust, `document.querySelector('#`+id+` .ctl-text').textContent`)
		want := map[string]string{"switch-cam": c.cat["controls.switch_cam"], "devices": c.cat["controls.devices"]}[id]
		if got != want {
			t.Errorf("#%s reads %q, want %q", id, got, want)
		}
		if h := eval[float64](t, cust, `document.getElementById('`+id+`').getBoundingClientRect().height`); h < 44 {
			t.Errorf("#%s is %.0f px high, want at least 44", id, h)
		}
	}

	// The microphone is muted before the switch.
	act(t, cust, "mute the microphone", chromedp.Click(chromedp.ID("toggle-mic")))
	waitJS(t, agent, slow, "the agent sees the customer's microphone off", customerMicOffJS)
	before := sent(t, cust, "video")
	if !before.Live || before.DeviceID == "" {
		t.Fatalf("before the switch the customer sends %+v", before)
	}
	shoot(t, cust, c.lang+"-call-controls")
	shoot(t, agent, c.lang+"-staff-call-controls")

	// Switch camera, from the keyboard.
	act(t, cust, "Switch camera", chromedp.Focus(chromedp.ID("switch-cam")), chromedp.KeyEvent(kb.Enter))
	waitJS(t, cust, slow, "the customer sends another camera", fmt.Sprintf(`(() => {
		const s = window.videosupport.publish.getSenders().find(s => s.track && s.track.kind === 'video');
		return s.track.readyState === 'live' && s.track.getSettings().deviceId !== %s;
	})()`, jsStr(before.DeviceID)))
	after := sent(t, cust, "video")
	t.Logf("camera %q -> %q", before.Label, after.Label)
	if !after.Preview {
		t.Error("the customer's own tile does not show the new camera")
	}
	waitJS(t, cust, slow, "the switch is announced", statusIs(c.text("controls.camera_now", "name", after.Label)))
	if role := eval[string](t, cust, `document.getElementById('status').getAttribute('role')`); role != "status" {
		t.Errorf("the switch is announced with role %q, want the polite status", role)
	}
	if f := eval[string](t, cust, `document.activeElement.id`); f != "switch-cam" {
		t.Errorf("after the switch the focus is on #%s, want #switch-cam", f)
	}
	if mic := sent(t, cust, "audio"); mic.Enabled {
		t.Error("the microphone muted before the switch is on after it")
	}
	if p := eval[string](t, cust, `document.getElementById('toggle-mic').getAttribute('aria-pressed')`); p != "false" {
		t.Errorf("the microphone button says aria-pressed=%s after the switch, want false", p)
	}
	framesRise(t, agent, "the agent, after the switch", 10)
	waitJS(t, agent, slow, "the agent shows the customer's video", remoteVideosJS+` >= 1`)
	if !eval[bool](t, agent, customerMicOffJS) {
		t.Error("after the switch the agent no longer sees the customer's microphone off")
	}
	shoot(t, cust, c.lang+"-call-switched")

	// Devices: a dialog with the pickers; the focus goes in and comes back.
	act(t, cust, "open Devices", chromedp.Click(chromedp.ID("devices")))
	waitJS(t, cust, slow, "the Devices dialog opens", devicesOpenJS)
	waitJS(t, cust, slow, "the focus is in the dialog", `document.activeElement.id === 'devices-camera'`)
	label := eval[string](t, cust, `(() => { const d = document.getElementById('devices-dialog');
		return document.getElementById(d.getAttribute('aria-labelledby')).textContent })()`)
	if label != c.cat["controls.devices_heading"] {
		t.Errorf("the dialog is labelled %q, want %q", label, c.cat["controls.devices_heading"])
	}
	if got := eval[string](t, cust, `document.getElementById('devices-camera').value`); got != after.DeviceID {
		t.Errorf("the camera picker shows %q, want the camera in use %q", got, after.DeviceID)
	}
	shoot(t, cust, c.lang+"-devices-dialog")

	mic := chooseOther(t, cust, "devices-mic")
	if mic == "" {
		t.Fatal("the microphone picker offers no other microphone")
	}
	waitJS(t, cust, slow, "the customer sends the chosen microphone", sentDeviceIs("audio", mic))
	if sent(t, cust, "audio").Enabled {
		t.Error("the muted microphone is on after choosing another")
	}
	camera := chooseOther(t, cust, "devices-camera")
	waitJS(t, cust, slow, "the customer sends the chosen camera", sentDeviceIs("video", camera))
	if !sent(t, cust, "video").Preview {
		t.Error("the customer's own tile does not show the chosen camera")
	}
	act(t, cust, "Done", chromedp.Click(chromedp.ID("devices-done")))
	waitJS(t, cust, slow, "the dialog closes", `!`+devicesOpenJS)
	if f := eval[string](t, cust, `document.activeElement.id`); f != "devices" {
		t.Errorf("after the dialog the focus is on #%s, want #devices", f)
	}
	framesRise(t, agent, "the agent, after Devices", 10)

	// The microphone chosen is the one the agent hears once it is on.
	act(t, cust, "unmute", chromedp.Click(chromedp.ID("toggle-mic")))
	waitJS(t, agent, slow, "the agent sees the customer's microphone on", `!`+customerMicOffJS)
	energy := eval[float64](t, agent, audioEnergyJS)
	waitJS(t, agent, slow, "the agent hears the customer", `(async () => (await `+audioEnergyJS+`) > `+jsNum(energy)+`)()`)

	// A camera that is busy: the customer is told, and the old one goes on.
	// Only the other camera fails, so the phone's way round (let the old
	// camera go, try again, take it back) is taken too.
	current := sent(t, cust, "video")
	eval[bool](t, cust, fmt.Sprintf(`(() => {
		const md = navigator.mediaDevices, real = md.getUserMedia.bind(md);
		md.getUserMedia = (c) => {
			const id = c && c.video && c.video.deviceId && c.video.deviceId.exact;
			if (id && id !== %s) return Promise.reject(new DOMException('Could not start video source', 'NotReadableError'));
			return real(c);
		};
		return true;
	})()`, jsStr(current.DeviceID)))
	act(t, cust, "Switch camera to a busy one", chromedp.Click(chromedp.ID("switch-cam")))
	waitJS(t, cust, slow, "the customer is told the camera is busy", statusIs(c.cat["controls.camera_busy"]))
	if text := eval[string](t, cust, `document.body.innerText`); rawCode.MatchString(text) || strings.Contains(text, "NotReadableError") {
		t.Errorf("the page shows a code or a raw error:\n%s", text)
	}
	waitJS(t, cust, slow, "the customer still sends the old camera", sentDeviceIs("video", current.DeviceID))
	if !sent(t, cust, "video").Preview {
		t.Error("the customer's own tile lost the camera")
	}
	framesRise(t, agent, "the agent, after the failed switch", 10)
	shoot(t, cust, c.lang+"-call-switch-failed")
}

// TestBrowserCallPageSwitchCamera: on the plain call page too, Switch
// camera shows with two cameras and not with one, and the other person
// goes on decoding video after a switch.
func TestBrowserCallPageSwitchCamera(t *testing.T) {
	base, _ := startApp(t)
	url := createRoom(t, base)
	one := newTab(t, newBrowser(t, "en"))
	two := newTwoCameraBrowser(t, "en")
	joinCall(t, one, url, "Agent")
	joinCall(t, two, url, "Customer")
	for who, ctx := range map[string]context.Context{"one camera": one, "two cameras": two} {
		waitJS(t, ctx, slow, who+" sees remote video", remoteVideoJS)
		waitJS(t, ctx, slow, who+" has Devices", shown("devices"))
	}
	waitJS(t, two, slow, "Switch camera shows with two cameras", shown("switch-cam"))
	if eval[bool](t, one, shown("switch-cam")) {
		t.Error("Switch camera shows with one camera")
	}
	before := sent(t, two, "video")
	act(t, two, "Switch camera", chromedp.Click(chromedp.ID("switch-cam")))
	waitJS(t, two, slow, "another camera is sent", fmt.Sprintf(`(() => {
		const s = window.videosupport.publish.getSenders().find(s => s.track && s.track.kind === 'video');
		return s.track.readyState === 'live' && s.track.getSettings().deviceId !== %s;
	})()`, jsStr(before.DeviceID)))
	if !sent(t, two, "video").Preview {
		t.Error("the own tile does not show the new camera")
	}
	framesRise(t, one, "the other person", 10)
}
