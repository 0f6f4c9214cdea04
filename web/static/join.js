// The join page of a call tied to a conversation: /join/<callId>#<secret>.
//
// 1. Landing: "Join video call" and nothing else. Link previewers in
//    messaging apps open links; nothing here may spend or record anything
//    until a person presses the button.
// 2. The click exchanges the secret (from the fragment, which browsers
//    never send) for an HttpOnly call cookie: POST /api/v1/calls/{id}/join.
//    Staff, opening /join/<callId> from the console with no fragment, join
//    as themselves with the same POST and an empty body.
// 3. Customers wait in the waiting room (their preview, a level meter,
//    device pickers, a network check) until staff let them in; staff go
//    straight into the call, where they admit people, invite a colleague,
//    leave or end the call for everyone.
//
// Tests read window.videosupport: the two peer connections of the current
// session, performance.now() at the click on the join button, at
// admission and when the first remote video frame showed, and the checks'
// results.
import { init, has, setText } from './i18n.js';
import { Notice } from './notice.js';
import { getMedia } from './media.js';
import { Session } from './session.js';
import { TileGrid, LOCAL } from './tiles.js';
import { showDevices, showView as showViews, peopleNotices } from './controls.js';
import { ApiError, get, post, staffSession } from './api.js';
import { WaitingRoom } from './waitroom.js';
import { CallDevices } from './calldevices.js';
import { StaffTools } from './staffcall.js';
import { RecordingUI } from './recordingui.js'; // recording: indicator, consent, Record button

await init();

const $ = (id) => document.getElementById(id);
const ui = {
  views: {
    landing: $('view-landing'), problem: $('view-problem'), waiting: $('view-waiting'),
    call: $('view-call'), ended: $('view-ended'),
  },
  landingHeading: $('landing-heading'),
  landingWith: $('landing-with'),
  join: $('join-call'),
  problemHeading: $('problem-heading'),
  problemText: $('problem-text'),
  problemAction: $('problem-action'),
  waitHeading: $('wait-heading'),
  waitStatus: $('wait-status'),
  waitLeave: $('wait-leave'),
  callHeading: $('call-heading'),
  waiting: $('waiting'),
  mic: $('toggle-mic'),
  cam: $('toggle-cam'),
  leave: $('leave'),
  endedHeading: $('ended-heading'),
  endedText: $('ended-text'),
  endedAction: $('ended-action'),
  rejoin: $('rejoin'),
  retry: $('retry'),
  status: $('status'),
};

const STAFF_ROLES = new Set(['agent', 'specialist', 'admin']);
const callId = callFromPath(location.pathname);
const secret = location.hash.length > 1 ? location.hash.slice(1) : '';
const SAVED = `videosupport.call.${callId}`;

// What the refusals of a link mean to a person. The server's code never
// shows; each gets its own heading, words and way on.
const PROBLEMS = {
  link_tampered: ['join.tampered_heading', 'join.tampered_text', 'chat'],
  link_expired: ['join.expired_heading', 'join.expired_text', 'chat'],
  link_revoked: ['join.revoked_heading', 'join.revoked_text', 'chat'],
  link_wrong_call: ['join.wrong_call_heading', 'join.wrong_call_text', 'chat'],
  link_wrong_role: ['join.wrong_role_heading', 'join.wrong_role_text', 'chat'],
  link_wrong_role_staff: ['join.wrong_role_heading', 'join.wrong_role_staff_text', 'console'],
  no_secret: ['join.no_secret_heading', 'join.no_secret_text', 'sign_in'],
  not_invited: ['join.not_invited_heading', 'join.not_invited_text', 'console'],
  declined: ['wait.declined_heading', 'wait.declined_text', 'chat'],
  link_in_use: ['wait.in_use_heading', 'wait.in_use_text', 'chat'],
};
const ACTIONS = {
  chat: ['join.action_chat', '/chat'],
  console: ['join.action_console', '/console'],
  sign_in: ['join.action_sign_in', `/login?next=${encodeURIComponent(location.pathname)}`],
};

const vs = {
  publish: null,
  subscribe: null,
  clickedAt: null,
  admittedAt: null,
  joinedAt: null,
  firstRemoteFrameAt: null,
  role: '',
  view: 'landing',
  // performance.now() at each step, for the tests' breakdown of a join.
  marks: {},
  ready: false, // the landing page has looked up what it shows
  get checks() { return room.report; },
};
window.videosupport = vs;

const notice = new Notice();
const grid = new TileGrid($('tiles'), {
  onFrame(id) {
    if (id !== LOCAL && vs.firstRemoteFrameAt === null) {
      vs.firstRemoteFrameAt = performance.now();
      mark('firstRemoteFrame');
    }
  },
});
const room = new WaitingRoom(callId, { onDeviceError: (key) => notice.error(has(key) ? key : 'error.generic') });

