// SPDX-License-Identifier: MIT
//
// faultfs: a fault-injecting file layer for tests, loaded with LD_PRELOAD
// (never linked into cairn; release binaries read none of its variables).
//
// It counts the I/O calls cairn makes on files and folders below the paths
// in FAULTFS_PATHS (':'-separated absolute paths: a repository, a cache, a
// restore target) and makes the Nth of them fail or end the process:
//
//   FAULTFS_PATHS   paths whose files and folders are watched (required)
//   FAULTFS_OPS     classes counted, ','-separated: write, sync, rename, read,
//                   list, open, remove, mkdir (default: all); a listing
//                   counts once, at its second readdir (after one entry)
//   FAULTFS_AT      N: the Nth counted call (1-based) is the faulty one;
//                   0 or unset: count only
//   FAULTFS_MODE    eio | enospc | short | kill
//                     eio, enospc: the call fails with that errno
//                     short: a write writes half of its bytes and the next
//                            write on any watched file fails with ENOSPC
//                            (a disk that fills up); other calls fail ENOSPC
//                     kill: the process sends itself SIGKILL before the call
//                     grow, shrink, touch, delete: the file behind a read
//                            call changes before the read runs (64 KiB
//                            appended; cut to half its size; its first
//                            byte rewritten, which moves its mtime; its
//                            name removed), and the read goes on: a source
//                            that changes while backup reads it. Only
//                            reads are counted in these modes; with
//                            FAULTFS_EVERY=K the file changes again every
//                            Kth read after the Nth, at most 16 times (so
//                            a growing file still ends).
//   FAULTFS_STICKY  1: every counted call from the Nth on fails (a device
//                   that stays broken); with enospc, only the calls that
//                   take space (write, sync, rename, open, mkdir): a disk
//                   that stays full
//   FAULTFS_EVERY   K: with a change mode, the Nth call and every Kth after it
//   FAULTFS_COUNT   file the number of counted calls is written to at exit
//   FAULTFS_TRACE   file every counted call is appended to (class, path)
//
// File descriptors are watched when opened by a path below a watched path
// (openat relative to a watched folder's descriptor included) and through
// dup; folder streams through their descriptor. Calls are counted across
// threads with one atomic counter, so in a multi-threaded operation the Nth
// call is not always the same one, but every N is a real fault point.

#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
  kWrite = 1 << 0,
  kSync = 1 << 1,
  kRename = 1 << 2,
  kRead = 1 << 3,
  kList = 1 << 4,
  kOpen = 1 << 5,
  kRemove = 1 << 6,
  kMkdir = 1 << 7,
};
enum { kModeEio, kModeEnospc, kModeShort, kModeKill, kModeGrow, kModeShrink, kModeTouch, kModeDelete };

#define kMaxFd 65536
#define kMaxPaths 8

static int g_ready;
static char g_paths[kMaxPaths][PATH_MAX];
static size_t g_path_len[kMaxPaths];
static int g_npaths;
static unsigned g_ops = 0xff;
static long g_at;
static int g_mode = kModeEio;
static int g_sticky;
static long g_every;
static const char* g_count_file;
static const char* g_trace_file;
static atomic_long g_count;
static atomic_int g_fail_next_write;
static atomic_uchar g_watched[kMaxFd];
static atomic_uint g_readdirs[kMaxFd];  // readdir calls on each stream so far

#define REAL(name) static __typeof__(&name) real_##name
REAL(open);
REAL(open64);
REAL(openat);
REAL(openat64);
REAL(fopen);
REAL(fopen64);
REAL(close);
REAL(dup);
REAL(write);
REAL(pwrite);
REAL(pwrite64);
REAL(writev);
REAL(read);
REAL(pread);
REAL(pread64);
REAL(fsync);
REAL(fdatasync);
REAL(rename);
REAL(renameat);
REAL(link);
REAL(linkat);
REAL(unlink);
REAL(unlinkat);
REAL(rmdir);
REAL(mkdir);
REAL(mkdirat);
REAL(opendir);
REAL(fdopendir);
REAL(readdir);
REAL(readdir64);
REAL(ftruncate);
REAL(symlinkat);
REAL(closedir);
REAL(fclose);
REAL(pipe);
REAL(pipe2);
REAL(dup2);
REAL(dup3);

