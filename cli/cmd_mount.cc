// SPDX-License-Identifier: MIT
//
// mount: the repository as a read-only file system through libfuse3's
// low-level API (docs/cli.md#mount). The file system itself is
// repo::SnapshotFs; this file turns kernel requests into its calls and
// runs the session, in the foreground or as a background process.

#define FUSE_USE_VERSION 34
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>

#include "cli/commands.h"
#include "objstore/backend.h"
#include "repo/snapshot_fs.h"

namespace cairn::cli {
namespace {

using repo::FsAttr;
using repo::SnapshotFs;

struct MountCmd {
  std::string mountpoint;
  bool allow_other = false;
  bool foreground = false;
  std::string log_file;
  double refresh_s = 2;
  uint64_t cache_mib = 32;
};

// How long the kernel may keep a name or attributes: content of a
// snapshot never changes; the top folders follow new snapshots (--refresh).
double g_top_timeout = 2;
constexpr double kImmutable = 3600;

// Ctrl-C, SIGTERM and SIGHUP end the session. The signal may land on any
// thread (main() waits on the command's thread, which runs the loop), so
// the handler ends the session and passes the signal on to the loop's
// thread, whose wait it interrupts.
fuse_session* g_session = nullptr;
pthread_t g_loop_thread;

void OnStopSignal(int sig) {
  if (g_session != nullptr) fuse_session_exit(g_session);
  if (!pthread_equal(pthread_self(), g_loop_thread)) pthread_kill(g_loop_thread, sig);
}

struct StopSignals {
  struct sigaction old[3];
  bool set[3] = {false, false, false};
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
  explicit StopSignals(fuse_session* se) {
    g_session = se;
    g_loop_thread = pthread_self();
    for (int i = 0; i < 3; i++) {
      struct sigaction cur;
      if (sigaction(kSignals[i], nullptr, &cur) != 0) continue;
      // One that the caller ignores stays ignored (nohup, a script's
      // background job), as libfuse does.
      if (cur.sa_handler == SIG_IGN) continue;
      struct sigaction sa;
      std::memset(&sa, 0, sizeof(sa));
      sa.sa_handler = OnStopSignal;
      sigemptyset(&sa.sa_mask);
      set[i] = sigaction(kSignals[i], &sa, &old[i]) == 0;
    }
  }
  ~StopSignals() {
    for (int i = 0; i < 3; i++) {
      if (set[i]) sigaction(kSignals[i], &old[i], nullptr);
    }
    g_session = nullptr;
  }
};

SnapshotFs* Fs(fuse_req_t req) { return static_cast<SnapshotFs*>(fuse_req_userdata(req)); }

void FillStat(const FsAttr& a, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = a.ino;
  st->st_mode = a.mode;
  st->st_nlink = a.nlink;
  st->st_uid = a.uid;
  st->st_gid = a.gid;
  st->st_size = static_cast<off_t>(a.size);
  st->st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st->st_blksize = 65536;
  st->st_rdev = a.rdev;
  struct timespec t;
  t.tv_sec = static_cast<time_t>(a.mtime_ns / 1000000000);
  t.tv_nsec = static_cast<long>(a.mtime_ns % 1000000000);
  if (t.tv_nsec < 0) {
    t.tv_sec -= 1;
    t.tv_nsec += 1000000000;
  }
  st->st_mtim = st->st_atim = st->st_ctim = t;
}

double TimeoutOf(const FsAttr& a) { return a.immutable ? kImmutable : g_top_timeout; }

void FillEntry(const FsAttr& a, fuse_entry_param* e) {
  std::memset(e, 0, sizeof(*e));
  e->ino = a.ino;
  FillStat(a, &e->attr);
  e->attr_timeout = e->entry_timeout = TimeoutOf(a);
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  FsAttr a;
  int err = Fs(req)->Lookup(parent, name, &a);
  fuse_entry_param e;
  if (err == ENOENT && parent >= 100) {
    // Not in a snapshot folder, and never will be: a negative entry the
    // kernel may keep.
    std::memset(&e, 0, sizeof(e));
    e.entry_timeout = kImmutable;
    fuse_reply_entry(req, &e);
    return;
  }
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  FillEntry(a, &e);
  fuse_reply_entry(req, &e);
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Fs(req)->Forget(ino, nlookup);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; i++) Fs(req)->Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  FsAttr a;
  int err = Fs(req)->GetAttr(ino, &a);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  struct stat st;
  FillStat(a, &st);
  fuse_reply_attr(req, &st, TimeoutOf(a));
}

void OpReadlink(fuse_req_t req, fuse_ino_t ino) {
  std::string target;
  int err = Fs(req)->ReadLink(ino, &target);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_readlink(req, target.c_str());
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  uint64_t h = 0;
  int err = Fs(req)->OpenDir(ino, &h);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = h;
  if (ino >= 100) {
    // A snapshot's folder never changes: the kernel may keep its listing.
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
  }
  fuse_reply_open(req, fi);
}

void ReadDir(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  // Not zeroed: only the part the entries fill is sent.
  std::unique_ptr<char[]> buf(new char[size]);
  size_t pos = 0;
  int err = Fs(req)->ReadDir(fi->fh, static_cast<uint64_t>(off), plus,
                             [&](const std::string& name, const FsAttr& a, bool counted, uint64_t next) {
                               size_t need;
                               if (plus) {
                                 fuse_entry_param e;
                                 FillEntry(a, &e);
                                 // "." and "..": no reference for the kernel to hold.
                                 if (!counted) e.ino = 0;
                                 need = fuse_add_direntry_plus(req, buf.get() + pos, size - pos, name.c_str(), &e,
                                                               static_cast<off_t>(next));
                               } else {
                                 struct stat st;
                                 std::memset(&st, 0, sizeof(st));
                                 st.st_ino = a.ino;
                                 st.st_mode = a.mode;
                                 need = fuse_add_direntry(req, buf.get() + pos, size - pos, name.c_str(), &st,
                                                          static_cast<off_t>(next));
                               }
                               if (need > size - pos) return false;
                               pos += need;
                               return true;
                             });
  if (err != 0 && pos == 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_buf(req, buf.get(), pos);
}

void OpReaddir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  ReadDir(req, size, off, fi, false);
}

void OpReaddirplus(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  ReadDir(req, size, off, fi, true);
}

void OpReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Fs(req)->ReleaseDir(fi->fh);
  fuse_reply_err(req, 0);
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) {
    fuse_reply_err(req, EROFS);
    return;
  }
  uint64_t h = 0;
  int err = Fs(req)->Open(ino, &h);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = h;
  fi->keep_cache = 1;  // the content never changes
  fuse_reply_open(req, fi);
}

void OpRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  std::string out;
  int err = Fs(req)->Read(fi->fh, static_cast<uint64_t>(off), size, &out);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_buf(req, out.data(), out.size());
}

void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Fs(req)->Release(fi->fh);
  fuse_reply_err(req, 0);
}

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs sv;
  std::memset(&sv, 0, sizeof(sv));
  sv.f_bsize = sv.f_frsize = 4096;
  sv.f_namemax = 255;
  fuse_reply_statfs(req, &sv);
}

void OpInit(void*, fuse_conn_info* conn) {
  // Plain READDIR by default: a listing then makes no inode for names the
  // program does not look at (ls -R of the kernel tree: 0.85 s and 40 MiB
  // against 1.17 s and 74 MiB with READDIRPLUS, which hands the kernel an
  // inode for every name); READDIRPLUS makes ls -l of huge folders faster
  // (ls -lR of that tree: 2.0 s against 4.8 s). CAIRN_MOUNT_READDIRPLUS=1
  // turns it on (docs/cli.md#mount).
  const char* plus = std::getenv("CAIRN_MOUNT_READDIRPLUS");
  if (plus == nullptr || std::string(plus) != "1") {
    conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  }
  // Symlink targets never change under one inode (a moved branch gets a
  // new one), so the kernel may keep them: a path through latest/ then
  // costs no READLINK per file.
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  // Larger reads mean fewer round trips through the kernel.
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want &= ~FUSE_CAP_SPLICE_WRITE;
  conn->max_readahead = std::min<unsigned>(conn->max_readahead, 1u << 20);
}

// The messages of a running mount: stderr in the foreground or with --log
// (stderr is the log file then), else syslog.
struct MountLog {
  bool to_syslog = false;
  std::mutex mu;
  void Write(const std::string& msg) {
    if (to_syslog) {
      syslog(LOG_WARNING, "%s", OneLine(msg).c_str());
      return;
    }
    std::time_t now = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    std::lock_guard<std::mutex> l(mu);
    std::fprintf(stderr, "%s cairn mount: %s\n", when, OneLine(msg).c_str());
    std::fflush(stderr);
  }
};

