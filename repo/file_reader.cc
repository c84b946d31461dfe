// SPDX-License-Identifier: MIT

#include "repo/file_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace cairn::repo {

using objstore::EntryType;

Status ReadEntryContent(const Repository& r, const TreeEntry& e, const std::string& path, const ContentSink& sink) {
  if (e.type == EntryType::kSymlink) return sink(e.link_target);
  if (e.type != EntryType::kFile && e.type != EntryType::kHardlink) return Status::OK();
  for (const auto& c : e.chunks) {
    auto data = r.ReadBlob(c);
    if (!data.ok()) return data.status().WithContext("cannot read '" + path + "'");
    CAIRN_RETURN_IF_ERROR(sink(*data));
  }
  return Status::OK();
}

Status ReadLiveFile(const std::string& path, const ContentSink& sink) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "cannot open '" + path + "'");
  std::vector<char> buf(1 << 16);
  Status st;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      st = Status::IOError("cannot read '" + path + "': " + std::strerror(err));
      break;
    }
    if (n == 0) break;
    st = sink(std::string_view(buf.data(), static_cast<size_t>(n)));
    if (!st.ok()) break;
  }
  ::close(fd);
  return st;
}

}  // namespace cairn::repo
