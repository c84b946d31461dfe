// SPDX-License-Identifier: MIT
//
// The S3 backend (s3.h) over libcurl. Requests are signed by libcurl's SigV4
// signer (CURLOPT_AWS_SIGV4); this file gives it what curl 7.88 leaves to
// the caller: the payload's SHA-256 in x-amz-content-sha256, and a query
// string already sorted and percent-encoded. Every upload also carries
// Content-MD5, which the server checks against what it received.
//
// Each call is one request (PutFile above the multipart threshold: one per
// part, plus two), retried with exponential backoff and full jitter on
// connection failures, timeouts, stalls, 5xx, 429 and S3's RequestTimeout,
// never past S3Options::deadline. See docs/s3.md.

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <list>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "objstore/core/system.h"
#include "objstore/s3.h"

namespace cairn::objstore {
namespace {

// --- small helpers ---

std::string Hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; i++) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}

std::string Base64(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

// The SHA-256 (hex) and MD5 (base64) of a payload, as the two headers want them.
struct Digests {
  std::string sha256_hex;
  std::string md5_base64;
};

Digests Digest(std::string_view data) {
  unsigned char sha[EVP_MAX_MD_SIZE], md5[EVP_MAX_MD_SIZE];
  unsigned int sha_len = 0, md5_len = 0;
  EVP_Digest(data.data(), data.size(), sha, &sha_len, EVP_sha256(), nullptr);
  EVP_Digest(data.data(), data.size(), md5, &md5_len, EVP_md5(), nullptr);
  return {Hex(sha, sha_len), Base64(md5, md5_len)};
}

// The digests of `size` bytes of file `fd` from `offset`, read in blocks,
// so that a pack is never held in memory whole.
Result<Digests> DigestFile(int fd, uint64_t offset, uint64_t size, const std::string& path) {
  EVP_MD_CTX* sha = EVP_MD_CTX_new();
  EVP_MD_CTX* md5 = EVP_MD_CTX_new();
  EVP_DigestInit_ex(sha, EVP_sha256(), nullptr);
  EVP_DigestInit_ex(md5, EVP_md5(), nullptr);
  std::string buf(1 << 20, '\0');
  uint64_t done = 0;
  Status st;
  while (done < size) {
    ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), size - done), static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      st = n < 0 ? Status::FromErrno(errno, "cannot read '" + path + "'") : Status::IOError("'" + path + "' ended early");
      break;
    }
    EVP_DigestUpdate(sha, buf.data(), static_cast<size_t>(n));
    EVP_DigestUpdate(md5, buf.data(), static_cast<size_t>(n));
    done += static_cast<uint64_t>(n);
  }
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  unsigned int al = 0, bl = 0;
  EVP_DigestFinal_ex(sha, a, &al);
  EVP_DigestFinal_ex(md5, b, &bl);
  EVP_MD_CTX_free(sha);
  EVP_MD_CTX_free(md5);
  if (!st.ok()) return st;
  return Digests{Hex(a, al), Base64(b, bl)};
}

std::string Md5Hex(std::string_view data) {
  unsigned char md5[EVP_MAX_MD_SIZE];
  unsigned int md5_len = 0;
  EVP_Digest(data.data(), data.size(), md5, &md5_len, EVP_md5(), nullptr);
  return Hex(md5, md5_len);
}

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay,
// and '/' too when `keep_slash` (object keys).
std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string XmlUnescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back(s[i]);
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") {
      out.push_back('&');
    } else if (ent == "lt") {
      out.push_back('<');
    } else if (ent == "gt") {
      out.push_back('>');
    } else if (ent == "quot") {
      out.push_back('"');
    } else if (ent == "apos") {
      out.push_back('\'');
    } else if (ent.size() > 1 && ent[0] == '#') {
      unsigned long cp = ent[1] == 'x' ? std::strtoul(std::string(ent.substr(2)).c_str(), nullptr, 16)
                                       : std::strtoul(std::string(ent.substr(1)).c_str(), nullptr, 10);
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

// The text of each <tag>…</tag> in `xml`, in order, calling fn(inner) for
// each; inner is not unescaped. Enough for S3's flat responses.
template <typename Fn>
void EachElement(std::string_view xml, std::string_view tag, Fn fn) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t start = pos + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) return;
    fn(xml.substr(start, end - start));
    pos = end + close.size();
  }
}

std::string FirstElement(std::string_view xml, std::string_view tag) {
  std::string found;
  bool done = false;
  EachElement(xml, tag, [&](std::string_view inner) {
    if (!done) found = XmlUnescape(inner);
    done = true;
  });
  return found;
}

