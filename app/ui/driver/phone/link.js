// The charger's local link, spoken by the phone's browser: the server never talks to a
// charger. Every call resolves (never rejects) to {ok, status, answer}; status 0 means the
// charger did not answer. The holder secret a charger hands out stays in this browser.
"use strict";

(function () {
  const TIMEOUT_MS = 8000; // under the page's wait for an answer (app/ui/driver/charger_link.py)
  const HOLDERS = "powerpermit.holders";

  async function call(linkUrl, method, path, body) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    const options = { method, mode: "cors", credentials: "omit", cache: "no-store", signal: controller.signal };
    if (body !== undefined) {
      // JSON only: the link refuses the types a page can send without a CORS preflight.
      options.headers = { "Content-Type": "application/json" };
      options.body = JSON.stringify(body);
    }
    try {
      const response = await fetch(linkUrl + path, options);
      let answer = null;
      try {
        answer = await response.json();
      } catch (err) {
        answer = { reason: "malformed", message: "the charger's answer was not JSON" };
      }
      return { ok: response.ok, status: response.status, answer };
    } catch (err) {
      return { ok: false, status: 0, answer: { reason: "unreachable", message: String(err) } };
    } finally {
      clearTimeout(timer);
    }
  }

  function holders() {
    try {
      return JSON.parse(localStorage.getItem(HOLDERS) || "{}") || {};
    } catch (err) {
      return {};
    }
  }

  function keepHolder(permitId, holder) {
    const all = holders();
    all[permitId] = holder;
    localStorage.setItem(HOLDERS, JSON.stringify(all));
  }

  window.powerpermitLink = {
    info: (linkUrl) => call(linkUrl, "GET", "/link/info"),

    // POST /link/permit; an accepted answer's holder secret is kept here, not returned.
    async sendPermit(linkUrl, permitId, text) {
      const result = await call(linkUrl, "POST", "/link/permit", { permit: text });
      if (result.answer && typeof result.answer.holder === "string") {
        keepHolder(permitId, result.answer.holder);
        delete result.answer.holder;
      }
      return result;
    },

    // POST /link/stop with the holder secret; without one, the permit itself proves holding.
    stop(linkUrl, permitId, text) {
      const holder = holders()[permitId];
      return call(linkUrl, "POST", "/link/stop", holder ? { holder } : { permit: text });
    },

    receipts: (linkUrl) => call(linkUrl, "GET", "/link/receipts"),
    acknowledge: (linkUrl, acknowledgement) =>
      call(linkUrl, "POST", "/link/receipts/ack", { acknowledgement }),
    revocations: (linkUrl, token) => call(linkUrl, "POST", "/link/revocations", { revocations: token }),
    trust: (linkUrl, token) => call(linkUrl, "POST", "/link/trust", { trust: token }),

    forgetHolder(permitId) {
      const all = holders();
      delete all[permitId];
      localStorage.setItem(HOLDERS, JSON.stringify(all));
    },
  };
})();
