"""The console page as the tests drive it: what a user clicks and types, and what they see."""

import io
import re
from pathlib import Path

from PIL import Image, ImageStat
from playwright.sync_api import Dialog, Page, expect

from services.api.auth.roles import Role
from tests.stack import Stack

UI_TIMEOUT_MS = 30_000
"""A click's answer on a loaded 2-core machine: one API round trip and a re-render."""
RENDER_TIMEOUT_MS = 300_000
REPORT_CSP_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (event) =>
    window.reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI}`));"""
PLAY = """async (timeoutMs) => {
    const video = document.querySelector("#player");
    const within = (promise, what) => Promise.race([promise, new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs))]);
    const until = (name, done) => new Promise((resolve) => {
        const check = () => { if (done()) { video.removeEventListener(name, check); resolve(); } };
        video.addEventListener(name, check);
        check();
    });
    video.muted = true;
    await within(until("canplay", () => video.readyState >= 3), "canplay");
    await within(video.play(), "play()");
    await within(until("timeupdate", () => video.currentTime > 0.3), "playback to advance");
    return {readyState: video.readyState, duration: video.duration, currentTime: video.currentTime,
            error: video.error && video.error.message};
}"""
SEEK = """async ([target, timeoutMs]) => {
    const video = document.querySelector("#player");
    video.pause();
    const seeked = new Promise((resolve) => video.addEventListener("seeked", resolve, {once: true}));
    video.currentTime = target;
    await Promise.race([seeked, new Promise((_, reject) =>
        setTimeout(() => reject(new Error("timed out waiting for seeked")), timeoutMs))]);
    return video.currentTime;
}"""
POSTER_DRAWN = """() => {
    // The same URL, loaded as an image under the page's policy: what the player draws before playing.
    const poster = document.querySelector("#player").poster;
    if (!poster) return false;
    if (window.posterProbe?.src !== poster) {
        window.posterProbe = new Image();
        window.posterProbe.src = poster;
    }
    return window.posterProbe.complete && window.posterProbe.naturalWidth > 0;
}"""
PICTURES_DRAWN = """([selector, count]) => {
    const images = [...document.querySelectorAll(selector)];
    return images.length === count && images.every((img) => img.complete && img.naturalWidth > 0);
}"""
MIDDLE_COLOURS = """(selector) => [...document.querySelectorAll(selector)].map((img) => {
    const canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    return [...context.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data.slice(0, 3)];
})"""
CHAPTER_SEEK = """async ([index, timeoutMs]) => {
    // Clicks the index-th chapter of the list; answers where the player landed, the chapter's
    // cue start, and the text of the subtitle cues active there (inline timestamps dropped).
    const video = document.querySelector("#player");
    video.pause();
    const seeked = new Promise((resolve) => video.addEventListener("seeked", resolve, {once: true}));
    document.querySelectorAll("#chapters button")[index].click();
    await Promise.race([seeked, new Promise((_, reject) =>
        setTimeout(() => reject(new Error("timed out waiting for seeked")), timeoutMs))]);
    const subtitles = [...video.textTracks].find((track) => track.kind === "subtitles");
    const chapters = [...video.textTracks].find((track) => track.kind === "chapters");
    // activeCues follow the playhead once the track has caught up with the seek.
    await new Promise((resolve) => {
        const settled = () => subtitles.activeCues.length > 0;
        if (settled()) return resolve();
        subtitles.addEventListener("cuechange", resolve, {once: true});
    });
    return {
        landed: video.currentTime,
        chapter: chapters.cues[index].startTime,
        active: [...subtitles.activeCues].map((cue) => cue.getCueAsHTML().textContent),
        rawActive: [...subtitles.activeCues].map((cue) => cue.text),
    };
}"""
NEXT_CUE = """async (timeoutMs) => {
    // Plays until another subtitle cue is active (an event, not a wait); answers the playhead
    // then and the times of the cues now active.
    const video = document.querySelector("#player");
    const subtitles = [...video.textTracks].find((track) => track.kind === "subtitles");
    const active = [...subtitles.activeCues];
    const changed = new Promise((resolve) => {
        // A cue that ends into a pause makes a change too, to no active cue: wait for the next one.
        const listener = () => {
            const now = [...subtitles.activeCues];
            if (now.length > 0 && now[0] !== active[0]) {
                subtitles.removeEventListener("cuechange", listener);
                resolve();
            }
        };
        subtitles.addEventListener("cuechange", listener);
    });
    video.muted = true;
    await video.play();
    await Promise.race([changed, new Promise((_, reject) =>
        setTimeout(() => reject(new Error("timed out waiting for cuechange")), timeoutMs))]);
    const at = video.currentTime;
    video.pause();
    return {at, active: [...subtitles.activeCues].map((cue) => [cue.startTime, cue.endTime])};
}"""
SUBTITLE_CUES = """() => {
    const track = document.querySelector("#player").textTracks[0];
    const loaded = track && ["showing", "hidden"].includes(track.mode) && track.cues && track.cues.length > 0;
    // The text a viewer reads: without the cue's inline word timestamps.
    const text = (cue) => cue.getCueAsHTML().textContent;
    return loaded ? {mode: track.mode, cues: [...track.cues].map(text)} : null;
}"""


class Console:
    def __init__(self, page: Page, stack: Stack, artifacts: Path) -> None:
        self.page = page
        self.stack = stack
        self.artifacts = artifacts
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("dialog", self._refuse_dialog)
        # Reported to Python as they happen, so a reload in the test loses none.
        self.csp_violations: list[str] = []
        page.expose_function("reportCspViolation", lambda violation: self.csp_violations.append(violation))
        page.add_init_script(REPORT_CSP_VIOLATIONS)
        page.set_default_timeout(UI_TIMEOUT_MS)

    def _refuse_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def shot(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{len(list(self.artifacts.iterdir())):02d}-{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    # --- actions ----------------------------------------------------------------------

    def use_token(self, role: Role = Role.APPROVER, subject: str = "console-e2e") -> None:
        self.page.fill("#token-input", self.stack.token(role, subject))
        self.page.click("text=Use token")
        expect(self.page.locator("#token-status")).to_contain_text(f"{subject} · {role.name.lower()}")

    def open_video(self, video_id: str) -> None:
        self.page.fill("#video-id-input", video_id)
        self.page.click("#open-video-form button")
        expect(self.page.locator("#video-heading")).to_have_text(video_id)

    def open_script(self, script_id: str) -> None:
        self.page.locator("#script-table tbody tr", has_text=script_id).click()
        expect(self.page.locator("#editor-script-id")).to_have_text(script_id)

    def fill_script(self, script: dict) -> None:
        """Types a script body (SPEC §1) into the editor, scene by scene; an image slide's
        image is picked among the video's media."""
        self.page.fill("#script-title", script["title"])
        self.page.fill("#script-language", script.get("language", "ko"))
        scenes = self.page.locator("#scenes .scene")
        while scenes.count():
            scenes.first.locator("[data-action=remove]").click()
        for scene in script["scenes"]:
            self.page.click("#add-scene")
            item = scenes.last
            slide = scene.get("slide", {})
            item.locator("[name=narration]").fill(scene["narration"])
            item.locator("[name=slide-title]").fill(slide.get("title", ""))
            if "image" in slide:
                item.locator("[name=image]").select_option(slide["image"])
                item.locator("[name=fit]").select_option(slide.get("fit", "contain"))
                item.locator("[name=motion]").select_option(slide.get("motion", "none"))
                item.locator("[name=caption]").fill(slide.get("caption", ""))
            else:
                item.locator("[name=bullets]").fill("\n".join(slide.get("bullets", [])))
            item.locator("[name=background]").fill(slide.get("background") or "")

    def scene_field(self, index: int, name: str):
        return self.page.locator("#scenes .scene").nth(index).locator(f"[name={name}]")

    def choose_file(self, button: str, name: str, mime_type: str, data: bytes) -> None:
        """Clicks `button` and picks a file in the file dialog it opens."""
        with self.page.expect_file_chooser() as chooser:
            self.page.click(button)
        chooser.value.set_files(files=[{"name": name, "mimeType": mime_type, "buffer": data}])

    def save(self) -> None:
        self.page.click("#save-script")

    def approve(self) -> None:
        self.page.click("#approve-script")
        expect(self.page.locator("#editor-status")).to_have_text("APPROVED")

    def render(self) -> str:
        """Clicks Render; returns the job id the render panel follows."""
        self.page.click("#render-script")
        job_id = self.page.locator("#job-id")
        expect(job_id).to_have_text(re.compile(r"^job-"))
        return job_id.text_content()

    # --- what the user sees ---------------------------------------------------------------

    @property
    def error(self):
        return self.page.locator("#error")

    def check_playback(self, duration_sec: float) -> list[str]:
        """The published video in the player: its poster drawn, then playing (readyState ≥ 3),
        as long as the job said, seeking, and its subtitle track's cues loaded. Returns the cues."""
        player = self.page.locator("#player")
        self.page.wait_for_function(POSTER_DRAWN, timeout=UI_TIMEOUT_MS)
        assert not is_blank(player.screenshot()), "the player shows no poster"

        played = self.page.evaluate(PLAY, UI_TIMEOUT_MS)
        assert played["error"] is None and played["readyState"] >= 3, played
        assert abs(played["duration"] - duration_sec) <= 0.1, (played, duration_sec)

        target = 0.6 * played["duration"]
        landed = self.page.evaluate(SEEK, [target, UI_TIMEOUT_MS])
        assert abs(landed - target) <= 0.5, (landed, target)

        self.page.wait_for_function(SUBTITLE_CUES)
        subtitles = self.page.evaluate(SUBTITLE_CUES)
        assert subtitles["cues"], subtitles
        return subtitles["cues"]

    def seek_to_chapter(self, index: int, count: int) -> dict:
        """Waits for the chapter list to show `count` chapters, then seeks with the index-th."""
        expect(self.page.locator("#chapters li")).to_have_count(count, timeout=UI_TIMEOUT_MS)
        return self.page.evaluate(CHAPTER_SEEK, [index, UI_TIMEOUT_MS])

    def play_to_next_cue(self) -> dict:
        return self.page.evaluate(NEXT_CUE, UI_TIMEOUT_MS)

    def pictures(self, selector: str, count: int) -> list[tuple[int, int, int]]:
        """Waits until exactly `count` images match `selector`, each drawn (its bytes fetched and
        decoded: naturalWidth > 0); returns the RGB each has in its middle."""
        self.page.wait_for_function(PICTURES_DRAWN, arg=[selector, count])
        return [tuple(rgb) for rgb in self.page.evaluate(MIDDLE_COLOURS, selector)]

    def expect_job_status(self, status: str, timeout: int = UI_TIMEOUT_MS) -> None:
        expect(self.page.locator("#job-status")).to_have_text(status, timeout=timeout)


def is_blank(png: bytes) -> bool:
    """A screenshot of one flat colour (a black player), as opposed to a drawn picture."""
    stat = ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L"))
    return stat.stddev[0] < 2.0