Status CheckMountpoint(const std::string& mp) {
  struct stat st;
  if (::stat(mp.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::NotFound("mount point '" + mp + "' does not exist; create an empty folder and mount there");
    }
    return Status::FromErrno(errno, "cannot use mount point '" + mp + "'");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("mount point '" + mp + "' is not a folder; mount on an empty folder");
  }
  std::error_code ec;
  auto it = std::filesystem::directory_iterator(mp, ec);
  if (ec) return Status::IOError("cannot list mount point '" + mp + "': " + ec.message());
  if (it != std::filesystem::directory_iterator()) {
    return Status::AlreadyExists("mount point '" + mp +
                                 "' is not empty: the mount would hide its files; mount on an empty folder");
  }
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    int err = errno;
    return Status::NotSupported(std::string("cannot open /dev/fuse (") + std::strerror(err) +
                                "): this machine or container has no FUSE; load the fuse module "
                                "(modprobe fuse) or give the container /dev/fuse");
  }
  return Status::OK();
}

// The background child says "ok" through this pipe once the file system is
// mounted; the parent exits 0 then, or with the child's exit code if the
// pipe closes without it.
int WaitForChild(pid_t pid, int fd) {
  char buf[3] = {};
  ssize_t n;
  do {
    n = ::read(fd, buf, 2);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n == 2 && std::string(buf, 2) == "ok") return kExitOk;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? kExitFailure : WEXITSTATUS(status);
  std::cerr << "cairn: error: the mount process ended before the file system was mounted\n";
  return kExitFailure;
}

