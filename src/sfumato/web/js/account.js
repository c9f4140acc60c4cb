// Account: the balance from /me and the limits from /me/limits, the credit ledger, the keys
// (issued, revoked, their webhook receivers set: /me/api-keys), and the webhook deliveries
// with their attempts (read when opened) and re-send.
import { api } from "./api.js";
import { OPERATIONS, sdkSnippets } from "./apicode.js";
import { showCode } from "./codedialog.js";
import { $, el, showError } from "./ui.js";

const rows = (table, list, empty, columns) =>
  $(table).tBodies[0].replaceChildren(...(list.length
    ? list
    : [el("tr", {}, el("td", { colspan: String(columns) }, empty))]));

const when = (text) => (text || "").replace("T", " ").slice(0, 19);

// Renders overlap (a re-send, then the view opened again): the one started last draws the
// screen, and an earlier one whose answers arrive after it draws nothing.
let latestRender = 0;

export async function renderAccount() {
  const render = ++latestRender;
  const view = $("#view-account");
  view.dataset.state = "loading";
  const [me, limits, ledger, keys, deliveries] = await Promise.all([
    api.get("/me"), api.get("/me/limits"), api.get("/me/credit-ledger?limit=20"), api.get("/me/api-keys"),
    api.get("/webhooks/deliveries?limit=20"),
  ]);
  if (render !== latestRender) return;
  const user = me.user_details[0];
  const facts = [
    ["User", user.user.username],
    ["User id", user.user.id],
    ["Credits", user.apiSubscriptionTokens],
  ];
  showFacts("#account-facts", facts);
  showFacts("#account-limits", limitFacts(limits.limits));

  rows("#ledger", (ledger.credit_ledger || []).map((line) =>
    el("tr", { "data-kind": line.kind },
      el("td", {}, when(line.createdAt)),
      el("td", {}, [line.kind, line.subjectKind, line.note].filter(Boolean).join(" · ")),
      el("td", {}, line.amount > 0 ? `+${line.amount}` : String(line.amount)),
      el("td", {}, String(line.balanceAfter)))), "No ledger lines.", 4);

  rows("#keys", (keys.api_keys || []).map(keyRow), "No keys.", 6);

  rows("#deliveries", (deliveries.webhook_deliveries || []).map((delivery) =>
    el("tr", {},
      el("td", {}, delivery.eventType),
      el("td", {}, [delivery.state, delivery.lastStatus, delivery.lastError].filter(Boolean).join(" · ")),
      el("td", {}, attemptsCell(delivery)),
      el("td", {}, el("button", {
        type: "button",
        onclick: async () => { await api.post(`/webhooks/deliveries/${delivery.id}/resend`); await renderAccount(); },
      }, "Re-send")))), "No webhook deliveries.", 4);
  view.dataset.state = "ready";
}

const showFacts = (list, facts) => $(list).replaceChildren(...facts.flatMap(([name, value]) =>
  [el("dt", {}, name), el("dd", {}, String(value))]));

const rate = (items) => (items.length ? items.join(", ") : "none");

function limitFacts(limits) {
  const budget = limits.dailyCreditBudget
    ? `${limits.creditsSpentToday} of ${limits.dailyCreditBudget} credits spent today (renews 00:00 UTC)`
    : `none (${limits.creditsSpentToday} credits spent today)`;
  return [
    ["Requests per key", rate(limits.rateLimitPerKey)],
    ["Requests per account", rate(limits.rateLimitPerAccount)],
    ["Jobs running at once", limits.concurrencySlots],
    ["Queued jobs", `${limits.queuedJobs} of at most ${limits.maxQueuedJobs}`],
    ["Daily credit budget", budget],
    ["Per request", `${limits.maxImagesPerRequest} images, ${limits.maxResolution} px a side, `
      + `${limits.maxInferenceSteps} steps, ${limits.maxVideoSeconds} s of video`],
  ];
}

// Every attempt at a delivery, earlier rounds (before a re-send) too: read from
// GET /webhooks/deliveries/{id} each time the list is opened.
function attemptsCell(delivery) {
  const list = el("ol", { class: "attempts" });
  return el("details", {
    "data-attempts": delivery.id,
    ontoggle: async (event) => {
      if (!event.target.open) return;
      try {
        const log = (await api.get(`/webhooks/deliveries/${delivery.id}`)).webhook_delivery.attemptLog || [];
        list.replaceChildren(...(log.length ? log.map(attemptItem) : [el("li", {}, "Not attempted yet.")]));
      } catch (failure) {
        list.replaceChildren(el("li", { class: "error" }, `Could not read the attempts: ${failure.message}`));
      }
    },
  }, el("summary", {}, `${delivery.attempts ?? 0} this round`,
    el("span", { class: "visually-hidden" }, `: all attempts at ${delivery.eventType}`)), list);
}

