// LayerLab's service worker: the app works offline after one visit. Generated per build by
// src/bin/layerlab-stage.rs from this template (its name carries a hash of everything it lists).
//
// - The app's files (all content-hashed) are precached at install, two engines aside: the WebGPU
//   one (33 MB that only visitors with a hardware GPU load) and the CPU one for browsers without
//   relaxed SIMD. Each is kept the first time it is fetched.
//   Both are served from that cache.
// - The page (index.html, the one unhashed file) is served from the cache too, so a visit works
//   without the network. Once started, the page asks whether the network's copy differs (a new
//   build was deployed); if so it offers to reload.
// - Data files are not handled here: the engine's worker keeps them in its own cache
//   (runtime/fetch.rs), network first for the manifest, cache first for the files.
// - Everything it serves carries COOP and COEP headers, which make the page cross-origin isolated
//   (SharedArrayBuffer), so the CPU engine can train on every core with WebAssembly threads. A
//   static host cannot set those headers itself; from the visit after the first, this worker does.
const VERSION = "__VERSION__";
const APP_CACHE = "layerlab-app-" + VERSION;
const PRECACHE = __PRECACHE__;
const PAGE = new URL("./", self.registration.scope).href;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(APP_CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys
        .filter((k) => k.startsWith("layerlab-app-") && k !== APP_CACHE)
        .map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

/** `response` with the headers of a cross-origin isolated page (opaque ones as they are). */
function isolated(response) {
  if (!response || response.type === "opaque" || response.status === 0) return response;
  const headers = new Headers(response.headers);
  headers.set("Cross-Origin-Opener-Policy", "same-origin");
  headers.set("Cross-Origin-Embedder-Policy", "require-corp");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** The page from the cache (a visit without the network), else from the network. */
async function page(request) {
  const cached = await (await caches.open(APP_CACHE)).match(PAGE);
  return isolated(cached || (await fetch(request)));
}

/** Whether the network's page differs from the cached one (offline: no). */
async function updated() {
  const cached = await (await caches.open(APP_CACHE)).match(PAGE);
  if (!cached) return false;
  try {
    const response = await fetch(PAGE, { cache: "no-store" });
    return response.ok && (await response.text()) !== (await cached.text());
  } catch {
    return false;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(page(request));
    return;
  }
  if (url.pathname.includes("/data/")) return;
  event.respondWith(
    caches.open(APP_CACHE).then(async (cache) => {
      const hit = await cache.match(request);
      if (hit) return isolated(hit);
      const response = await fetch(request);
      if (response.ok) cache.put(request, response.clone()).catch(() => {});
      return isolated(response);
    }),
  );
});

// "layerlab-check": the started page asks whether a newer build is deployed.
// "layerlab-refresh": its "Reload" after an update: forget the cached page so the next visit
// takes the network's, which registers the new build's service worker.
self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "layerlab-check") {
    event.waitUntil(updated().then((yes) => yes && event.source && event.source.postMessage({ type: "layerlab-update" })));
  }
  if (event.data && event.data.type === "layerlab-refresh") {
    event.waitUntil(
      caches.open(APP_CACHE)
        .then((cache) => cache.delete(PAGE))
        .then(() => event.source && event.source.postMessage({ type: "layerlab-refreshed" })),
    );
  }
});
