// SPDX-License-Identifier: MIT

#include "repo/blob_writer.h"

#include <unistd.h>

#include <fstream>
#include <iterator>

#include "objstore/compress.h"
#include "objstore/crypto.h"

namespace cairn::repo {
namespace {

// At most this many bytes wait for compression; Add() blocks beyond it, so
// memory is bounded by the pipeline, not by the input.
constexpr size_t kMaxQueuedBytes = 8 << 20;
// An index file is written after this many packs, or this many blobs
// (small files compress into packs of tens of thousands of blobs), which
// bounds the pending set and the pack records held in memory, and the
// local index pages one transaction changes.
constexpr size_t kPacksPerIndexFile = 16;
constexpr size_t kBlobsPerIndexFile = 32768;

size_t Slot(BlobType t) { return t == BlobType::kTree ? 1 : 0; }

}  // namespace

BlobWriter::BlobWriter(Repository* repo, unsigned threads, Mode mode)
    : repo_(repo),
      mode_(mode),
      pack_size_(repo->config().pack_size) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; i++) workers_.emplace_back([this] { Worker(); });
}

BlobWriter::~BlobWriter() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  cv_space_.notify_all();
  for (auto& t : workers_) t.join();
}

void BlobWriter::Fail(const Status& st) {
  std::lock_guard<std::mutex> l(mu_);
  if (error_.ok()) error_ = st;
  cv_space_.notify_all();
}

Result<bool> BlobWriter::Has(const ObjectId& id) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!error_.ok()) return error_;
    if (pending_.count(id) != 0) return true;
  }
  CAIRN_ASSIGN_OR_RETURN(auto loc, repo_->index()->Lookup(id));
  return loc.has_value() && !repo_->Condemned(id) && !(force_ && force_(id));
}

Result<bool> BlobWriter::Add(BlobType type, const ObjectId& id, std::string_view data, Placement placement) {
  std::unique_lock<std::mutex> l(mu_);
  if (!error_.ok()) return error_;
  if (pending_.count(id) != 0) return false;
  auto loc = repo_->index()->Lookup(id);
  if (!loc.ok()) {
    if (error_.ok()) error_ = loc.status();
    return loc.status();
  }
  // A blob a pending prune condemned is stored again rather than relied on
  // (docs/gc.md); so is one the caller asks to copy (prune's repacking).
  if (*loc && !repo_->Condemned(id) && !(force_ && force_(id))) return false;
  pending_.insert(id);
  if (placement == Placement::kInline) {
    busy_++;
    l.unlock();
    Store(type, id, data);
    l.lock();
    busy_--;
    if (busy_ == 0 && queue_.empty()) cv_idle_.notify_all();
    if (!error_.ok()) return error_;
    return true;
  }
  cv_space_.wait(l, [&] { return queued_bytes_ < kMaxQueuedBytes || !error_.ok() || stop_; });
  if (!error_.ok()) return error_;
  queue_.push_back(Job{type, id, std::string(data)});
  queued_bytes_ += data.size();
  l.unlock();
  cv_work_.notify_one();
  return true;
}

void BlobWriter::Worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_work_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= job.data.size();
      busy_++;
    }
    cv_space_.notify_one();
    Store(job.type, job.id, job.data);
    {
      std::lock_guard<std::mutex> l(mu_);
      busy_--;
      if (busy_ == 0 && queue_.empty()) cv_idle_.notify_all();
    }
  }
}

void BlobWriter::Store(BlobType type, const ObjectId& id, std::string_view data) {
  thread_local std::string scratch;
  std::string_view stored;
  uint8_t flags = repo_->codec().EncodeBlob(type, id, data, &scratch, &stored);
  std::unique_ptr<objstore::PackFileWriter> full;
  if (mode_ == Mode::kWrite) {
    std::lock_guard<std::mutex> l(pack_mu_);
    auto& pack = packs_[Slot(type)];
    if (!pack) {
      auto created = objstore::PackFileWriter::Create(repo_->backend()->StagingDir());
      if (!created.ok()) {
        Fail(created.status());
        return;
      }
      pack = std::move(created).value();
    }
    Status st = pack->Add(id, type, flags, stored, static_cast<uint32_t>(data.size()));
    if (!st.ok()) {
      Fail(st);
      return;
    }
    if (pack->size() >= pack_size_) full = std::move(pack);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    (type == BlobType::kTree ? stats_.new_trees : stats_.new_chunks)++;
    stats_.raw_bytes += data.size();
    stats_.stored_bytes += stored.size();
  }
  if (full) {
    Status st = WritePack(std::move(full));
    if (!st.ok()) Fail(st);
  }
}

