// The customer chat: a short form that starts a conversation, then the
// conversation itself, live over /ws/chat.
//
// The conversation id and customer token stay in localStorage, so a reload
// (or coming back tomorrow) resumes the same conversation. Messages typed
// but not yet confirmed by the server also stay there (the outbox) and are
// sent again, with the same clientId, until the server echoes them: the
// server stores a clientId once, and the page shows a seq once.
//
// With ?embed=1 the page is the chat widget's frame: no site header, and
// it tells the embedding page (widget.js) when a reply arrives and when
// the person presses Escape.
import { init, setText, t } from './i18n.js';
import { Notice } from './notice.js';
import { post, setToken, ApiError, newClientId } from './api.js';
import { ChatSocket } from './chatsocket.js';
import { Thread } from './thread.js';
import { VideoRequest } from './chatvideo.js';
import { callStep } from './callevents.js';

const embedded = new URLSearchParams(location.search).get('embed') === '1';
document.documentElement.classList.toggle('embed', embedded);
document.body.classList.toggle('embed', embedded);

await init();

const STORE = 'videosupport.chat';
const $ = (id) => document.getElementById(id);
const ui = {
  start: $('view-start'),
  chat: $('view-chat'),
  startForm: $('start-form'),
  name: $('customer-name'),
  nameError: $('customer-name-error'),
  contact: $('customer-contact'),
  first: $('first-message'),
  firstError: $('first-message-error'),
  startButton: $('start-chat'),
  startHeading: $('start-heading'),
  chatWith: $('chat-with'),
  conn: $('conn-state'),
  messages: $('messages'),
  sendForm: $('send-form'),
  input: $('message-input'),
  newConversation: $('new-conversation'),
  live: $('live'),
};
const notice = new Notice();
const video = new VideoRequest({ notice });

// state is the conversation in use: {id, token, name, outbox: [{clientId, body}]}.
let state = null;
let socket = null;
let thread = null;
// Events up to this seq were in the record when we connected: they are
// shown, not announced.
let backlogUntil = 0;
let wasReconnecting = false;
let starting = false;

// Tests read window.videosupportChat.
window.videosupportChat = { get state() { return state; }, get socket() { return socket; }, video };

state = load();
if (state) openChat({ focus: false });
else showStart();

ui.startForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  startConversation();
});
ui.sendForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  sendTyped();
});
ui.input.addEventListener('keydown', (ev) => {
  // Enter sends, Shift+Enter starts a new line. While an input method is
  // composing (Chinese, for one), Enter picks a candidate instead.
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
    ev.preventDefault();
    sendTyped();
  }
});
ui.input.addEventListener('input', grow);
ui.newConversation.addEventListener('click', () => {
  if (!confirm(t('chat.new_confirm'))) return;
  forget();
  showStart();
  ui.startHeading.focus();
});
addEventListener('online', () => socket && socket.reconnectNow());

if (embedded) {
  toParent({ type: 'videosupport:ready' });
  addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') toParent({ type: 'videosupport:close' });
  });
  // When the widget opens the panel it focuses this frame: put the focus
  // where the person will type.
  addEventListener('focus', () => {
    if (document.activeElement && document.activeElement !== document.body) return;
    (ui.chat.hidden ? ui.name : ui.input).focus();
  });
}

function showStart() {
  ui.chat.hidden = true;
  ui.start.hidden = false;
  document.body.classList.remove('chatting');
  if (!ui.name.value) ui.name.value = rememberedName();
}

