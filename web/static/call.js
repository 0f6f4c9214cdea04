// The call page: a short join form, the call itself, and the "you left"
// view. One Session is one attempt to be in the call, from the click on
// Join to leaving or failing; Try again and Rejoin start a new one.
//
// Tests read window.videosupport: the two peer connections of the current
// session, performance.now() at the click on Join, and performance.now()
// when the first remote video frame showed.
import { init, has } from './i18n.js';
import { Notice } from './notice.js';
import { getMedia } from './media.js';
import { Session } from './session.js';
import { TileGrid, LOCAL } from './tiles.js';
import { showDevices, showView as showViews, peopleNotices } from './controls.js';
import { CallDevices } from './calldevices.js';

await init();

const $ = (id) => document.getElementById(id);
const ui = {
  views: { prejoin: $('view-prejoin'), call: $('view-call'), left: $('view-left') },
  form: $('join-form'),
  name: $('name'),
  nameError: $('name-error'),
  join: $('join'),
  mic: $('toggle-mic'),
  cam: $('toggle-cam'),
  leave: $('leave'),
  rejoin: $('rejoin'),
  retry: $('retry'),
  status: $('status'),
  waiting: $('waiting'),
  callHeading: $('call-heading'),
  leftHeading: $('left-heading'),
};

const NAME_KEY = 'videosupport.name';
const roomId = roomFromPath(location.pathname);

const vs = {
  publish: null,
  subscribe: null,
  joinedAt: null,
  firstRemoteFrameAt: null,
};
window.videosupport = vs;

const notice = new Notice();
const grid = new TileGrid($('tiles'), {
  onFrame(id) {
    if (id !== LOCAL && vs.firstRemoteFrameAt === null) vs.firstRemoteFrameAt = performance.now();
  },
});

let session = null;
let lastName = '';
// Switch camera and Devices (calldevices.js) in the control bar.
const devices = new CallDevices({
  controls: document.querySelector('#view-call .controls'),
  session: () => session,
  notice,
});

ui.name.value = remembered();
ui.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = ui.name.value.trim();
  if (!name) {
    ui.nameError.hidden = false;
    ui.name.setAttribute('aria-invalid', 'true');
    ui.name.setAttribute('aria-describedby', 'name-hint name-error');
    ui.name.focus();
    return;
  }
  ui.nameError.hidden = true;
  ui.name.removeAttribute('aria-invalid');
  ui.name.setAttribute('aria-describedby', 'name-hint');
  remember(name);
  start(name);
});
ui.retry.addEventListener('click', () => start(lastName));
ui.rejoin.addEventListener('click', () => start(lastName));
ui.mic.addEventListener('click', () => session && session.toggle('audio'));
ui.cam.addEventListener('click', () => session && session.toggle('video'));
ui.leave.addEventListener('click', () => session && session.leave());
// Closing or leaving the page says goodbye, so the others see us go at
// once instead of after the server's 12 s silence timeout.
addEventListener('pagehide', () => session && session.leave());

// start begins a new attempt to join; a second click while one is under
// way does nothing.
function start(name) {
  if (session && !session.ended && !session.joined) return;
  if (session) session.end();
  lastName = name;
  vs.joinedAt = performance.now();
  vs.firstRemoteFrameAt = null;
  vs.publish = null;
  vs.subscribe = null;
  showView('prejoin');
  ui.join.setAttribute('aria-disabled', 'true');
  session = new Session({
    room: roomId,
    name,
    grid,
    getMedia,
    onAsking: () => notice.info('status.asking_media'),
    onConnecting: () => notice.info('status.connecting'),
    onPeers(publish, subscribe) {
      vs.publish = publish;
      vs.subscribe = subscribe;
    },
    onJoined: joined,
    onChange: update,
    ...peopleNotices(notice),
    onLeft: left,
    onFail: failed,
  });
  session.start();
}

function joined(note) {
  ui.join.removeAttribute('aria-disabled');
  showView('call');
  devices.show(true);
  if (note) notice.info(note);
  else notice.info('status.joined', undefined, { timeout: 4000 });
  update();
  ui.callHeading.focus();
}

function left() {
  devices.show(false);
  notice.clear();
  showView('left');
  ui.leftHeading.focus();
}

// failed shows what went wrong and, where trying again can help, the
// "Try again" button, which then holds the focus.
function failed(key, { retry = true } = {}) {
  devices.show(false);
  ui.join.removeAttribute('aria-disabled');
  showView(null);
  notice.error(has(key) ? key : 'error.generic', { retry });
  if (retry) {
    ui.retry.focus();
  } else {
    ui.status.tabIndex = -1;
    ui.status.focus();
  }
}

// update mirrors the session's state on the controls.
function update() {
  showDevices(session, ui, grid);
}

function showView(name) {
  showViews(ui.views, name);
}

function roomFromPath(path) {
  const m = /^\/call\/([^/]+)\/?$/.exec(path);
  try {
    return m ? decodeURIComponent(m[1]) : '';
  } catch {
    return m[1];
  }
}

function remembered() {
  try {
    return localStorage.getItem(NAME_KEY) || '';
  } catch {
    return '';
  }
}

function remember(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // Not remembered; nothing else depends on it.
  }
}
