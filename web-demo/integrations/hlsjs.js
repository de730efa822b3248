/**
 * hls.js → vidpulse: why it exists. The wiring a page needs when hls.js plays the
 * stream (the element alone sees neither the variant's bitrate nor hls.js's own
 * fatal errors, such as a playlist that cannot be loaded):
 *  - monitor(video, { player: { name: 'hls.js', version: Hls.version }, … });
 *  - Hls.Events.LEVEL_SWITCHING → h.reportRendition({ bitrate, width, height }) of
 *    the level hls.js switches to. Not LEVEL_SWITCHED: hls.js fires that once the
 *    playhead is inside the new level's fragment, after the element's own `resize`
 *    announced the same size, and the plugin counts a rendition once per size, so a
 *    report then would not carry the bitrate to the view.
 *  - Hls.Events.ERROR → h.reportError({ code, message, fatal }); codes follow
 *    MediaError: 2 network, 3 media or demuxing, 4 anything else.
 *  - a new stream in the same player: h.setVideo({ id, title }) then hls.loadSource().
 * Test hooks on window.vidpulseIntegration: switchTo(height) pins a level,
 * load(src, video) switches content.
 */

import {
  params, state, DEFAULT_SRC, fail, setStatus, note, loadPlugin, monitorOptions,
  reportRendition, reportError, watchElement,
} from './common.js';

const ERROR_CODES = { networkError: 2, mediaError: 3, muxError: 3 };

async function main() {
  const Hls = window.Hls;
  if (!Hls) {
    fail('hls.js did not load: run `cargo xtask setup --demo` (npm ci in web-demo/).');
    return;
  }
  if (!Hls.isSupported()) {
    fail('hls.js needs Media Source Extensions, which this browser lacks.');
    return;
  }
  const plugin = await loadPlugin();
  if (!plugin) return;
  const video = document.getElementById('video');
  watchElement(video);

  const initTime = Date.now();
  const hls = new Hls({ startLevel: 0 });
  const h = plugin.monitor(video, monitorOptions({ name: 'hls.js', version: Hls.version }, initTime));
  state.handle = h;
  state.player = hls;

  hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
    state.levels = data.levels.map((l) => ({ bitrate: l.bitrate, width: l.width, height: l.height }));
  });
  hls.on(Hls.Events.LEVEL_SWITCHING, (_, data) => {
    const level = hls.levels[data.level];
    if (level) reportRendition(h, level);
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => note(`LEVEL_SWITCHED ${data.level}`));
  hls.on(Hls.Events.ERROR, (_, data) => {
    const error = {
      code: ERROR_CODES[data.type] ?? 4,
      message: `hls.js ${data.type}: ${data.details}`,
      fatal: !!data.fatal,
    };
    if (!data.fatal) {
      // Non-fatal errors go on the view's timeline only.
      h.reportError(error);
      note(error.message);
      return;
    }
    reportError(h, error);
    hls.destroy();
  });

  state.switchTo = (height) => {
    const i = hls.levels.findIndex((l) => l.height === height);
    if (i < 0) throw new Error(`no level of height ${height}`);
    hls.currentLevel = i;
  };
  state.load = (src, meta) => {
    h.setVideo(meta);
    hls.loadSource(src);
  };

  const src = params.get('src') || DEFAULT_SRC;
  hls.loadSource(src);
  hls.attachMedia(video);
  if (params.get('autoplay') === '1') {
    video.play().catch((e) => note(`play() rejected: ${e.message}`));
  }
  setStatus(`hls.js ${Hls.version}: ${src}`);
  state.ready = true;
}

main().catch((e) => fail(`hls.js page failed: ${e && e.message ? e.message : e}`));
