// Keeps /app/wallet working with the network gone: its page and files answer from the
// cache at once, and are refreshed from the server whenever it can be reached. Nothing
// else passes through here: the charger's link and the app's own pages go to the network.
"use strict";

const CACHE = "powerpermit-wallet-v2";
const FILES = [
  "/app/wallet",
  "/app/wallet/wallet.css",
  "/app/wallet/words.js",
  "/app/wallet/held.js",
  "/app/wallet/link.js",
  "/app/wallet/wallet.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !FILES.includes(url.pathname)) {
    return;
  }
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(url.pathname);
      const fresh = fetch(event.request)
        .then((response) => {
          if (response.ok) cache.put(url.pathname, response.clone());
          return response;
        })
        .catch(() => cached);
      if (cached) {
        event.waitUntil(fresh);
        return cached;
      }
      return fresh;
    }),
  );
});