let me = null; // the signed-in staff member's /me, if any
let call = null; // the call session from the join answer
let session = null;
const tools = new StaffTools({
  callId,
  get me() { return me; },
  send: (frame) => session && session.send(frame),
  notice,
});
// Recording (recordingui.js): builds its own parts of the call view and
// takes the session's recording frames through onRecording below.
const recording = new RecordingUI({
  send: (frame) => session && session.send(frame),
  isStaff: () => isStaff(),
  view: ui.views.call,
  tiles: $('tiles'),
  controls: document.querySelector('#view-call .controls'),
});

// Switch camera and Devices (calldevices.js) in the control bar.
const devices = new CallDevices({
  controls: document.querySelector('#view-call .controls'),
  session: () => session,
  notice,
});

ui.join.addEventListener('click', () => joinClicked());
ui.retry.addEventListener('click', () => {
  notice.clear();
  enter();
});
ui.rejoin.addEventListener('click', () => enter());
ui.mic.addEventListener('click', () => session && session.toggle('audio'));
ui.cam.addEventListener('click', () => session && session.toggle('video'));
ui.leave.addEventListener('click', () => session && session.leave());
ui.waitLeave.addEventListener('click', () => session && session.leave());
addEventListener('pagehide', () => session && session.leave());
// The secret is read once, at load: a link pasted over this page's own
// address changes only the fragment, which loads nothing by itself.
addEventListener('hashchange', () => location.reload());

landing();

// landing shows the first page. Only reads happen here: who is signed in
// (staff open this page from the console) and, for them, whom the call
// is with; a customer's page asks the server nothing at all.
async function landing() {
  showView('landing');
  const saved = restore();
  if (saved && saved.hostName) showWith(saved.hostName);
  if (secret || saved) {
    vs.ready = true;
    return;
  }
  // Keep the line for the name, so the button does not move under a
  // finger (or a pointer) when the name arrives.
  ui.landingWith.textContent = '\u00a0';
  ui.landingWith.hidden = false;
  try {
    me = await staffSession();
  } catch {
    me = null;
  }
  if (!me) {
    problem('no_secret');
    vs.ready = true;
    return;
  }
  try {
    const c = await get(`/calls/${encodeURIComponent(callId)}`);
    const conv = await get(`/conversations/${encodeURIComponent(c.conversationId)}`);
    const name = (conv.conversation || conv).customerName;
    if (name) showWith(name);
  } catch (err) {
    console.warn('call details:', err);
  }
  vs.ready = true;
}

function showWith(name) {
  setText(ui.landingWith, 'join.with', { name });
  ui.landingWith.hidden = false;
}

// joinClicked exchanges the link (or the staff session) for a call
// session, then enters the waiting room or the call.
async function joinClicked() {
  if (ui.join.getAttribute('aria-disabled') === 'true') return;
  vs.clickedAt = performance.now();
  vs.marks = {};
  mark('click');
  ui.join.setAttribute('aria-disabled', 'true');
  notice.info('join.opening');
  try {
    // A signed-in staff member's browser must send its CSRF token.
    if (!me) me = await staffSession().catch(() => null);
    const saved = restore();
    if (!secret && saved && !me) {
      // Back on the page after a reload: the cookie still holds the call.
      call = saved;
    } else {
      call = await post(`/calls/${encodeURIComponent(callId)}/join`, secret ? { token: secret } : {});
      save(call);
    }
  } catch (err) {
    ui.join.removeAttribute('aria-disabled');
    refused(err);
    return;
  }
  // The secret has done its job; keep it out of the history and of
  // anything that reads the address later (screenshots, shares).
  mark('session');
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  ui.join.removeAttribute('aria-disabled');
  notice.clear();
  vs.role = call.role;
  enter();
}

function refused(err) {
  console.error('join:', err);
  if (err instanceof ApiError && err.status === 403 && err.code in PROBLEMS) {
    const staffWrong = err.code === 'link_wrong_role' && me;
    problem(staffWrong ? 'link_wrong_role_staff' : err.code);
    return;
  }
  if (err instanceof ApiError && (err.code === 'forbidden' || err.code === 'csrf')) {
    problem('not_invited');
    return;
  }
  if (err instanceof ApiError && err.code === 'unauthorized') {
    problem('no_secret');
    return;
  }
  showView('landing');
  notice.error(err instanceof ApiError && err.code === 'network' ? 'error.server_unreachable' : 'error.generic',
    { retry: false });
}

function problem(code) {
  const [heading, text, action] = PROBLEMS[code];
  notice.clear();
  setText(ui.problemHeading, heading);
  setText(ui.problemText, text);
  const [label, href] = ACTIONS[me && action === 'chat' ? 'console' : action];
  setText(ui.problemAction, label);
  ui.problemAction.href = href;
  ui.problemAction.hidden = false;
  ui.problemAction.dataset.problem = code;
  showView('problem');
  ui.problemHeading.focus();
}

function isStaff() {
  return !!call && STAFF_ROLES.has(call.role);
}

