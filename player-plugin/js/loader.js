// vidpulse drop-in script, served by the collector at /v1/plugin.js:
//
//   <script src="https://COLLECTOR/v1/plugin.js" data-property="KEY" defer></script>
//
// Monitors every <video data-vidpulse> on the page, including ones added later,
// and ends a video's view when it leaves the page. Per-video metadata comes from
// data-vidpulse-id / data-vidpulse-title (or the title attribute). Optional script
// attributes: data-sample-rate="0.5", data-respect-dnt, data-debug.
(() => {
  const script = document.currentScript;
  if (!script || !script.src) return;
  const base = new URL(script.src).origin;
  const d = script.dataset;
  if (!d.property) {
    console.warn('vidpulse: the script tag needs data-property="KEY"');
    return;
  }
  const options = { collector: base, property: d.property };
  if (d.sampleRate) options.sampleRate = Number(d.sampleRate);
  if ('respectDnt' in d) options.respectDoNotTrack = true;
  if ('debug' in d) options.debug = true;
  const SELECTOR = 'video[data-vidpulse]';
  const monitored = new Set();
  const attach = (m, v) => {
    if (monitored.has(v)) return;
    monitored.add(v);
    const video = {};
    if (v.dataset.vidpulseId) video.id = v.dataset.vidpulseId;
    const title = v.dataset.vidpulseTitle || v.title;
    if (title) video.title = title;
    try {
      m.monitor(v, { ...options, video });
    } catch (e) {
      console.warn('vidpulse:', e.message);
    }
  };
  const detach = (m, v) => {
    if (!monitored.delete(v)) return;
    m.monitor(v, options).destroy(); // the same monitor: monitor() is idempotent
  };
  const each = (node, f) => {
    if (node.nodeType !== 1) return;
    if (node.matches(SELECTOR)) f(node);
    node.querySelectorAll(SELECTOR).forEach(f);
  };
  import(`${base}/plugin/vidpulse.js`)
    .then(async (m) => {
      // data-debug loads the debug core, which records traces for handle.trace().
      const core = options.debug ? 'vidpulse_debug_bg.wasm' : 'vidpulse_bg.wasm';
      await m.default({ module_or_path: `${base}/plugin/${core}` });
      document.querySelectorAll(SELECTOR).forEach((v) => attach(m, v));
      new MutationObserver((records) => {
        for (const r of records) {
          r.addedNodes.forEach((n) => each(n, (v) => attach(m, v)));
          r.removedNodes.forEach((n) => each(n, (v) => v.isConnected || detach(m, v)));
        }
      }).observe(document.documentElement, { childList: true, subtree: true });
    })
    .catch((e) => console.warn('vidpulse: could not load the plugin', e));
})();
