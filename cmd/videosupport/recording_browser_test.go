package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"videosupport/internal/testenv"
)

// These tests follow a recorded call as people see it, in headless
// Chromium: an agent (console and call page) and a customer (chat and
// join page), each in a browser of their own. With VS_SHOTS=<dir> they
// save screenshots: the customer's phone (the consent question, the
// indicator, the declined state) and the agent's console (the recording
// being prepared, the player), in VS_SHOTS_LANG.

// enterRecordedCall is a browser call ready to be recorded.
func enterRecordedCall(t *testing.T) *browserCall {
	t.Helper()
	testenv.LookTool(t, "ffmpeg")
	return enterBrowserCall(t, func(t *testing.T, lang string) context.Context { return newBrowser(t, lang) })
}

const (
	recBarJS       = `(() => { const b = document.querySelector('.rec-bar'); return !!b && !b.hidden && b.checkVisibility() })()`
	consentOpenJS  = `document.getElementById('consent-dialog').open`
	customerTileJS = `document.querySelector('.tile:not([data-participant="local"]) .rec-consent')`
)

// startRecording: the agent presses Record; the customer sees the
// indicator and is asked, in a dialog that has the focus.
func (c *browserCall) startRecording(t *testing.T) {
	t.Helper()
	if got := eval[string](t, c.agent, `document.querySelector('#rec-toggle .ctl-text').textContent`); got != c.cat["recording.start"] {
		t.Errorf("the agent's button reads %q, want %q", got, c.cat["recording.start"])
	}
	if eval[bool](t, c.cust, `!!document.getElementById('rec-toggle') && !document.getElementById('rec-toggle').hidden`) {
		t.Error("the customer is offered the Record button")
	}
	act(t, c.agent, "Record", chromedp.Click(chromedp.ID("rec-toggle")))
	waitJS(t, c.agent, slow, "the agent's page shows the indicator", recBarJS)
	waitJS(t, c.agent, slow, "the agent's button now stops",
		`document.querySelector('#rec-toggle .ctl-text').textContent === `+jsStr(c.cat["recording.stop"]))
	if eval[bool](t, c.agent, consentOpenJS) {
		t.Error("the agent, who started recording, is asked for consent")
	}
	waitJS(t, c.cust, slow, "the customer sees the recording indicator", recBarJS+
		` && document.querySelector('.rec-indicator').textContent === `+jsStr(c.cat["recording.indicator"]))
	waitJS(t, c.cust, slow, "the customer is asked for consent", consentOpenJS)
	if got, want := eval[string](t, c.cust, `document.getElementById('consent-heading').textContent`), c.text("consent.heading", "name", "Amira"); got != want {
		t.Errorf("the question reads %q, want %q", got, want)
	}
	if !eval[bool](t, c.cust, `document.getElementById('consent-dialog').contains(document.activeElement)`) {
		t.Error("the consent dialog does not have the focus")
	}
	label := eval[string](t, c.cust, `(() => { const d = document.getElementById('consent-dialog');
		return document.getElementById(d.getAttribute('aria-labelledby')).textContent })()`)
	if label == "" {
		t.Error("the consent dialog has no label")
	}
	for _, id := range []string{"consent-agree", "consent-decline"} {
		if h := eval[float64](t, c.cust, `document.getElementById('`+id+`').getBoundingClientRect().height`); h < 44 {
			t.Errorf("#%s is %.0f px high, want at least 44", id, h)
		}
	}
	waitJS(t, c.agent, slow, "the agent sees that the customer has not answered",
		`!!`+customerTileJS+` && `+customerTileJS+`.dataset.consent === 'pending'`)
}

