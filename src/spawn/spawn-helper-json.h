/*
 * The compiled spawn helper's JSON reader: strict, and only for the four control messages
 * helper-spawner.ts sends (see spawn-helper.c). Anything else is an error, named.
 */
#ifndef WARMGATE_SPAWN_HELPER_JSON_H
#define WARMGATE_SPAWN_HELPER_JSON_H

#include <stddef.h>
#include <stdint.h>

enum msg_type { MSG_SPAWN = 1, MSG_KILL, MSG_ACK, MSG_DROP };

struct spawn_msg {
  enum msg_type type;
  uint32_t id;
  long n; /* ack */
  /* spawn: argv[0] is the file; argv and envp end with NULL */
  char *file, *cwd;
  char **argv, **envp;
  int stdin;
  int has_nul; /* a NUL in a string: python's posix_spawn raises ValueError, so an F frame, EINVAL */
  const char *bad_text; /* set when python would raise another ValueError: its reason */
};

/* Parses one line (without its newline). Returns NULL and sets *out, or the reason it is invalid. */
const char *parse_message(const char *line, size_t len, struct spawn_msg **out);
void free_spawn_msg(struct spawn_msg *m);
/* Writes `s` as a JSON string (ASCII only, as python's json.dumps) into buf; returns the length. */
int json_quote(char *buf, size_t size, const char *s);

#endif
