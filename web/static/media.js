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
