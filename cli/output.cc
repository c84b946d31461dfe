// SPDX-License-Identifier: MIT

#include "cli/output.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "objstore/snapshot_json.h"

namespace cairn::cli {

using nlohmann::json;

int ExitCodeFor(const Status& st) {
  switch (st.code()) {
    case Code::kOk: return kExitOk;
    case Code::kInvalidArgument:
    case Code::kAmbiguous: return kExitUsage;
    case Code::kNotFound: return kExitNotFound;
    case Code::kCorruption: return kExitDamaged;
    case Code::kAlreadyExists: return kExitExists;
    case Code::kNotApproved: return kExitNotApproved;
    case Code::kWrongKey: return kExitWrongKey;
    case Code::kAccessDenied: return kExitAccessDenied;
    case Code::kWriteOnly: return kExitWriteOnly;
    default: return kExitFailure;
  }
}

std::string OneLine(const std::string& msg) {
  bool plain = true;
  for (unsigned char c : msg) plain = plain && c >= 0x20 && c != 0x7f;
  if (plain) return msg;
  std::string out;
  for (unsigned char c : msg) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    u++;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f %s", v, units[u]);
  }
  return buf;
}

std::string ModeString(const objstore::TreeEntry& e) {
  using objstore::EntryType;
  char t = '-';
  switch (e.type) {
    case EntryType::kDir: t = 'd'; break;
    case EntryType::kSymlink: t = 'l'; break;
    case EntryType::kFifo: t = 'p'; break;
    case EntryType::kCharDevice: t = 'c'; break;
    case EntryType::kBlockDevice: t = 'b'; break;
    case EntryType::kHardlink: t = 'h'; break;
    case EntryType::kGitlink: t = 'm'; break;  // a git submodule
    default: break;
  }
  std::string s(10, '-');
  s[0] = t;
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; i++) {
    if (e.mode & (1u << (8 - i))) s[static_cast<size_t>(i + 1)] = rwx[i];
  }
  if (e.mode & S_ISUID) s[3] = (e.mode & S_IXUSR) ? 's' : 'S';
  if (e.mode & S_ISGID) s[6] = (e.mode & S_IXGRP) ? 's' : 'S';
  if (e.mode & S_ISVTX) s[9] = (e.mode & S_IXOTH) ? 't' : 'T';
  return s;
}

std::string FormatTimeNs(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  if (ns < 0 && ns % 1000000000 != 0) secs--;
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string IsoTimeNs(int64_t ns) {
  std::string base = objstore::FormatTime(ns);  // ...SSZ
  long frac = static_cast<long>(ns % 1000000000);
  if (frac < 0) frac += 1000000000;
  char buf[16];
  std::snprintf(buf, sizeof(buf), ".%09ldZ", frac);
  return base.substr(0, base.size() - 1) + buf;
}

json SnapshotJson(const ObjectId& id, const objstore::Snapshot& s) {
  // The stored encoding, without its format version, plus the id and a
  // readable time.
  json j = objstore::SnapshotToJson(s);
  j.erase("v");
  j["id"] = id.ToHex();
  j["short_id"] = id.ShortHex();
  j["time"] = IsoTimeNs(s.time_ns);
  return j;
}

json EntryJson(const std::string& path, const objstore::TreeEntry& e) {
  using objstore::EntryType;
  json j;
  j["path"] = path;
  j["name"] = e.name;
  j["type"] = objstore::EntryTypeName(e.type);
  j["mode"] = e.mode;
  j["uid"] = e.uid;
  j["gid"] = e.gid;
  j["user"] = e.user;
  j["group"] = e.group;
  j["size"] = e.size;
  j["mtime"] = IsoTimeNs(e.mtime_ns);
  j["mtime_ns"] = e.mtime_ns;
  if (e.type == EntryType::kSymlink || e.type == EntryType::kHardlink) j["target"] = e.link_target;
  if (e.type == EntryType::kGitlink) j["commit"] = e.link_target;
  if (e.type == EntryType::kDir) j["subtree"] = e.subtree.ToHex();
  if (e.type == EntryType::kFile || e.type == EntryType::kHardlink) {
    j["chunks"] = json::array();
    for (const auto& c : e.chunks) j["chunks"].push_back(c.ToHex());
  }
  if (e.type == EntryType::kCharDevice || e.type == EntryType::kBlockDevice) j["rdev"] = e.rdev;
  return j;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

ProgressLine::ProgressLine(bool enabled, std::function<std::string()> render) {
  active_ = enabled && ::isatty(STDERR_FILENO);
  if (!active_) return;
  thread_ = std::thread([this, render = std::move(render)] {
    while (!stop_) {
      for (int i = 0; i < 25 && !stop_; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (stop_) break;
      std::string line = render();
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      std::fflush(stderr);
    }
  });
}

ProgressLine::~ProgressLine() {
  if (!active_) return;
  stop_ = true;
  thread_.join();
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

std::string RateAndEta(uint64_t done, uint64_t total, double seconds) {
  if (seconds <= 0.05) return "";
  double rate = static_cast<double>(done) / seconds;
  std::string out = HumanBytes(static_cast<uint64_t>(rate)) + "/s";
  if (total > done && rate > 0) {
    uint64_t eta = static_cast<uint64_t>(static_cast<double>(total - done) / rate);
    char buf[32];
    std::snprintf(buf, sizeof(buf), "  ETA %llu:%02llu", static_cast<unsigned long long>(eta / 60),
                  static_cast<unsigned long long>(eta % 60));
    out += buf;
  }
  return out;
}

}  // namespace cairn::cli
