// slidereel web console: one page over the public API (REST + progress WebSocket).
// Data from the API is only ever inserted as text (textContent, Text nodes, input values),
// never parsed as HTML, so a script's text shows literally whatever it contains.

const API = "/api/v2";
const TOKEN_KEY = "slidereel.token";
const PAGE_SIZE = { videos: 20, scripts: 10, jobs: 10, media: 24, themes: 100 };
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED"]);
const ACTIVE = new Set(["PENDING", "RUNNING"]);
const DECK_POLL_MS = 500; // how often a converting deck import is asked about
const DECK_RETRY_MS = 2_000; // ... and again after the network failed (the API restarting)
const STEP_LABELS = {
  VALIDATE_SCRIPT: "Validating the script",
  GENERATE_TTS: "Synthesizing narration",
  RENDER_SLIDES: "Drawing slides",
  COMPOSE_VIDEO: "Encoding video",
  GENERATE_SUBTITLES: "Writing subtitles",
  GENERATE_THUMBNAIL: "Making the thumbnail",
  PUBLISH_ASSETS: "Publishing",
};
const ROLES = ["viewer", "editor", "approver", "admin"]; // ordered: each includes the ones before (SPEC §4)
const NEEDED_ROLE = {
  save: "editor", upload: "editor", render: "editor", cancel: "editor", approve: "approver", lexicon: "editor",
  preview: "editor", theme: "editor",
};
const NEW_SCENE = { narration: "", slide: { title: "", bullets: [], background: null }, pause_sec: 0.4 };
const DEFAULT_RATE = 1.0;
const NO_FALLBACK = "fail"; // the script's voice_fallback when a job must fail rather than change voice
const PREVIEW_MAX_CHARS = 300; // what POST /voices/preview accepts (SPEC §8.1), in code points as the API counts
// Where the renderer ends a sentence (services/renderer/text.py): terminal punctuation and an optional
// closing quote before a space, or a full-width mark; so "3.14" stays whole, as the video will say it.
const SENTENCE_END = /(?<=[.?!…]["'”’)\]」』]?)\s+|(?<=[。！？])(?!["'”’)\]」』])\s*/u;
const NEW_LEXICON_ENTRY = { term: "", say: "", case_sensitive: false };
// The look a script has when it names none (libs/contracts/script.py Transition and Music, theme.py Theme).
const DEFAULT_FORMAT = "16:9";
const DEFAULT_TRANSITION = { type: "cut", duration_sec: 0.4 };
const DEFAULT_MUSIC = { volume_db: -18, duck_db: -12, fade_sec: 2 };
const NEW_THEME = {
  background: "#1e2a4a", text: "#ffffff", accent: "#f5b700", font: null, logo: null, logo_position: "top-right",
};
const MEDIA_ID = /^med-[0-9a-f]{32}$/;
// The theme fields whose refusal the theme editor shows beside their input (the rest go in its status).
const THEME_MEDIA_FIELDS = { "$.font": "font", "$.logo": "logo" };
// What each slide layout shows (libs/contracts/script.py LAYOUT_FIELDS; `fit` goes with every picture):
// a scene shows these fields and saves only these, as the API refuses a field its layout does not show.
const LAYOUT_FIELDS = {
  bullets: ["title", "bullets"],
  title: ["title", "subtitle"],
  section: ["title"],
  image: ["image", "fit", "motion", "title", "caption"],
  "image-left": ["image", "fit", "title", "bullets"],
  "image-right": ["image", "fit", "title", "bullets"],
  quote: ["quote", "attribution"],
};
const SLIDE_FIELD_INPUTS = { title: "slide-title" }; // a slide field whose scene input is named otherwise
// Fields the editor has no input for: saved back as they came, never dropped by a save.
const KEPT_SCRIPT_FIELDS = ["lexicon", "captions"];
const KEPT_SCENE_FIELDS = ["hint", "chapter"];
const USE_OF_MEDIA = {
  image: "choose it as a scene's slide or a theme's logo",
  font: "choose it as a theme's font",
  audio: "choose it as a script's music",
};
// The location the API gives a lexicon entry's problem, e.g. "$.entries[3].say".
const LEXICON_FIELD = /entries\[(\d+)\](?:\.(\w+))?/;
// What the API counts as no narration (libs/contracts/script.py is_blank): only spaces, controls
// and invisible format marks, such as a zero-width space pasted from a slide.
const BLANK = /^[\p{Z}\p{C}]*$/u;
const SAMPLE_SCRIPT = {
  title: "새 영상",
  language: "ko",
  voice: null,
  scenes: [{
    narration: "안녕하세요. 첫 번째 장면입니다.",
    slide: { title: "첫 장면", bullets: ["핵심 내용 하나", "핵심 내용 둘"], background: null },
    pause_sec: 0.4,
  }],
};

const $ = (selector) => document.querySelector(selector);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  videoId: null,
  editing: null, // {scriptId, status} of the script in the editor; scriptId null = not saved yet
  offsets: { videos: 0, scripts: 0, jobs: 0 },
  feed: null,
  media: [], // the open video's images on the gallery's page: what a scene's slide picker offers
  pictures: new Map(), // media_id → Promise of an object URL of its bytes (the open video's)
  fonts: new Map(), // media_id → Promise of the family name its FontFace was added to the page as
  themes: [], // GET /themes: what the script's theme picker offers
  scenePreviewsAsked: 0, // the newest scene preview request: an older one's video is dropped
  deck: null, // the open video's deck import being followed: {videoId, importId, name, open, earlier, timer}
  voices: [], // the catalog for the editor's language (GET /voices): what the voice pickers offer
  voicesAsked: 0, // the newest catalog request: an older answer (another language) is dropped
  previewsAsked: 0, // the newest preview request: an older one's audio is dropped
};

// ---- small DOM helpers --------------------------------------------------------------

/** An element with properties/listeners and children; strings become Text nodes. */
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node[name] = value;
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function badge(status, absent = "—") {
  return h("span", { className: `badge status-${(status || "none").toLowerCase()}` }, status || absent);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function shortId(jobId) {
  return jobId.replace(/^job-/, "").slice(0, 8);
}

function notice(text) {
  $("#notice").textContent = text;
}

/** A line beside a control: what is happening, or (failed) why it did not work. */
function showStatus(node, text, failed = false) {
  node.textContent = text;
  node.classList.toggle("failure", failed);
}

/** `choices` ({value, label}) as <option>s. */
function options(choices) {
  return choices.map((choice) => h("option", { value: choice.value }, choice.label));
}

/** Fills `select` with `first` and `choices`. A chosen value not among them (an item on another page,
 * or not loaded yet) stays offered by its id, so opening and saving a script never drops it. */
function fillSelect(select, first, choices, chosen) {
  const listed = !chosen || choices.some((choice) => choice.value === chosen);
  select.replaceChildren(first, ...options(choices), listed ? null : h("option", { value: chosen }, chosen));
  select.value = chosen;
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Runs `send` on the file chosen in `input`, then empties it: choosing the same file again
 * is a new upload. */
function onFileChosen(input, send) {
  input.addEventListener("change", async () => {
    const [file] = input.files;
    input.value = "";
    if (file) await send(file);
  });
}

// ---- errors ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.errorCode = body.error_code || `HTTP_${status}`;
    this.detail = body.detail || {};
  }
}

/** Shows `{error_code, message, detail}` (SPEC §2), naming each invalid field. */
function showError(errorCode, message, detail = {}) {
  $("#error-code").textContent = errorCode;
  $("#error-message").textContent = message;
  const items = (detail.errors || []).map((problem) =>
    h("li", {}, h("code", {}, problem.field || problem.source || "request"), ` ${problem.message}`));
  $("#error-detail").replaceChildren(...items);
  $("#error").hidden = false;
}

function reportFailure(error) {
  if (error instanceof ApiError) showError(error.errorCode, error.message, error.detail);
  else showError("NETWORK_ERROR", String(error.message || error));
}

/** `CODE: message` of a failure, for text shown beside the control that failed. */
function describeFailure(error) {
  return error instanceof ApiError ? `${error.errorCode}: ${error.message}` : `NETWORK_ERROR: ${error.message || error}`;
}

function clearError() {
  $("#error").hidden = true;
}

/** An error stays until the user does the next thing, whatever refreshes in between. */
function clearErrorOnUserAction(event) {
  if (event.type === "submit" || event.target.closest("button, tr.clickable")) clearError();
}

// ---- API ------------------------------------------------------------------------------

/** One call with the token; a File (or other Blob) goes as the raw body, anything else as JSON.
 * Answers the Response; a refusal throws the API's error. */
async function request(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  const raw = body instanceof Blob;
  if (body !== undefined && !raw) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method, headers, body: body === undefined || raw ? body : JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
  return response;
}

async function api(method, path, body) {
  const response = await request(method, path, body);
  return response.json().catch(() => ({}));
}

/** Runs an API call, reporting a failure instead of throwing it. */
async function act(action) {
  try {
    return await action();
  } catch (error) {
    reportFailure(error);
    return undefined;
  }
}

const videoPath = (videoId) => `/videos/${encodeURIComponent(videoId)}`;

// ---- token ----------------------------------------------------------------------------

/** The claims of a JWT, read for display only (the server verifies it). */
function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Why the token's role cannot do `action`, or "" when it can (the server checks again). */
function roleRefusal(action) {
  const role = claimsOf(state.token)?.extras?.role;
  const needed = NEEDED_ROLE[action];
  return ROLES.indexOf(role) >= ROLES.indexOf(needed) ? "" : `Needs the ${needed} role; this token is ${role || "without a role"}.`;
}

/** Enables `button` unless there is a reason not to, which it shows as its tooltip and in
 * `reasonNode`: a user sees why before clicking rather than a 403 after. */
function allow(button, reason, reasonNode) {
  button.disabled = Boolean(reason);
  button.title = reason;
  if (reasonNode && reason && !button.hidden) reasonNode.append(h("span", {}, reason));
}

function useToken(raw) {
  const token = raw.trim().replace(/^Bearer\s+/i, "");
  if (!token) return;
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("#token-input").value = "";
  showToken();
  loadVideos();
  loadThemes();
  const hashVideo = new URLSearchParams(location.hash.slice(1)).get("video");
  if (hashVideo) openVideo(hashVideo);
}

function forgetToken() {
  state.feed?.stop();
  stopDeckWatch();
  state.token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  showToken();
}

function showToken() {
  const claims = state.token ? claimsOf(state.token) : null;
  $("#forget-token").hidden = !state.token;
  allow($("#new-script"), roleRefusal("save"));
  showUploadPermissions();
  showLexiconPermissions();
  showThemePermissions();
  $("#welcome").hidden = Boolean(state.token);
  $("#workspace").hidden = !state.token;
  if (!state.token) {
    $("#token-status").textContent = "No token";
  } else if (!claims) {
    $("#token-status").textContent = "Token (unreadable claims)";
  } else {
    const expires = claims.exp ? new Date(claims.exp * 1000) : null;
    const expired = expires && expires < new Date() ? " — EXPIRED" : "";
    $("#token-status").textContent =
      `${claims.sub} · ${claims.extras?.role ?? "no role"}${expires ? ` · until ${expires.toLocaleString()}` : ""}${expired}`;
  }
}

// ---- pagination -----------------------------------------------------------------------

function showPager(nav, page, go) {
  const last = Math.min(page.offset + page.limit, page.total);
  nav.replaceChildren(
    h("button", { type: "button", disabled: page.offset === 0, onclick: () => go(Math.max(0, page.offset - page.limit)) }, "‹ Prev"),
    h("span", {}, page.total ? `${page.offset + 1}–${last} of ${page.total}` : "none yet"),
    h("button", { type: "button", disabled: last >= page.total, onclick: () => go(page.offset + page.limit) }, "Next ›"),
  );
}

// ---- videos ---------------------------------------------------------------------------

async function loadVideos(offset = state.offsets.videos) {
  const page = await act(() => api("GET", `/videos?limit=${PAGE_SIZE.videos}&offset=${offset}`));
  if (!page) return;
  state.offsets.videos = offset;
  $("#video-list").replaceChildren(...page.videos.map((video) => h("li", {},
    h("button", {
      type: "button",
      className: video.video_id === state.videoId ? "video current" : "video",
      onclick: () => openVideo(video.video_id),
    },
    h("span", { className: "video-id" }, video.video_id),
    h("span", { className: "muted" }, `${plural(video.script_count, "script")} (${video.approved_script_count} approved)`),
    h("span", {}, badge(video.latest_job?.status, "not rendered"), video.published ? " ▶ published" : "")))));
  showPager($("#video-pager"), page, loadVideos);
}

async function openVideo(videoId) {
  state.feed?.stop();
  stopDeckWatch();
  state.videoId = videoId;
  state.editing = null;
  state.offsets.scripts = state.offsets.jobs = 0;
  state.media = [];
  forgetPictures();
  forgetPreview();
  forgetScenePreview();
  $("#lexicon-table tbody").replaceChildren();
  lexiconStatus("");
  history.replaceState(null, "", `#video=${encodeURIComponent(videoId)}`);
  $("#video-heading").textContent = videoId;
  $("#video-panel").hidden = false;
  $("#editor").hidden = true;
  $("#render").hidden = true;
  for (const item of document.querySelectorAll("#video-list .video")) {
    item.classList.toggle("current", item.querySelector(".video-id").textContent === videoId);
  }
  await Promise.all([loadScripts(0), loadMedia(0), loadLexicon(), loadPublished(), resumeDeckImport()]);
  const jobs = await loadJobs(0);
  const newest = jobs?.jobs[0];
  if (newest && ACTIVE.has(newest.status)) follow(newest.job_id);
  else if (newest) showJobState(newest);
}

// ---- scripts --------------------------------------------------------------------------

async function loadScripts(offset) {
  const videoId = state.videoId;
  const page = await act(() => api("GET", `${videoPath(videoId)}/scripts?limit=${PAGE_SIZE.scripts}&offset=${offset}`));
  if (!page || videoId !== state.videoId) return;
  state.offsets.scripts = offset;
  const rows = page.scripts.map((script) => h("tr", {
    className: "clickable", onclick: () => openScript(script.script_id),
  },
  h("td", { className: "mono" }, script.script_id),
  h("td", { className: "script-title" }, script.title),
  h("td", {}, badge(script.status)),
  h("td", {}, String(script.scene_count)),
  h("td", {}, when(script.updated_at))));
  $("#script-table tbody").replaceChildren(...rows);
  showPager($("#script-pager"), page, loadScripts);
  if (page.total === 0 && state.editing === null) newScript();
}

async function openScript(scriptId) {
  const script = await act(() => api("GET", `${videoPath(state.videoId)}/scripts/${encodeURIComponent(scriptId)}`));
  if (!script) return;
  forgetScenePreview();
  showScript(script);
}

function newScript(template = SAMPLE_SCRIPT) {
  forgetScenePreview();
  state.editing = { scriptId: null, status: null, kept: kept(template, KEPT_SCRIPT_FIELDS) };
  fillEditor(template);
  $("#script-id").value = "";
}

/** Puts a ScriptView into the editor; an approved script is read-only. */
function showScript(script) {
  state.editing = { scriptId: script.script_id, status: script.status, kept: kept(script, KEPT_SCRIPT_FIELDS) };
  fillEditor(script);
  $("#script-id").value = script.script_id;
}

function fillEditor(script) {
  const { editing } = state;
  const approved = editing.status === "APPROVED";
  $("#editor").hidden = false;
  $("#editor-script-id").textContent = editing.scriptId || "(new)";
  $("#editor-status").replaceChildren(badge(editing.status || "UNSAVED"));
  $("#script-id").readOnly = editing.scriptId !== null;
  $("#script-title").value = script.title;
  $("#script-language").value = script.language;
  $("#script-rate").value = String(script.rate ?? DEFAULT_RATE);
  fillVoicePickers(script.voice || "", script.voice_fallback || NO_FALLBACK);
  loadVoices();
  showScriptLexicon(editing.kept.lexicon ?? null);
  fillLook(script);
  $("#scenes").replaceChildren(...script.scenes.map(sceneItem));
  $("#save-script").hidden = approved;
  $("#approve-script").hidden = approved;
  $("#copy-script").hidden = !approved;
  showScenes();
}

/** What the editor's buttons may do now, by script status and the token's role. */
function showEditorPermissions() {
  const { editing } = state;
  const reasons = $("#action-reasons");
  reasons.replaceChildren();
  const mayEdit = roleRefusal("save");
  const locked = editing.status === "APPROVED" || Boolean(mayEdit);
  for (const fieldset of document.querySelectorAll("#script-form fieldset:not(#scene-fields)")) fieldset.disabled = locked;
  // An approved script's scenes can still be previewed (the API renders what is stored), so
  // their fieldset stays open and each control in it but ▶ is locked instead; ▶ needs an editor.
  for (const control of $("#scene-fields").querySelectorAll("input, textarea, select, button")) {
    control.disabled = control.dataset.action === "preview" ? Boolean(mayEdit) : locked;
  }
  allow($("#save-script"), mayEdit, reasons);
  allow($("#approve-script"),
    roleRefusal("approve") || (editing.scriptId === null ? "Save the draft first." : "") || narrationRefusal(), reasons);
  allow($("#render-script"), editing.status === "APPROVED" ? roleRefusal("render") : "Approve the script first.", reasons);
  allow($("#copy-script"), mayEdit);
  showPreviewPermission();
}

/** Why the script cannot be approved yet for its narration, or "": the API refuses a blank
 * scene (NARRATION_MISSING), and a deck's pages without speaker notes arrive blank. */
function narrationRefusal() {
  const blank = [...document.querySelectorAll("#scenes .scene")]
    .map((item, index) => (isBlankScene(item) ? index + 1 : 0)).filter(Boolean);
  if (!blank.length) return "";
  return `Scene${blank.length === 1 ? "" : "s"} ${blank.join(", ")} ${blank.length === 1 ? "has" : "have"} no narration.`;
}

function isBlankScene(item) {
  return BLANK.test(item.querySelector("[name=narration]").value);
}

function sceneItem(scene) {
  const item = $("#scene-template").content.firstElementChild.cloneNode(true);
  const field = (name) => item.querySelector(`[name="${name}"]`);
  const slide = scene.slide || {};
  field("narration").value = scene.narration;
  // A slide saved before layouts existed is drawn as it always was: a picture, or title and bullets.
  field("layout").value = slide.layout || (slide.image ? "image" : "bullets");
  fillPicker(field("image"), slide.image || "");
  field("fit").value = slide.fit || "contain";
  field("motion").value = slide.motion || "none";
  field("slide-title").value = slide.title || "";
  field("caption").value = slide.caption || "";
  field("subtitle").value = slide.subtitle || "";
  field("quote").value = slide.quote || "";
  field("attribution").value = slide.attribution || "";
  field("bullets").value = (slide.bullets || []).join("\n");
  field("background").value = slide.background || "";
  field("pause").value = String(scene.pause_sec);
  field("rate").value = String(scene.rate ?? DEFAULT_RATE);
  item.kept = kept(scene, KEPT_SCENE_FIELDS);
  // Shown, not edited: a note for the writer, neither spoken nor shown in the video.
  item.querySelector(".hint-text").textContent = scene.hint || "";
  item.querySelector(".hint").hidden = !scene.hint;
  showSlideKind(item);
  return item;
}

/** The slide choices of a scene: a text slide or one of the video's images. */
function fillPicker(select, chosen) {
  fillSelect(select, h("option", { value: "" }, "Text slide"), mediaChoices("image", "Image"), chosen);
}

/** The open video's media of one kind (on the gallery's page) as choices. */
function mediaChoices(kind, noun) {
  return state.media.filter((media) => media.kind === kind)
    .map((media) => ({ value: media.media_id, label: `${noun} ${mediaLabel(media)}` }));
}

function mediaLabel(media) {
  const facts = {
    image: media.width && `${media.width}×${media.height}`,
    font: media.family,
    audio: media.duration_sec && `${media.duration_sec.toFixed(1)} s`,
  }[media.kind];
  return `${media.media_id.slice(4, 12)}${facts ? ` · ${facts}` : ""}`;
}

const isPictureLayout = (layout) => LAYOUT_FIELDS[layout].includes("image");

/** Shows the fields the scene's layout shows, and the chosen picture; a picture layout needs one. */
function showSlideKind(item) {
  const shown = LAYOUT_FIELDS[item.querySelector("[name=layout]").value];
  for (const node of item.querySelectorAll("[data-field]")) node.hidden = !shown.includes(node.dataset.field);
  const image = item.querySelector("[name=image]");
  image.required = shown.includes("image");
  const preview = item.querySelector(".scene-picture");
  preview.replaceChildren();
  if (image.value) preview.append(picture(image.value));
}

/** Keeps the Slide picker and the layout agreeing: choosing a picture for a text layout makes it a
 * picture slide, taking it away a text slide again (as the picker worked before layouts), and a
 * layout without a picture lets go of the chosen one, which it would not save. */
function matchSlideKind(item, changed) {
  const layout = item.querySelector("[name=layout]");
  const image = item.querySelector("[name=image]");
  if (changed === "layout" && !isPictureLayout(layout.value)) image.value = "";
  if (changed === "image" && Boolean(image.value) !== isPictureLayout(layout.value)) {
    layout.value = image.value ? "image" : "bullets";
  }
}

/** Numbers the scenes, marks those without narration and says what that allows. */
function showScenes() {
  document.querySelectorAll("#scenes .scene").forEach((item, index) => {
    item.querySelector(".scene-number").textContent = `Scene ${index + 1}`;
    item.querySelector(".narration-missing").hidden = !isBlankScene(item);
    item.querySelector("[data-action=preview]").ariaLabel = `Preview scene ${index + 1}`;
  });
  showEditorPermissions();
}

function onSceneInput(event) {
  if (event.target.name === "narration") showScenes();
  if (event.target.name === "image" || event.target.name === "layout") {
    const item = event.target.closest(".scene");
    matchSlideKind(item, event.target.name);
    showSlideKind(item);
  }
}

function onSceneTool(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const item = button.closest(".scene");
  const action = button.dataset.action;
  if (action === "preview") {
    previewScene(item);
    return;
  }
  if (action === "up" && item.previousElementSibling) item.previousElementSibling.before(item);
  if (action === "down" && item.nextElementSibling) item.nextElementSibling.after(item);
  if (action === "remove") item.remove();
  showScenes();
}

/** The Script body (libs/contracts/script.py) as the form describes it. */
function scriptFromForm() {
  const scenes = [...document.querySelectorAll("#scenes .scene")].map((item) => {
    const field = (name) => item.querySelector(`[name="${name}"]`).value;
    const layout = field("layout");
    const slide = { layout };
    // Only the layout's fields: what the other layouts' hidden fields still hold is not sent.
    for (const name of LAYOUT_FIELDS[layout]) slide[name] = slideValue(field(SLIDE_FIELD_INPUTS[name] || name), name);
    return {
      narration: field("narration"),
      slide: { ...slide, background: field("background").trim() || null },
      pause_sec: Number(field("pause") || 0),
      rate: Number(field("rate") || DEFAULT_RATE),
      ...item.kept,
    };
  });
  const script = {
    title: $("#script-title").value,
    language: $("#script-language").value.trim(),
    voice: $("#script-voice").value || null,
    voice_fallback: $("#script-voice-fallback").value || NO_FALLBACK,
    rate: Number($("#script-rate").value || DEFAULT_RATE),
    ...lookFromForm(),
    scenes,
    ...state.editing.kept,
  };
  return script;
}

/** The fields `names` that `source` has (not null): what a save must send back unchanged. */
function kept(source, names) {
  return Object.fromEntries(names.filter((name) => source[name] != null).map((name) => [name, source[name]]));
}

/** A slide field's value as its input holds it: bullets one per line, no picture as null. */
function slideValue(text, name) {
  if (name === "bullets") return text.split("\n").map((line) => line.trim()).filter(Boolean);
  if (name === "image") return text || null;
  return text;
}

async function saveScript(event) {
  event.preventDefault();
  await saveDraft();
}

/** Saves the editor's script as a draft (PUT, or POST for a new one without an id) and shows it
 * as saved; answers the saved script, or undefined when refused (the error is shown). */
async function saveDraft() {
  const body = scriptFromForm();
  const scriptId = state.editing.scriptId || $("#script-id").value.trim();
  const base = `${videoPath(state.videoId)}/scripts`;
  const saved = await act(() => (scriptId
    ? api("PUT", `${base}/${encodeURIComponent(scriptId)}`, body)
    : api("POST", `${base}/`, body)));
  if (!saved) return undefined;
  showScript(saved);
  notice(`Saved draft ${saved.script_id}.`);
  loadScripts(state.offsets.scripts);
  loadVideos();
  return saved;
}

async function approveScript() {
  const { scriptId } = state.editing;
  const approved = await act(() =>
    api("POST", `${videoPath(state.videoId)}/scripts/${encodeURIComponent(scriptId)}/approve`));
  if (!approved) return;
  showScript(approved);
  notice(`Approved ${approved.script_id}; it can be rendered now and no longer changed.`);
  loadScripts(state.offsets.scripts);
  loadVideos();
}

function copyScript() {
  const copy = scriptFromForm();
  newScript(copy);
  notice("Copied into a new draft; save it to keep it.");
}

// ---- look: format, theme, transition, music (SPEC §8.3) --------------------------------

function fillLook(script) {
  $("#script-format").value = script.format || DEFAULT_FORMAT;
  fillThemePicker(script.theme || "");
  const transition = script.transition || DEFAULT_TRANSITION;
  $("#script-transition").value = transition.type;
  $("#script-transition-sec").value = String(transition.duration_sec);
  const music = script.music || DEFAULT_MUSIC;
  fillMusicPicker(script.music?.media || "");
  $("#music-volume").value = String(music.volume_db);
  $("#music-duck").value = String(music.duck_db);
  $("#music-fade").value = String(music.fade_sec);
  showLookFields();
}

function lookFromForm() {
  const music = $("#script-music").value;
  return {
    format: $("#script-format").value,
    theme: $("#script-theme").value || null,
    transition: { type: $("#script-transition").value, duration_sec: Number($("#script-transition-sec").value) },
    music: music
      ? {
        media: music,
        volume_db: Number($("#music-volume").value),
        duck_db: Number($("#music-duck").value),
        fade_sec: Number($("#music-fade").value),
      }
      : null,
  };
}

/** A cut takes no time, and no music has no levels: their inputs show only when they count. */
function showLookFields() {
  $("#transition-seconds").hidden = $("#script-transition").value === "cut";
  for (const node of document.querySelectorAll(".music-only")) node.hidden = !$("#script-music").value;
}

function fillMusicPicker(chosen = $("#script-music").value) {
  fillSelect($("#script-music"), h("option", { value: "" }, "No music"), mediaChoices("audio", "Audio"), chosen);
}

function fillThemePicker(chosen = $("#script-theme").value) {
  fillSelect($("#script-theme"), h("option", { value: "" }, "Default look"),
    state.themes.map((theme) => ({ value: theme.theme_id, label: theme.theme_id })), chosen);
}

// ---- scene previews --------------------------------------------------------------------

/** Renders one scene alone (POST …/preview, SPEC §8.3) and plays it. The API renders the stored
 * script, so a draft's editor is saved first, as Save draft does; an approved script is as stored. */
async function previewScene(item) {
  const number = [...document.querySelectorAll("#scenes .scene")].indexOf(item) + 1;
  const draft = state.editing.status !== "APPROVED";
  if (draft && (!$("#script-form").reportValidity() || !(await saveDraft()))) return;
  const asked = ++state.scenePreviewsAsked;
  const { scriptId } = state.editing;
  $("#scene-preview").hidden = false;
  scenePreviewStatus(`Rendering scene ${number}…`);
  try {
    const response = await request("POST", `${videoPath(state.videoId)}/scripts/${encodeURIComponent(scriptId)}/preview`,
      { scene: number - 1 });
    const video = await response.blob();
    if (asked !== state.scenePreviewsAsked) return;
    loadBlob($("#scene-video"), video);
    scenePreviewStatus(`Scene ${number} of ${scriptId}, as the ${draft ? "saved draft" : "approved script"} renders it.`);
  } catch (error) {
    if (asked === state.scenePreviewsAsked) scenePreviewStatus(`Scene ${number} preview failed: ${describeFailure(error)}`, true);
  }
}

function scenePreviewStatus(text, failed = false) {
  showStatus($("#scene-preview-status"), text, failed);
}

/** Another script or video is open: its scene preview goes, and answers on their way are dropped. */
function forgetScenePreview() {
  state.scenePreviewsAsked += 1;
  unloadBlob($("#scene-video"));
  scenePreviewStatus("");
  $("#scene-preview").hidden = true;
}

// ---- voices ---------------------------------------------------------------------------

/** Asks the catalog for the editor's language (what the connected renderers speak now) and
 * offers it in the voice pickers; asked again when the language changes, as renderers come and go. */
async function loadVoices() {
  const language = $("#script-language").value.trim();
  const asked = ++state.voicesAsked;
  let catalog;
  try {
    catalog = await api("GET", `/voices?language=${encodeURIComponent(language)}`);
  } catch (error) {
    if (asked !== state.voicesAsked) return;
    state.voices = [];
    fillVoicePickers();
    voiceStatus(`Could not list the voices: ${describeFailure(error)}`, true);
    return;
  }
  if (asked !== state.voicesAsked) return;
  state.voices = [...catalog.voices].sort(byVoiceGroup);
  fillVoicePickers();
  voiceStatus(catalog.voices.length ? "" : `No connected renderer offers a voice for “${language}” now.`);
}

/** Neural voices first (what a team would publish), local before cloud, then by engine and name. */
function byVoiceGroup(a, b) {
  const rank = (voice) => [voice.kind === "neural" ? 0 : 1, voice.where, voice.engine, voice.name || voice.voice];
  const [left, right] = [rank(a), rank(b)];
  const differs = left.findIndex((value, index) => value !== right[index]);
  return differs < 0 ? 0 : String(left[differs]).localeCompare(String(right[differs]));
}

/** Refills both pickers from the catalog, keeping what each had chosen (by default, what the form shows). */
function fillVoicePickers(voice = $("#script-voice").value, fallback = $("#script-voice-fallback").value) {
  fillVoicePicker($("#script-voice"), h("option", { value: "" }, "Default voice"), voice);
  fillVoicePicker($("#script-voice-fallback"), h("option", { value: NO_FALLBACK }, "Fail the job (no fallback)"),
    fallback || NO_FALLBACK);
}

/** The catalog as option groups by engine and where it runs. A chosen voice the catalog lacks (an
 * alias, or an engine no renderer offers now) stays offered by its spec, so saving never drops it. */
function fillVoicePicker(select, firstOption, chosen) {
  const listed = chosen === firstOption.value || state.voices.some((voice) => voice.voice === chosen);
  const unlisted = listed ? null : h("option", { value: chosen }, `${chosen} (not offered now)`);
  select.replaceChildren(firstOption, unlisted, ...voiceGroups(state.voices));
  select.value = chosen;
}

function voiceGroups(voices) {
  const groups = new Map();
  for (const voice of voices) {
    const label = `${voice.engine} · ${voice.where} · ${voice.kind}`;
    if (!groups.has(label)) groups.set(label, h("optgroup", { label }));
    groups.get(label).append(h("option", { value: voice.voice, title: voice.voice }, voiceLabel(voice)));
  }
  return [...groups.values()];
}

function voiceLabel(voice) {
  const about = [voice.language, voice.gender, `${voice.sample_rate / 1000} kHz`].filter(Boolean).join(", ");
  return `${voice.name || voice.voice} (${about}) — ${voice.voice}`;
}

/** A line beside the preview button: what is happening, or why the voices cannot be heard. */
function voiceStatus(text, failed = false) {
  showStatus($("#voice-status"), text, failed);
}

/** The first sentence the script will speak: from the first scene that has narration, cut where
 * the renderer ends a sentence and to what a preview accepts. "" when there is none yet. */
function firstSentence() {
  for (const narration of document.querySelectorAll("#scenes [name=narration]")) {
    const sentence = narration.value.split("\n")
      .flatMap((paragraph) => paragraph.split(SENTENCE_END))
      .map((piece) => piece.trim())
      .find((piece) => !BLANK.test(piece));
    if (sentence) return Array.from(sentence).slice(0, PREVIEW_MAX_CHARS).join("");
  }
  return "";
}

/** Why the preview cannot be asked for now, or "". The default voice has no spec to send (the
 * API's preview needs one; which voice a renderer uses by default is its own setting). */
function previewRefusal() {
  if ($("#preview-voice").classList.contains("busy")) return "A preview is being spoken.";
  if (!$("#script-voice").value) return "Choose a voice to preview it.";
  return roleRefusal("preview") || (firstSentence() ? "" : "Write some narration to hear it.");
}

function showPreviewPermission() {
  $("#preview-reason").replaceChildren();
  allow($("#preview-voice"), previewRefusal(), $("#preview-reason"));
}

/** Speaks the script's first sentence in the chosen voice, with this video's lexicon (video_id), and
 * plays it. The audio needs the bearer token, which an <audio src> cannot send: it is fetched here
 * and played from an object URL. */
async function previewVoice() {
  const text = firstSentence();
  const voice = $("#script-voice").value;
  const asked = ++state.previewsAsked;
  setPreviewBusy(true);
  voiceStatus(`Speaking “${text}”…`);
  try {
    const response = await request("POST", "/voices/preview",
      { voice, language: $("#script-language").value.trim(), text, video_id: state.videoId });
    const audio = await response.blob();
    if (asked !== state.previewsAsked) return;
    playPreview(audio);
    voiceStatus(`“${text}” in ${voice}.`);
  } catch (error) {
    if (asked === state.previewsAsked) voiceStatus(`Preview failed: ${describeFailure(error)}`, true);
  } finally {
    if (asked === state.previewsAsked) setPreviewBusy(false);
  }
}

function setPreviewBusy(busy) {
  $("#preview-voice").classList.toggle("busy", busy);
  showPreviewPermission();
}

function playPreview(audio) {
  const player = $("#voice-audio");
  const url = loadBlob(player, audio);
  // Refused without a recent click (a browser's autoplay rule): the controls still play it. A newer
  // preview replacing this one also ends its play(), which needs no word.
  player.play().catch(() => { if (player.src === url) voiceStatus("Press play to hear the preview."); });
}

/** Shows `player` holding `blob` through a new object URL, freeing the one it held; answers the URL.
 * Previews need the bearer token, which an <audio src> or <video src> cannot send. */
function loadBlob(player, blob) {
  unloadBlob(player);
  const url = URL.createObjectURL(blob);
  player.src = url;
  player.hidden = false;
  return url;
}

/** Stops and hides `player` and frees the object URL it held. */
function unloadBlob(player) {
  player.pause();
  player.hidden = true;
  if (player.src.startsWith("blob:")) URL.revokeObjectURL(player.src);
  player.removeAttribute("src");
  player.load();
}

/** Another video is open: its preview stops, and answers still on their way are dropped. */
function forgetPreview() {
  state.previewsAsked += 1;
  setPreviewBusy(false);
  unloadBlob($("#voice-audio"));
  voiceStatus("");
}

/** Says that the script brings its own pronunciations, which win over the video's lexicon. */
function showScriptLexicon(entries) {
  const note = $("#script-lexicon-note");
  note.hidden = !entries?.length;
  note.textContent = entries?.length
    ? `This script has its own lexicon (${plural(entries.length, "term")}), which wins over the video's `
      + "Pronunciations; the editor saves it back unchanged."
    : "";
}

// ---- lexicon --------------------------------------------------------------------------

async function loadLexicon() {
  const videoId = state.videoId;
  try {
    const lexicon = await api("GET", `${videoPath(videoId)}/lexicon`);
    if (videoId === state.videoId) showLexicon(lexicon);
  } catch (error) {
    if (videoId === state.videoId) lexiconStatus(`Could not load the lexicon: ${describeFailure(error)}`, true);
  }
}

/** The video's lexicon as stored, one editable row per entry. */
function showLexicon(lexicon) {
  $("#lexicon-table tbody").replaceChildren(...lexicon.entries.map(lexiconRow));
  numberLexiconRows();
  lexiconStatus(lexicon.updated_at
    ? `${plural(lexicon.entries.length, "term")}, saved ${when(lexicon.updated_at)} by ${lexicon.updated_by}.`
    : "No terms yet: the narration says every word as written.");
}

function lexiconRow(entry) {
  return h("tr", { className: "lexicon-entry" },
    h("td", {}, h("input", { name: "term", value: entry.term, maxLength: 100, placeholder: "API" })),
    h("td", {}, h("input", { name: "say", value: entry.say, maxLength: 200, placeholder: "에이피아이" })),
    h("td", {}, h("input", { name: "case_sensitive", type: "checkbox", checked: entry.case_sensitive })),
    h("td", {}, h("button", { type: "button", className: "remove-entry" }, "Remove")),
    h("td", { className: "row-error" }));
}

/** Row numbers in each control's accessible name ("Term 2"): the table's headers alone do not
 * say which row a focused control is in. */
function numberLexiconRows() {
  lexiconRows().forEach((row, index) => {
    const number = index + 1;
    row.querySelector("[name=term]").ariaLabel = `Term ${number}`;
    row.querySelector("[name=say]").ariaLabel = `Say ${number}`;
    row.querySelector("[name=case_sensitive]").ariaLabel = `Case-sensitive ${number}`;
    row.querySelector(".remove-entry").ariaLabel = `Remove term ${number}`;
  });
}

function lexiconRows() {
  return [...document.querySelectorAll("#lexicon-table tbody tr.lexicon-entry")];
}

function lexiconEntry(row) {
  return {
    term: row.querySelector("[name=term]").value,
    say: row.querySelector("[name=say]").value,
    case_sensitive: row.querySelector("[name=case_sensitive]").checked,
  };
}

function addLexiconEntry() {
  const row = lexiconRow(NEW_LEXICON_ENTRY);
  $("#lexicon-table tbody").append(row);
  numberLexiconRows();
  row.querySelector("[name=term]").focus();
}

function onLexiconClick(event) {
  const button = event.target.closest(".remove-entry");
  if (!button) return;
  button.closest("tr").remove();
  numberLexiconRows();
  lexiconStatus("Not saved yet.");
}

/** Replaces the video's lexicon with the table's rows (PUT); a row left wholly empty is not an
 * entry. A refusal is shown beside each row it names. */
async function saveLexicon() {
  const videoId = state.videoId;
  const rows = lexiconRows().filter((row) => {
    const entry = lexiconEntry(row);
    return entry.term || entry.say;
  });
  clearLexiconProblems();
  const button = $("#save-lexicon");
  button.disabled = true;
  try {
    const saved = await api("PUT", `${videoPath(videoId)}/lexicon`, { entries: rows.map(lexiconEntry) });
    if (videoId !== state.videoId) return;
    showLexicon(saved);
    notice(`Saved the lexicon of ${videoId}; the next render says its terms so.`);
  } catch (error) {
    if (videoId === state.videoId) showLexiconProblems(error, rows);
  } finally {
    showLexiconPermissions();
  }
}

/** Each problem the API names at `entries[i]` goes beside the row sent as entry i, its field marked;
 * the rest (the whole list, the network) go under the table. */
function showLexiconProblems(error, rows) {
  const elsewhere = [];
  const problems = error instanceof ApiError ? error.detail.errors || [] : [];
  for (const problem of problems) {
    const [, index, field] = LEXICON_FIELD.exec(problem.field || "") || [];
    const row = index === undefined ? null : rows[Number(index)];
    if (!row) {
      elsewhere.push(problem.field ? `${problem.field}: ${problem.message}` : problem.message);
      continue;
    }
    row.classList.add("invalid");
    row.querySelector(".row-error").textContent = problem.message;
    row.querySelector(`[name="${field}"]`)?.setAttribute("aria-invalid", "true");
  }
  const summary = problems.length && !elsewhere.length
    ? `${error.errorCode}: see the marked terms.`
    : describeFailure(error);
  lexiconStatus(`Not saved. ${[summary, ...elsewhere].join(" · ")}`, true);
}

function clearLexiconProblems() {
  for (const row of lexiconRows()) {
    row.classList.remove("invalid");
    row.querySelector(".row-error").textContent = "";
    for (const input of row.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  }
}

function lexiconStatus(text, failed = false) {
  showStatus($("#lexicon-status"), text, failed);
}

function showLexiconPermissions() {
  const refusal = roleRefusal("lexicon");
  $("#lexicon-reasons").replaceChildren();
  $("#lexicon-fields").disabled = Boolean(refusal);
  allow($("#add-lexicon-entry"), refusal);
  allow($("#save-lexicon"), refusal, $("#lexicon-reasons"));
}

// ---- themes ---------------------------------------------------------------------------

/** The themes a script may name (GET /themes): the script's theme picker and the editor's ids. */
async function loadThemes() {
  const page = await act(() => api("GET", `/themes?limit=${PAGE_SIZE.themes}`));
  if (!page) return;
  state.themes = page.themes;
  fillThemePicker();
  $("#theme-ids").replaceChildren(...options(page.themes.map((theme) => ({ value: theme.theme_id, label: "" }))));
}

/** Opens the theme named in the id field: the stored one, or a new one with the default look. */
async function openTheme(event) {
  event.preventDefault();
  const themeId = $("#theme-id").value.trim();
  let theme;
  try {
    theme = await api("GET", `/themes/${encodeURIComponent(themeId)}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) {
      reportFailure(error);
      return;
    }
    theme = null;
  }
  fillThemeForm(themeId, theme || NEW_THEME);
  themeStatus(theme ? themeSaved(theme) : `${themeId} is a new theme: save it to create it.`);
}

function themeSaved(theme) {
  return `${theme.theme_id} saved ${when(theme.updated_at)} by ${theme.updated_by}.`;
}

function fillThemeForm(themeId, theme) {
  $("#theme-body").hidden = false;
  $("#theme-body").dataset.themeId = themeId;
  $("#theme-background").value = theme.background;
  $("#theme-text").value = theme.text;
  $("#theme-accent").value = theme.accent;
  $("#theme-font").value = theme.font || "";
  $("#theme-logo").value = theme.logo || "";
  $("#theme-logo-position").value = theme.logo_position;
  clearThemeProblems();
  showThemePreview();
}

function themeFromForm() {
  return {
    background: $("#theme-background").value,
    text: $("#theme-text").value,
    accent: $("#theme-accent").value,
    font: $("#theme-font").value.trim() || null,
    logo: $("#theme-logo").value.trim() || null,
    logo_position: $("#theme-logo-position").value,
  };
}

/** PUTs the theme whole; a refusal naming the font or the logo is shown beside that field. */
async function saveTheme(event) {
  event.preventDefault();
  const { themeId } = $("#theme-body").dataset;
  clearThemeProblems();
  try {
    const saved = await api("PUT", `/themes/${encodeURIComponent(themeId)}`, themeFromForm());
    themeStatus(`${themeSaved(saved)} The next render of a script naming it is drawn so.`);
    loadThemes();
  } catch (error) {
    showThemeProblems(error);
  }
}

function showThemeProblems(error) {
  const problems = error instanceof ApiError ? error.detail.errors || [] : [];
  const elsewhere = [];
  for (const problem of problems) {
    const field = THEME_MEDIA_FIELDS[problem.field];
    if (field) {
      $(`#theme-${field}`).setAttribute("aria-invalid", "true");
      $(`#theme-${field}-error`).textContent = problem.message;
    } else {
      elsewhere.push(problem.field ? `${problem.field}: ${problem.message}` : problem.message);
    }
  }
  // Every problem shown beside its field: the status only points there.
  const summary = problems.length && !elsewhere.length ? `${error.errorCode}: see the marked field.` : describeFailure(error);
  themeStatus(`Not saved. ${[summary, ...elsewhere].join(" · ")}`, true);
}

function clearThemeProblems() {
  for (const field of Object.values(THEME_MEDIA_FIELDS)) clearThemeProblem(field);
}

function clearThemeProblem(field) {
  $(`#theme-${field}`).removeAttribute("aria-invalid");
  $(`#theme-${field}-error`).textContent = "";
}

/** An edit: the preview follows it, and a refusal of the edited field no longer applies. */
function onThemeInput(event) {
  const field = Object.values(THEME_MEDIA_FIELDS).find((name) => event.target.id === `theme-${name}`);
  if (field) clearThemeProblem(field);
  themeStatus("Not saved yet.");
  showThemePreview();
}

function themeStatus(text, failed = false) {
  showStatus($("#theme-status"), text, failed);
}

function showThemePermissions() {
  const refusal = roleRefusal("theme");
  $("#theme-reasons").replaceChildren();
  $("#theme-fields").disabled = Boolean(refusal);
  allow($("#save-theme"), refusal, $("#theme-reasons"));
}

/** The theme's slide, roughly as the renderer draws it: its colours, its font, its logo in its
 * corner, in the script editor's format. */
function showThemePreview() {
  const slide = $("#theme-slide");
  const format = $("#script-format").value;
  slide.style.backgroundColor = $("#theme-background").value;
  slide.style.color = $("#theme-text").value;
  slide.style.setProperty("--slide-accent", $("#theme-accent").value);
  slide.style.aspectRatio = format.replace(":", " / ");
  $("#preview-format-note").textContent = `${format} (the script's format)`;
  showPreviewLogo();
  showPreviewFont();
}

/** A logo of the open video (what its content URL serves); a theme may name one of another video,
 * which the preview leaves out and says so. */
function showPreviewLogo() {
  const mediaId = $("#theme-logo").value.trim();
  const note = $("#preview-logo-note");
  $("#theme-slide .slide-logo")?.remove();
  if (!MEDIA_ID.test(mediaId)) {
    note.textContent = "no logo";
    return;
  }
  pictureUrl(mediaId).then((url) => {
    if ($("#theme-logo").value.trim() !== mediaId) return;
    const position = $("#theme-logo-position").value;
    $("#theme-slide .slide-logo")?.remove(); // an earlier edit's, drawn meanwhile
    $("#theme-slide").append(h("img", { className: `slide-logo ${position}`, src: url, alt: "" }));
    note.textContent = `logo ${position.replace("-", " ")}`;
  }, () => {
    if ($("#theme-logo").value.trim() === mediaId) note.textContent = "logo not shown: not an image of this video";
  });
}

/** Draws the preview in the theme's font, or the console's own for the bundled one. */
function showPreviewFont() {
  const slide = $("#theme-slide");
  const mediaId = $("#theme-font").value.trim();
  const note = $("#preview-font-note");
  if (!MEDIA_ID.test(mediaId)) {
    slide.style.fontFamily = "";
    note.textContent = "the bundled font (shown in the console's)";
    return;
  }
  note.textContent = "loading the font…";
  themeFont(mediaId).then((family) => {
    if ($("#theme-font").value.trim() !== mediaId) return;
    slide.style.fontFamily = `"${family}", sans-serif`;
    const media = state.media.find((item) => item.media_id === mediaId);
    note.textContent = `font ${media?.family || mediaId}`;
  }, () => {
    if ($("#theme-font").value.trim() !== mediaId) return;
    slide.style.fontFamily = "";
    note.textContent = "font not shown: not a font of this video";
  });
}

/** Adds the font media to the page once, answering the family name it goes by. A @font-face url()
 * cannot send the bearer token: its bytes are fetched with it and given to a FontFace (bytes, unlike
 * a URL, need no font-src in the page's policy). */
function themeFont(mediaId) {
  return once(state.fonts, mediaId, async () => {
    const family = `slidereel ${mediaId}`;
    const bytes = await (await mediaContent(mediaId)).arrayBuffer();
    document.fonts.add(await new FontFace(family, bytes).load());
    return family;
  });
}

// ---- images and decks -----------------------------------------------------------------

/** A page of the video's media, newest first (an upload lands on the first). */
async function loadMedia(offset) {
  const videoId = state.videoId;
  const page = await act(() => api("GET", `${videoPath(videoId)}/media?limit=${PAGE_SIZE.media}&offset=${offset}`));
  if (!page || videoId !== state.videoId) return;
  state.media = page.media;
  $("#media-list").replaceChildren(...page.media.map((media) => h("li", { className: "media" },
    media.kind === "image" ? picture(media.media_id) : h("div", { className: "media-tile" }, media.kind),
    h("span", { className: "mono", title: media.media_id }, mediaLabel(media)))));
  showPager($("#media-pager"), page, loadMedia);
  for (const select of document.querySelectorAll("#scenes [name=image]")) fillPicker(select, select.value);
  fillMusicPicker();
  $("#theme-fonts").replaceChildren(...options(mediaChoices("font", "Font")));
  $("#theme-logos").replaceChildren(...options(mediaChoices("image", "Image")));
}

/** An <img> of the open video's media. Its content needs the bearer token, which an <img src>
 * cannot send: the bytes are fetched with it and shown through an object URL. */
function picture(mediaId) {
  const img = h("img", { className: "picture", alt: `Image ${mediaId}` });
  pictureUrl(mediaId).then((url) => { img.src = url; }, (error) => { img.title = error.message; });
  return img;
}

/** One fetch per image and video: a media id names bytes that never change. */
function pictureUrl(mediaId) {
  return once(state.pictures, mediaId, () => mediaContent(mediaId)
    .then((response) => response.blob())
    .then((blob) => URL.createObjectURL(blob)));
}

/** The media's bytes from the open video, fetched with the token. */
function mediaContent(mediaId) {
  return request("GET", `${videoPath(state.videoId)}/media/${encodeURIComponent(mediaId)}/content`);
}

/** The promise `make()` answers, made once per key of `cache`. A failure is not kept: the next
 * asking tries again. */
function once(cache, key, make) {
  if (!cache.has(key)) {
    const made = make();
    made.catch(() => cache.delete(key));
    cache.set(key, made);
  }
  return cache.get(key);
}

/** Frees the previous video's object URLs, also those of fetches still on their way. */
function forgetPictures() {
  for (const url of state.pictures.values()) url.then((made) => URL.revokeObjectURL(made), () => {});
  state.pictures = new Map();
}

function showUploadPermissions() {
  const refusal = roleRefusal("upload");
  $("#media-reasons").replaceChildren();
  allow($("#upload-media"), refusal, $("#media-reasons"));
  // One import at a time: another deck posted meanwhile would only race this one to the editor.
  allow($("#import-deck"), refusal || (state.deck ? "A deck is being imported into this video." : ""));
}

/** POSTs a chosen file as the raw body (the API tells its type by its bytes), with `button`
 * disabled meanwhile: a deck of many MiB takes a while to send. Answers {body, status} or undefined. */
async function sendFile(button, path, file) {
  button.disabled = true;
  notice(`Sending ${file.name}…`);
  const sent = await act(async () => {
    const response = await request("POST", path, file);
    return { body: await response.json(), status: response.status };
  });
  if (!sent) notice("");
  showUploadPermissions();
  return sent;
}

async function uploadMedia(file) {
  const sent = await sendFile($("#upload-media"), `${videoPath(state.videoId)}/media`, file);
  if (!sent) return;
  const media = sent.body;
  notice(sent.status === 201
    ? `Uploaded ${file.name} as ${media.kind} ${mediaLabel(media)}; ${USE_OF_MEDIA[media.kind]}.`
    : `This video already has ${file.name} (${media.kind} ${mediaLabel(media)}).`);
  loadMedia(0);
}

/** A PDF or PPTX becomes a DRAFT with one image scene per page, opened in the editor: its pages
 * without speaker notes still need narration before approval. The API answers at once with the
 * import (202 converting, or 200 for bytes this video imported before); converting a large deck
 * takes up to a minute, so the import is then followed until it ends. */
async function importDeck(file) {
  const videoId = state.videoId;
  // No title: the API takes the deck's own (its PDF or PPTX title), which says more than a file name.
  const sent = await sendFile($("#import-deck"), `${videoPath(videoId)}/decks`, file);
  if (!sent || videoId !== state.videoId) return; // refused, or the user opened another video meanwhile
  watchDeck(sent.body, { name: file.name, open: true, earlier: sent.status === 200 });
}

/** A deck import still converting when its video is opened (after a reload, or a look at another
 * video) is followed again: its progress shows and Import stays held. It does not take over the
 * editor when it ends, as the user may be writing another script by then. */
async function resumeDeckImport() {
  const videoId = state.videoId;
  const page = await act(() => api("GET", `${videoPath(videoId)}/decks?limit=1&offset=0`));
  const newest = page?.imports[0];
  if (newest?.status !== "CONVERTING" || videoId !== state.videoId || state.deck) return;
  watchDeck(newest, { name: `the ${newest.source.toUpperCase()} deck`, open: false, earlier: false });
}

/** Follows one import of the open video by polling it: there is no stream for deck imports, and
 * a poll every DECK_POLL_MS costs the API one row read. */
function watchDeck(view, { name, open, earlier }) {
  stopDeckWatch();
  state.deck = { videoId: view.video_id, importId: view.import_id, name, open, earlier, timer: null };
  showUploadPermissions();
  showDeckImport(state.deck, view);
}

/** Forgets the followed import (the user opened another video or forgot the token, or it ended):
 * a poll already on its way finds itself stale and is dropped. */
function stopDeckWatch() {
  if (!state.deck) return;
  clearTimeout(state.deck.timer);
  state.deck = null;
  $("#deck-progress").hidden = true;
  showUploadPermissions();
}

async function pollDeck(deck) {
  try {
    const view = await api("GET", `${videoPath(deck.videoId)}/decks/${encodeURIComponent(deck.importId)}`);
    if (state.deck === deck) showDeckImport(deck, view);
  } catch (error) {
    if (state.deck !== deck) return;
    if (error instanceof ApiError) { // an expired token, an import gone: asking again will not help
      stopDeckWatch();
      notice("");
      reportFailure(error);
    } else {
      deck.timer = setTimeout(() => pollDeck(deck), DECK_RETRY_MS);
    }
  }
}

/** Shows where the import is; asks again while it converts, else ends the watch. */
function showDeckImport(deck, view) {
  if (view.status === "CONVERTING") {
    showDeckProgress(deck.name, view);
    deck.timer = setTimeout(() => pollDeck(deck), DECK_POLL_MS);
    return;
  }
  stopDeckWatch();
  if (view.status === "SUCCEEDED") {
    deckImported(deck, view);
  } else {
    notice(`Could not import ${deck.name}.`);
    showError(view.error_code || "DECK_IMPORT_FAILED", view.error_message || view.message, view.error_detail || {});
  }
}

function showDeckProgress(name, view) {
  const bar = $("#deck-bar");
  bar.max = Math.max(1, view.pages);
  // No page drawn yet (a PPTX still in LibreOffice): an indeterminate bar, not one stuck at 0.
  if (view.pages_done) bar.value = view.pages_done;
  else bar.removeAttribute("value");
  $("#deck-pages").textContent = `${view.pages_done} / ${plural(view.pages, "page")}`;
  $("#deck-progress").hidden = false;
  notice(`Importing ${name}: ${view.message}`);
}

/** The DRAFT the import made: opened in the editor (after the gallery, so that its scenes' pickers
 * offer the pages' images), or only announced for an import resumed in the background. */
async function deckImported(deck, view) {
  const missing = view.scenes_without_narration.length;
  const toWrite = missing ? `${plural(missing, "scene")} still ${missing === 1 ? "needs" : "need"}` : "no scene needs";
  const pages = `${plural(view.pages, "page")} from ${deck.name} as draft ${view.script_id}`;
  loadScripts(state.offsets.scripts);
  loadVideos();
  if (!deck.open) {
    await loadMedia(0);
    notice(`Imported ${pages}; open it from the scripts above (${toWrite} narration).`);
    return;
  }
  const script = await act(() =>
    api("GET", `${videoPath(view.video_id)}/scripts/${encodeURIComponent(view.script_id)}`));
  if (!script || view.video_id !== state.videoId) return;
  await loadMedia(0);
  if (view.video_id !== state.videoId) return;
  showScript(script);
  notice(`${deck.earlier ? "Opened the earlier import of" : "Imported"} ${pages}; ${toWrite} narration.`);
}

// ---- render and live progress --------------------------------------------------------

async function startRender() {
  const created = await act(() =>
    api("POST", `${videoPath(state.videoId)}/render-jobs`, { script_id: state.editing.scriptId }));
  if (!created) return;
  notice(created.message);
  follow(created.job_id);
  $("#render").scrollIntoView({ block: "nearest" });
  loadJobs(0);
}

async function cancelRender() {
  const jobId = $("#job-id").textContent;
  const job = await act(() =>
    api("POST", `${videoPath(state.videoId)}/render-jobs/${encodeURIComponent(jobId)}/cancel`));
  if (job) showJobState(job);
}

/** Shows one job's state in the render panel: a job from the API or a stream event. */
function showJobState(job) {
  $("#render").hidden = false;
  $("#job-id").textContent = job.job_id;
  $("#job-status").replaceChildren(badge(job.status));
  $("#job-step").textContent = job.step ? `${STEP_LABELS[job.step] || job.step} (${job.step})` : "";
  $("#progress-bar").value = job.progress;
  $("#progress-text").textContent = `${job.progress} %`;
  $("#job-message").textContent = job.message || "";
  const failed = job.status === "FAILED" && job.error_code;
  $("#job-error").hidden = !failed;
  $("#job-error").textContent = failed ? `${job.error_code}: ${job.error_message || job.message}` : "";
  $("#cancel-reason").replaceChildren();
  allow($("#cancel-job"), ACTIVE.has(job.status) ? roleRefusal("cancel") : "The job has ended.",
    ACTIVE.has(job.status) ? $("#cancel-reason") : null);
}

function follow(jobId) {
  state.feed?.stop();
  showJobState({ job_id: jobId, status: "PENDING", step: null, progress: 0, message: "Connecting…" });
  const videoId = state.videoId;
  state.feed = new ProgressFeed(videoId, jobId, {
    onState: showJobState,
    onConnection: (text) => { $("#connection-state").textContent = text; },
    onEnd: (event) => {
      notice(`Job ${event.job_id} ended ${event.status}.`);
      if (event.status === "FAILED") {
        showError(event.error_code || "RENDER_FAILED", event.message);
      }
      loadJobs(0);
      loadVideos();
      if (event.status === "SUCCEEDED") loadPublished();
    },
    onError: reportFailure,
  });
}

/**
 * Follows one job over `WS /ws/videos/{video_id}/render-progress` (SPEC §3). A dropped
 * connection is reopened with backoff and `last_seq`, so the server replays exactly the
 * events this page has not seen; a replayed event older than the snapshot never moves
 * the bar backwards.
 */
class ProgressFeed {
  constructor(videoId, jobId, handlers) {
    Object.assign(this, { videoId, jobId, handlers });
    this.lastSeq = 0; // the last progress event received: where a reconnect resumes
    this.shownSeq = -1; // the newest state shown (a snapshot can be ahead of replayed events)
    this.failures = 0;
    this.ended = false;
    this.stopped = false;
    this.connect();
  }

  async connect() {
    this.handlers.onConnection(this.failures ? `reconnecting (last seq ${this.lastSeq})…` : "connecting…");
    // A fresh short-lived ticket per connection keeps the bearer token out of the URL (and so
    // out of access logs); a refused ticket request ends the feed with the API's own error.
    let ticket;
    try {
      ({ ticket } = await api("POST", "/ws-tickets"));
    } catch (error) {
      if (error instanceof ApiError) {
        this.stop();
        this.handlers.onConnection("stopped");
        this.handlers.onError(error);
      } else {
        this.closed({ code: 1006 }); // the network: retry with backoff
      }
      return;
    }
    if (this.stopped) return;
    const query = new URLSearchParams({ job_id: this.jobId, last_seq: String(this.lastSeq), ticket });
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/videos/${encodeURIComponent(this.videoId)}/render-progress?${query}`;
    this.socket = new WebSocket(url);
    this.socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    this.socket.onclose = (closed) => this.closed(closed);
  }

  receive(message) {
    this.failures = 0;
    if (message.type === "connected") {
      this.handlers.onConnection("live");
    } else if (message.type === "snapshot") {
      this.show(message);
    } else if (message.type === "progress" && message.seq > this.lastSeq) {
      this.lastSeq = message.seq;
      this.show(message);
    } else if (message.type === "error") {
      this.stopped = true;
      showError(message.error_code, message.message);
    }
  }

  show(event) {
    if (event.seq < this.shownSeq) return;
    this.shownSeq = event.seq;
    this.handlers.onState(event);
    if (TERMINAL.has(event.status) && !this.ended) {
      this.ended = true;
      this.handlers.onEnd(event);
    }
  }

  closed(event) {
    if (this.stopped) return;
    if (this.ended) {
      this.handlers.onConnection("finished");
      return;
    }
    // 4008: this page fell behind; resume at once. Anything else: the network, a restart of
    // the API, or a refused handshake (auth is checked again below): back off with jitter.
    this.failures += 1;
    const delay = event.code === 4008 ? 0 : Math.min(10_000, 500 * 2 ** (this.failures - 1)) * (0.5 + Math.random() / 2);
    this.handlers.onConnection(`connection lost (code ${event.code}); retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.reconnect(), delay);
  }

  async reconnect() {
    if (this.stopped) return;
    // A handshake refused for the token or an unknown job looks like a network drop to
    // the page; ask the REST API, which answers with the real error.
    try {
      await api("GET", `${videoPath(this.videoId)}/render-jobs/${encodeURIComponent(this.jobId)}`);
    } catch (error) {
      if (error instanceof ApiError) {
        this.stop();
        this.handlers.onConnection("stopped");
        this.handlers.onError(error);
        return;
      }
    }
    if (!this.stopped) this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000);
  }
}

