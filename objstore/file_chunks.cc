// SPDX-License-Identifier: MIT

#include "objstore/file_chunks.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace cairn::objstore {

Status ChunkFd(int fd, const ChunkerParams& params, const IdHasher& hasher, std::string* buf,
               const std::function<Status(std::string_view, const ObjectId&)>& emit, bool* read_error) {
  *read_error = false;
  // Room for a whole chunk plus a large read; chunks inside one block are
  // hashed in place, only the unfinished tail is moved.
  size_t want = std::max<size_t>(1 << 20, 2 * static_cast<size_t>(params.max_size));
  if (buf->size() < want) buf->resize(want);
  Chunker chunker(params);
  uint8_t* p = reinterpret_cast<uint8_t*>(buf->data());
  size_t filled = 0, start = 0, scan = 0;
  bool eof = false;
  auto cut_at = [&](size_t end) -> Status {
    std::string_view chunk(buf->data() + start, end - start);
    Status st = emit(chunk, hasher.Id(chunk));
    start = end;
    return st;
  };
  for (;;) {
    if (scan == filled) {
      if (eof) break;
      if (start > 0) {
        std::memmove(p, p + start, filled - start);
        filled -= start;
        scan -= start;
        start = 0;
      }
      ssize_t n = ::read(fd, p + filled, buf->size() - filled);
      if (n < 0) {
        if (errno == EINTR) continue;
        *read_error = true;
        return Status::FromErrno(errno, "cannot read");
      }
      if (n == 0) {
        eof = true;
        continue;
      }
      filled += static_cast<size_t>(n);
    }
    bool cut;
    scan += chunker.Next(p + scan, filled - scan, &cut);
    if (cut) CAIRN_RETURN_IF_ERROR(cut_at(scan));
  }
  if (scan > start) return cut_at(scan);
  return Status::OK();
}

ChunkStream::ChunkStream(const ChunkerParams& params, const IdHasher& hasher, Emit emit)
    : chunker_(params), hasher_(hasher), emit_(std::move(emit)) {}

Status ChunkStream::Feed(std::string_view data) {
  bytes_ += data.size();
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t pos = 0;
  while (pos < data.size()) {
    bool cut;
    size_t n = chunker_.Next(p + pos, data.size() - pos, &cut);
    if (!cut) {
      tail_.append(data.data() + pos, n);
      return Status::OK();
    }
    std::string_view chunk(data.data() + pos, n);
    if (!tail_.empty()) {
      tail_.append(chunk);
      chunk = tail_;
    }
    Status st = emit_(chunk, hasher_.Id(chunk));
    tail_.clear();
    CAIRN_RETURN_IF_ERROR(st);
    pos += n;
  }
  return Status::OK();
}

Status ChunkStream::Finish() {
  if (tail_.empty()) return Status::OK();
  Status st = emit_(tail_, hasher_.Id(tail_));
  tail_.clear();
  chunker_.Reset();
  return st;
}

ObjectId FileContentId(const std::vector<ObjectId>& chunks) {
  Sha256Hasher h;
  for (const auto& c : chunks) h.Update(c.view());
  return h.Finish();
}

}  // namespace cairn::objstore
