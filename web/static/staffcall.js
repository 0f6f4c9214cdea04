// What staff have in a call tied to a conversation: the people knocking,
// with Admit and Decline; "Invite a colleague" with a hand-over note; and
// "End call for everyone". Frames go out through the session (send);
// REST calls through api.js, which adds the CSRF token.
import { setText, apply } from './i18n.js';
import { get, post } from './api.js';

const $ = (id) => document.getElementById(id);

const AVAILABILITY = { online: 'incall.avail_online', busy: 'incall.avail_busy', away: 'incall.avail_away' };
const ORDER = { online: 0, busy: 1, away: 2 };

export class StaffTools {
  // opts: callId, me (the /me staff record, may be null), send(frame),
  // notice (Notice).
  constructor(opts) {
    this.opts = opts;
    this.knocks = new Map(); // participant id -> name
    this.ui = {
      knocking: $('knocking'),
      list: $('knock-list'),
      knockTemplate: $('knock-template'),
      invite: $('invite'),
      end: $('end-call'),
      inviteDialog: $('invite-dialog'),
      inviteForm: $('invite-form'),
      staffList: $('staff-list'),
      staffLoading: $('staff-loading'),
      colleagueTemplate: $('colleague-template'),
      note: $('handover-note'),
      inviteError: $('invite-error'),
      inviteSend: $('invite-send'),
      inviteCancel: $('invite-cancel'),
      endDialog: $('end-dialog'),
      endConfirm: $('end-confirm'),
      endCancel: $('end-cancel'),
    };
    const u = this.ui;
    u.invite.addEventListener('click', () => this.openInvite());
    u.inviteCancel.addEventListener('click', () => u.inviteDialog.close());
    u.inviteForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendInvite();
    });
    u.end.addEventListener('click', () => u.endDialog.showModal());
    u.endCancel.addEventListener('click', () => u.endDialog.close());
    u.endConfirm.addEventListener('click', () => {
      u.endDialog.close();
      this.opts.send({ type: 'end' });
    });
    // A dialog closed with Escape or a button gives the focus back to
    // the button that opened it (the browser does), so nothing else here.
  }

  // show turns the staff controls on or off.
  show(on) {
    this.ui.invite.hidden = !on;
    this.ui.end.hidden = !on;
    if (!on) {
      this.knocks.clear();
      this.render();
      if (this.ui.inviteDialog.open) this.ui.inviteDialog.close();
      if (this.ui.endDialog.open) this.ui.endDialog.close();
    }
  }

  // knocking follows the waiting room: kind is knock, admitted, declined
  // or left (Session's onKnocking).
  knocking(kind, p) {
    if (kind === 'knock') {
      const fresh = !this.knocks.has(p.id);
      this.knocks.set(p.id, p.name || '');
      if (fresh) this.opts.notice.info('incall.knock_notice', { name: p.name || '' });
    } else {
      this.knocks.delete(p.id);
    }
    this.render();
  }

  render() {
    const { list, knocking, knockTemplate } = this.ui;
    const hadFocus = list.contains(document.activeElement);
    list.replaceChildren(...[...this.knocks].map(([id, name]) => {
      const li = knockTemplate.content.firstElementChild.cloneNode(true);
      li.dataset.participant = id;
      li.querySelector('.knock-name').textContent = name;
      const admit = li.querySelector('.knock-admit');
      const decline = li.querySelector('.knock-decline');
      for (const [btn, key, type] of [[admit, 'incall.admit_label', 'admit'], [decline, 'incall.decline_label', 'decline']]) {
        btn.dataset.i18nAriaLabel = key;
        btn.dataset.i18nArgs = JSON.stringify({ name });
        btn.addEventListener('click', () => {
          admit.setAttribute('aria-disabled', 'true');
          decline.setAttribute('aria-disabled', 'true');
          this.opts.send({ type, participant: { id } });
        });
      }
      apply(li);
      return li;
    }));
    knocking.hidden = this.knocks.size === 0;
    // The one who was answered is gone; keep the keyboard in the list.
    if (hadFocus) {
      const next = list.querySelector('.knock-admit');
      if (next) next.focus();
    }
  }

  async openInvite() {
    const u = this.ui;
    u.inviteError.hidden = true;
    u.staffList.replaceChildren();
    setText(u.staffLoading, 'incall.invite_loading');
    u.staffLoading.hidden = false;
    u.inviteDialog.showModal();
    let staff;
    try {
      staff = (await get('/staff')).staff || [];
    } catch (err) {
      console.error('staff list:', err);
      setText(u.staffLoading, 'incall.invite_failed');
      return;
    }
    const myId = this.opts.me && this.opts.me.staff ? this.opts.me.staff.id : '';
    const people = staff
      .filter((s) => !s.disabled && s.id !== myId)
      .sort((a, b) => (rank(a) - rank(b)) || a.name.localeCompare(b.name));
    if (!people.length) {
      setText(u.staffLoading, 'incall.invite_none');
      return;
    }
    u.staffLoading.hidden = true;
    u.staffList.replaceChildren(...people.map((s) => {
      const li = u.colleagueTemplate.content.firstElementChild.cloneNode(true);
      const input = li.querySelector('input');
      input.value = s.id;
      input.dataset.name = s.name;
      li.querySelector('.colleague-name').textContent = s.name;
      li.querySelector('.chip-specialist').hidden = s.role !== 'specialist';
      li.dataset.role = s.role;
      const avail = li.querySelector('.colleague-avail');
      const key = AVAILABILITY[s.availability] || 'incall.avail_away';
      avail.dataset.i18n = key;
      avail.dataset.state = s.availability || 'away';
      apply(li);
      return li;
    }));
    const first = u.staffList.querySelector('input');
    if (first) first.focus();
  }

  async sendInvite() {
    const u = this.ui;
    const chosen = u.staffList.querySelector('input:checked');
    if (!chosen) {
      setText(u.inviteError, 'incall.invite_pick');
      u.inviteError.hidden = false;
      return;
    }
    u.inviteError.hidden = true;
    u.inviteSend.setAttribute('aria-disabled', 'true');
    try {
      await post(`/calls/${encodeURIComponent(this.opts.callId)}/invite`, { staffId: chosen.value, note: u.note.value.trim() });
    } catch (err) {
      console.error('invite:', err);
      setText(u.inviteError, 'incall.invite_failed');
      u.inviteError.hidden = false;
      u.inviteSend.removeAttribute('aria-disabled');
      return;
    }
    u.inviteSend.removeAttribute('aria-disabled');
    u.note.value = '';
    u.inviteDialog.close();
    this.opts.notice.info('incall.invite_sent', { name: chosen.dataset.name }, { timeout: 8000 });
  }
}

function rank(s) {
  return s.availability in ORDER ? ORDER[s.availability] : 3;
}