// ---- published video and job history -------------------------------------------------

async function loadPublished() {
  const videoId = state.videoId;
  const published = await act(() => api("GET", `${videoPath(videoId)}/assets/published`));
  if (!published || videoId !== state.videoId) return;
  if (!published.published) {
    $("#player-section").hidden = true;
    return;
  }
  play(published, "Published video",
    `Job ${published.job_id} · script ${published.script_id} · ${published.duration_sec.toFixed(1)} s · published ${when(published.published_at)}`);
}

/** Loads assets into the player: the MP4, its word-timed WebVTT track, its chapters (listed
 * below it, each a button that seeks there) and the thumbnail as poster. */
function play(assets, heading, info) {
  const player = $("#player");
  player.pause();
  player.replaceChildren(h("track", {
    kind: "subtitles", label: "Subtitles", srclang: "ko", src: assets.vtt_url, default: true,
  }));
  $("#chapters").replaceChildren();
  if (assets.chapters_url) {
    const chapters = h("track", { kind: "chapters", label: "Chapters", srclang: "ko", src: assets.chapters_url });
    chapters.addEventListener("load", () => listChapters(player, chapters.track));
    player.append(chapters);
    chapters.track.mode = "hidden"; // loads the cues without showing them
  }
  player.poster = assets.thumbnail_url;
  player.src = assets.video_url;
  player.load();
  $("#player-heading").textContent = heading;
  $("#player-info").textContent = info;
  $("#player-section").hidden = false;
}

