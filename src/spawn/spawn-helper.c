/*
 * warmgate's compiled spawn helper: the same process, protocol and behaviour as spawn-helper.py (read
 * its docstring for the why and the protocol), in C, because the python helper's own CPU (~200 us a
 * request, most of it the interpreter) was the part of a cgi request left to cut.
 * create-spawner.ts compiles this file on first use (`cc -O2`) and prefers it; the python helper
 * stays the fallback where there is no compiler.
 *
 * Protocol, byte for byte as spawn-helper.py:
 * - gateway -> helper, JSON lines on stdin (exactly what helper-spawner.ts sends, JSON.stringify'd):
 *     {"t":"spawn","id":1,"file":..,"args":[..],"env":{..},"cwd":..,"stdin":false}
 *     {"t":"kill","id":1}  {"t":"ack","id":1,"n":65536}  {"t":"drop","id":1}
 *   A line that is not one of these is a broken gateway: the helper says so on stderr and exits (the
 *   python helper dies on it too), and the gateway starts a new one.
 * - helper -> gateway, frames on stdout: type (1 byte), id (4), length (4), big-endian, payload:
 *     R ready | O stdout bytes | E stdout ended | S stderr bytes | X exit {"code","signal"[,"dropped"]}
 *     F failed to start {"error","message"} (errno names as Python's errno.errorcode)
 * - a request body arrives on its own Unix-socket connection (first line "<id> in"), which becomes
 *   the child's fd 0.
 *
 * Build: cc -O2 -Wall -Wextra -std=c11 -o spawn-helper spawn-helper.c spawn-helper-json.c   (Linux, glibc)
 * Usage: spawn-helper <socket path> [kill grace in ms]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn-helper-json.h"

#define STDERR_CAP (64 * 1024)
#define WINDOW (256 * 1024) /* stdout bytes a child may be ahead of the gateway's acks */
#define CHUNK (64 * 1024)
#define HOLD_S 0.002 /* how long a child's first output may wait for its end (see on_stdout) */
#define HEADER 9
#define BUCKETS 1024
#define MAX_LINE (64 * 1024 * 1024) /* a control line longer than this is a broken gateway */

enum kind { K_CONTROL = 1, K_ACCEPT, K_SIGNAL, K_CONN, K_STDOUT, K_STDERR };

struct child_block; /* see start_child */

struct job {
  uint32_t id;
  struct spawn_msg *spec;
  int inp; /* the body connection, -1 when none */
  pid_t pid; /* 0 until spawned */
  int out, err;
  int out_open, err_open, paused, cancelled, exited;
  struct child_block *block; /* the child's stack and spawn result while it may share our memory */
  char *held; /* its first output, held for its end (see on_stdout); CHUNK bytes at most */
  size_t held_len;
  int spoke; /* an O frame has gone out (or the hold is over): output is framed as it comes */
  long credit;
  long err_kept, err_dropped;
  int status;
  struct job *next_id, *next_pid;
};

struct kill_entry { pid_t pgid; uint32_t job; double deadline; };

static int ep, server_fd, sig_fd, devnull;
static double kill_grace = 2.0;
static struct job *by_id[BUCKETS], *by_pid[BUCKETS];
static struct kill_entry *kills;
static size_t nkills, kills_cap;
static char *out_buf;
static size_t out_len, out_cap;
static char *in_buf;
static size_t in_len, in_cap;

static const char *const ERRNO_NAMES[] = {
  [1] = "EPERM", [2] = "ENOENT", [3] = "ESRCH", [4] = "EINTR", [5] = "EIO", [6] = "ENXIO", [7] = "E2BIG",
  [8] = "ENOEXEC", [9] = "EBADF", [10] = "ECHILD", [11] = "EAGAIN", [12] = "ENOMEM", [13] = "EACCES",
  [14] = "EFAULT", [15] = "ENOTBLK", [16] = "EBUSY", [17] = "EEXIST", [18] = "EXDEV", [19] = "ENODEV",
  [20] = "ENOTDIR", [21] = "EISDIR", [22] = "EINVAL", [23] = "ENFILE", [24] = "EMFILE", [25] = "ENOTTY",
  [26] = "ETXTBSY", [27] = "EFBIG", [28] = "ENOSPC", [29] = "ESPIPE", [30] = "EROFS", [31] = "EMLINK",
  [32] = "EPIPE", [33] = "EDOM", [34] = "ERANGE", [35] = "EDEADLOCK", [36] = "ENAMETOOLONG",
  [37] = "ENOLCK", [38] = "ENOSYS", [39] = "ENOTEMPTY", [40] = "ELOOP", [42] = "ENOMSG", [43] = "EIDRM",
  [61] = "ENODATA", [62] = "ETIME", [71] = "EPROTO", [74] = "EBADMSG", [75] = "EOVERFLOW",
  [79] = "ELIBACC", [80] = "ELIBBAD", [81] = "ELIBSCN", [82] = "ELIBMAX", [83] = "ELIBEXEC",
  [84] = "EILSEQ", [95] = "ENOTSUP", [116] = "ESTALE", [121] = "EREMOTEIO", [122] = "EDQUOT",
};