// "2026-11-22T08:00:00.000Z" -> Unix ns (0 if malformed).
int64_t ParseIsoTime(const std::string& s) {
  std::tm tm{};
  if (::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  return static_cast<int64_t>(::timegm(&tm)) * 1000000000;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

// --- one HTTP exchange ---

struct Request {
  std::string method = "GET";
  std::string name;  // the Backend name ("" for the bucket itself); the key is prefix + name
  std::vector<std::pair<std::string, std::string>> query;  // not yet encoded
  std::vector<std::string> headers;                        // "Name: value"
  std::string_view body;                                   // PUT / POST payload
  // Or a PUT payload read from a file as it is sent: body_size bytes of
  // body_fd from body_offset, whose digests the caller computed.
  int body_fd = -1;
  uint64_t body_offset = 0, body_size = 0;
  Digests body_digests;
  bool head = false;                                       // HEAD: no body expected
  uint64_t expect_size = 0;                                // reserve for the response body
};

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  int attempts = 0;

  std::string Header(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string S3Code() const { return FirstElement(body, "Code"); }
};

struct Transfer {
  std::string_view upload;
  size_t upload_pos = 0;
  int fd = -1;                 // the upload from a file instead
  uint64_t fd_offset = 0, fd_size = 0;
  int read_errno = 0;          // a failed read of the file
  Response* response = nullptr;

  size_t UploadSize() const { return fd >= 0 ? fd_size : upload.size(); }
};

size_t OnWrite(char* p, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  t->response->body.append(p, size * n);
  return size * n;
}

size_t OnRead(char* p, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  size_t take = std::min(size * n, t->UploadSize() - t->upload_pos);
  if (t->fd >= 0) {
    size_t done = 0;
    while (done < take) {
      ssize_t got = ::pread(t->fd, p + done, take - done, static_cast<off_t>(t->fd_offset + t->upload_pos + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        t->read_errno = got < 0 ? errno : EIO;
        return CURL_READFUNC_ABORT;
      }
      done += static_cast<size_t>(got);
    }
  } else {
    std::memcpy(p, t->upload.data() + t->upload_pos, take);
  }
  t->upload_pos += take;
  return take;
}

int OnSeek(void* ud, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(ud);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->UploadSize()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->upload_pos = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t OnHeader(char* p, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  std::string_view line(p, size * n);
  if (line.substr(0, 5) == "HTTP/") t->response->headers.clear();  // a new response (after 100-continue)
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string key(line.substr(0, colon));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    t->response->headers[key] = std::string(v);
  }
  return size * n;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool Retryable(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

bool RetryableStatus(const Response& r) {
  if (r.status >= 500 || r.status == 429 || r.status == 408) return true;
  if (r.status == 400) {
    std::string code = r.S3Code();
    return code == "RequestTimeout" || code == "SlowDown";
  }
  return false;
}

class S3Backend : public Backend {
 public:
  explicit S3Backend(S3Options o) : o_(std::move(o)) {
    GlobalInit();
    const std::string tmpdir = Env("TMPDIR").empty() ? "/tmp" : Env("TMPDIR");
    RemoveStaleStaging(tmpdir);
    std::string tmpl = tmpdir + "/" + std::string(kStagingPrefix) + std::to_string(::getpid()) + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) staging_ = tmpl;
    std::random_device rd;
    rng_.seed((static_cast<uint64_t>(rd()) << 32) ^ rd());
  }

  ~S3Backend() override {
    for (CURL* h : pool_) curl_easy_cleanup(h);
    if (!staging_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(staging_, ec);
    }
    if (!o_.stats_file.empty()) {
      std::ofstream out(o_.stats_file, std::ios::app);
      out << "{\"location\":\"" << o_.location.Display() << "\",\"requests\":" << total_.load();
      for (size_t i = 0; i < kKinds; i++) out << ",\"" << kKindNames[i] << "\":" << counts_[i].load();
      out << ",\"retries\":" << retries_.load() << "}\n";
    }
  }

  Status Create() override {
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(Bucket("HEAD"), &r));
    if (r.status == 404) {
      Request put = Bucket("PUT");
      std::string body;
      if (o_.region != "us-east-1") {
        body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>" +
               o_.region + "</LocationConstraint></CreateBucketConfiguration>";
      }
      put.body = body;
      Response c;
      CAIRN_RETURN_IF_ERROR(Do(put, &c));
      if (c.status != 200 && !(c.status == 409 && c.S3Code() == "BucketAlreadyOwnedByYou")) {
        return Error(c, "create bucket");
      }
    } else if (r.status != 200) {
      return Error(r, "look up the bucket of");
    }
    bool anything = false;
    CAIRN_RETURN_IF_ERROR(List("", [&](const std::string&, uint64_t) { anything = true; }));
    if (anything) {
      return Status::AlreadyExists("'" + Location() + "' is not empty; give a new prefix (s3:…/BUCKET/PREFIX)");
    }
    return Status::OK();
  }

  Status Put(std::string_view name, std::string_view data) override { return PutObject(name, data, false); }

  Status PutIfAbsent(std::string_view name, std::string_view data) override {
    return PutObject(name, data, true);
  }

  // If-Match on the ETag of the expected bytes (small objects are single
  // part, so their ETag is their MD5).
  Status PutIfMatch(std::string_view name, std::string_view data, std::string_view expected) override {
    Request req;
    req.method = "PUT";
    req.name = name;
    req.body = data;
    // Unquoted: AWS takes it either way, Ceph RGW only so.
    req.headers.push_back("If-Match: " + Md5Hex(expected));
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(req, &r));
    if (r.status == 200) return Status::OK();
    if (r.status == 412 || r.status == 409 || r.status == 404) {
      // A retry whose first answer was lost finds its own bytes.
      if (r.attempts > 1) {
        auto got = Get(name);
        if (got.ok() && *got == data) return Status::OK();
      }
      return Status::Conflict("'" + std::string(name) + "' was changed by another process");
    }
    return Error(r, "write", name);
  }

  Status PutFile(std::string_view name, const std::string& local_path) override {
    int fd = ::open(local_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "cannot open '" + local_path + "'");
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "cannot stat '" + local_path + "'");
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    Status s = size > o_.multipart_threshold ? PutMultipart(name, fd, size, local_path)
                                             : PutWhole(name, fd, size, local_path);
    ::close(fd);
    if (s.ok()) ::unlink(local_path.c_str());
    return s;
  }

  std::string StagingDir() const override { return staging_; }

  // The staging folders of killed processes ("cairn-s3-staging-PID-…" in
  // TMPDIR whose PID no longer runs, untouched for an hour, so that a
  // process of another PID namespace sharing TMPDIR keeps its own): their
  // half-filled packs were never uploaded, so nothing refers to them.
  static void RemoveStaleStaging(const std::string& tmpdir) {
    std::error_code ec;
    const auto now = std::filesystem::file_time_type::clock::now();
    for (const auto& e : std::filesystem::directory_iterator(tmpdir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(kStagingPrefix, 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + kStagingPrefix.size(), nullptr, 10);
      if (pid <= 0 || !ProcessGone(pid)) continue;  // malformed, or running (another user's counts)
      std::error_code st;
      auto written = std::filesystem::last_write_time(e.path(), st);
      if (st || now - written < std::chrono::hours(1)) continue;
      std::error_code rm;
      std::filesystem::remove_all(e.path(), rm);
    }
  }

  Status RemoveStaleTemporaries(int64_t now_ns, int64_t min_age_ns, bool dry_run, uint64_t* count,
                                uint64_t* bytes) override {
    // Unfinished multipart uploads (a process killed between the parts):
    // invisible to readers, but the server keeps their parts.
    std::string marker_key, marker_id;
    for (;;) {
      Request req = Bucket("GET");
      req.query = {{"prefix", KeyPrefix()}, {"uploads", ""}};
      if (!marker_key.empty()) {
        req.query.push_back({"key-marker", marker_key});
        req.query.push_back({"upload-id-marker", marker_id});
      }
      Response r;
      CAIRN_RETURN_IF_ERROR(Do(req, &r));
      if (r.status != 200) return Error(r, "list the unfinished uploads of");
      const int64_t offset = ClockOffset(r);
      Status failed;
      EachElement(r.body, "Upload", [&](std::string_view up) {
        std::string key = FirstElement(up, "Key"), id = FirstElement(up, "UploadId");
        int64_t initiated = ParseIsoTime(FirstElement(up, "Initiated"));
        if (initiated == 0 || now_ns - (initiated + offset) < min_age_ns) return;
        *count += 1;
        (void)bytes;
        if (dry_run || !failed.ok()) return;
        Request abort;
        abort.method = "DELETE";
        abort.name = key.substr(KeyPrefix().size());
        abort.query = {{"uploadId", id}};
        Response a;
        Status st = Do(abort, &a);
        if (st.ok() && a.status != 204 && a.status != 200 && a.status != 404) st = Error(a, "abort an upload of");
        if (!st.ok()) failed = st;
      });
      CAIRN_RETURN_IF_ERROR(failed);
      if (FirstElement(r.body, "IsTruncated") != "true") return Status::OK();
      marker_key = FirstElement(r.body, "NextKeyMarker");
      marker_id = FirstElement(r.body, "NextUploadIdMarker");
      if (marker_key.empty()) return Status::OK();
    }
  }

  Result<std::string> Get(std::string_view name) override {
    Request req;
    req.name = name;
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(req, &r));
    if (r.status == 404) return NotFound(r, name);
    if (r.status != 200) return Error(r, "read", name);
    // A single-part object's ETag is the MD5 of its bytes: a transfer that
    // delivered other bytes than were stored is caught here.
    std::string etag = r.Header("etag");
    etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
    if (etag.size() == 32 && etag.find('-') == std::string::npos && Md5Hex(r.body) != etag) {
      return Status::IOError("S3 object '" + std::string(name) + "' arrived damaged (its MD5 differs from its ETag)");
    }
    return std::move(r.body);
  }

  Result<std::string> GetRange(std::string_view name, uint64_t offset, uint64_t length) override {
    return WindowedRange(kDataPool, name, offset, length);
  }

  Result<std::string> GetMetadataRange(std::string_view name, uint64_t offset, uint64_t length) override {
    return WindowedRange(kMetadataPool, name, offset, length);
  }

  // A small read (a chunk, a tree) is served from a window of the object
  // read in one request: restore, ls and check read the blobs of a pack in
  // about the order they were written. Trees and file content have a pool
  // of windows each.
  Result<std::string> WindowedRange(size_t pool, std::string_view name, uint64_t offset, uint64_t length) {
    if (length == 0 || length >= o_.read_window / 2) return ReadRange(name, offset, length, false);
    const uint64_t end = offset + length;
    std::shared_ptr<const Window> w = FindWindow(pool, name, offset, end);
    if (w == nullptr) {
      // Aligned, unless the read crosses a window's end: then from the read
      // on, so that the window does not repeat the one before.
      uint64_t start = offset - offset % o_.read_window;
      if (end > start + o_.read_window) start = offset;
      // Another thread may be reading the window that holds this range
      // (restore's workers read neighbouring blobs of one pack at once):
      // wait for its answer instead of reading the same bytes again.
      std::shared_future<std::shared_ptr<const Window>> pending;
      std::promise<std::shared_ptr<const Window>> mine;
      {
        std::lock_guard<std::mutex> l(window_mu_);
        for (const auto& f : fetching_[pool]) {
          if (f.name == name && f.offset <= offset && end <= f.offset + o_.read_window) {
            pending = f.result;
            break;
          }
        }
        if (!pending.valid()) fetching_[pool].push_back({std::string(name), start, mine.get_future().share()});
      }
      if (pending.valid()) {
        w = pending.get();  // null if that read failed: this one reads for itself
        if (w != nullptr && w->offset + w->bytes.size() >= end) return w->bytes.substr(offset - w->offset, length);
        w = nullptr;
      } else {
        auto bytes = ReadRange(name, start, o_.read_window, /*allow_short=*/true);
        std::shared_ptr<Window> nw;
        if (bytes.ok()) {
          nw = std::make_shared<Window>();
          nw->name = name;
          nw->offset = start;
          nw->bytes = std::move(bytes).value();
          StoreWindow(pool, nw);
        }
        {
          std::lock_guard<std::mutex> l(window_mu_);
          auto& f = fetching_[pool];
          f.erase(std::remove_if(f.begin(), f.end(), [&](const Fetching& x) { return x.name == name && x.offset == start; }),
                  f.end());
        }
        mine.set_value(nw);
        if (!bytes.ok()) return bytes.status();
        w = nw;
      }
      if (w == nullptr) {
        CAIRN_ASSIGN_OR_RETURN(std::string bytes, ReadRange(name, start, o_.read_window, /*allow_short=*/true));
        auto nw = std::make_shared<Window>();
        nw->name = name;
        nw->offset = start;
        nw->bytes = std::move(bytes);
        w = nw;
        StoreWindow(pool, nw);
      }
    }
    if (w->offset + w->bytes.size() < end) return Short(name);
    return w->bytes.substr(offset - w->offset, length);
  }

  Result<std::string> ReadRange(std::string_view name, uint64_t offset, uint64_t length, bool allow_short) {
    if (length == 0) {
      CAIRN_ASSIGN_OR_RETURN(uint64_t size, Stat(name));
      if (offset > size) return Short(name);
      return std::string();
    }
    Request req;
    req.name = name;
    req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
    req.expect_size = length;
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(req, &r));
    if (r.status == 404) return NotFound(r, name);
    if (r.status == 416) return Short(name);
    if (r.status == 200) {  // the whole object: a server that ignores Range
      if (r.body.size() < offset + length) return Short(name);
      return r.body.substr(offset, length);
    }
    if (r.status != 206) return Error(r, "read", name);
    if (r.body.size() > length || (r.body.size() < length && !allow_short)) {
      // A shorter body for a range that fits is a short object.
      return Short(name);
    }
    return std::move(r.body);
  }

  struct Window {
    std::string name;
    uint64_t offset = 0;
    std::string bytes;
  };
  // A window being read: [offset, offset + read_window) of object `name`.
  struct Fetching {
    std::string name;
    uint64_t offset = 0;
    std::shared_future<std::shared_ptr<const Window>> result;
  };

  static constexpr size_t kDataPool = 0, kMetadataPool = 1;

  std::shared_ptr<const Window> FindWindow(size_t pool, std::string_view name, uint64_t begin, uint64_t end) {
    std::lock_guard<std::mutex> l(window_mu_);
    auto& windows = windows_[pool];
    for (auto it = windows.begin(); it != windows.end(); ++it) {
      const auto& w = *it;
      if (w->name == name && w->offset <= begin && end <= w->offset + w->bytes.size()) {
        auto found = *it;
        windows.erase(it);
        windows.push_front(found);  // most recently used first
        return found;
      }
    }
    return nullptr;
  }

  void StoreWindow(size_t pool, std::shared_ptr<const Window> w) {
    std::lock_guard<std::mutex> l(window_mu_);
    auto& windows = windows_[pool];
    windows.push_front(std::move(w));
    const size_t keep = pool == kMetadataPool ? std::max<size_t>(1, o_.read_windows / 2) : o_.read_windows;
    while (windows.size() > keep) windows.pop_back();
  }

  // HEAD of object `name`: its response, NotFound, or the failure.
  Result<Response> Head(std::string_view name) {
    Request req;
    req.method = "HEAD";
    req.head = true;
    req.name = name;
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(req, &r));
    if (r.status == 404) return NotFound(r, name);
    if (r.status != 200) return Error(r, "look up", name);
    return r;
  }

  Result<uint64_t> Stat(std::string_view name) override {
    CAIRN_ASSIGN_OR_RETURN(Response r, Head(name));
    return static_cast<uint64_t>(std::strtoull(r.Header("content-length").c_str(), nullptr, 10));
  }

  Status List(std::string_view prefix,
              const std::function<void(const std::string& name, uint64_t size)>& fn) override {
    std::string token;
    const std::string base = KeyPrefix();
    for (;;) {
      Request req = Bucket("GET");
      req.query = {{"list-type", "2"}, {"prefix", base + std::string(prefix)}};
      if (!token.empty()) req.query.push_back({"continuation-token", token});
      Response r;
      CAIRN_RETURN_IF_ERROR(Do(req, &r, "LIST"));
      if (r.status == 404) return NotFound(r, prefix);
      if (r.status != 200) return Error(r, "list", prefix);
      std::vector<std::pair<std::string, uint64_t>> found;
      EachElement(r.body, "Contents", [&](std::string_view c) {
        std::string key = FirstElement(c, "Key");
        if (key.compare(0, base.size(), base) != 0) return;
        found.emplace_back(key.substr(base.size()), std::strtoull(FirstElement(c, "Size").c_str(), nullptr, 10));
      });
      for (const auto& [n, s] : found) fn(n, s);  // fn may call back into the backend
      if (FirstElement(r.body, "IsTruncated") != "true") return Status::OK();
      token = FirstElement(r.body, "NextContinuationToken");
      if (token.empty()) {
        return Status::IOError("S3 listing of '" + Location() + "' is truncated but gives no continuation token");
      }
    }
  }

  Result<int64_t> ModifiedNs(std::string_view name) override {
    CAIRN_ASSIGN_OR_RETURN(Response r, Head(name));
    time_t t = curl_getdate(r.Header("last-modified").c_str(), nullptr);
    if (t < 0) return Status::NotSupported("S3 gave no Last-Modified for '" + std::string(name) + "'");
    // In this host's clock: the server's time plus the difference between
    // the clocks seen in this very response (its Date header), so a server
    // or a host with a wrong clock never makes an object look older.
    return static_cast<int64_t>(t) * 1000000000 + ClockOffset(r);
  }

  Status Remove(std::string_view name) override {
    Request req;
    req.method = "DELETE";
    req.name = name;
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(req, &r));
    if (r.status == 404) return NotFound(r, name);
    if (r.status != 204 && r.status != 200) return Error(r, "delete", name);
    return Status::OK();
  }

  std::string Location() const override { return o_.location.Display(); }
  bool Remote() const override { return true; }

 private:
  static constexpr std::string_view kStagingPrefix = "cairn-s3-staging-";
  static constexpr size_t kKinds = 6;
  static constexpr const char* kKindNames[kKinds] = {"GET", "PUT", "HEAD", "LIST", "DELETE", "POST"};

  std::string KeyPrefix() const { return o_.location.prefix.empty() ? "" : o_.location.prefix + "/"; }

  Request Bucket(const char* method) const {
    Request r;
    r.method = method;
    r.head = std::strcmp(method, "HEAD") == 0;
    r.name = "\x01";  // the bucket itself, not an object
    return r;
  }

  std::string Url(const Request& req) const {
    const S3Location& l = o_.location;
    std::string url = std::string(l.https ? "https://" : "http://");
    const bool bucket_only = req.name == "\x01";
    if (o_.virtual_hosted) {
      url += l.bucket + "." + l.host + "/";
    } else {
      url += l.host + "/" + l.bucket + (bucket_only ? "" : "/");
    }
    if (!bucket_only) url += UriEncode(KeyPrefix() + req.name, true);
    if (!req.query.empty()) {
      auto q = req.query;
      std::vector<std::pair<std::string, std::string>> enc;
      for (const auto& [k, v] : q) enc.emplace_back(UriEncode(k, false), UriEncode(v, false));
      std::sort(enc.begin(), enc.end());
      url += "?";
      for (size_t i = 0; i < enc.size(); i++) {
        if (i > 0) url += "&";
        url += enc[i].first + "=" + enc[i].second;
      }
    }
    return url;
  }

  CURL* TakeHandle() {
    std::lock_guard<std::mutex> l(pool_mu_);
    if (pool_.empty()) return curl_easy_init();
    CURL* h = pool_.back();
    pool_.pop_back();
    return h;
  }
  void GiveHandle(CURL* h) {
    std::lock_guard<std::mutex> l(pool_mu_);
    pool_.push_back(h);
  }

  // Local clock minus the server's, from a response's Date header (0 if none).
  static int64_t ClockOffset(const Response& r) {
    time_t server = curl_getdate(r.Header("date").c_str(), nullptr);
    if (server < 0) return 0;
    return NowNs() - static_cast<int64_t>(server) * 1000000000;
  }

  // Performs `req` with retries; *out gets the final response, whatever its
  // status. An error only when no response came (or a retryable one kept
  // coming) within the attempts, or when the next attempt would start
  // after the deadline: IOError saying what failed.
  Status Do(const Request& req, Response* out, const char* kind = nullptr) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + o_.deadline;
    std::string what = req.method + " " + (req.name == "\x01" ? "bucket '" + o_.location.bucket + "'" :
                                           "'" + req.name + "'");
    for (const auto& [k, v] : req.query) {
      if (k == "prefix") what = "LIST '" + v.substr(KeyPrefix().size()) + "'";
    }
    for (const auto& h : req.headers) {
      if (h.rfind("Range: ", 0) == 0) what += " " + h.substr(7);
    }
    const std::string url = Url(req);
    const Digests dig = req.body_fd >= 0 ? req.body_digests : Digest(req.body);
    std::string last;
    for (int attempt = 1;; attempt++) {
      Count(kind != nullptr ? kind : req.method.c_str());
      if (o_.trace) {
        std::fprintf(stderr, "cairn: s3 %s%s\n", what.c_str(), attempt > 1 ? (" (attempt " + std::to_string(attempt) + ")").c_str() : "");
      }
      *out = Response();
      out->attempts = attempt;
      int read_errno = 0;
      CURLcode rc = Perform(req, url, dig, out, &read_errno);
      if (read_errno != 0) {
        return Status::FromErrno(read_errno, "S3 " + what + ": cannot read the file being uploaded");
      }
      if (rc == CURLE_OK && !RetryableStatus(*out)) return Status::OK();
      if (rc != CURLE_OK) {
        last = std::string(curl_easy_strerror(rc));
        if (rc == CURLE_COULDNT_CONNECT) last = "cannot connect to " + o_.location.host + " (" + last + ")";
        if (rc == CURLE_COULDNT_RESOLVE_HOST) last = "cannot resolve host '" + o_.location.host + "'";
        if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
          last += o_.ca_file.empty() ? "; if the server's certificate is signed by a private CA, set CAIRN_S3_CA_FILE "
                                       "to that CA's certificate"
                                     : " (with CAIRN_S3_CA_FILE '" + o_.ca_file + "')";
        }
        if (!Retryable(rc)) {
          return Status::IOError("S3 " + what + " at " + Location() + " failed: " + last);
        }
      } else {
        std::string code = out->S3Code();
        last = "HTTP " + std::to_string(out->status) + (code.empty() ? "" : " " + code);
      }
      // Full jitter on an exponential step: 0.1 s, 0.2 s, … up to 10 s.
      double cap = std::min(10.0, 0.1 * static_cast<double>(1u << std::min(attempt - 1, 10)));
      double wait;
      {
        std::lock_guard<std::mutex> l(rng_mu_);
        wait = std::uniform_real_distribution<double>(0.0, cap)(rng_);
      }
      auto next = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(wait));
      if (attempt >= o_.max_attempts || next >= deadline) {
        double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        char secs[32];
        std::snprintf(secs, sizeof(secs), "%.1f", took);
        return Status::IOError("S3 " + what + " at " + Location() + " failed after " + std::to_string(attempt) +
                               " attempts in " + secs + " s: " + last);
      }
      retries_++;
      std::this_thread::sleep_until(next);
    }
  }

  // One attempt. A transfer that makes progress is never cut off (a pack on
  // a slow uplink may take minutes); one that stalls is, by curl's
  // low-speed rule. The deadline bounds the retries in Do().
  CURLcode Perform(const Request& req, const std::string& url, const Digests& dig, Response* out, int* read_errno) {
    CURL* h = TakeHandle();
    if (h == nullptr) return CURLE_OUT_OF_MEMORY;
    curl_easy_reset(h);
    Transfer t;
    t.upload = req.body;
    t.fd = req.body_fd;
    t.fd_offset = req.body_offset;
    t.fd_size = req.body_size;
    t.response = out;
    if (req.expect_size > 0) out->body.reserve(req.expect_size);
    const std::string sigv4 = "aws:amz:" + o_.region + ":s3";
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, o_.credentials.access_key.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, o_.credentials.secret_key.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!o_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(o_.stall_timeout.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnWrite);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);

    struct curl_slist* hdrs = nullptr;
    const bool has_body = req.method == "PUT" || req.method == "POST";
    hdrs = curl_slist_append(hdrs, ("x-amz-content-sha256: " + dig.sha256_hex).c_str());
    if (has_body) hdrs = curl_slist_append(hdrs, ("Content-MD5: " + dig.md5_base64).c_str());
    if (!o_.credentials.session_token.empty()) {
      hdrs = curl_slist_append(hdrs, ("x-amz-security-token: " + o_.credentials.session_token).c_str());
    }
    if (has_body) hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    // Where objects belong to the user who wrote them, a bucket's owner
    // (the full-key host that prunes) reads and removes what a write-only
    // host's own user wrote only through this grant (docs/s3.md).
    auto in_query = [&](std::string_view k) {
      return std::any_of(req.query.begin(), req.query.end(), [&](const auto& q) { return q.first == k; });
    };
    if (!o_.acl.empty() && ((req.method == "PUT" && !in_query("partNumber")) ||
                            (req.method == "POST" && in_query("uploads")))) {
      hdrs = curl_slist_append(hdrs, ("x-amz-acl: " + o_.acl).c_str());
    }
    for (const auto& x : req.headers) hdrs = curl_slist_append(hdrs, x.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    if (req.method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
      curl_easy_setopt(h, CURLOPT_READDATA, &t);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, OnSeek);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t.UploadSize()));
    } else if (req.method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else if (req.head) {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (req.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
      // A body shorter than its Content-Length is a broken transfer (curl
      // reports most of them as CURLE_PARTIAL_FILE itself).
      std::string cl = out->Header("content-length");
      if (!req.head && !cl.empty() && std::strtoull(cl.c_str(), nullptr, 10) != out->body.size()) {
        rc = CURLE_PARTIAL_FILE;
      }
    }
    *read_errno = t.read_errno;
    curl_slist_free_all(hdrs);
    // The handle keeps its connection for the next request.
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    GiveHandle(h);
    return rc;
  }

  void Count(const char* kind) {
    total_++;
    for (size_t i = 0; i < kKinds; i++) {
      if (std::strcmp(kind, kKindNames[i]) == 0) counts_[i]++;
    }
  }

  Status PutObject(std::string_view name, std::string_view data, bool if_absent) {
    Request req;
    req.method = "PUT";
    req.name = name;
    req.body = data;
    if (if_absent) req.headers.push_back("If-None-Match: *");
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(req, &r));
    if (r.status == 200) return Status::OK();
    if (if_absent && (r.status == 412 || r.status == 409)) {
      // A retry of a write whose first answer was lost finds its own object:
      // the same bytes mean this call stored it.
      if (r.attempts > 1) {
        auto got = Get(name);
        if (got.ok() && *got == data) return Status::OK();
      }
      return Status::AlreadyExists("'" + std::string(name) + "' already exists");
    }
    return Error(r, "write", name);
  }

  // A file region as the body of `req` (a PUT): hashed first, then read
  // again as it is sent, so no more than a block of it is in memory.
  Status SetFileBody(Request* req, int fd, uint64_t offset, uint64_t size, const std::string& path) {
    CAIRN_ASSIGN_OR_RETURN(req->body_digests, DigestFile(fd, offset, size, path));
    req->body_fd = fd;
    req->body_offset = offset;
    req->body_size = size;
    return Status::OK();
  }

  Status PutWhole(std::string_view name, int fd, uint64_t size, const std::string& path) {
    Request req;
    req.method = "PUT";
    req.name = name;
    CAIRN_RETURN_IF_ERROR(SetFileBody(&req, fd, 0, size, path));
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(req, &r));
    if (r.status != 200) return Error(r, "write", name);
    return Status::OK();
  }

  Status PutMultipart(std::string_view name, int fd, uint64_t size, const std::string& path) {
    Request init;
    init.method = "POST";
    init.name = name;
    init.query = {{"uploads", ""}};
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(init, &r));
    if (r.status != 200) return Error(r, "start an upload of", name);
    const std::string upload_id = FirstElement(r.body, "UploadId");
    if (upload_id.empty()) return Status::IOError("S3 gave no UploadId for '" + std::string(name) + "'");
    Status st = UploadParts(name, fd, size, path, upload_id);
    if (!st.ok()) {
      Request abort;
      abort.method = "DELETE";
      abort.name = name;
      abort.query = {{"uploadId", upload_id}};
      Response a;
      (void)Do(abort, &a);  // left over, it is removed by prune (RemoveStaleTemporaries)
    }
    return st;
  }

  Status UploadParts(std::string_view name, int fd, uint64_t size, const std::string& path,
                     const std::string& upload_id) {
    std::string complete = "<CompleteMultipartUpload>";
    int number = 1;
    for (uint64_t off = 0; off < size; off += o_.part_size, number++) {
      uint64_t n = std::min(o_.part_size, size - off);
      Request req;
      req.method = "PUT";
      req.name = name;
      CAIRN_RETURN_IF_ERROR(SetFileBody(&req, fd, off, n, path));
      req.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
      Response r;
      CAIRN_RETURN_IF_ERROR(Do(req, &r));
      if (r.status != 200) return Error(r, "upload a part of", name);
      std::string etag = r.Header("etag");
      if (etag.empty()) return Status::IOError("S3 gave no ETag for a part of '" + std::string(name) + "'");
      complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" + etag + "</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";
    Request fin;
    fin.method = "POST";
    fin.name = name;
    fin.body = complete;
    fin.query = {{"uploadId", upload_id}};
    Response r;
    CAIRN_RETURN_IF_ERROR(Do(fin, &r));
    if (r.attempts > 1 && r.status == 404 && r.S3Code() == "NoSuchUpload") {
      // A retry after the first completion's answer was lost: the upload
      // is gone because it was completed. The object must be there, whole.
      auto stored = Stat(name);
      if (stored.ok() && *stored == size) return Status::OK();
    }
    // S3 may answer 200 and still report an error in the body.
    if (r.status != 200 || r.body.find("<Error>") != std::string::npos) {
      return Error(r, "complete the upload of", name);
    }
    return Status::OK();
  }

  Status Short(std::string_view name) const {
    return Status::Corruption("'" + std::string(name) + "' is shorter than expected (truncated?)");
  }

  Status NotFound(const Response& r, std::string_view name) const {
    if (r.S3Code() == "NoSuchBucket" || name == "\x01") {
      return Status::NotFound("bucket '" + o_.location.bucket + "' does not exist at " +
                              std::string(o_.location.https ? "https://" : "http://") + o_.location.host +
                              "; create the repository with 'cairn init " + Location() + "'");
    }
    return Status::NotFound("no object '" + std::string(name) + "'");
  }

  // The failure a response stands for, in words that say what to do.
  Status Error(const Response& r, std::string_view doing, std::string_view name = {}) const {
    const std::string code = r.S3Code();
    const std::string msg = FirstElement(r.body, "Message");
    const std::string target = name.empty() || name == "\x01" ? "'" + Location() + "'"
                                                               : "'" + std::string(name) + "' in " + Location();
    const std::string region = r.Header("x-amz-bucket-region");
    if (!region.empty() && region != o_.region) {
      return Status::InvalidArgument("bucket '" + o_.location.bucket + "' is in region " + region + ", not " +
                                     o_.region + "; set AWS_DEFAULT_REGION=" + region);
    }
    if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || r.status == 301) {
      return Status::InvalidArgument("S3 refused the region " + o_.region + " for bucket '" + o_.location.bucket +
                                     "' (" + (code.empty() ? "HTTP " + std::to_string(r.status) : code) +
                                     (msg.empty() ? "" : ": " + msg) + "); set AWS_DEFAULT_REGION to its region");
    }
    if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
        (r.status == 403 && code.empty())) {
      return Status::AccessDenied("S3 at " + o_.location.host + " refused the credentials (" +
                                  (code.empty() ? "HTTP 403" : code) + "): check " + o_.credentials.source);
    }
    if (code == "RequestTimeTooSkewed") {
      return Status::AccessDenied("S3 at " + o_.location.host +
                                  " refused the request because this host's clock differs from the server's by "
                                  "more than 15 minutes; set the clock right");
    }
    if (r.status == 403) {
      return Status::AccessDenied("S3 denied the request to " + std::string(doing) + " " + target + " (" + code +
                                  "): the credentials from " + o_.credentials.source +
                                  " lack that permission under the bucket's policy");
    }
    if (code == "NoSuchBucket") return NotFound(r, "\x01");
    return Status::IOError("S3 could not " + std::string(doing) + " " + target + ": HTTP " +
                           std::to_string(r.status) + (code.empty() ? "" : " " + code) +
                           (msg.empty() ? "" : " (" + msg + ")"));
  }

  const S3Options o_;
  std::string staging_;
  std::mutex pool_mu_;
  std::vector<CURL*> pool_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  std::atomic<uint64_t> total_{0}, retries_{0};
  std::atomic<uint64_t> counts_[kKinds] = {};
  std::mutex window_mu_;
  std::vector<Fetching> fetching_[2];  // per pool: windows being read now (a few: one per reading thread)
  std::list<std::shared_ptr<const Window>> windows_[2];  // per pool, most recently used first
};

bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return b.front() != '-' && b.front() != '.' && b.back() != '-' && b.back() != '.';
}

// key = value lines of section `section` of an INI file like ~/.aws/credentials.
std::map<std::string, std::string> IniSection(const std::string& path, const std::string& section) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  bool inside = false;
  auto trim = [](std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
    return s.substr(i);
  };
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      inside = trim(line.substr(1, line.size() - 2)) == section;
      continue;
    }
    size_t eq = line.find('=');
    if (inside && eq != std::string::npos) out[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return out;
}

Result<uint64_t> EnvSize(const char* name, uint64_t fallback) {
  std::string v = Env(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  uint64_t n = std::strtoull(v.c_str(), &end, 10);
  std::string unit = end != nullptr ? end : "";
  uint64_t mul = unit.empty() ? 1 : unit == "K" || unit == "KiB" ? 1ull << 10 : unit == "M" || unit == "MiB" ? 1ull << 20
                                  : unit == "G" || unit == "GiB" ? 1ull << 30 : 0;
  if (end == v.c_str() || mul == 0) {
    return Status::InvalidArgument(std::string(name) + "='" + v + "' is not a size (such as 16MiB)");
  }
  return n * mul;
}

}  // namespace

std::string S3Location::Display() const {
  return "s3:" + std::string(https ? "https://" : "http://") + host + "/" + bucket + (prefix.empty() ? "" : "/" + prefix);
}