const attemptItem = (attempt) => el("li", { "data-number": attempt.number },
  [when(attempt.attemptedAt), attempt.statusCode ? `HTTP ${attempt.statusCode}` : attempt.error || "no answer",
    attempt.durationMs !== undefined ? `${attempt.durationMs} ms` : null].filter(Boolean).join(" · "));

function keyRow(key) {
  const label = `${key.name} (${key.prefix}…)`;
  const webhook = key.revoked
    ? el("td", {}, key.webhookUrl || "—")
    : el("td", {},
      el("span", { class: "tools" },
        el("input", { type: "url", value: key.webhookUrl || "", placeholder: "no webhook", "data-webhook": key.id,
          "aria-label": `Webhook URL for ${label}` }),
        el("button", { type: "button", "data-save-webhook": key.id, onclick: (event) => saveWebhook(key, event.target) },
          "Save", el("span", { class: "visually-hidden" }, ` the webhook of ${label}`))),
      key.webhookDisabled ? el("span", { class: "note" }, " (disabled: the receiver answered 410)") : null);
  return el("tr", { "data-key": key.id },
    el("td", {}, key.name, key.current ? " (this session)" : ""),
    el("td", {}, el("code", {}, `${key.prefix}…`)),
    el("td", {}, when(key.createdAt)),
    el("td", {}, key.revoked ? "revoked" : "active"),
    webhook,
    el("td", {}, key.revoked ? "" : el("button", {
      type: "button", class: "danger", "data-revoke": key.id, onclick: () => revoke(key),
    }, "Revoke", el("span", { class: "visually-hidden" }, ` ${label}`))));
}

async function saveWebhook(key, button) {
  const input = button.closest("td").querySelector("input");
  const error = $("#key-error");
  showError(error, null);
  try {
    const changed = (await api.put(`/me/api-keys/${key.id}/webhook`, { webhookUrl: input.value.trim() || null })).api_key;
    if (changed.webhookSecret) showIssued([["Webhook signing secret", changed.webhookSecret]], changed.webhookSecret, "secret");
    await renderAccount();
  } catch (failure) {
    showError(error, failure);
  }
}

async function revoke(key) {
  const which = key.current ? "the key this session came from (it signs you out)" : `the key “${key.name}”`;
  if (!confirm(`Revoke ${which}? Programs using it stop working at once.`)) return;
  await api.del(`/me/api-keys/${key.id}`);
  if (key.current) location.reload(); // the session ended with its key: back to sign-in
  else await renderAccount();
}

// A new key (and its webhook secret): shown here once, then gone from the page.
function showIssued(facts, copyText, what = "key") {
  $("#key-issued-facts").replaceChildren(...facts.flatMap(([name, value]) =>
    [el("dt", {}, name), el("dd", {}, el("code", {}, value))]));
  $("#key-issued").dataset.copy = copyText;
  $("#key-issued-copy").textContent = `Copy the ${what}`;
  $("#key-issued").hidden = false;
  $("#key-issued-copy").focus(); // where a keyboard or screen-reader user finds it at once
}

function hideIssued() {
  $("#key-issued-facts").replaceChildren();
  delete $("#key-issued").dataset.copy;
  $("#key-issued").hidden = true;
}

// The new key's request as the form would send it, or null (and why, shown) without a name.
function keyRequest() {
  const error = $("#key-error");
  showError(error, null);
  const body = { name: $("#key-name").value.trim() };
  if (!body.name) {
    showError(error, "Name the key (where it will be used).");
    return null;
  }
  const webhookUrl = $("#key-webhook").value.trim();
  const webhookKey = $("#key-webhook-key").value.trim();
  if (webhookUrl) body.webhookUrl = webhookUrl;
  if (webhookKey) body.webhookKey = webhookKey;
  return body;
}

async function createKey(event) {
  event.preventDefault();
  const error = $("#key-error");
  const body = keyRequest();
  if (!body) return;
  try {
    const made = (await api.post(OPERATIONS.apiKey.path, body)).api_key;
    const facts = [["API key", made.apiKey]];
    if (made.webhookSecret) facts.push(["Webhook signing secret", made.webhookSecret]);
    showIssued(facts, made.apiKey);
    for (const id of ["#key-name", "#key-webhook", "#key-webhook-key"]) $(id).value = "";
    await renderAccount();
  } catch (failure) {
    showError(error, failure);
  }
}

export function setUpAccount() {
  $("#key-form").addEventListener("submit", createKey);
  $("#key-code").addEventListener("click", () => {
    const body = keyRequest();
    if (body) showCode(sdkSnippets(OPERATIONS.apiKey, body));
  });
  $("#key-issued-done").addEventListener("click", hideIssued);
  $("#key-issued-copy").addEventListener("click", () => navigator.clipboard.writeText($("#key-issued").dataset.copy || ""));
  window.addEventListener("hashchange", () => { if (location.hash !== "#account") hideIssued(); });
}
