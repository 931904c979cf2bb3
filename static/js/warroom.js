/* The war room's page: fills the server-rendered shell and keeps it live over the shared
   client (static/js/live.js, loaded first; docs/warroom-protocol.md); the scratchpad is a
   shared live editor (static/js/merged-text.js, loaded first too).

   Plain JavaScript, no library, no build step. Nothing that arrives on the socket is parsed as
   HTML: every text a user wrote reaches the page through textContent. */
(function () {
  "use strict";

  /* --- the page ------------------------------------------------------------------------------ */

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
    const pad = window.MergedText.editor({
      textarea: document.getElementById("wr-scratchpad"),
      status: document.getElementById("wr-scratchpad-status"),
      canWrite: config.can_write,
      save: (baseVersion, text, callbacks) =>
        connection.request({ type: "scratchpad", base_version: baseVersion, text }, callbacks),
    });
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
