// Changing camera and microphone during a call, on the call page and the
// join page alike: "Switch camera" in the control bar (only on a device
// with more than one camera) moves to the next camera with one press, as
// a patient turning a phone to its rear camera needs; "Devices" opens a
// dialog with the camera and microphone pickers of the waiting room, for
// a clinician moving to a headset. A choice applies at once, through the
// session (Session.useDevice); the change is announced politely, and a
// failure is told in plain words while the old device goes on.
//
// The module builds its own buttons and dialog, so the two pages' HTML
// stays as it is.
import { setText } from './i18n.js';
import { pathIcon } from './icons.js';
import { DevicePickers, deviceName, nextCamera, trackOf, deviceIdOf } from './devices.js';

// A camera with two arrows going round, and two sliders.
const ICON_SWITCH = 'M4 7h3l1.5-2h7L17 7h3a1.5 1.5 0 0 1 1.5 1.5v9A1.5 1.5 0 0 1 20 19H4a1.5 1.5 0 0 1-1.5-1.5v-9A1.5 1.5 0 0 1 4 7zM9 12.5a3 3 0 0 1 5.2-2M15 13.5a3 3 0 0 1-5.2 2M14.5 8.3v2.4h-2.4M9.5 17.7v-2.4h2.4';
const ICON_DEVICES = 'M3.5 7h10M18.5 7h2M3.5 17h2M10.5 17h10M16 4.5a2.5 2.5 0 1 1 0 5 2.5 2.5 0 0 1 0-5zM8 14.5a2.5 2.5 0 1 1 0 5 2.5 2.5 0 0 1 0-5z';

// What a failed switch says, by the MediaProblem's key; the rest get
// the plain "could not".
const FAILED = {
  video: { 'error.device_in_use': 'controls.camera_busy', 'error.permission_denied': 'controls.camera_blocked', other: 'controls.camera_failed' },
  audio: { 'error.device_in_use': 'controls.mic_busy', 'error.permission_denied': 'controls.mic_blocked', other: 'controls.mic_failed' },
};

