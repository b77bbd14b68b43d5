// Upload progress for htmx forms marked data-progress="<id of a <progress> element>".
// A static file rather than inline handlers: the console's CSP allows scripts from 'self' only.
document.addEventListener("htmx:xhr:progress", function (event) {
  var form = event.target.closest ? event.target.closest("form[data-progress]") : null;
  if (!form || !event.detail.lengthComputable) return;
  var bar = document.getElementById(form.dataset.progress);
  if (!bar) return;
  bar.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  var label = document.getElementById(form.dataset.progress + "-label");
  if (label) label.textContent = bar.value < 100 ? "Uploading… " + bar.value + "%" : "Reading the file (OCR for scans)…";
});
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.target.closest ? event.target.closest("form[data-progress]") : null;
  if (!form) return;
  var bar = document.getElementById(form.dataset.progress);
  if (bar) bar.hidden = true;
  var label = document.getElementById(form.dataset.progress + "-label");
  if (label) label.textContent = "";
});
