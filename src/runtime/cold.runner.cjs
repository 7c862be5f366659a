// Generated from src/runtime/cold.runner.ts by `npm run build:runner` (src/runtime/build-runner.ts). Do not edit.
"use strict";
var __defProp = Object.defineProperty;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __esm = (fn, res, err) => function __init() {
  if (err) throw err[0];
  try {
    return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;
  } catch (e) {
    throw err = [e], e;
  }
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// src/handler/native-fetch.ts
function captureNative() {
  if (response !== void 0 || loader !== void 0) return;
  if (process.execArgv.includes("--expose-internals")) {
    try {
      const require2 = process.getBuiltinModule("node:module").createRequire(process.execPath);
      require2.resolve("internal/deps/undici/undici");
      loader = () => require2("internal/deps/undici/undici");
      return;
    } catch {
    }
  }
  response = globalThis.Response;
  request = globalThis.Request;
  headers = globalThis.Headers;
}
function nativeLoaded() {
  return response !== void 0;
}
function load() {
  if (loader !== void 0) {
    const undici = loader();
    loader = void 0;
    response = undici.Response;
    request = undici.Request;
    headers = undici.Headers;
    for (const listener of loadListeners) listener();
  } else {
    response = globalThis.Response;
    request = globalThis.Request;
    headers = globalThis.Headers;
  }
}
function realResponse() {
  if (response === void 0) load();
  return response;
}
function realRequest() {
  if (request === void 0) load();
  return request;
}
function realHeaders() {
  if (headers === void 0) load();
  return headers;
}
function onNativeLoaded(listener) {
  loadListeners.push(listener);
}
var response, request, headers, loader, loadListeners;
var init_native_fetch = __esm({
  "src/handler/native-fetch.ts"() {
    "use strict";
    loadListeners = [];
  }
});

// src/handler/light-response.ts
function materialize(response2) {
  let real2 = response2[REAL];
  if (real2 === void 0) {
    const fast = response2[FAST];
    const pairs = [];
    for (let i = 0; i < fast.headers.length; i += 2) pairs.push([fast.headers[i], fast.headers[i + 1]]);
    const used = response2[USED];
    const body = used && fast.body !== null ? new Uint8Array(0) : fast.body;
    real2 = new (realResponse())(body, { status: fast.status, statusText: fast.statusText, headers: pairs });
    if (used) void real2.arrayBuffer().catch(() => {
    });
    response2[REAL] = real2;
    response2[FAST] = void 0;
  }
  return real2;
}
function takeFast(value) {
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== LightResponse.prototype) return void 0;
  const response2 = value;
  const fast = response2[FAST];
  if (fast === void 0 || response2[USED]) return void 0;
  response2[USED] = true;
  return fast;
}
function fastResponse(body, init, textType) {
  const head2 = fastHead(init);
  if (head2 === void 0) return void 0;
  if (body === void 0 || body === null) return withBody(head2, null, void 0);
  if (typeof body === "string") return withBody(head2, body, textType);
  if (body instanceof Uint8Array) return withBody(head2, new Uint8Array(body), void 0);
  if (body instanceof ArrayBuffer) return withBody(head2, new Uint8Array(body.slice(0)), void 0);
  return void 0;
}
function fastHead(init) {
  if (init === void 0 || init === null) return { status: 200, statusText: "", headers: [] };
  if (typeof init !== "object") return void 0;
  const proto = Object.getPrototypeOf(init);
  if (proto !== Object.prototype && proto !== null) return void 0;
  const { status, statusText, headers: headers2 } = init;
  let head2 = { status: 200, statusText: "", headers: [] };
  if (status !== void 0) {
    if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) return void 0;
    head2.status = status;
  }
  if (statusText !== void 0) {
    if (typeof statusText !== "string" || !REASON_RE.test(statusText)) return void 0;
    head2.statusText = statusText;
  }
  if (headers2 !== void 0) {
    const list = headerList(headers2);
    if (list === void 0) return void 0;
    head2 = { ...head2, headers: list };
  }
  return head2;
}
function withBody(head2, body, contentType) {
  const { status } = head2;
  if (body !== null && (status === 204 || status === 205 || status === 304)) return void 0;
  let headers2 = head2.headers;
  if (contentType !== void 0 && !hasName(headers2, "content-type")) headers2 = sortAndCombine([...headers2, "content-type", contentType]);
  return { status, statusText: head2.statusText, headers: headers2, body };
}
function hasName(list, name) {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true;
  return false;
}
function headerList(headers2) {
  if (typeof headers2 !== "object" || headers2 === null) return void 0;
  const flat = [];
  if (Array.isArray(headers2)) {
    for (const pair of headers2) {
      if (!Array.isArray(pair) || pair.length !== 2) return void 0;
      if (!addHeader(flat, pair[0], pair[1])) return void 0;
    }
  } else {
    const proto = Object.getPrototypeOf(headers2);
    if (proto !== Object.prototype && proto !== null) return void 0;
    for (const name of Object.keys(headers2)) {
      if (!addHeader(flat, name, headers2[name])) return void 0;
    }
  }
  return flat.length <= 2 ? flat : sortAndCombine(flat);
}
function validHeaderPairs(flat) {
  const scratch = [];
  for (let i = 0; i < flat.length; i += 2) if (!addHeader(scratch, flat[i], flat[i + 1])) return false;
  return true;
}
function addHeader(flat, name, value) {
  if (!isHeaderName(name)) return false;
  let text;
  if (typeof value === "string") text = value;
  else if (typeof value === "number") text = String(value);
  else return false;
  text = trimHeaderValue(text);
  if (BAD_VALUE_RE.test(text)) return false;
  flat.push(name.toLowerCase(), text);
  return true;
}
function isHeaderName(name) {
  return typeof name === "string" && TOKEN_RE.test(name);
}
function trimHeaderValue(text) {
  if (text.length === 0) return text;
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  return first <= 32 || last <= 32 ? text.replace(EDGE_WHITESPACE_RE, "") : text;
}
function sortAndCombine(flat) {
  const pairs = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], flat[i + 1], i]);
  pairs.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[2] - b[2]);
  const out = [];
  for (const [name, value] of pairs) {
    const last = out.length - 2;
    if (last >= 0 && out[last] === name && name !== "set-cookie") out[last + 1] += `, ${value}`;
    else out.push(name, value);
  }
  return out;
}
function delegateMembers(proto, names, real2) {
  for (const name of names.getters) {
    if (Object.hasOwn(proto, name)) continue;
    const fast = direct[name];
    Object.defineProperty(proto, name, {
      configurable: true,
      enumerable: true,
      get() {
        const value = fast?.call(this);
        return value !== void 0 ? value : real2(this)[name];
      }
    });
  }
  for (const name of names.methods) {
    if (Object.hasOwn(proto, name)) continue;
    Object.defineProperty(proto, name, {
      configurable: true,
      writable: true,
      value: function(...args) {
        const target = real2(this);
        return target[name](...args);
      }
    });
  }
}
function linkResponse(real2) {
  linkPrototype(LightResponse.prototype, real2.prototype, materialize);
  Object.setPrototypeOf(LightResponse, real2);
}
function linkPrototype(proto, realProto, real2) {
  const members = { getters: [], methods: [] };
  for (const name of Object.getOwnPropertyNames(realProto)) {
    if (name === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(realProto, name);
    if (descriptor.get !== void 0) members.getters.push(name);
    else if (typeof descriptor.value === "function") members.methods.push(name);
  }
  delegateMembers(proto, members, real2);
  Object.setPrototypeOf(proto, realProto);
}
var FAST, REAL, USED, TOKEN_RE, BAD_VALUE_RE, EDGE_WHITESPACE_RE, REASON_RE, TEXT_PLAIN, LightResponse, fastValue, direct, GETTERS, METHODS;
var init_light_response = __esm({
  "src/handler/light-response.ts"() {
    "use strict";
    init_native_fetch();
    FAST = /* @__PURE__ */ Symbol("warmgate.fastResponse");
    REAL = /* @__PURE__ */ Symbol("warmgate.realResponse");
    USED = /* @__PURE__ */ Symbol("warmgate.used");
    TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
    BAD_VALUE_RE = /[\0\r\n]|[^\0-\xff]/;
    EDGE_WHITESPACE_RE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
    REASON_RE = /^[\t\x20-\x7e\x80-\xff]*$/;
    TEXT_PLAIN = "text/plain;charset=UTF-8";
    LightResponse = class _LightResponse {
      [FAST];
      [REAL];
      [USED] = false;
      constructor(body, init) {
        const fast = fastResponse(body, init, TEXT_PLAIN);
        if (fast === void 0) this[REAL] = new (realResponse())(body, init);
        else this[FAST] = fast;
      }
      static error() {
        return realResponse().error();
      }
      static redirect(url, status) {
        return realResponse().redirect(url, status);
      }
      /** Fetch `Response.json`: the body is JSON.stringify's, Content-Type application/json unless init says one. */
      static json(data, init) {
        const head2 = fastHead(init);
        if (head2 === void 0) return realResponse().json(data, init);
        const text = JSON.stringify(data);
        if (text === void 0) return realResponse().json(data, init);
        const response2 = Object.create(_LightResponse.prototype);
        response2[USED] = false;
        response2[FAST] = withBody(head2, text, "application/json");
        return response2;
      }
      static [Symbol.hasInstance](value) {
        if (this !== _LightResponse) return Function.prototype[Symbol.hasInstance].call(this, value);
        if (typeof value !== "object" || value === null) return false;
        if (Object.prototype.isPrototypeOf.call(_LightResponse.prototype, value)) return true;
        return Function.prototype[Symbol.hasInstance].call(realResponse(), value);
      }
    };
    fastValue = (pick) => function() {
      const fast = this[FAST];
      return fast === void 0 ? void 0 : pick(fast, this);
    };
    direct = {
      status: fastValue((fast) => fast.status),
      ok: fastValue((fast) => fast.status >= 200 && fast.status <= 299),
      statusText: fastValue((fast) => fast.statusText),
      type: fastValue(() => "default"),
      url: fastValue(() => ""),
      redirected: fastValue(() => false)
    };
    GETTERS = ["type", "url", "redirected", "status", "ok", "statusText", "headers", "body", "bodyUsed"];
    METHODS = ["clone", "arrayBuffer", "blob", "bytes", "formData", "json", "text"];
    delegateMembers(LightResponse.prototype, { getters: GETTERS, methods: METHODS }, materialize);
    Object.defineProperty(LightResponse.prototype, Symbol.toStringTag, { value: "Response", configurable: true });
    Object.defineProperty(LightResponse.prototype, /* @__PURE__ */ Symbol.for("nodejs.util.inspect.custom"), {
      value(depth, options) {
        return process.getBuiltinModule("node:util").inspect(materialize(this), options);
      }
    });
    Object.defineProperty(LightResponse, "name", { value: "Response" });
  }
});

// src/handler/light-headers.ts
function linkHeaders(real2) {
  linkPrototype(LightHeaders.prototype, real2.prototype, ((self) => self[REAL_HEADERS]()));
  Object.defineProperty(LightHeaders.prototype, "constructor", { value: real2, writable: true, configurable: true, enumerable: false });
}
var REAL_HEADERS, LightHeaders;
var init_light_headers = __esm({
  "src/handler/light-headers.ts"() {
    "use strict";
    init_light_response();
    REAL_HEADERS = /* @__PURE__ */ Symbol("warmgate.realHeaders");
    LightHeaders = class {
      /** The real Headers, once there is one; then it answers everything. */
      #real;
      #materialize;
      #raw;
      /** `[lower-case name, value, …]`, made on first read. */
      #list;
      constructor(raw, real2, materialize2) {
        this.#raw = raw;
        this.#real = real2;
        this.#materialize = materialize2;
      }
      get(name) {
        const real2 = this.#real();
        if (real2 !== void 0 || arguments.length < 1 || !isHeaderName(name)) return (real2 ?? this.#materialize()).get(...arguments);
        const key = name.toLowerCase();
        const list = this.#pairs();
        let value = null;
        for (let i = 0; i < list.length; i += 2) {
          if (list[i] === key) value = value === null ? list[i + 1] : `${value}${key === "cookie" ? "; " : ", "}${list[i + 1]}`;
        }
        return value;
      }
      has(name) {
        const real2 = this.#real();
        if (real2 !== void 0 || arguments.length < 1 || !isHeaderName(name)) return (real2 ?? this.#materialize()).has(...arguments);
        const key = name.toLowerCase();
        const list = this.#pairs();
        for (let i = 0; i < list.length; i += 2) if (list[i] === key) return true;
        return false;
      }
      getSetCookie() {
        const real2 = this.#real();
        if (real2 !== void 0) return real2.getSetCookie();
        const list = this.#pairs();
        const cookies = [];
        for (let i = 0; i < list.length; i += 2) if (list[i] === "set-cookie") cookies.push(list[i + 1]);
        return cookies;
      }
      set(name, value) {
        this.#materialize().set(...arguments);
      }
      append(name, value) {
        this.#materialize().append(...arguments);
      }
      delete(name) {
        this.#materialize().delete(...arguments);
      }
      forEach(callback, thisArg) {
        const real2 = this.#real();
        if (real2 !== void 0 || typeof callback !== "function") return (real2 ?? this.#materialize()).forEach(...arguments);
        for (const [name, value] of this.#sorted()) callback.call(arguments.length > 1 ? thisArg : globalThis, value, name, this);
      }
      // The iterators are arrays' (a snapshot: undici's are "Headers Iterator" objects over its sorted list).
      entries() {
        const real2 = this.#real();
        return real2 !== void 0 ? real2.entries() : this.#sorted()[Symbol.iterator]();
      }
      keys() {
        const real2 = this.#real();
        return real2 !== void 0 ? real2.keys() : this.#sorted().map(([name]) => name)[Symbol.iterator]();
      }
      values() {
        const real2 = this.#real();
        return real2 !== void 0 ? real2.values() : this.#sorted().map(([, value]) => value)[Symbol.iterator]();
      }
      [REAL_HEADERS]() {
        return this.#real() ?? this.#materialize();
      }
      #pairs() {
        if (this.#list === void 0) {
          const raw = this.#raw;
          const list = new Array(raw.length);
          for (let i = 0; i < raw.length; i += 2) {
            list[i] = raw[i].toLowerCase();
            list[i + 1] = trimHeaderValue(raw[i + 1]);
          }
          this.#list = list;
        }
        return this.#list;
      }
      /** Fetch "sort and combine": names in order, repeats combined as `get` does, each Set-Cookie on its own. */
      #sorted() {
        const list = this.#pairs();
        const names = [];
        for (let i = 0; i < list.length; i += 2) if (!names.includes(list[i])) names.push(list[i]);
        names.sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
        const out = [];
        for (const name of names) {
          if (name === "set-cookie") for (const cookie of this.getSetCookie()) out.push([name, cookie]);
          else out.push([name, this.get(name)]);
        }
        return out;
      }
    };
    LightHeaders.prototype[Symbol.iterator] = LightHeaders.prototype.entries;
    Object.defineProperty(LightHeaders.prototype, Symbol.toStringTag, { value: "Headers", configurable: true });
    Object.defineProperty(LightHeaders.prototype, /* @__PURE__ */ Symbol.for("nodejs.util.inspect.custom"), {
      value(depth, options) {
        return process.getBuiltinModule("node:util").inspect(this[REAL_HEADERS](), options);
      }
    });
    Object.defineProperty(LightHeaders, "name", { value: "Headers" });
  }
});

// src/handler/light-request.ts
function consume(light, read, viaReal) {
  const body = light[PARTS].body;
  if (light[REAL2] !== void 0 || !(body === null || body instanceof Uint8Array)) return viaReal(realRequestOf(light));
  if (light[USED2]) return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
  if (body !== null && body.byteLength > 0) light[USED2] = true;
  try {
    return Promise.resolve(read(body ?? EMPTY));
  } catch (error) {
    return Promise.reject(error);
  }
}
function lightRequest(parts, signal, make, untrusted) {
  if (!PLAIN_METHODS.has(parts.method) || untrusted && !URL.canParse(parts.url)) return make(parts, signal);
  const request2 = Object.create(LightRequest.prototype);
  request2[PARTS] = parts;
  request2[SIGNAL] = signal;
  request2[REAL2] = void 0;
  request2[HREF] = void 0;
  request2[MAKE] = make;
  request2[HEADERS] = void 0;
  request2[USED2] = false;
  return request2;
}
function realRequestOf(value) {
  if (!(value instanceof LightRequest)) return value;
  const light = value;
  let real2 = light[REAL2];
  if (real2 === void 0) {
    real2 = light[MAKE](light[PARTS], light[SIGNAL]);
    if (light[USED2]) void real2.arrayBuffer().catch(() => {
    });
    light[REAL2] = real2;
  }
  return real2;
}
function linkRequest() {
  linkPrototype(LightRequest.prototype, realRequest().prototype, real);
}
var PARTS, REAL2, SIGNAL, HREF, MAKE, HEADERS, USED2, PLAIN_METHODS, LightRequest, UTF8, EMPTY, GETTERS2, METHODS2, real;
var init_light_request = __esm({
  "src/handler/light-request.ts"() {
    "use strict";
    init_light_headers();
    init_light_response();
    init_native_fetch();
    PARTS = /* @__PURE__ */ Symbol("warmgate.requestParts");
    REAL2 = /* @__PURE__ */ Symbol("warmgate.realRequest");
    SIGNAL = /* @__PURE__ */ Symbol("warmgate.signal");
    HREF = /* @__PURE__ */ Symbol("warmgate.href");
    MAKE = /* @__PURE__ */ Symbol("warmgate.makeRequest");
    HEADERS = /* @__PURE__ */ Symbol("warmgate.headers");
    USED2 = /* @__PURE__ */ Symbol("warmgate.bodyUsed");
    PLAIN_METHODS = /* @__PURE__ */ new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
    LightRequest = class {
      get method() {
        return this[PARTS].method;
      }
      get signal() {
        return this[SIGNAL];
      }
      /** The URL as the URL parser serializes it (host lower-cased, default port dropped), as Request.url is. */
      get url() {
        const real2 = this[REAL2];
        if (real2 !== void 0) return real2.url;
        return this[HREF] ??= new URL(this[PARTS].url).href;
      }
      /** Read from the raw pairs while nothing changes them (light-headers.ts); the same object every time, as undici's. */
      get headers() {
        let headers2 = this[HEADERS];
        if (headers2 === void 0) {
          const real2 = this[REAL2];
          if (real2 !== void 0) return real2.headers;
          headers2 = new LightHeaders(this[PARTS].headers, () => this[REAL2]?.headers, () => realRequestOf(this).headers);
          this[HEADERS] = headers2;
        }
        return headers2;
      }
      // A body the gateway already holds (bytes, or none) is read here; a stream body, and every body a
      // real Request already has, the real way. Same results as undici's Body mixin (fetch "consume body").
      get bodyUsed() {
        const real2 = this[REAL2];
        return real2 !== void 0 ? real2.bodyUsed : this[USED2];
      }
      text() {
        return consume(this, (bytes) => UTF8.decode(bytes), (real2) => real2.text());
      }
      json() {
        return consume(this, (bytes) => JSON.parse(UTF8.decode(bytes)), (real2) => real2.json());
      }
      arrayBuffer() {
        return consume(this, (bytes) => bytes.slice().buffer, (real2) => real2.arrayBuffer());
      }
      bytes() {
        return consume(this, (bytes) => bytes.slice(), (real2) => real2.bytes());
      }
    };
    UTF8 = new TextDecoder();
    EMPTY = new Uint8Array(0);
    GETTERS2 = [
      "cache",
      "credentials",
      "destination",
      "headers",
      "integrity",
      "mode",
      "redirect",
      "referrer",
      "referrerPolicy",
      "keepalive",
      "isReloadNavigation",
      "isHistoryNavigation",
      "duplex",
      "body",
      "bodyUsed"
    ];
    METHODS2 = ["clone", "arrayBuffer", "blob", "bytes", "formData", "json", "text"];
    real = realRequestOf;
    delegateMembers(LightRequest.prototype, { getters: GETTERS2, methods: METHODS2 }, real);
    Object.defineProperty(LightRequest.prototype, Symbol.toStringTag, { value: "Request", configurable: true });
    Object.defineProperty(LightRequest.prototype, /* @__PURE__ */ Symbol.for("nodejs.util.inspect.custom"), {
      value(depth, options) {
        return process.getBuiltinModule("node:util").inspect(realRequestOf(this), options);
      }
    });
  }
});

// src/handler/install-fetch.ts
function lightFetchInstalled() {
  return installed;
}
function installLightFetch() {
  if (installed) return true;
  if (process.env.WARMGATE_LIGHT_FETCH === "0") return false;
  installed = true;
  captureNative();
  setGlobal("Response", LightResponse);
  defineLazyGlobal("Request", lazyRequest);
  defineLazyGlobal("Headers", realHeaders);
  const nativeFetch = globalThis.fetch;
  setGlobal("fetch", function fetch(input, init) {
    return nativeFetch(realRequestOf(input), init);
  });
  if (nativeLoaded()) link();
  else onNativeLoaded(link);
  return true;
}
function link() {
  linkResponse(realResponse());
  linkRequest();
  linkHeaders(realHeaders());
}
function setGlobal(name, value) {
  delete globalThis[name];
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}
function defineLazyGlobal(name, make) {
  delete globalThis[name];
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() {
      const value = make();
      setGlobal(name, value);
      return value;
    },
    set(value) {
      setGlobal(name, value);
    }
  });
}
function lazyRequest() {
  const Native = realRequest();
  const Request = class Request2 extends Native {
    constructor(input, init) {
      super(realRequestOf(input), init);
    }
    // Every Request is one of ours: Node's, a handler's light one, one made here.
    static [Symbol.hasInstance](value) {
      return Function.prototype[Symbol.hasInstance].call(this === Request2 ? Native : this, value);
    }
  };
  return Request;
}
var installed;
var init_install_fetch = __esm({
  "src/handler/install-fetch.ts"() {
    "use strict";
    init_light_headers();
    init_light_request();
    init_light_response();
    init_native_fetch();
    installed = false;
  }
});

// src/errors.ts
var ERROR_CODES, GatewayError;
var init_errors = __esm({
  "src/errors.ts"() {
    "use strict";
    ERROR_CODES = {
      WG_ERR_CONFIG_INVALID: { statusCode: 500, description: "The configuration failed validation; the message lists every key path." },
      WG_ERR_CONFIG_NOT_FOUND: { statusCode: 500, description: "The configuration file does not exist." },
      WG_ERR_CONFIG_LOAD: { statusCode: 500, description: "The configuration file threw while being imported, or exports no object." },
      WG_ERR_ENTRY_NOT_FOUND: { statusCode: 500, description: "An app's entry module does not exist." },
      WG_ERR_HANDLER_LOAD: { statusCode: 500, description: "A handler module threw while being imported." },
      WG_ERR_HANDLER_INVALID: { statusCode: 500, description: "A handler module exports neither a fetch object nor a function." },
      WG_ERR_HANDLER_THREW: { statusCode: 500, description: "The handler threw or rejected while answering a request." },
      WG_ERR_HANDLER_RESULT: { statusCode: 500, description: "The handler returned something that is not a Response." },
      WG_ERR_LAMBDA_THREW: { statusCode: 502, description: "A Lambda handler threw, rejected or passed an error to its callback (API Gateway answers 502 too)." },
      WG_ERR_LAMBDA_RESULT: { statusCode: 502, description: "A Lambda handler returned a result API Gateway would reject (no valid statusCode, a body that is not a string, bad headers)." },
      WG_ERR_MODE_UNAVAILABLE: { statusCode: 500, description: "The requested mode is not implemented in this version." },
      WG_ERR_NOT_FOUND: { statusCode: 404, description: "No app route matches the request path." },
      WG_ERR_BAD_REQUEST: { statusCode: 400, description: "The request could not be turned into a web Request (bad Host or URL), or is not valid HTTP/1.1 (e.g. Content-Length with Transfer-Encoding)." },
      WG_ERR_BODY_TOO_LARGE: { statusCode: 413, description: "The request body exceeds the body limit." },
      WG_ERR_HEADERS_TOO_LARGE: { statusCode: 431, description: "The request header block exceeds server.maxHeaderSize." },
      WG_ERR_REQUEST_TIMEOUT: { statusCode: 408, description: "The request headers or body did not arrive within server.headersTimeout / server.requestTimeout." },
      WG_ERR_TIMEOUT: { statusCode: 504, description: "The handler did not answer within the app's timeout." },
      WG_ERR_CLIENT_ABORTED: { statusCode: 499, description: "The client went away before the response was sent." },
      WG_ERR_WORKER_DIED: { statusCode: 502, description: "The worker thread running the request exited." },
      WG_ERR_PROTOCOL: { statusCode: 502, description: "A worker sent a message that does not follow the wire protocol." },
      WG_ERR_STARTING: { statusCode: 503, description: "The gateway listens but its apps are still starting (createGateway with `listen`, `warmgate start`); retry after Retry-After seconds." },
      WG_ERR_RUNTIME_CLOSED: { statusCode: 503, description: "The runtime is closing or closed and takes no new requests." },
      WG_ERR_RUNTIME_DESTROYED: { statusCode: 503, description: "The runtime was destroyed while the request was in flight." },
      WG_ERR_SCRIPT_NOT_FOUND: { statusCode: 404, description: "No CGI script matches the request path inside the app directory (no process was spawned)." },
      WG_ERR_SCRIPT_FORBIDDEN: { statusCode: 403, description: "The CGI script path names a file that is not an executable regular file, or leaves the app directory." },
      WG_ERR_SPAWN: { statusCode: 502, description: "The CGI script or cold-mode runner could not be started." },
      WG_ERR_CGI_EMPTY_OUTPUT: { statusCode: 502, description: "The CGI process exited without writing a byte to stdout." },
      WG_ERR_CGI_NO_HEADERS: { statusCode: 502, description: "The CGI output has no header block, or it never ended with a blank line." },
      WG_ERR_CGI_BAD_STATUS: { statusCode: 502, description: "The CGI Status header (or nph- status line) is not a 3-digit code from 100 to 599." },
      WG_ERR_CGI_NO_CONTENT_TYPE: { statusCode: 502, description: "The CGI response has a body but no Content-Type (RFC 3875 \xA76.3.1)." },
      WG_ERR_CGI_HEADER_TOO_LARGE: { statusCode: 502, description: "The CGI header block is larger than 64 KiB." },
      WG_ERR_FASTCGI_UNAVAILABLE: { statusCode: 502, description: "The FastCGI backend could not be reached (connection refused, no such socket, or connectTimeout passed)." },
      WG_ERR_FASTCGI_CLOSED: { statusCode: 502, description: "The FastCGI backend closed the connection (or it failed) before END_REQUEST." },
      WG_ERR_FASTCGI_PROTOCOL: { statusCode: 502, description: "The FastCGI backend sent records that break the protocol (bad version, unexpected type or request id, a malformed END_REQUEST)." },
      WG_ERR_FASTCGI_REJECTED: { statusCode: 503, description: "The FastCGI backend refused the request in END_REQUEST (OVERLOADED, CANT_MPX_CONN or UNKNOWN_ROLE)." },
      WG_ERR_REDIRECT_LOOP: { statusCode: 502, description: "A CGI local redirect (Location: /path) chain exceeded 10 hops." },
      WG_ERR_OVERLOADED: { statusCode: 503, description: "The app's concurrency limit and wait queue (maxQueue) are full; retry after Retry-After seconds." },
      WG_ERR_QUEUE_TIMEOUT: { statusCode: 503, description: "The request waited longer than the app's queueTimeout for a free slot; retry after Retry-After seconds." },
      WG_ERR_FASTCGI_MALFORMED: { statusCode: 400, description: "A web server sent FastCGI records that break the protocol (bad version, truncated or oversized records, records out of order or for an unknown request id); the responder closed that connection only." },
      WG_ERR_LISTEN: { statusCode: 500, description: "The server could not listen on the requested address." },
      WG_ERR_RELOAD_FAILED: { statusCode: 500, description: "A reload failed (bad config, a handler that does not load, a runtime that does not start, or the gateway closing); the previous version keeps serving." },
      WG_ERR_BENCH_OPTIONS: { statusCode: 500, description: "A `warmgate bench` option or `bench()` option is invalid, or names an app the config does not have." },
      WG_ERR_BENCH_FAILED: { statusCode: 500, description: "`warmgate bench` could not measure: a gateway did not start, its first request failed, the load generator failed, or the run was interrupted." }
    };
    GatewayError = class extends Error {
      code;
      statusCode;
      constructor(code, message, options) {
        super(message, options);
        this.name = "GatewayError";
        this.code = code;
        this.statusCode = ERROR_CODES[code].statusCode;
      }
    };
  }
});

// src/handler/response-body.ts
function isResponse(value) {
  if (typeof value !== "object" || value === null) return false;
  return value instanceof globalThis.Response || value instanceof realResponse();
}
var GATHER_AT_MOST, encoder;
var init_response_body = __esm({
  "src/handler/response-body.ts"() {
    "use strict";
    init_errors();
    init_light_response();
    init_native_fetch();
    GATHER_AT_MOST = 256 * 1024;
    encoder = new TextEncoder();
  }
});

// src/handler/invoke.ts
function callOf(ctx) {
  return ctx[HANDLER_CALL];
}
function incomingRequestClass() {
  if (IncomingRequestClass === void 0) {
    const Incoming = class IncomingRequest extends realRequest() {
    };
    Object.defineProperty(Incoming.prototype, "signal", {
      get() {
        return this[SIGNAL2];
      },
      configurable: true
    });
    IncomingRequestClass = Incoming;
  }
  return IncomingRequestClass;
}
function createWebRequest(call, signal, untrusted = false) {
  let parts = call;
  if (call.body !== null && !(call.body instanceof Uint8Array) && (call.method === "GET" || call.method === "HEAD")) {
    void call.body.cancel().catch(() => {
    });
    parts = { method: call.method, url: call.url, headers: call.headers, body: null };
  }
  if (lightFetchInstalled() && (!untrusted || validHeaderPairs(call.headers))) return lightRequest(parts, signal, makeRequest, untrusted);
  return makeRequest(parts, signal);
}
function makeRequest(parts, signal) {
  const pairs = [];
  const raw = parts.headers;
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
  const body = parts.body;
  const bodyless = parts.method === "GET" || parts.method === "HEAD";
  const streamed = body instanceof ReadableStream;
  const hasBody = body !== null && !bodyless && (streamed || body.byteLength > 0);
  const init = {
    method: parts.method,
    headers: pairs,
    body: hasBody ? body : void 0
  };
  if (streamed && hasBody) init.duplex = "half";
  try {
    const request2 = new (incomingRequestClass())(parts.url, init);
    request2[SIGNAL2] = signal;
    return request2;
  } catch (cause) {
    throw new GatewayError("WG_ERR_BAD_REQUEST", `cannot build a Request for ${parts.method} ${parts.url}: ${cause.message}`, { cause });
  }
}
var HANDLER_CALL, SIGNAL2, IncomingRequestClass;
var init_invoke = __esm({
  "src/handler/invoke.ts"() {
    "use strict";
    init_errors();
    init_install_fetch();
    init_light_request();
    init_light_response();
    init_native_fetch();
    init_response_body();
    HANDLER_CALL = /* @__PURE__ */ Symbol("warmgate.handlerCall");
    SIGNAL2 = /* @__PURE__ */ Symbol("warmgate.signal");
  }
});

// src/lambda/global.ts
function streamifyResponse(handler) {
  ;
  handler[HANDLER_STREAMING] = STREAM_RESPONSE;
  return handler;
}
function isStreamified(handler) {
  return handler[HANDLER_STREAMING] === STREAM_RESPONSE;
}
function installAwsLambdaGlobal() {
  if (globalThis.awslambda !== void 0) return;
  Object.defineProperty(globalThis, "awslambda", {
    value: Object.freeze({ streamifyResponse, HttpResponseStream }),
    configurable: true,
    writable: false
  });
}
var HANDLER_STREAMING, STREAM_RESPONSE, SET_PRELUDE, HttpResponseStream;
var init_global = __esm({
  "src/lambda/global.ts"() {
    "use strict";
    HANDLER_STREAMING = /* @__PURE__ */ Symbol.for("aws.lambda.runtime.handler.streaming");
    STREAM_RESPONSE = "response";
    SET_PRELUDE = /* @__PURE__ */ Symbol("warmgate.lambda.setPrelude");
    HttpResponseStream = class {
      static from(stream, prelude) {
        const target = stream;
        if (typeof target[SET_PRELUDE] !== "function") throw new TypeError("HttpResponseStream.from expects the responseStream a streamified handler was given");
        target[SET_PRELUDE](prelude);
        return stream;
      }
    };
  }
});

// src/lambda/context.ts
function createLambdaInstance(options, now = Date.now()) {
  const memory = options.memoryMb ?? Math.floor(getHeapStatistics().heap_size_limit / 1048576);
  const day = new Date(now).toISOString().slice(0, 10).replaceAll("-", "/");
  return {
    functionName: options.appName,
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${options.appName}`,
    memoryLimitInMB: String(memory),
    logGroupName: `/aws/lambda/${options.appName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString("hex")}`,
    timeoutMs: options.timeoutMs
  };
}
function createLambdaContext(instance, requestId, startedAt) {
  const deadline = startedAt + instance.timeoutMs;
  return {
    functionName: instance.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: instance.invokedFunctionArn,
    memoryLimitInMB: instance.memoryLimitInMB,
    awsRequestId: requestId,
    logGroupName: instance.logGroupName,
    logStreamName: instance.logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now())
  };
}
var randomBytes, getHeapStatistics;
var init_context = __esm({
  "src/lambda/context.ts"() {
    "use strict";
    ({ randomBytes } = process.getBuiltinModule("node:crypto"));
    ({ getHeapStatistics } = process.getBuiltinModule("node:v8"));
  }
});

// src/lambda/event-input.ts
function formatRequestTime(epochMs) {
  const d = new Date(epochMs);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}
function encodeBody(body, contentType) {
  if (body === null || body.byteLength === 0) return void 0;
  if (contentType === void 0 || TEXT_TYPE_RE.test(contentType)) {
    try {
      return { body: STRICT_UTF8.decode(body), isBase64Encoded: false };
    } catch {
    }
  }
  return { body: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("base64"), isBase64Encoded: true };
}
function splitTarget(url) {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return { path: "/", query: "" };
  const rest = url.slice(start).split("#")[0];
  const q = rest.indexOf("?");
  return q === -1 ? { path: rest, query: "" } : { path: rest.slice(0, q), query: rest.slice(q + 1) };
}
function queryPairs(query) {
  return query === "" ? [] : [...new URLSearchParams(query)];
}
function domainOf(url) {
  const host = new URL(url).hostname;
  return { domainName: host, domainPrefix: host.split(".")[0] };
}
var LOCAL_ACCOUNT_ID, LOCAL_API_ID, MONTHS, TEXT_TYPE_RE, STRICT_UTF8;
var init_event_input = __esm({
  "src/lambda/event-input.ts"() {
    "use strict";
    LOCAL_ACCOUNT_ID = "000000000000";
    LOCAL_API_ID = "warmgate";
    MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    TEXT_TYPE_RE = /^(?:text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded|graphql)\b)/i;
    STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  }
});

// src/lambda/event-v1.ts
function createEventV1(input) {
  const headers2 = {};
  const multiValueHeaders = {};
  const raw = input.headers;
  let contentType;
  let userAgent = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    headers2[name] = raw[i + 1];
    (multiValueHeaders[name] ??= []).push(raw[i + 1]);
    const lower = name.toLowerCase();
    if (lower === "content-type") contentType = raw[i + 1];
    else if (lower === "user-agent") userAgent = raw[i + 1];
  }
  const { path, query } = splitTarget(input.url);
  const pairs = queryPairs(query);
  const single = {};
  const multi = {};
  for (const [name, value] of pairs) {
    single[name] = value;
    (multi[name] ??= []).push(value);
  }
  const hasHeaders = raw.length > 0;
  const body = encodeBody(input.body, contentType);
  return {
    version: "1.0",
    resource: path,
    path,
    httpMethod: input.method,
    headers: hasHeaders ? headers2 : null,
    multiValueHeaders: hasHeaders ? multiValueHeaders : null,
    queryStringParameters: pairs.length > 0 ? single : null,
    multiValueQueryStringParameters: pairs.length > 0 ? multi : null,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      ...domainOf(input.url),
      extendedRequestId: input.requestId,
      httpMethod: input.method,
      identity: identity(input.sourceIp, userAgent),
      path,
      protocol: input.protocol,
      requestId: input.requestId,
      requestTime: formatRequestTime(input.time),
      requestTimeEpoch: input.time,
      resourceId: LOCAL_API_ID,
      resourcePath: path,
      stage: "$default"
    },
    pathParameters: null,
    stageVariables: null,
    body: body?.body ?? null,
    isBase64Encoded: body?.isBase64Encoded ?? false
  };
}
function identity(sourceIp, userAgent) {
  return {
    accessKey: null,
    accountId: null,
    caller: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent,
    userArn: null
  };
}
var init_event_v1 = __esm({
  "src/lambda/event-v1.ts"() {
    "use strict";
    init_event_input();
  }
});

// src/lambda/event-v2.ts
function createEventV2(input) {
  const headers2 = {};
  const cookies = [];
  const raw = input.headers;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (name === "cookie") {
      for (const cookie of value.split(";")) if (cookie.trim() !== "") cookies.push(cookie.trim());
      continue;
    }
    headers2[name] = name in headers2 ? `${headers2[name]},${value}` : value;
  }
  const { path, query } = splitTarget(input.url);
  const pairs = queryPairs(query);
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: query,
    ...cookies.length > 0 ? { cookies } : {},
    headers: headers2,
    ...pairs.length > 0 ? { queryStringParameters: joinPairs(pairs) } : {},
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      ...domainOf(input.url),
      http: { method: input.method, path, protocol: input.protocol, sourceIp: input.sourceIp, userAgent: headers2["user-agent"] ?? "" },
      requestId: input.requestId,
      routeKey: "$default",
      stage: "$default",
      time: formatRequestTime(input.time),
      timeEpoch: input.time
    },
    isBase64Encoded: false
  };
  const body = encodeBody(input.body, headers2["content-type"]);
  if (body !== void 0) {
    event.body = body.body;
    event.isBase64Encoded = body.isBase64Encoded;
  }
  return event;
}
function joinPairs(pairs) {
  const joined = {};
  for (const [name, value] of pairs) joined[name] = name in joined ? `${joined[name]},${value}` : value;
  return joined;
}
var init_event_v2 = __esm({
  "src/lambda/event-v2.ts"() {
    "use strict";
    init_event_input();
  }
});

// src/lambda/result.ts
function responseFromResult(result, payload) {
  const full = typeof result === "object" && result !== null && !Array.isArray(result) && "statusCode" in result;
  if (!full) {
    if (payload === "1.0") throw invalid(`a payload 1.0 result must be an object with a statusCode, got ${describe(result)}`);
    if (result === void 0) throw invalid("the handler returned nothing (undefined)");
    let body2;
    try {
      body2 = typeof result === "string" ? result : JSON.stringify(result);
    } catch (cause) {
      throw invalid(`the result cannot be serialized as JSON: ${cause.message}`, cause);
    }
    if (body2 === void 0) throw invalid(`the result is ${describe(result)}, which has no JSON form`);
    return new Response(body2, { status: 200, headers: { "content-type": "application/json" } });
  }
  const { statusCode, headers: headers2, multiValueHeaders, cookies, body, isBase64Encoded } = result;
  if (!(Number.isInteger(statusCode) && statusCode >= 100 && statusCode <= 599)) {
    throw invalid(`statusCode must be an integer from 100 to 599, got ${describe(statusCode)}`);
  }
  if (body !== void 0 && body !== null && typeof body !== "string") throw invalid(`body must be a string, got ${describe(body)}`);
  if (isBase64Encoded !== void 0 && typeof isBase64Encoded !== "boolean") throw invalid(`isBase64Encoded must be true or false, got ${describe(isBase64Encoded)}`);
  const list = [];
  try {
    addHeaders(list, headers2, multiValueHeaders, cookies);
    const status = statusCode;
    const bytes = typeof body === "string" && body !== "" && !NULL_BODY_STATUS.has(status) ? isBase64Encoded === true ? Buffer.from(body, "base64") : body : null;
    if (bytes !== null && !list.some(([name]) => name.toLowerCase() === "content-type")) list.push(["content-type", "application/json"]);
    return new Response(bytes, { status, headers: list });
  } catch (cause) {
    if (cause instanceof GatewayError) throw cause;
    throw invalid(`the result cannot be sent: ${cause.message}`, cause);
  }
}
function addHeaders(list, headers2, multi, cookies) {
  const multiNames = /* @__PURE__ */ new Set();
  if (multi !== void 0 && multi !== null) {
    if (!isRecord(multi)) throw invalid(`multiValueHeaders must be an object of arrays, got ${describe(multi)}`);
    for (const [name, values] of Object.entries(multi)) {
      if (!Array.isArray(values) || !values.every(isHeaderValue)) throw invalid(`multiValueHeaders.${name} must be an array of strings, got ${describe(values)}`);
      multiNames.add(name.toLowerCase());
    }
  }
  if (headers2 !== void 0 && headers2 !== null) {
    if (!isRecord(headers2)) throw invalid(`headers must be an object, got ${describe(headers2)}`);
    for (const [name, value] of Object.entries(headers2)) {
      if (!isHeaderValue(value)) throw invalid(`headers.${name} must be a string, got ${describe(value)}`);
      if (!multiNames.has(name.toLowerCase())) list.push([name, String(value)]);
    }
  }
  if (isRecord(multi)) {
    for (const [name, values] of Object.entries(multi)) for (const value of values) list.push([name, String(value)]);
  }
  if (cookies !== void 0 && cookies !== null) {
    if (!Array.isArray(cookies) || !cookies.every((cookie) => typeof cookie === "string")) throw invalid(`cookies must be an array of strings, got ${describe(cookies)}`);
    for (const cookie of cookies) list.push(["set-cookie", cookie]);
  }
}
function isHeaderValue(value) {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}
function isRecord(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function invalid(message, cause) {
  return new GatewayError("WG_ERR_LAMBDA_RESULT", `invalid Lambda result: ${message}`, { cause });
}
function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}\u2026` : value);
  if (typeof value === "object") return "an object";
  return typeof value === "number" || typeof value === "boolean" ? String(value) : typeof value;
}
var NULL_BODY_STATUS;
var init_result = __esm({
  "src/lambda/result.ts"() {
    "use strict";
    init_errors();
    NULL_BODY_STATUS = /* @__PURE__ */ new Set([101, 103, 204, 205, 304]);
  }
});

// src/lambda/stream.ts
var Writable, LambdaResponseStream;
var init_stream = __esm({
  "src/lambda/stream.ts"() {
    "use strict";
    init_global();
    ({ Writable } = process.getBuiltinModule("node:stream"));
    LambdaResponseStream = class extends Writable {
      #contentType = "application/octet-stream";
      #prelude;
      #onHead;
      #controller;
      #waiting;
      #body;
      constructor(onHead) {
        super();
        this.#onHead = onHead;
        this.#body = new ReadableStream({
          start: (controller) => {
            this.#controller = controller;
          },
          pull: () => {
            this.#release();
          },
          // The client went away: later writes fail instead of piling up.
          cancel: () => {
            this.destroy();
          }
        }, { highWaterMark: 1 });
      }
      /** Lambda's `responseStream.setContentType(type)`: before the first write. */
      setContentType(type) {
        this.#contentType = type;
      }
      /** Used by `awslambda.HttpResponseStream.from`: before the first write. */
      [SET_PRELUDE](prelude) {
        this.#prelude = prelude;
      }
      /** Whether the head has been handed over (after that, a failure can only cut the body short). */
      get headSent() {
        return this.#onHead === void 0;
      }
      /**
       * The handler failed after the head left: the body ends in an error (the front door cuts the
       * connection). Not `destroy(error)`: that emits 'error', fatal with no listener.
       */
      failBody(error) {
        try {
          this.#controller.error(error);
        } catch {
        }
        this.destroy();
      }
      _write(chunk, _encoding, callback) {
        this.#sendHead();
        this.#controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((this.#controller.desiredSize ?? 0) > 0) callback();
        else this.#waiting = callback;
      }
      _final(callback) {
        this.#sendHead();
        this.#controller.close();
        callback();
      }
      _destroy(error, callback) {
        this.#release();
        if (error !== null) {
          try {
            this.#controller.error(error);
          } catch {
          }
        }
        callback(error);
      }
      #release() {
        const waiting = this.#waiting;
        this.#waiting = void 0;
        waiting?.();
      }
      #sendHead() {
        const onHead = this.#onHead;
        if (onHead === void 0) return;
        this.#onHead = void 0;
        const prelude = this.#prelude ?? {};
        const headers2 = Object.entries(prelude.headers ?? {}).map(([name, value]) => [name, String(value)]);
        if (!headers2.some(([name]) => name.toLowerCase() === "content-type")) headers2.push(["content-type", this.#contentType]);
        for (const cookie of prelude.cookies ?? []) headers2.push(["set-cookie", cookie]);
        onHead({ status: prelude.statusCode ?? 200, headers: headers2 }, this.#body);
      }
    };
  }
});

