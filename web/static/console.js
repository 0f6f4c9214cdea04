// The agent console: every active conversation on the left, live, and the
// whole record of the open one on the right, where the agent answers.
//
// Two /ws/chat sockets (one socket follows either the console or one
// conversation, docs/protocol.md): the console socket brings a summary of
// each conversation whenever it changes; the conversation socket brings
// the open conversation's events after the ones its timeline already
// showed. Keeping the console socket open is also what makes the agent
// "online" for assignment.
import { init, setText, t, onChange } from './i18n.js';
import { Notice } from './notice.js';
import { get, post, put, staffSession, toLogin, errorKey, newClientId } from './api.js';
import { ChatSocket } from './chatsocket.js';
import { Thread, timeElement, isHandoverNote } from './thread.js';
import { RecordingList } from './recordings.js'; // the open conversation's recordings
import { CallDesk } from './consolecalls.js';

await init();

const $ = (id) => document.getElementById(id);
const ui = {
  meName: $('me-name'),
  meRole: $('me-role'),
  availability: $('availability'),
  signOut: $('sign-out'),
  adminLink: $('admin-link'),
  consoleConn: $('console-conn'),
  tabs: [...document.querySelectorAll('.tab')],
  panel: $('queue-panel'),
  list: $('conv-list'),
  listEmpty: $('list-empty'),
  paneEmpty: $('pane-empty'),
  paneOpen: $('pane-open'),
  back: $('back'),
  title: $('conv-title'),
  meta: $('conv-meta'),
  claim: $('claim'),
  reassignBox: $('reassign-box'),
  reassign: $('reassign'),
  reassignGo: $('reassign-go'),
  close: $('close-conv'),
  reopen: $('reopen-conv'),
  handover: $('handover'),
  handoverText: $('handover-text'),
  convConn: $('conv-conn'),
  timeline: $('timeline'),
  closedNote: $('closed-note'),
  replyForm: $('reply-form'),
  reply: $('reply'),
  live: $('live'),
};
const notice = new Notice();

const session = await staffSession().catch((err) => {
  console.error('console: /me:', err);
  notice.error(errorKey(err));
  return undefined;
});
if (session === null) toLogin();
if (!session) throw new Error('not signed in');
const me = session.staff;

// convs holds the latest summary of every conversation we have heard of.
const convs = new Map();
let filter = 'mine';
let openId = '';
let thread = null;
let convSocket = null;
let staffList = null;
let readSent = 0;
let readTimer = 0;
let listReady = false;
// Recordings of the open conversation (recordings.js), above its timeline.
const recordings = new RecordingList(document.getElementById('timeline'));
const outbox = new Map(); // clientId -> {conversation, body}

const calls = new CallDesk({
  open: (id) => openConversation(id, { focus: true }),
  announce,
  fail,
});

// Tests read window.videosupportConsole.
window.videosupportConsole = { convs, calls, get openId() { return openId; }, get thread() { return thread; } };

showMe();
loadStaff();
wireTabs();
const consoleSocket = new ChatSocket({
  hello: () => ({ type: 'hello', console: true }),
  onFrame: consoleFrame,
  onState: (s) => connLine(ui.consoleConn, s, 'console.list_reconnecting'),
  onFatal: () => toLogin(),
});
consoleSocket.start();
addEventListener('online', () => {
  consoleSocket.reconnectNow();
  if (convSocket) convSocket.reconnectNow();
});
document.addEventListener('visibilitychange', () => scheduleRead());
onChange(() => {
  renderList();
  if (openId) renderHead();
  showMe();
});

ui.availability.addEventListener('change', setAvailability);
ui.signOut.addEventListener('click', signOut);
ui.back.addEventListener('click', () => closePane());
ui.claim.addEventListener('click', () => act('assign', { staffId: me.id }));
ui.reassignGo.addEventListener('click', () => {
  if (!ui.reassign.value) {
    ui.reassign.focus();
    return;
  }
  act('assign', { staffId: ui.reassign.value });
});
ui.close.addEventListener('click', () => act('close'));
ui.reopen.addEventListener('click', () => act('reopen'));
ui.replyForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  sendReply();
});
ui.reply.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
    ev.preventDefault();
    sendReply();
  }
});
ui.reply.addEventListener('input', () => grow(ui.reply));
addEventListener('hashchange', () => {
  const id = decodeURIComponent(location.hash.slice(1));
  if (id && id !== openId) openConversation(id, { focus: true });
});

