/* Run in the page by tests/support/browser.py: WCAG AA contrast of every text against its
   effective background, an accessible name for every control, a main landmark, a language. */
function channel(c) { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }
function luminance(rgb) { return 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2]); }
function parse(colour) {
  const m = colour.match(/rgba?\(([^)]+)\)/);
  if (!m) { return null; }
  const p = m[1].split(",").map(parseFloat);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function background(el) {
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0.5) { return c; }
  }
  return [255, 255, 255, 1];
}
const problems = [];
const seen = new Set();
document.querySelectorAll("body *").forEach(function (el) {
  const style = getComputedStyle(el);
  if (style.visibility === "hidden" || style.display === "none" || el.closest("[hidden]")) { return; }
  const rect = el.getBoundingClientRect();
  if (rect.width < 2 || rect.height < 2) { return; }
  const ownText = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
  if (ownText) {
    const fg = parse(style.color), bg = background(el);
    const a = luminance(fg), b = luminance(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.6 && parseInt(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const key = el.tagName + ":" + el.textContent.trim().slice(0, 30);
      if (!seen.has(key)) { seen.add(key); problems.push("contrast " + ratio.toFixed(2) + " " + key); }
    }
  }
});
document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a[href], canvas").forEach(function (el) {
  const labelled = el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") ||
    (el.id && document.querySelector("label[for='" + el.id + "']")) || el.closest("label") ||
    (el.tagName !== "CANVAS" && el.tagName !== "INPUT" && el.tagName !== "SELECT" && el.tagName !== "TEXTAREA" && el.textContent.trim());
  if (!labelled) { problems.push("unlabelled " + el.tagName + " " + (el.id || el.className || el.outerHTML.slice(0, 60))); }
});
if (!document.querySelector("main")) { problems.push("no main landmark"); }
if (!document.documentElement.lang) { problems.push("no lang on html"); }
return problems;
