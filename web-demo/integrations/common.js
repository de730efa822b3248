/**
 * Shared by the integration pages (hls.js, video.js): why it exists.
 *
 * Each page wires one player library to the vidpulse plugin through the public API
 * only (monitor, reportRendition, reportError, setVideo). What every page needs the
 * same way lives here: loading the plugin, reading the query parameters, the status
 * line, and `window.vidpulseIntegration`, which the end-to-end tests read:
 *   { ready, error, handle, player, renditions: [{at, bitrate, width, height}],
 *     errors: [{at, code, message, fatal}], log: [{at, what}], levels: [...] }
 * (`ready` is set last). Query parameters: src (default the HLS stream), id, title,
 * autoplay=1, interval (beaconIntervalMs).
 * Relative and absolute URLs only (/plugin/, /media/ and ../node_modules/), so the
 * page works wherever the collector mounts the demo directory.
 */

export const params = new URLSearchParams(location.search);
export const DEFAULT_SRC = '/media/hls/master.m3u8';

/** Visible to the tests before anything loads, so a failure is reported, not waited on. */
export const state = {
  ready: false, error: null, handle: null, player: null,
  renditions: [], errors: [], log: [], levels: [],
};
window.vidpulseIntegration = state;

const statusEl = document.getElementById('status');

export function setStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', isError);
}

export function fail(msg) {
  state.error = msg;
  setStatus(msg, true);
}

/** Notes a moment worth seeing in a failure report (player events, element `resize`). */
export function note(what) {
  state.log.push({ at: Math.round(performance.now()), what });
}

/** Loads and initialises the plugin; null (with the page showing why) when it cannot. */
export async function loadPlugin() {
  try {
    const plugin = await import('/plugin/vidpulse.js');
    await plugin.default();
    return plugin;
  } catch (e) {
    fail(`The plugin could not be loaded (${e && e.message ? e.message : e}). ` +
      'Build it with `cargo xtask plugin` (or run `cargo xtask demo`).');
    return null;
  }
}

/** The options every integration passes to monitor(), plus the player's own. */
export function monitorOptions(player, initTime) {
  const options = {
    collector: location.origin,
    property: 'integrations',
    player,
    playerInitTime: initTime,
    video: { id: params.get('id') || 'hls-1', title: params.get('title') || 'HLS stream' },
  };
  const interval = Number.parseInt(params.get('interval') || '', 10);
  if (Number.isFinite(interval) && interval > 0) options.beaconIntervalMs = interval;
  return options;
}

/** Forwards a rendition to the plugin and keeps a copy for the page and the tests. */
export function reportRendition(handle, r) {
  const rendition = { bitrate: r.bitrate, width: r.width, height: r.height };
  handle.reportRendition(rendition);
  state.renditions.push({ at: Math.round(performance.now()), ...rendition });
  note(`rendition ${r.width}x${r.height} @ ${r.bitrate}`);
}

/** Forwards a fatal player error to the plugin and keeps a copy. */
export function reportError(handle, e) {
  handle.reportError(e);
  state.errors.push({ at: Math.round(performance.now()), ...e });
  setStatus(`Player error ${e.code}: ${e.message}`, true);
}

/** Logs the element's own size changes (compare with the player's rendition events). */
export function watchElement(video) {
  video.addEventListener('resize', () => note(`resize ${video.videoWidth}x${video.videoHeight}`));
}
