/* A post-incident review's page, live: several people edit its sections at once
   (docs/live-pages.md, "The review page").

   Each section's form works without this script (a plain post). With it, the section is a
   shared live editor (static/js/merged-text.js, loaded first, as the war room's scratchpad
   is): what is typed is saved as you type, against the version it was typed on
   (PUT /api/incidents/<NUMBER>/postmortem/sections/<name>/), and what others save arrives over
   the page's socket (static/js/live.js) and is merged into unsent text. Every (re)connection's
   snapshot carries each section's current version, so a page that was away catches up.

   The rendered Markdown of a section arrives as HTML the server produced with the same
   sanitiser as the page (postmortems.markdown: raw HTML off, then nh3); nothing else that
   arrives is parsed as HTML. */
(function () {
  "use strict";

  const CLOSED_FOR_GOOD = { 4404: "This review is not there for you (or no longer exists)." };
  const OFFLINE = "No connection: your text is kept and sent once the page is live again.";

  const configNode = document.getElementById("review-config");
  if (configNode && window.Live && window.MergedText) startReview(JSON.parse(configNode.textContent));

  function startReview(config) {
    const root = document.querySelector("[data-review]");
    const csrfToken = root.querySelector("[name=csrfmiddlewaretoken]")?.value || "";
    const editors = new Map();
    for (const form of root.querySelectorAll("form[data-section]")) {
      editors.set(form.dataset.section, sectionEditor(form));
    }
    const connection = window.Live.connect({
      path: config.ws_path,
      status: document.getElementById("review-connection"),
      closedForGood: CLOSED_FOR_GOOD,
      received,
      disconnected: () => editors.forEach((editor) => editor.disconnected()),
    });
    connection.start();

    function received(message) {
      if (message.kind === "snapshot") {
        for (const section of Object.values(message.sections)) {
          editors.get(section.name)?.connected(section);
          showRendered(section);
        }
        showEditable(message.editable);
      } else if (message.kind === "section") {
        editors.get(message.section.name)?.received(message.section);
        showRendered(message.section);
      } else if (message.kind === "review") {
        showEditable(message.editable);
      }
    }

    /** The form becomes a live editor: no Save button, saved as typed. */
    function sectionEditor(form) {
      const name = form.dataset.section;
      let status = form.querySelector("[data-section-status]");
      if (!status) {
        status = document.createElement("small");
        status.className = "section-status";
        status.dataset.sectionStatus = "";
        status.setAttribute("aria-live", "polite");
        form.append(status);
      }
      for (const button of form.querySelectorAll("button[type=submit], button:not([type])")) {
        button.hidden = true;
      }
      form.addEventListener("submit", (event) => event.preventDefault());
      return window.MergedText.editor({
        textarea: form.querySelector("textarea[name=text]"),
        status,
        canWrite: config.can_write,
        save: (baseVersion, text, callbacks) => save(name, baseVersion, text, callbacks),
      });
    }

    async function save(name, baseVersion, text, { done, failed }) {
      let response;
      try {
        response = await fetch(`${config.sections_url}${name}/`, {
          method: "PUT",
          credentials: "same-origin",
          headers: {
            Accept: "application/json",
            "Content-Type": "application/json",
            "X-CSRFToken": csrfToken,
          },
          body: JSON.stringify({ base_version: baseVersion, text }),
        });
      } catch {
        failed({ dropped: true, message: OFFLINE, fields: {} });
        return;
      }
      const body = await response.json().catch(() => ({}));
      if (response.ok) done(body);
      else failed(body.error || { message: `Not saved (HTTP ${response.status}).`, fields: {} });
    }

    function showRendered(section) {
      const shown = root.querySelector(`[data-section-html="${section.name}"]`);
      if (shown) shown.innerHTML = section.html; // sanitised by the server: see the top
    }

    function showEditable(editable) {
      root.dataset.editable = String(editable);
      editors.forEach((editor) => editor.setLive(editable));
    }
  }
})();