export class CallDevices {
  // opts: controls (the call's control bar, holding #toggle-cam),
  // session() (the page's current Session, or null), notice (Notice).
  constructor(opts) {
    this.opts = opts;
    this.on = false;
    this.busy = false;
    this.cameras = [];
    this.lists = { video: [], audio: [] };
    this.before = null;
    this.build();
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      // A headset plugged in, a webcam pulled out.
      navigator.mediaDevices.addEventListener('devicechange', () => this.refresh());
    }
  }

  build() {
    const switchCam = ctl('switch-cam', ICON_SWITCH, 'controls.switch_cam');
    switchCam.hidden = true;
    switchCam.addEventListener('click', () => this.switchCamera());
    const open = ctl('devices', ICON_DEVICES, 'controls.devices');
    open.hidden = true;
    open.setAttribute('aria-haspopup', 'dialog');
    open.addEventListener('click', () => this.openDialog());
    this.opts.controls.querySelector('#toggle-cam').after(switchCam, open);

    const dialog = el('dialog', 'dialog devices-dialog');
    dialog.id = 'devices-dialog';
    dialog.setAttribute('aria-labelledby', 'devices-heading');
    const heading = el('h2');
    heading.id = 'devices-heading';
    heading.tabIndex = -1;
    setText(heading, 'controls.devices_heading');
    const camera = picker('devices-camera', 'wait.camera');
    const mic = picker('devices-mic', 'wait.microphone');
    const error = el('p', 'field-error');
    error.id = 'devices-error';
    error.setAttribute('role', 'alert');
    error.hidden = true;
    const buttons = el('div', 'dialog-buttons');
    const done = el('button', 'btn btn-primary');
    done.type = 'button';
    done.id = 'devices-done';
    setText(done, 'controls.devices_done');
    done.addEventListener('click', () => dialog.close());
    buttons.append(done);
    dialog.append(heading, camera.field, mic.field, error, buttons);
    dialog.addEventListener('close', () => this.restoreFocus());
    document.body.append(dialog);

    this.pickers = new DevicePickers({ video: camera.select, audio: mic.select }, (kind, id) => this.use(kind, id));
    this.ui = { switchCam, open, dialog, camera: camera.select, mic: mic.select, error };
  }

  // show turns the controls on while the page shows the call, and off
  // (closing the dialog) when it does not.
  show(on) {
    this.on = on;
    if (!on && this.ui.dialog.open) this.ui.dialog.close();
    this.refresh();
  }

  stream() {
    const s = this.opts.session();
    return s && !s.ended ? s.stream : null;
  }

  // refresh reads the devices again: the pickers, and whether there is a
  // camera to switch to.
  async refresh() {
    const stream = this.stream();
    const u = this.ui;
    u.open.hidden = !this.on || !stream;
    if (!this.on || !stream) {
      u.switchCam.hidden = true;
      return;
    }
    const lists = await this.pickers.fill(stream);
    if (lists) this.lists = lists;
    u.switchCam.hidden = !this.on || !trackOf(this.stream(), 'video') || this.lists.video.length < 2;
  }

  async switchCamera() {
    if (this.busy) return;
    const next = nextCamera(this.lists.video, deviceIdOf(trackOf(this.stream(), 'video')));
    if (next) await this.use('video', next.deviceId);
  }

  // use moves the call to the device deviceId and says how that went.
  async use(kind, deviceId) {
    const s = this.opts.session();
    if (!s || s.ended || !deviceId || this.busy) return;
    this.busy = true;
    this.ui.switchCam.setAttribute('aria-disabled', 'true');
    this.ui.error.hidden = true;
    let track = null;
    let problem = null;
    try {
      track = await s.useDevice(kind, deviceId);
    } catch (err) {
      console.error('switch device:', err);
      problem = err;
    }
    this.busy = false;
    this.ui.switchCam.removeAttribute('aria-disabled');
    // The pickers show the device in use, the old one after a failure.
    await this.refresh();
    if (problem) {
      this.failed(kind, problem.key);
      return;
    }
    const list = this.lists[kind];
    const at = list.findIndex((d) => d.deviceId === deviceIdOf(track));
    const name = at >= 0 ? deviceName(list[at], at) : track.label;
    this.opts.notice.info(kind === 'video' ? 'controls.camera_now' : 'controls.mic_now', { name }, { timeout: 6000 });
  }

  failed(kind, key) {
    const words = FAILED[kind][key] || FAILED[kind].other;
    if (this.ui.dialog.open) {
      setText(this.ui.error, words);
      this.ui.error.hidden = false;
    } else {
      // The call goes on with the old device, so the words go after a
      // while instead of covering the picture for the rest of the call.
      this.opts.notice.error(words, { timeout: 15000 });
    }
  }

  // openDialog shows the pickers and moves the focus to the first one.
  async openDialog() {
    const u = this.ui;
    if (u.dialog.open) return;
    this.before = document.activeElement;
    u.error.hidden = true;
    u.dialog.showModal();
    await this.refresh();
    if (!u.dialog.open) return;
    (u.camera.disabled ? u.mic : u.camera).focus();
  }

  // restoreFocus gives the focus back to the button that opened the
  // dialog, or to Devices when that one is gone.
  restoreFocus() {
    const back = this.before && this.before.isConnected && !this.before.closest('[hidden]') ? this.before : this.ui.open;
    this.before = null;
    if (!back.hidden && back.isConnected) back.focus();
  }
}

function ctl(id, d, key) {
  const button = el('button', 'ctl');
  button.type = 'button';
  button.id = id;
  const text = el('span', 'ctl-text');
  setText(text, key);
  button.append(pathIcon(d), text);
  return button;
}

function picker(id, key) {
  const field = el('div', 'field');
  const label = el('label');
  label.htmlFor = id;
  setText(label, key);
  const select = el('select', 'device-select');
  select.id = id;
  field.append(label, select);
  return { field, select };
}

function el(tag, className) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  return e;
}
