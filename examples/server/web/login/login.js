'use strict';
// The sign-in of the page token: the token of the URL fragment
// (#page_token=..., else #token=...) or of the form goes to POST /login,
// which sets the page cookie; then the page loads again without the page
// token in its URL. When the server says the token is also the query token,
// the page keeps it for the API as app.js does.
(function () {
  const form = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  const status = document.getElementById('login-status');

  async function login(token, fromURL) {
    status.textContent = '';
    let r;
    try {
      r = await fetch('/login', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      });
    } catch (e) {
      status.textContent = 'the server did not answer: ' + e.message;
      return;
    }
    if (!r.ok) {
      status.textContent = fromURL ? 'the token in the URL was refused' : 'wrong token';
      input.value = '';
      return;
    }
    const answer = await r.json();
    if (answer.query && !fromURL) sessionStorage.setItem('metaflow.token', token);
    const h = new URLSearchParams(location.hash.slice(1));
    h.delete('page_token');
    const rest = h.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
    location.reload();
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    login(input.value, false);
  });
  function fromURL() {
    const h = new URLSearchParams(location.hash.slice(1));
    const t = h.get('page_token') || h.get('token');
    if (t) login(t, true);
  }
  window.addEventListener('hashchange', fromURL);
  fromURL();
})();
