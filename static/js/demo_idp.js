// The demo IdP's hand-off page: post the signed response on to the gateway at once.
// Without script the person presses the button instead.
(function () {
  "use strict";
  var form = document.getElementById("saml-post");
  if (form) { form.submit(); }
})();