// TestBrowserRecordingAgreed: the agent records, the customer agrees, the
// agent sees it and stops; the console lists the recording, follows it to
// ready, and plays it.
func TestBrowserRecordingAgreed(t *testing.T) {
	c := enterRecordedCall(t)
	c.startRecording(t)
	shoot(t, c.cust, c.lang+"-rec-consent")

	act(t, c.cust, "I agree", chromedp.Click(chromedp.ID("consent-agree")))
	waitJS(t, c.cust, slow, "the question is gone", `!`+consentOpenJS)
	waitJS(t, c.cust, slow, "the customer is told they are recorded",
		`document.querySelector('.rec-mine').textContent === `+jsStr(c.cat["consent.agreed"]))
	if eval[bool](t, c.cust, `document.body === document.activeElement || document.getElementById('consent-dialog').contains(document.activeElement)`) {
		t.Error("the focus did not go back to the page after the question")
	}
	shoot(t, c.cust, c.lang+"-rec-indicator")
	waitJS(t, c.agent, slow, "the agent sees that the customer agreed", customerTileJS+`?.dataset.consent === 'agreed'`)
	if got := eval[string](t, c.agent, customerTileJS+`.textContent`); got != c.cat["recording.consent_agreed"] {
		t.Errorf("the customer's tile says %q, want %q", got, c.cat["recording.consent_agreed"])
	}
	shoot(t, c.agent, c.lang+"-rec-staff")
	framesRise(t, c.agent, "the agent", 60) // a few seconds of the call are recorded

	act(t, c.agent, "Stop recording", chromedp.Click(chromedp.ID("rec-toggle")))
	waitJS(t, c.cust, slow, "the customer's indicator goes", `!`+recBarJS)
	waitJS(t, c.agent, slow, "the agent's indicator goes", `!`+recBarJS)
	if eval[bool](t, c.agent, `!!`+customerTileJS) {
		t.Error("consent marks stay on the tiles after recording stopped")
	}

	// The console lists the recording and follows it to ready.
	item := `document.querySelector('#recordings .rec-item')`
	waitJS(t, c.console, slow, "the console lists the recording", `!document.getElementById('recordings').hidden && !!`+item)
	if eval[bool](t, c.console, item+`.dataset.status === 'processing'`) {
		waitJS(t, c.console, slow, "a progress bar while the file is made",
			`!!document.querySelector('#recordings .rec-item progress') || `+item+`.dataset.status === 'ready'`)
	}
	waitJS(t, c.console, 2*slow, "the recording is ready", item+`.dataset.status === 'ready'`)
	facts := eval[string](t, c.console, item+`.querySelector('.rec-facts').textContent`)
	for _, want := range []string{"Amira", "Wei Chen", c.cat["recording.label_size"]} {
		if !strings.Contains(facts, want) {
			t.Errorf("the recording's facts %q lack %q", facts, want)
		}
	}
	if !regexp.MustCompile(`\d:\d\d`).MatchString(facts) && c.lang == "en" {
		t.Errorf("the recording's facts %q show no length", facts)
	}
	act(t, c.console, "Play", chromedp.Click(chromedp.CSS(`#recordings .rec-item .rec-play`)))
	waitJS(t, c.console, slow, "the recording plays in the console",
		`(() => { const v = document.getElementById('recording-video'); return !!v && v.readyState >= 2 && v.currentTime > 0.5 })()`)
	if d := eval[float64](t, c.console, `document.getElementById('recording-video').duration`); d < 1 {
		t.Errorf("the player says the recording lasts %.2f s", d)
	}
	if c.lang == "en" && os.Getenv("VS_SHOTS") != "" {
		t.Log("screenshots in", os.Getenv("VS_SHOTS"))
	}
	shootProcessing(t, c)
	shoot(t, c.console, c.lang+"-rec-console-player")
	types := strings.Join(eval[[]string](t, c.console, timelineTypes(c.convID)), " ")
	for _, e := range []string{"recording.started", "recording.consent", "recording.stopped", "recording.ready", "recording.played"} {
		if !strings.Contains(types, e) {
			t.Errorf("the record lacks %s: %s", e, types)
		}
	}
	// The console's timeline says them in words.
	if c.lang == "en" {
		waitJS(t, c.console, 10*time.Second, "the console's timeline shows the recording steps in words",
			`[...document.querySelectorAll('[data-type^="recording."]')].map(e => e.textContent).join(' | ').includes('agreed to be recorded') &&
			 [...document.querySelectorAll('[data-type="recording.ready"]')].some(e => e.textContent.includes('Recording ready'))`)
	}
}

