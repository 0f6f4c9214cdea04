// One attempt to be in a call: camera and microphone, the signaling
// websocket and the two peer connections of docs/protocol.md.
//
// "publish" carries our camera and microphone up; we offer, the server
// answers, once, at join. "subscribe" carries everyone else down; the
// server offers (again whenever a track comes or goes), we answer. Each
// connection has one offerer, so offers never cross.
//
// The session reports to the page through callbacks and never touches
// the page's views itself; it does own the tiles of the people in the call.
//
// In a call tied to a conversation a customer first waits to be let in:
// the server answers the join with "waiting", later "admitted", and the
// session then joins again by itself. Staff in such a call hear of the
// people knocking. Both go through optional callbacks (onWaiting,
// onAdmitted, onKnocking), so the plain call page needs none of them.
// Recording (its joined state, recording and consent frames, errors about
// record and consent, and {type: 'ended'} when the session ends) goes to
// the optional onRecording the same way (recordingui.js).
import { Signal, signalURL } from './signal.js';
import { LOCAL } from './tiles.js';
import { MediaProblem, replacementTrack, swapTrack } from './media.js';

// Server error codes after which the server closes the websocket, plus
// the two after which this session cannot go on either.
const FATAL = new Set([
  'room_not_found', 'forbidden', 'room_full', 'server_busy', 'connection_failed',
  'negotiation_failed', 'internal',
]);
// Codes where trying again with the same link cannot help.
const FINAL = new Set(['room_not_found', 'forbidden', 'declined', 'call_ended', 'link_in_use']);

const JOIN_TIMEOUT = 15000;

export class Session {
  // opts: room, name, grid, getMedia and the on* callbacks used below.
  constructor(opts) {
    this.opts = opts;
    this.grid = opts.grid;
    this.stream = null;
    this.signal = null;
    this.pcs = {};
    this.senders = {}; // kind -> the publish connection's RTCRtpSender
    this.switching = Promise.resolve();
    this.pending = { publish: [], subscribe: [] };
    this.people = new Map();
    this.watched = new WeakSet();
    this.joined = false;
    this.waiting = false;
    this.ended = false;
    this.note = null;
    this.joinTimer = 0;
  }

  async start() {
    this.opts.onAsking();
    try {
      const media = await this.opts.getMedia();
      this.stream = media.stream;
      this.note = media.note;
    } catch (err) {
      console.error('media:', err);
      this.fail(err.key || 'error.generic');
      return;
    }
    if (this.ended) {
      this.stopMedia();
      return;
    }
    this.opts.onConnecting();
    this.signal = new Signal(signalURL(), {
      onMessage: (msg) => this.handle(msg),
      onClose: (ev) => this.socketClosed(ev),
    });
    try {
      await this.signal.open();
    } catch (err) {
      console.error('signal:', err);
      this.fail('error.server_unreachable');
      return;
    }
    if (this.ended) return;
    if (this.opts.onSignalOpen) this.opts.onSignalOpen();
    this.sendJoin();
  }

  async handle(msg) {
    if (this.ended) return;
    switch (msg.type) {
      case 'joined': return this.onJoined(msg);
      case 'answer': return this.onAnswer(msg);
      case 'offer': return this.onOffer(msg);
      case 'candidate': return this.onCandidate(msg);
      case 'mute': return this.onMute(msg);
      case 'participant-joined': return this.onParticipantJoined(msg);
      case 'participant-left': return this.onParticipantLeft(msg);
      case 'track-published': return undefined; // the subscribe offer follows
      case 'track-unpublished': return this.onTrackUnpublished(msg);
      case 'waiting': return this.onWaiting();
      case 'admitted': return this.onAdmitted(msg);
      case 'knock': return this.knocking('knock', msg.participant);
      case 'declined': return this.knocking('declined', msg.participant);
      case 'bye': return this.onBye(msg);
      case 'recording':
      case 'consent': return this.recording(msg);
      case 'error': return this.onError(msg);
      default:
        console.warn('signal: unknown message', msg.type);
        return undefined;
    }
  }