Result<S3Location> ParseS3Location(std::string_view rest) {
  S3Location loc;
  const std::string whole = "s3:" + std::string(rest);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("'" + whole + "' is not an S3 location: " + why +
                                   " (write s3:http://HOST:PORT/BUCKET/PREFIX or s3:https://HOST/BUCKET/PREFIX)");
  };
  if (rest.substr(0, 7) == "http://") {
    loc.https = false;
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    rest.remove_prefix(8);
  } else if (rest.find("://") != std::string_view::npos) {
    return bad("the scheme must be http or https");
  }
  size_t slash = rest.find('/');
  std::string host(rest.substr(0, slash));
  if (host.empty()) return bad("no host");
  if (host.find('@') != std::string::npos) {
    return Status::InvalidArgument("'s3:…' locations never carry credentials; give them in AWS_ACCESS_KEY_ID and "
                                   "AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials) instead");
  }
  for (char c : host) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return bad("the host '" + host + "' has a character a host name cannot have");
  }
  size_t colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']') == std::string::npos) {
    std::string port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoul(port) == 0 || std::stoul(port) > 65535) {
      return bad("the port '" + port + "' is not a number from 1 to 65535");
    }
  }
  loc.host = host;
  if (slash == std::string_view::npos || slash + 1 >= rest.size()) return bad("no bucket");
  std::string_view path = rest.substr(slash + 1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t bslash = path.find('/');
  loc.bucket = std::string(path.substr(0, bslash));
  if (!ValidBucket(loc.bucket)) {
    return bad("the bucket name '" + loc.bucket + "' must be 3 to 63 lowercase letters, digits, '.' or '-'");
  }
  if (bslash != std::string_view::npos) {
    std::string_view prefix = path.substr(bslash + 1);
    size_t start = 0;
    while (start <= prefix.size()) {
      size_t end = prefix.find('/', start);
      if (end == std::string_view::npos) end = prefix.size();
      std::string_view seg = prefix.substr(start, end - start);
      if (seg.empty() || seg == "." || seg == "..") return bad("the prefix has an empty, '.' or '..' part");
      for (unsigned char c : seg) {
        if (c < 0x20 || c == 0x7f) return bad("the prefix has a control character");
      }
      start = end + 1;
    }
    loc.prefix = std::string(prefix);
  }
  return loc;
}

