// Submit: a form that enqueues one job (POST /v1/jobs): type, payload JSON checked as you type,
// queue, priority, delay, attempts, backoff. Errors from the server are shown in words, with the field.
import { post } from "./api.js";
import { el, notify, jobLink } from "./ui.js";

export function submit(main) {
  const field = (id, label, input, hint) => el("div", {}, el("label", { for: id }, label), input, hint ? el("div", { class: "muted" }, hint) : "");
  const payload = el("textarea", { id: "submit-payload", name: "payload", "aria-describedby": "submit-payload-error" }, "{}");
  const payloadError = el("p", { id: "submit-payload-error", class: "error", role: "status" });
  const check = () => {
    try { JSON.parse(payload.value); payload.removeAttribute("aria-invalid"); payloadError.textContent = ""; return true; } catch (error) {
      payload.setAttribute("aria-invalid", "true"); payloadError.textContent = "Not valid JSON: " + error.message; return false;
    }
  };
  payload.addEventListener("input", check);
  const backoff = el("select", { id: "submit-backoff" }, ["exponential", "fixed", "none"].map((k) => el("option", { value: k }, k)));
  const form = el("form", { class: "panel", id: "submit-form" },
    el("div", { class: "grid2" },
      field("submit-type", "Type", el("input", { id: "submit-type", required: true, placeholder: "echo", maxlength: 200 })),
      field("submit-queue", "Queue", el("input", { id: "submit-queue", value: "default", pattern: "[A-Za-z0-9_.\\-]{1,100}" })),
      field("submit-priority", "Priority", el("select", { id: "submit-priority" }, ["normal", "high", "low"].map((p) => el("option", { value: p }, p)))),
      field("submit-delay", "Delay (ms)", el("input", { id: "submit-delay", type: "number", min: 0, placeholder: "0" })),
      field("submit-attempts", "Max attempts", el("input", { id: "submit-attempts", type: "number", min: 1, max: 10000, value: 3 })),
      field("submit-backoff", "Backoff", backoff),
      field("submit-backoff-base", "Backoff base (ms)", el("input", { id: "submit-backoff-base", type: "number", min: 0, value: 1000 }))),
    field("submit-payload", "Payload (JSON)", payload), payloadError,
    el("button", { type: "submit", class: "primary", id: "submit-button" }, "Enqueue"),
    el("p", { id: "submit-result", role: "status" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!check()) return notify("Fix the payload first: it is not valid JSON.");
    const value = (id) => form.querySelector("#" + id).value;
    const job = { type: value("submit-type"), payload: JSON.parse(payload.value), queue: value("submit-queue") || "default",
      priority: value("submit-priority"), max_attempts: Number(value("submit-attempts") || 3) };
    if (value("submit-delay")) job.delay_ms = Number(value("submit-delay"));
    const kind = value("submit-backoff");
    job.backoff = kind === "none" ? { kind } : { kind, base_ms: Number(value("submit-backoff-base") || 0) };
    const result = form.querySelector("#submit-result");
    try {
      const answer = await post("/v1/jobs", job);
      result.replaceChildren("Enqueued ", jobLink(answer.id), ` (${answer.state}${answer.duplicate ? ", duplicate" : ""}).`);
      result.className = "ok";
    } catch (error) {
      result.textContent = (error.field ? error.field + ": " : "") + error.message;
      result.className = "error";
    }
  });
  main.append(el("h1", {}, "Submit a job"), form);
}
