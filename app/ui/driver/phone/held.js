// The permits this phone holds, in localStorage: the driver's page keeps each permit it
// shows, and the wallet (/app/wallet) lists them with the network gone. Wherever permits
// are kept, the service worker is registered too, so the wallet is on the phone before the
// driver walks into a garage without signal.
"use strict";

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/app/wallet/sw.js", { scope: "/app/wallet" }).catch(() => {});
}

(function () {
  const KEY = "powerpermit.wallet";

  function read() {
    try {
      const all = JSON.parse(localStorage.getItem(KEY) || "{}");
      return all && typeof all === "object" ? all : {};
    } catch (err) {
      return {};
    }
  }

  function write(all) {
    localStorage.setItem(KEY, JSON.stringify(all));
  }

  window.powerpermitWallet = {
    // permit: {id, device, window, expiresAt (ISO), text (PP1:), qr (SVG data URI), link}
    keep(permit) {
      const all = read();
      all[permit.id] = permit;
      write(all);
      return Object.keys(all).length;
    },

    forget(ids) {
      const all = read();
      for (const id of ids) delete all[id];
      write(all);
      return Object.keys(all).length;
    },

    // Held permits whose window has not ended, soonest first; ended ones are dropped.
    held(now) {
      const all = read();
      const at = now === undefined ? Date.now() : now;
      for (const [id, permit] of Object.entries(all)) {
        if (!(Date.parse(permit.expiresAt) > at)) delete all[id];
      }
      write(all);
      return Object.values(all).sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt));
    },
  };
})();
