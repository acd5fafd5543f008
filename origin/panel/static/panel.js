// Progressive enhancement only: every screen works without this file. It adds an upload progress bar by sending
// the upload form with XMLHttpRequest, whose upload events report bytes sent.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var bar = document.getElementById(form.dataset.progress);
  var pct = document.getElementById("upload-pct");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var p = Math.round(100 * e.loaded / e.total);
      bar.value = p;
      pct.textContent = p + "%";
    });
    xhr.addEventListener("load", function () {
      if (xhr.status < 400 && xhr.responseURL) {
        window.location.assign(xhr.responseURL);
        return;
      }
      // A refused save comes back as the page with the error and the typed values: show it as is.
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      pct.textContent = "!";
    });
    xhr.send(new FormData(form));
  });
});
