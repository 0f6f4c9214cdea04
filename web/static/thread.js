// One conversation's record on screen, shared by the customer chat and the
// staff console: messages as bubbles, notes as cards, everything else as a
// centred line. Each timeline event is shown once, keyed by its seq, in
// seq order; a message the page sent is shown at once as "sending" under
// its clientId and becomes the stored message when the server echoes it.
//
// Bodies and names come from other people, so they only ever go in
// through textContent: a message "<script>…" is shown as those characters.
import { setText, language, onChange } from './i18n.js';
import { callStep, staffLine, customerLine, showLine } from './callevents.js';
import { spriteIcon } from './icons.js';

// Lines for the customer: plain and reassuring, about people, not queues.
const CUSTOMER_LINES = {
  'conversation.assigned': 'chat.sys.assigned',
  'conversation.handed_over': 'chat.sys.handed_over',
  'conversation.waiting': 'chat.sys.no_agent',
  'conversation.closed': 'chat.sys.closed',
  'conversation.reopened': 'chat.sys.reopened',
};

// Lines for staff: what happened and who did it, for the record.
const STAFF_LINES = {
  'conversation.created': 'console.sys.created',
  'conversation.assigned': 'console.sys.assigned',
  'conversation.handed_over': 'console.sys.handed_over',
  'conversation.waiting': 'console.sys.waiting',
  'conversation.closed': 'console.sys.closed',
  'conversation.reopened': 'console.sys.reopened',
};

const timeFormats = new Map();

// formatTime shows a time of day for today, and the date too for older
// events, in the page's language.
export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date().toDateString() === d.toDateString();
  const key = `${language()}|${today}`;
  let f = timeFormats.get(key);
  if (!f) {
    const opts = today
      ? { hour: 'numeric', minute: '2-digit' }
      : { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' };
    f = new Intl.DateTimeFormat(language(), opts);
    timeFormats.set(key, f);
  }
  return f.format(d);
}

// timeElement makes a <time> that follows language switches.
export function timeElement(iso, className) {
  const el = document.createElement('time');
  el.className = className;
  if (iso) {
    el.dateTime = iso;
    el.textContent = formatTime(iso);
  }
  return el;
}

onChange(() => {
  for (const el of document.querySelectorAll('time[datetime]')) {
    el.textContent = formatTime(el.dateTime);
  }
});

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// isHandoverNote tells the bot's hand-over summary from other notes.
export function isHandoverNote(ev) {
  const d = ev.data || {};
  return ev.type === 'note' && (ev.actorRole === 'bot' || d.handover === true || d.kind === 'handover');
}

// safeLink accepts only a web address (never javascript: and the like)
// for the join link the server put in the record.
function safeLink(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : '';
  } catch {
    return '';
  }
}

// keepPinned keeps a list that was scrolled to its end at its end when
// the list itself gets shorter: the video request box or the call bar
// appearing, the phone's keyboard opening. Its state lives on the element,
// since each opened conversation makes a new Thread on the same list.
function keepPinned(list) {
  if (list.dataset.pinned) return;
  list.dataset.pinned = 'true';
  list.addEventListener('scroll', () => {
    list.dataset.pinned = String(list.scrollHeight - list.scrollTop - list.clientHeight < 80);
  }, { passive: true });
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(() => {
      if (list.dataset.pinned === 'true') list.scrollTop = list.scrollHeight;
    }).observe(list);
  }
}

export class Thread {
  // audience is "customer" or "staff". mine(ev) says whether a message is
  // shown on the reader's own side. joinTarget is where the customer's
  // "Join video call" link opens ("_blank" inside the chat widget's
  // frame, which cannot hold a call; the same tab otherwise).
  constructor(list, { audience, mine, joinTarget = '' }) {
    this.list = list;
    this.audience = audience;
    this.mine = mine;
    this.joinTarget = joinTarget;
    this.bySeq = new Map();
    this.pending = new Map();
    this.calls = new Map(); // call id -> {callId, joinUrl, expires, ended, card}
    this.lastSeq = 0;
    this.online = false;
    keepPinned(list);
  }

  clear() {
    this.list.replaceChildren();
    this.bySeq.clear();
    this.pending.clear();
    this.calls.clear();
    this.lastSeq = 0;
  }

  // activeCall is the call going on, as the record tells it: the last
  // call.started whose call has no call.ended yet; or null.
  activeCall() {
    let last = null;
    for (const c of this.calls.values()) {
      if (!c.ended) last = c;
    }
    return last;
  }

