/**
 * Drop-in page helpers: why it exists. Adds a monitored <video> after load (as a
 * single-page app would) and removes them all, so a developer (buttons) and the
 * end-to-end tests (window.vidpulseDropin) can watch the drop-in script pick up new
 * videos and end the views of removed ones. No vidpulse code here: that is the point.
 */
(() => {
  const players = document.getElementById('players');
  let n = 1;
  const add = (src = '/media/clip.mp4') => {
    n += 1;
    const v = document.createElement('video');
    v.dataset.vidpulse = '';
    v.dataset.vidpulseId = `dropin-${n}`;
    v.dataset.vidpulseTitle = `Drop-in ${n}`;
    Object.assign(v, { src, muted: true, autoplay: true, playsInline: true, controls: true });
    v.width = 320;
    v.height = 180;
    players.appendChild(v);
    return v.dataset.vidpulseId;
  };
  const removeAll = () => players.querySelectorAll('video').forEach((v) => v.remove());
  document.getElementById('add').addEventListener('click', () => add());
  document.getElementById('remove').addEventListener('click', removeAll);
  window.vidpulseDropin = { add, removeAll };
})();