static const char *const SIGNAL_NAMES[] = {
  [1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL", [5] = "SIGTRAP", [6] = "SIGABRT",
  [7] = "SIGBUS", [8] = "SIGFPE", [9] = "SIGKILL", [10] = "SIGUSR1", [11] = "SIGSEGV", [12] = "SIGUSR2",
  [13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM", [16] = "SIGSTKFLT", [17] = "SIGCHLD",
  [18] = "SIGCONT", [19] = "SIGSTOP", [20] = "SIGTSTP", [21] = "SIGTTIN", [22] = "SIGTTOU", [23] = "SIGURG",
  [24] = "SIGXCPU", [25] = "SIGXFSZ", [26] = "SIGVTALRM", [27] = "SIGPROF", [28] = "SIGWINCH",
  [29] = "SIGIO", [30] = "SIGPWR", [31] = "SIGSYS", [34] = "SIGRTMIN", [64] = "SIGRTMAX",
};

static void shutdown_and_exit(void);

static void die(const char *what) {
  fprintf(stderr, "spawn-helper: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == NULL) die("out of memory");
  return q;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t tag(enum kind k, uint32_t v) { return ((uint64_t)k << 32) | v; }

static void watch(int fd, enum kind k, uint32_t v) {
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag(k, v) };
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl add");
}

static void unwatch(int fd) { epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); }

/* ---- frames: buffered, one write per loop turn (as the python helper's flush) ---- */

static char *reserve(size_t n) {
  if (out_len + n > out_cap) {
    while (out_len + n > out_cap) out_cap = out_cap ? out_cap * 2 : 256 * 1024;
    out_buf = xrealloc(out_buf, out_cap);
  }
  return out_buf + out_len;
}

static void put_header(char *at, char type, uint32_t id, uint32_t len) {
  unsigned char *p = (unsigned char *)at;
  p[0] = (unsigned char)type;
  p[1] = id >> 24; p[2] = id >> 16; p[3] = id >> 8; p[4] = id;
  p[5] = len >> 24; p[6] = len >> 16; p[7] = len >> 8; p[8] = len;
}

static void frame(char type, uint32_t id, const char *payload, size_t len) {
  char *at = reserve(HEADER + len);
  put_header(at, type, id, (uint32_t)len);
  if (len) memcpy(at + HEADER, payload, len);
  out_len += HEADER + len;
}

static void flush_out(void) {
  size_t done = 0;
  while (done < out_len) {
    ssize_t n = write(1, out_buf + done, out_len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { out_len = 0; shutdown_and_exit(); } /* EPIPE: the gateway is gone */
    done += (size_t)n;
  }
  out_len = 0;
}

/* ---- jobs ---- */

static struct job *find_job(uint32_t id) {
  for (struct job *j = by_id[id % BUCKETS]; j; j = j->next_id) if (j->id == id) return j;
  return NULL;
}

static struct job *job_for(uint32_t id) {
  struct job *j = find_job(id);
  if (j) return j;
  j = calloc(1, sizeof *j);
  if (j == NULL) die("out of memory");
  j->id = id;
  j->inp = j->out = j->err = -1;
  j->credit = WINDOW;
  j->next_id = by_id[id % BUCKETS];
  by_id[id % BUCKETS] = j;
  return j;
}

static void delete_job(struct job *j) {
  for (struct job **p = &by_id[j->id % BUCKETS]; *p; p = &(*p)->next_id)
    if (*p == j) { *p = j->next_id; break; }
  free_spawn_msg(j->spec);
  free(j->block); /* the child has been reaped (finish), or never started */
  free(j->held);
  free(j);
}

static struct job *find_pid(pid_t pid) {
  for (struct job *j = by_pid[(uint32_t)pid % BUCKETS]; j; j = j->next_pid) if (j->pid == pid) return j;
  return NULL;
}

static void unlink_pid(struct job *j) {
  for (struct job **p = &by_pid[(uint32_t)j->pid % BUCKETS]; *p; p = &(*p)->next_pid)
    if (*p == j) { *p = j->next_pid; break; }
}

/* ---- kills: SIGTERM to the group now, SIGKILL after the grace ---- */

static void kill_group(struct job *j) {
  if (killpg(j->pid, SIGTERM) < 0) return;
  for (size_t i = 0; i < nkills; i++) {
    if (kills[i].pgid != j->pid) continue;
    if (kills[i].job != j->id) { kills[i].job = j->id; kills[i].deadline = now() + kill_grace; }
    return; /* keep the first deadline of this job's group */
  }
  if (nkills == kills_cap) {
    kills_cap = kills_cap ? kills_cap * 2 : 16;
    kills = xrealloc(kills, kills_cap * sizeof *kills);
  }
  kills[nkills++] = (struct kill_entry){ j->pid, j->id, now() + kill_grace };
}

static void escalate(void) {
  double t = now();
  for (size_t i = 0; i < nkills;) {
    if (kills[i].deadline > t) { i++; continue; }
    struct kill_entry e = kills[i];
    kills[i] = kills[--nkills];
    struct job *holder = find_pid(e.pgid);
    if (holder && holder->id != e.job) continue; /* pids wrapped: a newer request's group, not ours */
    killpg(e.pgid, SIGKILL);
  }
}

/* Jobs whose first output is held (see on_stdout), oldest first: all are held for the same HOLD_S. */
struct hold { uint32_t job; double until; };
static struct hold *holds;
static size_t nholds, holds_cap;

static void end_hold(uint32_t id) {
  for (size_t i = 0; i < nholds; i++) {
    if (holds[i].job != id) continue;
    memmove(holds + i, holds + i + 1, (nholds - i - 1) * sizeof *holds);
    nholds--;
    return;
  }
}

static double stray_scan_at = -1; /* when to look for strays (see kill_strays); < 0: not due */

static int next_timeout_ms(void) {
  if (nkills == 0 && nholds == 0 && stray_scan_at < 0) return -1;
  double first = nholds > 0 ? holds[0].until : stray_scan_at >= 0 ? stray_scan_at : kills[0].deadline;
  for (size_t i = 0; i < nkills; i++) if (kills[i].deadline < first) first = kills[i].deadline;
  if (stray_scan_at >= 0 && stray_scan_at < first) first = stray_scan_at;
  double ms = (first - now()) * 1000.0;
  return ms <= 0 ? 0 : (int)ms + 1; /* rounded up: waking early would only spin */
}

/* ---- strays: processes re-parented to us (we are their subreaper) that no running request owns ---- */

#define STRAY_SCAN_S 0.1 /* at most one look a tenth of a second (more when a look is slow, see kill_strays) */

struct proc_child { pid_t pid, pgid; char state; };
static struct proc_child *kids;
static size_t nkids, kids_cap;
static double stray_gap = STRAY_SCAN_S, stray_scan_done;
static int no_children_file;

/* A process has exited (a script, or a stray): its children, if any, are ours now. Looked at soon. */
static void want_stray_scan(void) {
  if (stray_scan_at >= 0) return;
  double t = now(), at = stray_scan_done + stray_gap;
  stray_scan_at = at > t ? at : t;
}

/* /proc/<pid>/stat's state, ppid and pgrp; 0 when it is gone. comm, in parentheses, may hold anything. */
static int read_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *close_paren = strrchr(buf, ')');
  int pp, pg;
  if (close_paren == NULL || sscanf(close_paren + 1, " %c %d %d", state, &pp, &pg) != 3) return 0;
  *ppid = pp;
  *pgrp = pg;
  return 1;
}

static void add_kid(pid_t pid, char state, pid_t pgrp) {
  if (nkids == kids_cap) {
    kids_cap = kids_cap ? kids_cap * 2 : 64;
    kids = xrealloc(kids, kids_cap * sizeof *kids);
  }
  kids[nkids++] = (struct proc_child){ pid, pgrp, state };
}

/* Our children, from /proc/self/task/<tid>/children where the kernel has it (CONFIG_PROC_CHILDREN), else
 * from every /proc/<pid>/stat whose ppid is us (one thread: an orphan is re-parented to it). */
static void list_children(void) {
  pid_t self = getpid(), ppid, pgrp;
  char state;
  nkids = 0;
  if (!no_children_file) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)self);
    FILE *f = fopen(path, "re");
    if (f != NULL) {
      int pid;
      while (fscanf(f, "%d", &pid) == 1)
        if (read_stat(pid, &state, &ppid, &pgrp) && ppid == self) add_kid(pid, state, pgrp);
      fclose(f);
      return;
    }
    no_children_file = 1;
  }
  DIR *d = opendir("/proc");
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    pid_t pid = (pid_t)atoi(e->d_name);
    if (read_stat(pid, &state, &ppid, &pgrp) && ppid == self) add_kid(pid, state, pgrp);
  }
  closedir(d);
}