function showMe() {
  ui.meName.textContent = me.name || me.email || '';
  setText(ui.meRole, roleKey(me.role));
  ui.adminLink.hidden = me.role !== 'admin';
  ui.availability.value = me.availability || 'away';
  ui.availability.disabled = false;
}

function roleKey(role) {
  return {
    admin: 'staff.role.admin',
    agent: 'staff.role.agent',
    specialist: 'staff.role.specialist',
  }[role] || 'staff.role.agent';
}

async function setAvailability() {
  const want = ui.availability.value;
  const was = me.availability;
  try {
    const res = await put('/me/availability', { availability: want });
    me.availability = (res.staff && res.staff.availability) || res.availability || want;
    announce('console.announce_availability', { state: t(`console.avail.${want}`) });
  } catch (err) {
    ui.availability.value = was;
    fail(err);
  }
}

async function signOut() {
  try {
    await post('/logout');
  } catch (err) {
    console.warn('logout:', err);
  }
  consoleSocket.stop();
  if (convSocket) convSocket.stop();
  location.assign('/login');
}

// loadStaff fills the Reassign list; without the right to list staff
// (the endpoint is for admins) only Claim is offered.
async function loadStaff() {
  try {
    const res = await get('/staff');
    staffList = (res.staff || res.items || (Array.isArray(res) ? res : [])).filter((s) => !s.disabled);
  } catch (err) {
    if (err.status === 401) toLogin();
    staffList = null;
  }
  if (openId) renderHead();
}

// ---- the conversation list ----

function wireTabs() {
  ui.tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => selectTab(tab));
    tab.addEventListener('keydown', (ev) => {
      const rtl = document.documentElement.dir === 'rtl';
      let to = -1;
      if (ev.key === (rtl ? 'ArrowLeft' : 'ArrowRight')) to = (i + 1) % ui.tabs.length;
      if (ev.key === (rtl ? 'ArrowRight' : 'ArrowLeft')) to = (i + ui.tabs.length - 1) % ui.tabs.length;
      if (ev.key === 'Home') to = 0;
      if (ev.key === 'End') to = ui.tabs.length - 1;
      if (to < 0) return;
      ev.preventDefault();
      selectTab(ui.tabs[to]);
      ui.tabs[to].focus();
    });
  });
}

function selectTab(tab) {
  filter = tab.dataset.filter;
  for (const t2 of ui.tabs) {
    const on = t2 === tab;
    t2.setAttribute('aria-selected', String(on));
    t2.tabIndex = on ? 0 : -1;
  }
  ui.panel.setAttribute('aria-labelledby', tab.id);
  renderList();
}

const FILTERS = {
  mine: (c) => c.assignedTo === me.id && c.status !== 'closed',
  waiting: (c) => c.status === 'waiting',
  all: (c) => c.status === 'open' || c.status === 'waiting',
};

function consoleFrame(msg) {
  if (msg.type === 'queue' || msg.type === 'invite') {
    calls.frame(msg);
    return;
  }
  if (msg.type === 'welcome') {
    // Summaries that arrive right after welcome are the current list,
    // not news: announce only what comes later.
    listReady = false;
    setTimeout(() => { listReady = true; }, 1500);
    return;
  }
  if (msg.type !== 'summary' || !msg.conversation || !msg.conversation.id) return;
  const c = msg.conversation;
  const before = convs.get(c.id);
  if (c.id === openId && readSent >= (c.lastSeq || 0)) c.unread = 0;
  convs.set(c.id, { ...before, ...c });
  if (listReady && c.status === 'waiting' && (!before || before.status !== 'waiting')) {
    announce('console.announce_waiting', { name: c.customerName || '' });
  }
  renderList();
  if (c.id === openId) renderHead();
}

