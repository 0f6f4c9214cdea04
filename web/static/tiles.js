// The grid of video tiles, one a participant: <figure class="tile"
// data-participant="ID"> holding a <video>, the person's name and their
// muted-microphone / camera-off badges. The local participant's tile is
// data-participant="local" and always comes last.
//
// A tile shows the person's initial instead of its video while their
// camera is off, while they have no video track, and until the first frame
// arrives, so nobody ever looks at a black box.
import { apply, setText } from './i18n.js';
import { spriteIcon } from './icons.js';

export const LOCAL = 'local';

export class TileGrid {
  // onFrame(id) is called once per video track, when its first frame shows.
  constructor(container, { onFrame = () => {} } = {}) {
    this.container = container;
    this.onFrame = onFrame;
    this.tiles = new Map();
  }

  // remoteCount is the number of tiles that are not the local one.
  remoteCount() {
    return this.tiles.size - (this.tiles.has(LOCAL) ? 1 : 0);
  }

  // upsert creates the tile for id if needed and updates what is given:
  // name, audioMuted, videoMuted.
  upsert(id, fields = {}) {
    let tile = this.tiles.get(id);
    if (!tile) {
      tile = this.create(id);
    }
    for (const k of ['name', 'audioMuted', 'videoMuted']) {
      if (fields[k] !== undefined) tile[k] = fields[k];
    }
    this.render(tile);
    return tile;
  }

  // setLocalStream shows the camera preview on the local tile, again after
  // a switch of camera. The preview is a mirror, as people expect of
  // themselves, except from a camera facing away (a phone's rear camera),
  // whose picture must read the right way round.
  setLocalStream(stream, fields) {
    const tile = this.upsert(LOCAL, fields);
    for (const track of tile.stream.getTracks()) tile.stream.removeTrack(track);
    for (const track of stream.getVideoTracks()) tile.stream.addTrack(track);
    const [video] = stream.getVideoTracks();
    const facing = video && video.getSettings ? video.getSettings().facingMode : '';
    tile.video.classList.toggle('mirror', facing !== 'environment');
    this.attach(tile);
  }

  // addTrack adds a received track to the tile of participant id, which
  // is created if the server's offer came before the participant's name.
  addTrack(id, track) {
    const tile = this.upsert(id);
    for (const old of tile.stream.getTracks()) {
      if (old.kind === track.kind && old !== track) tile.stream.removeTrack(old);
    }
    if (!tile.stream.getTrackById(track.id)) tile.stream.addTrack(track);
    track.addEventListener('ended', () => this.removeTrack(id, track));
    this.attach(tile);
  }

  // removeTrack drops a track, found by id or else by kind: the browser's
  // track id may differ from the server's, but a participant publishes at
  // most one track of each kind.
  removeTrack(id, { id: trackId, kind }) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    const tracks = tile.stream.getTracks();
    const gone = tracks.filter((tr) => tr.id === trackId);
    const drop = gone.length ? gone : tracks.filter((tr) => tr.kind === kind);
    if (!drop.length) return;
    for (const tr of drop) tile.stream.removeTrack(tr);
    this.attach(tile);
  }

  remove(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.video.srcObject = null;
    tile.el.remove();
    this.tiles.delete(id);
    this.updateCount();
  }

  clear() {
    for (const id of [...this.tiles.keys()]) this.remove(id);
  }

  create(id) {
    const el = tileElement();
    el.dataset.participant = id;
    apply(el);
    const video = el.querySelector('video');
    const local = id === LOCAL;
    if (local) {
      video.muted = true;
      video.setAttribute('muted', '');
      video.classList.add('mirror');
    }
    const tile = {
      id, el, video, local,
      stream: new MediaStream(),
      name: '', audioMuted: false, videoMuted: false,
      hasFrame: false,
    };
    video.addEventListener('resize', () => this.frameShown(tile));
    video.addEventListener('loadeddata', () => this.frameShown(tile));
    const localTile = this.tiles.get(LOCAL);
    this.container.insertBefore(el, local || !localTile ? null : localTile.el);
    this.tiles.set(id, tile);
    this.updateCount();
    return tile;
  }

  // attach (re)binds the tile's stream to its video element: assigning
  // srcObject again is the reliable way to make every browser notice a
  // track added to or removed from a stream it already plays.
  attach(tile) {
    const hasVideo = tile.stream.getVideoTracks().length > 0;
    tile.hasFrame = false;
    tile.video.srcObject = tile.stream.getTracks().length ? tile.stream : null;
    if (tile.video.srcObject) {
      tile.video.play().catch((err) => {
        // Autoplay can be refused before any click; the join click
        // normally allows it, so this is only logged.
        if (err.name !== 'AbortError') console.warn('play:', err);
      });
      if (hasVideo && tile.video.requestVideoFrameCallback) {
        tile.video.requestVideoFrameCallback(() => this.frameShown(tile));
      }
    }
    this.render(tile);
  }

  frameShown(tile) {
    if (tile.hasFrame || !tile.stream.getVideoTracks().length) return;
    if (tile.video.videoWidth === 0) return;
    tile.hasFrame = true;
    this.render(tile);
    this.onFrame(tile.id);
  }

  render(tile) {
    const { el } = tile;
    const nameEl = el.querySelector('.tile-name');
    if (tile.local) {
      setText(nameEl, 'tile.you', { name: tile.name });
    } else if (tile.name) {
      setText(nameEl, null);
      nameEl.textContent = tile.name;
    } else {
      setText(nameEl, 'tile.guest');
    }
    el.querySelector('.avatar-initial').textContent = initial(tile.name);
    const hasVideo = tile.stream.getVideoTracks().some((tr) => tr.readyState === 'live');
    const camOff = tile.videoMuted || !hasVideo;
    el.classList.toggle('cam-off', camOff || !tile.hasFrame);
    el.querySelector('.badge-cam').hidden = !camOff;
    el.querySelector('.badge-mic').hidden = !tile.audioMuted;
  }

  updateCount() {
    this.container.dataset.count = String(this.tiles.size);
  }
}

// initial is the first character a person would write of a name (one
// grapheme, so an accented letter or a CJK character stays whole).
function initial(name) {
  const s = (name || '').trim();
  if (!s) return '?';
  if (typeof Intl.Segmenter === 'function') {
    const first = new Intl.Segmenter().segment(s)[Symbol.iterator]().next().value;
    if (first) return first.segment.toLocaleUpperCase();
  }
  return Array.from(s)[0].toLocaleUpperCase();
}

// tileElement makes an empty tile: video, initial, name and badges.
function tileElement() {
  const make = (tag, className) => {
    const e = document.createElement(tag);
    if (className) e.className = className;
    return e;
  };
  const video = make('video');
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute('playsinline', '');
  const avatar = make('div', 'avatar');
  avatar.setAttribute('aria-hidden', 'true');
  avatar.append(make('span', 'avatar-initial'));
  const badge = (className, icon, key) => {
    const b = make('span', `badge ${className}`);
    b.hidden = true;
    const words = make('span', 'visually-hidden');
    words.dataset.i18n = key;
    b.append(spriteIcon(icon), words);
    return b;
  };
  const label = make('figcaption', 'tile-label');
  label.append(make('span', 'tile-name'), badge('badge-mic', 'i-mic-off', 'tile.mic_off'),
    badge('badge-cam', 'i-video-off', 'tile.cam_off'));
  const tile = make('figure', 'tile');
  tile.append(video, avatar, label);
  return tile;
}
