// Camera and microphone: ask for both, fall back to the one that exists,
// and turn every getUserMedia failure into the catalog key of a message a
// person can act on.

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 30, max: 30 },
  facingMode: 'user',
};

// MediaProblem is a failure to get media; key names its message.
export class MediaProblem extends Error {
  constructor(key, cause) {
    super(`${key}${cause ? `: ${cause.name}: ${cause.message}` : ''}`);
    this.key = key;
    this.cause = cause;
  }
}

// getMedia resolves to { stream, note }: note is the catalog key of an
// information message when only the microphone or only the camera could
// be used, else null. It rejects with a MediaProblem.
export async function getMedia() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
      typeof RTCPeerConnection !== 'function') {
    // Also the case on plain http from another host: not a secure context.
    throw new MediaProblem('error.unsupported_browser');
  }
  const attempts = [
    [{ audio: AUDIO, video: VIDEO }, null],
    [{ audio: AUDIO }, 'status.audio_only'],
    [{ video: VIDEO }, 'status.video_only'],
  ];
  for (const [constraints, note] of attempts) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      return { stream, note };
    } catch (err) {
      if (!isMissing(err)) throw new MediaProblem(keyFor(err), err);
    }
  }
  throw new MediaProblem('error.no_devices');
}

function isMissing(err) {
  return ['NotFoundError', 'DevicesNotFoundError', 'OverconstrainedError'].includes(err.name);
}

function keyFor(err) {
  switch (err.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return 'error.permission_denied';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'error.device_in_use';
    case 'TypeError':
      return 'error.unsupported_browser';
    default:
      return 'error.generic';
  }
}

// listDevices lists the cameras and microphones the page may use. Their
// labels are known only once the page has been given a stream.
export async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return { video: [], audio: [] };
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    video: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
    audio: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
  };
}

// openDevice opens the camera or microphone deviceId (kind 'audio' or
// 'video') and resolves to its track; it rejects with a MediaProblem.
export async function openDevice(kind, deviceId) {
  const base = kind === 'audio' ? AUDIO : VIDEO;
  let fresh;
  try {
    fresh = await navigator.mediaDevices.getUserMedia({ [kind]: { ...base, deviceId: { exact: deviceId } } });
  } catch (err) {
    throw new MediaProblem(isMissing(err) ? 'error.no_devices' : keyFor(err), err);
  }
  return kind === 'audio' ? fresh.getAudioTracks()[0] : fresh.getVideoTracks()[0];
}

// replacementTrack opens the device deviceId to take the place of the
// track old, on or off as old is, and leaves old running. Phones often
// open one camera at a time: when the new device is busy, old is stopped
// and the new one tried again. Should that fail too, the old device is
// opened again and handed back on the MediaProblem as .restored, for the
// caller to put where old was.
export async function replacementTrack(old, deviceId) {
  let track;
  try {
    track = await openDevice(old.kind, deviceId);
  } catch (err) {
    if (err.key !== 'error.device_in_use') throw err;
    const oldId = old.getSettings().deviceId;
    old.stop();
    try {
      track = await openDevice(old.kind, deviceId);
    } catch (again) {
      again.restored = oldId ? await openDevice(old.kind, oldId).catch(() => null) : null;
      if (again.restored) again.restored.enabled = old.enabled;
      throw again;
    }
  }
  track.enabled = old.enabled;
  return track;
}

// swapTrack puts track in stream instead of the stream's tracks of its
// kind, which stop, so the old device's light goes out.
export function swapTrack(stream, track) {
  for (const t of stream.getTracks()) {
    if (t.kind !== track.kind || t === track) continue;
    stream.removeTrack(t);
    t.stop();
  }
  if (!stream.getTrackById(track.id)) stream.addTrack(track);
}

// switchDevice replaces the stream's track of kind ('audio' or 'video')
// with one from the device deviceId, keeping whether it was enabled, or
// adds one when the stream has none (before a call, nothing is sent yet).
export async function switchDevice(stream, kind, deviceId) {
  const old = kind === 'audio' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
  let track;
  try {
    track = old ? await replacementTrack(old, deviceId) : await openDevice(kind, deviceId);
  } catch (err) {
    if (err.restored) swapTrack(stream, err.restored);
    throw err;
  }
  swapTrack(stream, track);
  return track;
}

// LevelMeter follows the loudness of a stream's microphone, for a meter
// that shows a person their microphone works. onLevel(0..1) is called
// about ten times a second until stop().
export class LevelMeter {
  constructor(onLevel) {
    this.onLevel = onLevel;
    this.ctx = null;
    this.source = null;
    this.timer = 0;
  }

  follow(stream) {
    const track = stream.getAudioTracks()[0];
    this.disconnect();
    if (!track) {
      this.onLevel(0);
      return;
    }
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!this.ctx) this.ctx = new Ctx();
    // Started from a click, so the context may run; resume in case it
    // was created suspended.
    this.ctx.resume().catch(() => {});
    this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = this.ctx.createAnalyser();
    analyser.fftSize = 1024;
    this.source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const x of buf) sum += x * x;
      const rms = Math.sqrt(sum / buf.length);
      // Speech sits around 0.02-0.2 RMS; a square root spreads it over
      // the meter so a normal voice fills about half of it.
      this.onLevel(track.enabled ? Math.min(1, Math.sqrt(rms) * 1.6) : 0);
    }, 100);
  }

  disconnect() {
    clearInterval(this.timer);
    if (this.source) this.source.disconnect();
    this.source = null;
  }

  stop() {
    this.disconnect();
    if (this.ctx) this.ctx.close().catch(() => {});
    this.ctx = null;
  }
}
