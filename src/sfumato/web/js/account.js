// Account: the balance and limits from /me, the credit ledger, the keys, and the webhook
// deliveries with re-send.
import { api } from "./api.js";
import { $, el } from "./ui.js";

const rows = (table, list, empty, columns) =>
  $(table).tBodies[0].replaceChildren(...(list.length
    ? list
    : [el("tr", {}, el("td", { colspan: String(columns) }, empty))]));

const when = (text) => (text || "").replace("T", " ").slice(0, 19);

export async function renderAccount() {
  const [me, ledger, keys, deliveries] = await Promise.all([
    api.get("/me"), api.get("/me/credit-ledger?limit=20"), api.get("/me/api-keys"),
    api.get("/webhooks/deliveries?limit=20"),
  ]);
  const user = me.user_details[0];
  const facts = [
    ["User", user.user.username],
    ["User id", user.user.id],
    ["Credits", user.apiSubscriptionTokens],
    ["Concurrent jobs", user.apiConcurrencySlots],
  ];
  $("#account-facts").replaceChildren(...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, String(value))]));

  rows("#ledger", (ledger.credit_ledger || []).map((line) =>
    el("tr", { "data-kind": line.kind },
      el("td", {}, when(line.createdAt)),
      el("td", {}, [line.kind, line.subjectKind, line.note].filter(Boolean).join(" · ")),
      el("td", {}, line.amount > 0 ? `+${line.amount}` : String(line.amount)),
      el("td", {}, String(line.balanceAfter)))), "No ledger lines.", 4);

  rows("#keys", (keys.api_keys || []).map((key) =>
    el("tr", {},
      el("td", {}, key.name, key.current ? " (this session)" : ""),
      el("td", {}, el("code", {}, `${key.prefix}…`)),
      el("td", {}, when(key.createdAt)),
      el("td", {}, key.revoked ? "revoked" : "active"),
      el("td", {}, key.webhookUrl ? `${key.webhookUrl}${key.webhookDisabled ? " (disabled)" : ""}` : "—"))), "No keys.", 5);

  rows("#deliveries", (deliveries.webhook_deliveries || []).map((delivery) =>
    el("tr", {},
      el("td", {}, delivery.eventType),
      el("td", {}, [delivery.state, delivery.lastStatus, delivery.lastError].filter(Boolean).join(" · ")),
      el("td", {}, String(delivery.attempts ?? 0)),
      el("td", {}, el("button", {
        type: "button",
        onclick: async () => { await api.post(`/webhooks/deliveries/${delivery.id}/resend`); await renderAccount(); },
      }, "Re-send")))), "No webhook deliveries.", 4);
}