static int kill_pending(pid_t pgid) {
  for (size_t i = 0; i < nkills; i++) if (kills[i].pgid == pgid) return 1;
  return 0;
}

/*
 * A request's processes die with it: its group is killed when the script exits, when it is stopped, and at
 * shutdown. What leaves the group (setsid, setpgid: a daemon) escapes that; once its parent exits it is
 * re-parented to us, as our children's subreaper, and this finds it. Policy: a child of ours that is not a
 * request's own script, and is not in the group of a request still running (it dies with it) or of one
 * being killed (TERM sent, KILL due: escalate() ends it), is killed with its group, SIGKILL, when found.
 * Looked for after a process of ours exits (that is when orphans appear here), at most every STRAY_SCAN_S,
 * or every 20 looks' time when a look is slower (a /proc walk on a busy host): at most ~5% of our time.
 * `all`: shutdown, every child of ours and its group. The pids are safe to signal: a child of ours is not
 * reaped until we wait for it, which nothing between the listing and the kill does, and its group exists
 * while it is in it.
 */
static void kill_strays(int all) {
  double started = now();
  list_children();
  pid_t self = getpid();
  for (size_t i = 0; i < nkids; i++) {
    const struct proc_child *c = &kids[i];
    if (c->state == 'Z') continue;
    if (!all && (find_pid(c->pid) != NULL || find_pid(c->pgid) != NULL || kill_pending(c->pgid))) continue;
    if (c->pgid > 1 && c->pgid != self) killpg(c->pgid, SIGKILL); /* never our own group: a child may join it */
    kill(c->pid, SIGKILL);
  }
  stray_scan_done = now();
  double gap = 20 * (stray_scan_done - started);
  stray_gap = gap > STRAY_SCAN_S ? gap : STRAY_SCAN_S;
  stray_scan_at = -1;
}

