// Drive the tingshu web page in a real headless Chromium: pick a voice, paste text, submit,
// wait for the audio player, and report what the page showed as one JSON line.
// Env: TINGSHU_URL (API base), TINGSHU_KEY (API key or empty), CHROMIUM (binary),
//      SCREENSHOT (PNG path), BAD_INPUT=1 to submit an empty text and report the error shown.
import { chromium } from "playwright-core";

const base = process.env.TINGSHU_URL;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const result = {};
try {
  const page = await browser.newPage();
  page.on("pageerror", (err) => { result.page_error = String(err); });
  await page.goto(base + "/");
  if (process.env.TINGSHU_KEY) {
    await page.fill("#api-key", process.env.TINGSHU_KEY);
    await page.dispatchEvent("#api-key", "change");
  }
  await page.waitForSelector("#voice option", { state: "attached" });
  result.voices = await page.$$eval("#voice option", (opts) => opts.map((o) => o.value));
  result.emotions = await page.$$eval("#emotion option", (opts) => opts.map((o) => o.textContent));
  result.key_marked = await page.$eval("#api-key", (el) => el.classList.contains("field-error"));
  if (process.env.BAD_INPUT) {
    await page.click("#submit");
    await page.waitForFunction(() => document.getElementById("error").textContent.length > 0);
    result.error = await page.textContent("#error");
    result.text_marked = await page.$eval("#text", (el) => el.classList.contains("field-error"));
  } else {
    await page.fill("#text", process.env.TEXT || "你好，欢迎使用听书。这是网页上的一次合成。");
    await page.selectOption("#voice", result.voices[result.voices.length - 1]);
    await page.selectOption("#format", "wav");
    await page.click("#submit");
    await page.waitForSelector("#result:not([hidden])", { timeout: 120000 });
    result.state = await page.textContent("#state");
    result.progress = await page.textContent("#progress-text");
    result.audio_src = await page.getAttribute("#player", "src");
    result.duration = await page.$eval("#player", (el) => new Promise((resolve) => {
      if (el.readyState >= 1) resolve(el.duration);
      else el.addEventListener("loadedmetadata", () => resolve(el.duration), { once: true });
    }));
    result.info = await page.textContent("#result-info");
  }
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
