(function () {
  "use strict";
  /* A form page framed by a listed site tells that site its height, so the iframe fits the
     page (no scroll bar, no blank space after sending). The message goes to the listed
     origins only (data-frame-ancestors); the CSP allows this script by its hash. */
  var listed = (document.documentElement.getAttribute("data-frame-ancestors") || "").split(" ");
  var ancestors = window.location.ancestorOrigins;
  var targets = listed.filter(function (origin) {
    return origin && (!ancestors || !ancestors.length || ancestors[0] === origin);
  });
  if (window.parent === window || !targets.length) return;
  var last = -1;
  function post() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    targets.forEach(function (origin) {
      window.parent.postMessage({ consentry: "height", height: height }, origin);
    });
  }
  if (window.ResizeObserver) new ResizeObserver(post).observe(document.body);
  window.addEventListener("load", post);
  post();
})();
