// The steps of a video call as lines of a conversation's record, in plain
// words: for staff, who did what ("Amira let Wei in", "Link refused:
// expired"); for the customer, only what concerns them, said to them
// ("You asked for a video call"). thread.js shows them; the customer's
// "Your video call is ready" card is built there too, since it changes
// when its call ends.
import { language, setText, onChange } from './i18n.js';

// Why a join link was refused (desk.ErrLink*), in words.
const REFUSED = {
  link_expired: 'event.link_refused.expired',
  link_tampered: 'event.link_refused.tampered',
  link_revoked: 'event.link_refused.revoked',
  link_wrong_call: 'event.link_refused.wrong_call',
  link_wrong_role: 'event.link_refused.wrong_role',
};

// STEPS names the events that start and end a call. (Event types are
// kept as property names here: scripts compare steps, not type strings.)
const STEPS = { 'call.started': 'started', 'call.ended': 'ended' };

// callStep is "started" or "ended" for those events of a call, else "".
export function callStep(ev) {
  return (ev && STEPS[ev.type]) || '';
}

// staffLine returns the catalog key and values of a call event's line in
// the console, or null when ev is not a call event.
export function staffLine(ev) {
  const d = ev.data || {};
  const name = d.name || ev.actorName || '';
  switch (ev.type) {
    case 'call.started':
      return ev.actorName ? { key: 'event.call_started', vars: { name: ev.actorName } } : { key: 'console.sys.call_started' };
    case 'call.ended':
      return typeof d.seconds === 'number'
        ? { key: 'event.call_ended', seconds: { duration: d.seconds } }
        : { key: 'console.sys.call_ended' };
    case 'call.link_opened':
      return { key: 'event.call_link_opened', vars: { name: ev.actorName || '' } };
    case 'call.link_refused':
      return { key: REFUSED[d.reason] || 'event.link_refused.other' };
    case 'call.knocked':
      return { key: 'event.call_knocked', vars: { name } };
    case 'call.admitted':
      return d.by ? { key: 'event.call_admitted', vars: { by: d.by, name } } : { key: 'event.call_admitted_auto', vars: { name } };
    case 'call.declined':
      return { key: 'event.call_declined', vars: { by: d.by || ev.actorName || '', name } };
    case 'participant.joined':
      return { key: 'console.sys.participant_joined', vars: { name } };
    case 'participant.left':
      return { key: 'console.sys.participant_left', vars: { name } };
    case 'call.invited':
      return { key: 'event.call_invited', vars: { name: ev.actorName || '', staffName: d.staffName || '' } };
    case 'call.transferred':
      return { key: 'event.call_transferred', vars: { from: d.from || '', to: d.to || '' } };
    case 'call.requested':
      return { key: 'event.call_requested', vars: { name: ev.actorName || '' } };
    case 'call.callback_offered':
      return { key: 'event.callback_offered', seconds: { duration: d.waitedSeconds || 0 } };
    case 'call.callback_requested':
      return { key: 'event.callback_requested', vars: { name: ev.actorName || '', contact: d.contact || '' } };
    case 'call.kept_waiting':
      return { key: 'event.kept_waiting', vars: { name: ev.actorName || '' } };
    case 'call.request_withdrawn':
      return { key: 'event.request_withdrawn', vars: { name: ev.actorName || '' } };
    default:
      return recordingLine(ev, d);
  }
}