  // followCall keeps this.calls in step with the record.
  followCall(ev) {
    const d = ev.data || {};
    const step = callStep(ev);
    if (step === 'started' && d.callId) {
      this.calls.set(d.callId, { callId: d.callId, joinUrl: d.joinUrl || '', expires: d.expires || '', ended: false, card: null });
    } else if (step === 'ended') {
      // A conversation has one call at a time, so an end that does not
      // say which call (older records) ends the one going on.
      const c = d.callId ? this.calls.get(d.callId) : this.activeCall();
      if (!c) return;
      c.ended = true;
      if (c.card) this.fillCallCard(c.card, c);
    }
  }

  // has reports whether the event with this seq is on screen.
  has(seq) {
    return this.bySeq.has(seq);
  }

  // add shows one timeline event and returns its element, or null when it
  // is already shown or is not for this reader.
  add(ev) {
    if (!ev || typeof ev.seq !== 'number' || this.bySeq.has(ev.seq)) return null;
    this.followCall(ev);
    const stick = this.nearBottom() || this.list.dataset.pinned === 'true';
    let item = null;
    const echo = ev.type === 'message' && ev.clientId && this.pending.get(ev.clientId);
    if (echo) {
      this.pending.delete(ev.clientId);
      item = echo;
      this.fillMessage(item, ev);
    } else {
      item = this.render(ev);
    }
    if (ev.seq > this.lastSeq) this.lastSeq = ev.seq;
    if (!item) return null;
    item.dataset.seq = String(ev.seq);
    this.bySeq.set(ev.seq, item);
    this.place(item, ev.seq);
    if (stick || echo) this.scrollToEnd();
    return item;
  }

  // addPending shows a message the page is sending.
  addPending(clientId, body, authorName) {
    if (this.pending.has(clientId)) return this.pending.get(clientId);
    const item = this.messageItem(true);
    item.dataset.clientId = clientId;
    item.classList.add('pending');
    const author = item.querySelector('.msg-author');
    if (this.audience === 'customer') setText(author, 'thread.you');
    else author.textContent = authorName;
    item.querySelector('.msg-body').textContent = body;
    this.pendingState(item);
    this.pending.set(clientId, item);
    this.list.append(item);
    this.scrollToEnd();
    return item;
  }

  // setOnline switches pending messages between "Sending…" and "Will
  // send when the connection is back".
  setOnline(online) {
    this.online = online;
    for (const item of this.pending.values()) this.pendingState(item);
  }

  pendingState(item) {
    setText(item.querySelector('.msg-state'), this.online ? 'thread.sending' : 'thread.queued');
  }

  // addLine shows a line that is not a timeline event (a notice).
  addLine(key, vars, kind = '') {
    const item = this.lineItem(key, vars, new Date().toISOString());
    if (kind) item.classList.add(kind);
    const stick = this.nearBottom();
    const firstPending = this.list.querySelector('.pending');
    this.list.insertBefore(item, firstPending);
    if (stick) this.scrollToEnd();
    return item;
  }

  // lastItem is the newest element that is not a pending message.
  lastItem() {
    const items = this.list.querySelectorAll(':scope > li:not(.pending)');
    return items[items.length - 1] || null;
  }

  render(ev) {
    if (ev.type === 'message') {
      const item = this.messageItem(this.mine(ev));
      this.fillMessage(item, ev);
      return item;
    }
    if (ev.type === 'note') {
      if (this.audience !== 'staff') return null;
      return this.noteItem(ev);
    }
    if (ev.type.startsWith('call.') || ev.type.startsWith('participant.') || ev.type.startsWith('recording.')) return this.callItem(ev);
    const lines = this.audience === 'staff' ? STAFF_LINES : CUSTOMER_LINES;
    const key = lines[ev.type];
    if (!key) return null;
    const d = ev.data || {};
    const name = d.staffName || ev.actorName || '';
    const item = this.lineItem(key, { name }, ev.createdAt);
    item.dataset.type = ev.type;
    // The customer's "nobody is free" line is a reassurance, set apart;
    // for staff it is one more line of the record.
    if (ev.type === 'conversation.waiting' && this.audience === 'customer') item.classList.add('sys-waiting');
    return item;
  }

  // callItem shows a step of a video call: a line for staff; for the
  // customer, the card with the join link, or a line about their request.
  callItem(ev) {
    if (this.audience === 'customer' && callStep(ev) === 'started') {
      const c = this.calls.get((ev.data || {}).callId);
      if (!c) return null;
      c.card = this.callCard(ev);
      this.fillCallCard(c.card, c);
      return c.card;
    }
    const line = this.audience === 'staff' ? staffLine(ev) : customerLine(ev);
    if (!line) return null;
    const item = this.lineItem(null, null, ev.createdAt);
    showLine(item.querySelector('.sys-text > span'), line);
    item.dataset.type = ev.type;
    item.classList.add('sys-call');
    return item;
  }

