/*
 * A strict JSON reader for exactly the control messages of spawn-helper.c (RFC 8259 grammar, only
 * the shapes helper-spawner.ts sends):
 *   {"t":"spawn","id":<u32>,"file":<str>,"args":[<str>..],"env":{<str>:<str>..},"cwd":<str>,"stdin":<bool>}
 *   {"t":"kill"|"drop","id":<u32>}   {"t":"ack","id":<u32>,"n":<int>}
 * Strings are decoded to the bytes python's posix_spawn would pass (UTF-8; a lone surrogate
 * U+DC80..U+DCFF is the raw byte, as python's surrogateescape).
 */
#define _GNU_SOURCE
#include "spawn-helper-json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader { const char *p, *end; struct spawn_msg *m; };

struct strlist { char **items; size_t n, cap; };

static void push(struct strlist *l, char *s) {
  if (l->n + 1 >= l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    char **grown = realloc(l->items, l->cap * sizeof *grown);
    if (grown == NULL) { perror("spawn-helper"); exit(1); }
    l->items = grown;
  }
  l->items[l->n++] = s;
  l->items[l->n] = NULL;
}

static void free_list(char **items) {
  if (items == NULL) return;
  for (char **p = items; *p; p++) free(*p);
  free(items);
}

static void ws(struct reader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')) r->p++;
}

static int take(struct reader *r, char c) {
  ws(r);
  if (r->p < r->end && *r->p == c) { r->p++; return 1; }
  return 0;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

static char *utf8(char *o, unsigned cp) {
  if (cp < 0x80) { *o++ = (char)cp; }
  else if (cp < 0x800) { *o++ = (char)(0xc0 | cp >> 6); *o++ = (char)(0x80 | (cp & 0x3f)); }
  else if (cp < 0x10000) { *o++ = (char)(0xe0 | cp >> 12); *o++ = (char)(0x80 | ((cp >> 6) & 0x3f)); *o++ = (char)(0x80 | (cp & 0x3f)); }
  else { *o++ = (char)(0xf0 | cp >> 18); *o++ = (char)(0x80 | ((cp >> 12) & 0x3f)); *o++ = (char)(0x80 | ((cp >> 6) & 0x3f)); *o++ = (char)(0x80 | (cp & 0x3f)); }
  return o;
}

/* A JSON string, decoded into a new NUL-terminated buffer; NULL on a syntax error. */
static char *string(struct reader *r) {
  ws(r);
  if (r->p >= r->end || *r->p != '"') return NULL;
  const char *p = ++r->p;
  /* Decoded bytes never outnumber the source's: an escape is at least as long as what it stands for. */
  const char *close = p;
  while (close < r->end && *close != '"') close += (*close == '\\') ? 2 : 1;
  if (close >= r->end) return NULL;
  char *out = malloc((size_t)(close - p) + 1), *o = out;
  if (out == NULL) { perror("spawn-helper"); exit(1); }
  while (p < close) {
    unsigned char c = (unsigned char)*p++;
    if (c < 0x20) goto bad; /* RFC 8259 §7: control characters must be escaped */
    if (c != '\\') { *o++ = (char)c; continue; }
    char e = *p++;
    switch (e) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        unsigned cp, lo;
        if (close - p < 4 || !hex4(p, &cp)) goto bad;
        p += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && close - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          p += 6;
        } else if (cp >= 0xdc80 && cp < 0xdd00) {
          *o++ = (char)(cp & 0xff); /* python's surrogateescape: the raw byte */
          break;
        } else if (cp >= 0xd800 && cp < 0xe000) {
          r->m->bad_text = "surrogates not allowed";
        }
        if (cp == 0) r->m->has_nul = 1;
        o = utf8(o, cp);
        break;
      }
      default: goto bad;
    }
  }
  *o = '\0';
  r->p = close + 1;
  return out;
bad:
  free(out);
  return NULL;
}

/* A non-negative integer as JSON.stringify writes one (no sign, fraction or exponent); -1 if not. */
static long long integer(struct reader *r, long long max) {
  ws(r);
  const char *start = r->p;
  long long v = 0;
  while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
    v = v * 10 + (*r->p++ - '0');
    if (v > max) return -1;
  }
  if (r->p == start || (*start == '0' && r->p - start > 1)) return -1;
  if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E')) return -1;
  return v;
}

static int literal(struct reader *r, const char *word) {
  ws(r);
  size_t n = strlen(word);
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return 0;
  r->p += n;
  return 1;
}

#define FAIL(why) do { reason = (why); goto done; } while (0)