// enter starts a session: the waiting room for a customer, the call for
// staff. Try again and Join again come back here.
function enter() {
  if (session && !session.ended) return;
  vs.publish = null;
  vs.subscribe = null;
  vs.admittedAt = null;
  vs.firstRemoteFrameAt = null;
  tools.show(false);
  const staff = isStaff() || (call && call.role === 'observer');
  if (!staff) {
    showView('waiting');
    setText(ui.waitStatus, 'wait.connecting');
    ui.waitHeading.focus();
    room.http = 'checking';
    room.socket = 'checking';
    room.checkNetwork();
  }
  session = new Session({
    room: callId,
    name: call.name || (me && me.staff && me.staff.name) || '-',
    grid,
    getMedia: async () => {
      const m = await (staff ? getMedia() : room.open());
      mark('media');
      return m;
    },
    onAsking: () => { if (staff) notice.info('status.asking_media'); },
    onConnecting: () => { if (staff) notice.info('status.connecting'); },
    onSignalOpen: () => {
      mark('socketOpen');
      room.socketResult(true);
    },
    onPeers(publish, subscribe) {
      vs.publish = publish;
      vs.subscribe = subscribe;
      publish.addEventListener('connectionstatechange', () => {
        if (publish.connectionState === 'connected') mark('publishConnected');
      });
      subscribe.addEventListener('connectionstatechange', () => {
        if (subscribe.connectionState === 'connected') mark('subscribeConnected');
      });
      subscribe.addEventListener('track', () => mark('remoteTrack'), { once: true });
    },
    onWaiting: waiting,
    onAdmitted: admitted,
    onKnocking: (kind, p) => tools.knocking(kind, p),
    onRecording: (msg) => recording.message(msg), // recordingui.js
    onJoined: joined,
    onChange: update,
    ...peopleNotices(notice),
    onLeft: left,
    onFail: failed,
  });
  session.start();
}

function waiting() {
  mark('waiting');
  if (call.hostName) setText(ui.waitStatus, 'wait.waiting_for', { name: call.hostName });
  else setText(ui.waitStatus, 'wait.waiting_anon');
  room.startClock(call.waitLimitSeconds, call.hostName);
}

function admitted() {
  vs.admittedAt = performance.now();
  mark('admitted');
  setText(ui.waitStatus, 'wait.admitted');
}

function joined(note) {
  vs.joinedAt = performance.now();
  mark('joined');
  room.leaveRoom();
  showView('call');
  tools.show(isStaff());
  devices.show(true);
  if (note) notice.info(note);
  else notice.info('status.joined', undefined, { timeout: 4000 });
  update();
  ui.callHeading.focus();
}

// update mirrors the session's state on the controls.
function update() {
  showDevices(session, ui, grid);
}

function left() {
  room.leaveRoom();
  tools.show(false);
  devices.show(false);
  notice.clear();
  ended(isStaff() ? 'incall.left_text_staff' : 'incall.left_text_customer', 'incall.left_heading', true);
}

// failed: the call ended, the person was turned away, or something broke.
function failed(key, { retry = true } = {}) {
  room.leaveRoom();
  tools.show(false);
  devices.show(false);
  if (key === 'error.call_ended') {
    notice.clear();
    ended(isStaff() ? 'incall.ended_text_staff' : 'incall.ended_text_customer', 'incall.ended_heading', false);
    return;
  }
  if (key === 'error.declined' || key === 'error.link_in_use') {
    problem(key === 'error.declined' ? 'declined' : 'link_in_use');
    return;
  }
  showView(null);
  notice.error(has(key) ? key : 'error.generic', { retry });
  if (retry) {
    ui.retry.focus();
  } else {
    ui.status.tabIndex = -1;
    ui.status.focus();
  }
}

function ended(textKey, headingKey, canRejoin) {
  setText(ui.endedHeading, headingKey);
  setText(ui.endedText, textKey);
  const [label, href] = ACTIONS[isStaff() ? 'console' : 'chat'];
  setText(ui.endedAction, label);
  ui.endedAction.href = href;
  ui.rejoin.hidden = !canRejoin;
  showView('ended');
  ui.endedHeading.focus();
}

function mark(step) {
  if (!(step in vs.marks)) vs.marks[step] = Math.round(performance.now());
}

function showView(name) {
  vs.view = name || '';
  showViews(ui.views, name);
}

// The call session is kept for this tab, so a reload (which has lost the
// fragment) can go on with the cookie the browser already holds.
function save(c) {
  try {
    sessionStorage.setItem(SAVED, JSON.stringify(c));
  } catch {
    // Not kept: a reload shows the landing page's problem instead.
  }
}

function restore() {
  try {
    const c = JSON.parse(sessionStorage.getItem(SAVED) || 'null');
    if (c && c.callId === callId && (!c.expires || Date.parse(c.expires) > Date.now())) return c;
  } catch {
    // Nothing usable kept.
  }
  return null;
}

function callFromPath(path) {
  const m = /^\/join\/([^/]+)\/?$/.exec(path);
  try {
    return m ? decodeURIComponent(m[1]) : '';
  } catch {
    return m[1];
  }
}
