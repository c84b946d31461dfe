// SPDX-License-Identifier: MIT
//
// Streaming reads of file content: a file entry of a snapshot chunk by
// chunk (each chunk verified as it is read), and a live file on disk block
// by block. Neither holds the whole file in memory; a sink that returns an
// error stops the read with that error.

#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "objstore/core/status.h"
#include "repo/repository.h"

namespace cairn::repo {

// Receives the content piece by piece, in order.
using ContentSink = std::function<Status(std::string_view piece)>;

// The content of entry `e` of a snapshot: the chunks of a file or hard
// link, the target of a symlink, nothing for other types. A chunk that is
// missing (NotFound) or damaged (Corruption) stops the read; the message
// names `path` (the entry's path, for messages).
Status ReadEntryContent(const Repository& r, const TreeEntry& e, const std::string& path, const ContentSink& sink);

// The content of the file at `path` on disk (symlinks are not followed: an
// error). NotFound if it does not exist; IOError naming the file if it
// cannot be opened or a read fails (e.g. EISDIR, EIO): never a truncated
// success.
Status ReadLiveFile(const std::string& path, const ContentSink& sink);

}  // namespace cairn::repo
