"""warmgate's spawn helper: starts CGI processes for the gateway (helper-spawner.ts speaks to it).

Why a separate, small process (measured: Node's own spawn costs ~6 ms a child, growing with the gateway's memory):
- speed: Node forks its whole (large) process for every child; this helper uses posix_spawn, which glibc
  implements with CLONE_VFORK, from a process of a few MB;
- reaping: it makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a script's background
  grandchild, orphaned when the script exits, is re-parented here and reaped, not left a zombie under a
  PID 1 that does not reap (as in many containers); and one that left its script's process group (a
  setsid daemon) is found here and killed (kill_strays);
- cleanup: it leads a session of its own, which every child joins, so that if it is killed outright
  the gateway finds what it ran by that session id and kills it (helper-spawner.ts killSession).

Protocol.
- gateway -> helper, JSON lines on stdin:
    {"t":"spawn","id":1,"file":..,"args":[..],"env":{..},"cwd":..,"stdin":false}
    {"t":"kill","id":1}             SIGTERM to the group now, SIGKILL after the grace period
    {"t":"ack","id":1,"n":65536}    the gateway has passed on n more bytes of the child's stdout
    {"t":"drop","id":1}             the gateway wants no more of its stdout (client gone): close our end
- helper -> gateway, binary frames on stdout: type (1 byte), id (4 bytes), length (4 bytes), payload:
    R ready | O stdout bytes | E stdout ended | S stderr bytes | X exit (JSON {code, signal, dropped})
    F failed to start (JSON {error, message})
  The child's stdout is a pipe read here and forwarded in O frames, at most WINDOW bytes ahead of the
  gateway's acks, so a slow client stops the script (backpressure) and memory stays bounded. Measured:
  one Unix-socket connection per request for stdout cost the gateway ~110 us of CPU a request; frames
  on this one pipe cost a fraction of that.
- A request body goes the other way on its own Unix-socket connection (first line "<id> in"), which
  becomes the child's fd 0: it never passes through here.
"""
import ctypes
import errno
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

KILL_GRACE = 2.0  # seconds from SIGTERM to SIGKILL; the gateway passes its own (spawner.ts KILL_GRACE_MS) as argv[2]
STRAY_SCAN = 0.1  # seconds between looks for strays at most (more when a look is slow, see kill_strays)
STDERR_CAP = 64 * 1024
WINDOW = 256 * 1024  # stdout bytes a child may be ahead of the gateway's acks
CHUNK = 64 * 1024
FRAME = struct.Struct('>cII')
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def prctl(option, value):
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: orphans go to PID 1 as usual


class Job:
    __slots__ = ('id', 'spec', 'inp', 'pid', 'out', 'out_open', 'credit', 'paused', 'err', 'err_open',
                 'err_kept', 'err_dropped', 'exited', 'cancelled')

    def __init__(self, job_id):
        self.id = job_id
        self.spec = None
        self.inp = None
        self.pid = None
        self.out = None
        self.out_open = False
        self.credit = WINDOW
        self.paused = False
        self.err = None
        self.err_open = False
        self.err_kept = 0
        self.err_dropped = 0
        self.exited = None
        self.cancelled = False