function renderList() {
  const rows = [...convs.values()].filter(FILTERS[filter]);
  rows.sort((a, b) => String(b.updatedAt || '').localeCompare(String(a.updatedAt || '')));
  const keep = document.activeElement && document.activeElement.closest('.conv-row');
  const keepId = keep ? keep.dataset.id : '';
  ui.list.replaceChildren(...rows.map(row));
  if (keepId) {
    const again = ui.list.querySelector(`.conv-row[data-id="${CSS.escape(keepId)}"]`);
    if (again) again.focus();
  }
  ui.listEmpty.hidden = rows.length > 0;
  setText(ui.listEmpty, {
    mine: 'console.empty_mine',
    waiting: 'console.empty_waiting',
    all: 'console.empty_all',
  }[filter]);
  for (const [name, el] of [['mine', 'count-mine'], ['waiting', 'count-waiting'], ['all', 'count-all']]) {
    $(el).textContent = String([...convs.values()].filter(FILTERS[name]).length);
  }
  const attention = [...convs.values()].filter(FILTERS.waiting).length
    + [...convs.values()].filter(FILTERS.mine).reduce((n, c) => n + (c.unread || 0), 0);
  document.title = (attention ? `(${attention}) ` : '') + t('console.page_title');
}

function row(c) {
  const li = document.createElement('li');
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'conv-row';
  b.dataset.id = c.id;
  b.dataset.status = c.status || '';
  if (c.id === openId) b.setAttribute('aria-current', 'true');
  b.addEventListener('click', () => openConversation(c.id, { focus: true }));

  const top = span('row-top');
  const name = document.createElement('bdi');
  name.className = 'row-name';
  name.textContent = c.customerName || t('console.no_name');
  top.append(name);
  if (c.unread > 0) {
    const badge = span('unread');
    const n = span('', String(c.unread));
    n.setAttribute('aria-hidden', 'true');
    const sr = span('visually-hidden');
    setText(sr, 'console.unread', { count: c.unread });
    badge.append(n, sr);
    top.append(badge);
  }
  top.append(timeElement(c.updatedAt, 'row-time'));

  const preview = span('row-preview', c.lastMessage || '');
  preview.dir = 'auto';

  const meta = span('row-meta');
  meta.append(chip('chip chip-channel', channelKey(c.channel), c.channel));
  meta.append(chip(`chip chip-status status-${c.status}`, statusKey(c.status), c.status));
  const who = span('row-assignee');
  if (c.assignedTo === me.id) setText(who, 'console.assigned_you');
  else if (c.assignedName) setText(who, 'console.assigned_to', { name: c.assignedName });
  else if (c.handler === 'bot') setText(who, 'console.with_bot');
  else setText(who, 'console.unassigned');
  meta.append(who);

  b.append(top, preview, meta);
  li.append(b);
  return li;
}

function span(className, text) {
  const s = document.createElement('span');
  if (className) s.className = className;
  if (text !== undefined) s.textContent = text;
  return s;
}

function chip(className, key, raw) {
  const s = span(className);
  if (key) setText(s, key);
  else s.textContent = raw || '';
  return s;
}

function channelKey(ch) {
  return {
    web: 'console.channel.web',
    sms: 'console.channel.sms',
    whatsapp: 'console.channel.whatsapp',
    api: 'console.channel.api',
  }[ch] || '';
}

function statusKey(s) {
  return {
    open: 'console.status.open',
    waiting: 'console.status.waiting',
    closed: 'console.status.closed',
  }[s] || '';
}

// ---- the open conversation ----

async function openConversation(id, { focus }) {
  if (convSocket) convSocket.stop();
  convSocket = null;
  openId = id;
  readSent = 0;
  history.replaceState(null, '', `#${encodeURIComponent(id)}`);
  document.body.classList.add('pane-shown');
  ui.paneEmpty.hidden = true;
  ui.paneOpen.hidden = false;
  ui.handover.hidden = true;
  thread = new Thread(ui.timeline, {
    audience: 'staff',
    mine: (ev) => ev.actorRole !== 'customer',
  });
  thread.clear();
  recordings.open(id); // recordings.js
  calls.open(id, thread);
  for (const [cid, m] of outbox) {
    if (m.conversation === id) thread.addPending(cid, m.body, me.name);
  }
  renderList();
  renderHead();
  if (focus) ui.title.focus();
  ui.timeline.setAttribute('aria-busy', 'true');
  try {
    if (!convs.has(id)) {
      const c = await get(`/conversations/${encodeURIComponent(id)}`);
      if (openId !== id) return;
      convs.set(id, c.conversation || c);
      renderHead();
    }
    await loadTimeline(id);
  } catch (err) {
    if (openId !== id) return;
    if (err.status === 401) return toLogin();
    if (err.status === 404) {
      closePane();
      notice.error('console.error_not_found');
      return;
    }
    fail(err);
  } finally {
    if (openId === id) ui.timeline.removeAttribute('aria-busy');
  }
  if (openId !== id) return;
  const t0 = thread;
  convSocket = new ChatSocket({
    hello: () => ({ type: 'hello', conversation: id, after: t0.lastSeq }),
    onFrame: (msg) => convFrame(id, msg),
    onState: (s) => {
      t0.setOnline(s === 'open');
      connLine(ui.convConn, s, 'console.conv_reconnecting');
    },
    onFatal: (code) => (code === 'unauthorized' ? toLogin() : notice.error('console.error_not_found')),
  });
  convSocket.start();
  scheduleRead();
}

