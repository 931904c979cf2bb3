/* The create-incident form: shows the priority that impact × urgency will give before the form
   is sent. The matrix (configured cells over the defaults, keyed "impact,urgency") comes from
   the page as JSON data (json_script), so what is shown is what the server will derive. */
(function () {
  "use strict";

  const source = document.getElementById("priority-matrix");
  const output = document.getElementById("priority-preview");
  const impact = document.getElementById("id_impact");
  const urgency = document.getElementById("id_urgency");
  if (!source || !output || !impact || !urgency) return;
  const matrix = JSON.parse(source.textContent);

  function showPreview() {
    const priority = matrix[`${impact.value},${urgency.value}`];
    output.replaceChildren();
    if (!priority) return;
    const strong = document.createElement("strong");
    strong.textContent = priority;
    output.append("This will be ", strong, ".");
  }

  impact.addEventListener("change", showPreview);
  urgency.addEventListener("change", showPreview);
  showPreview();
})();
