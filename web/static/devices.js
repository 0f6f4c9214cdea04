// Camera and microphone pickers, shared by the waiting room and the
// call's Devices dialog: two <select>s that list the devices and show the
// ones the stream uses. What a pick does is up to the page (onPick).
import { t } from './i18n.js';
import { listDevices } from './media.js';

export class DevicePickers {
  // selects: { video: <select>, audio: <select> }; onPick(kind, deviceId)
  // runs when a person chooses another device.
  constructor(selects, onPick) {
    this.selects = selects;
    for (const kind of ['video', 'audio']) {
      selects[kind].addEventListener('change', () => onPick(kind, selects[kind].value));
    }
  }

  // fill lists the devices and selects the stream's own. A picker with no
  // device to choose, or whose kind the stream lacks, is disabled: a
  // track the call does not already send would need a new negotiation.
  // It resolves to the lists (listDevices), or null when they could not
  // be read.
  async fill(stream) {
    let devices;
    try {
      devices = await listDevices();
    } catch (err) {
      console.warn('devices:', err);
      return null;
    }
    for (const kind of ['video', 'audio']) {
      const select = this.selects[kind];
      const list = devices[kind];
      select.replaceChildren(...list.map((d, i) => {
        const opt = document.createElement('option');
        opt.value = d.deviceId;
        opt.textContent = deviceName(d, i);
        return opt;
      }));
      const id = deviceIdOf(trackOf(stream, kind));
      if (id) select.value = id;
      select.disabled = list.length === 0 || !trackOf(stream, kind);
    }
    return devices;
  }
}

// deviceName is what a person sees for the device at index i of its list:
// its label, or "Camera 2" when the browser gives none.
export function deviceName(device, i) {
  const word = device.kind === 'videoinput' ? t('wait.camera') : t('wait.microphone');
  return device.label || `${word} ${i + 1}`;
}

// nextCamera is the camera after the one with id current in cameras
// (from listDevices), round to the first; null when there is no other.
export function nextCamera(cameras, current) {
  if (cameras.length < 2) return null;
  const at = cameras.findIndex((d) => d.deviceId === current);
  return cameras[(at + 1) % cameras.length];
}

// trackOf is the stream's track of kind ('audio' or 'video'), if any.
export function trackOf(stream, kind) {
  if (!stream) return null;
  return (kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks())[0] || null;
}

// deviceIdOf is the id of the device a track comes from, or ''.
export function deviceIdOf(track) {
  return track && track.getSettings ? track.getSettings().deviceId || '' : '';
}