// loadTimeline reads the whole record, a page at a time.
async function loadTimeline(id) {
  const limit = 200;
  for (;;) {
    const res = await get(`/conversations/${encodeURIComponent(id)}/timeline?after=${thread.lastSeq}&limit=${limit}`);
    if (openId !== id) return;
    const events = res.events || [];
    for (const ev of events) shown(ev);
    if (events.length < limit) return;
  }
}

function convFrame(id, msg) {
  if (id !== openId) return;
  if (msg.type === 'welcome') {
    if (msg.conversation) {
      convs.set(id, { ...convs.get(id), ...msg.conversation });
      renderHead();
    }
    for (const [cid, m] of outbox) {
      if (m.conversation === id) convSocket.send({ type: 'send', conversation: id, body: m.body, clientId: cid });
    }
    return;
  }
  if (msg.type === 'event' && msg.event) {
    const item = shown(msg.event);
    const ev = msg.event;
    if (item && ev.type === 'message' && ev.actorRole === 'customer') {
      scheduleRead();
      if (document.visibilityState === 'visible') announce('console.announce_message', { name: ev.actorName || '', body: ev.body || '' });
    }
  }
  if (msg.type === 'error') {
    console.warn('conversation socket error:', msg.code, msg.message);
    if (msg.about === 'send') notice.error('console.error_send');
  }
}

// shown adds one event to the record and keeps the header in step.
function shown(ev) {
  const item = thread.add(ev);
  recordings.event(ev); // recordings.js: a recording.* event refreshes the list
  calls.event(ev, thread);
  if (ev.type === 'message' && ev.clientId) outbox.delete(ev.clientId);
  if (isHandoverNote(ev) || (ev.type === 'conversation.handed_over' && ev.data && ev.data.summary)) {
    ui.handoverText.textContent = ev.body || ev.data.summary;
    ui.handover.hidden = false;
  }
  return item;
}

function renderHead() {
  const c = convs.get(openId) || { id: openId };
  ui.title.textContent = c.customerName || t('console.no_name');
  const parts = [];
  if (c.customerContact) parts.push(bdi(c.customerContact));
  const ch = channelKey(c.channel);
  if (ch) parts.push(textSpan(ch));
  const st = statusKey(c.status);
  if (st) parts.push(textSpan(st));
  if (c.assignedTo === me.id) parts.push(textSpan('console.assigned_you'));
  else if (c.assignedName) parts.push(textSpan('console.assigned_to', { name: c.assignedName }));
  else parts.push(textSpan('console.unassigned'));
  ui.meta.replaceChildren();
  parts.forEach((p, i) => {
    if (i) ui.meta.append(' · ');
    ui.meta.append(p);
  });

  const closed = c.status === 'closed';
  calls.head(c);
  ui.claim.hidden = closed || c.assignedTo === me.id;
  ui.close.hidden = closed;
  ui.reopen.hidden = !closed;
  ui.replyForm.hidden = closed;
  ui.closedNote.hidden = !closed;
  const others = staffList ? staffList.filter((s) => s.id !== c.assignedTo) : [];
  ui.reassignBox.hidden = closed || !staffList || others.length === 0;
  if (staffList) fillReassign(others);
}

function fillReassign(people) {
  const keep = ui.reassign.value;
  const first = document.createElement('option');
  first.value = '';
  setText(first, 'console.reassign_choose');
  ui.reassign.replaceChildren(first, ...people.map((s) => {
    const o = document.createElement('option');
    o.value = s.id;
    o.textContent = s.id === me.id ? `${s.name} (${t('console.me')})` : s.name;
    return o;
  }));
  if (people.some((s) => s.id === keep)) ui.reassign.value = keep;
}