// src/lambda/adapter.ts
var adapter_exports = {};
__export(adapter_exports, {
  createLambdaHandler: () => createLambdaHandler
});
function createLambdaHandler(handler, options) {
  const instance = createLambdaInstance(options);
  const createEvent = options.payload === "1.0" ? createEventV1 : createEventV2;
  const streaming = isStreamified(handler);
  return async (request2, _env, ctx) => {
    const time = Date.now();
    const call = callOf(ctx);
    const input = {
      requestId: ctx.requestId,
      method: request2.method,
      url: request2.url,
      headers: call?.headers ?? [...request2.headers].flat(),
      body: request2.body === null ? null : new Uint8Array(await request2.arrayBuffer()),
      // gateway.fetch has no socket: the caller is this process (as CGI's REMOTE_ADDR says then).
      sourceIp: call?.connection?.remoteAddress ?? "127.0.0.1",
      protocol: "HTTP/1.1",
      time
    };
    const event = createEvent(input);
    const context = createLambdaContext(instance, ctx.requestId, time);
    if (streaming) return runStreaming(handler, event, context);
    let result;
    try {
      result = await callHandler(handler, event, context);
    } catch (cause) {
      throw threw(cause);
    }
    return responseFromResult(result, options.payload);
  };
}
function callHandler(handler, event, context) {
  return new Promise((resolve2, reject) => {
    let settled = false;
    const callback = (error, result) => {
      if (settled) return;
      settled = true;
      if (error !== void 0 && error !== null) reject(error);
      else resolve2(result);
    };
    Object.assign(context, {
      done: callback,
      succeed: (result) => callback(null, result),
      fail: (error) => callback(error ?? new Error("context.fail() called"))
    });
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (error) {
      callback(error ?? new Error("the handler threw a nullish value"));
      return;
    }
    if (isThenable(returned)) {
      returned.then(
        (value) => {
          if (value !== void 0 || handler.length < 3) callback(null, value);
        },
        (error) => callback(error ?? new Error("the handler rejected with a nullish value"))
      );
    } else if (handler.length < 3) callback(null, returned);
  });
}
function runStreaming(handler, event, context) {
  return new Promise((resolve2, reject) => {
    const stream = new LambdaResponseStream((head2, body) => {
      try {
        resolve2(new Response(body, { status: head2.status, headers: head2.headers }));
      } catch (cause) {
        reject(new GatewayError("WG_ERR_LAMBDA_RESULT", `invalid streamed response head: ${cause.message}`, { cause }));
        stream.destroy();
      }
    });
    Promise.resolve().then(() => handler(event, stream, context)).then(
      () => {
        if (!stream.writableEnded && !stream.destroyed) stream.end();
      },
      (cause) => {
        if (stream.headSent) stream.failBody(cause);
        else {
          stream.destroy();
          reject(threw(cause));
        }
      }
    );
  });
}
function threw(cause) {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new GatewayError("WG_ERR_LAMBDA_THREW", `Lambda handler failed: ${message}`, { cause });
}
function isThenable(value) {
  return typeof value?.then === "function";
}
var init_adapter = __esm({
  "src/lambda/adapter.ts"() {
    "use strict";
    init_errors();
    init_invoke();
    init_context();
    init_event_v1();
    init_event_v2();
    init_result();
    init_global();
    init_stream();
  }
});

