// Make the visible sidebar buttons work at every width.
//
// pydata-sphinx-theme 0.17 wires its drawer and collapse handlers to the first
// ".primary-toggle" and ".secondary-toggle" of the page, the buttons of its own
// header, which sphinx-book-theme 1.3 hides; the buttons a reader sees, in the
// article header, get no handler and do nothing (pydata-sphinx-theme #2451,
// sphinx-book-theme #988). Each visible button passes its click on to the
// wired one. Remove this file when the themes fix the bug: both would fire.
function forwardSidebarToggles() {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [wired, ...others] = document.querySelectorAll(selector);
    if (!wired) continue;
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        wired.click();
      });
    }
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", forwardSidebarToggles);
} else {
  forwardSidebarToggles();
}