function bdi(text) {
  const b = document.createElement('bdi');
  b.textContent = text;
  return b;
}

function textSpan(key, vars) {
  const s = document.createElement('span');
  setText(s, key, vars);
  return s;
}

function closePane() {
  if (convSocket) convSocket.stop();
  convSocket = null;
  const was = openId;
  openId = '';
  thread = null;
  calls.open('', null);
  recordings.open(''); // recordings.js
  history.replaceState(null, '', location.pathname + location.search);
  document.body.classList.remove('pane-shown');
  ui.paneOpen.hidden = true;
  ui.paneEmpty.hidden = false;
  renderList();
  const rowEl = was && ui.list.querySelector(`.conv-row[data-id="${CSS.escape(was)}"]`);
  if (rowEl) rowEl.focus();
}

// act runs Claim, Reassign, Close or Reopen on the open conversation.
async function act(what, body = {}) {
  const id = openId;
  if (!id) return;
  const buttons = [ui.claim, ui.reassignGo, ui.close, ui.reopen];
  buttons.forEach((b) => b.setAttribute('aria-disabled', 'true'));
  try {
    const res = await post(`/conversations/${encodeURIComponent(id)}/${what}`, body);
    const c = res && (res.conversation || (res.id ? res : null));
    if (c) convs.set(id, { ...convs.get(id), ...c });
    if (openId === id) renderHead();
    renderList();
    announce({
      assign: body.staffId === me.id ? 'console.announce_claimed' : 'console.announce_reassigned',
      close: 'console.announce_closed',
      reopen: 'console.announce_reopened',
    }[what]);
    if (what === 'assign' && body.staffId === me.id) ui.reply.focus();
    if (what === 'reopen') ui.reply.focus();
    if (what === 'close') ui.reopen.focus();
  } catch (err) {
    fail(err);
  } finally {
    buttons.forEach((b) => b.removeAttribute('aria-disabled'));
  }
}

function sendReply() {
  const body = ui.reply.value.trim();
  if (!body || !openId) {
    ui.reply.focus();
    return;
  }
  const clientId = newClientId();
  outbox.set(clientId, { conversation: openId, body });
  thread.addPending(clientId, body, me.name);
  ui.reply.value = '';
  grow(ui.reply);
  ui.reply.focus();
  if (convSocket) convSocket.send({ type: 'send', conversation: openId, body, clientId });
}

// scheduleRead marks the open conversation read up to its newest event,
// while the page is visible.
function scheduleRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markRead, 300);
}

async function markRead() {
  if (!openId || !thread || document.visibilityState !== 'visible') return;
  const seq = thread.lastSeq;
  if (seq <= readSent) return;
  const id = openId;
  readSent = seq;
  const c = convs.get(id);
  if (c && c.unread) {
    c.unread = 0;
    renderList();
  }
  try {
    await post(`/conversations/${encodeURIComponent(id)}/read`, { seq });
  } catch (err) {
    if (openId === id) readSent = 0;
    console.warn('mark read:', err);
  }
}

// ---- little helpers ----

function connLine(el, state, reconnectingKey) {
  if (state === 'reconnecting') {
    setText(el, reconnectingKey);
    el.dataset.state = state;
  } else {
    setText(el, null);
    delete el.dataset.state;
  }
}

function announce(key, vars) {
  if (!key) return;
  setText(ui.live, null);
  setTimeout(() => setText(ui.live, key, vars), 30);
}

function fail(err) {
  console.error('console:', err);
  if (err && err.status === 401) {
    toLogin();
    return;
  }
  notice.error(err && err.status === 409 ? 'console.error_conflict' : errorKey(err));
  setTimeout(() => {
    if (notice.box.dataset.kind === 'error') notice.clear();
  }, 10000);
}

function grow(area) {
  area.style.blockSize = 'auto';
  area.style.blockSize = `${Math.min(area.scrollHeight + 4, 200)}px`;
}

// A conversation in the address (a reload, a link from a colleague) opens
// last, once everything above is defined: openConversation uses FILTERS
// and the rest, and would fail on them before their declarations ran.
if (location.hash.length > 1) openConversation(decodeURIComponent(location.hash.slice(1)), { focus: false });