// src/runtime/cold.runner.ts
init_install_fetch();
init_invoke();
init_light_response();
init_response_body();

// src/handler/load.ts
init_errors();

// src/handler/fresh-imports.ts
var { registerHooks } = process.getBuiltinModule("node:module");
var RELOAD_PARAM = "warmgate-reload";
var registered = false;
function propagateReloadVersion() {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const result = nextResolve(specifier, context);
      const parent = context.parentURL;
      if (parent === void 0 || !parent.includes(RELOAD_PARAM) || !(specifier.startsWith("./") || specifier.startsWith("../"))) return result;
      const version = new URL(parent).searchParams.get(RELOAD_PARAM);
      if (version === null || !result.url.startsWith("file:")) return result;
      const url = new URL(result.url);
      url.searchParams.set(RELOAD_PARAM, version);
      return { ...result, url: url.href };
    }
  });
}

// src/handler/load.ts
init_global();
var { basename, resolve } = process.getBuiltinModule("node:path");
var { pathToFileURL } = process.getBuiltinModule("node:url");
async function loadHandler(entry2, version, options, preferRequire = false) {
  const settings = options ?? defaultOptions(entry2);
  const kind = settings.kind;
  if (kind !== "fetch") installAwsLambdaGlobal();
  let mod;
  try {
    const url = pathToFileURL(entry2);
    if (version !== void 0) {
      propagateReloadVersion();
      url.searchParams.set(RELOAD_PARAM, version);
    }
    mod = (preferRequire && version === void 0 ? requireEsm(entry2) : void 0) ?? await import(url.href);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new GatewayError("WG_ERR_HANDLER_LOAD", `handler module ${entry2} threw while being imported: ${reason}`, { cause });
  }
  const exported = mod.default;
  if (kind === "lambda" || kind === "auto" && isLambdaModule(mod)) {
    if (typeof mod.handler !== "function") {
      throw new GatewayError("WG_ERR_HANDLER_INVALID", `handler module ${entry2} is a Lambda app (kind: 'lambda') but has no \`export const handler = async (event, context) => \u2026\`; found ${describeExports(mod)}`);
    }
    const { createLambdaHandler: createLambdaHandler2 } = await Promise.resolve().then(() => (init_adapter(), adapter_exports));
    return createLambdaHandler2(mod.handler, settings);
  }
  if (typeof exported === "function") return exported;
  if (typeof exported === "object" && exported !== null && typeof exported.fetch === "function") {
    const app = exported;
    return app.fetch.bind(app);
  }
  throw new GatewayError("WG_ERR_HANDLER_INVALID", `handler module ${entry2} must default-export a function (request, env, ctx) => Response or an object with a fetch method, or export a Lambda \`handler\` and no default; found ${describeExports(mod)}`);
}
function requireEsm(entry2) {
  let value;
  try {
    const path = resolve(entry2);
    value = process.getBuiltinModule("node:module").createRequire(path)(path);
  } catch (error) {
    if (error.code === "ERR_REQUIRE_ASYNC_MODULE") return void 0;
    throw error;
  }
  const isNamespace = typeof value === "object" && value !== null && value[Symbol.toStringTag] === "Module";
  return isNamespace ? value : void 0;
}
function defaultOptions(entry2) {
  return { kind: "auto", appName: basename(entry2).replace(/\.[^.]*$/, ""), timeoutMs: 3e4, memoryMb: void 0, payload: "2.0" };
}
function isLambdaModule(mod) {
  return typeof mod.handler === "function" && mod.default === void 0;
}
function describeExports(mod) {
  const names = Object.keys(mod).filter((name) => name !== "default");
  const named = names.length === 0 ? "no named exports" : `named exports: ${names.join(", ")}`;
  if (!("default" in mod) || mod.default === void 0) return `no default export (${named})`;
  const value = mod.default;
  const kind = value === null ? "null" : typeof value === "object" ? "an object without a fetch method" : `a ${typeof value}`;
  return `a default export that is ${kind} (${named})`;
}

