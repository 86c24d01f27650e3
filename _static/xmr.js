// The theme reads its colour mode from localStorage. On a reader's first visit there is none,
// and the theme logs "Got invalid theme mode" to the console. Start from "auto" instead: the
// reader's system preference, which is what the theme falls back to anyway.
if (!document.documentElement.dataset.mode) {
  document.documentElement.dataset.mode = "auto";
}