/* A job's process was reaped. The leader is gone; anything left in its group (a background grandchild) goes too. */
static void record_exit(struct job *j, int status) {
  unlink_pid(j);
  j->exited = 1;
  j->status = status;
  kill_group(j);
  want_stray_scan();
}

/* ---- events to the gateway ---- */

static void fail_frame(uint32_t id, int err, const char *message) {
  const char *name = (err > 0 && (size_t)err < sizeof ERRNO_NAMES / sizeof *ERRNO_NAMES && ERRNO_NAMES[err]) ? ERRNO_NAMES[err] : "EINVAL";
  char payload[512];
  int n = snprintf(payload, sizeof payload, "{\"error\":\"%s\",\"message\":", name);
  n += json_quote(payload + n, sizeof payload - (size_t)n - 1, message);
  payload[n++] = '}';
  frame('F', id, payload, (size_t)n);
}

static int exec_error(const struct job *j);

/* Reports the exit once stdout and stderr are drained too, so the gateway has every byte first. A child
 * whose exec failed is reported as a spawn that failed (F), as posix_spawn would have. */
static void finish(struct job *j) {
  if (!j->exited || j->err_open || j->out_open) return;
  int failed = exec_error(j);
  if (failed != 0) {
    fail_frame(j->id, failed, strerror(failed));
    delete_job(j);
    return;
  }
  char payload[128], sig[32];
  int n;
  if (WIFSIGNALED(j->status)) {
    int s = WTERMSIG(j->status);
    if (s > 0 && s < 65 && SIGNAL_NAMES[s]) snprintf(sig, sizeof sig, "%s", SIGNAL_NAMES[s]);
    else snprintf(sig, sizeof sig, "SIGRTMIN+%d", s - SIGRTMIN);
    n = snprintf(payload, sizeof payload, "{\"code\":null,\"signal\":\"%s\"", sig);
  } else {
    n = snprintf(payload, sizeof payload, "{\"code\":%d,\"signal\":null", WEXITSTATUS(j->status));
  }
  if (j->err_dropped) n += snprintf(payload + n, sizeof payload - (size_t)n, ",\"dropped\":%ld", j->err_dropped);
  payload[n++] = '}';
  frame('X', j->id, payload, (size_t)n);
  delete_job(j);
}

/*
 * Whether `p` is a whole CGI head (RFC 3875 §6: header lines ending in LF or CRLF, then an empty line) with
 * a Content-Length whose body is all there. The gateway answers such a response as soon as it has it
 * (cgi-exchange.ts), without waiting for the end, so holding it for the end would only delay it: a cold
 * runner, or a python script, takes a few ms to exit after its last write. Only a hint for when to stop
 * holding; what the output means is the gateway's parser's business.
 */
static int complete_by_length(const char *p, size_t n) {
  static const char name[] = "content-length:";
  long long length = -1;
  for (size_t line = 0, i = 0; i < n; i++) {
    if (p[i] != '\n') continue;
    size_t end = (i > line && p[i - 1] == '\r') ? i - 1 : i;
    if (end == line) return length >= 0 && (unsigned long long)length <= n - (i + 1);
    if (end - line > sizeof name - 1 && strncasecmp(p + line, name, sizeof name - 1) == 0) {
      size_t k = line + sizeof name - 1;
      while (k < end && (p[k] == ' ' || p[k] == '\t')) k++;
      length = k < end ? 0 : -1;
      for (; k < end && length >= 0; k++) {
        if (p[k] >= '0' && p[k] <= '9' && length < 1000000000000LL) length = length * 10 + (p[k] - '0');
        else if (p[k] != ' ' && p[k] != '\t') length = -1;
      }
    }
    line = i + 1;
  }
  return 0;
}

/* No more holding: output is framed as it comes from now on, and what was held is forgotten. */
static void stop_holding(struct job *j) {
  if (j->spoke) return;
  j->spoke = 1;
  if (j->held_len > 0) end_hold(j->id);
  free(j->held);
  j->held = NULL;
  j->held_len = 0;
}

/* The hold is over: what was held goes out as one O frame first. */
static void release(struct job *j) {
  if (!j->spoke && j->held_len > 0) frame('O', j->id, j->held, j->held_len);
  stop_holding(j);
}

static void release_due(void) {
  double t = now();
  while (nholds > 0 && holds[0].until <= t) {
    uint32_t id = holds[0].job;
    end_hold(id);
    struct job *j = find_job(id);
    if (j != NULL) release(j);
  }
}

