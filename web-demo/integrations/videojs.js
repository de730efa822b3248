/**
 * video.js → vidpulse: why it exists. The wiring a page needs when video.js plays
 * the stream through VHS (its HLS/DASH engine):
 *  - monitor() on the tech's <video> (`player.tech(true).el()`: video.js wraps the
 *    page's element in a div and plays through it), with
 *    player: { name: 'video.js', version: videojs.VERSION };
 *  - VHS representation changes → h.reportRendition({ bitrate, width, height }):
 *    video.js's bundled quality-levels list fires `change` when VHS switches to
 *    another playlist (its `mediachange`), before that rendition's frames show, so
 *    the bitrate reaches the view (the plugin counts a rendition once per size);
 *  - the player's `error` → h.reportError({ code, message, fatal: true }) with
 *    video.js's MediaError code (video.js errors stop playback);
 *  - a new stream in the same player: h.setVideo({ id, title }) then player.src().
 * Test hooks on window.vidpulseIntegration: switchTo(height) keeps only that
 * quality level enabled (and switches to it at once), load(src, video) switches
 * content.
 */

import {
  params, state, DEFAULT_SRC, fail, setStatus, note, loadPlugin, monitorOptions,
  reportRendition, reportError, watchElement,
} from './common.js';

const HLS_TYPE = 'application/x-mpegURL';

async function main() {
  const videojs = window.videojs;
  if (!videojs) {
    fail('video.js did not load: run `cargo xtask setup --demo` (npm ci in web-demo/).');
    return;
  }
  const plugin = await loadPlugin();
  if (!plugin) return;

  const initTime = Date.now();
  const player = videojs('video', {
    muted: true,
    controls: true,
    // VHS everywhere, also where the browser could play HLS natively: the same
    // engine (and the same rendition reports) in every browser.
    html5: { vhs: { overrideNative: true }, nativeAudioTracks: false, nativeVideoTracks: false },
  });
  state.player = player;
  await new Promise((resolve) => player.ready(resolve));
  const video = player.tech(true).el();
  watchElement(video);
  const h = plugin.monitor(video, monitorOptions({ name: 'video.js', version: videojs.VERSION }, initTime));
  state.handle = h;

  const levels = player.qualityLevels();
  levels.on('addqualitylevel', (e) => {
    const l = e.qualityLevel;
    state.levels.push({ bitrate: l.bitrate, width: l.width, height: l.height });
  });
  levels.on('change', () => {
    const l = levels[levels.selectedIndex];
    if (l) reportRendition(h, { bitrate: l.bitrate, width: l.width, height: l.height });
  });
  player.on('error', () => {
    const e = player.error();
    reportError(h, {
      code: e && e.code ? e.code : 0,
      message: `video.js: ${e && e.message ? e.message : 'unknown error'}`,
      fatal: true,
    });
  });

  // VHS switches (a "fast quality change") when a disabled level is enabled: so
  // disable every level, then enable the one wanted.
  state.switchTo = (height) => {
    const i = Array.from({ length: levels.length }, (_, j) => j)
      .find((j) => levels[j].height === height);
    if (i === undefined) throw new Error(`no quality level of height ${height}`);
    for (let j = 0; j < levels.length; j++) levels[j].enabled = false;
    levels[i].enabled = true;
  };
  state.load = (src, meta) => {
    h.setVideo(meta);
    player.src({ src, type: HLS_TYPE });
  };

  const src = params.get('src') || DEFAULT_SRC;
  player.src({ src, type: HLS_TYPE });
  if (params.get('autoplay') === '1') {
    const p = player.play();
    if (p) p.catch((e) => note(`play() rejected: ${e.message}`));
  }
  setStatus(`video.js ${videojs.VERSION}: ${src}`);
  state.ready = true;
}

main().catch((e) => fail(`video.js page failed: ${e && e.message ? e.message : e}`));