#define BIND(name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)

static void Init(void) {
  BIND(open);
  BIND(open64);
  BIND(openat);
  BIND(openat64);
  BIND(fopen);
  BIND(fopen64);
  BIND(close);
  BIND(dup);
  BIND(write);
  BIND(pwrite);
  BIND(pwrite64);
  BIND(writev);
  BIND(read);
  BIND(pread);
  BIND(pread64);
  BIND(fsync);
  BIND(fdatasync);
  BIND(rename);
  BIND(renameat);
  BIND(link);
  BIND(linkat);
  BIND(unlink);
  BIND(unlinkat);
  BIND(rmdir);
  BIND(mkdir);
  BIND(mkdirat);
  BIND(opendir);
  BIND(fdopendir);
  BIND(readdir);
  BIND(readdir64);
  BIND(ftruncate);
  BIND(symlinkat);
  BIND(closedir);
  BIND(fclose);
  BIND(pipe);
  BIND(pipe2);
  BIND(dup2);
  BIND(dup3);

  const char* paths = getenv("FAULTFS_PATHS");
  if (paths != NULL) {
    const char* p = paths;
    while (*p != '\0' && g_npaths < kMaxPaths) {
      const char* end = strchr(p, ':');
      size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
      if (n > 0 && n < PATH_MAX) {
        memcpy(g_paths[g_npaths], p, n);
        g_paths[g_npaths][n] = '\0';
        while (n > 1 && g_paths[g_npaths][n - 1] == '/') g_paths[g_npaths][--n] = '\0';
        g_path_len[g_npaths] = n;
        g_npaths++;
      }
      if (end == NULL) break;
      p = end + 1;
    }
  }
  const char* ops = getenv("FAULTFS_OPS");
  if (ops != NULL && *ops != '\0') {
    g_ops = 0;
    if (strstr(ops, "write")) g_ops |= kWrite;
    if (strstr(ops, "sync")) g_ops |= kSync;
    if (strstr(ops, "rename")) g_ops |= kRename;
    if (strstr(ops, "read")) g_ops |= kRead;
    if (strstr(ops, "list")) g_ops |= kList;
    if (strstr(ops, "open")) g_ops |= kOpen;
    if (strstr(ops, "remove")) g_ops |= kRemove;
    if (strstr(ops, "mkdir")) g_ops |= kMkdir;
  }
  const char* at = getenv("FAULTFS_AT");
  g_at = at != NULL ? atol(at) : 0;
  const char* mode = getenv("FAULTFS_MODE");
  if (mode != NULL) {
    if (strcmp(mode, "enospc") == 0) g_mode = kModeEnospc;
    else if (strcmp(mode, "short") == 0) g_mode = kModeShort;
    else if (strcmp(mode, "kill") == 0) g_mode = kModeKill;
    else if (strcmp(mode, "grow") == 0) g_mode = kModeGrow;
    else if (strcmp(mode, "shrink") == 0) g_mode = kModeShrink;
    else if (strcmp(mode, "touch") == 0) g_mode = kModeTouch;
    else if (strcmp(mode, "delete") == 0) g_mode = kModeDelete;
  }
  if (g_mode >= kModeGrow) g_ops = kRead;
  const char* sticky = getenv("FAULTFS_STICKY");
  g_sticky = sticky != NULL && strcmp(sticky, "1") == 0;
  const char* every = getenv("FAULTFS_EVERY");
  g_every = every != NULL ? atol(every) : 0;
  g_count_file = getenv("FAULTFS_COUNT");
  g_trace_file = getenv("FAULTFS_TRACE");
  g_ready = 1;
}