/* Closed by a drop, or at its end (after release()): a drop discards what is held, as the rest. */
static void close_stdout(struct job *j) {
  if (!j->paused) unwatch(j->out);
  close(j->out);
  j->out_open = 0;
  stop_holding(j);
}

/* ---- spawning ---- */

/*
 * Not posix_spawn on this loop: it is vfork, which holds its caller until the child has exec'd, and on a
 * loaded machine the child first waits for a CPU (measured with 16 sh scripts in flight on 2 cores: 1.3 ms
 * p50 against 0.09 ms idle), which held every other child's output, exit and spawn. Not posix_spawn on
 * threads of our own either (the design before this one): the hand-over to a thread and back cost two more
 * sleeps and wake-ups a request, ~50 us of the helper's ~140 us of CPU a request on the 2-core VM (sh hello
 * script, 4 connections; 90-95 us with posix_spawn called right here). Not fork(): copying our page tables
 * and the copy-on-write faults cost ~50 us here and ~60 us in the child (measured).
 *
 * So, where we can (Linux on x86_64 or aarch64): clone(CLONE_VM) without CLONE_VFORK. The child shares our
 * memory until its execve, as a vfork child does, but nobody waits for it. While it shares our memory it
 * touches nothing of ours that moves: it runs on a block of its own (its stack, and what it reads and
 * writes), reads only its job's spec, and makes raw system calls, because libc's wrappers would write
 * `errno`, which is this thread's own. The block and the spec are freed once the child has been reaped.
 * An exec that fails leaves its errno in the block and exits 127; stdout's EOF (which comes after it) is
 * then not reported, and finish() sends an F frame instead of X, as if posix_spawn had failed.
 * Elsewhere (or built with -DWG_NO_CLONE, as the tests do): posix_spawn right here (correct, with the wait above).
 */
#if !defined(WG_NO_CLONE) && defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define CLONE_SPAWN 1
#include <sched.h>
#include <sys/syscall.h>

#define CHILD_STACK (32 * 1024) /* the child's own frames are a few hundred bytes; the kernel does not use it */

struct child_block {
  int in, out, err;
  const struct spawn_msg *spec;
  volatile int error; /* written by the child when its exec fails; read after it has exited */
};

static inline long raw4(long n, long a, long b, long c, long d) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return ret;
#else
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory", "cc");
  return x0;
#endif
}

/* The kernel's struct sigaction (handler, flags, restorer, mask; the same on both): all zero is SIG_DFL. */
static const unsigned long SIG_DEFAULT[4];
static const int DEFAULT_SIGNALS[] = { SIGCHLD, SIGPIPE, SIGTERM, SIGINT };

/* In the child, on our memory: only raw system calls (see above). What posix_spawn's attributes and file
 * actions did: default dispositions for the signals we ignore or take by signalfd, none blocked, a process
 * group of its own, the pipes as fds 0-2, the script's directory, then the exec. */
static int child_main(void *arg) {
  struct child_block *b = arg;
  const struct spawn_msg *s = b->spec;
  long r = 0;
  for (size_t i = 0; i < sizeof DEFAULT_SIGNALS / sizeof *DEFAULT_SIGNALS; i++)
    raw4(SYS_rt_sigaction, DEFAULT_SIGNALS[i], (long)SIG_DEFAULT, 0, 8);
  raw4(SYS_rt_sigprocmask, SIG_SETMASK, (long)SIG_DEFAULT, 0, 8);
  if ((r = raw4(SYS_setpgid, 0, 0, 0, 0)) < 0) goto failed;
  if ((r = raw4(SYS_dup3, b->in, 0, 0, 0)) < 0) goto failed;
  if ((r = raw4(SYS_dup3, b->out, 1, 0, 0)) < 0) goto failed;
  if ((r = raw4(SYS_dup3, b->err, 2, 0, 0)) < 0) goto failed;
  /* By path, every time: a deploy that swaps the directory takes effect. */
  if ((r = raw4(SYS_chdir, (long)s->cwd, 0, 0, 0)) < 0) goto failed;
  r = raw4(SYS_execve, (long)s->file, (long)s->argv, (long)s->envp, 0);
failed:
  b->error = (int)-r;
  raw4(SYS_exit_group, 127, 0, 0, 0);
  return 127;
}

/* Starts the child; 0, or the errno of a start that failed at once (an exec that fails is seen later). */
static int start_child(struct job *j, int in, int out, int err) {
  struct child_block *b = malloc(CHILD_STACK);
  if (b == NULL) return ENOMEM;
  *b = (struct child_block){ .in = in, .out = out, .err = err, .spec = j->spec };
  char *top = (char *)((uintptr_t)((char *)b + CHILD_STACK) & ~(uintptr_t)15);
  pid_t pid = clone(child_main, top, CLONE_VM | SIGCHLD, b);
  if (pid < 0) {
    int e = errno;
    free(b);
    return e;
  }
  /* The child makes its own group too; whichever runs first, a killpg from here finds the group. */
  setpgid(pid, pid);
  j->pid = pid;
  j->block = b;
  return 0;
}