  async onJoined(msg) {
    if (this.joined) return;
    this.joined = true;
    clearTimeout(this.joinTimer);
    const devices = this.devices();
    this.grid.clear();
    this.grid.setLocalStream(this.stream, {
      name: (msg.you && msg.you.name) || this.opts.name,
      audioMuted: devices.audio !== true,
      videoMuted: devices.video !== true,
    });
    for (const p of msg.participants || []) this.upsertPerson(p);
    for (const p of msg.waiting || []) this.knocking('knock', p);
    this.pcs.subscribe = this.makePeer('subscribe');
    this.pcs.publish = this.makePeer('publish');
    this.opts.onPeers(this.pcs.publish, this.pcs.subscribe);
    this.opts.onJoined(this.note);
    this.recording(msg);
    await this.publish();
  }

  // onWaiting: we are in the waiting room; no timeout runs while we wait.
  onWaiting() {
    if (this.joined) return;
    this.waiting = true;
    clearTimeout(this.joinTimer);
    if (this.opts.onWaiting) this.opts.onWaiting();
  }

  // onAdmitted: to a waiting customer, the door opens (join again); to
  // staff, someone was let in by one of them.
  onAdmitted(msg) {
    if (this.joined) {
      this.knocking('admitted', msg.participant);
      return;
    }
    if (!this.waiting) return;
    this.waiting = false;
    if (this.opts.onAdmitted) this.opts.onAdmitted();
    this.sendJoin();
  }

  // knocking tells the page of the waiting room's changes: kind is knock,
  // admitted, declined or left.
  knocking(kind, p) {
    if (!p || !p.id || !this.opts.onKnocking) return;
    this.opts.onKnocking(kind, p);
  }

  onBye(msg) {
    const ended = msg.reason === 'call-ended' || msg.reason === 'call_ended';
    this.fail(ended ? 'error.call_ended' : 'error.bye', { retry: !ended });
  }

  sendJoin() {
    this.signal.send({ type: 'join', room: this.opts.room, name: this.opts.name });
    clearTimeout(this.joinTimer);
    this.joinTimer = setTimeout(() => {
      if (!this.joined && !this.waiting) this.fail('error.server_unreachable');
    }, JOIN_TIMEOUT);
  }

  // send passes a frame to the server (admit, decline, end).
  send(msg) {
    if (this.signal && !this.ended) this.signal.send(msg);
  }

  // publish sends our tracks, audio first, each send-only and in our
  // stream, so the server sees them as one participant's media.
  async publish() {
    const pc = this.pcs.publish;
    const tracks = [...this.stream.getAudioTracks(), ...this.stream.getVideoTracks()];
    for (const track of tracks) {
      this.senders[track.kind] = pc.addTransceiver(track, { direction: 'sendonly', streams: [this.stream] }).sender;
    }
    try {
      await pc.setLocalDescription(await pc.createOffer());
    } catch (err) {
      console.error('publish offer:', err);
      this.fail('error.negotiation_failed');
      return;
    }
    this.signal.send({ type: 'offer', pc: 'publish', sdp: pc.localDescription.sdp });
  }

