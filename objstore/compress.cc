// SPDX-License-Identifier: MIT

#include "objstore/compress.h"

#include <zstd.h>

#include <memory>

namespace cairn::objstore {
namespace {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

}  // namespace

bool CompressIfSmaller(std::string_view in, int level, std::string* out) {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
  // Output space is kept per thread: sizing a string to the bound for every
  // blob would zero-fill it each time.
  thread_local std::unique_ptr<char[]> space;
  thread_local size_t space_size = 0;
  if (in.empty()) return false;
  // Anything not smaller than the input is stored raw, so the output never
  // needs more than in.size() bytes; zstd reports dstSize_tooSmall instead.
  size_t cap = in.size();
  if (space_size < cap) {
    space.reset(new char[cap]);
    space_size = cap;
  }
  size_t n = ZSTD_compressCCtx(cctx.get(), space.get(), cap, in.data(), in.size(), level);
  if (ZSTD_isError(n) || n >= in.size()) return false;
  out->assign(space.get(), n);
  return true;
}

Result<std::string> Decompress(std::string_view in, size_t raw_length) {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR || declared != raw_length) {
    return Status::Corruption("zstd frame is damaged or declares the wrong length");
  }
  std::string out(raw_length, '\0');
  size_t n = ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n)) {
    return Status::Corruption(std::string("zstd frame is damaged: ") + ZSTD_getErrorName(n));
  }
  if (n != raw_length) return Status::Corruption("zstd frame expands to the wrong length");
  return out;
}

}  // namespace cairn::objstore
