/* Text several people edit at once: the three-way merge (a port of warroom/merge.py) and the
   live editor built on it, shared by the war room's scratchpad (static/js/warroom.js) and the
   post-incident review's sections (static/js/review.js). Loaded before them, as
   window.MergedText; plain JavaScript, no build step. */
(function () {
  "use strict";

  /* --- the merge: a port of warroom/merge.py ---------------------------------------------------

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


  /* --- a live editor ------------------------------------------------------------------------ */

  const BATCH_MS = 150;

  /** One text several people edit at once (the war room's scratchpad, a review's section):
      keystrokes batched for BATCH_MS, one edit in flight at a time, what was typed meanwhile
      rebased on the acknowledged text, and versions from others merged into unsent text
      instead of replacing it.
      - `textarea`, `status`: the editor and the element that says whether it is saved;
      - `canWrite`: whether this user may edit it at all;
      - `save(baseVersion, text, {done, failed})`: send one edit; `done({version, text})` with
        the server's text, `failed(error)` (error.dropped: the connection went before an
        answer).
      Returns {received, connected, disconnected, setLive}: a version someone saved, the
      version a new connection's snapshot has, the connection gone, and whether the text
      takes changes now. */
  function editor({ textarea, status, canWrite, save }) {
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
      if (timer === null) timer = window.setTimeout(flush, BATCH_MS);
    }

    function flush() {
      timer = null;
      if (!canWrite || !ready || inflight !== null || textarea.value === serverText) {
        showStatus();
        return;
      }
      inflight = textarea.value;
      failure = "";
      save(serverVersion, inflight, { done: acknowledged, failed });
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
    function received(saved) {
      if (saved.version <= serverVersion) return;
      if (inflight !== null) {
        if (held === null || saved.version > held.version) held = saved;
        return;
      }
      const unsent = textarea.value !== serverText;
      replaceText(unsent ? merge3(serverText, saved.text, textarea.value) : saved.text);
      serverText = saved.text;
      serverVersion = saved.version;
      if (textarea.value !== serverText) schedule();
      showStatus();
    }

    /** The snapshot of a new socket: merged like any version, then what is unsent goes. */
    function connected(saved) {
      ready = true;
      received(saved);
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
      textarea.readOnly = !(canWrite && live && serverVersion >= 0);
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

  window.MergedText = { merge3, editor };
})();