static int exec_error(const struct job *j) { return j->block != NULL ? j->block->error : 0; }

#else
struct child_block { int unused; };

static int start_child(struct job *j, int in, int out, int err) {
  const struct spawn_msg *s = j->spec;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGCHLD);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in, 0);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  posix_spawn_file_actions_addchdir_np(&fa, s->cwd);
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &defaults);
  pid_t pid = 0;
  int error = posix_spawn(&pid, s->file, &fa, &at, s->argv, s->envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (error == 0) j->pid = pid;
  return error;
}

static int exec_error(const struct job *j) { (void)j; return 0; }
#endif

static void maybe_spawn(struct job *j) {
  struct spawn_msg *s = j->spec;
  if (j->cancelled) {
    if (j->inp >= 0) close(j->inp);
    uint32_t id = j->id;
    delete_job(j);
    frame('E', id, NULL, 0);
    static const char cancelled[] = "{\"code\":null,\"signal\":\"SIGTERM\"}";
    frame('X', id, cancelled, sizeof cancelled - 1);
    return;
  }
  if (s == NULL || (s->stdin && j->inp < 0)) return;
  int err = 0;
  const char *message = NULL;
  if (s->has_nul) {
    err = EINVAL; /* python: ValueError, "embedded null byte" */
    message = "embedded null byte";
  } else if (s->bad_text != NULL) {
    err = EINVAL; /* python: a ValueError (an environment name with '=', a lone surrogate) */
    message = s->bad_text;
  }
  int out[2], errp[2];
  if (err == 0) {
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) die("pipe2");
    err = start_child(j, j->inp >= 0 ? j->inp : devnull, out[1], errp[1]);
    /* The child holds its ends now; ours would keep EOF from ever being seen. */
    close(out[1]);
    close(errp[1]);
    if (err != 0) {
      close(out[0]);
      close(errp[0]);
      message = strerror(err);
    }
  }
  if (j->inp >= 0) { close(j->inp); j->inp = -1; }
  if (err != 0) {
    uint32_t id = j->id;
    delete_job(j);
    fail_frame(id, err, message);
    return;
  }
  j->out = out[0];
  j->err = errp[0];
  j->out_open = j->err_open = 1;
  fcntl(j->out, F_SETFL, O_NONBLOCK);
  fcntl(j->err, F_SETFL, O_NONBLOCK);
  watch(j->out, K_STDOUT, j->id);
  watch(j->err, K_STDERR, j->id);
  j->next_pid = by_pid[(uint32_t)j->pid % BUCKETS];
  by_pid[(uint32_t)j->pid % BUCKETS] = j;
}

/* ---- the child's pipes ---- */

static void on_stderr(struct job *j);

/*
 * The script's stdout has ended, which mostly means it has exited: its stderr and its exit are looked at
 * now rather than when their own events come round, so that the end of a request (E, then X) reaches the
 * gateway in this turn's one write. Measured (strace, sh hello script, 4 connections): the helper's
 * writes 1.11 -> 0.76 a request, the gateway's wake-ups 1.59 -> 1.31 and reads 1.79 -> 1.61. The SIGCHLD
 * still arrives; reap() then finds nothing more for this pid.
 */
static void settle(struct job *j) {
  if (!j->exited && j->pid > 0) {
    int status;
    if (waitpid(j->pid, &status, WNOHANG) == j->pid) record_exit(j, status);
  }
  if (j->err_open) on_stderr(j); /* at its end it calls finish(), as below */
  else finish(j);
}

/*
 * A child's first output is held until its stdout ends, for HOLD_S at most (or until CHUNK bytes): most
 * CGI responses are small and end a moment after they are written (a sh script exits ~0.5 ms after its
 * printf), and then the output, E and X reach the gateway in one write instead of two. Each write to the
 * gateway wakes it, which on the 2-core VM costs ~25 us of CPU besides the frame's handling. A head whose
 * Content-Length is met is not held (complete_by_length). The gateway
 * itself holds a head up to 3 ms for the end (cgi-exchange.ts coalesce), so a streaming script's first
 * bytes wait ~5-6 ms at most (epoll_wait counts in whole ms), about as before this hold; later output is
 * never held.
 */
