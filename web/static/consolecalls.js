// The console's side of video calls: "Start video" on the open
// conversation and, while its call goes on, "Join call" and "End call";
// the video queue of customers who asked for a call, live, each with
// "Accept"; and the banner that tells a specialist a colleague invites
// them into a call.
//
// Whether a call is going on comes from the record (thread.activeCall():
// a call.started whose call has no call.ended), so the bar is right after
// a reload, a reconnect, or a call ended from another console.
import { setText, t, onChange } from './i18n.js';
import { post } from './api.js';
import { formatDuration, formatCount } from './callevents.js';
import { spriteIcon } from './icons.js';

const $ = (id) => document.getElementById(id);

export class CallDesk {
  // open(id) opens a conversation in the console; announce(key, vars)
  // speaks through the page's live region; fail(err) shows an error.
  constructor({ open, announce, fail }) {
    this.openConversation = open;
    this.announce = announce;
    this.fail = fail;
    this.ui = {
      start: $('start-video'),
      bar: $('callbar'),
      barText: $('callbar-text'),
      barNote: $('callbar-note'),
      barNoteBody: $('callbar-note-body'),
      join: $('join-call'),
      end: $('end-call'),
      queue: $('vqueue'),
      queueList: $('vqueue-list'),
      queueEmpty: $('vqueue-empty'),
      queueCount: $('vqueue-count'),
      invites: $('invites'),
    };
    this.id = ''; // the open conversation
    this.thread = null;
    this.closed = false;
    this.call = null; // the open conversation's call going on
    this.queue = [];
    this.queueSeen = null; // conversation ids of the last queue frame
    this.invited = new Map(); // conversation id -> invite notice
    this.busy = false;
    this.focusJoin = false;
    this.focusStart = false;

    this.ui.start.addEventListener('click', () => this.start());
    this.ui.end.addEventListener('click', () => this.end());
    onChange(() => {
      this.renderQueue();
      this.renderBar();
    });
    // Waiting times move on by themselves.
    setInterval(() => this.renderWaits(), 15000);
    this.renderQueue();
    this.renderBar();
  }

  // frame takes the console socket's queue and invite frames.
  frame(msg) {
    if (msg.type === 'queue') this.updateQueue(Array.isArray(msg.queue) ? msg.queue : []);
    if (msg.type === 'invite' && msg.notice) this.invite(msg.notice);
  }

  // ---- the open conversation ----

  // open follows a newly opened conversation ('' when the pane closes).
  open(id, thread) {
    this.id = id;
    this.thread = thread;
    this.call = null;
    this.focusJoin = false;
    this.focusStart = false;
    if (id) this.dropInvite(id);
    this.renderBar();
  }

  // head takes the open conversation's summary (closed ones get no Start).
  head(c) {
    this.closed = c.status === 'closed';
    this.renderBar();
  }

  // event follows the open conversation's record.
  event(ev, thread) {
    if (thread !== this.thread || !ev.type.startsWith('call.')) return;
    const was = this.call && this.call.callId;
    this.call = thread.activeCall();
    const now = this.call && this.call.callId;
    if (was === now) return;
    this.renderBar();
    // The button pressed is gone: the focus goes to the one that
    // replaced it, once the record says so.
    if (now && this.focusJoin) {
      this.focusJoin = false;
      this.ui.join.focus();
    }
    if (!now && this.focusStart) {
      this.focusStart = false;
      if (!this.ui.start.hidden) this.ui.start.focus();
    }
  }

  async start() {
    const id = this.id;
    if (!id || this.busy) return;
    await this.act(this.ui.start, async () => {
      this.focusJoin = true;
      await post(`/conversations/${encodeURIComponent(id)}/calls`);
      if (this.id === id) this.announce('console.call.started_announce');
    });
  }

  async end() {
    const call = this.call;
    if (!call || this.busy) return;
    if (!confirm(t('console.call.end_confirm'))) return;
    await this.act(this.ui.end, async () => {
      this.focusStart = true;
      await post(`/calls/${encodeURIComponent(call.callId)}/end`);
      this.announce('console.call.ended_announce');
    });
  }

  async act(button, fn) {
    this.busy = true;
    button.setAttribute('aria-disabled', 'true');
    try {
      await fn();
    } catch (err) {
      this.focusJoin = false;
      this.focusStart = false;
      this.fail(err);
    } finally {
      this.busy = false;
      button.removeAttribute('aria-disabled');
    }
  }

  renderBar() {
    const ui = this.ui;
    const call = this.id ? this.call : null;
    ui.start.hidden = !this.id || this.closed || !!call;
    ui.bar.hidden = !call;
    if (!call) {
      ui.join.removeAttribute('href');
      return;
    }
    // Staff join by their session, so the page needs no secret: no
    // fragment, and a tab of its own, the record staying here.
    ui.join.href = `/join/${encodeURIComponent(call.callId)}`;
    const inv = this.invited.get(this.id);
    if (inv) {
      setText(ui.barText, 'console.call.active_invited', { from: inv.from || '' });
      ui.barNote.hidden = !inv.note;
      ui.barNoteBody.textContent = inv.note || '';
    } else {
      setText(ui.barText, 'console.call.active');
      ui.barNote.hidden = true;
    }
  }

  // ---- the video queue ----