// shootProcessing saves the console with a recording being prepared, for
// people to look at: the file of a short call is made too fast to catch,
// so a copy of the real one is shown as processing at 42%.
func shootProcessing(t *testing.T, c *browserCall) {
	t.Helper()
	if os.Getenv("VS_SHOTS") == "" {
		return
	}
	eval[bool](t, c.console, `(() => { const r = window.videosupportRecordings;
		r.items.unshift({...r.items[0], id: 'r-shot', status: 'processing', progress: 0.42, size: 0, startedAt: new Date().toISOString()});
		r.render(); return true })()`)
	shoot(t, c.console, c.lang+"-rec-console-processing")
	eval[bool](t, c.console, `(() => { const r = window.videosupportRecordings; r.items.shift(); r.render(); return true })()`)
}

// TestBrowserRecordingDeclined: the customer says no; they are told
// plainly that they are not recorded and the call goes on; the agent sees
// who declined. The customer then changes their mind and agrees.
func TestBrowserRecordingDeclined(t *testing.T) {
	c := enterRecordedCall(t)
	c.startRecording(t)
	act(t, c.cust, "Don't record me", chromedp.Click(chromedp.ID("consent-decline")))
	waitJS(t, c.cust, slow, "the question is gone", `!`+consentOpenJS)
	waitJS(t, c.cust, slow, "the customer is told they are not recorded",
		`document.querySelector('.rec-mine').textContent === `+jsStr(c.cat["consent.declined"]))
	if !eval[bool](t, c.cust, recBarJS) {
		t.Error("the indicator went away for the customer who declined; the call is still recorded")
	}
	shoot(t, c.cust, c.lang+"-rec-declined")
	waitJS(t, c.agent, slow, "the agent sees that the customer declined", customerTileJS+`?.dataset.consent === 'declined'`)
	if got := eval[string](t, c.agent, customerTileJS+`.textContent`); got != c.cat["recording.consent_declined"] {
		t.Errorf("the customer's tile says %q, want %q", got, c.cat["recording.consent_declined"])
	}
	// The call goes on for both.
	framesRise(t, c.cust, "the customer", 10)
	framesRise(t, c.agent, "the agent", 10)
	if v := eval[string](t, c.cust, joinView); v != "call" {
		t.Errorf("the customer is on view %q after declining, want the call", v)
	}
	// They can change their mind, with the same question.
	answer := `document.querySelector('.rec-answer')`
	waitJS(t, c.cust, slow, "the customer is offered to change their answer",
		`!`+answer+`.hidden && `+answer+`.textContent === `+jsStr(c.cat["consent.change"]))
	act(t, c.cust, "Change my answer", chromedp.Click(chromedp.CSS(".rec-answer")))
	waitJS(t, c.cust, slow, "the question is asked again", consentOpenJS)
	act(t, c.cust, "I agree", chromedp.Click(chromedp.ID("consent-agree")))
	waitJS(t, c.agent, slow, "the agent sees that the customer now agrees", customerTileJS+`?.dataset.consent === 'agreed'`)
}

// TestConsentTextVersion: the consent words the pages show and the
// version the server records answers against are the same.
func TestConsentTextVersion(t *testing.T) {
	src, err := os.ReadFile("../../web/static/recordingui.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`CONSENT_TEXT_VERSION = '([^']*)'`).FindSubmatch(src)
	if m == nil || string(m[1]) != consentVersion {
		t.Fatalf("recordingui.js shows consent text version %q, the server records %q: change both with the words", m, consentVersion)
	}
}