// startConversation checks the form and creates the conversation.
async function startConversation() {
  if (starting) return;
  const name = ui.name.value.trim();
  const message = ui.first.value.trim();
  const nameOK = fieldCheck(ui.name, ui.nameError, name !== '');
  const messageOK = fieldCheck(ui.first, ui.firstError, message !== '');
  if (!nameOK) return ui.name.focus();
  if (!messageOK) return ui.first.focus();
  starting = true;
  ui.startButton.setAttribute('aria-disabled', 'true');
  notice.info('chat.starting');
  try {
    const res = await post('/conversations', {
      customerName: name,
      customerContact: ui.contact.value.trim(),
      channel: 'web',
      message,
    });
    if (!res.conversation || !res.conversation.id || !res.customerToken) {
      throw new ApiError(500, 'internal', 'response without conversation or token');
    }
    state = { id: res.conversation.id, token: res.customerToken, name, outbox: [] };
    save();
    notice.clear();
    ui.first.value = '';
    openChat({ focus: true });
  } catch (err) {
    console.error('start conversation:', err);
    notice.error(err.code === 'network' ? 'common.error_network' : 'chat.error_start');
  } finally {
    starting = false;
    ui.startButton.removeAttribute('aria-disabled');
  }
}

function fieldCheck(input, error, ok) {
  error.hidden = ok;
  if (ok) {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-errormessage');
  } else {
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', error.id);
  }
  return ok;
}

// openChat shows the conversation of state and follows it live.
function openChat({ focus }) {
  ui.start.hidden = true;
  ui.chat.hidden = false;
  document.body.classList.add('chatting');
  setToken(state.token);
  thread = new Thread(ui.messages, {
    audience: 'customer',
    mine: (ev) => ev.actorRole === 'customer',
    // A call cannot run in the widget's small frame: it opens a tab.
    joinTarget: embedded ? '_blank' : '',
  });
  video.follow(state.id);
  for (const m of state.outbox) thread.addPending(m.clientId, m.body, '');
  setText(ui.chatWith, null);
  socket = new ChatSocket({
    hello: () => ({ type: 'hello', conversation: state.id, token: state.token, after: thread.lastSeq }),
    onFrame: frame,
    onState: connState,
    onFatal: lost,
  });
  socket.start();
  if (focus) ui.input.focus();
}

function frame(msg) {
  switch (msg.type) {
    case 'welcome':
      backlogUntil = (msg.conversation && msg.conversation.lastSeq) || 0;
      if (msg.conversation) {
        showWho(msg.conversation);
        video.conversation(msg.conversation);
      }
      flushOutbox();
      break;
    case 'event':
      if (msg.event) received(msg.event);
      break;
    case 'queue':
      video.update(msg.queue);
      break;
    case 'notice':
      if (msg.code === 'no_agent_online') noAgent();
      if (msg.code === 'agent_assigned' && msg.name) setText(ui.chatWith, 'chat.with_agent', { name: msg.name });
      break;
    case 'error':
      console.warn('chat socket error:', msg.code, msg.message);
      if (msg.about === 'send' || msg.code === 'too_large') notice.error('chat.error_send');
      break;
    default:
  }
}

function received(ev) {
  const item = thread.add(ev);
  if (ev.type === 'message' && ev.clientId) dropFromOutbox(ev.clientId);
  followStatus(ev);
  video.event(ev, thread);
  if (!item || ev.seq <= backlogUntil) return;
  if (callStep(ev) === 'started' && !item.classList.contains('over')) {
    announce('chat.video.ready');
    toParent({ type: 'videosupport:message' });
  }
  if (ev.type === 'message' && ev.actorRole !== 'customer') {
    announce('chat.announce_message', { name: ev.actorName || '', body: ev.body || '' });
    toParent({ type: 'videosupport:message' });
  }
}

// followStatus keeps the "You're chatting with …" line up to date.
function followStatus(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case 'conversation.assigned':
      if (d.staffName) setText(ui.chatWith, 'chat.with_agent', { name: d.staffName });
      break;
    case 'conversation.waiting':
    case 'conversation.handed_over':
      setText(ui.chatWith, 'chat.with_waiting');
      break;
    case 'conversation.closed':
      setText(ui.chatWith, 'chat.with_closed');
      break;
    default:
  }
}

