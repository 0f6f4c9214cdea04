// What the call page and the join page share about a call's controls.

// showDevices mirrors the session's devices on the mute buttons:
// aria-pressed="true" means the device is on; a missing device disables
// its button. waiting (the "waiting for others" line) shows while nobody
// else is in the call.
export function showDevices(session, { mic, cam, waiting }, grid) {
  const state = session ? session.devices() : { audio: null, video: null };
  for (const [button, on] of [[mic, state.audio], [cam, state.video]]) {
    button.disabled = on === null;
    button.setAttribute('aria-pressed', String(on === true));
  }
  waiting.hidden = grid.remoteCount() > 0;
}

// showView shows the one view named (none for null) and marks the page
// as in a call while the call view shows.
export function showView(views, name) {
  for (const [key, el] of Object.entries(views)) el.hidden = key !== name;
  document.body.classList.toggle('in-call', name === 'call');
}

// peopleNotices are the Session callbacks both pages answer alike, in
// the notice line: someone came or went; the connection is being
// restored.
export function peopleNotices(notice) {
  return {
    onPeople: (key, name) => notice.info(key, { name }, { timeout: 6000 }),
    onReconnecting(on) {
      if (on) notice.info('status.reconnecting');
      else if (notice.current() === 'status.reconnecting') notice.clear();
    },
  };
}