int RunMount(Context& ctx, const MountCmd& o) {
  if (o.mountpoint.empty()) {
    return ctx.Fail(Status::InvalidArgument("mount needs a mount point: cairn mount MOUNTPOINT"));
  }
  if (o.refresh_s < 0 || o.refresh_s > 86400) {
    return ctx.Fail(Status::InvalidArgument("--refresh must be between 0 and 86400 seconds"));
  }
  if (o.cache_mib < 4 || o.cache_mib > (1u << 20)) {
    return ctx.Fail(Status::InvalidArgument("--cache must be between 4 and 1048576 MiB"));
  }
  std::string mp = std::filesystem::absolute(o.mountpoint).lexically_normal().string();
  if (mp.size() > 1 && mp.back() == '/') mp.pop_back();
  Status checked = CheckMountpoint(mp);
  if (!checked.ok()) return ctx.Fail(checked);

  // In the background the work happens in a child forked now, before the
  // repository is opened: LMDB and threads do not survive a fork. The
  // child still has the terminal for a password prompt.
  int ready = -1;
  if (!o.foreground) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return ctx.Fail(Status::FromErrno(errno, "cannot make a pipe"));
    std::cout.flush();
    std::cerr.flush();
    pid_t pid = ::fork();
    if (pid < 0) return ctx.Fail(Status::FromErrno(errno, "cannot start the mount process"));
    if (pid > 0) {
      ::close(p[1]);
      int code = WaitForChild(pid, p[0]);
      if (code == kExitOk && !ctx.g().quiet && !ctx.g().json) {
        std::cout << "mounted at " << mp << " (unmount: fusermount3 -u " << mp << ")\n";
      }
      if (code == kExitOk && ctx.g().json) {
        std::cout << Dump(nlohmann::json{{"mountpoint", mp}, {"pid", pid}}) << "\n";
      }
      std::exit(code);
    }
    ::close(p[0]);
    ready = p[1];
  }

  CAIRN_OPEN_OR_FAIL(ctx, r);
  // Announced like a restore, so that a prune does not delete the packs
  // the mount reads (docs/gc.md); a read-only repository is read without.
  auto session = objstore::BeginSession(r.backend(), "mount");

  auto log = std::make_shared<MountLog>();
  if (!o.foreground && o.log_file.empty()) {
    log->to_syslog = true;
    openlog("cairn", LOG_PID, LOG_USER);
  }
  SnapshotFs::Options fo;
  fo.uid = ::getuid();
  fo.gid = ::getgid();
  fo.refresh = std::chrono::milliseconds(static_cast<int64_t>(o.refresh_s * 1000));
  fo.chunk_cache_bytes = static_cast<size_t>(o.cache_mib) << 20;
  fo.tree_cache_bytes = 8u << 20;
  // Chunks are read by one thread and freed by another: with an arena per
  // FUSE thread, freed memory scatters (measured: 176 MiB peak against
  // 128 MiB with two arenas, reading the kernel tree, bench/README.md).
  mallopt(M_ARENA_MAX, 2);
  fo.log = [log](const std::string& m) { log->Write(m); };
  g_top_timeout = o.refresh_s;
  SnapshotFs fs(&r, fo);

  // Without --allow-other only the user who mounted can enter, and sees
  // everything (as restore would). With it, the kernel checks the stored
  // owners and modes, so other users see only what they could before.
  std::string opts = "ro,fsname=cairn,subtype=cairn";
  if (o.allow_other) opts += ",allow_other,default_permissions";
  std::vector<std::string> args_s = {"cairn", "-o", opts};
  std::vector<char*> argv;
  for (auto& a : args_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  // libfuse copies the arguments it parses into memory of its own.
  struct FreeArgs {
    fuse_args* a;
    ~FreeArgs() { fuse_opt_free_args(a); }
  } free_args{&args};

  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof(ops));
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.readlink = OpReadlink;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.readdirplus = OpReaddirplus;
  ops.releasedir = OpReleasedir;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.release = OpRelease;
  ops.statfs = OpStatfs;

  fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), &fs);
  if (se == nullptr) return ctx.Fail(Status::IOError("cannot start a FUSE session (see the message above)"));
  // From here a stop signal ends the session (before the loop starts too).
  auto stop = std::make_unique<StopSignals>(se);
  if (fuse_session_mount(se, mp.c_str()) != 0) {
    stop.reset();
    fuse_session_destroy(se);
    return ctx.Fail(Status::IOError("cannot mount at '" + mp + "' (see the message above)"));
  }
  if (ready >= 0) {
    // Mounted: leave the terminal and tell the parent.
    ::setsid();
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      if (o.log_file.empty()) ::dup2(devnull, 2);
      ::close(devnull);
    }
    if (!o.log_file.empty()) {
      int lf = ::open(o.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (lf >= 0) {
        ::dup2(lf, 2);
        ::close(lf);
      }
    }
    (void)!::write(ready, "ok", 2);
    ::close(ready);
  } else if (!ctx.g().quiet && !ctx.g().json) {
    std::cerr << "mounted at " << mp << "; Ctrl-C or fusermount3 -u " << mp << " to unmount\n";
  }
  fo.log("mounted " + r.location() + " at " + mp);

  fuse_loop_config cfg;
  cfg.clone_fd = 0;
  cfg.max_idle_threads = 10;
  int rc = fuse_session_loop_mt(se, &cfg);
  stop.reset();
  fuse_session_unmount(se);
  fuse_session_destroy(se);
  fo.log("unmounted " + mp);
  if (rc != 0 && rc != SIGINT && rc != SIGTERM && rc != SIGHUP) {
    return ctx.Fail(Status::IOError("the mount at '" + mp + "' ended with an error: " + std::strerror(std::abs(rc))));
  }
  return kExitOk;
}

}  // namespace

void RegisterMount(CLI::App& app, Context& ctx, Action* action) {
  auto m = std::make_shared<MountCmd>();
  auto* c = app.add_subcommand("mount", "browse the snapshots as a read-only file system (FUSE)");
  c->add_option("MOUNTPOINT", m->mountpoint, "an empty folder");
  c->add_flag("--allow-other", m->allow_other,
              "let other users in (the kernel then checks the stored owners and modes; needs user_allow_other "
              "in /etc/fuse.conf when not root)");
  c->add_flag("-f,--foreground", m->foreground, "stay in the foreground; Ctrl-C unmounts");
  c->add_option("--log", m->log_file, "append the mount's messages to this file (default: syslog in the background)");
  c->add_option("--refresh", m->refresh_s, "pick up new snapshots and refs at most this often, in seconds (default 2)");
  c->add_option("--cache", m->cache_mib, "MiB of decoded chunks to keep (default 32)");
  c->callback([&ctx, action, m] { *action = [&ctx, m] { return RunMount(ctx, *m); }; });
}

}  // namespace cairn::cli