function listChapters(player, track) {
  const items = Array.from(track.cues, (cue) => h("li", {},
    h("button", { type: "button", className: "chapter", onclick: () => { player.currentTime = cue.startTime; } },
      `${clock(cue.startTime)} ${cue.text}`)));
  $("#chapters").replaceChildren(...items);
}

function clock(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

async function loadJobs(offset) {
  const videoId = state.videoId;
  const page = await act(() => api("GET", `${videoPath(videoId)}/render-jobs?limit=${PAGE_SIZE.jobs}&offset=${offset}`));
  if (!page || videoId !== state.videoId) return undefined;
  state.offsets.jobs = offset;
  $("#job-table tbody").replaceChildren(...page.jobs.map(jobRow));
  showPager($("#job-pager"), page, loadJobs);
  return page;
}

function jobRow(job) {
  let action = null;
  if (ACTIVE.has(job.status)) {
    action = h("button", { type: "button", onclick: () => follow(job.job_id) }, "Watch");
  } else if (job.assets) {
    action = h("button", {
      type: "button",
      onclick: () => play(job.assets, `Job ${shortId(job.job_id)}`, `Job ${job.job_id} · ${job.assets.duration_sec.toFixed(1)} s`),
    }, "Play");
  }
  return h("tr", {},
    h("td", { className: "mono", title: job.job_id }, shortId(job.job_id)),
    h("td", { className: "mono" }, job.script_id),
    h("td", {}, badge(job.status)),
    h("td", {}, job.step || "—"),
    h("td", {}, `${job.progress} %`),
    h("td", {}, job.error_code ? `${job.error_code}: ${job.error_message || ""}` : ""),
    h("td", {}, when(job.created_at)),
    h("td", {}, when(job.finished_at)),
    h("td", {}, action));
}

// ---- wiring ---------------------------------------------------------------------------

function wire() {
  document.addEventListener("click", clearErrorOnUserAction, true);
  document.addEventListener("submit", clearErrorOnUserAction, true);
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    useToken($("#token-input").value);
  });
  onFileChosen($("#token-file"), async (file) => useToken(await file.text()));
  $("#forget-token").addEventListener("click", forgetToken);
  $("#error-dismiss").addEventListener("click", clearError);
  $("#refresh-videos").addEventListener("click", () => loadVideos());
  $("#open-video-form").addEventListener("submit", (event) => {
    event.preventDefault();
    openVideo($("#video-id-input").value.trim());
  });
  $("#new-script").addEventListener("click", () => newScript());
  $("#copy-script").addEventListener("click", copyScript);
  $("#upload-media").addEventListener("click", () => $("#media-file").click());
  $("#import-deck").addEventListener("click", () => $("#deck-file").click());
  onFileChosen($("#media-file"), uploadMedia);
  onFileChosen($("#deck-file"), importDeck);
  $("#add-scene").addEventListener("click", () => {
    $("#scenes").append(sceneItem(NEW_SCENE));
    showScenes();
  });
  $("#scenes").addEventListener("click", onSceneTool);
  $("#scenes").addEventListener("input", onSceneInput);
  $("#script-language").addEventListener("change", loadVoices);
  $("#script-voice").addEventListener("change", showPreviewPermission);
  $("#preview-voice").addEventListener("click", previewVoice);
  $("#add-lexicon-entry").addEventListener("click", addLexiconEntry);
  $("#lexicon-table").addEventListener("click", onLexiconClick);
  $("#lexicon-table").addEventListener("input", () => lexiconStatus("Not saved yet."));
  $("#save-lexicon").addEventListener("click", saveLexicon);
  $("#script-form").addEventListener("submit", saveScript);
  $("#approve-script").addEventListener("click", approveScript);
  $("#render-script").addEventListener("click", startRender);
  $("#script-format").addEventListener("change", showThemePreview);
  $("#script-transition").addEventListener("change", showLookFields);
  $("#script-music").addEventListener("change", showLookFields);
  $("#theme-open-form").addEventListener("submit", openTheme);
  $("#theme-form").addEventListener("submit", saveTheme);
  $("#theme-form").addEventListener("input", onThemeInput);
  $("#cancel-job").addEventListener("click", cancelRender);
}

wire();
showToken();
if (state.token) useToken(state.token);
