// The waiting room's checks: the person's own camera preview, a level
// meter for the microphone, camera and microphone pickers, and a check of
// the connection to the server in plain words. And, once the person has
// waited too long, a way to leave a message instead.
//
// The stream shown here is the one the call publishes once the person is
// let in: picking another device swaps the track inside that stream.
import { setText } from './i18n.js';
import { getMedia, switchDevice, LevelMeter } from './media.js';
import { DevicePickers } from './devices.js';
import { post } from './api.js';

const $ = (id) => document.getElementById(id);

// Round trips to /healthz above this (median, ms) make a weak connection.
const WEAK_RTT = 400;
const PROBES = 5;

export class WaitingRoom {
  // callId is the call's id; onDeviceError(key) reports a device that
  // could not be switched to.
  constructor(callId, { onDeviceError = () => {} } = {}) {
    this.callId = callId;
    this.onDeviceError = onDeviceError;
    this.ui = {
      preview: $('preview'),
      previewOff: $('preview-off'),
      level: $('mic-level'),
      camera: $('camera-select'),
      mic: $('mic-select'),
      net: $('net-result'),
      long: $('wait-long'),
      longHeading: $('wait-long-heading'),
      longText: $('wait-long-text'),
      form: $('message-form'),
      message: $('message'),
      messageError: $('message-error'),
      send: $('send-message'),
      sent: $('message-sent'),
    };
    this.stream = null;
    this.media = null;
    this.meter = new LevelMeter((v) => { this.ui.level.value = v; });
    this.longTimer = 0;
    this.http = 'checking';
    this.socket = 'checking';
    this.rtt = 0;
    this.pickers = new DevicePickers({ video: this.ui.camera, audio: this.ui.mic }, (kind, id) => this.pick(kind, id));
    this.ui.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendMessage();
    });
    // Tests read the checks' results here.
    this.report = { rtt: 0, http: 'checking', socket: 'checking' };
  }

  // open asks for the camera and microphone (once per stay in the room)
  // and resolves to what Session's getMedia resolves to.
  open() {
    if (!this.media) {
      this.media = getMedia().then((m) => {
        this.stream = m.stream;
        this.show();
        this.fillPickers();
        return m;
      });
      this.media.catch(() => { this.media = null; });
    }
    return this.media;
  }

  show() {
    const hasVideo = this.stream.getVideoTracks().length > 0;
    this.ui.preview.srcObject = hasVideo ? this.stream : null;
    this.ui.previewOff.hidden = hasVideo;
    this.ui.camera.disabled = !hasVideo;
    if (hasVideo) this.ui.preview.play().catch(() => {});
    this.meter.follow(this.stream);
  }

  fillPickers() {
    return this.pickers.fill(this.stream);
  }

  async pick(kind, deviceId) {
    if (!this.stream || !deviceId) return;
    try {
      await switchDevice(this.stream, kind, deviceId);
    } catch (err) {
      console.error('switch device:', err);
      this.onDeviceError(err.key || 'error.generic');
    }
    // On failure too: the pickers show the device still (or again) in use.
    this.show();
    this.fillPickers();
  }

  // checkNetwork times a few round trips to the server; the signaling
  // socket's result comes from socketResult.
  async checkNetwork() {
    this.http = 'checking';
    this.render();
    const times = [];
    for (let i = 0; i < PROBES; i++) {
      const t0 = performance.now();
      try {
        const res = await fetch(`/healthz?probe=${i}`, { cache: 'no-store' });
        await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        times.push(performance.now() - t0);
      } catch (err) {
        console.warn('network check:', err);
      }
    }
    if (!times.length) {
      this.http = 'none';
    } else {
      times.sort((a, b) => a - b);
      this.rtt = Math.round(times[Math.floor(times.length / 2)]);
      this.http = times.length < PROBES || this.rtt > WEAK_RTT ? 'weak' : 'good';
    }
    this.render();
  }

  // socketResult records whether the signaling websocket opened.
  socketResult(ok) {
    this.socket = ok ? 'good' : 'none';
    this.render();
  }

  render() {
    let state = 'checking';
    if (this.http === 'none' || this.socket === 'none') state = 'none';
    else if (this.http === 'checking' || this.socket === 'checking') state = 'checking';
    else state = this.http;
    this.ui.net.dataset.state = state;
    const keys = { checking: 'wait.net_checking', good: 'wait.net_good', weak: 'wait.net_weak', none: 'wait.net_none' };
    setText(this.ui.net, keys[state], { ms: String(this.rtt) });
    this.report = { rtt: this.rtt, http: this.http, socket: this.socket, state };
  }

  // startClock offers, after seconds in the waiting room, to leave a
  // message instead.
  startClock(seconds, hostName) {
    clearTimeout(this.longTimer);
    if (!(seconds > 0)) return;
    this.longTimer = setTimeout(() => this.tooLong(hostName), seconds * 1000);
  }

  tooLong(hostName) {
    this.ui.long.hidden = false;
    if (hostName) setText(this.ui.longText, 'wait.long_text', { name: hostName });
    else setText(this.ui.longText, 'wait.long_text_anon');
    this.ui.longHeading.focus();
  }

  async sendMessage() {
    const body = this.ui.message.value.trim();
    const { messageError: err, message, send } = this.ui;
    if (!body) {
      setText(err, 'wait.message_empty');
      err.hidden = false;
      message.setAttribute('aria-invalid', 'true');
      message.focus();
      return;
    }
    err.hidden = true;
    message.removeAttribute('aria-invalid');
    send.setAttribute('aria-disabled', 'true');
    try {
      await post(`/calls/${encodeURIComponent(this.callId)}/message`, { body });
    } catch (e) {
      console.error('leave a message:', e);
      setText(err, 'wait.message_failed');
      err.hidden = false;
      send.removeAttribute('aria-disabled');
      return;
    }
    send.removeAttribute('aria-disabled');
    this.ui.form.hidden = true;
    setText(this.ui.sent, 'wait.message_sent');
    this.ui.sent.hidden = false;
    this.ui.sent.focus();
  }

  // leaveRoom stops the checks; the stream goes on into the call (or is
  // stopped by the session).
  leaveRoom() {
    clearTimeout(this.longTimer);
    this.meter.stop();
    this.ui.preview.srcObject = null;
    this.media = null;
    this.ui.long.hidden = true;
  }
}
