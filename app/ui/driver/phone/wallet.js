// /app/wallet: the permits this phone holds, each with its QR code, from localStorage only.
// The service worker (sw.js) keeps this page and its files for when there is no network.
// Its words come from words.js (the server's catalog, every language): the language the
// driver's pages last spoke on this phone, else the browser's first one the catalog has.
"use strict";

const WORDS = (function () {
  const all = window.powerpermitWords || {};
  const wanted = [localStorage.getItem("powerpermit.language"), ...(navigator.languages || [])];
  for (const tag of wanted) {
    const language = (tag || "").split("-")[0].toLowerCase();
    if (all[language]) {
      document.documentElement.lang = language;
      return all[language];
    }
  }
  return all.en || {};
})();

function words(key, fallback) {
  return WORDS[key] || fallback;
}

function translatePage() {
  for (const element of document.querySelectorAll("[data-words]")) {
    element.textContent = words(element.dataset.words, element.textContent);
  }
  document.title = words("title", "Wallet") + " · PowerPermit";
}

function answerWords(result) {
  // The same words as the app's page for the answers that matter at the charger.
  const answer = result.answer || {};
  if (result.ok && answer.accepted) return words("accepted", "The charger accepted the permit.");
  if (result.status === 0) {
    return words("unreachable", "The charger did not answer: are you next to it, on its network?");
  }
  const refused = words("refused", "The charger refused the permit ({reason}).");
  return refused.replace("{reason}", String(answer.reason || result.status));
}

function permitCard(permit) {
  const item = document.createElement("li");
  item.dataset.permitId = permit.id;
  const device = document.createElement("div");
  device.className = "device";
  device.textContent = permit.device;
  const window_ = document.createElement("div");
  window_.textContent = permit.window;
  const qr = document.createElement("img");
  qr.src = permit.qr; // an SVG data URI the server made with segno: an image runs no script
  qr.alt = words("qr", "Permit QR code");
  item.append(device, window_, qr);
  if (permit.link) {
    const answer = document.createElement("div");
    answer.className = "answer";
    const send = document.createElement("button");
    send.textContent = words("send", "Send to charger");
    send.addEventListener("click", async () => {
      send.disabled = true;
      answer.textContent = answerWords(await powerpermitLink.sendPermit(permit.link, permit.id, permit.text));
      send.disabled = false;
    });
    item.append(send, answer);
  }
  return item;
}

function showPermits() {
  const held = powerpermitWallet.held();
  document.getElementById("permits").replaceChildren(...held.map(permitCard));
  document.getElementById("empty").hidden = held.length > 0;
}

translatePage();
showPermits();
