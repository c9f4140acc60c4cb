// Account: the balance and limits from /me, and the webhook deliveries with re-send.
import { api } from "./api.js";
import { $, el } from "./ui.js";

export async function renderAccount() {
  const me = (await api.get("/me")).user_details[0];
  const facts = [
    ["User", me.user.username],
    ["User id", me.user.id],
    ["Credits", me.apiSubscriptionTokens],
    ["Concurrent jobs", me.apiConcurrencySlots],
  ];
  $("#account-facts").replaceChildren(...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, String(value))]));
  const deliveries = (await api.get("/webhooks/deliveries?limit=20")).webhook_deliveries || [];
  const rows = deliveries.map((delivery) =>
    el("tr", {},
      el("td", {}, delivery.event || delivery.type || delivery.id),
      el("td", {}, delivery.state || delivery.status || ""),
      el("td", {}, String(delivery.attempts?.length ?? delivery.attemptCount ?? 0)),
      el("td", {}, el("button", {
        type: "button",
        onclick: async () => { await api.post(`/webhooks/deliveries/${delivery.id}/resend`); await renderAccount(); },
      }, "Re-send"))));
  $("#deliveries").tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "4" }, "No webhook deliveries."))]));
}