Status BlobWriter::WritePack(std::unique_ptr<objstore::PackFileWriter> pack) {
  CAIRN_ASSIGN_OR_RETURN(objstore::PackRecord rec, pack->Finish(repo_->codec().keys()));
  if (repo_->PackCondemned(rec.pack_id)) {
    // Packs are named by their hash, so storing the same blobs again in the
    // same order can give the very pack a pending prune is about to delete
    // (only without encryption: sealing draws a fresh nonce). Store them in
    // a pack of their own instead, made different by one extra chunk of
    // random bytes, which nothing references (a later prune removes it).
    CAIRN_ASSIGN_OR_RETURN(auto again, objstore::PackFileWriter::Create(repo_->backend()->StagingDir()));
    std::string file;
    {
      std::ifstream in(pack->path(), std::ios::binary);
      file.assign(std::istreambuf_iterator<char>(in), {});
      if (!in.good() && !in.eof()) return Status::IOError("cannot read back pack '" + pack->path() + "'");
    }
    for (const auto& e : rec.entries) {
      if (e.offset + e.stored_length > file.size()) return Status::IOError("pack '" + pack->path() + "' is short");
      CAIRN_RETURN_IF_ERROR(again->Add(e.id, e.type, e.flags, std::string_view(file).substr(e.offset, e.stored_length),
                                       e.raw_length));
    }
    std::string salt = objstore::crypto::RandomString(16);
    ObjectId salt_id = repo_->hasher().Id(salt);
    std::string scratch;
    std::string_view stored;
    uint8_t flags = repo_->codec().EncodeBlob(BlobType::kData, salt_id, salt, &scratch, &stored);
    CAIRN_RETURN_IF_ERROR(again->Add(salt_id, BlobType::kData, flags, stored, static_cast<uint32_t>(salt.size())));
    (void)::unlink(pack->path().c_str());
    CAIRN_ASSIGN_OR_RETURN(rec, again->Finish(repo_->codec().keys()));
    pack = std::move(again);
  }
  CAIRN_RETURN_IF_ERROR(repo_->backend()->PutFile(objstore::PackName(rec.pack_id), pack->path()));
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_.packs++;
  }
  std::lock_guard<std::mutex> l(index_mu_);
  finished_blobs_ += rec.entries.size();
  finished_.push_back(std::move(rec));
  if (finished_.size() >= kPacksPerIndexFile || finished_blobs_ >= kBlobsPerIndexFile) {
    finished_blobs_ = 0;
    std::vector<objstore::PackRecord> records;
    records.swap(finished_);
    return WriteIndexLocked(std::move(records));
  }
  return Status::OK();
}

// REQUIRES: index_mu_ held.
Status BlobWriter::WriteIndexLocked(std::vector<objstore::PackRecord> records) {
  if (records.empty()) return Status::OK();
  const auto& codec = repo_->codec();
  std::string file = codec.EncodeFile(objstore::FileType::kIndex, objstore::EncodeIndexPayload(records), true);
  std::string name = codec.FileId(file).ToHex();
  CAIRN_RETURN_IF_ERROR(repo_->backend()->Put("index/" + name, file));
  CAIRN_RETURN_IF_ERROR(repo_->index()->AddPacks(name, records));
  // Now the local index answers for these blobs; drop them from memory.
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& r : records) {
    for (const auto& e : r.entries) pending_.erase(e.id);
  }
  return Status::OK();
}

Status BlobWriter::Flush() {
  {
    std::unique_lock<std::mutex> l(mu_);
    cv_idle_.wait(l, [&] { return (queue_.empty() && busy_ == 0) || !error_.ok(); });
    if (!error_.ok()) return error_;
  }
  for (auto& p : packs_) {
    std::unique_ptr<objstore::PackFileWriter> full;
    {
      std::lock_guard<std::mutex> l(pack_mu_);
      if (!p || p->empty()) continue;
      full = std::move(p);
    }
    Status st = WritePack(std::move(full));
    if (!st.ok()) {
      Fail(st);
      return st;
    }
  }
  std::lock_guard<std::mutex> l(index_mu_);
  std::vector<objstore::PackRecord> records;
  records.swap(finished_);
  finished_blobs_ = 0;
  Status st = WriteIndexLocked(std::move(records));
  if (!st.ok()) Fail(st);
  return st;
}

BlobWriter::Stats BlobWriter::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace cairn::repo