class Helper:
    def __init__(self, path):
        self.sel = selectors.DefaultSelector()
        self.jobs = {}
        self.by_pid = {}
        self.kill_at = {}  # pgid -> (time to send SIGKILL, the job whose group it is)
        self.stray_scan_at = None  # when to look for strays (kill_strays); None: not due
        self.stray_scan_done = 0.0
        self.stray_gap = STRAY_SCAN
        self.children_file = True
        self.out = sys.stdout.buffer
        self.inbuf = b''
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1024)
        self.server.setblocking(False)
        self.sel.register(self.server, selectors.EVENT_READ, ('accept', None))
        os.set_blocking(0, False)
        self.sel.register(0, selectors.EVENT_READ, ('control', None))
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(wake_r, selectors.EVENT_READ, ('wake', None))
        self.devnull = os.open(os.devnull, os.O_RDWR)

    def frame(self, kind, job_id, payload=b''):
        try:
            self.out.write(FRAME.pack(kind, job_id, len(payload)) + payload)
        except BrokenPipeError:
            raise SystemExit(self.shutdown())  # the gateway is gone

    def event(self, kind, job_id, message):
        self.frame(kind, job_id, json.dumps(message, separators=(',', ':')).encode())

    def job(self, job_id):
        job = self.jobs.get(job_id)
        if job is None:
            job = self.jobs[job_id] = Job(job_id)
        return job

    def run(self):
        self.frame(b'R', 0)
        self.out.flush()
        while True:
            deadlines = [deadline for deadline, _ in self.kill_at.values()]
            if self.stray_scan_at is not None:
                deadlines.append(self.stray_scan_at)
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            for key, _ in self.sel.select(timeout):
                kind, data = key.data
                if kind == 'stdout':
                    self.stdout(data)
                elif kind == 'stderr':
                    self.stderr(data)
                elif kind == 'control':
                    if not self.control():
                        return self.shutdown()
                elif kind == 'accept':
                    self.accept()
                elif kind == 'conn':
                    self.first_line(key.fileobj)
                elif kind == 'wake':
                    try:
                        while os.read(key.fd, 512):
                            pass
                    except BlockingIOError:
                        pass
            self.reap()
            self.escalate()
            try:
                self.out.flush()  # one write for every frame of this turn
            except BrokenPipeError:
                return self.shutdown()
            if self.stray_scan_at is not None and self.stray_scan_at <= time.monotonic():
                self.kill_strays(False)  # after the write: it delays no frame

    def accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            self.sel.register(conn, selectors.EVENT_READ, ('conn', None))

    def first_line(self, conn):
        # Peek, then take exactly the line: what follows it is the request body, the child's to read.
        try:
            data = conn.recv(64, socket.MSG_PEEK)
            end = data.find(b'\n')
            if not data or (end == -1 and len(data) >= 64):
                raise ConnectionError
            if end == -1:
                return
            line = conn.recv(end + 1)[:-1]
        except BlockingIOError:
            return
        except OSError:
            self.sel.unregister(conn)
            conn.close()
            return
        self.sel.unregister(conn)
        conn.setblocking(True)
        try:
            job_id, role = line.decode().split(' ')
            if role != 'in':
                raise ValueError(role)
            job = self.job(int(job_id))
        except ValueError:
            conn.close()
            return
        job.inp = conn
        self.maybe_spawn(job)

    def control(self):
        try:
            chunk = os.read(0, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False  # the gateway is gone
        self.inbuf += chunk
        while b'\n' in self.inbuf:
            line, self.inbuf = self.inbuf.split(b'\n', 1)
            message = json.loads(line)
            kind = message['t']
            if kind == 'ack':
                job = self.jobs.get(message['id'])
                if job is not None:
                    job.credit += message['n']
                    if job.paused and job.out_open and job.credit > 0:
                        job.paused = False
                        self.sel.register(job.out, selectors.EVENT_READ, ('stdout', job))
            elif kind == 'drop':
                job = self.jobs.get(message['id'])
                if job is not None and job.out_open:
                    self.close_stdout(job)  # the script's next write fails (SIGPIPE), as it would on a closed client
                    self.finish(job)
            elif kind == 'spawn':
                job = self.job(message['id'])
                job.spec = message
                self.maybe_spawn(job)
            elif kind == 'kill':
                job = self.jobs.get(message['id'])
                if job is None:
                    continue
                if job.pid is None:
                    job.cancelled = True  # its body connection is still on its way: never start it
                    self.maybe_spawn(job)
                elif job.exited is None:
                    self.kill_group(job)
        return True

    def maybe_spawn(self, job):
        spec = job.spec
        if job.cancelled:
            if job.inp is not None:
                job.inp.close()
            del self.jobs[job.id]
            self.frame(b'E', job.id)
            self.event(b'X', job.id, {'code': None, 'signal': 'SIGTERM'})
            return
        if spec is None or (spec['stdin'] and job.inp is None):
            return
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        stdin_fd = job.inp.fileno() if job.inp is not None else self.devnull
        try:
            # Single-threaded, so changing our own cwd just before the spawn is safe; posix_spawn has
            # no portable chdir action. Every time, by path: a deploy that swaps the directory takes effect.
            os.chdir(spec['cwd'])
            pid = os.posix_spawn(spec['file'], [spec['file']] + spec['args'], spec['env'], file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin_fd, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2),
            # SIGXFSZ too: Python ignores it (and SIGPIPE) at start-up, and an ignored signal survives exec.
            ], setpgroup=0, setsigdef=(signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT))
        except (OSError, ValueError) as error:  # ValueError: a NUL or an unencodable character in argv/env
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            if job.inp is not None:
                job.inp.close()
            del self.jobs[job.id]
            code = errno.errorcode.get(getattr(error, 'errno', None) or errno.EINVAL, 'EINVAL')
            self.event(b'F', job.id, {'error': code, 'message': getattr(error, 'strerror', None) or str(error)})
            return
        # The child holds its ends now; ours would keep EOF from ever being seen.
        os.close(out_w)
        os.close(err_w)
        if job.inp is not None:
            job.inp.close()
            job.inp = None
        job.pid = pid
        job.out, job.err = out_r, err_r
        job.out_open = job.err_open = True
        os.set_blocking(out_r, False)
        os.set_blocking(err_r, False)
        self.sel.register(out_r, selectors.EVENT_READ, ('stdout', job))
        self.sel.register(err_r, selectors.EVENT_READ, ('stderr', job))
        self.by_pid[pid] = job

    def stdout(self, job):
        # An event of this select() batch may be stale: a 'drop' handled just before closed the pipe
        # (and a spawn may already have reused its fd number, so it must not be read).
        if not job.out_open or job.paused:
            return
        try:
            chunk = os.read(job.out, min(CHUNK, job.credit))
        except BlockingIOError:
            return
        if chunk:
            self.frame(b'O', job.id, chunk)
            job.credit -= len(chunk)
            if job.credit <= 0:
                job.paused = True  # until the gateway acks: the pipe fills and the script blocks
                self.sel.unregister(job.out)
            return
        self.close_stdout(job)
        self.frame(b'E', job.id)
        self.settle(job)

    def settle(self, job):
        # stdout ended, which mostly means the script has exited: its exit and stderr are looked at now, so
        # that E and X leave in this turn's one write (as spawn-helper.c's settle()). The SIGCHLD still
        # comes; reap() then finds nothing more for this pid.
        if job.exited is None and self.by_pid.get(job.pid) is job:
            try:
                pid, status = os.waitpid(job.pid, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == job.pid:
                del self.by_pid[pid]
                self.record_exit(job, status)
        if job.err_open:
            self.stderr(job)  # at its end it calls finish(), as below
        else:
            self.finish(job)

    def close_stdout(self, job):
        if not job.paused:
            self.sel.unregister(job.out)
        os.close(job.out)
        job.out_open = False

    def stderr(self, job):
        if not job.err_open:
            return
        try:
            chunk = os.read(job.err, 65536)
        except BlockingIOError:
            return
        if chunk:
            room = STDERR_CAP - job.err_kept
            if room > 0:
                self.frame(b'S', job.id, chunk[:room])
                job.err_kept += min(room, len(chunk))
            job.err_dropped += max(0, len(chunk) - max(room, 0))
            return
        self.sel.unregister(job.err)
        os.close(job.err)
        job.err_open = False
        self.finish(job)

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job = self.by_pid.pop(pid, None)
            if job is None:
                # An orphaned grandchild, re-parented to us: reaped, nothing to report; its own children are ours now.
                self.want_stray_scan()
                continue
            self.record_exit(job, status)
            self.finish(job)

    def record_exit(self, job, status):
        job.exited = status
        # The leader is gone; anything left in its group (a background grandchild) goes too.
        self.kill_group(job)
        self.want_stray_scan()

    def want_stray_scan(self):
        # A process has exited (a script, or a stray): its children, if any, are ours now. Looked at soon.
        if self.stray_scan_at is None:
            self.stray_scan_at = max(time.monotonic(), self.stray_scan_done + self.stray_gap)

    def children(self):
        """Our children as (pid, state, pgid), from /proc/self/task/<tid>/children where the kernel has it
        (CONFIG_PROC_CHILDREN), else from every /proc/<pid>/stat whose ppid is us."""
        me = os.getpid()
        pids = None
        if self.children_file:
            try:
                with open('/proc/self/task/%d/children' % me, 'rb') as f:
                    pids = [int(pid) for pid in f.read().split()]
            except OSError:
                self.children_file = False
        if pids is None:
            try:
                pids = [int(name) for name in os.listdir('/proc') if name.isdigit()]
            except OSError:
                return []
        found = []
        for pid in pids:
            try:
                with open('/proc/%d/stat' % pid, 'rb') as f:
                    stat = f.read()
            except OSError:
                continue
            # comm, in parentheses, may hold anything: the fields after its last ')' are state, ppid, pgrp.
            fields = stat[stat.rfind(b')') + 2:].split(b' ', 3)
            if len(fields) >= 3 and int(fields[1]) == me:
                found.append((pid, fields[0], int(fields[2])))
        return found

    def kill_strays(self, everything):
        """As spawn-helper.c's kill_strays (the policy is there): a child of ours that is not a request's
        own script, nor in the group of a request still running or being killed, is killed with its group.
        `everything`: shutdown, every child of ours and its group."""
        started = time.monotonic()
        me = os.getpid()
        for pid, state, pgid in self.children():
            if state == b'Z':
                continue
            if not everything and (pid in self.by_pid or pgid in self.by_pid or pgid in self.kill_at):
                continue
            for kill, target in ((os.killpg, pgid), (os.kill, pid)):
                if target <= 1 or target == me:
                    continue  # never our own group: a child may join it
                try:
                    kill(target, signal.SIGKILL)
                except OSError:
                    pass
        self.stray_scan_done = time.monotonic()
        self.stray_gap = max(STRAY_SCAN, 20 * (self.stray_scan_done - started))
        self.stray_scan_at = None

    def finish(self, job):
        # Report the exit once stdout and stderr are drained too, so the gateway has every byte first.
        if job.exited is None or job.err_open or job.out_open:
            return
        code = os.waitstatus_to_exitcode(job.exited)
        message = {'code': code if code >= 0 else None, 'signal': signal.Signals(-code).name if code < 0 else None}
        if job.err_dropped:
            message['dropped'] = job.err_dropped
        self.event(b'X', job.id, message)
        del self.jobs[job.id]

    def kill_group(self, job):
        pgid = job.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except OSError:
            return
        entry = self.kill_at.get(pgid)
        if entry is None or entry[1] is not job:  # keep the first deadline of this job's group
            self.kill_at[pgid] = (time.monotonic() + KILL_GRACE, job)

    def escalate(self):
        now = time.monotonic()
        for pgid, (deadline, job) in list(self.kill_at.items()):
            if deadline <= now:
                del self.kill_at[pgid]
                holder = self.by_pid.get(pgid)
                if holder is not None and holder is not job:
                    continue  # pids wrapped: the number now leads a newer request's group, not ours to kill
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass

    def shutdown(self):
        """Kills every group still alive and reaps everything before exiting: nothing outlives us."""
        groups = set(self.kill_at) | {job.pid for job in self.jobs.values() if job.pid is not None and job.exited is None}
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(5)  # bound the wait: a process in uninterruptible sleep must not hang the gateway's exit
        try:
            while True:
                # Strays too (a setsid daemon is in none of the groups above), and whatever each death re-parents to us.
                self.kill_strays(True)
                os.waitpid(-1, 0)
        except (ChildProcessError, InterruptedError):
            pass
        return 0


def on_alarm(*_):
    raise InterruptedError


def main():
    global KILL_GRACE
    if len(sys.argv) > 2:
        KILL_GRACE = int(sys.argv[2]) / 1000
    # A session of our own, which every child joins (each in a group of its own): see the docstring.
    try:
        os.setsid()
    except OSError:
        pass  # already a group leader (started by hand): the gateway cannot clean up after a killed helper
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    # A terminal's Ctrl-C reaches the whole process group: the gateway drains, then closes us itself.
    # Children get the default back (setsigdef).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    helper = Helper(sys.argv[1])
    # The gateway died without closing our stdin: the kernel tells us, and we clean up the same way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(helper.shutdown()))
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    helper.run()


if __name__ == '__main__':
    main()