__attribute__((constructor)) static void Construct(void) {
  if (!g_ready) Init();
}

static void WriteCount(void) {
  if (g_count_file == NULL) return;
  int fd = real_open(g_count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%ld\n", atomic_load(&g_count));
  if (n > 0) (void)!real_write(fd, buf, (size_t)n);
  real_close(fd);
}

__attribute__((destructor)) static void Destruct(void) { WriteCount(); }

static void Ensure(void) {
  if (!g_ready) Init();
}

// Whether an absolute, lexically clean-enough path is below a watched path.
static int Below(const char* abs) {
  for (int i = 0; i < g_npaths; i++) {
    size_t n = g_path_len[i];
    if (strncmp(abs, g_paths[i], n) == 0 && (abs[n] == '\0' || abs[n] == '/')) return 1;
  }
  return 0;
}

static int FdWatched(int fd) { return fd >= 0 && fd < kMaxFd && atomic_load(&g_watched[fd]); }

static void SetWatched(int fd, int on) {
  if (fd >= 0 && fd < kMaxFd) {
    atomic_store(&g_watched[fd], (unsigned char)on);
    atomic_store(&g_readdirs[fd], 0);
  }
}

// Whether `path`, taken relative to `dirfd`, names something watched.
static int PathWatched(int dirfd, const char* path) {
  if (g_npaths == 0 || path == NULL) return 0;
  if (path[0] == '/') return Below(path);
  if (dirfd != AT_FDCWD) return FdWatched(dirfd);
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) return 0;
  char abs[PATH_MAX * 2];
  snprintf(abs, sizeof abs, "%s/%s", cwd, path);
  return Below(abs);
}

