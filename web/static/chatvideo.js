// The customer's side of the video queue, under the chat: "Ask for a video
// call", then their place in line, live ("You are number 2 in line –
// about 4 minutes"), and, when nobody has been free for a while, the offer
// of a callback. The server sends the customer only their own place
// (a "queue" frame on their conversation socket), never who else waits.
//
// One live region (#video-status-text) says every change, so a screen
// reader hears the position move and the callback question arrive.
import { setText, onChange } from './i18n.js';
import { post, del, errorKey } from './api.js';
import { callStep, formatDuration, formatCount } from './callevents.js';

const $ = (id) => document.getElementById(id);

export class VideoRequest {
  // notice is the page's Notice, for failures.
  constructor({ notice }) {
    this.notice = notice;
    this.ui = {
      box: $('video-box'),
      ask: $('video-ask'),
      status: $('video-status-text'),
      cancel: $('video-cancel'),
      form: $('callback-form'),
      contact: $('callback-contact'),
      contactError: $('callback-contact-error'),
      yes: $('callback-yes'),
      no: $('callback-no'),
    };
    this.id = '';
    this.contact = '';
    this.closed = false;
    this.inCall = false;
    this.queue = null; // the last queue frame
    this.after = ''; // what our last answer was: cancelled, callback, waiting
    this.busy = false;
    this.ui.ask.addEventListener('click', () => this.ask());
    this.ui.cancel.addEventListener('click', () => this.withdraw());
    this.ui.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.choose(true);
    });
    this.ui.no.addEventListener('click', () => this.choose(false));
    // Numbers and lengths of time are written in the page's language.
    onChange(() => this.render());
    this.render();
  }

  // follow starts on a conversation (after the page opened or resumed it).
  follow(id) {
    this.id = id;
    this.queue = null;
    this.after = '';
    this.inCall = false;
    this.closed = false;
    this.render();
  }

  // conversation takes what the welcome frame says of the conversation.
  conversation(c) {
    if (c.customerContact && !this.contact) this.contact = c.customerContact;
    this.closed = c.status === 'closed';
    this.render();
  }

  // event follows the record: a call going on hides the request, the end
  // of the conversation too.
  event(ev, thread) {
    if (ev.type.startsWith('call.') || ev.type === 'conversation.closed' || ev.type === 'conversation.reopened') {
      this.inCall = !!thread.activeCall();
      if (ev.type === 'conversation.closed') this.closed = true;
      if (ev.type === 'conversation.reopened') this.closed = false;
      if (callStep(ev) === 'started') this.after = '';
      this.render();
    }
  }

  // update takes a queue frame: {inQueue, position, estimateSeconds,
  // callbackOffered}.
  update(q) {
    const was = this.queue;
    this.queue = q && typeof q === 'object' ? q : null;
    if (this.queue && this.queue.inQueue) {
      if (!(was && was.inQueue && was.callbackOffered) && this.queue.callbackOffered) this.after = '';
      if (this.after === 'cancelled' || this.after === 'callback') this.after = '';
    }
    this.render();
  }

  async ask() {
    await this.act(async () => {
      this.after = '';
      this.update(await post(`/conversations/${encodeURIComponent(this.id)}/video-request`));
    });
  }

  async withdraw() {
    await this.act(async () => {
      await del(`/conversations/${encodeURIComponent(this.id)}/video-request`);
      this.after = 'cancelled';
      this.update({ inQueue: false });
      this.ui.ask.focus();
    });
  }

  async choose(callback) {
    const contact = this.ui.contact.value.trim();
    if (callback && !contact) {
      this.ui.contactError.hidden = false;
      this.ui.contact.setAttribute('aria-invalid', 'true');
      this.ui.contact.setAttribute('aria-errormessage', this.ui.contactError.id);
      this.ui.contact.focus();
      return;
    }
    this.ui.contactError.hidden = true;
    this.ui.contact.removeAttribute('aria-invalid');
    this.ui.contact.removeAttribute('aria-errormessage');
    await this.act(async () => {
      const res = await post(`/conversations/${encodeURIComponent(this.id)}/video-request/callback`,
        callback ? { callback: true, contact } : { callback: false });
      if (callback) {
        this.contact = contact;
        this.after = 'callback';
      } else {
        this.after = 'waiting';
      }
      this.update(res);
      // The buttons that had the focus are gone: keep it in the box.
      (this.ui.cancel.hidden ? this.ui.box : this.ui.cancel).focus();
    });
  }

  async act(fn) {
    if (this.busy || !this.id) return;
    this.busy = true;
    for (const b of [this.ui.ask, this.ui.cancel, this.ui.yes, this.ui.no]) b.setAttribute('aria-disabled', 'true');
    try {
      await fn();
      this.notice.clear();
    } catch (err) {
      console.error('video request:', err);
      this.notice.error(err && err.status === 400 ? 'chat.video.error' : errorKey(err));
    } finally {
      this.busy = false;
      for (const b of [this.ui.ask, this.ui.cancel, this.ui.yes, this.ui.no]) b.removeAttribute('aria-disabled');
    }
  }

  // state is what the box shows: hidden, idle, queued, offered or done.
  get state() {
    if (!this.id || this.closed || this.inCall) return 'hidden';
    const q = this.queue;
    if (q && q.inQueue) return q.callbackOffered && this.after !== 'waiting' ? 'offered' : 'queued';
    if (this.after === 'callback') return 'done';
    return 'idle';
  }

  render() {
    const ui = this.ui;
    const state = this.state;
    ui.box.hidden = state === 'hidden';
    ui.box.dataset.state = state;
    ui.ask.hidden = state !== 'idle';
    ui.cancel.hidden = state !== 'queued' && state !== 'offered';
    ui.form.hidden = state !== 'offered';
    const q = this.queue || {};
    ui.status.dataset.position = q.inQueue ? String(q.position || 0) : '';
    let key = null;
    let vars;
    switch (state) {
      case 'queued': {
        const position = formatCount(q.position || 1);
        if (q.estimateSeconds > 0) {
          key = this.after === 'waiting' ? 'chat.video.still_waiting' : 'chat.video.position';
          vars = { position, duration: formatDuration(Math.max(60, q.estimateSeconds)) };
        } else {
          key = 'chat.video.position_only';
          vars = { position };
        }
        break;
      }
      case 'offered':
        key = 'chat.video.callback_question';
        if (!ui.contact.value) ui.contact.value = this.contact;
        break;
      case 'done':
        key = 'chat.video.callback_confirmed';
        vars = { contact: this.contact };
        break;
      case 'idle':
        if (this.after === 'cancelled') key = 'chat.video.cancelled';
        break;
      default:
    }
    // Write only when the words change, so the live region speaks news.
    const next = JSON.stringify([key, vars]);
    if (ui.status.dataset.said !== next) {
      ui.status.dataset.said = next;
      setText(ui.status, key, vars);
    }
    ui.status.hidden = !key;
  }
}