const char *parse_message(const char *line, size_t len, struct spawn_msg **out) {
  struct spawn_msg *m = calloc(1, sizeof *m);
  if (m == NULL) { perror("spawn-helper"); exit(1); }
  struct reader r = { line, line + len, m };
  struct strlist args = { 0 }, env = { 0 };
  char *type = NULL, *key = NULL;
  const char *reason = NULL;
  int seen_id = 0, seen_n = 0, seen_args = 0, seen_env = 0, seen_stdin = 0;
  *out = m;
  if (!take(&r, '{')) FAIL("not an object");
  if (take(&r, '}')) FAIL("empty object");
  do {
    free(key);
    if ((key = string(&r)) == NULL) FAIL("bad key");
    if (!take(&r, ':')) FAIL("no ':' after a key");
    if (strcmp(key, "t") == 0) {
      free(type);
      if ((type = string(&r)) == NULL) FAIL("\"t\" is not a string");
    } else if (strcmp(key, "id") == 0 || strcmp(key, "n") == 0) {
      long long v = integer(&r, key[0] == 'i' ? 0xffffffffLL : 0x7fffffffffffLL);
      if (v < 0) FAIL("\"id\" or \"n\" is not a non-negative integer in range");
      if (key[0] == 'i') { m->id = (uint32_t)v; seen_id = 1; } else { m->n = (long)v; seen_n = 1; }
    } else if (strcmp(key, "file") == 0 || strcmp(key, "cwd") == 0) {
      char *s = string(&r), **slot = key[0] == 'f' ? &m->file : &m->cwd;
      if (s == NULL) FAIL("\"file\" or \"cwd\" is not a string");
      free(*slot);
      *slot = s;
    } else if (strcmp(key, "args") == 0) {
      if (seen_args++ || !take(&r, '[')) FAIL("\"args\" is not an array (or repeated)");
      push(&args, NULL); /* argv[0], the file, once known */
      if (!take(&r, ']')) {
        do {
          char *s = string(&r);
          if (s == NULL) FAIL("\"args\" holds something other than strings");
          push(&args, s);
        } while (take(&r, ','));
        if (!take(&r, ']')) FAIL("\"args\" is not closed");
      }
    } else if (strcmp(key, "env") == 0) {
      if (seen_env++ || !take(&r, '{')) FAIL("\"env\" is not an object (or repeated)");
      if (!take(&r, '}')) {
        do {
          char *name = string(&r), *value = NULL;
          if (name == NULL || !take(&r, ':') || (value = string(&r)) == NULL) { free(name); FAIL("\"env\" holds something other than string: string"); }
          if (name[0] == '\0' || strchr(name, '=') != NULL) m->bad_text = "illegal environment variable name";
          size_t a = strlen(name), b = strlen(value);
          char *pair = malloc(a + b + 2);
          if (pair == NULL) { perror("spawn-helper"); exit(1); }
          memcpy(pair, name, a);
          pair[a] = '=';
          memcpy(pair + a + 1, value, b + 1);
          free(name);
          free(value);
          push(&env, pair);
        } while (take(&r, ','));
        if (!take(&r, '}')) FAIL("\"env\" is not closed");
      }
    } else if (strcmp(key, "stdin") == 0) {
      if (literal(&r, "true")) m->stdin = 1;
      else if (literal(&r, "false")) m->stdin = 0;
      else FAIL("\"stdin\" is not a boolean");
      seen_stdin = 1;
    } else {
      FAIL("unknown key");
    }
  } while (take(&r, ','));
  if (!take(&r, '}')) FAIL("the object is not closed");
  ws(&r);
  if (r.p != r.end) FAIL("text after the object");
  if (type == NULL || !seen_id) FAIL("no \"t\" or no \"id\"");
  if (strcmp(type, "spawn") == 0) {
    if (m->file == NULL || m->cwd == NULL || !seen_args || !seen_env || !seen_stdin) FAIL("a spawn without file, args, env, cwd or stdin");
    m->type = MSG_SPAWN;
    args.items[0] = strdup(m->file);
    m->argv = args.items;
    args.items = NULL;
    if (env.items == NULL) { push(&env, NULL); env.n = 0; } /* an empty environment: just the NULL */
    m->envp = env.items;
    env.items = NULL;
  } else if (strcmp(type, "ack") == 0) {
    if (!seen_n) FAIL("an ack without \"n\"");
    m->type = MSG_ACK;
  } else if (strcmp(type, "kill") == 0) {
    m->type = MSG_KILL;
  } else if (strcmp(type, "drop") == 0) {
    m->type = MSG_DROP;
  } else {
    FAIL("unknown \"t\"");
  }
done:
  free(type);
  free(key);
  for (size_t i = 0; args.items != NULL && i < args.n; i++) free(args.items[i]); /* [0] may be NULL */
  free(args.items);
  free_list(env.items);
  return reason;
}

void free_spawn_msg(struct spawn_msg *m) {
  if (m == NULL) return;
  free(m->file);
  free(m->cwd);
  free_list(m->argv);
  free_list(m->envp);
  free(m);
}

int json_quote(char *buf, size_t size, const char *s) {
  size_t n = 0;
  if (size < 3) return 0;
  buf[n++] = '"';
  for (; *s && n + 7 < size; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') { buf[n++] = '\\'; buf[n++] = (char)c; }
    else if (c < 0x20 || c >= 0x7f) n += (size_t)snprintf(buf + n, size - n, "\\u%04x", c);
    else buf[n++] = (char)c;
  }
  buf[n++] = '"';
  return (int)n;
}