static void on_stdout(struct job *j) {
  /* An event of this epoll batch may be stale: a 'drop' handled just before closed the pipe. */
  if (!j->out_open || j->paused) return;
  /* A short read is often a script's last bytes: one more read finds the end now (0) or nothing (EAGAIN). */
  for (int reads = 0; reads < 2; reads++) {
    size_t want = j->credit < CHUNK ? (size_t)j->credit : CHUNK;
    int holding = !j->spoke;
    if (holding && j->held == NULL) j->held = malloc(CHUNK);
    if (holding && j->held == NULL) die("out of memory");
    if (holding && want > CHUNK - j->held_len) want = CHUNK - j->held_len;
    /* Straight into the frame (or the hold): no copy. */
    char *at = holding ? j->held + j->held_len : reserve(HEADER + want) + HEADER;
    ssize_t n = read(j->out, at, want);
    if (n < 0) return; /* EAGAIN: a stale readiness, or no more yet */
    if (n == 0) {
      release(j);
      close_stdout(j);
      if (exec_error(j) == 0) frame('E', j->id, NULL, 0); /* else finish() sends F instead */
      settle(j);
      return;
    }
    if (holding) {
      if (j->held_len == 0) {
        if (nholds == holds_cap) {
          holds_cap = holds_cap ? holds_cap * 2 : 16;
          holds = xrealloc(holds, holds_cap * sizeof *holds);
        }
        holds[nholds++] = (struct hold){ j->id, now() + HOLD_S };
      }
      j->held_len += (size_t)n;
      if (j->held_len == CHUNK || complete_by_length(j->held, j->held_len)) release(j);
    } else {
      put_header(at - HEADER, 'O', j->id, (uint32_t)n);
      out_len += HEADER + (size_t)n;
    }
    j->credit -= n;
    if (j->credit <= 0) {
      release(j); /* the gateway acks what it has been sent */
      j->paused = 1; /* until the gateway acks: the pipe fills and the script blocks */
      unwatch(j->out);
      return;
    }
    if ((size_t)n == want) return; /* more may be waiting: the next turn reads it */
  }
}

static void on_stderr(struct job *j) {
  if (!j->err_open) return;
  char buf[65536];
  ssize_t n = read(j->err, buf, sizeof buf);
  if (n < 0) return;
  if (n > 0) {
    long room = STDERR_CAP - j->err_kept;
    if (room > 0) {
      long kept = n < room ? n : room;
      frame('S', j->id, buf, (size_t)kept);
      j->err_kept += kept;
    }
    j->err_dropped += n - (room > 0 ? (n < room ? n : room) : 0);
    return;
  }
  unwatch(j->err);
  close(j->err);
  j->err_open = 0;
  finish(j);
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    struct job *j = find_pid(pid);
    if (j == NULL) {
      /* An orphaned grandchild, re-parented to us: reaped, nothing to report; its own children are ours now. */
      want_stray_scan();
      continue;
    }
    record_exit(j, status);
    finish(j);
  }
}

/* ---- body connections: "<id> in\n", then the body, which is the child's to read ---- */

static void on_accept(void) {
  for (;;) {
    int fd = accept4(server_fd, NULL, NULL, SOCK_CLOEXEC); /* blocking: it becomes the child's fd 0 */
    if (fd < 0) return;
    watch(fd, K_CONN, (uint32_t)fd);
  }
}

static void on_conn(int fd) {
  char peek[64];
  ssize_t n = recv(fd, peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  char *end = n > 0 ? memchr(peek, '\n', (size_t)n) : NULL;
  if (n <= 0 || (end == NULL && n >= (ssize_t)sizeof peek)) { unwatch(fd); close(fd); return; }
  if (end == NULL) return; /* the rest of the line is on its way */
  size_t len = (size_t)(end - peek) + 1;
  if (recv(fd, peek, len, MSG_DONTWAIT) != (ssize_t)len) { unwatch(fd); close(fd); return; }
  unwatch(fd);
  uint64_t id = 0;
  size_t i = 0;
  while (i < len && peek[i] >= '0' && peek[i] <= '9' && id <= UINT32_MAX) id = id * 10 + (uint64_t)(peek[i++] - '0');
  if (i == 0 || id > UINT32_MAX || len - i != 4 || memcmp(peek + i, " in\n", 4) != 0) { close(fd); return; }
  struct job *j = job_for((uint32_t)id);
  if (j->pid != 0) { close(fd); return; } /* a second body for a started job: not ours to use */
  if (j->inp >= 0) close(j->inp);
  j->inp = fd;
  maybe_spawn(j);
}

/* ---- control lines from the gateway ---- */

static void on_message(const char *line, size_t len) {
  struct spawn_msg *m = NULL;
  const char *error = parse_message(line, len, &m);
  if (error != NULL) {
    fprintf(stderr, "spawn-helper: bad control line (%s): %.200s\n", error, line);
    free_spawn_msg(m);
    shutdown_and_exit();
  }
  if (m->type == MSG_SPAWN) {
    struct job *j = job_for(m->id);
    if (j->pid != 0) { free_spawn_msg(m); return; } /* an id already started: ignored */
    free_spawn_msg(j->spec);
    j->spec = m;
    maybe_spawn(j);
    return;
  }
  enum msg_type type = m->type;
  long n = m->n;
  struct job *j = find_job(m->id);
  free_spawn_msg(m);
  if (j == NULL) return;
  if (type == MSG_ACK) {
    j->credit += n;
    if (j->paused && j->out_open && j->credit > 0) {
      j->paused = 0;
      watch(j->out, K_STDOUT, j->id);
    }
  } else if (type == MSG_DROP) {
    if (j->out_open) {
      close_stdout(j); /* the script's next write fails (SIGPIPE), as it would on a closed client */
      finish(j);
    }
  } else if (type == MSG_KILL) {
    if (j->pid == 0) {
      j->cancelled = 1; /* its body connection is still on its way: never start it */
      maybe_spawn(j);
    } else if (!j->exited) {
      kill_group(j);
    }
  }
}

static void on_control(void) {
  if (in_cap - in_len < 65536) {
    in_cap = in_cap ? in_cap * 2 : 131072;
    if (in_cap > MAX_LINE) { fprintf(stderr, "spawn-helper: control line too long\n"); shutdown_and_exit(); }
    in_buf = xrealloc(in_buf, in_cap);
  }
  ssize_t n = read(0, in_buf + in_len, in_cap - in_len - 1);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) shutdown_and_exit(); /* the gateway is gone */
  size_t scanned = in_len, start = 0;
  in_len += (size_t)n;
  char *nl;
  while ((nl = memchr(in_buf + scanned, '\n', in_len - scanned)) != NULL) {
    *nl = '\0';
    on_message(in_buf + start, (size_t)(nl - (in_buf + start)));
    start = scanned = (size_t)(nl - in_buf) + 1;
  }
  memmove(in_buf, in_buf + start, in_len - start);
  in_len -= start;
}

