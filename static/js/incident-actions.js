// The incident page's closure checklist, ticked without a reload. Each item's form still
// works without this script; with it, the form is posted by fetch asking for JSON, and the
// item is replaced by the one the server rendered (escaped there), or the error is shown.

const list = document.querySelector("[data-checklist]");
const errorBox = document.querySelector(".checklist-error");

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function replaceItem(item, html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  const fresh = template.content.firstElementChild;
  item.replaceWith(fresh);
  fresh.querySelector("button")?.focus();
}

async function tick(form) {
  const item = form.closest("li");
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: {
        Accept: "application/json",
        "X-CSRFToken": form.elements.csrfmiddlewaretoken.value,
      },
      credentials: "same-origin",
    });
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("application/json")) {
      form.submit(); // signed out meanwhile, say: let the ordinary post take the user there
      return;
    }
    const body = await response.json();
    if (!response.ok) {
      showError(body.error ? body.error.message : "The checklist could not be updated.");
      return;
    }
    showError("");
    replaceItem(item, body.html);
  } catch {
    showError("The checklist could not be updated: no connection. Try again.");
  } finally {
    button.disabled = false;
  }
}

if (list && errorBox) {
  list.addEventListener("submit", (event) => {
    event.preventDefault();
    tick(event.target);
  });
}
