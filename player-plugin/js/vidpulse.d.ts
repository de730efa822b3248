// vidpulse plugin: types of `vidpulse.js` (hand-written alongside it).

/** Content metadata. */
export interface VideoInfo {
    /** Your id for the content. */ id?: string;
    /** Title. */ title?: string;
    /** Series or show. */ series?: string;
    /** Duration in ms (else read from the element). */ duration?: number;
    /** CDN name (else the collector uses the host of the source URL). */ cdn?: string;
}

/** Options of `monitor()`. */
export interface MonitorOptions {
    /** Base URL of the collector, e.g. `https://stats.example.com` (required). */
    collector: string;
    /** Property key (required). */
    property: string;
    video?: VideoInfo;
    /** Heartbeat period while a view changes, ms, at least 1000 (default 10000). */
    beaconIntervalMs?: number;
    /** Your own anonymous viewer id (default: random, kept in localStorage). */
    viewerId?: string;
    player?: { name?: string; version?: string };
    /** When the player was created, Unix epoch ms (default: when monitor() ran). */
    playerInitTime?: number;
    /** The first view is autoplay-initiated (default: the element's autoplay). */
    autoplay?: boolean;
    /** A/B experiment name. */
    experiment?: string;
    /** Share of viewers measured, in (0, 1], stable per viewer (default 1). */
    sampleRate?: number;
    /** Measure, store and send nothing when the browser sends Do Not Track. */
    respectDoNotTrack?: boolean;
    /** false: nothing is stored or sent until setConsent(true) (default true). */
    consent?: boolean;
    /** Store nothing in the browser; the collector derives a daily viewer id. */
    cookieless?: boolean;
    /** Record every engine input for trace(): needs the debug core (`init('vidpulse_debug_bg.wasm')`). */
    debug?: boolean;
    /** Called with each batch sent (debugging). */
    onBeacon?: (batch: object) => void;
}

/** A fatal playback error. */
export interface PlaybackError { code: number; message: string; before_first_frame: boolean }

/** The current (or last) view's metrics; see the README for definitions. */
export interface Snapshot {
    view_id: string | null; seq: number;
    startup_ms: number | null; startup_invalid: boolean; first_frame: boolean;
    rebuffer_count: number; rebuffer_ms: number; rebuffer_max_ms: number;
    watch_ms: number; playing_ms: number;
    seek_count: number; seek_ms: number; seek_max_ms: number;
    pause_count: number; rate_changes: number; volume_changes: number; fullscreen_ms: number;
    player_startup_ms?: number; page_load_ms?: number; aggregate_startup_ms?: number;
    max_position_ms: number; coverage?: string; coverage_buckets: number; completed: boolean;
    mean_height?: number; rendition_changes: number;
    upscale_permille: number; downscale_permille: number; max_upscale_permille: number;
    dropped_frames: number; total_frames: number; throughput_bps?: number;
    error: PlaybackError | null; ended: boolean; view_ended: boolean;
}

/** The handle `monitor()` returns. */
export interface Monitor {
    /** The current (or last) view's metrics as a plain object. */
    snapshot(): Snapshot;
    /** Sends the current state now. */
    flush(): void;
    /** Ends the view, sends its final beacon and removes every listener and timer. */
    destroy(): void;
    /** New content in this player (single-page apps): ends the current view; the
     *  next starts at once if the element is playing. */
    setVideo(video: VideoInfo): void;
    /** A rendition the player switched to (bitrate in bit/s). */
    reportRendition(r: { width?: number; height?: number; bitrate?: number }): void;
    /** An error the player knows of (`fatal` defaults to true). */
    reportError(e: { code?: number; message?: string; fatal?: boolean }): void;
    /** Consent at run time: `false` stops storing and sending and forgets what is
     *  queued and the stored viewer id; `true` resumes. */
    setConsent(on: boolean): void;
    /** The recorded engine inputs as JSON (with the `debug` option and the debug
     *  core, `vidpulse_debug_bg.wasm`), else `null`.
     *  `cargo xtask replay FILE` replays them natively. */
    trace(): string | null;
}

/** Starts measuring `video`; monitoring an element twice returns the same
 *  monitor. Throws an `Error` naming the field on bad options. */
export function monitor(video: HTMLMediaElement, options: MonitorOptions): Monitor;

/** Where the wasm core comes from (default: `vidpulse_bg.wasm` beside this module). */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** Loads the wasm core once; await it before `monitor()`. */
export default function init(input?: InitInput | { module_or_path: InitInput | Promise<InitInput> }): Promise<void>;