Result<S3Options> S3OptionsFromEnvironment(const S3Location& loc) {
  S3Options o;
  o.location = loc;
  const std::string home = Env("HOME");
  const std::string profile = Env("AWS_PROFILE").empty() ? "default" : Env("AWS_PROFILE");
  if (!Env("AWS_ACCESS_KEY_ID").empty() || !Env("AWS_SECRET_ACCESS_KEY").empty()) {
    if (Env("AWS_ACCESS_KEY_ID").empty() || Env("AWS_SECRET_ACCESS_KEY").empty()) {
      return Status::InvalidArgument(std::string(Env("AWS_ACCESS_KEY_ID").empty() ? "AWS_ACCESS_KEY_ID" :
                                                                                   "AWS_SECRET_ACCESS_KEY") +
                                     " is not set, though " +
                                     (Env("AWS_ACCESS_KEY_ID").empty() ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
                                     " is; set both");
    }
    o.credentials.access_key = Env("AWS_ACCESS_KEY_ID");
    o.credentials.secret_key = Env("AWS_SECRET_ACCESS_KEY");
    o.credentials.session_token = Env("AWS_SESSION_TOKEN");
    o.credentials.source = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment";
  } else {
    std::string file = Env("AWS_SHARED_CREDENTIALS_FILE");
    if (file.empty() && !home.empty()) file = home + "/.aws/credentials";
    auto sec = file.empty() ? std::map<std::string, std::string>() : IniSection(file, profile);
    if (sec["aws_access_key_id"].empty() || sec["aws_secret_access_key"].empty()) {
      return Status::InvalidArgument(
          "no S3 credentials for " + loc.Display() + ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give "
          "profile '" + profile + "' aws_access_key_id and aws_secret_access_key in " +
          (file.empty() ? std::string("~/.aws/credentials") : file));
    }
    o.credentials.access_key = sec["aws_access_key_id"];
    o.credentials.secret_key = sec["aws_secret_access_key"];
    o.credentials.session_token = sec["aws_session_token"];
    o.credentials.source = "profile '" + profile + "' in " + file;
  }
  std::string region = Env("AWS_DEFAULT_REGION");
  if (region.empty()) region = Env("AWS_REGION");
  if (region.empty()) {
    std::string cfg = Env("AWS_CONFIG_FILE");
    if (cfg.empty() && !home.empty()) cfg = home + "/.aws/config";
    if (!cfg.empty()) {
      auto sec = IniSection(cfg, profile == "default" ? "default" : "profile " + profile);
      region = sec["region"];
    }
  }
  if (!region.empty()) o.region = region;
  for (char c : o.region) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) {
      return Status::InvalidArgument("the S3 region '" + o.region + "' is not a region name (such as eu-west-1)");
    }
  }
  const std::string addressing = Env("CAIRN_S3_ADDRESSING");
  if (addressing.empty()) {
    // AWS wants virtual-hosted addressing; the others (Ceph, MinIO, Garage
    // on their own hosts) are reached path-style unless told otherwise.
    const std::string h = loc.host.substr(0, loc.host.find(':'));
    o.virtual_hosted = h.size() >= 14 && h.compare(h.size() - 14, 14, ".amazonaws.com") == 0 &&
                       loc.bucket.find('.') == std::string::npos;
  } else if (addressing == "path" || addressing == "virtual") {
    o.virtual_hosted = addressing == "virtual";
  } else {
    return Status::InvalidArgument("CAIRN_S3_ADDRESSING='" + addressing + "' must be 'path' or 'virtual'");
  }
  o.ca_file = Env("CAIRN_S3_CA_FILE");
  if (!o.ca_file.empty() && ::access(o.ca_file.c_str(), R_OK) != 0) {
    return Status::InvalidArgument("CAIRN_S3_CA_FILE '" + o.ca_file + "' cannot be read");
  }
  CAIRN_ASSIGN_OR_RETURN(uint64_t deadline_s, EnvSize("CAIRN_S3_DEADLINE", 120));
  CAIRN_ASSIGN_OR_RETURN(uint64_t attempts, EnvSize("CAIRN_S3_ATTEMPTS", 8));
  CAIRN_ASSIGN_OR_RETURN(uint64_t stall_s, EnvSize("CAIRN_S3_STALL_TIMEOUT", 30));
  if (deadline_s == 0 || attempts == 0 || attempts > 100 || stall_s == 0) {
    return Status::InvalidArgument("CAIRN_S3_DEADLINE, CAIRN_S3_STALL_TIMEOUT (seconds) and CAIRN_S3_ATTEMPTS "
                                   "(1 to 100) must be positive");
  }
  o.deadline = std::chrono::seconds(deadline_s);
  o.max_attempts = static_cast<int>(attempts);
  o.stall_timeout = std::chrono::seconds(stall_s);
  o.connect_timeout = std::min<std::chrono::milliseconds>(o.connect_timeout, o.deadline);
  CAIRN_ASSIGN_OR_RETURN(o.multipart_threshold, EnvSize("CAIRN_S3_MULTIPART_THRESHOLD", o.multipart_threshold));
  CAIRN_ASSIGN_OR_RETURN(o.part_size, EnvSize("CAIRN_S3_PART_SIZE", o.part_size));
  CAIRN_ASSIGN_OR_RETURN(o.read_window, EnvSize("CAIRN_S3_READ_WINDOW", o.read_window));
  if (o.part_size < (5ull << 20) || o.part_size > (5ull << 30)) {
    return Status::InvalidArgument("CAIRN_S3_PART_SIZE must be from 5MiB to 5GiB (S3's limits for a part)");
  }
  o.stats_file = Env("CAIRN_S3_STATS");
  o.trace = Env("CAIRN_S3_TRACE") == "1";
  o.acl = Env("CAIRN_S3_ACL");
  for (char c : o.acl) {
    if (!(std::islower(static_cast<unsigned char>(c)) || c == '-')) {
      return Status::InvalidArgument("CAIRN_S3_ACL='" + o.acl +
                                     "' is not a canned ACL (such as bucket-owner-full-control)");
    }
  }
  return o;
}

std::unique_ptr<Backend> NewS3Backend(S3Options options) { return std::make_unique<S3Backend>(std::move(options)); }

}  // namespace cairn::objstore