  makePeer(name) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    pc.addEventListener('icecandidate', (ev) => {
      // A null or empty candidate ends gathering; the server needs no word.
      if (!ev.candidate || !ev.candidate.candidate) return;
      this.signal.send({ type: 'candidate', pc: name, candidate: ev.candidate.toJSON() });
    });
    pc.addEventListener('connectionstatechange', () => this.connectionChanged(pc));
    if (name === 'subscribe') pc.addEventListener('track', (ev) => this.onTrack(ev));
    return pc;
  }

  connectionChanged(pc) {
    if (this.ended) return;
    switch (pc.connectionState) {
      case 'failed':
        this.fail('error.connection_failed');
        break;
      case 'disconnected':
        this.opts.onReconnecting(true);
        break;
      case 'connected':
        this.opts.onReconnecting(false);
        break;
      default:
    }
  }

  async onAnswer(msg) {
    const pc = this.pcs.publish;
    if (msg.pc !== 'publish' || !pc) return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      await this.flushCandidates('publish');
    } catch (err) {
      console.error('publish answer:', err);
      this.fail('error.negotiation_failed');
    }
  }

  async onOffer(msg) {
    const pc = this.pcs.subscribe;
    if (msg.pc !== 'subscribe' || !pc) return;
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
      await this.flushCandidates('subscribe');
      await pc.setLocalDescription(await pc.createAnswer());
    } catch (err) {
      console.error('subscribe offer:', err);
      this.fail('error.negotiation_failed');
      return;
    }
    this.signal.send({ type: 'answer', pc: 'subscribe', sdp: pc.localDescription.sdp });
  }

  // onCandidate adds a server candidate, or keeps it until the remote
  // description it belongs to is set.
  async onCandidate(msg) {
    const c = msg.candidate;
    if (!c || !c.candidate || !(msg.pc in this.pending)) return;
    const pc = this.pcs[msg.pc];
    if (!pc || !pc.remoteDescription) {
      this.pending[msg.pc].push(c);
      return;
    }
    await addCandidate(pc, c);
  }

  async flushCandidates(name) {
    const queued = this.pending[name];
    this.pending[name] = [];
    for (const c of queued) await addCandidate(this.pcs[name], c);
  }

  // onTrack puts a received track on its publisher's tile: the stream id
  // is the publisher's participant id.
  onTrack(ev) {
    const stream = ev.streams[0];
    if (!stream) return;
    const id = stream.id;
    this.grid.addTrack(id, ev.track);
    const p = this.people.get(id);
    if (p) this.upsertPerson(p);
    if (!this.watched.has(stream)) {
      this.watched.add(stream);
      stream.addEventListener('removetrack', (e) => this.grid.removeTrack(id, e.track));
    }
    this.opts.onChange();
  }

  onMute(msg) {
    const p = msg.participant;
    if (!p || !p.id) return;
    const known = this.people.get(p.id) || {};
    this.upsertPerson({ ...known, ...p });
  }

  onParticipantJoined(msg) {
    const p = msg.participant;
    if (!p || !p.id) return;
    this.upsertPerson(p);
    this.opts.onPeople('status.participant_joined', p.name);
    this.opts.onChange();
  }

  onParticipantLeft(msg) {
    const p = msg.participant;
    if (!p || !p.id) return;
    const name = p.name || (this.people.get(p.id) || {}).name || '';
    if (!this.people.has(p.id) && !this.grid.tiles.has(p.id)) {
      // Someone who was knocking went away before being let in.
      this.knocking('left', p);
      return;
    }
    this.people.delete(p.id);
    this.grid.remove(p.id);
    this.opts.onPeople('status.participant_left', name);
    this.opts.onChange();
  }

  onTrackUnpublished(msg) {
    if (!msg.participant || !msg.track) return;
    this.grid.removeTrack(msg.participant.id, msg.track);
    this.opts.onChange();
  }

  onError(msg) {
    const code = String(msg.code || '');
    // A recording that could not start (even "internal") leaves the call
    // going on: the recording's own UI says so.
    if (this.joined && (msg.about === 'record' || msg.about === 'consent')) {
      this.recording(msg);
      return;
    }
    // Before joined, any error means the join did not work.
    if (!this.joined || FATAL.has(code)) {
      this.fail(`error.${code}`, { retry: !FINAL.has(code) });
      return;
    }
    // The rest are protocol slips (bad_message, out_of_order, ...) that
    // leave the call working: nothing for a person to do about them.
    console.warn('signal: server error', code, msg.about || '', msg.message || '');
  }

  upsertPerson(p) {
    this.people.set(p.id, p);
    this.grid.upsert(p.id, {
      name: p.name || '',
      audioMuted: !!p.audioMuted,
      videoMuted: !!p.videoMuted,
    });
  }

  // devices reports, for audio and video, null when we have no such
  // track, else whether it is on.
  devices() {
    const state = (tracks) => (tracks.length ? tracks[0].enabled : null);
    if (!this.stream) return { audio: null, video: null };
    return {
      audio: state(this.stream.getAudioTracks()),
      video: state(this.stream.getVideoTracks()),
    };
  }

  // toggle turns our microphone or camera on or off by disabling the track
  // (nothing is renegotiated) and tells the others.
  toggle(kind) {
    if (this.ended || !this.stream) return;
    const track = kind === 'audio' ? this.stream.getAudioTracks()[0] : this.stream.getVideoTracks()[0];
    if (!track) return;
    track.enabled = !track.enabled;
    const muted = !track.enabled;
    if (this.signal) this.signal.send({ type: 'mute', kind, muted });
    this.grid.upsert(LOCAL, kind === 'audio' ? { audioMuted: muted } : { videoMuted: muted });
    this.opts.onChange();
  }

  // useDevice moves our camera or microphone (kind 'video' or 'audio') to
  // the device deviceId. The new track takes the old one's place on the
  // publish connection's sender (replaceTrack: nothing is renegotiated),
  // on or off as the old one was, so a muted microphone stays muted and
  // the server's mute state stays true. It resolves to the new track, or
  // rejects with a MediaProblem while the old device goes on. Calls run
  // one after another, so two quick presses move two cameras on.
  useDevice(kind, deviceId) {
    const run = this.switching.then(() => this.replaceDevice(kind, deviceId));
    this.switching = run.catch(() => {});
    return run;
  }

  async replaceDevice(kind, deviceId) {
    const old = this.stream && (kind === 'audio' ? this.stream.getAudioTracks() : this.stream.getVideoTracks())[0];
    if (this.ended || !old) throw new MediaProblem('error.generic');
    if (old.readyState === 'live' && old.getSettings().deviceId === deviceId) return old;
    let track;
    try {
      track = await replacementTrack(old, deviceId);
    } catch (err) {
      if (err.restored) await this.place(err.restored).catch((e) => console.error('restore device:', e));
      throw err;
    }
    try {
      await this.place(track);
    } catch (err) {
      track.stop();
      throw err instanceof MediaProblem ? err : new MediaProblem('error.generic', err);
    }
    return track;
  }

  // place sends track instead of our track of its kind and shows it.
  async place(track) {
    if (this.ended) {
      track.stop();
      throw new MediaProblem('error.generic');
    }
    const sender = this.senders[track.kind];
    if (sender) await sender.replaceTrack(track);
    swapTrack(this.stream, track);
    if (track.kind === 'video' && this.joined) this.grid.setLocalStream(this.stream, {});
    this.opts.onChange();
  }

  socketClosed(ev) {
    if (this.ended) return;
    console.warn('signal: websocket closed', ev.code, ev.reason);
    this.fail(this.joined ? 'error.connection_lost' : 'error.server_unreachable');
  }

  leave() {
    if (this.ended) return;
    if (this.signal) this.signal.send({ type: 'leave' });
    this.end();
    this.opts.onLeft();
  }

  fail(key, { retry = true } = {}) {
    if (this.ended) return;
    this.end();
    this.opts.onFail(key, { retry });
  }

  // recording passes a frame about recording to the page, if it wants them.
  recording(msg) {
    if (this.opts.onRecording) this.opts.onRecording(msg);
  }

  // end releases everything: socket, peer connections, camera, tiles.
  end() {
    if (this.ended) return;
    this.ended = true;
    this.recording({ type: 'ended' });
    clearTimeout(this.joinTimer);
    if (this.signal) this.signal.close();
    for (const pc of Object.values(this.pcs)) pc.close();
    this.stopMedia();
    this.grid.clear();
    this.people.clear();
  }

  stopMedia() {
    if (!this.stream) return;
    for (const track of this.stream.getTracks()) track.stop();
  }
}

async function addCandidate(pc, c) {
  try {
    await pc.addIceCandidate(c);
  } catch (err) {
    // One bad candidate does not doom the connection; others may work.
    console.warn('addIceCandidate:', err);
  }
}