  updateQueue(q) {
    const before = this.queueSeen;
    this.queue = q;
    this.queueSeen = new Set(q.map((r) => r.conversationId));
    // The first frame after hello is the queue as it is, not news.
    if (before) {
      for (const r of q) {
        if (!before.has(r.conversationId)) this.announce('console.call.announce_queue', { name: r.customerName || t('console.no_name') });
      }
    }
    this.renderQueue();
  }

  renderQueue() {
    const ui = this.ui;
    const keep = document.activeElement && document.activeElement.closest('.vq-row');
    const keepId = keep ? keep.dataset.id : '';
    ui.queueList.replaceChildren(...this.queue.map((r) => this.queueRow(r)));
    ui.queue.dataset.count = String(this.queue.length);
    ui.queueCount.textContent = formatCount(this.queue.length);
    ui.queueEmpty.hidden = this.queue.length > 0;
    if (keepId) {
      const again = ui.queueList.querySelector(`.vq-row[data-id="${CSS.escape(keepId)}"] button`);
      if (again) again.focus();
      else ui.queue.querySelector('h2').focus();
    }
  }

  queueRow(r) {
    const li = document.createElement('li');
    li.className = 'vq-row';
    li.dataset.id = r.conversationId;
    const pos = span('vq-pos', formatCount(r.position));
    pos.setAttribute('aria-hidden', 'true');
    const who = span('vq-who');
    const name = document.createElement('bdi');
    name.className = 'vq-name';
    name.textContent = r.customerName || t('console.no_name');
    const wait = span('vq-wait');
    wait.dataset.since = r.requestedAt || '';
    this.fillWait(wait);
    who.append(name, wait);
    if (r.callbackOfferedAt) {
      const cb = span('vq-callback');
      setText(cb, 'console.call.callback_offered');
      who.append(cb);
    }
    const accept = document.createElement('button');
    accept.type = 'button';
    accept.className = 'btn btn-primary btn-small vq-accept';
    const label = span('');
    setText(label, 'console.call.accept');
    const whom = span('visually-hidden');
    setText(whom, 'console.call.accept_whom', { name: r.customerName || t('console.no_name') });
    accept.append(label, whom);
    accept.addEventListener('click', () => this.accept(r, accept));
    li.append(pos, who, accept);
    return li;
  }

  fillWait(el) {
    const since = Date.parse(el.dataset.since);
    if (Number.isNaN(since)) return;
    setText(el, 'console.call.waiting_for', { duration: formatDuration((Date.now() - since) / 1000) });
  }

  renderWaits() {
    for (const el of this.ui.queueList.querySelectorAll('.vq-wait')) this.fillWait(el);
  }

  // accept starts the call of a customer in the queue and opens their
  // conversation, where "Join call" is.
  async accept(r, button) {
    if (this.busy) return;
    await this.act(button, async () => {
      this.focusJoin = true;
      await post(`/conversations/${encodeURIComponent(r.conversationId)}/calls`);
      this.announce('console.call.accepted_announce', { name: r.customerName || '' });
      this.openConversation(r.conversationId);
      this.focusJoin = true;
    });
  }

  // ---- invitations ----

  invite(n) {
    if (!n.conversationId) return;
    this.invited.set(n.conversationId, n);
    const ui = this.ui;
    const old = ui.invites.querySelector(`.invite[data-id="${CSS.escape(n.conversationId)}"]`);
    if (old) old.remove();
    const box = document.createElement('div');
    box.className = 'invite';
    box.dataset.id = n.conversationId;
    box.dataset.callId = n.callId || '';
    const text = document.createElement('div');
    text.className = 'invite-text';
    const title = document.createElement('p');
    title.className = 'invite-title';
    title.append(spriteIcon('i-video'));
    const words = span('');
    setText(words, 'console.call.invite_text', { from: n.from || '', name: n.customerName || t('console.no_name') });
    title.append(words);
    text.append(title);
    if (n.note) {
      const note = document.createElement('p');
      note.className = 'invite-note';
      const label = span('invite-note-label');
      setText(label, 'console.call.invite_note_label');
      const body = span('invite-note-body');
      body.dir = 'auto';
      body.textContent = n.note;
      note.append(label, body);
      text.append(note);
    }
    const actions = document.createElement('div');
    actions.className = 'invite-actions';
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'btn btn-primary btn-small invite-open';
    setText(open, 'console.call.open_conversation');
    open.addEventListener('click', () => {
      box.remove();
      this.openConversation(n.conversationId);
    });
    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.className = 'btn btn-quiet btn-small invite-dismiss';
    setText(dismiss, 'console.call.dismiss');
    dismiss.addEventListener('click', () => {
      box.remove();
      this.invited.delete(n.conversationId);
    });
    actions.append(open, dismiss);
    box.append(text, actions);
    ui.invites.append(box);
    if (this.id === n.conversationId) this.renderBar();
  }

  // dropInvite takes the banner away once the conversation is open (the
  // call bar then says who invited, with the note).
  dropInvite(id) {
    const box = this.ui.invites.querySelector(`.invite[data-id="${CSS.escape(id)}"]`);
    if (box) box.remove();
  }
}

function span(className, text) {
  const s = document.createElement('span');
  if (className) s.className = className;
  if (text !== undefined) s.textContent = text;
  return s;
}

