// Live now refreshes its list in place: the list alone is fetched from the
// URL the page names (which keeps its sort and filter) and swapped in, so
// the scroll position stays. Without this script the page is an ordinary
// page with a "Refresh now" link.
(function () {
  'use strict';

  var list = document.getElementById('live-list');
  if (!list || !window.fetch) {
    return;
  }
  var url = list.getAttribute('data-refresh-url');
  var every = parseInt(list.getAttribute('data-refresh-ms'), 10) || 5000;
  var hint = document.getElementById('refresh-hint');
  var busy = false;
  var timer = window.setInterval(refresh, every);

  function say(text) {
    if (hint) {
      hint.textContent = text;
    }
  }

  function refresh() {
    // Skip a turn rather than pull a link from under the keyboard focus,
    // or work for a tab nobody looks at.
    if (busy || document.hidden || list.contains(document.activeElement)) {
      return;
    }
    busy = true;
    window.fetch(url, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'text/html' }
    }).then(function (response) {
      if (response.redirected) {
        // Sent to the sign-in page: the session is over.
        window.clearInterval(timer);
        say('Automatic refresh stopped: your session ended. Reload the page to sign in again.');
        return null;
      }
      if (!response.ok) {
        say('The list could not be refreshed (error ' + response.status + '); trying again.');
        return null;
      }
      return response.text();
    }).then(function (html) {
      if (typeof html === 'string') {
        list.innerHTML = html;
      }
    }).catch(function () {
      say('The console did not answer; trying again.');
    }).then(function () {
      busy = false;
    });
  }
}());
