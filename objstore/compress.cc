// SPDX-License-Identifier: MIT

#include "objstore/compress.h"

// ZSTD_c_format (magicless frames) is in the "experimental" section of
// zstd.h, stable in practice since zstd 1.3; Debian 12 ships 1.5.4.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
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

bool CompressIfSmaller(std::string_view in, int level, std::string* out, ZstdFrame frame) {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> bare_cctx(ZSTD_createCCtx());
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> std_cctx(ZSTD_createCCtx());
  ZSTD_CCtx* cctx = frame == ZstdFrame::kBare ? bare_cctx.get() : std_cctx.get();
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
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
  if (frame == ZstdFrame::kBare) {
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);
  }
  size_t n = ZSTD_compress2(cctx, space.get(), cap, in.data(), in.size());
  if (ZSTD_isError(n) || n >= in.size()) return false;
  out->assign(space.get(), n);
  return true;
}

Result<std::string> Decompress(std::string_view in, size_t raw_length, ZstdFrame frame) {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> bare_dctx([] {
    ZSTD_DCtx* d = ZSTD_createDCtx();
    ZSTD_DCtx_setParameter(d, ZSTD_d_format, ZSTD_f_zstd1_magicless);
    return d;
  }());
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> std_dctx(ZSTD_createDCtx());
  ZSTD_DCtx* dctx = frame == ZstdFrame::kBare ? bare_dctx.get() : std_dctx.get();
  if (frame == ZstdFrame::kStandard) {
    unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR || declared != raw_length) {
      return Status::Corruption("zstd frame is damaged or declares the wrong length");
    }
  }
  // The output buffer is exactly raw_length: a frame that would expand
  // further fails with dstSize_tooSmall instead of allocating more.
  std::string out(raw_length, '\0');
  size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n)) {
    return Status::Corruption(std::string("zstd frame is damaged: ") + ZSTD_getErrorName(n));
  }
  if (n != raw_length) return Status::Corruption("zstd frame expands to the wrong length");
  return out;
}

Result<std::string> DecompressBounded(std::string_view in, size_t max_length) {
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  std::string out;
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  size_t ret = 1;
  while (ret != 0) {
    if (out.size() >= max_length) return Status::Corruption("zstd frame expands beyond its limit");
    size_t grow = std::min<size_t>(std::max<size_t>(out.size(), 64 << 10), max_length - out.size());
    size_t old = out.size();
    out.resize(old + grow);
    ZSTD_outBuffer dst{out.data() + old, grow, 0};
    ret = ZSTD_decompressStream(dctx.get(), &dst, &src);
    out.resize(old + dst.pos);
    if (ZSTD_isError(ret)) return Status::Corruption(std::string("zstd frame is damaged: ") + ZSTD_getErrorName(ret));
    if (ret != 0 && src.pos == src.size && dst.pos < grow) return Status::Corruption("zstd frame is truncated");
  }
  if (src.pos != src.size) return Status::Corruption("bytes after the zstd frame");
  unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != out.size()) {
    return Status::Corruption("zstd frame declares the wrong length");
  }
  return out;
}

}  // namespace cairn::objstore