// src/handler/options.ts
var HANDLER_OPTIONS_ENV = "WARMGATE_HANDLER_OPTIONS";

// src/runtime/cold.runner.ts
var { closeSync, openSync, readSync, writeSync } = process.getBuiltinModule("node:fs");
var EXIT_THREW = 70;
var EXIT_RESULT = 71;
var EXIT_LOAD = 72;
var EXIT_INVALID = 73;
var EXIT_CODES = { WG_ERR_LAMBDA_THREW: 74, WG_ERR_LAMBDA_RESULT: 75 };
var env = process.env;
var entry = process.argv[2];
function report(level, msg, error, fatal) {
  const stack = error instanceof Error ? error.stack : void 0;
  try {
    writeSync(2, `@warmgate ${JSON.stringify({ level, msg, stack, fatal })}
`);
  } catch {
  }
}
function fail(code, msg, error) {
  report("error", msg, error, true);
  process.exit(code);
}
function requestFromEnvironment() {
  const headers2 = [];
  for (const name in env) {
    if (name.startsWith("HTTP_")) headers2.push(name.slice(5).toLowerCase().replaceAll("_", "-"), env[name]);
  }
  if (env.CONTENT_TYPE !== void 0 && env.CONTENT_TYPE !== "") headers2.push("content-type", env.CONTENT_TYPE);
  const length = Number(env.CONTENT_LENGTH ?? "");
  if (length > 0) headers2.push("content-length", String(length));
  const scheme = env.HTTPS === "on" ? "https" : "http";
  const host = env.HTTP_HOST ?? `${env.SERVER_NAME ?? "localhost"}:${env.SERVER_PORT ?? "80"}`;
  const query = env.QUERY_STRING ?? "";
  const target = env.REQUEST_URI ?? `${env.SCRIPT_NAME ?? ""}${env.PATH_INFO ?? ""}${query === "" ? "" : `?${query}`}`;
  return {
    id: env.WARMGATE_REQUEST_ID ?? env.HTTP_X_REQUEST_ID ?? crypto.randomUUID(),
    method: env.REQUEST_METHOD ?? "GET",
    url: `${scheme}://${host}${target}`,
    headers: headers2,
    body: length > 0 ? readBody(length) : null,
    connection: env.REMOTE_ADDR === void 0 ? void 0 : { remoteAddress: env.REMOTE_ADDR }
  };
}
function readBody(length) {
  const body = new Uint8Array(length);
  let offset = 0;
  while (offset < length) {
    let n;
    try {
      n = readSync(0, body, offset, length - offset, null);
    } catch (error) {
      if (error.code === "EAGAIN") continue;
      throw error;
    }
    if (n === 0) break;
    offset += n;
  }
  return offset === length ? body : body.subarray(0, offset);
}
function write(data) {
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  let offset = 0;
  while (offset < bytes.byteLength) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (error) {
      if (error.code === "EAGAIN") continue;
      throw error;
    }
  }
}
function head(response2, headers2, length) {
  let text = `Status: ${response2.status}${response2.statusText === "" ? "" : ` ${response2.statusText}`}\r
`;
  for (const [name, value] of headers2) {
    if (name === "content-length" && length !== void 0 || name === "transfer-encoding") continue;
    text += `${name}: ${value}\r
`;
  }
  if (length !== void 0) text += `content-length: ${length}\r
`;
  return `${text}\r
`;
}
function closeStdout() {
  try {
    closeSync(1);
    openSync("/dev/null", "w");
  } catch {
  }
}
async function main() {
  if (entry === void 0) fail(64, "usage: node cold.runner.ts <handler module>");
  installLightFetch();
  let handler;
  try {
    const options = env[HANDLER_OPTIONS_ENV] === void 0 ? void 0 : JSON.parse(env[HANDLER_OPTIONS_ENV]);
    handler = await loadHandler(entry, void 0, options, true);
  } catch (error) {
    fail(error.code === "WG_ERR_HANDLER_INVALID" ? EXIT_INVALID : EXIT_LOAD, error.message, error.cause ?? error);
  }
  if (env.WARMGATE_CHECK === "1") {
    write("Status: 204 Loaded\r\n\r\n");
    process.exit(0);
  }
  const appEnv = JSON.parse(env.WARMGATE_APP_ENV ?? "{}");
  const call = requestFromEnvironment();
  const raw = env.WARMGATE_RAW_HEADERS === void 0 ? call : { ...call, headers: JSON.parse(env.WARMGATE_RAW_HEADERS) };
  for (const name of ["WARMGATE_APP_ENV", "WARMGATE_REQUEST_ID", "WARMGATE_RAW_HEADERS", HANDLER_OPTIONS_ENV]) delete env[name];
  const controller = new AbortController();
  process.once("SIGTERM", () => controller.abort(new Error("the gateway stopped this request (client gone or timeout)")));
  const pending = [];
  const ctx = {
    requestId: call.id,
    mode: "cold",
    signal: controller.signal,
    waitUntil: (promise) => {
      pending.push(Promise.resolve(promise));
    },
    [HANDLER_CALL]: raw
  };
  let response2;
  try {
    response2 = await handler(createWebRequest(call, controller.signal, true), appEnv, ctx);
  } catch (error) {
    const code = EXIT_CODES[error?.code ?? ""];
    if (code !== void 0) fail(code, error.message, error.cause ?? error);
    fail(EXIT_THREW, `handler threw: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  if (!isResponse(response2)) fail(EXIT_RESULT, "handler must return a Response");
  try {
    await writeResponse(response2, call.method === "HEAD");
  } catch (error) {
    if (error?.code === "EPIPE") {
      report("info", "the gateway stopped reading the response body (client gone): EPIPE");
      process.exit(EXIT_THREW);
    }
    report("error", `the response body failed mid-stream: ${error?.message ?? String(error)}`, error);
    process.exit(EXIT_THREW);
  }
  if (pending.length > 0) {
    closeStdout();
    for (const result of await Promise.allSettled(pending)) {
      if (result.status === "rejected") report("error", `ctx.waitUntil promise rejected: ${result.reason?.message ?? String(result.reason)}`, result.reason);
    }
  }
  process.exit(0);
}
async function writeResponse(response2, isHead) {
  const fast = takeFast(response2);
  if (fast !== void 0) {
    const pairs = [];
    for (let i = 0; i < fast.headers.length; i += 2) pairs.push([fast.headers[i], fast.headers[i + 1]]);
    if (fast.body === null) return write(head(fast, pairs, void 0));
    const bytes = typeof fast.body === "string" ? Buffer.from(fast.body, "utf8") : fast.body;
    write(head(fast, pairs, bytes.byteLength));
    if (!isHead) write(bytes);
    return;
  }
  if (response2.body === null) return write(head(response2, response2.headers, void 0));
  if (isHead) {
    const bytes = new Uint8Array(await response2.arrayBuffer());
    return write(head(response2, response2.headers, bytes.byteLength));
  }
  const reader = response2.body.getReader();
  const chunks = [];
  let size = 0;
  let read = reader.read();
  for (; ; ) {
    const next = await Promise.race([read, new Promise((resolve2) => setImmediate(resolve2, null))]);
    if (next === null) break;
    if (next.done) {
      write(head(response2, response2.headers, size));
      for (const chunk of chunks) write(chunk);
      return;
    }
    chunks.push(next.value);
    size += next.value.byteLength;
    read = reader.read();
  }
  write(head(response2, response2.headers, void 0));
  for (const chunk of chunks) write(chunk);
  for (; ; ) {
    const { done, value } = await read;
    if (done) return;
    write(value);
    read = reader.read();
  }
}
main().catch((error) => fail(EXIT_THREW, `cold runner failed: ${error?.message ?? String(error)}`, error));