static void Trace(unsigned op, const char* what, long n) {
  if (g_trace_file == NULL) return;
  int fd = real_open(g_trace_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char buf[PATH_MAX + 64];
  int len = snprintf(buf, sizeof buf, "%ld %u %s\n", n, op, what != NULL ? what : "?");
  if (len > 0) (void)!real_write(fd, buf, (size_t)len);
  real_close(fd);
}

// Counts one call of class `op`; returns 0 to let it run, or the errno it
// must fail with (the process ends here in kill mode).
static int Fault(unsigned op, const char* what) {
  if ((g_ops & op) == 0) return 0;
  long n = atomic_fetch_add(&g_count, 1) + 1;
  Trace(op, what, n);
  if (g_at <= 0) return 0;
  // A full disk refuses what takes space and still reads; a broken device
  // refuses everything.
  int sticky = g_sticky && n > g_at && (g_mode != kModeEnospc || (op & (kWrite | kOpen | kMkdir | kRename | kSync)));
  if (g_every > 0 && n > g_at && (n - g_at) % g_every == 0 && (n - g_at) / g_every < 16) sticky = 1;
  if (n == g_at || sticky) {
    if (g_mode == kModeKill) {
      kill(getpid(), SIGKILL);
      for (;;) pause();
    }
    if (g_mode >= kModeGrow) return -g_mode;  // a change, made by the read hook
    if (g_mode == kModeEio) return EIO;
    if (g_mode == kModeShort && (op & kWrite) && n == g_at) return -1;  // the caller writes half
    return ENOSPC;
  }
  return 0;
}

static char* FdName(int fd, char* buf, size_t size) {
  snprintf(buf, size, "fd %d", fd);
  return buf;
}

#define FAIL_IF(expr)  \
  do {                 \
    int e_ = (expr);   \
    if (e_) {          \
      errno = e_;      \
      return -1;       \
    }                  \
  } while (0)

// ---- opening and closing -------------------------------------------------

static int OpenCommon(int dirfd, const char* path, int flags, mode_t mode, int at, int large) {
  Ensure();
  int watched = PathWatched(dirfd, path);
  if (watched && g_mode < kModeGrow) {
    unsigned op = (flags & O_CREAT) ? kOpen : ((flags & O_ACCMODE) != O_RDONLY ? kOpen : kRead);
    int e = Fault(op, path);
    if (e > 0) {
      errno = e;
      return -1;
    }
  }
  int fd;
  if (at) fd = large ? real_openat64(dirfd, path, flags, mode) : real_openat(dirfd, path, flags, mode);
  else fd = large ? real_open64(path, flags, mode) : real_open(path, flags, mode);
  if (fd >= 0) SetWatched(fd, watched);
  return fd;
}

#define MODE_ARG(flags)                                       \
  mode_t mode = 0;                                            \
  if ((flags) & (O_CREAT | __O_TMPFILE)) {                    \
    va_list ap;                                               \
    va_start(ap, flags);                                      \
    mode = (mode_t)va_arg(ap, int);                           \
    va_end(ap);                                               \
  }

int open(const char* path, int flags, ...) {
  MODE_ARG(flags);
  return OpenCommon(AT_FDCWD, path, flags, mode, 0, 0);
}
int open64(const char* path, int flags, ...) {
  MODE_ARG(flags);
  return OpenCommon(AT_FDCWD, path, flags, mode, 0, 1);
}
int openat(int dirfd, const char* path, int flags, ...) {
  MODE_ARG(flags);
  return OpenCommon(dirfd, path, flags, mode, 1, 0);
}
int openat64(int dirfd, const char* path, int flags, ...) {
  MODE_ARG(flags);
  return OpenCommon(dirfd, path, flags, mode, 1, 1);
}

static FILE* FopenCommon(const char* path, const char* mode, int large) {
  Ensure();
  int watched = PathWatched(AT_FDCWD, path);
  if (watched) {
    int e = Fault(strchr(mode, 'r') && !strchr(mode, '+') ? kRead : kOpen, path);
    if (e > 0) {
      errno = e;
      return NULL;
    }
  }
  FILE* f = large ? real_fopen64(path, mode) : real_fopen(path, mode);
  if (f != NULL) SetWatched(fileno(f), watched);
  return f;
}
FILE* fopen(const char* path, const char* mode) { return FopenCommon(path, mode, 0); }
FILE* fopen64(const char* path, const char* mode) { return FopenCommon(path, mode, 1); }

int close(int fd) {
  Ensure();
  SetWatched(fd, 0);
  return real_close(fd);
}

int dup(int fd) {
  Ensure();
  int d = real_dup(fd);
  if (d >= 0) SetWatched(d, FdWatched(fd));
  return d;
}

// Descriptors made without a path are never watched, whatever number they
// reuse (closedir and fclose close inside the C library, out of our sight).
int closedir(DIR* d) {
  Ensure();
  if (d != NULL) SetWatched(dirfd(d), 0);
  return real_closedir(d);
}

int fclose(FILE* f) {
  Ensure();
  if (f != NULL) SetWatched(fileno(f), 0);
  return real_fclose(f);
}

int pipe(int fds[2]) {
  Ensure();
  int rc = real_pipe(fds);
  if (rc == 0) {
    SetWatched(fds[0], 0);
    SetWatched(fds[1], 0);
  }
  return rc;
}

int pipe2(int fds[2], int flags) {
  Ensure();
  int rc = real_pipe2(fds, flags);
  if (rc == 0) {
    SetWatched(fds[0], 0);
    SetWatched(fds[1], 0);
  }
  return rc;
}

int dup2(int from, int to) {
  Ensure();
  int d = real_dup2(from, to);
  if (d >= 0) SetWatched(d, FdWatched(from));
  return d;
}

int dup3(int from, int to, int flags) {
  Ensure();
  int d = real_dup3(from, to, flags);
  if (d >= 0) SetWatched(d, FdWatched(from));
  return d;
}

// ---- writing -------------------------------------------------------------

// Returns -2 to run the call as asked, -3 to write `*half` bytes instead, or
// the errno to fail with.
static int WriteFault(int fd, size_t count, size_t* half) {
  Ensure();
  if (!FdWatched(fd)) return -2;
  char name[32];
  if (atomic_exchange(&g_fail_next_write, 0)) {
    Fault(kWrite, FdName(fd, name, sizeof name));
    return ENOSPC;
  }
  int e = Fault(kWrite, FdName(fd, name, sizeof name));
  if (e == -1) {
    if (count < 2) return ENOSPC;
    *half = count / 2;
    atomic_store(&g_fail_next_write, 1);
    return -3;
  }
  return e > 0 ? e : -2;
}

ssize_t write(int fd, const void* buf, size_t count) {
  size_t half = count;
  int e = WriteFault(fd, count, &half);
  if (e >= 0) {
    errno = e;
    return -1;
  }
  return real_write(fd, buf, half);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t off) {
  size_t half = count;
  int e = WriteFault(fd, count, &half);
  if (e >= 0) {
    errno = e;
    return -1;
  }
  return real_pwrite(fd, buf, half, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t off) {
  size_t half = count;
  int e = WriteFault(fd, count, &half);
  if (e >= 0) {
    errno = e;
    return -1;
  }
  return real_pwrite64(fd, buf, half, off);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
  size_t half = total;
  int e = WriteFault(fd, total, &half);
  if (e >= 0) {
    errno = e;
    return -1;
  }
  if (e == -3 && iovcnt > 0) {
    // Half of the first buffer only: still a short write.
    struct iovec one = iov[0];
    if (one.iov_len > 1) one.iov_len /= 2;
    return real_writev(fd, &one, 1);
  }
  return real_writev(fd, iov, iovcnt);
}

// A call on a descriptor: 0 to run it, or the errno it fails with.
static int FdFault(int fd, unsigned op) {
  Ensure();
  if (!FdWatched(fd)) return 0;
  char name[32];
  int e = Fault(op, FdName(fd, name, sizeof name));
  return e != 0 ? (e > 0 ? e : ENOSPC) : 0;
}

int ftruncate(int fd, off_t len) {
  FAIL_IF(FdFault(fd, kWrite));
  return real_ftruncate(fd, len);
}

int fsync(int fd) {
  FAIL_IF(FdFault(fd, kSync));
  return real_fsync(fd);
}

int fdatasync(int fd) {
  FAIL_IF(FdFault(fd, kSync));
  return real_fdatasync(fd);
}

// ---- reading -------------------------------------------------------------

// Changes the file open as `fd` the way `mode` says (see the top).
static void Change(int fd, int mode) {
  char proc[64], path[PATH_MAX];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (mode == kModeDelete) {
    ssize_t n = readlink(proc, path, sizeof path - 1);
    if (n > 0) {
      path[n] = '\0';
      real_unlink(path);
    }
    return;
  }
  int w = real_open(proc, O_WRONLY | O_CLOEXEC, 0);
  if (w < 0) return;
  struct stat st;
  if (fstat(w, &st) == 0) {
    if (mode == kModeGrow) {
      static char more[65536];
      memset(more, 'G', sizeof more);
      (void)!real_pwrite(w, more, sizeof more, st.st_size);
    } else if (mode == kModeShrink) {
      (void)!real_ftruncate(w, st.st_size / 2);
    } else if (mode == kModeTouch && st.st_size > 0) {
      (void)!real_pwrite(w, "T", 1, 0);
    }
  }
  real_close(w);
}

static int ReadFault(int fd) {
  Ensure();
  if (!FdWatched(fd)) return 0;
  char name[32];
  int e = Fault(kRead, FdName(fd, name, sizeof name));
  if (e <= -kModeGrow) {
    Change(fd, -e);
    return 0;
  }
  return e != 0 ? (e > 0 ? e : EIO) : 0;
}

ssize_t read(int fd, void* buf, size_t count) {
  int e = ReadFault(fd);
  if (e) {
    errno = e;
    return -1;
  }
  return real_read(fd, buf, count);
}

ssize_t pread(int fd, void* buf, size_t count, off_t off) {
  int e = ReadFault(fd);
  if (e) {
    errno = e;
    return -1;
  }
  return real_pread(fd, buf, count, off);
}

ssize_t pread64(int fd, void* buf, size_t count, off64_t off) {
  int e = ReadFault(fd);
  if (e) {
    errno = e;
    return -1;
  }
  return real_pread64(fd, buf, count, off);
}

// ---- names ---------------------------------------------------------------

static int PathFault(unsigned op, int dirfd, const char* path) {
  Ensure();
  if (!PathWatched(dirfd, path)) return 0;
  int e = Fault(op, path);
  return e != 0 ? (e > 0 ? e : ENOSPC) : 0;
}

int rename(const char* from, const char* to) {
  FAIL_IF(PathFault(kRename, AT_FDCWD, to));
  return real_rename(from, to);
}

int renameat(int fromfd, const char* from, int tofd, const char* to) {
  FAIL_IF(PathFault(kRename, tofd, to));
  return real_renameat(fromfd, from, tofd, to);
}

int link(const char* from, const char* to) {
  FAIL_IF(PathFault(kRename, AT_FDCWD, to));
  return real_link(from, to);
}

int linkat(int fromfd, const char* from, int tofd, const char* to, int flags) {
  FAIL_IF(PathFault(kRename, tofd, to));
  return real_linkat(fromfd, from, tofd, to, flags);
}

int unlink(const char* path) {
  FAIL_IF(PathFault(kRemove, AT_FDCWD, path));
  return real_unlink(path);
}

int unlinkat(int dirfd, const char* path, int flags) {
  FAIL_IF(PathFault(kRemove, dirfd, path));
  return real_unlinkat(dirfd, path, flags);
}

int rmdir(const char* path) {
  FAIL_IF(PathFault(kRemove, AT_FDCWD, path));
  return real_rmdir(path);
}

int mkdir(const char* path, mode_t mode) {
  FAIL_IF(PathFault(kMkdir, AT_FDCWD, path));
  return real_mkdir(path, mode);
}

int mkdirat(int dirfd, const char* path, mode_t mode) {
  FAIL_IF(PathFault(kMkdir, dirfd, path));
  return real_mkdirat(dirfd, path, mode);
}

int symlinkat(const char* target, int dirfd, const char* path) {
  FAIL_IF(PathFault(kOpen, dirfd, path));
  return real_symlinkat(target, dirfd, path);
}

// ---- listing -------------------------------------------------------------

DIR* opendir(const char* path) {
  Ensure();
  int watched = PathWatched(AT_FDCWD, path);
  if (watched) {
    int e = Fault(kList, path);
    if (e != 0) {
      errno = e > 0 ? e : EIO;
      return NULL;
    }
  }
  DIR* d = real_opendir(path);
  if (d != NULL) SetWatched(dirfd(d), watched);
  return d;
}

DIR* fdopendir(int fd) {
  Ensure();
  DIR* d = real_fdopendir(fd);
  if (d != NULL) SetWatched(fd, FdWatched(fd));
  return d;
}

// One fault point per listing: its second readdir call, so the failure
// comes after an entry was returned (a listing cut short, not refused).
// A fault point per entry would make a sweep over a repository's 256
// shard folders thousands of runs long without reaching new code.
static int ListFault(DIR* d) {
  Ensure();
  if (d == NULL || !FdWatched(dirfd(d))) return 0;
  if (atomic_fetch_add(&g_readdirs[dirfd(d)], 1) != 1) return 0;
  char name[32];
  int e = Fault(kList, FdName(dirfd(d), name, sizeof name));
  return e != 0 ? (e > 0 ? e : EIO) : 0;
}

struct dirent* readdir(DIR* d) {
  int e = ListFault(d);
  if (e) {
    errno = e;
    return NULL;
  }
  return real_readdir(d);
}

struct dirent64* readdir64(DIR* d) {
  int e = ListFault(d);
  if (e) {
    errno = e;
    return NULL;
  }
  return real_readdir64(d);
}
