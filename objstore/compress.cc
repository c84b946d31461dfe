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
  if (in.empty()) return false;
  out->resize(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compressCCtx(cctx.get(), out->data(), out->size(), in.data(), in.size(), level);
  if (ZSTD_isError(n) || n >= in.size()) return false;
  out->resize(n);
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
