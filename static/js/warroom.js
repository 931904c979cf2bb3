/* The war room's page: fills the server-rendered shell and keeps it live over the shared
   client (static/js/live.js, loaded first; docs/warroom-protocol.md), and the scratchpad's
   three-way merge.

   Plain JavaScript, no library, no build step. Nothing that arrives on the socket is parsed as
   HTML: every text a user wrote reaches the page through textContent. */
(function () {
  "use strict";

  /* --- the merge: a port of warroom/merge.py ----------------------------------------------

     Same texts in, same text out (tests/warroom/merge_cases.json runs both). Like Python, it
     counts in code points, not UTF-16 units, so texts are handled as arrays of characters.
     The diff is difflib.SequenceMatcher's (autojunk off), ported: another LCS would pick
     other alignments among equal-length ones and merge some texts differently. */

  const REFINE_LIMIT = 2000;
  // Python's \w (str.isalnum() or "_") and \s (str.isspace()); JavaScript's \s differs.
  const WORD = "\\p{L}\\p{N}_";
  const SPACE =
    "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a" +
    "\\u2028\\u2029\\u202f\\u205f\\u3000";
  const TOKEN = new RegExp(`[${WORD}]+|[${SPACE}]+|[^${WORD}${SPACE}]`, "gu");
  const WORD_CHAR = new RegExp(`^[${WORD}]$`, "u");
  // Where str.splitlines() ends a line (and "\r\n" as one).
  const LINE_END = /^[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]$/u;

  /** `incoming` (typed against `base`) merged into `current` (what the server holds now). */
  function merge3(base, current, incoming) {
    if (incoming === base || incoming === current) return current;
    if (current === base) return incoming;
    const baseChars = Array.from(base);
    const ours = diff(base, current);
    const theirs = diff(base, incoming);
    const cuts = new Set([0, baseChars.length]);
    for (const [start, end] of ours.concat(theirs)) cuts.add(start).add(end);
    const points = [...cuts].sort((a, b) => a - b);
    const out = [];
    points.forEach((here, n) => {
      for (const inserted of insertions(insertedAt(ours, here), insertedAt(theirs, here))) {
        append(out, inserted);
      }
      const next = points[n + 1];
      if (next !== undefined && !deletes(ours, here) && !deletes(theirs, here)) {
        append(out, baseChars.slice(here, next).join(""));
      }
    });
    return out.join("");
  }

  /** Two insertions at one place, current first; once when both are the same. */
  function insertions(first, second) {
    return first === second ? [first] : [first, second];
  }

  /** Every edit starts and ends between words in both texts, so two words meeting where two
      pieces meet were run together by the merge: a space keeps them apart. */
  function append(out, piece) {
    if (!piece) return;
    if (out.length && isWord(lastChar(out[out.length - 1])) && isWord(firstChar(piece))) {
      out.push(" ");
    }
    out.push(piece);
  }

  function firstChar(text) {
    return String.fromCodePoint(text.codePointAt(0));
  }

  function lastChar(text) {
    return Array.from(text.slice(-2)).pop();
  }

  function isWord(char) {
    return WORD_CHAR.test(char);
  }

  function insertedAt(edits, point) {
    return edits
      .filter(([start]) => start === point)
      .map(([, , text]) => text)
      .join("");
  }

  function deletes(edits, point) {
    return edits.some(([start, end]) => start <= point && point < end);
  }

  /** The edits [start, end, text] (in code points) that turn `base` into `other`, in order
      and non-overlapping. */
  function diff(base, other) {
    if (base === other) return [];
    const old = Array.from(base);
    const now = Array.from(other);
    const head = wordStart(old, now, commonPrefix(old, now));
    let tail = commonSuffix(old, now, head);
    while (tail && (insideWord(old, old.length - tail) || insideWord(now, now.length - tail))) {
      tail -= 1;
    }
    const middle = middleEdits(
      old.slice(head, old.length - tail),
      now.slice(head, now.length - tail),
    );
    return middle.map(([start, end, text]) => [head + start, head + end, text]);
  }

  /** `head` moved back to the start of the word it falls in, in either text. */
  function wordStart(old, now, head) {
    while (head && (insideWord(old, head) || insideWord(now, head))) head -= 1;
    return head;
  }

  function insideWord(chars, at) {
    return 0 < at && at < chars.length && isWord(chars[at - 1]) && isWord(chars[at]);
  }

  function commonPrefix(a, b) {
    const n = Math.min(a.length, b.length);
    let i = 0;
    while (i < n && a[i] === b[i]) i += 1;
    return i;
  }

  /** The common suffix of a[from:] and b[from:]. */
  function commonSuffix(a, b, from) {
    const n = Math.min(a.length, b.length) - from;
    let i = 0;
    while (i < n && a[a.length - 1 - i] === b[b.length - 1 - i]) i += 1;
    return i;
  }

  function middleEdits(old, now) {
    if (!old.length || !now.length) return [[0, old.length, now.join("")]];
    const oldTokens = tokens(old.join(""));
    const newTokens = tokens(now.join(""));
    if (Math.max(oldTokens.length, newTokens.length) <= REFINE_LIMIT) {
      return tokenEdits(oldTokens, newTokens);
    }
    return lineEdits(old, now);
  }

  /** Words, runs of white space, and single other characters: edits never split a word. */
  function tokens(text) {
    return text.match(TOKEN) || [];
  }

  function tokenEdits(old, now) {
    const oldAt = offsets(old);
    return changes(old, now).map(([, i1, i2, j1, j2]) => [
      oldAt[i1],
      oldAt[i2],
      now.slice(j1, j2).join(""),
    ]);
  }

  /** A line-level diff, with each small changed block refined to tokens. */
  function lineEdits(old, now) {
    const oldLines = lines(old);
    const newLines = lines(now);
    const oldAt = offsets(oldLines);
    const newAt = offsets(newLines);
    let edits = [];
    for (const [tag, i1, i2, j1, j2] of changes(oldLines, newLines)) {
      const start = oldAt[i1];
      const end = oldAt[i2];
      const blockNew = now.slice(newAt[j1], newAt[j2]).join("");
      const oldTokens = tokens(old.slice(start, end).join(""));
      const newTokens = tokens(blockNew);
      if (tag === "replace" && Math.max(oldTokens.length, newTokens.length) <= REFINE_LIMIT) {
        const refined = tokenEdits(oldTokens, newTokens);
        edits = edits.concat(refined.map(([s, e, text]) => [start + s, start + e, text]));
      } else {
        edits.push([start, end, blockNew]);
      }
    }
    return edits;
  }

  /** str.splitlines(keepends=True) of an array of characters. */
  function lines(chars) {
    const out = [];
    let line = "";
    chars.forEach((char, n) => {
      line += char;
      if (LINE_END.test(char) && !(char === "\r" && chars[n + 1] === "\n")) {
        out.push(line);
        line = "";
      }
    });
    if (line) out.push(line);
    return out;
  }

  function offsets(pieces) {
    const out = [0];
    for (const piece of pieces) out.push(out[out.length - 1] + codePoints(piece));
    return out;
  }

  function codePoints(text) {
    return Array.from(text).length;
  }

  /** difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes(), without "equal". */
  function changes(a, b) {
    const out = [];
    let i = 0;
    let j = 0;
    for (const [ai, bj, size] of matchingBlocks(a, b)) {
      const tag = i < ai && j < bj ? "replace" : i < ai ? "delete" : j < bj ? "insert" : "";
      if (tag) out.push([tag, i, ai, j, bj]);
      i = ai + size;
      j = bj + size;
    }
    return out;
  }

  /** SequenceMatcher.get_matching_blocks(): the longest match, then the same on each side
      of it; adjacent blocks joined; a final (len(a), len(b), 0). */
  function matchingBlocks(a, b) {
    const b2j = new Map();
    b.forEach((item, j) => {
      if (!b2j.has(item)) b2j.set(item, []);
      b2j.get(item).push(j);
    });
    const queue = [[0, a.length, 0, b.length]];
    const blocks = [];
    while (queue.length) {
      const [alo, ahi, blo, bhi] = queue.pop();
      const [i, j, k] = longestMatch(a, b2j, alo, ahi, blo, bhi);
      if (k) {
        blocks.push([i, j, k]);
        if (alo < i && blo < j) queue.push([alo, i, blo, j]);
        if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi]);
      }
    }
    blocks.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
    const joined = [];
    let [i1, j1, k1] = [0, 0, 0];
    for (const [i2, j2, k2] of blocks) {
      if (i1 + k1 === i2 && j1 + k1 === j2) {
        k1 += k2;
      } else {
        if (k1) joined.push([i1, j1, k1]);
        [i1, j1, k1] = [i2, j2, k2];
      }
    }
    if (k1) joined.push([i1, j1, k1]);
    joined.push([a.length, b.length, 0]);
    return joined;
  }

  /** SequenceMatcher.find_longest_match() without junk: the longest run of equal items in
      a[alo:ahi] and b[blo:bhi], the earliest in a, then in b. (Python's extension loops that
      follow only ever extend over junk or "popular" items, which autojunk=False has none of.) */
  function longestMatch(a, b2j, alo, ahi, blo, bhi) {
    let besti = alo;
    let bestj = blo;
    let bestsize = 0;
    let j2len = new Map();
    for (let i = alo; i < ahi; i += 1) {
      const next = new Map();
      for (const j of b2j.get(a[i]) || []) {
        if (j < blo) continue;
        if (j >= bhi) break;
        const k = (j2len.get(j - 1) || 0) + 1;
        next.set(j, k);
        if (k > bestsize) {
          besti = i - k + 1;
          bestj = j - k + 1;
          bestsize = k;
        }
      }
      j2len = next;
    }
    return [besti, bestj, bestsize];
  }

  /** Where a caret at `offset` (UTF-16, as textareas count) in `before` belongs in `after`:
      moved by what changed before it, kept in front of what was inserted right at it. */
  function moveCaret(before, after, offset) {
    const at = codePoints(before.slice(0, offset));
    let shift = 0;
    for (const [start, end, text] of diff(before, after)) {
      if (end < at || (end === at && start < at)) {
        shift += codePoints(text) - (end - start);
      } else if (start < at) {
        return unitOffset(after, start + shift + codePoints(text));
      } else {
        break;
      }
    }
    return unitOffset(after, at + shift);
  }

  function unitOffset(text, points) {
    return Array.from(text).slice(0, points).join("").length;
  }

  window.WarRoomMerge = { merge3 };

  /* --- the page ------------------------------------------------------------------------------ */

  const SCRATCHPAD_BATCH_MS = 150;
  const CLOSED_FOR_GOOD = {
    4403: "Your role may not view war rooms.",
    4404: "This war room no longer exists.",
  };
  const LIVE_STATES = ["active", "resolved"];

  const configNode = document.getElementById("warroom-config");
  if (configNode) startRoom(JSON.parse(configNode.textContent));

  function startRoom(config) {
    const room = document.getElementById("warroom");
    let caughtUp = false; // a snapshot has been shown: later ones are catch-ups
    // The shared client (static/js/live.js): reconnects asking for the events after the last
    // one the page shows; `request` sends a write and calls back on its ack or error.
    const connection = window.Live.connect({
      path: config.ws_path,
      status: document.getElementById("wr-connection"),
      closedForGood: CLOSED_FOR_GOOD,
      received: (message) => HANDLERS[message.kind]?.(message),
      query: () => ({ since: timeline.lastId() }),
      disconnected: () => pad.disconnected(),
      unanswered: (error) => alertUser(error.message),
    });
    const timeline = timelineView(config, connection);
    const pad = scratchpadClient(config, connection);
    const people = peopleView(config, connection);

    // Parts of the room that arrive whole: in the snapshot, and each in a message of its kind.
    const PARTS = ["roles", "tasks", "bridge", "presence"];
    const HANDLERS = {
      snapshot(message) {
        if (caughtUp && !message.timeline.complete) {
          window.location.reload(); // it missed more than a catch-up holds
          return;
        }
        showMajorIncident(message.major_incident);
        timeline.load(message.timeline, { replace: !caughtUp });
        for (const part of PARTS) people[part](message[part]);
        pad.connected(message.scratchpad);
        caughtUp = true;
      },
      timeline(message) {
        timeline.add(message.event);
        showIncident(message);
      },
      "timeline.pinned"(message) {
        timeline.pinChanged(message.event);
      },
      major_incident(message) {
        showMajorIncident(message.major_incident);
      },
      scratchpad(message) {
        pad.received(message.scratchpad);
      },
    };
    for (const part of PARTS) HANDLERS[part] = (message) => people[part](message[part]);

    bindForms(config, connection);
    showNotificationsToggle();
    connection.start();

    function showMajorIncident(major) {
      const live = LIVE_STATES.includes(major.state);
      room.dataset.state = major.state;
      room.dataset.live = String(live);
      const state = field("state");
      state.textContent = config.states[major.state] || major.state;
      state.className = `chip state-${major.state}`;
      field("title").textContent = major.title;
      field("manager").textContent = major.manager ? major.manager.name : "Not named";
      field("manager").title = major.manager ? major.manager.username : ""; // as |person does
      field("impact").textContent = major.initial_impact_statement;
      people.bridgeLink(major.bridge_link);
      showIncident({ status: major.incident_status, priority: major.priority });
      pad.setLive(live);
    }

    function showIncident(incident) {
      const priority = field("priority");
      priority.textContent = incident.priority;
      priority.className = `badge prio-${String(incident.priority).toLowerCase()}`;
      const status = field("incident-status");
      status.textContent = config.statuses[incident.status] || incident.status;
      status.className = `chip status-${incident.status}`;
    }

    function field(name) {
      return room.querySelector(`[data-field="${name}"]`);
    }
  }

  function alertUser(text) {
    const box = document.getElementById("wr-alert");
    box.textContent = text;
    box.hidden = !text;
  }

  /* --- the scratchpad ------------------------------------------------------------------------ */

  /** The scratchpad's client side of the protocol: keystrokes batched for SCRATCHPAD_BATCH_MS,
      one edit in flight at a time, what was typed meanwhile rebased on the acknowledged text,
      and versions from others merged into unsent text instead of replacing it. */
  function scratchpadClient(config, connection) {
    const textarea = document.getElementById("wr-scratchpad");
    const status = document.getElementById("wr-scratchpad-status");
    let serverText = "";
    let serverVersion = -1; // none seen yet: the first snapshot is newer
    let inflight = null; // the text of the edit the server has not answered yet
    let held = null; // the newest version that arrived while an edit was in flight
    let timer = null;
    let ready = false; // connected, and this socket's snapshot merged
    let live = true; // the room takes changes
    let failure = "";

    textarea.addEventListener("input", schedule);

    function schedule() {
      showStatus();
      if (timer === null) timer = window.setTimeout(flush, SCRATCHPAD_BATCH_MS);
    }

    function flush() {
      timer = null;
      if (!config.can_write || !ready || inflight !== null || textarea.value === serverText) {
        showStatus();
        return;
      }
      inflight = textarea.value;
      failure = "";
      connection.request(
        { type: "scratchpad", base_version: serverVersion, text: inflight },
        { done: acknowledged, failed },
      );
      showStatus();
    }

    function acknowledged(result) {
      const sent = inflight;
      inflight = null;
      replaceText(merge3(sent, result.text, textarea.value));
      serverText = result.text;
      serverVersion = result.version;
      releaseHeld();
      if (textarea.value !== serverText) schedule();
      showStatus();
    }

    function failed(error) {
      inflight = null;
      if (!error.dropped) failure = error.message; // kept unsent; the next keystroke retries
      releaseHeld();
      showStatus();
    }

    function releaseHeld() {
      const next = held;
      held = null;
      if (next !== null) received(next);
    }

    /** A version someone saved (this page's own included). */
    function received(pad) {
      if (pad.version <= serverVersion) return;
      if (inflight !== null) {
        if (held === null || pad.version > held.version) held = pad;
        return;
      }
      const unsent = textarea.value !== serverText;
      replaceText(unsent ? merge3(serverText, pad.text, textarea.value) : pad.text);
      serverText = pad.text;
      serverVersion = pad.version;
      if (textarea.value !== serverText) schedule();
      showStatus();
    }

    /** The snapshot of a new socket: merged like any version, then what is unsent goes. */
    function connected(pad) {
      ready = true;
      received(pad);
      showReadOnly();
      if (textarea.value !== serverText) schedule();
      showStatus();
    }

    function disconnected() {
      ready = false;
      showStatus();
    }

    function setLive(isLive) {
      live = isLive;
      showReadOnly();
    }

    /** Typing offline is fine (it is sent on reconnect); before the first snapshot, which
        gives it a version to be typed against, it is not. */
    function showReadOnly() {
      textarea.readOnly = !(config.can_write && live && serverVersion >= 0);
    }

    function replaceText(text) {
      const before = textarea.value;
      if (text === before) return;
      const { selectionStart, selectionEnd, selectionDirection, scrollTop } = textarea;
      textarea.value = text;
      textarea.setSelectionRange(
        moveCaret(before, text, selectionStart),
        moveCaret(before, text, selectionEnd),
        selectionDirection,
      );
      textarea.scrollTop = scrollTop;
    }

    function showStatus() {
      const unsent = textarea.value !== serverText;
      let text = `Saved · version ${Math.max(serverVersion, 0)}`;
      if (failure) text = `Not saved: ${failure}`;
      else if (!ready && unsent) text = "Offline: your changes are kept and sent once reconnected";
      else if (!ready) text = "Offline";
      else if (unsent) text = "Saving…";
      status.textContent = text;
      status.dataset.state = failure ? "error" : unsent ? "saving" : "saved";
    }

    return { received, connected, disconnected, setLive };
  }

  /* --- the timeline -------------------------------------------------------------------------- */

  // As the portal's pages show times: "22 Nov 07:02".
  const TIME = new Intl.DateTimeFormat("en-GB", {
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });

  /** Events newest first, each once (a page may get one both in a snapshot and live), and
      the pinned ones again in a strip above. */
  function timelineView(config, connection) {
    const list = document.getElementById("wr-timeline");
    const pinnedList = document.getElementById("wr-pinned");
    const pinnedCard = document.getElementById("wr-pinned-card");
    const truncated = document.getElementById("wr-timeline-truncated");
    const events = new Map();

    /** A snapshot's timeline: all of it on the first, what was missed on a reconnect. Its
        pinned list is always whole. */
    function load(timeline, { replace }) {
      if (replace) {
        events.clear();
        list.replaceChildren();
        truncated.hidden = timeline.complete;
      }
      timeline.events.forEach(show);
      const pinned = new Set(timeline.pinned.map((event) => event.id));
      for (const event of events.values()) {
        if (event.pinned !== pinned.has(event.id)) show({ ...event, pinned: pinned.has(event.id) });
      }
      pinnedList.replaceChildren(...timeline.pinned.map(eventItem).reverse());
      pinnedCard.hidden = !timeline.pinned.length;
    }

    function add(event) {
      show(event);
      showPinned(event);
    }

    function pinChanged(event) {
      if (events.has(event.id)) show(event);
      showPinned(event);
    }

    function show(event) {
      const known = events.has(event.id);
      events.set(event.id, event);
      if (known) list.querySelector(`[data-id="${event.id}"]`).replaceWith(eventItem(event));
      else list.insertBefore(eventItem(event), olderItem(list, event.id));
    }

    function showPinned(event) {
      pinnedList.querySelector(`[data-id="${event.id}"]`)?.remove();
      if (event.pinned) pinnedList.insertBefore(eventItem(event), olderItem(pinnedList, event.id));
      pinnedCard.hidden = !pinnedList.children.length;
    }

    function olderItem(container, id) {
      return [...container.children].find((item) => Number(item.dataset.id) < id) || null;
    }

    function eventItem(event) {
      const item = element("li", `event event-${event.type}`);
      item.dataset.id = event.id;
      const head = element("div", "event-head");
      head.append(element("span", "event-type", config.event_types[event.type] || event.type));
      if (event.pinned) head.append(element("span", "tag tag-pinned", "pinned"));
      if (event.public) head.append(element("span", "tag tag-public", "public"));
      const by = `${event.actor || "system"} · ${config.sources[event.source] || event.source}`;
      head.append(element("span", "event-by", by));
      const time = element("time", "", TIME.format(new Date(event.at)));
      time.dateTime = event.at;
      head.append(time);
      if (config.can_write) head.append(pinButton(event));
      const note = event.type === "note" && event.data?.text;
      item.append(head, element("div", "wr-text", note || event.summary));
      return item;
    }

    function pinButton(event) {
      const label = event.pinned ? "Unpin" : "Pin";
      const button = element("button", "btn btn-ghost btn-small wr-write wr-pin", label);
      button.type = "button";
      button.addEventListener("click", () =>
        act(connection, button, { type: "pin", event: event.id, pinned: !event.pinned }),
      );
      return button;
    }

    function lastId() {
      return events.size ? Math.max(...events.keys()) : null;
    }

    return { load, add, pinChanged, lastId };
  }

  /** Notifications sent about the incident are on its timeline too; in the room they are noise
      until someone asks for them. */
  function showNotificationsToggle() {
    const toggle = document.getElementById("wr-show-notifications");
    const list = document.getElementById("wr-timeline");
    toggle.addEventListener("change", () =>
      list.classList.toggle("wr-hide-notifications", !toggle.checked),
    );
  }

  /* --- roles, tasks, bridge, presence -------------------------------------------------------- */

  function peopleView(config, connection) {
    const rolesBox = document.getElementById("wr-roles");
    const taskList = document.getElementById("wr-tasks");
    const taskPicker = document.querySelector("#wr-task-form select[name=assignee]");

    function roles(assignments) {
      for (const row of rolesBox.querySelectorAll(":scope > li")) {
        const holders = assignments.filter((a) => a.role === row.dataset.role);
        const list = row.querySelector(".wr-holders");
        list.replaceChildren(...holders.map(holderItem));
        if (!holders.length) list.append(element("li", "muted", "Nobody"));
        const submit = row.querySelector("button[type=submit]");
        if (submit && row.dataset.single === "true") {
          submit.textContent = holders.length ? "Hand over" : "Assign";
        }
      }
    }

    function holderItem(assignment) {
      const item = element("li", "wr-person", assignment.user.name);
      item.title = assignment.user.username;
      if (config.can_write) {
        const release = element("button", "btn btn-ghost btn-small wr-write", "Remove");
        release.type = "button";
        const what = `Remove ${assignment.user.name} as ${assignment.role_label}`;
        release.setAttribute("aria-label", what);
        release.addEventListener("click", () =>
          act(connection, release, { type: "role.release", id: assignment.id }),
        );
        item.append(" ", release);
      }
      return item;
    }

    function tasks(rows) {
      taskList.replaceChildren(...rows.map(taskItem));
      if (!rows.length) taskList.append(element("li", "empty", "No tasks yet."));
    }

    function taskItem(task) {
      const item = element("li", task.done ? "wr-task done" : "wr-task");
      item.dataset.id = task.id;
      const title = element("span", "wr-task-title", task.title);
      if (!config.can_write) {
        const tick = element("span", "tick");
        tick.setAttribute("aria-hidden", "true");
        const who = element("small", "muted", task.assignee ? task.assignee.name : "Unassigned");
        item.append(tick, title, who);
        return item;
      }
      const tick = document.createElement("input");
      tick.type = "checkbox";
      tick.className = "wr-write";
      tick.checked = task.done;
      tick.setAttribute("aria-label", `Done: ${task.title}`);
      tick.addEventListener("change", () =>
        act(connection, tick, { type: "task.update", id: task.id, done: tick.checked }, () => {
          tick.checked = task.done;
        }),
      );
      const picker = taskPicker.cloneNode(true);
      picker.removeAttribute("id");
      picker.classList.add("wr-write");
      picker.setAttribute("aria-label", `Assignee of ${task.title}`);
      const assignee = task.assignee ? task.assignee.username : "";
      picker.value = assignee;
      picker.addEventListener("change", () => {
        const change = { type: "task.update", id: task.id, assignee: picker.value || null };
        act(connection, picker, change, () => {
          picker.value = assignee;
        });
      });
      item.append(tick, title, picker);
      return item;
    }

    function bridge(payload) {
      bridgeLink(payload.link);
      const on = payload.attendees.filter((stay) => !stay.left_at);
      const left = payload.attendees.filter((stay) => stay.left_at);
      fillPeople("wr-bridge-on", on, "Nobody is on the bridge.");
      const leftList = document.getElementById("wr-bridge-left");
      leftList.replaceChildren(
        ...left.map((stay) => {
          const item = element("li", "wr-person", `${stay.user.name} `);
          item.append(element("small", "muted", `left ${TIME.format(new Date(stay.left_at))}`));
          return item;
        }),
      );
      document.getElementById("wr-bridge-left-box").hidden = !left.length;
      const onBridge = on.some((stay) => stay.user.username === config.username);
      const join = document.getElementById("wr-bridge-join");
      const leave = document.getElementById("wr-bridge-leave");
      if (join) join.hidden = onBridge;
      if (leave) leave.hidden = !onBridge;
    }

    function bridgeLink(link) {
      const anchor = document.getElementById("wr-bridge-link");
      const safe = /^https?:\/\//i.test(link || "");
      anchor.textContent = safe ? link : "No bridge link yet.";
      if (safe) anchor.href = link;
      else anchor.removeAttribute("href");
    }

    function presence(users) {
      fillPeople("wr-presence", users.map((user) => ({ user })), "Nobody.");
      document.getElementById("wr-presence-count").textContent = String(users.length);
    }

    function fillPeople(id, rows, emptyText) {
      const list = document.getElementById(id);
      list.replaceChildren(
        ...rows.map(({ user }) => {
          const item = element("li", "wr-person", user.name);
          item.title = user.username;
          return item;
        }),
      );
      if (!rows.length) list.append(element("li", "muted", emptyText));
    }

    return { roles, tasks, bridge, bridgeLink, presence };
  }

  /* --- the forms ----------------------------------------------------------------------------- */

  /** Each writer's form sends one message over the socket instead of posting the page. */
  function bindForms(config, connection) {
    if (!config.can_write) return;
    submitVia(document.getElementById("wr-note-form"), (form) => ({
      type: "note",
      text: form.elements.text.value,
    }));
    submitVia(document.getElementById("wr-task-form"), (form) => ({
      type: "task.create",
      title: form.elements.title.value,
      assignee: form.elements.assignee.value || null,
    }));
    for (const form of document.querySelectorAll(".wr-role-form")) {
      submitVia(form, () => ({
        type: "role.assign",
        role: form.dataset.role,
        username: form.elements.username.value,
      }));
    }
    for (const [id, type] of [
      ["wr-bridge-join", "bridge.join"],
      ["wr-bridge-leave", "bridge.leave"],
    ]) {
      const button = document.getElementById(id);
      button.addEventListener("click", () => act(connection, button, { type }));
    }

    function submitVia(form, message) {
      const box = form.querySelector(".wr-form-error");
      const submit = form.querySelector("button[type=submit]");
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        submit.disabled = true;
        connection.request(message(form), {
          done() {
            submit.disabled = false;
            box.hidden = true;
            form.reset();
          },
          failed(error) {
            submit.disabled = false;
            box.textContent = describe(error);
            box.hidden = false;
          },
        });
      });
    }
  }

  /** A write of one click or choice: `control` waits for the server's answer; a refusal is
      shown at the top of the page and `undo` puts the control back as it was. */
  function act(connection, control, message, undo = () => {}) {
    control.disabled = true;
    connection.request(message, {
      done() {
        control.disabled = false;
        alertUser("");
      },
      failed(error) {
        control.disabled = false;
        undo();
        alertUser(error.message);
      },
    });
  }

  function describe(error) {
    const details = Object.entries(error.fields || {}).map(
      ([name, messages]) => `${name}: ${[].concat(messages).join(" ")}`,
    );
    return details.length ? details.join(" ") : error.message;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
})();