function showWho(c) {
  if (c.status === 'closed') setText(ui.chatWith, 'chat.with_closed');
  else if (c.handler === 'bot') setText(ui.chatWith, 'chat.with_bot');
  else if (c.status === 'open' && c.assignedName) setText(ui.chatWith, 'chat.with_agent', { name: c.assignedName });
  else setText(ui.chatWith, 'chat.with_waiting');
}

// noAgent shows the "nobody is free" line, once per wait.
function noAgent() {
  const last = thread.lastItem();
  if (last && last.classList.contains('sys-waiting')) return;
  thread.addLine('chat.sys.no_agent', undefined, 'sys-waiting');
  setText(ui.chatWith, 'chat.with_waiting');
}

function sendTyped() {
  const body = ui.input.value.trim();
  if (!body) {
    ui.input.focus();
    return;
  }
  const m = { clientId: newClientId(), body };
  state.outbox.push(m);
  save();
  thread.addPending(m.clientId, body, '');
  ui.input.value = '';
  grow();
  ui.input.focus();
  socket.send({ type: 'send', conversation: state.id, body, clientId: m.clientId });
}

// flushOutbox sends again whatever the server has not confirmed; it runs
// on every welcome, so after a reconnect too.
function flushOutbox() {
  for (const m of state.outbox) {
    socket.send({ type: 'send', conversation: state.id, body: m.body, clientId: m.clientId });
  }
}

function dropFromOutbox(clientId) {
  const before = state.outbox.length;
  state.outbox = state.outbox.filter((m) => m.clientId !== clientId);
  if (state.outbox.length !== before) save();
}

function connState(s) {
  thread.setOnline(s === 'open');
  if (s === 'reconnecting') wasReconnecting = true;
  showConnState(s);
}

function showConnState(s) {
  ui.conn.dataset.state = s;
  if (s === 'connecting') setText(ui.conn, 'chat.connecting');
  else if (s === 'reconnecting') setText(ui.conn, 'chat.reconnecting');
  else if (s === 'open' && wasReconnecting) {
    wasReconnecting = false;
    setText(ui.conn, 'chat.reconnected');
    setTimeout(() => {
      if (ui.conn.dataset.i18n === 'chat.reconnected') setText(ui.conn, null);
    }, 4000);
  } else if (s === 'open' && ui.conn.dataset.i18n !== 'chat.reconnected') setText(ui.conn, null);
}

// lost: the server no longer knows this conversation or token.
function lost(code) {
  console.warn('chat: conversation refused:', code);
  forget();
  showStart();
  notice.error('chat.error_lost');
}

function forget() {
  if (socket) socket.stop();
  socket = null;
  if (thread) thread.clear();
  state = null;
  video.follow('');
  setToken('');
  setText(ui.conn, null);
  try {
    localStorage.removeItem(STORE);
  } catch {
    // nothing stored
  }
}

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(STORE) || 'null');
    if (s && typeof s.id === 'string' && typeof s.token === 'string') {
      s.outbox = Array.isArray(s.outbox) ? s.outbox.filter((m) => m && m.clientId && m.body) : [];
      return s;
    }
  } catch {
    // storage disabled or damaged: start afresh
  }
  return null;
}

function save() {
  try {
    localStorage.setItem(STORE, JSON.stringify(state));
  } catch {
    // Not kept across reloads; the chat still works on this page.
  }
}

function rememberedName() {
  try {
    return localStorage.getItem('videosupport.name') || '';
  } catch {
    return '';
  }
}

// announce tells screen readers about a reply that arrived live.
function announce(key, vars) {
  setText(ui.live, null);
  setTimeout(() => setText(ui.live, key, vars), 30);
}

function grow() {
  ui.input.style.blockSize = 'auto';
  ui.input.style.blockSize = `${Math.min(ui.input.scrollHeight + 4, 200)}px`;
}

function toParent(msg) {
  if (embedded && window.parent !== window) window.parent.postMessage(msg, '*');
}