/* ---- shutdown: kill every group still alive and reap everything, bounded ---- */

static void on_alarm(int s) { (void)s; }

static void shutdown_and_exit(void) {
  /* Every child is ours from the moment clone returned (its group set from here too): all are killed. */
  flush_out();
  for (size_t i = 0; i < nkills; i++) killpg(kills[i].pgid, SIGKILL);
  for (size_t b = 0; b < BUCKETS; b++)
    for (struct job *j = by_id[b]; j; j = j->next_id) if (j->pid > 0 && !j->exited) killpg(j->pid, SIGKILL);
  struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: waitpid returns EINTR */
  sigaction(SIGALRM, &sa, NULL);
  alarm(5); /* a process in uninterruptible sleep must not hang the gateway's exit */
  /* Strays too (a setsid daemon is in none of the groups above), and whatever each death re-parents to us. */
  do kill_strays(1); while (waitpid(-1, NULL, 0) > 0);
  exit(0);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: spawn-helper <socket path> [kill grace ms]\n"); return 2; }
  if (argc > 2) kill_grace = atoi(argv[2]) / 1000.0;
  pid_t parent = getppid();
  /* A session of our own, which every child joins (each in a group of its own): if we are killed outright,
     the gateway finds what we ran by its session id, ours, and kills it (helper-spawner.ts killSession).
     Also no controlling terminal for scripts, and a terminal's signals reach the gateway only. */
  setsid();
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  signal(SIGPIPE, SIG_IGN); /* a write to a gone gateway is EPIPE, handled */
  /* A terminal's Ctrl-C goes to the whole foreground process group, the gateway's and ours: the gateway
     drains and then closes us itself; dying first would fail what is still in flight. Children get the
     default back (DEFAULT_SIGNALS). */
  signal(SIGINT, SIG_IGN);

  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(argv[1]) >= sizeof addr.sun_path) { errno = ENAMETOOLONG; die("socket path"); }
  strcpy(addr.sun_path, argv[1]);
  server_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (server_fd < 0 || bind(server_fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(server_fd, 1024) < 0) die("socket");

  /* SIGCHLD and SIGTERM (the gateway died: PR_SET_PDEATHSIG) come through the loop as a signalfd. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (sig_fd < 0 || devnull < 0 || ep < 0) die("setup");
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  watch(0, K_CONTROL, 0);
  watch(server_fd, K_ACCEPT, 0);
  watch(sig_fd, K_SIGNAL, 0);
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  if (getppid() != parent) shutdown_and_exit(); /* the gateway died before the line above */

  frame('R', 0, NULL, 0);
  flush_out();
  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(ep, events, 64, next_timeout_ms());
    if (n < 0 && errno != EINTR) die("epoll_wait");
    int child_exited = 0;
    for (int i = 0; i < n; i++) {
      enum kind k = (enum kind)(events[i].data.u64 >> 32);
      uint32_t v = (uint32_t)events[i].data.u64;
      struct job *j;
      switch (k) {
        case K_CONTROL: on_control(); break;
        case K_ACCEPT: on_accept(); break;
        case K_CONN: on_conn((int)v); break;
        case K_STDOUT: if ((j = find_job(v)) != NULL) on_stdout(j); break;
        case K_STDERR: if ((j = find_job(v)) != NULL) on_stderr(j); break;
        case K_SIGNAL: {
          struct signalfd_siginfo info;
          while (read(sig_fd, &info, sizeof info) == (ssize_t)sizeof info) {
            if (info.ssi_signo == SIGTERM) shutdown_and_exit();
            child_exited = 1;
          }
          break;
        }
      }
    }
    if (child_exited) reap();
    release_due();
    escalate();
    flush_out(); /* one write for every frame of this turn */
    if (stray_scan_at >= 0 && stray_scan_at <= now()) kill_strays(0); /* after the write: it delays no frame */
  }
}
