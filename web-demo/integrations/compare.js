/**
 * Side-by-side page logic: why it exists. Attaches vidpulse (monitor()) and
 * mux-embed (mux.monitor()) to the same <video> and plays it, so the bench measures
 * both on identical playback. window.vidpulseIntegration (see common.js) reports
 * ready/error; `handle` is vidpulse's.
 */

import { params, state, fail, setStatus, loadPlugin } from './common.js';

async function main() {
  const mux = window.mux;
  if (!mux) {
    fail('mux-embed did not load: run `cargo xtask setup --demo` (npm ci in web-demo/).');
    return;
  }
  const plugin = await loadPlugin();
  if (!plugin) return;
  const video = document.getElementById('video');
  const src = params.get('src') || '/media/clip-long.mp4';
  const initTime = Date.now();
  state.handle = plugin.monitor(video, {
    collector: params.get('collector') || location.origin,
    property: 'bench',
    playerInitTime: initTime,
    video: { id: 'bench-clip', title: 'Bench clip' },
  });
  mux.monitor(video, {
    beaconCollectionDomain: params.get('mux') || `localhost:${location.port}`,
    data: {
      env_key: 'benchenv',
      player_name: 'bench',
      player_init_time: initTime,
      video_id: 'bench-clip',
      video_title: 'Bench clip',
    },
  });
  video.src = src;
  await video.play();
  setStatus(`Playing ${src} with vidpulse and mux-embed ${mux.VERSION || ''}`);
  state.ready = true;
}

main().catch((e) => fail(`compare page failed: ${e && e.message ? e.message : e}`));