// recordingLine is the staff's line for a recording event (the audit
// trail included), or null.
function recordingLine(ev, d) {
  const name = ev.actorName || '';
  switch (ev.type) {
    case 'recording.started':
      return { key: 'event.recording_started', vars: { name } };
    case 'recording.stopped':
      return { key: 'event.recording_stopped', vars: { name } };
    case 'recording.consent':
      return { key: d.choice === 'agreed' ? 'event.recording_consent_agreed' : 'event.recording_consent_declined', vars: { name } };
    case 'recording.ready':
      return {
        key: d.interrupted ? 'event.recording_interrupted' : 'event.recording_ready',
        seconds: { duration: (d.durationMs || 0) / 1000 },
      };
    case 'recording.failed':
      return { key: 'event.recording_failed' };
    case 'recording.played':
      return { key: 'event.recording_played', vars: { name } };
    case 'recording.downloaded':
      return { key: 'event.recording_downloaded', vars: { name } };
    case 'recording.deleted':
      return { key: 'event.recording_deleted' };
    default:
      return null;
  }
}

// customerLine is the line the customer sees for a call event, or null
// for steps that are not news to them (their own link opening, their own
// knock) or are shown otherwise (the call card).
export function customerLine(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case 'call.ended':
      return { key: 'chat.sys.call_ended' };
    case 'participant.joined':
      return d.role === 'customer' ? null : { key: 'chat.sys.participant_joined', vars: { name: d.name || ev.actorName || '' } };
    case 'participant.left':
      return d.role === 'customer' ? null : { key: 'chat.sys.participant_left', vars: { name: d.name || ev.actorName || '' } };
    case 'call.requested':
      return { key: 'event.customer.requested' };
    case 'call.callback_offered':
      return { key: 'event.customer.callback_offered' };
    case 'call.callback_requested':
      return { key: 'event.customer.callback_requested', vars: { contact: d.contact || '' } };
    case 'call.kept_waiting':
      return { key: 'event.customer.kept_waiting' };
    case 'call.request_withdrawn':
      return { key: 'event.customer.withdrawn' };
    case 'recording.started':
      return { key: 'event.customer.recording_started' };
    case 'recording.stopped':
      return { key: 'event.customer.recording_stopped' };
    case 'recording.consent':
      // Only their own answer is news to them.
      if (ev.actorRole !== 'customer') return null;
      return { key: d.choice === 'agreed' ? 'event.customer.consent_agreed' : 'event.customer.consent_declined' };
    default:
      return null;
  }
}

// showLine puts a line in el. Lengths of time (line.seconds: placeholder
// -> seconds) are written out again after a language switch, so "4
// minutes" never stays English inside an Arabic sentence.
export function showLine(el, line) {
  const seconds = line.seconds || null;
  if (seconds) el.dataset.seconds = JSON.stringify(seconds);
  else delete el.dataset.seconds;
  setText(el, line.key, withDurations(line.vars, seconds));
}

function withDurations(vars, seconds) {
  if (!seconds) return vars;
  const out = { ...vars };
  for (const [name, s] of Object.entries(seconds)) out[name] = formatDuration(s);
  return out;
}

onChange(() => {
  for (const el of document.querySelectorAll('[data-seconds][data-i18n]')) {
    let seconds;
    let vars;
    try {
      seconds = JSON.parse(el.dataset.seconds);
      vars = el.dataset.i18nArgs ? JSON.parse(el.dataset.i18nArgs) : {};
    } catch {
      continue;
    }
    setText(el, el.dataset.i18n, withDurations(vars, seconds));
  }
});

// formatDuration says a length of time in the page's language, with the
// language's own plural rules: "45 seconds", "4 minutes", "2 hours".
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  let unit = 'second';
  let n = s;
  if (s >= 5400) {
    unit = 'hour';
    n = Math.round(s / 360) / 10;
  } else if (s >= 60) {
    unit = 'minute';
    n = Math.round(s / 60);
  }
  try {
    return new Intl.NumberFormat(language(), { style: 'unit', unit, unitDisplay: 'long' }).format(n);
  } catch {
    return `${n} ${unit}${n === 1 ? '' : 's'}`;
  }
}

// formatCount writes a number in the page's language (Arabic digits in
// Arabic, for one).
export function formatCount(n) {
  try {
    return new Intl.NumberFormat(language()).format(n);
  } catch {
    return String(n);
  }
}
