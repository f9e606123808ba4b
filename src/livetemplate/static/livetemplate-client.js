/*
 * livetemplate-client.js — makes LiveTemplate pages live. No dependencies, no build step.
 *
 * Data flows one way: WebSocket message -> merge into the kept slot tree (exactly as
 * lt_engine.apply_update, docs/protocol.md) -> patch the DOM (keyed rows directly, the rest
 * through a small morph). Usage, options, events and bindings: docs/client.md.
 */
(() => {
  'use strict';

  // --- Wire format: the key names of lt_engine/wire.py -------------------------------------
  const STATICS = 's', ITEMS = 'd', META = 'm', ID_KEY = 'idKey', KEY = '_k';

  class ProtocolError extends Error {
    get name() { return 'ProtocolError'; }
  }

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const isRange = (v) => isObject(v) && ITEMS in v;
  const refill = (list, values) => { list.length = 0; for (const v of values) list.push(v); };

  function itemKey(rng, item) {
    if (KEY in item) return item[KEY];
    const meta = rng[META];
    if (!meta || !(ID_KEY in meta)) {
      throw new ProtocolError("range item without a key ('_k') in a range without 'm.idKey'");
    }
    return item[meta[ID_KEY]];
  }

  /** Merge `update` into `tree` (mutating it) and return it: lt_engine.apply_update. */
  function applyUpdate(tree, update) {
    for (const [slot, change] of Object.entries(update)) {
      if (slot !== STATICS) tree[slot] = applyChange(tree[slot], change);
    }
    return tree;
  }

  function applyChange(current, change) {
    if (typeof change === 'string') return change;
    if (Array.isArray(change)) {
      if (!isRange(current)) throw new ProtocolError('range ops sent for a slot that holds no range');
      applyOps(current, change);
      return current;
    }
    if (isObject(change)) {
      if (STATICS in change) return change; // a whole new node or range
      if (!isObject(current)) {
        throw new ProtocolError('a partial node change sent for a slot that holds no node');
      }
      return applyUpdate(current, change);
    }
    throw new ProtocolError(`unexpected change of type ${change === null ? 'null' : typeof change}`);
  }

  function findItem(rng, items, key) {
    const i = items.findIndex((it) => itemKey(rng, it) === key);
    if (i < 0) throw new ProtocolError(`no range item with key ${JSON.stringify(key)}`);
    return i;
  }

  function applyOps(rng, ops) {
    const items = rng[ITEMS];
    for (const op of ops) {
      const kind = op[0];
      if (kind === 'r') {
        refill(items, items.filter((it) => itemKey(rng, it) !== op[1]));
      } else if (kind === 'u') {
        applyUpdate(items[findItem(rng, items, op[1])], op[2]);
      } else if (kind === 'a' || kind === 'p') {
        if (op.length > 2 && op[2] != null) rng[STATICS] = op[2];
        refill(items, kind === 'a' ? items.concat(op[1]) : op[1].concat(items));
      } else if (kind === 'i') {
        items.splice(findItem(rng, items, op[1]) + 1, 0, op[2]);
      } else if (kind === 'o') {
        const byKey = new Map(items.map((it) => [itemKey(rng, it), it]));
        const keys = op[1];
        const same = new Set(keys).size === byKey.size && keys.every((k) => byKey.has(k));
        if (!same || keys.length !== items.length) {
          throw new ProtocolError('reorder must list every remaining key exactly once');
        }
        refill(items, keys.map((k) => byKey.get(k)));
      } else {
        throw new ProtocolError(`unknown range op ${JSON.stringify(kind)}`);
      }
    }
  }

  /** Join a tree (node or range) into HTML: lt_engine.to_html. */
  function toHtml(tree) {
    const parts = [];
    join(tree, parts);
    return parts.join('');
  }

  function join(node, parts) {
    if (typeof node === 'string') return void parts.push(node);
    if (!isObject(node)) throw new ProtocolError('a slot holds neither a string nor a node');
    if (ITEMS in node) {
      for (const item of node[ITEMS]) joinValues(node[STATICS], item, parts);
    } else {
      joinValues(node[STATICS], node, parts);
    }
  }

  function joinValues(statics, values, parts) {
    parts.push(statics[0]);
    for (let i = 1; i < statics.length; i++) {
      join(values[i - 1], parts);
      parts.push(statics[i]);
    }
  }

  // --- DOM morph: make `from` look like `to`, keeping the identity of unchanged nodes --------
  const KEY_ATTRS = ['data-key', 'data-lvt-key', 'id', 'key'];

  function keyOf(node) {
    if (node.nodeType !== 1) return null;
    for (const a of KEY_ATTRS) {
      const v = node.getAttribute(a);
      if (v) return `${node.nodeName}:${v}`;
    }
    return null;
  }

  const sameKind = (a, b) => a.nodeType === b.nodeType && a.nodeName === b.nodeName;
  const isTextField = (el) =>
    el.tagName === 'TEXTAREA' ||
    (el.tagName === 'INPUT' && !/^(checkbox|radio|button|submit|reset|file|image|hidden)$/i.test(el.type));

  function morph(from, to) {
    if (from.nodeType !== 1) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return;
    }
    if (from.hasAttribute('lvt-ignore')) return;
    const focused = from === document.activeElement;
    for (const { namespaceURI: ns, name, localName, value } of Array.from(to.attributes)) {
      if (from.getAttributeNS(ns, localName) === value) continue;
      from.setAttributeNS(ns, name, value);
      // The server rendered a new value: show it, unless the user is typing in this field.
      if (name === 'value' && !focused && from.value !== value) from.value = value;
      if (name === 'checked') from.checked = true;
      if (name === 'selected') from.selected = true;
    }
    for (const { name } of Array.from(from.attributes)) {
      if (to.hasAttribute(name)) continue;
      from.removeAttribute(name);
      if (name === 'checked') from.checked = false;
      if (name === 'selected') from.selected = false;
      if (name === 'value' && !focused && from.tagName === 'INPUT') from.value = '';
    }
    if (from.tagName === 'TEXTAREA') {
      const text = to.value;
      if (from.defaultValue !== text) {
        const value = from.value;
        from.defaultValue = text;
        from.value = focused ? value : text;
      }
      return;
    }
    morphChildren(from, to);
  }

  function morphChildren(from, to) {
    const oldKeyed = new Map();
    for (let c = from.firstChild; c; c = c.nextSibling) {
      const k = keyOf(c);
      if (k && !oldKeyed.has(k)) oldKeyed.set(k, c);
    }
    const newKeys = new Set();
    for (let c = to.firstChild; c; c = c.nextSibling) {
      const k = keyOf(c);
      if (k) newKeys.add(k);
    }
    let cur = from.firstChild;
    const stale = (n) => { const k = keyOf(n); return k && !newKeys.has(k); };
    for (let n = to.firstChild, next; n; n = next) {
      next = n.nextSibling;
      while (cur && stale(cur)) { const gone = cur; cur = cur.nextSibling; gone.remove(); }
      const k = keyOf(n);
      let match = null;
      if (k) {
        match = oldKeyed.get(k) || null;
        oldKeyed.delete(k);
      } else if (cur && !keyOf(cur)) {
        if (sameKind(cur, n)) {
          match = cur;
        } else if (cur.nextSibling && !keyOf(cur.nextSibling) && sameKind(cur.nextSibling, n)) {
          const gone = cur; cur = cur.nextSibling; gone.remove(); match = cur;
        }
      }
      if (!match) {
        from.insertBefore(n, cur);
        continue;
      }
      if (match === cur) cur = cur.nextSibling;
      else from.insertBefore(match, cur);
      morph(match, n);
    }
    while (cur) { const gone = cur; cur = cur.nextSibling; gone.remove(); }
  }

  function parseFragment(html) {
    const t = document.createElement('template');
    t.innerHTML = html;
    return t.content;
  }

  // --- Rows: apply "u" and "r" ops of a keyed range straight to the row's element -----------
  // The key attribute rule of lt_engine/wire.py (KEY_HEAD, KEY_TAIL), copied verbatim: the
  // static text before the key slot ends inside the attribute's value (after an optional
  // prefix), the text after it ends the value (after an optional suffix), same quote.
  const KEY_HEAD = /(?:^|\s)(data-key|data-lvt-key|id|key)=(["'])([^"'<>]*)$/;
  const KEY_TAIL = /^([^"'<>]*)(["'])/;

  /** The row element of an item: a range whose items are one element each, keyed by an
   * attribute of that element; null when that cannot be told for sure. */
  function rowElement(root, rng, key) {
    const statics = rng[STATICS], slot = rng[META] && rng[META][ID_KEY];
    if (slot == null) return null;
    const head = statics.slice(0, +slot + 1).join('');
    const tag = /^\s*<([a-zA-Z][\w-]*)[^>]*$/.exec(head), attr = KEY_HEAD.exec(head);
    const tail = KEY_TAIL.exec(statics[+slot + 1] || '');
    if (!tag || !attr || !tail || tail[2] !== attr[2]) return null;
    const value = attr[3] + key + tail[1];
    if (value.includes('&')) return null;  // an escaped character: let the morph decide
    const found = root.querySelectorAll(`${tag[1]}[${attr[1]}="${CSS.escape(value)}"]`);
    if (found.length !== 1 || found[0].parentElement.closest('[lvt-ignore]')) return null;
    return found[0];
  }

  /** Before merging: the rows an update changes, or null when it changes anything else. A row
   * to remove must be exactly one element, with no text around it. */
  function rowPatches(root, tree, update, out = []) {
    for (const [slot, change] of Object.entries(update)) {
      const current = tree[slot];
      if (Array.isArray(change)) {
        if (!isRange(current)) return null;
        for (const op of change) {
          const remove = op[0] === 'r';
          if (!remove && op[0] !== 'u') return null;
          const el = rowElement(root, current, op[1]);
          if (!el || (remove && !singleElement(itemHtml(current, op[1]) || '', true))) return null;
          out.push({ el, rng: current, key: op[1], remove });
        }
      } else if (isObject(change) && !(STATICS in change) && isObject(current)) {
        if (!rowPatches(root, current, change, out)) return null;
      } else {
        return null;
      }
    }
    return out;
  }

  function itemHtml(rng, key) {
    const item = rng[ITEMS].find((it) => itemKey(rng, it) === key);
    if (!item) return null;
    const parts = [];
    joinValues(rng[STATICS], item, parts);
    return parts.join('');
  }

  /** The single element an item's HTML makes, or null (text around it, several elements). */
  function singleElement(html, strict) {
    const frag = parseFragment(html);
    const nodes = Array.from(frag.childNodes);
    const els = nodes.filter((n) => n.nodeType === 1);
    const loose = nodes.every((n) => n.nodeType === 1 || (n.nodeType === 3 && !n.data.trim()));
    return els.length === 1 && (strict ? nodes.length === 1 : loose) ? els[0] : null;
  }

  // --- Forms: what a binding sends -----------------------------------------------------------
  function fieldValue(el) {
    if (el.type === 'checkbox') return el.checked ? (el.hasAttribute('value') ? el.value : 'on') : 'off';
    if (el.tagName === 'SELECT' && el.multiple) return Array.from(el.selectedOptions, (o) => o.value);
    return el.value;
  }

  function serializeForm(form, submitter) {
    const data = {}, fields = Array.from(form.elements).filter((f) => f.name && !f.disabled);
    const count = {};
    for (const f of fields) count[f.name] = (count[f.name] || 0) + 1;
    for (const f of fields) {
      const { name, type } = f;
      if (/^(submit|button|reset|image)$/.test(type) && f !== submitter) continue;
      if (type === 'file') continue;
      if (count[name] > 1 && type === 'checkbox') {
        data[name] = data[name] || [];
        if (f.checked) data[name].push(f.value);
      } else if (type === 'radio') {
        if (f.checked) data[name] = f.value;
        else if (!(name in data)) data[name] = null;
      } else if (count[name] > 1 && name in data) {
        data[name] = [].concat(data[name], fieldValue(f));
      } else if (type === 'checkbox' && f.hasAttribute('value')) {
        if (f.checked) data[name] = f.value;
      } else {
        data[name] = fieldValue(f);
      }
    }
    return data;
  }

  // --- The client ----------------------------------------------------------------------------
  const FIELD = /^(INPUT|SELECT|TEXTAREA)$/;
  const EVENTS = ['click', 'submit', 'change', 'input', 'keydown', 'keyup'];
  const LOST_PAGE = ['page_not_found', 'token_expired', 'token_invalid'];
  const RELOADED = 'lvt-lost-page-reload';  // sessionStorage: when the client last reloaded
  const FATAL = ['origin', 'token_missing'];
  const script = document.currentScript;
  const scriptOption = (name) => script && script.getAttribute(`data-lvt-${name}`);
  let instances = 0;

  class LiveTemplateClient {
    constructor(options = {}) {
      this.options = {
        url: scriptOption('url') || '/ws',
        root: scriptOption('root') || null,
        token: null,
        loadingClass: 'lvt-loading',
        reconnectDelay: 250,
        maxReconnectDelay: 10000,
        reloadOnLostPage: true,
        ...options,
      };
      this.tree = null;
      this.token = null;
      this.ws = null;
      this.root = null;
      this.pending = [];
      this.attempts = 0;
      this.timers = new WeakMap();
      instances++;
    }

    /** Open the WebSocket: to `url` if given, else the configured one (default `/ws`). */
    connect(url) {
      if (url) this.options.url = url;
      const root = this.options.root;
      this.root = typeof root === 'string' ? document.querySelector(root) : root || document.body;
      const meta = document.querySelector('meta[name="livetemplate-token"]');
      this.token = this.options.token || (meta && meta.content) || null;
      this.pageToken = !!this.token;
      if (!this.bound) {
        this.bound = (e) => this.handle(e);
        for (const type of EVENTS) this.root.addEventListener(type, this.bound);
      }
      this.closed = false;
      this.open();
      return this;
    }

    /** Close the connection for good (no reconnect). */
    disconnect() {
      this.closed = true;
      clearTimeout(this.retry);
      if (this.ws) this.ws.close(1000);
    }

    endpoint(scheme) {
      const url = new URL(this.options.url, location.href);
      url.protocol = url.protocol.replace(/^(http|ws)/, scheme);
      if (this.token && !url.searchParams.has('cache_token')) url.searchParams.set('cache_token', this.token);
      return url.href;
    }

    open() {
      let ws;
      try {
        ws = new WebSocket(this.endpoint('ws'));
      } catch (err) {
        this.emit('lvt:error', { code: 'connect', message: String(err) });
        return this.reconnect();
      }
      this.ws = ws;
      this.fresh = true;
      this.refusal = null;
      ws.onopen = () => { this.opened = true; this.emit('lvt:connected', { url: ws.url }); };
      ws.onmessage = (e) => this.receive(e.data);
      ws.onclose = (e) => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.settle();
        if (this.opened) this.emit('lvt:disconnected', { code: e.code, reason: e.reason });
        this.opened = false;
        const code = this.refusal;
        if (LOST_PAGE.includes(code)) {
          if (!this.pageToken) { this.token = null; return this.open(); } // Pattern 1: new page
          return this.lostPage();
        }
        if (!FATAL.includes(code)) this.reconnect();
      };
    }

    /** The page's server-side page is gone (expired, server restarted): load the document
     *  again for a new one, unless that was done moments ago (a server that keeps handing out
     *  pages it cannot find again would otherwise reload forever). */
    lostPage() {
      if (!this.options.reloadOnLostPage) return;
      let last = 0;
      try { last = Number(sessionStorage.getItem(RELOADED) || 0); } catch (e) { /* no storage */ }
      if (Date.now() - last < 10000) {
        return this.emit('lvt:error', { code: 'page_lost_again',
          message: 'the page was lost again right after a reload; not reloading again' });
      }
      try { sessionStorage.setItem(RELOADED, String(Date.now())); } catch (e) { /* no storage */ }
      location.reload();
    }

    reconnect() {
      if (this.closed) return;
      const { reconnectDelay: base, maxReconnectDelay: max } = this.options;
      const delay = Math.min(max, base * 2 ** this.attempts++) * (0.5 + Math.random() / 2);
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.open(), delay);
    }

    receive(text) {
      let msg;
      try {
        msg = JSON.parse(text);
      } catch (err) {
        return this.emit('lvt:error', { code: 'bad_json', message: String(err) });
      }
      if (msg.type === 'page_token') {
        this.token = msg.token;
      } else if (msg.type === 'error') {
        this.refusal = msg.code;
        this.settle(1);
        this.emit('lvt:error', msg);
      } else if (isObject(msg.tree)) {
        // Root statics mark a full tree: the first of a connection, or a reloaded template's.
        const full = this.fresh || !this.tree || STATICS in msg.tree;
        this.fresh = false;
        this.attempts = 0;
        this.refusal = null;
        this.apply(msg.tree, msg.meta || {}, full);
      }
    }

    apply(tree, meta, full) {
      let rows = null;
      try {
        if (full) {
          this.tree = tree;
        } else {
          try { rows = rowPatches(this.root, this.tree, tree); } catch { /* merge says why */ }
          applyUpdate(this.tree, tree);
        }
        this.render(rows);
      } catch (err) {
        this.emit('lvt:error', { code: 'protocol', message: err.message });
        if (this.ws) this.ws.close(4000, 'resync'); // the next connection starts with a full tree
        return;
      }
      if (meta.action) this.settle(1, meta);
      this.emit('lvt:update', { update: tree, meta, full });
    }

    /** Patch the DOM to the tree: the rows named by `rows`, else everything through a morph. */
    render(rows) {
      const active = document.activeElement;
      const field = active && isTextField(active);
      const [start, end, dir] = field
        ? [active.selectionStart, active.selectionEnd, active.selectionDirection] : [];
      const done = rows && rows.every((p) => {
        if (!p.el.isConnected) return false;
        if (p.remove) return p.el.remove(), true;
        const html = itemHtml(p.rng, p.key);
        const el = html && singleElement(html);
        return el && sameKind(p.el, el) ? (morph(p.el, el), true) : false;
      });
      if (!done) this.morphAll();
      if (active && active !== document.activeElement && active.isConnected) {
        active.focus({ preventScroll: true });
        if (field) try { active.setSelectionRange(start, end, dir); } catch { /* not a text field */ }
      }
      for (const p of this.pending) p.el.classList.add(this.options.loadingClass);
    }

    morphAll() {
      const html = toHtml(this.tree);
      const root = this.root;
      if (/<body[\s>]/i.test(html)) {
        // A whole document: the live root is <body> (or the element with the root's id).
        const doc = new DOMParser().parseFromString(html, 'text/html');
        if (doc.title !== document.title) document.title = doc.title;
        const to = (root.id && doc.getElementById(root.id)) || doc.body;
        for (const { name } of Array.from(root.attributes)) {
          if (!to.hasAttribute(name)) root.removeAttribute(name);
        }
        for (const { name, value } of Array.from(to.attributes)) {
          if (root.getAttribute(name) !== value) root.setAttribute(name, value);
        }
        morphChildren(root, to);
      } else {
        morphChildren(root, parseFragment(html));
      }
    }

    /** Send an action: over the WebSocket when open, else by HTTP POST to the endpoint. */
    send(action, data = {}, el = null, submit = false) {
      const msg = { type: 'action', action, data };
      if (el) {
        el.classList.add(this.options.loadingClass);
        this.pending.push({ action, el, submit });
      }
      if (this.ws && this.ws.readyState === 1) return this.ws.send(JSON.stringify(msg));
      if (!this.token) {
        this.settle(1);
        return this.emit('lvt:error', { code: 'disconnected', message: 'not connected; action dropped' });
      }
      fetch(this.endpoint('http'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-LiveTemplate-Token': this.token },
        body: JSON.stringify(msg),
      }).then((r) => r.json()).then((reply) => {
        if (reply.type === 'error') {
          this.settle(1);
          this.emit('lvt:error', reply);
          if (LOST_PAGE.includes(reply.code) && this.pageToken) this.lostPage();
        }
        else this.apply(reply.tree, reply.meta || {}, true);
      }, (err) => {
        this.settle(1);
        this.emit('lvt:error', { code: 'http', message: String(err) });
      });
    }

    /** Drop the loading state of `n` pending actions (all when n is undefined). */
    settle(n, meta) {
      const cls = this.options.loadingClass;
      let i = meta ? this.pending.findIndex((p) => p.action === meta.action) : 0;
      if (i < 0) return;
      for (const p of this.pending.splice(i, n === undefined ? this.pending.length : n)) {
        p.el.classList.remove(cls);
        // Only a submit resets its form: a change or input form keeps what the user is entering.
        const reset = p.submit && p.el.tagName === 'FORM' && !p.el.hasAttribute('lvt-no-reset');
        if (meta && meta.success && reset) p.el.reset();
      }
    }

    handle(e) {
      const type = e.type, attr = `lvt-${type}`;
      const el = e.target.closest && e.target.closest(`[${attr}]`);
      if (!el || !this.root.contains(el)) return;
      if (type === 'submit' || (type === 'click' && /^(A|BUTTON)$/.test(el.tagName))) e.preventDefault();
      const keys = el.getAttribute('lvt-key');
      if (type.startsWith('key') && keys && !keys.split(',').map((k) => k.trim()).includes(e.key)) return;
      const action = el.getAttribute(attr);
      this.schedule(el, type, () => this.send(action, this.collect(el, e), el, type === 'submit'));
    }

    collect(el, e) {
      const type = e.type;
      let data = {};
      if (el.tagName === 'FORM' && type !== 'click') data = serializeForm(el, e.submitter);
      else if (type !== 'click') {
        const field = FIELD.test(el.tagName) ? el : e.target;
        if (FIELD.test(field.tagName)) data[field.name || 'value'] = fieldValue(field);
      }
      if (type.startsWith('key')) data.key = e.key;
      for (const { name, value } of Array.from(el.attributes)) {
        if (name.startsWith('lvt-value-')) data[name.slice(10).replace(/-/g, '_')] = value;
      }
      return data;
    }

    /** Run `fire` now, or per the element's lvt-debounce / lvt-throttle (ms). */
    schedule(el, type, fire) {
      const debounce = el.getAttribute('lvt-debounce'), throttle = el.getAttribute('lvt-throttle');
      if (debounce === null && throttle === null) return fire();
      const all = this.timers.get(el) || {};
      this.timers.set(el, all);
      const t = (all[type] = all[type] || { last: 0 });
      clearTimeout(t.timer);
      if (debounce !== null) return void (t.timer = setTimeout(fire, +debounce || 0));
      const wait = +throttle - (Date.now() - t.last);
      const run = () => { t.last = Date.now(); fire(); };
      if (wait <= 0) run();
      else t.timer = setTimeout(run, wait); // trailing call with the latest input
    }

    emit(name, detail) {
      const target = this.root || document;
      target.dispatchEvent(new CustomEvent(name, { detail, bubbles: true }));
    }
  }

  Object.assign(LiveTemplateClient, { applyUpdate, toHtml, morph: morphChildren, ProtocolError });
  window.LiveTemplateClient = LiveTemplateClient;

  // One-line start: the <script> tag alone makes the page live, unless it says data-lvt-manual
  // or the page made its own client before the document finished loading.
  function autostart() {
    const manual = script && script.hasAttribute('data-lvt-manual');
    if (instances || manual || !/^https?:$/.test(location.protocol)) return;
    window.liveTemplate = new LiveTemplateClient().connect();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autostart);
  else setTimeout(autostart);
})();
