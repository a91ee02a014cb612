// The API as this page's user: every read and write goes to the real /v2.0
// (or Octavia /v2) endpoints with the user's credentials, so the API's
// policy decides what is shown and allowed.
const base = new URL('..', document.baseURI);  // the server root (page is /dashboard/)

export const session = {
  strategy: 'noauth', token: null, project: null, roles: 'admin', user: null,
  load() {
    const s = JSON.parse(sessionStorage.getItem('neutrino-dash') || '{}');
    Object.assign(this, s);
  },
  save() {
    const { token, project, roles, user } = this;
    sessionStorage.setItem('neutrino-dash', JSON.stringify({ token, project, roles, user }));
  },
  clear() { this.token = null; this.user = null; this.save(); },
  headers() {
    if (this.strategy === 'keystone') return this.token ? { 'X-Auth-Token': this.token } : {};
    const h = { 'X-Roles': this.roles || 'admin' };
    if (this.project) h['X-Project-Id'] = this.project;
    return h;
  },
};

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function request(method, path, body) {
  const opts = { method, headers: { ...session.headers(), Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(new URL(path.replace(/^\//, ''), base), opts);
  } catch (e) {
    throw new ApiError(0, `The server is unreachable: ${e.message}`);
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!resp.ok) {
    // The API's own words: NeutronError (Neutron), faultstring (Octavia), error (Keystone)
    const msg = data?.NeutronError?.message || data?.faultstring || data?.error?.message
      || data?.description || text || resp.statusText;
    throw new ApiError(resp.status, msg);
  }
  return data;
}

export const get = (p) => request('GET', p);
export const post = (p, b) => request('POST', p, b);
export const put = (p, b) => request('PUT', p, b);
export const del = (p) => request('DELETE', p);

// GET a collection, or [] when the service is not there (404) or not for
// this user (403): an optional extension must not break the page.
export async function list(path, key) {
  try {
    const data = await get(path);
    return data[key] || [];
  } catch (e) {
    if (e.status === 404 || e.status === 403) return [];
    throw e;
  }
}

// Server-sent events over fetch (so the credentials go in headers, not the
// URL). The server ends each stream after a while (so it can shut down):
// then it reconnects at once; after an error, with a short back-off.
// onEvent(evt), onState('live' | 'down' | 'back'): 'back' is live again
// after an error (events may have been missed: re-read).
export function listen(onEvent, onState) {
  let stopped = false;
  let controller = null;
  async function run() {
    let delay = 250;
    let failed = false;
    while (!stopped) {
      controller = new AbortController();
      try {
        const opened = Date.now();
        const resp = await fetch(new URL('dashboard/api/events', base),
          { headers: session.headers(), signal: controller.signal, cache: 'no-store' });
        if (!resp.ok) throw new Error(`events: ${resp.status}`);
        onState(failed ? 'back' : 'live');
        failed = false;
        delay = 250;
        const reader = resp.body.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const data = block.split('\n').filter((l) => l.startsWith('data: '))
              .map((l) => l.slice(6)).join('\n');
            if (data) {
              try { onEvent(JSON.parse(data)); } catch (e) { /* not ours */ }
            }
          }
        }
        // the server ended the stream: reconnect now (unless it ends them at once)
        if (Date.now() - opened > 1000) continue;
      } catch (e) {
        if (stopped) return;
      }
      failed = true;
      onState('down');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
  run();
  return () => { stopped = true; controller?.abort(); };
}