  callCard(ev) {
    const item = el('li', 'call-card');
    item.dataset.type = ev.type;
    const box = el('div', 'call-card-box');
    const title = el('h2', 'call-card-title');
    title.id = `call-card-${ev.seq}`;
    box.setAttribute('role', 'group');
    box.setAttribute('aria-labelledby', title.id);
    const hint = el('p', 'call-card-hint');
    const link = el('a', 'btn btn-primary btn-big call-join');
    const label = el('span');
    setText(label, 'chat.video.join');
    link.append(spriteIcon('i-video'), label);
    if (this.joinTarget) {
      link.target = this.joinTarget;
      link.rel = 'noopener';
    }
    const time = el('p', 'call-card-time');
    time.append(timeElement(ev.createdAt, 'sys-time'));
    box.append(title, hint, link, time);
    item.append(box);
    return item;
  }

  // fillCallCard shows a card live (the link) or over (no link: it would
  // only be refused now).
  fillCallCard(card, c) {
    const expired = c.expires && Date.parse(c.expires) < Date.now();
    const href = safeLink(c.joinUrl);
    const live = !c.ended && !expired && href;
    card.classList.toggle('over', !live);
    card.dataset.callId = c.callId;
    setText(card.querySelector('.call-card-title'), live ? 'chat.video.ready' : 'chat.sys.call_started');
    setText(card.querySelector('.call-card-hint'), live ? 'chat.video.ready_hint' : 'chat.video.card_over');
    const link = card.querySelector('.call-join');
    link.hidden = !live;
    if (live) link.href = href;
    else link.removeAttribute('href');
  }

  messageItem(mine) {
    const item = el('li', `msg ${mine ? 'msg-mine' : 'msg-theirs'}`);
    const bubble = el('div', 'bubble');
    const meta = el('p', 'msg-meta');
    const author = el('bdi', 'msg-author');
    meta.append(author, ' ', timeElement('', 'msg-time'));
    const body = el('p', 'msg-body');
    body.dir = 'auto';
    const state = el('p', 'msg-state');
    bubble.append(meta, body, state);
    item.append(bubble);
    return item;
  }

  fillMessage(item, ev) {
    item.classList.remove('pending');
    delete item.dataset.pending;
    const role = ev.actorRole || '';
    item.dataset.role = role;
    const author = item.querySelector('.msg-author');
    if (this.audience === 'customer' && role === 'customer') {
      setText(author, 'thread.you');
    } else {
      setText(author, null);
      author.textContent = ev.actorName || '';
    }
    item.querySelector('.msg-body').textContent = ev.body || '';
    const time = item.querySelector('.msg-time');
    time.dateTime = ev.createdAt || '';
    time.textContent = ev.createdAt ? formatTime(ev.createdAt) : '';
    setText(item.querySelector('.msg-state'), null);
  }

  noteItem(ev) {
    const handover = isHandoverNote(ev);
    const item = el('li', handover ? 'note note-handover' : 'note');
    const box = el('div', 'note-box');
    const meta = el('p', 'note-meta');
    const label = el('span', 'note-label');
    setText(label, handover ? 'thread.handover_note' : 'thread.note_by', { name: ev.actorName || '' });
    meta.append(label, ' ', timeElement(ev.createdAt, 'msg-time'));
    const body = el('p', 'note-body', ev.body || '');
    body.dir = 'auto';
    box.append(meta, body);
    item.append(box);
    return item;
  }

  lineItem(key, vars, iso) {
    const item = el('li', 'sys');
    const p = el('p', 'sys-text');
    const text = el('span');
    if (key) setText(text, key, vars);
    p.append(text);
    if (iso) p.append(' ', timeElement(iso, 'sys-time'));
    item.append(p);
    return item;
  }

  // place keeps confirmed events in seq order, above pending messages.
  place(item, seq) {
    let before = null;
    for (const child of this.list.children) {
      if (child === item) continue;
      if (child.classList.contains('pending')) {
        before = child;
        break;
      }
      const s = Number(child.dataset.seq);
      if (child.dataset.seq && s > seq) {
        before = child;
        break;
      }
    }
    if (item.nextSibling === before && item.parentNode === this.list) return;
    this.list.insertBefore(item, before);
  }

  nearBottom() {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }

  scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }
}
